package telemed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// errUnreachable is a provider that did not answer: the answer names it.
var errUnreachable = errors.New("the providing region could not be reached")

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func callerOf(c federation.Claims) index.Caller { return index.CallerFromClaims(c) }

// provide serves a request at the providing region's node: it reads the
// service and the patient from its replica, asks the access policy,
// audits, and acts on its schedule. Every caller — this node's own and
// other regions' — goes through it.
func (m *Module) provide(ctx context.Context, c index.Caller, req Request) (Response, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.store == nil {
		return Response{}, httpapi.E(httpapi.ErrUnavailable, "this node keeps no telemedicine schedule")
	}
	switch req.Op {
	case opSlots:
		return m.provideSlots(ctx, c, req)
	case opBook:
		return m.provideBooking(ctx, c, req)
	case opCancel, opRead, opVideo, opMove:
		return m.provideAppointment(ctx, c, req)
	case opEncounter:
		return m.provideEncounter(ctx, c, req)
	case opReadEncounter:
		return m.provideReadEncounter(ctx, c, req)
	case opReport:
		return m.provideReport(ctx, c, req)
	case opConsult:
		return m.provideConsult(ctx, c, req)
	case opReadConsult:
		return m.provideReadConsult(ctx, c, req)
	case opTask:
		return m.provideTask(ctx, c, req)
	case opMessage:
		return m.provideMessage(ctx, c, req)
	case opMessages:
		return m.provideMessages(ctx, c, req)
	case opPlan:
		return m.providePlan(ctx, c, req)
	case opReadPlan:
		return m.provideReadPlan(ctx, c, req)
	case opSession:
		return m.provideSession(ctx, c, req)
	case opEnrol:
		return m.provideEnrol(ctx, c, req)
	case opReadMonitoring:
		return m.provideReadMonitoring(ctx, c, req)
	case opReadings, opDaily:
		return m.provideReadings(ctx, c, req)
	case opDevice:
		return m.provideDevice(ctx, c, req)
	case opDocument:
		return m.provideDocument(ctx, c, req)
	case opClose:
		return m.provideClose(ctx, c, req)
	}
	return Response{}, httpapi.E(httpapi.ErrInvalid, "unknown operation")
}

// serviceFor reads a service of this region and whether the caller's
// region may use it; a service this region does not provide is absent.
func (m *Module) serviceFor(ctx context.Context, id, callerRegion string) (s catalog.Service, usable bool, err error) {
	_, err = m.d.Replica.Read(ctx, consensus.Local, func(rd consensus.Reader) error {
		var ok bool
		var err error
		if s, ok, err = catalog.GetService(rd, id); err != nil {
			return err
		}
		if !ok || s.Region != m.cfg.Region {
			return httpapi.E(httpapi.ErrNotFound, "no such HealthcareService at region "+m.cfg.Region)
		}
		usable, err = catalog.Adopted(rd, s, callerRegion)
		return err
	})
	return s, usable && s.Active, err
}

func (m *Module) provideSlots(ctx context.Context, c index.Caller, req Request) (Response, error) {
	s, usable, err := m.serviceFor(ctx, req.Service, c.Region)
	if err != nil {
		return Response{}, err
	}
	if err := index.Authorize(c, index.ActSearchSlots, index.Target{Region: s.Region, Usable: usable}).Err("HealthcareService"); err != nil {
		return Response{}, err
	}
	from := req.From
	if now := time.Now(); from.Before(now) {
		from = now // a slot that has started cannot be booked
	}
	slots, err := m.store.Slots(booking.SlotQuery{Service: s.ID, Status: booking.SlotFree, From: from, To: req.To})
	return Response{Slots: slots}, err
}

func (m *Module) provideBooking(ctx context.Context, c index.Caller, req Request) (Response, error) {
	sl, err := m.store.Slot(req.Slot)
	if err != nil {
		return Response{}, storeError(err, "Slot")
	}
	s, usable, err := m.serviceFor(ctx, sl.Service, c.Region)
	if err != nil {
		return Response{}, err
	}
	p, err := m.patient(ctx, req.Patient)
	if err != nil {
		return Response{}, err
	}
	if refused := index.Authorize(c, index.ActBook, index.Target{Region: s.Region, Patient: p, Usable: usable}).Err("Patient"); refused != nil {
		// A refused booking of a registered patient is in their log too.
		if p != nil {
			if err := m.d.Audit.Record(ctx, visitEvent(c, "Appointment.book", index.ActionCreate, p.ID, index.OutcomeRefused)); err != nil {
				return Response{}, httpapi.Wrap(httpapi.ErrUnavailable, "the attempt could not be audited; retry", err)
			}
		}
		return Response{}, refused
	}
	if req.Consult != "" {
		if err := m.meetingOf(ctx, c, req.Consult, p); err != nil {
			return Response{}, err
		}
	}
	var elig booking.Eligibility
	if req.Eligibility != nil {
		elig = *req.Eligibility
	}
	a, dup, err := m.store.Book(booking.BookRequest{Slot: sl.ID, Patient: p.ID, ClientKey: req.ClientKey, Eligibility: elig, Consult: req.Consult,
		Booker: booking.Booker{Subject: c.Subject, Role: c.Role, Region: c.Region, Organization: c.Organization}})
	outcome := index.OutcomeSuccess
	if err != nil {
		outcome = index.OutcomeRefused
	}
	if aerr := m.d.Audit.Record(ctx, visitEvent(c, "Appointment.book", index.ActionCreate, p.ID, outcome)); aerr != nil {
		return Response{}, httpapi.Wrap(httpapi.ErrUnavailable, "the booking could not be audited; retry", aerr)
	}
	if err != nil {
		return Response{}, storeError(err, "Slot")
	}
	return Response{Appointment: &a, Duplicate: dup}, nil
}

func (m *Module) provideAppointment(ctx context.Context, c index.Caller, req Request) (Response, error) {
	a, err := m.store.Appointment(req.Appointment)
	if err != nil {
		return Response{}, storeError(err, "Appointment")
	}
	p := &index.Patient{ID: a.Patient}
	// A teleconsult's meeting is the requester's too, whoever booked it.
	reader := a.Booker.Subject
	if co, err := m.store.Consult(a.Consult); err == nil && a.Consult != "" && co.Requester.Subject == c.Subject {
		reader = c.Subject
	}
	what, action := "Appointment.read", index.ActionRead
	switch req.Op {
	case opCancel:
		what, action = "Appointment.cancel", index.ActionUpdate
	case opVideo:
		what, action = "Appointment.video", index.ActionExecute
	case opMove:
		what, action = "Appointment.reschedule", index.ActionUpdate
	}
	if refused := index.Authorize(c, index.ActReadBooking, index.Target{Region: m.cfg.Region, Patient: p, Organization: reader}).Err("Appointment"); refused != nil {
		// A refused attempt is in the patient's log too.
		return Response{}, m.audited(ctx, c, what, action, a.Patient, refused)
	}
	// A change is made, then audited with how it ended; a read is
	// audited before it is answered.
	var changeErr error
	switch req.Op {
	case opCancel:
		if changed, err := m.store.Cancel(a.ID); err != nil {
			changeErr = storeError(err, "Appointment")
		} else {
			a = changed
		}
	case opMove:
		if changed, err := m.store.Reschedule(a.ID, req.Slot); err != nil {
			changeErr = storeError(err, "Slot")
		} else {
			a = changed
		}
	}
	outcome := index.OutcomeSuccess
	if changeErr != nil {
		outcome = index.OutcomeRefused
	}
	if err := m.d.Audit.Record(ctx, visitEvent(c, what, action, a.Patient, outcome)); err != nil {
		return Response{}, httpapi.Wrap(httpapi.ErrUnavailable, "the access could not be audited; retry", err)
	}
	if changeErr != nil {
		return Response{}, changeErr
	}
	switch req.Op {
	case opVideo:
		v, err := videoToken(m.d.SignKey, m.d.KeyID, m.cfg.Region, a, c)
		if err != nil {
			return Response{}, storeError(err, "Appointment")
		}
		return Response{Appointment: &a, Video: &v}, nil
	}
	return Response{Appointment: &a}, nil
}

// meetingOf checks that a booking may be a teleconsult's meeting: the
// caller writes into the teleconsult (its requester or the provider's
// clinicians), which is synchronous and of the same patient. The store
// links them in the booking's transaction.
func (m *Module) meetingOf(ctx context.Context, c index.Caller, consult string, p *index.Patient) error {
	co, err := m.consultFor(ctx, c, consult, index.ActConsultMessage)
	switch {
	case err != nil:
		return err
	case !co.Sync:
		return httpapi.E(httpapi.ErrInvalid, "the teleconsult is asynchronous: it has no meeting")
	case p == nil || co.Patient != p.ID:
		return httpapi.E(httpapi.ErrInvalid, "the meeting is booked for the teleconsult's patient")
	}
	return nil
}

// patient reads a patient's current record from the replica.
func (m *Module) patient(ctx context.Context, id string) (*index.Patient, error) {
	var p index.Patient
	var ok bool
	_, err := m.d.Replica.Read(ctx, consensus.Local, func(rd consensus.Reader) error {
		var err error
		p, ok, err = index.GetPatient(rd, id)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, nil
	}
	return &p, nil
}

func visitEvent(c index.Caller, what string, action index.AuditAction, patient string, outcome index.AuditOutcome) index.Event {
	return index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: action, What: what, Patient: patient, Outcome: outcome}
}

// storeError maps the schedule's errors.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, booking.ErrNotFound):
		return httpapi.E(httpapi.ErrNotFound, "no such "+what)
	case errors.Is(err, booking.ErrTaken):
		return httpapi.E(httpapi.ErrConflict, "the slot is already booked: choose another")
	case errors.Is(err, booking.ErrInvalid):
		return httpapi.E(httpapi.ErrInvalid, err.Error())
	case errors.Is(err, booking.ErrState):
		return httpapi.E(httpapi.ErrConflict, err.Error())
	case errors.Is(err, booking.ErrKeyReused):
		return httpapi.E(httpapi.ErrConflict, "the client key was used for another booking: use a new key for a new booking")
	}
	return httpapi.Wrap(httpapi.ErrUnavailable, "the schedule could not be read or written; retry", err)
}

// remoteError is a provider's refusal as the protocol carries it.
func remoteError(err error) error {
	code := codeUnavailable
	switch httpapi.StatusOf(err).Code {
	case 400:
		code = codeInvalid
	case 401:
		code = codeUnauthorized
	case 403:
		code = codeForbidden
	case 404:
		code = codeNotFound
	case 409:
		code = codeConflict
	}
	return &federation.RemoteError{Code: code, Message: httpapi.Message(err)}
}

// fromRemote is a provider's refusal as this node answers it.
func fromRemote(re *federation.RemoteError) error {
	kind := map[string]error{codeInvalid: httpapi.ErrInvalid, codeUnauthorized: httpapi.ErrForbidden, codeForbidden: httpapi.ErrForbidden,
		codeNotFound: httpapi.ErrNotFound, codeConflict: httpapi.ErrConflict}[re.Code]
	if kind == nil {
		kind = httpapi.ErrUnavailable
	}
	return httpapi.E(kind, fmt.Sprintf("the providing region: %s", re.Message))
}
