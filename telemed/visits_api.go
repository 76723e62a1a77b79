package telemed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// Systems of the visits' resources.
const (
	// SystemClientKey identifies a booking request: a retry with the same
	// key answers as the first.
	SystemClientKey = "urn:fsenet:telemedicina:client-key"
	// ExtensionEligibility records the "verifica di eseguibilità" with a
	// booking (the guides describe it and profile nothing for it).
	ExtensionEligibility = "urn:fsenet:telemedicina:verifica-eseguibilita"
)

// registerVisits mounts the televisit routes. Every one but adding slots
// may be asked of any node: it is served by the node of the region that
// provides the service, this one or another over Protocol.
func (m *Module) registerVisits(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("GET /fhir/Schedule/{id}", m.readSchedule)
	r.HandleFunc("POST /fhir/Slot", m.addSlot)
	r.HandleFunc("GET /fhir/Slot", m.searchSlots)
	r.HandleFunc("POST /fhir/Appointment", m.book)
	r.HandleFunc("GET /fhir/Appointment/{id}", m.readAppointment)
	r.HandleFunc("POST /fhir/Appointment/{id}/$cancel", m.cancelAppointment)
	r.HandleFunc("POST /fhir/Appointment/{id}/$video-session", m.videoSession)
	r.HandleFunc("POST /fhir/Appointment/{id}/$reschedule", m.reschedule)
	caps.Interactions(fhir.ResourceTypeSchedule, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead})
	caps.Interactions(fhir.ResourceTypeSlot, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionSearchType},
		fhirres.SearchParam{Name: "schedule", Type: fhir.SearchParamTypeReference}, fhirres.SearchParam{Name: "start", Type: fhir.SearchParamTypeDate})
	caps.Interactions(fhir.ResourceTypeAppointment, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionRead})
	caps.Operation(fhir.ResourceTypeAppointment, "cancel")
	caps.Operation(fhir.ResourceTypeAppointment, "video-session")
	caps.Operation(fhir.ResourceTypeAppointment, "reschedule")
}

// ask serves a request where its service is provided: here, or at the
// providing region's node with the caller's token. A forwarded request
// is audited here too, so both regions' logs show it.
func (m *Module) ask(w http.ResponseWriter, r *http.Request, region string, req Request, what string) (Response, bool) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return Response{}, false
	}
	var resp Response
	var err error
	if region == m.cfg.Region {
		resp, err = m.provide(r.Context(), c, req)
	} else {
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		req.Token = strings.TrimSpace(tok)
		resp, err = m.call(r.Context(), region, req)
		if aerr := m.auditForwarded(r, c, what, req, resp, err); aerr != nil {
			err = aerr
		}
	}
	if err == nil && !resp.answers(req.Op) {
		err = fmt.Errorf("%w: region %s answered without what was asked", errUnreachable, region)
	}
	if err != nil {
		if errors.Is(err, errUnreachable) {
			err = httpapi.Wrap(httpapi.ErrTimeout, err.Error(), err)
		}
		httpapi.Fail(w, r, err)
		return resp, false
	}
	return resp, true
}

// auditForwarded records, at the asking node, a forwarded call about a
// patient: what the provider answered, or a refused booking of the
// patient the request named (the provider audits it on its side).
func (m *Module) auditForwarded(r *http.Request, c index.Caller, what string, req Request, resp Response, callErr error) error {
	patient, outcome := "", index.OutcomeSuccess
	switch {
	case what == "":
		return nil
	case callErr == nil:
		patient = resp.patient()
	case (req.Op == opBook || req.Op == opConsult) && !errors.Is(callErr, errUnreachable):
		patient, outcome = req.Patient, index.OutcomeRefused
	}
	if patient == "" {
		return nil
	}
	if err := m.d.Audit.Record(r.Context(), visitEvent(c, what, index.ActionExecute, patient, outcome)); err != nil {
		return httpapi.Wrap(httpapi.ErrUnavailable, "the access could not be audited; retry", err)
	}
	return nil
}

// readSchedule is GET /fhir/Schedule/{id}: a service's schedule (one per
// service, named by its id), from the replica's catalogue.
func (m *Module) readSchedule(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	s, applied, err := m.catalogued(r, r.PathValue("id"), "Schedule")
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, applied, fhir.Schedule{Id: fhirres.Ptr(s.ID), Active: fhirres.Ptr(s.Active),
		Actor:       []fhir.Reference{{Reference: fhirres.Ptr("HealthcareService/" + s.ID)}},
		ServiceType: []fhir.CodeableConcept{fhirres.Coding(SystemServiceType, s.Type, "")}})
}

// addSlot is POST /fhir/Slot: a free slot of one of this region's
// services, by its operators.
func (m *Module) addSlot(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActManageSchedule, index.Target{Region: m.cfg.Region}); !ok {
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	sl, err := fhir.UnmarshalSlot(b)
	service := strings.TrimPrefix(ptrValue(sl.Schedule.Reference), "Schedule/")
	start, serr := time.Parse(time.RFC3339, sl.Start)
	end, eerr := time.Parse(time.RFC3339, sl.End)
	if err != nil || resourceType(b) != "Slot" || serr != nil || eerr != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want a FHIR Slot with schedule Schedule/<service id>, start and end (RFC 3339)"))
		return
	}
	if _, _, err := m.serviceFor(r.Context(), service, m.cfg.Region); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	added, err := m.addToSchedule(service, start, end)
	if err != nil {
		httpapi.Fail(w, r, storeError(err, "Slot"))
		return
	}
	writeFHIR(w, http.StatusCreated, 0, slotResource(added))
}

// addToSchedule adds a slot while the schedule is open.
func (m *Module) addToSchedule(service string, start, end time.Time) (booking.Slot, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.store == nil {
		return booking.Slot{}, httpapi.E(httpapi.ErrUnavailable, "this node keeps no telemedicine schedule")
	}
	return m.store.AddSlot(service, start, end)
}

// searchSlots is GET /fhir/Slot?schedule=Schedule/<service id>[&start=geT&start=ltT]:
// the free slots of a service, asked of its provider.
func (m *Module) searchSlots(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	service := strings.TrimPrefix(q.Get("schedule"), "Schedule/")
	region, ok := catalog.RegionOf(service)
	req := Request{Op: opSlots, Service: service}
	for _, v := range q["start"] {
		t, err := time.Parse(time.RFC3339, v[min(2, len(v)):])
		switch {
		case err != nil || len(v) < 2:
			ok = false
		case strings.HasPrefix(v, "ge"):
			req.From = t
		case strings.HasPrefix(v, "lt"):
			req.To = t
		default:
			ok = false
		}
	}
	if !ok || len(q["schedule"]) != 1 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "give schedule=Schedule/<service id>, and start=geT / start=ltT (RFC 3339) if any"))
		return
	}
	resp, ok := m.ask(w, r, region, req, "")
	if !ok {
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: fhirres.Ptr(len(resp.Slots)),
		Link: []fhir.BundleLink{{Relation: "self", Url: base + "/Slot?" + r.URL.RawQuery}}}
	for _, sl := range resp.Slots {
		raw, _ := json.Marshal(slotResource(sl))
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, "Slot", sl.ID)), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	writeFHIR(w, http.StatusOK, 0, b)
}

// book is POST /fhir/Appointment: a slot booked for a patient, at the
// provider, idempotent on the request's client key.
func (m *Module) book(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req, err := bookingRequest(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	region, _ := catalog.RegionOf(req.Slot)
	resp, ok := m.ask(w, r, region, req, "Appointment.book.request")
	if !ok {
		return
	}
	status := http.StatusCreated
	if resp.Duplicate {
		status = http.StatusOK
	}
	w.Header().Set("Location", m.base(r)+"/Appointment/"+resp.Appointment.ID)
	writeFHIR(w, status, 0, appointmentResource(*resp.Appointment))
}

// bookingRequest reads a FHIR Appointment that books a slot.
func bookingRequest(b []byte) (Request, error) {
	bad := httpapi.E(httpapi.ErrInvalid, "want a FHIR Appointment with one slot (Slot/<id>), the patient as a participant (Patient/CF-…) "+
		"and an identifier of system "+SystemClientKey)
	a, err := fhir.UnmarshalAppointment(b)
	if err != nil || resourceType(b) != "Appointment" || len(a.Slot) != 1 {
		return Request{}, bad
	}
	req := Request{Op: opBook, Slot: strings.TrimPrefix(ptrValue(a.Slot[0].Reference), "Slot/")}
	for _, p := range a.Participant {
		if ref := ptrValue(refOf(p.Actor)); strings.HasPrefix(ref, "Patient/") {
			if id, ok := fhirres.PatientIDOf(strings.TrimPrefix(ref, "Patient/")); ok {
				req.Patient = id
			}
		}
	}
	for _, id := range a.Identifier {
		if ptrValue(id.System) == SystemClientKey {
			req.ClientKey = ptrValue(id.Value)
		}
	}
	req.Eligibility = eligibilityOf(a.Extension)
	// A synchronous teleconsult's meeting names its request.
	for _, ref := range a.BasedOn {
		if id, ok := strings.CutPrefix(ptrValue(ref.Reference), "ServiceRequest/"); ok && req.Consult == "" {
			req.Consult = id
		} else {
			return Request{}, bad
		}
	}
	if _, ok := catalog.RegionOf(req.Slot); !ok || req.Patient == "" || req.ClientKey == "" {
		return Request{}, bad
	}
	return req, nil
}

// readAppointment is GET /fhir/Appointment/{id}, asked of its provider.
func (m *Module) readAppointment(w http.ResponseWriter, r *http.Request) {
	m.appointmentOp(w, r, opRead, "Appointment.read.request")
}

// cancelAppointment is POST /fhir/Appointment/{id}/$cancel.
func (m *Module) cancelAppointment(w http.ResponseWriter, r *http.Request) {
	m.appointmentOp(w, r, opCancel, "Appointment.cancel.request")
}

// videoSession is POST /fhir/Appointment/{id}/$video-session: the
// caller's token for the appointment's room on the video service, issued
// by the provider's node.
func (m *Module) videoSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := catalog.RegionOf(id)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such Appointment"))
		return
	}
	resp, ok := m.ask(w, r, region, Request{Op: opVideo, Appointment: id}, "Appointment.video.request")
	if ok {
		httpapi.JSON(w, http.StatusOK, resp.Video)
	}
}

// reschedule is POST /fhir/Appointment/{id}/$reschedule with Parameters
// naming the new slot (valueReference Slot/<id>) of the same service.
func (m *Module) reschedule(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var ps struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string `json:"name"`
			ValueReference *struct {
				Reference string `json:"reference"`
			} `json:"valueReference"`
		} `json:"parameter"`
	}
	slot := ""
	if json.Unmarshal(b, &ps) == nil && ps.ResourceType == "Parameters" {
		for _, p := range ps.Parameter {
			if p.Name == "slot" && p.ValueReference != nil {
				slot = strings.TrimPrefix(p.ValueReference.Reference, "Slot/")
			}
		}
	}
	if _, ok := catalog.RegionOf(slot); !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want Parameters with slot (valueReference Slot/<id>)"))
		return
	}
	m.appointmentOpWith(w, r, Request{Op: opMove, Slot: slot}, "Appointment.reschedule.request")
}

func (m *Module) appointmentOp(w http.ResponseWriter, r *http.Request, op, what string) {
	m.appointmentOpWith(w, r, Request{Op: op}, what)
}

func (m *Module) appointmentOpWith(w http.ResponseWriter, r *http.Request, req Request, what string) {
	id := r.PathValue("id")
	region, ok := catalog.RegionOf(id)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such Appointment"))
		return
	}
	req.Appointment = id
	resp, ok := m.ask(w, r, region, req, what)
	if !ok {
		return
	}
	writeFHIR(w, http.StatusOK, 0, appointmentResource(*resp.Appointment))
}

func slotResource(sl booking.Slot) fhir.Slot {
	status := fhir.SlotStatusFree
	if sl.Status == booking.SlotBusy {
		status = fhir.SlotStatusBusy
	}
	return fhir.Slot{Id: fhirres.Ptr(sl.ID), Schedule: fhir.Reference{Reference: fhirres.Ptr("Schedule/" + sl.Service)},
		Status: status, Start: sl.Start.UTC().Format(time.RFC3339), End: sl.End.UTC().Format(time.RFC3339)}
}

func appointmentResource(a booking.Appointment) fhir.Appointment {
	status := fhir.AppointmentStatusBooked
	if a.Status == booking.AppointmentCancelled {
		status = fhir.AppointmentStatusCancelled
	}
	accepted := fhir.ParticipationStatusAccepted
	out := fhir.Appointment{Id: fhirres.Ptr(a.ID), Status: status,
		Identifier: []fhir.Identifier{{System: fhirres.Ptr(SystemClientKey), Value: fhirres.Ptr(a.ClientKey)}},
		Start:      fhirres.Ptr(a.Start.UTC().Format(time.RFC3339)), End: fhirres.Ptr(a.End.UTC().Format(time.RFC3339)),
		Slot:    []fhir.Reference{{Reference: fhirres.Ptr("Slot/" + a.Slot)}},
		Created: fhirres.Ptr(a.Created.UTC().Format(time.RFC3339)),
		Participant: []fhir.AppointmentParticipant{
			{Actor: &fhir.Reference{Reference: fhirres.Ptr("Patient/" + fhirres.PatientResourceID(a.Patient))}, Status: accepted},
			{Actor: &fhir.Reference{Reference: fhirres.Ptr("HealthcareService/" + a.Service)}, Status: accepted},
		},
		Extension: eligibilityExtension(a.Eligibility),
	}
	if a.Consult != "" {
		out.BasedOn = []fhir.Reference{{Reference: fhirres.Ptr("ServiceRequest/" + a.Consult)}}
	}
	return out
}

func eligibilityExtension(e booking.Eligibility) []fhir.Extension {
	sub := []fhir.Extension{
		{Url: "clinicallySuitable", ValueBoolean: fhirres.Ptr(e.ClinicallySuitable)},
		{Url: "consent", ValueBoolean: fhirres.Ptr(e.Consent)},
		{Url: "digitallyReady", ValueBoolean: fhirres.Ptr(e.DigitallyReady)},
	}
	if e.AssessedBy != "" {
		sub = append(sub, fhir.Extension{Url: "assessedBy", ValueString: fhirres.Ptr(e.AssessedBy)})
	}
	if e.Note != "" {
		sub = append(sub, fhir.Extension{Url: "note", ValueString: fhirres.Ptr(e.Note)})
	}
	return []fhir.Extension{{Url: ExtensionEligibility, Extension: sub}}
}

func eligibilityOf(exts []fhir.Extension) *booking.Eligibility {
	for _, x := range exts {
		if x.Url != ExtensionEligibility {
			continue
		}
		var e booking.Eligibility
		for _, s := range x.Extension {
			switch s.Url {
			case "clinicallySuitable":
				e.ClinicallySuitable = s.ValueBoolean != nil && *s.ValueBoolean
			case "consent":
				e.Consent = s.ValueBoolean != nil && *s.ValueBoolean
			case "digitallyReady":
				e.DigitallyReady = s.ValueBoolean != nil && *s.ValueBoolean
			case "assessedBy":
				e.AssessedBy = ptrValue(s.ValueString)
			case "note":
				e.Note = ptrValue(s.ValueString)
			}
		}
		return &e
	}
	return nil
}

// resourceType is a FHIR resource's declared type ("" for non-JSON).
func resourceType(b []byte) string {
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(b, &probe)
	return probe.ResourceType
}

func ptrValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func refOf(r *fhir.Reference) *string {
	if r == nil {
		return nil
	}
	return r.Reference
}
