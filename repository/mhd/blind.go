package mhd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/store"
)

// Blinding operations. The patient (or the author organisation) hides a
// document from everyone else ($blind: event code P99, oscuramento) or
// shows it again ($unblind: P00). The request goes to the node of the
// region that keeps the document, which changes the index entry through
// its outbox like any other change of its documents; another region's
// node answers 421 naming that region.
const (
	opBlind   = "BLIND"
	opUnblind = "UNBLIND"
)

func (a *API) registerBlinding(mux Router) {
	mux.HandleFunc("POST /fhir/DocumentReference/{id}/$blind", func(w http.ResponseWriter, r *http.Request) { a.blind(w, r, true) })
	mux.HandleFunc("POST /fhir/DocumentReference/{id}/$unblind", func(w http.ResponseWriter, r *http.Request) { a.blind(w, r, false) })
}

func (a *API) blind(w http.ResponseWriter, r *http.Request, hide bool) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	if a.d.Outbox == nil {
		httpapi.Outcome(w, http.StatusNotImplemented, fhir.IssueTypeNotSupported, "blinding is not available on this node")
		return
	}
	var e index.Entry
	var p index.Patient
	var found bool
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := a.d.Read(ctx, func(rd index.Reader) error {
		var err error
		e, p, _, found, err = index.EntryFor(rd, r.PathValue("id"), c)
		return err
	})
	if err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return
	}
	var t index.Target
	if found {
		t = index.Target{Patient: &p, Entry: &e}
	}
	if d := index.Authorize(c, index.ActBlindDocument, t); d != index.Allow {
		httpapi.Refuse(w, r, d == index.Hide, "DocumentReference")
		return
	}
	if e.Custodian != a.d.Region {
		httpapi.Outcome(w, http.StatusMisdirectedRequest, fhir.IssueTypeNotSupported,
			"the document is kept by region "+e.Custodian+": send the request to that region's node")
		return
	}
	events := slices.DeleteFunc(slices.Clone(e.Events), func(ev string) bool { return ev == index.EventHidden || ev == index.EventNotHidden })
	operation, what := opUnblind, "DocumentReference.unblind"
	if hide {
		events = append(events, index.EventHidden)
		operation, what = opBlind, "DocumentReference.blind"
	} else {
		events = append(events, index.EventNotHidden)
	}
	var rb [12]byte
	rand.Read(rb[:])
	wf := "urn:fsenet:blinding:" + hex.EncodeToString(rb[:])
	now := time.Now().UTC()
	op, err := a.d.Store.Submit(store.Submission{
		Op: &store.Op{Kind: store.OpUpdate, Doc: e.ID, Workflow: wf, Operation: operation, Update: &index.EntryUpdate{ID: e.ID, Events: events}},
		Workflow: store.Workflow{ID: wf, Operation: operation, Doc: e.ID, Status: store.WorkflowPending,
			Issuer: c.Organization, Created: now, Updated: now}})
	switch {
	case errors.Is(err, store.ErrBusy):
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, "an earlier change of this document is still being committed; retry")
		return
	case errors.Is(err, store.ErrState), errors.Is(err, store.ErrNotFound):
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, "this version cannot be changed (withdrawn, or not in this region's store)")
		return
	case err != nil:
		a.d.Log.Error("submit blinding", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the change could not be recorded; retry")
		return
	}
	a.d.Outbox.Kick()
	wctx, wcancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer wcancel()
	out, err := a.d.Outbox.Wait(wctx, op)
	if err != nil {
		httpapi.Outcome(w, http.StatusGatewayTimeout, fhir.IssueTypeTimeout, "the federation has not committed the change yet; it goes on")
		return
	}
	outcome := index.OutcomeSuccess
	if out.Err != nil {
		outcome = index.OutcomeRefused
	}
	ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionUpdate, What: what, Patient: e.Patient, Documents: []string{e.ID}, Outcome: outcome}
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		a.d.Log.Error("audit record failed", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the change is committed but could not be audited; see the node's log")
		return
	}
	if out.Err != nil {
		var de *consensus.Error
		msg := "the index refused the change"
		if errors.As(out.Err, &de) {
			msg = de.Message
		}
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, msg)
		return
	}
	msg := "the document is shown again (P00)"
	if hide {
		msg = "the document is hidden from everyone but its patient and its author organisation (P99)"
	}
	httpapi.Information(w, msg)
}
