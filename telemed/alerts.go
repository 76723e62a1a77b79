package telemed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// Alerts travel from the patient's home node, where a reading raised
// them, to the node of the care team's region: the home node keeps each
// in its outbox (written with the reading) and sends it over AlertProtocol
// until the team's node has kept it; the team's node keeps it once
// however often it comes. Node to node: the stream's certified peer names
// the sending region, and an alert is taken only from the patient plan's
// home region, for a team of the receiving region.
var AlertProtocol = federation.ProtocolID("telemed-alert", "1.0.0")

type alertMessage struct {
	V     int           `json:"v"`
	Alert monitor.Alert `json:"alert"`
}

// Escalation after an alert is left unacknowledged, and the dispatcher's
// pace: a new alert wakes it at once; the tick retries sends that failed
// and escalates, so it bounds how late an escalation can be.
const (
	defaultEscalateAfter = 15 * time.Minute
	dispatchEvery        = 5 * time.Second
	missingEvery         = time.Minute
)

// dispatch sends the outbox's alerts and escalates the inbox's, until ctx
// ends.
func (m *Module) dispatch(ctx context.Context) {
	tick := time.NewTicker(dispatchEvery)
	defer tick.Stop()
	var lastMissing, lastMove time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-m.kick:
		}
		// The store stays open while the dispatcher runs: Stop ends it
		// before closing the store, so no lock is held across the
		// network calls below.
		if time.Since(lastMissing) >= missingEvery {
			lastMissing = time.Now()
			if raised, err := m.monitor.CheckMissing(time.Now()); err != nil {
				m.log.Error("check for missing measurements", "err", err)
			} else if len(raised) > 0 {
				m.log.Info("parameters gone unmeasured", "alerts", len(raised))
			}
		}
		if time.Since(lastMove) >= moveEvery {
			lastMove = time.Now()
			m.followPatients(ctx)
		}
		m.sendAlerts(ctx)
		if esc, err := m.monitor.Escalate(m.cfg.EscalateAfter); err != nil {
			m.log.Error("escalate alerts", "err", err)
		} else if len(esc) > 0 {
			m.log.Info("alerts escalated to the next team member", "alerts", len(esc))
		}
	}
}

// sendAlerts delivers what the outbox holds; an alert not delivered stays
// for the next round.
func (m *Module) sendAlerts(ctx context.Context) {
	pending, err := m.monitor.Pending(1000)
	if err != nil {
		m.log.Error("read the alert outbox", "err", err)
		return
	}
	// A region that failed once is not tried again this round, so that
	// one region's node being down delays nobody else's alerts.
	failed := map[string]bool{}
	for _, a := range pending {
		if failed[a.Team.Region] || ctx.Err() != nil {
			continue
		}
		a.Home = m.cfg.Region
		if err := m.deliverAlert(ctx, a); err != nil {
			failed[a.Team.Region] = true
			m.log.Info("alert not delivered yet", "team_region", a.Team.Region, "reason", err.Error())
			continue
		}
		if err := m.monitor.Delivered(a.Seq); err != nil {
			m.log.Error("clear a delivered alert", "err", err)
		}
	}
}

func (m *Module) deliverAlert(ctx context.Context, a monitor.Alert) error {
	if a.Team.Region == m.cfg.Region {
		_, err := m.receiveAlert(ctx, a)
		return err
	}
	p, ok := m.d.RegionPeer(a.Team.Region)
	if !ok {
		return fmt.Errorf("region %s is not a member", a.Team.Region)
	}
	b, err := json.Marshal(alertMessage{V: 1, Alert: a})
	if err != nil {
		return err
	}
	_, err = federation.Call(ctx, m.d.Host, p, AlertProtocol, b, rpcOptions())
	return err
}

// receiveAlert keeps an alert for this region's care team, audited as
// an access to the patient's data.
// An alert is taken only about a registered patient of its sender's
// region: a node speaks for its own region's patients only.
func (m *Module) receiveAlert(ctx context.Context, a monitor.Alert) (monitor.Inbound, error) {
	p, err := m.registered(ctx, a.Patient)
	switch {
	case err != nil:
		return monitor.Inbound{}, err
	case p == nil || p.HomeRegion != a.Home:
		return monitor.Inbound{}, httpapi.E(httpapi.ErrForbidden, "an alert is sent by its patient's home region")
	}
	in, _, err := m.monitor.Receive(a)
	if err != nil || in.Audited {
		return in, err
	}
	// Kept but not yet audited (a resend of one whose audit failed, or was
	// cut short): audited now, then marked.
	ev := index.Event{Actor: "node:" + a.Home, Role: "node", Region: a.Home, Purpose: index.PurposeTreatment,
		Action: index.ActionCreate, What: "Flag.receive", Patient: a.Patient, Outcome: index.OutcomeSuccess}
	if err := m.d.Audit.Record(ctx, ev); err != nil {
		return in, err
	}
	return in, m.monitor.MarkAudited(in.ID)
}

// serveAlerts takes alerts from other regions' nodes.
func (m *Module) serveAlerts(h federation.StreamHost) {
	federation.Serve(h, AlertProtocol, rpcOptions(), m.log, func(ctx context.Context, from peer.ID, b []byte) ([]byte, error) {
		var msg alertMessage
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&msg); err != nil || msg.V != 1 {
			return nil, &federation.RemoteError{Code: codeInvalid, Message: "not a version 1 alert"}
		}
		switch {
		case m.regionOfPeer(from) != msg.Alert.Home:
			return nil, &federation.RemoteError{Code: codeForbidden, Message: "an alert comes from its patient's home region"}
		case msg.Alert.Team.Region != m.cfg.Region:
			return nil, &federation.RemoteError{Code: codeInvalid, Message: "the alert's care team is not of region " + m.cfg.Region}
		}
		m.mu.RLock()
		defer m.mu.RUnlock()
		if m.monitor == nil {
			return nil, &federation.RemoteError{Code: codeUnavailable, Message: "this node keeps no telemonitoring"}
		}
		in, err := m.receiveAlert(ctx, msg.Alert)
		if err != nil {
			return nil, remoteError(monitorError(err, "Flag"))
		}
		return json.Marshal(map[string]string{"id": in.ID})
	})
}

// regionOfPeer is the member region whose node from is ("" if none).
func (m *Module) regionOfPeer(from peer.ID) string {
	for code := range federation.RegionNames {
		if p, ok := m.d.RegionPeer(code); ok && p == from {
			return code
		}
	}
	return ""
}

// registerAlerts mounts the care team's view of its alerts.
func (m *Module) registerAlerts(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("GET /fhir/Flag", m.searchFlags)
	r.HandleFunc("POST /fhir/Flag/{id}/$acknowledge", m.acknowledgeFlag)
	caps.Interactions(fhir.ResourceTypeFlag, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionSearchType},
		fhirres.SearchParam{Name: "status", Type: fhir.SearchParamTypeToken})
	caps.Operation(fhir.ResourceTypeFlag, "acknowledge")
}

// Extensions of alerts (HL7 Italia's guide profiles none).
const (
	ExtensionAssignee = "urn:fsenet:telemonitoraggio:assegnatario"
	ExtensionAckBy    = "urn:fsenet:telemonitoraggio:presa-in-carico"
	ExtensionPlan     = "urn:fsenet:telemonitoraggio:piano"
)

// searchFlags is GET /fhir/Flag[?status=active]: the alerts of every
// patient whose care team the caller is in, wherever the patient lives,
// at this (the team's region's) node.
func (m *Module) searchFlags(w http.ResponseWriter, r *http.Request) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return
	}
	status := r.URL.Query().Get("status")
	if status != "" && status != "active" && status != "inactive" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "status is active or inactive"))
		return
	}
	m.mu.RLock()
	var inbox []monitor.Inbound
	err := errors.New("this node keeps no telemonitoring")
	if m.monitor != nil {
		inbox, err = m.monitor.Inbox(c.Subject, status == "active")
	}
	m.mu.RUnlock()
	if err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the alerts could not be read; retry", err))
		return
	}
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Link: []fhir.BundleLink{{Relation: "self", Url: m.base(r) + "/Flag?" + r.URL.RawQuery}}}
	// One registry read and one audit event per patient, one audit write
	// per request, before anything is answered.
	patients, audited := map[string]*index.Patient{}, map[string]bool{}
	var events []index.Event
	for _, in := range inbox {
		if status == "inactive" && in.Open() {
			continue
		}
		p, seen := patients[in.Patient]
		if !seen {
			var err error
			if p, err = m.registered(r.Context(), in.Patient); err != nil {
				httpapi.Fail(w, r, err)
				return
			}
			patients[in.Patient] = p
		}
		if index.Authorize(c, index.ActReadMonitoring, index.Target{Region: in.Home, Patient: p, Team: in.Team.Members}) != index.Allow {
			continue
		}
		if !audited[in.Patient] {
			audited[in.Patient] = true
			events = append(events, visitEvent(c, "Flag.read", index.ActionRead, in.Patient, index.OutcomeSuccess))
		}
		raw, _ := json.Marshal(flagResource(in))
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: raw, Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	if len(events) > 0 {
		if err := m.d.Audit.Record(r.Context(), events...); err != nil {
			httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the access could not be audited; retry", err))
			return
		}
	}
	b.Total = fhirres.Ptr(len(b.Entry))
	writeFHIR(w, http.StatusOK, 0, b)
}

// acknowledgeFlag is POST /fhir/Flag/{id}/$acknowledge: a member of the
// care team takes charge of the alert.
func (m *Module) acknowledgeFlag(w http.ResponseWriter, r *http.Request) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.monitor == nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable, "this node keeps no telemonitoring"))
		return
	}
	in, err := m.monitor.Inbound(r.PathValue("id"))
	if err != nil {
		httpapi.Fail(w, r, monitorError(err, "Flag"))
		return
	}
	p, err := m.registered(r.Context(), in.Patient)
	if err == nil {
		err = index.Authorize(c, index.ActAckAlert, index.Target{Region: in.Home, Patient: p, Team: in.Team.Members}).Err("Flag")
		if err != nil && p != nil {
			err = m.audited(r.Context(), c, "Flag.acknowledge", index.ActionUpdate, in.Patient, err)
		}
	}
	if err == nil {
		in, err = m.monitor.Acknowledge(in.ID, c.Subject)
		err = m.audited(r.Context(), c, "Flag.acknowledge", index.ActionUpdate, in.Patient, monitorErrorOrNil(err))
	}
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, 0, flagResource(in))
}

func monitorErrorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return monitorError(err, "Flag")
}

// flagResource is an alert as a FHIR Flag.
func flagResource(in monitor.Inbound) fhir.Flag {
	status := fhir.FlagStatusActive
	if !in.Open() {
		status = fhir.FlagStatusInactive
	}
	v := monitor.Vitals[in.Code]
	text := fmt.Sprintf("%s %g %s oltre la soglia (%s)", v.Display, in.Value, v.Unit, map[string]string{"high": "alta", "low": "bassa"}[in.Kind])
	if in.Kind == "missing" {
		text = fmt.Sprintf("%s: nessuna misura dal %s", v.Display, in.Time.Format("02/01/2006 15:04 UTC"))
	}
	f := fhir.Flag{Id: fhirres.Ptr(in.ID), Status: status, Subject: *patientRef(in.Patient),
		Category: []fhir.CodeableConcept{fhirres.Coding("http://terminology.hl7.org/CodeSystem/flag-category", "clinical", "Clinical")},
		Code:     fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhirres.Ptr(monitor.SystemLOINC), Code: fhirres.Ptr(in.Code)}}, Text: fhirres.Ptr(text)},
		Period:   period(in.Raised, in.AckAt),
		Extension: []fhir.Extension{
			{Url: ExtensionPlan, ValueReference: &fhir.Reference{Reference: fhirres.Ptr("CarePlan/" + in.Plan)}},
			{Url: ExtensionAssignee, ValueIdentifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(in.Team.Members[min(in.Assignee, len(in.Team.Members)-1)])}},
		}}
	if in.AckBy != "" {
		f.Extension = append(f.Extension, fhir.Extension{Url: ExtensionAckBy, ValueIdentifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(in.AckBy)}})
	}
	return f
}
