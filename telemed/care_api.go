package telemed

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/catalog"
	"github.com/fsenet/fsenet/telemed/report"
)

// Systems of care resources.
const (
	// SystemActCode holds the encounter class: VR, virtual.
	SystemActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	// ExtensionReport names the report an encounter, teleconsult or plan
	// produced: its DocumentReference in the national index.
	ExtensionReport = "urn:fsenet:telemedicina:referto"
	// SystemProfession holds the profession of a teleassistance session.
	SystemProfession = "urn:fsenet:telemedicina:professione"
	// HeaderDocument carries the FSE id a report is to be published under.
	HeaderDocument = "Fsenet-Document-Id"
)

// registerCare mounts the routes of encounters, teleconsults and
// teleassistance plans. Like the visits', each is served by the node of
// the region that holds what it names.
func (m *Module) registerCare(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("POST /fhir/Encounter", m.openEncounter)
	r.HandleFunc("GET /fhir/Encounter/{id}", m.readEncounter)
	r.HandleFunc("POST /fhir/Encounter/{id}/$referto", m.visitReportOp)
	r.HandleFunc("POST /fhir/ServiceRequest", m.requestConsult)
	r.HandleFunc("GET /fhir/ServiceRequest/{id}", m.readConsult)
	r.HandleFunc("GET /fhir/Task/{id}", m.readTask)
	for _, op := range []string{"accept", "reject", "cancel"} {
		r.HandleFunc("POST /fhir/Task/{id}/$"+op, m.moveTask)
	}
	r.HandleFunc("POST /fhir/Task/{id}/$relazione", m.consultReportOp)
	r.HandleFunc("POST /fhir/Communication", m.sendMessage)
	r.HandleFunc("GET /fhir/Communication", m.searchMessages)
	r.HandleFunc("POST /fhir/CarePlan", m.startPlan)
	r.HandleFunc("GET /fhir/CarePlan/{id}", m.readPlan)
	r.HandleFunc("POST /fhir/CarePlan/{id}/$session", m.recordSession)
	r.HandleFunc("POST /fhir/CarePlan/{id}/$relazione-finale", m.planReportOp)
	read, create := fhir.TypeRestfulInteractionRead, fhir.TypeRestfulInteractionCreate
	caps.Interactions(fhir.ResourceTypeEncounter, []fhir.TypeRestfulInteraction{create, read})
	caps.Operation(fhir.ResourceTypeEncounter, "referto")
	caps.Interactions(fhir.ResourceTypeServiceRequest, []fhir.TypeRestfulInteraction{create, read})
	caps.Interactions(fhir.ResourceTypeTask, []fhir.TypeRestfulInteraction{read})
	for _, op := range []string{"accept", "reject", "cancel", "relazione"} {
		caps.Operation(fhir.ResourceTypeTask, op)
	}
	caps.Interactions(fhir.ResourceTypeCommunication, []fhir.TypeRestfulInteraction{create, fhir.TypeRestfulInteractionSearchType},
		fhirres.SearchParam{Name: "based-on", Type: fhir.SearchParamTypeReference})
	caps.Interactions(fhir.ResourceTypeCarePlan, []fhir.TypeRestfulInteraction{create, read})
	caps.Operation(fhir.ResourceTypeCarePlan, "session")
	caps.Operation(fhir.ResourceTypeCarePlan, "relazione-finale")
}

// params reads a FHIR Parameters body: each parameter's value as text
// (valueString, valueCode, valueDateTime, valueReference's reference), and
// codings apart.
type params struct {
	values  map[string][]string
	codings map[string][]fhir.Coding
}

func readParams(w http.ResponseWriter, r *http.Request) (params, error) {
	b, err := readBody(w, r)
	if err != nil {
		return params{}, err
	}
	var ps struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string          `json:"name"`
			ValueString    *string         `json:"valueString"`
			ValueCode      *string         `json:"valueCode"`
			ValueDateTime  *string         `json:"valueDateTime"`
			ValueReference *fhir.Reference `json:"valueReference"`
			ValueCoding    *fhir.Coding    `json:"valueCoding"`
		} `json:"parameter"`
	}
	if json.Unmarshal(b, &ps) != nil || ps.ResourceType != "Parameters" {
		return params{}, httpapi.E(httpapi.ErrInvalid, "want a FHIR Parameters resource")
	}
	out := params{values: map[string][]string{}, codings: map[string][]fhir.Coding{}}
	for _, p := range ps.Parameter {
		for _, v := range []*string{p.ValueString, p.ValueCode, p.ValueDateTime, refOf(p.ValueReference)} {
			if v != nil {
				out.values[p.Name] = append(out.values[p.Name], *v)
			}
		}
		if p.ValueCoding != nil {
			out.codings[p.Name] = append(out.codings[p.Name], *p.ValueCoding)
		}
	}
	return out, nil
}

func (p params) get(name string) string { return first(p.values[name]) }

// region is the region an id names, or a 404 answered.
func regionOf(w http.ResponseWriter, r *http.Request, id, what string) (string, bool) {
	region, ok := catalog.RegionOf(id)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such "+what))
	}
	return region, ok
}

// openEncounter is POST /fhir/Encounter naming a booked televisit
// (appointment): the provider's clinician opens the visit.
func (m *Module) openEncounter(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	e, err := fhir.UnmarshalEncounter(b)
	if err != nil || resourceType(b) != "Encounter" || len(e.Appointment) != 1 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want a FHIR Encounter with one appointment (Appointment/<id>)"))
		return
	}
	id := strings.TrimPrefix(ptrValue(e.Appointment[0].Reference), "Appointment/")
	region, ok := regionOf(w, r, id, "Appointment")
	if !ok {
		return
	}
	if resp, ok := m.ask(w, r, region, Request{Op: opEncounter, Appointment: id}, "Encounter.create.request"); ok {
		w.Header().Set("Location", m.base(r)+"/Encounter/"+resp.Encounter.ID)
		writeFHIR(w, http.StatusCreated, 0, encounterResource(*resp.Encounter))
	}
}

// readEncounter is GET /fhir/Encounter/{id}, asked of its provider.
func (m *Module) readEncounter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if region, ok := regionOf(w, r, id, "Encounter"); ok {
		if resp, ok := m.ask(w, r, region, Request{Op: opReadEncounter, Encounter: id}, "Encounter.read.request"); ok {
			writeFHIR(w, http.StatusOK, 0, encounterResource(*resp.Encounter))
		}
	}
}

// visitReportOp is POST /fhir/Encounter/{id}/$referto with Parameters
// referto (valueString), quesito (valueString, optional) and prestazione
// (valueCoding, any): the Referto di Televisita, answered as its PDF.
func (m *Module) visitReportOp(w http.ResponseWriter, r *http.Request) {
	m.reportOf(w, r, "Encounter", func(id string, p params) Request {
		req := Request{Op: opReport, Encounter: id, Text: p.get("referto"), Quesito: p.get("quesito")}
		for _, c := range p.codings["prestazione"] {
			req.Prestazioni = append(req.Prestazioni, report.Prestazione{Code: ptrValue(c.Code), Display: ptrValue(c.Display)})
		}
		return req
	})
}

// consultReportOp is POST /fhir/Task/{id}/$relazione with Parameters
// relazione (valueString): the Relazione di Teleconsulto, which completes
// the task.
func (m *Module) consultReportOp(w http.ResponseWriter, r *http.Request) {
	m.reportOf(w, r, "Task", func(id string, p params) Request {
		return Request{Op: opReport, Consult: id, Text: p.get("relazione"), Quesito: p.get("quesito")}
	})
}

// planReportOp is POST /fhir/CarePlan/{id}/$relazione-finale with Parameters
// relazione (valueString): the Relazione finale di Teleassistenza, which
// completes the plan.
func (m *Module) planReportOp(w http.ResponseWriter, r *http.Request) {
	if isMonitoringID(r.PathValue("id")) {
		m.closeMonitoring(w, r)
		return
	}
	m.reportOf(w, r, "CarePlan", func(id string, p params) Request {
		return Request{Op: opReport, Plan: id, Text: p.get("relazione"), Quesito: p.get("quesito")}
	})
}

// reportOf asks the provider for a report and answers its PDF, with the
// FSE id it is to be published under through the provider's gateway.
func (m *Module) reportOf(w http.ResponseWriter, r *http.Request, what string, build func(id string, p params) Request) {
	id := r.PathValue("id")
	region, ok := regionOf(w, r, id, what)
	if !ok {
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req := build(id, p)
	if strings.TrimSpace(req.Text) == "" || len(req.Text) > 32<<10 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "the report's text is required (at most 32 KiB)"))
		return
	}
	resp, ok := m.ask(w, r, region, req, "Report.request")
	if !ok {
		return
	}
	w.Header().Set(HeaderDocument, resp.Report.Document)
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+resp.Report.Kind+`-`+localPart(id)+`.pdf"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Report.PDF)
}

// requestConsult is POST /fhir/ServiceRequest: a clinician asks a
// teleconsult of a service (performer HealthcareService/<id>) for a
// patient (subject), with the question (note or reasonCode text), FSE
// documents by reference (supportingInfo DocumentReference/<id>), and a
// client key (identifier) that makes retries safe.
func (m *Module) requestConsult(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req, err := consultRequest(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	region, _ := catalog.RegionOf(req.Service)
	resp, ok := m.ask(w, r, region, req, "ServiceRequest.create.request")
	if !ok {
		return
	}
	status := http.StatusCreated
	if resp.Duplicate {
		status = http.StatusOK
	}
	w.Header().Set("Location", m.base(r)+"/ServiceRequest/"+resp.Consult.ID)
	writeFHIR(w, status, 0, serviceRequestResource(*resp.Consult))
}

func consultRequest(b []byte) (Request, error) {
	bad := httpapi.E(httpapi.ErrInvalid, "want a FHIR ServiceRequest with performer HealthcareService/<id>, subject Patient/CF-…, "+
		"the question (note or reasonCode text), and an identifier of system "+SystemClientKey)
	sr, err := fhir.UnmarshalServiceRequest(b)
	if err != nil || resourceType(b) != "ServiceRequest" || len(sr.Performer) != 1 {
		return Request{}, bad
	}
	req := Request{Op: opConsult, Service: strings.TrimPrefix(ptrValue(sr.Performer[0].Reference), "HealthcareService/")}
	if id, ok := fhirres.PatientIDOf(strings.TrimPrefix(ptrValue(sr.Subject.Reference), "Patient/")); ok {
		req.Patient = id
	}
	for _, id := range sr.Identifier {
		if ptrValue(id.System) == SystemClientKey {
			req.ClientKey = ptrValue(id.Value)
		}
	}
	var question []string
	for _, n := range sr.Note {
		question = append(question, n.Text)
	}
	for _, rc := range sr.ReasonCode {
		question = append(question, ptrValue(rc.Text))
	}
	req.Text = strings.TrimSpace(strings.Join(question, "\n"))
	for _, ref := range sr.SupportingInfo {
		req.Documents = append(req.Documents, strings.TrimPrefix(ptrValue(ref.Reference), "DocumentReference/"))
	}
	if _, ok := catalog.RegionOf(req.Service); !ok || req.Patient == "" || req.ClientKey == "" || req.Text == "" {
		return Request{}, bad
	}
	return req, nil
}

// readConsult is GET /fhir/ServiceRequest/{id}; readTask GET /fhir/Task/{id}
// (a teleconsult's task has its request's id).
func (m *Module) readConsult(w http.ResponseWriter, r *http.Request) {
	if resp, ok := m.consultOp(w, r, Request{Op: opReadConsult}, "ServiceRequest.read.request"); ok {
		writeFHIR(w, http.StatusOK, 0, serviceRequestResource(*resp.Consult))
	}
}

func (m *Module) readTask(w http.ResponseWriter, r *http.Request) {
	if resp, ok := m.consultOp(w, r, Request{Op: opReadConsult}, "Task.read.request"); ok {
		writeFHIR(w, http.StatusOK, 0, taskResource(*resp.Consult))
	}
}

// moveTask is POST /fhir/Task/{id}/$accept, $reject or $cancel, with
// Parameters reason (valueString) optional.
func (m *Module) moveTask(w http.ResponseWriter, r *http.Request) {
	p, err := readParams(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	op := r.URL.Path[strings.LastIndexByte(r.URL.Path, '$')+1:]
	status := map[string]string{"accept": booking.TaskAccepted, "reject": booking.TaskRejected, "cancel": booking.TaskCancelled}[op]
	if resp, ok := m.consultOp(w, r, Request{Op: opTask, Status: status, Text: p.get("reason")}, "Task."+op+".request"); ok {
		writeFHIR(w, http.StatusOK, 0, taskResource(*resp.Consult))
	}
}

func (m *Module) consultOp(w http.ResponseWriter, r *http.Request, req Request, what string) (Response, bool) {
	req.Consult = r.PathValue("id")
	region, ok := regionOf(w, r, req.Consult, "ServiceRequest")
	if !ok {
		return Response{}, false
	}
	return m.ask(w, r, region, req, what)
}

// sendMessage is POST /fhir/Communication into a teleconsult (basedOn
// ServiceRequest/<id>): a question, an answer (inResponseTo), FSE
// documents by reference (payload contentReference DocumentReference/<id>).
func (m *Module) sendMessage(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	req, err := messageRequest(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	region, _ := catalog.RegionOf(req.Consult)
	if resp, ok := m.ask(w, r, region, req, "Communication.create.request"); ok {
		status := http.StatusCreated
		if resp.Duplicate {
			status = http.StatusOK
		}
		w.Header().Set("Location", m.base(r)+"/Communication/"+resp.Message.ID)
		writeFHIR(w, status, 0, communicationResource(*resp.Consult, *resp.Message))
	}
}

func messageRequest(b []byte) (Request, error) {
	bad := httpapi.E(httpapi.ErrInvalid, "want a FHIR Communication with basedOn ServiceRequest/<id> and a payload "+
		"(contentString, or contentReference DocumentReference/<id>)")
	c, err := fhir.UnmarshalCommunication(b)
	if err != nil || resourceType(b) != "Communication" || len(c.BasedOn) != 1 || len(c.Payload) == 0 {
		return Request{}, bad
	}
	req := Request{Op: opMessage, Consult: strings.TrimPrefix(ptrValue(c.BasedOn[0].Reference), "ServiceRequest/")}
	var text []string
	for _, p := range c.Payload {
		switch {
		case p.ContentString != "":
			text = append(text, p.ContentString)
		case strings.HasPrefix(ptrValue(p.ContentReference.Reference), "DocumentReference/"):
			req.Documents = append(req.Documents, strings.TrimPrefix(*p.ContentReference.Reference, "DocumentReference/"))
		default:
			return Request{}, bad
		}
	}
	req.Text = strings.Join(text, "\n")
	for _, id := range c.Identifier {
		if ptrValue(id.System) == SystemClientKey {
			req.ClientKey = ptrValue(id.Value)
		}
	}
	if len(c.InResponseTo) == 1 {
		req.ReplyTo = strings.TrimPrefix(ptrValue(c.InResponseTo[0].Reference), "Communication/")
	}
	if _, ok := catalog.RegionOf(req.Consult); !ok {
		return Request{}, bad
	}
	return req, nil
}

// searchMessages is GET /fhir/Communication?based-on=ServiceRequest/<id>.
func (m *Module) searchMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := strings.TrimPrefix(q.Get("based-on"), "ServiceRequest/")
	region, ok := catalog.RegionOf(id)
	if !ok || len(q["based-on"]) != 1 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "give based-on=ServiceRequest/<id>"))
		return
	}
	resp, ok := m.ask(w, r, region, Request{Op: opMessages, Consult: id}, "Communication.read.request")
	if !ok {
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: fhirres.Ptr(len(resp.Messages)),
		Link: []fhir.BundleLink{{Relation: "self", Url: base + "/Communication?" + r.URL.RawQuery}}}
	for _, msg := range resp.Messages {
		raw, _ := json.Marshal(communicationResource(*resp.Consult, msg))
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, "Communication", msg.ID)), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	writeFHIR(w, http.StatusOK, 0, b)
}

// startPlan is POST /fhir/CarePlan: a teleassistance plan at this node,
// from a template (instantiatesCanonical PlanDefinition/<id>|<version>)
// this region wrote or adopted at that version, for a patient (subject),
// with a client key (identifier).
func (m *Module) startPlan(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if isMonitoringPlan(b) {
		m.enrol(w, r, b)
		return
	}
	req, err := planRequest(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// A plan is delivered by the caller's region, at its node.
	if c, ok := m.d.Caller(r); ok && !c.Authority && c.Region != m.cfg.Region {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrMisdirected, "region "+c.Region+" starts its plans at its own node"))
		return
	}
	resp, ok := m.ask(w, r, m.cfg.Region, req, "")
	if !ok {
		return
	}
	status := http.StatusCreated
	if resp.Duplicate {
		status = http.StatusOK
	}
	w.Header().Set("Location", m.base(r)+"/CarePlan/"+resp.Plan.ID)
	writeFHIR(w, status, 0, carePlanResource(*resp.Plan, nil))
}

func planRequest(b []byte) (Request, error) {
	bad := httpapi.E(httpapi.ErrInvalid, "want a FHIR CarePlan with instantiatesCanonical PlanDefinition/<id>|<version>, "+
		"subject Patient/CF-… and an identifier of system "+SystemClientKey)
	cp, err := fhir.UnmarshalCarePlan(b)
	if err != nil || resourceType(b) != "CarePlan" || len(cp.InstantiatesCanonical) != 1 {
		return Request{}, bad
	}
	ref, version, _ := strings.Cut(strings.TrimPrefix(cp.InstantiatesCanonical[0], "PlanDefinition/"), "|")
	req := Request{Op: opPlan, Template: ref}
	req.TemplateVersion, err = strconv.Atoi(version)
	if id, ok := fhirres.PatientIDOf(strings.TrimPrefix(ptrValue(cp.Subject.Reference), "Patient/")); ok {
		req.Patient = id
	}
	for _, id := range cp.Identifier {
		if ptrValue(id.System) == SystemClientKey {
			req.ClientKey = ptrValue(id.Value)
		}
	}
	if _, ok := catalog.RegionOf(ref); !ok || err != nil || req.TemplateVersion < 1 || req.Patient == "" || req.ClientKey == "" {
		return Request{}, bad
	}
	return req, nil
}

// readPlan is GET /fhir/CarePlan/{id}, with its sessions as activities.
func (m *Module) readPlan(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := regionOf(w, r, id, "CarePlan")
	if !ok {
		return
	}
	if strings.HasPrefix(id, region+"-tm-") { // a telemonitoring plan, where it started or where it moved
		resp, ok := m.ask(w, r, region, Request{Op: opReadMonitoring, Plan: id}, "CarePlan.read.request")
		if ok && resp.Monitoring.MovedTo != "" {
			resp, ok = m.ask(w, r, resp.Monitoring.MovedTo, Request{Op: opReadMonitoring, Plan: id}, "CarePlan.read.request")
		}
		if ok {
			writeFHIR(w, http.StatusOK, 0, monitoringPlanResource(*resp.Monitoring))
		}
		return
	}
	if resp, ok := m.ask(w, r, region, Request{Op: opReadPlan, Plan: id}, "CarePlan.read.request"); ok {
		writeFHIR(w, http.StatusOK, 0, carePlanResource(*resp.Plan, resp.Sessions))
	}
}

// recordSession is POST /fhir/CarePlan/{id}/$session with Parameters
// start and end (valueDateTime), profession (valueCode, one of the plan's
// activities) and note (valueString): a session held, as an Encounter.
func (m *Module) recordSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := regionOf(w, r, id, "CarePlan")
	if !ok {
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	start, serr := time.Parse(time.RFC3339, p.get("start"))
	end, eerr := time.Parse(time.RFC3339, p.get("end"))
	if serr != nil || eerr != nil || p.get("profession") == "" || p.get("note") == "" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want Parameters start and end (RFC 3339), profession (valueCode) and note (valueString)"))
		return
	}
	req := Request{Op: opSession, Plan: id, From: start, To: end, Profession: p.get("profession"), Text: p.get("note")}
	if resp, ok := m.ask(w, r, region, req, "Encounter.session.request"); ok {
		w.Header().Set("Location", m.base(r)+"/Encounter/"+resp.Encounter.ID)
		writeFHIR(w, http.StatusCreated, 0, encounterResource(*resp.Encounter))
	}
}

func patientRef(id string) *fhir.Reference {
	return &fhir.Reference{Reference: fhirres.Ptr("Patient/" + fhirres.PatientResourceID(id))}
}

func professional(b booking.Booker) fhir.Reference {
	return fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr("http://hl7.it/sid/codiceFiscale"), Value: fhirres.Ptr(b.Subject)}}
}

func reportExtension(doc string) []fhir.Extension {
	if doc == "" {
		return nil
	}
	return []fhir.Extension{{Url: ExtensionReport, ValueReference: &fhir.Reference{
		Reference: fhirres.Ptr("DocumentReference/" + index.ResourceID(doc)), Identifier: &fhir.Identifier{Value: fhirres.Ptr(doc)}}}}
}

func period(start, end time.Time) *fhir.Period {
	p := &fhir.Period{Start: fhirres.Ptr(start.UTC().Format(time.RFC3339))}
	if !end.IsZero() {
		p.End = fhirres.Ptr(end.UTC().Format(time.RFC3339))
	}
	return p
}

func encounterResource(e booking.Encounter) fhir.Encounter {
	status := fhir.EncounterStatusInProgress
	if e.Status == booking.EncounterFinished {
		status = fhir.EncounterStatusFinished
	}
	out := fhir.Encounter{Id: fhirres.Ptr(e.ID), Status: status, Subject: patientRef(e.Patient), Period: period(e.Start, e.End),
		Class:       fhir.Coding{System: fhirres.Ptr(SystemActCode), Code: fhirres.Ptr("VR"), Display: fhirres.Ptr("virtual")},
		Participant: []fhir.EncounterParticipant{{Individual: fhirres.Ptr(professional(e.By))}},
		Extension:   reportExtension(e.Report)}
	if e.Appointment != "" {
		out.Appointment = []fhir.Reference{{Reference: fhirres.Ptr("Appointment/" + e.Appointment)}}
	}
	if e.Role != "" {
		out.Participant[0].Type = []fhir.CodeableConcept{fhirres.Coding(SystemProfession, e.Role, "")}
	}
	return out
}

func serviceRequestResource(c booking.Consult) fhir.ServiceRequest {
	status := map[string]fhir.RequestStatus{booking.TaskCompleted: fhir.RequestStatusCompleted, booking.TaskRejected: fhir.RequestStatusRevoked,
		booking.TaskCancelled: fhir.RequestStatusRevoked}[c.Status]
	if status == 0 && c.Status != booking.TaskCompleted {
		status = fhir.RequestStatusActive
	}
	mode := "ASINC"
	if c.Sync {
		mode = "SINC"
	}
	sr := fhir.ServiceRequest{Id: fhirres.Ptr(c.ID), Status: status, Intent: fhir.RequestIntentOrder, Subject: *patientRef(c.Patient),
		Identifier:  []fhir.Identifier{{System: fhirres.Ptr(SystemClientKey), Value: fhirres.Ptr(c.ClientKey)}},
		Category:    []fhir.CodeableConcept{fhirres.Coding(SystemServiceType, catalog.Teleconsult, "")},
		OrderDetail: []fhir.CodeableConcept{fhirres.Coding(SystemMode, mode, "")},
		Requester:   fhirres.Ptr(professional(c.Requester)), AuthoredOn: fhirres.Ptr(c.Created.UTC().Format(time.RFC3339)),
		Performer: []fhir.Reference{{Reference: fhirres.Ptr("HealthcareService/" + c.Service)}},
		Note:      []fhir.Annotation{{Text: c.Question}}}
	for _, d := range c.Documents {
		sr.SupportingInfo = append(sr.SupportingInfo, fhir.Reference{Reference: fhirres.Ptr("DocumentReference/" + d)})
	}
	if c.Appointment != "" {
		sr.SupportingInfo = append(sr.SupportingInfo, fhir.Reference{Reference: fhirres.Ptr("Appointment/" + c.Appointment)})
	}
	return sr
}

// task is a FHIR Task whose output is written as FHIR has it (the
// models' output carries every value[x] at once).
type task struct {
	taskFields
	ResourceType string       `json:"resourceType"`
	Output       []taskOutput `json:"output,omitempty"`
}

type (
	taskFields fhir.Task
	taskOutput struct {
		Type           fhir.CodeableConcept `json:"type"`
		ValueReference fhir.Reference       `json:"valueReference"`
	}
)

func taskResource(c booking.Consult) task {
	status := map[string]fhir.TaskStatus{booking.TaskRequested: fhir.TaskStatusRequested, booking.TaskAccepted: fhir.TaskStatusAccepted,
		booking.TaskRejected: fhir.TaskStatusRejected, booking.TaskCancelled: fhir.TaskStatusCancelled, booking.TaskCompleted: fhir.TaskStatusCompleted}[c.Status]
	t := task{ResourceType: "Task", taskFields: taskFields{Id: fhirres.Ptr(c.ID), Status: status, Intent: "order",
		BasedOn: []fhir.Reference{{Reference: fhirres.Ptr("ServiceRequest/" + c.ID)}},
		For:     patientRef(c.Patient), Requester: fhirres.Ptr(professional(c.Requester)),
		AuthoredOn: fhirres.Ptr(c.Created.UTC().Format(time.RFC3339)), LastModified: fhirres.Ptr(c.Updated.UTC().Format(time.RFC3339)),
		Owner: &fhir.Reference{Reference: fhirres.Ptr("HealthcareService/" + c.Service)}}}
	if c.Reason != "" {
		t.StatusReason = &fhir.CodeableConcept{Text: fhirres.Ptr(c.Reason)}
	}
	if c.Report != "" {
		t.Output = []taskOutput{{Type: fhir.CodeableConcept{Text: fhirres.Ptr("Relazione di teleconsulto")},
			ValueReference: *reportExtension(c.Report)[0].ValueReference}}
	}
	return t
}

// communication is a FHIR Communication whose payload is written as FHIR
// has it (one content[x] each).
type communication struct {
	communicationFields
	ResourceType string    `json:"resourceType"`
	Payload      []payload `json:"payload,omitempty"`
}

type (
	communicationFields fhir.Communication
	payload             struct {
		ContentString    string          `json:"contentString,omitempty"`
		ContentReference *fhir.Reference `json:"contentReference,omitempty"`
	}
)

func communicationResource(c booking.Consult, msg booking.Message) communication {
	out := communication{ResourceType: "Communication", communicationFields: communicationFields{Id: fhirres.Ptr(msg.ID),
		Status: fhir.EventStatusCompleted, Subject: patientRef(c.Patient),
		BasedOn: []fhir.Reference{{Reference: fhirres.Ptr("ServiceRequest/" + c.ID)}},
		Sender:  fhirres.Ptr(professional(msg.Sender)), Sent: fhirres.Ptr(msg.Sent.UTC().Format(time.RFC3339))}}
	if msg.Text != "" {
		out.Payload = append(out.Payload, payload{ContentString: msg.Text})
	}
	for _, d := range msg.Documents {
		out.Payload = append(out.Payload, payload{ContentReference: &fhir.Reference{Reference: fhirres.Ptr("DocumentReference/" + d)}})
	}
	if msg.ReplyTo != "" {
		out.InResponseTo = []fhir.Reference{{Reference: fhirres.Ptr("Communication/" + msg.ReplyTo)}}
	}
	if msg.ClientKey != "" {
		out.Identifier = []fhir.Identifier{{System: fhirres.Ptr(SystemClientKey), Value: fhirres.Ptr(msg.ClientKey)}}
	}
	return out
}

func carePlanResource(p booking.CarePlan, sessions []booking.Encounter) fhir.CarePlan {
	status := fhir.RequestStatusActive
	if p.Status == booking.PlanCompleted {
		status = fhir.RequestStatusCompleted
	}
	cp := fhir.CarePlan{Id: fhirres.Ptr(p.ID), Status: status, Intent: fhir.CarePlanIntentPlan, Subject: *patientRef(p.Patient),
		Title:                 fhirres.Ptr(p.Title),
		InstantiatesCanonical: []string{"PlanDefinition/" + p.Template + "|" + strconv.Itoa(p.TemplateVersion)},
		Identifier:            []fhir.Identifier{{System: fhirres.Ptr(SystemClientKey), Value: fhirres.Ptr(p.ClientKey)}},
		Author:                fhirres.Ptr(professional(p.Author)), Created: fhirres.Ptr(p.Created.UTC().Format(time.RFC3339)),
		Period: period(p.Start, p.End), Extension: reportExtension(p.Report)}
	for _, s := range sessions {
		cp.Activity = append(cp.Activity, fhir.CarePlanActivity{
			OutcomeReference: []fhir.Reference{{Reference: fhirres.Ptr("Encounter/" + s.ID)}},
			Progress:         []fhir.Annotation{{Text: s.Note, Time: fhirres.Ptr(s.Start.UTC().Format(time.RFC3339))}}})
	}
	return cp
}
