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
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/store"
)

// Blinding operations. The patient (or the author organisation) hides a
// document from everyone else ($blind: event code P99, oscuramento) or
// shows it again ($unblind: P00). The request goes to the node of the
// region that keeps the document, which changes the index entry through
// its outbox like any other change of its documents; another region's
// node answers 421 naming that region.

// operation is a workflow's operation, as the store records it
// (store.Workflow.Operation, store.Op.Operation).
type operation string

// The blinding workflows' operations.
const (
	opBlind   operation = "BLIND"
	opUnblind operation = "UNBLIND"
)

// blinding is one of the two blinding operations: the workflow operation
// it records, what its audit event names, the event code it sets in place
// of the other, and the answer once it is committed.
type blinding struct {
	operation operation
	what      string
	event     string
	done      string
}

// The blinding operations.
var (
	blindDoc = blinding{opBlind, "DocumentReference.blind", index.EventHidden,
		"the document is hidden from everyone but its patient and its author organisation (P99)"}
	unblindDoc = blinding{opUnblind, "DocumentReference.unblind", index.EventNotHidden,
		"the document is shown again (P00)"}
)

// registerBlinding mounts $blind and $unblind.
func (a *API) registerBlinding(mux Router) {
	mux.HandleFunc("POST /fhir/DocumentReference/{id}/$blind", func(w http.ResponseWriter, r *http.Request) { a.blind(w, r, blindDoc) })
	mux.HandleFunc("POST /fhir/DocumentReference/{id}/$unblind", func(w http.ResponseWriter, r *http.Request) { a.blind(w, r, unblindDoc) })
}

// blind is $blind and $unblind: it changes the document's event codes
// through this region's outbox, waits for the federation to commit the
// change, audits the outcome and answers it.
func (a *API) blind(w http.ResponseWriter, r *http.Request, b blinding) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	if a.d.Outbox == nil {
		httpapi.Outcome(w, http.StatusNotImplemented, fhir.IssueTypeNotSupported, "blinding is not available on this node")
		return
	}
	e, ok := a.blindTarget(w, r, c)
	if !ok {
		return
	}
	op, ok := a.submitBlinding(w, c, e, b)
	if !ok {
		return
	}
	out, ok := a.awaitCommit(w, r, op)
	if !ok {
		return
	}
	if !a.auditBlinding(w, r, c, e, b, out.Err) {
		return
	}
	if out.Err != nil {
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, refusalMessage(out.Err))
		return
	}
	httpapi.Information(w, b.done)
}

// blindTarget reads the document from this node's replica of the index
// and checks that the caller may blind it (to whom it may not, it does
// not exist) and that this region keeps it. On failure it has answered.
func (a *API) blindTarget(w http.ResponseWriter, r *http.Request, c index.Caller) (index.Entry, bool) {
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
		return e, false
	}
	var t index.Target
	if found {
		t = index.Target{Patient: &p, Entry: &e}
	}
	if err := index.Authorize(c, index.ActBlindDocument, t).Err("DocumentReference"); err != nil {
		httpapi.Fail(w, r, err)
		return e, false
	}
	if e.Custodian != a.d.Region {
		httpapi.Outcome(w, http.StatusMisdirectedRequest, fhir.IssueTypeNotSupported,
			"the document is kept by region "+e.Custodian+": send the request to that region's node")
		return e, false
	}
	return e, true
}

// submitBlinding records the change of the entry's event codes (the
// blinding's in place of P99 or P00) in this region's store, under a
// workflow of its own, for the outbox to send. On failure it has
// answered.
func (a *API) submitBlinding(w http.ResponseWriter, c index.Caller, e index.Entry, b blinding) (store.Op, bool) {
	events := slices.DeleteFunc(slices.Clone(e.Events), func(ev string) bool { return ev == index.EventHidden || ev == index.EventNotHidden })
	events = append(events, b.event)
	var rb [12]byte
	rand.Read(rb[:])
	wf := "urn:fsenet:blinding:" + hex.EncodeToString(rb[:])
	now := time.Now().UTC()
	op, err := a.d.Store.Submit(store.Submission{
		Op: &store.Op{Kind: store.OpUpdate, Doc: e.ID, Workflow: wf, Operation: string(b.operation), Update: &index.EntryUpdate{ID: e.ID, Events: events}},
		Workflow: store.Workflow{ID: wf, Operation: string(b.operation), Doc: e.ID, Status: store.WorkflowPending,
			Issuer: c.Organization, Created: now, Updated: now}})
	switch {
	case errors.Is(err, store.ErrBusy):
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, "an earlier change of this document is still being committed; retry")
		return op, false
	case errors.Is(err, store.ErrState), errors.Is(err, store.ErrNotFound):
		httpapi.Outcome(w, http.StatusConflict, fhir.IssueTypeConflict, "this version cannot be changed (withdrawn, or not in this region's store)")
		return op, false
	case err != nil:
		a.d.Log.Error("submit blinding", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the change could not be recorded; retry")
		return op, false
	}
	return op, true
}

// awaitCommit sends the change and waits, at most 30 seconds, for the
// federation's outcome; past that the change goes on and the answer is
// 504. On failure it has answered.
func (a *API) awaitCommit(w http.ResponseWriter, r *http.Request, op store.Op) (repository.Outcome, bool) {
	a.d.Outbox.Kick()
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	out, err := a.d.Outbox.Wait(ctx, op)
	if err != nil {
		httpapi.Outcome(w, http.StatusGatewayTimeout, fhir.IssueTypeTimeout, "the federation has not committed the change yet; it goes on")
		return out, false
	}
	return out, true
}

// auditBlinding records the change's outcome: done, or refused by the
// index (refusal not nil). When the record cannot be made durable it has
// answered (the change stands; the node's log tells).
func (a *API) auditBlinding(w http.ResponseWriter, r *http.Request, c index.Caller, e index.Entry, b blinding, refusal error) bool {
	outcome := index.OutcomeSuccess
	if refusal != nil {
		outcome = index.OutcomeRefused
	}
	ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionUpdate, What: b.what, Patient: e.Patient, Documents: []string{e.ID}, Outcome: outcome}
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		a.d.Log.Error("audit record failed", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the change is committed but could not be audited; see the node's log")
		return false
	}
	return true
}

// refusalMessage is what the answer says of the index's refusal: its
// message, when the index gave one.
func refusalMessage(err error) string {
	var de *consensus.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return "the index refused the change"
}
