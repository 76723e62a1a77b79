package telemed

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/catalog"
	"github.com/fsenet/fsenet/telemed/report"
)

// Care delivered at the provider: a televisit's encounter and report, a
// teleconsult's request, task, messages and report, a teleassistance
// plan's sessions and final report. Each is decided by the access policy
// and audited here, at the provider, whichever node the caller asked.

func booker(c index.Caller) booking.Booker {
	return booking.Booker{Subject: c.Subject, Role: c.Role, Region: c.Region, Organization: c.Organization}
}

// audited records an access to a patient's care with how it ended; a
// change is audited after it is made, with its outcome.
func (m *Module) audited(ctx context.Context, c index.Caller, what string, action index.AuditAction, patient string, err error) error {
	outcome := index.OutcomeSuccess
	if err != nil {
		outcome = index.OutcomeRefused
	}
	if aerr := m.d.Audit.Record(ctx, visitEvent(c, what, action, patient, outcome)); aerr != nil {
		return httpapi.Wrap(httpapi.ErrUnavailable, "the access could not be audited; retry", aerr)
	}
	return err
}

// registered reads a patient the policy judges on: a patient not in the
// registry is nil.
func (m *Module) registered(ctx context.Context, id string) (*index.Patient, error) {
	if id == "" {
		return nil, nil
	}
	return m.patient(ctx, id)
}

// deliver checks that the caller may deliver care to the patient here.
// A refusal about a registered patient is in their access log.
func (m *Module) deliver(ctx context.Context, c index.Caller, patient, what string, usable bool) (*index.Patient, error) {
	return m.deliverFor(ctx, c, patient, "", what, usable)
}

// deliverFor is deliver for a teleconsult asked by requester (a subject),
// who does not answer it.
func (m *Module) deliverFor(ctx context.Context, c index.Caller, patient, requester, what string, usable bool) (*index.Patient, error) {
	p, err := m.registered(ctx, patient)
	if err != nil {
		return nil, err
	}
	refused := index.Authorize(c, index.ActDeliverCare, index.Target{Region: m.cfg.Region, Patient: p, Usable: usable, Organization: requester}).Err(what)
	if refused != nil && p != nil {
		return p, m.audited(ctx, c, what+".write", index.ActionUpdate, p.ID, refused)
	}
	return p, refused
}

// readable checks that the caller may read a patient's care asked by
// requester (a subject); a refusal is in the patient's access log.
func (m *Module) readable(ctx context.Context, c index.Caller, patient, requester, what string) error {
	p, err := m.registered(ctx, patient)
	if err != nil {
		return err
	}
	if p == nil {
		p = &index.Patient{ID: patient}
	}
	refused := index.Authorize(c, index.ActReadCare, index.Target{Region: m.cfg.Region, Patient: p, Organization: requester}).Err(what)
	if refused != nil {
		return m.audited(ctx, c, what+".read", index.ActionRead, patient, refused)
	}
	return nil
}

// provideEncounter opens a booked televisit's encounter.
func (m *Module) provideEncounter(ctx context.Context, c index.Caller, req Request) (Response, error) {
	a, err := m.store.Appointment(req.Appointment)
	if err != nil {
		return Response{}, storeError(err, "Appointment")
	}
	if _, err := m.deliver(ctx, c, a.Patient, "Appointment", true); err != nil {
		return Response{}, err
	}
	s, _, err := m.serviceFor(ctx, a.Service, m.cfg.Region)
	if err != nil {
		return Response{}, err
	}
	if s.Type != catalog.Televisit {
		return Response{}, httpapi.E(httpapi.ErrInvalid, "the appointment is of a "+s.Type+", not a televisita: its encounter is not opened here")
	}
	e, err := m.store.StartEncounter(a.ID, booker(c))
	if err := m.audited(ctx, c, "Encounter.create", index.ActionCreate, a.Patient, err); err != nil {
		return Response{}, storeError(err, "Appointment")
	}
	return Response{Encounter: &e}, nil
}

// provideReadEncounter reads an encounter: a televisit's (asked by its
// booker) or a plan's session (asked by the plan's author).
func (m *Module) provideReadEncounter(ctx context.Context, c index.Caller, req Request) (Response, error) {
	e, err := m.store.Encounter(req.Encounter)
	if err != nil {
		return Response{}, storeError(err, "Encounter")
	}
	requester := ""
	if a, err := m.store.Appointment(e.Appointment); err == nil {
		requester = a.Booker.Subject
	} else if p, err := m.store.Plan(e.Plan); err == nil {
		requester = p.Author.Subject
	}
	if err := m.readable(ctx, c, e.Patient, requester, "Encounter"); err != nil {
		return Response{}, err
	}
	if err := m.audited(ctx, c, "Encounter.read", index.ActionRead, e.Patient, nil); err != nil {
		return Response{}, err
	}
	return Response{Encounter: &e}, nil
}

// provideConsult records a teleconsult asked of one of this region's
// services.
func (m *Module) provideConsult(ctx context.Context, c index.Caller, req Request) (Response, error) {
	s, usable, err := m.serviceFor(ctx, req.Service, c.Region)
	if err != nil {
		return Response{}, err
	}
	if s.Type != catalog.Teleconsult {
		return Response{}, httpapi.E(httpapi.ErrInvalid, "service "+s.ID+" is a "+s.Type+", not a teleconsulto")
	}
	p, err := m.registered(ctx, req.Patient)
	if err != nil {
		return Response{}, err
	}
	if refused := index.Authorize(c, index.ActRequestConsult, index.Target{Region: s.Region, Patient: p, Usable: usable}).Err("Patient"); refused != nil {
		if p != nil {
			return Response{}, m.audited(ctx, c, "ServiceRequest.create", index.ActionCreate, p.ID, refused)
		}
		return Response{}, refused
	}
	if err := checkDocuments(req.Documents); err != nil {
		return Response{}, err
	}
	if err := report.CheckText("the question", req.Text, report.MaxTextBytes); err != nil {
		return Response{}, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	co, dup, err := m.store.RequestConsult(booking.Consult{Service: s.ID, Patient: p.ID, Requester: booker(c), ClientKey: req.ClientKey,
		Sync: s.Sync, Question: req.Text, Documents: req.Documents})
	if err := m.audited(ctx, c, "ServiceRequest.create", index.ActionCreate, p.ID, err); err != nil {
		return Response{}, storeError(err, "ServiceRequest")
	}
	return Response{Consult: &co, Duplicate: dup}, nil
}

// checkDocuments accepts FSE documents shared by reference: the FHIR ids
// of their DocumentReferences in the national index, which a reader opens
// through the FSE's own policy. Nothing is copied.
func checkDocuments(ids []string) error {
	for _, id := range ids {
		if !resourceIDRE.MatchString(id) {
			return httpapi.E(httpapi.ErrInvalid, "a shared document is referenced as DocumentReference/<id> of the national index")
		}
	}
	return nil
}

var resourceIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// consultFor reads a teleconsult and asks the policy whether the caller
// may act on it.
func (m *Module) consultFor(ctx context.Context, c index.Caller, id string, act index.Action) (booking.Consult, error) {
	co, err := m.store.Consult(id)
	if err != nil {
		return co, storeError(err, "ServiceRequest")
	}
	switch act {
	case index.ActReadCare:
		return co, m.readable(ctx, c, co.Patient, co.Requester.Subject, "ServiceRequest")
	case index.ActDeliverCare:
		_, err := m.deliverFor(ctx, c, co.Patient, co.Requester.Subject, "ServiceRequest", true)
		return co, err
	}
	if refused := index.Authorize(c, act, index.Target{Region: m.cfg.Region, Organization: co.Requester.Subject}).Err("ServiceRequest"); refused != nil {
		return co, m.audited(ctx, c, "ServiceRequest.message", index.ActionUpdate, co.Patient, refused)
	}
	return co, nil
}

func (m *Module) provideReadConsult(ctx context.Context, c index.Caller, req Request) (Response, error) {
	co, err := m.consultFor(ctx, c, req.Consult, index.ActReadCare)
	if err != nil {
		return Response{}, err
	}
	if err := m.audited(ctx, c, "ServiceRequest.read", index.ActionRead, co.Patient, nil); err != nil {
		return Response{}, err
	}
	return Response{Consult: &co}, nil
}

// provideTask moves a teleconsult's task: the provider's clinicians accept
// or reject it, either side may cancel it.
func (m *Module) provideTask(ctx context.Context, c index.Caller, req Request) (Response, error) {
	act := index.ActDeliverCare
	switch req.Status {
	case booking.TaskAccepted, booking.TaskRejected:
	case booking.TaskCancelled:
		act = index.ActConsultMessage
	default:
		return Response{}, httpapi.E(httpapi.ErrInvalid, "a task is accepted, rejected or cancelled; it is completed by its report")
	}
	co, err := m.consultFor(ctx, c, req.Consult, act)
	if err != nil {
		return Response{}, err
	}
	co, err = m.store.MoveConsult(co.ID, req.Status, req.Text, booker(c))
	if err := m.audited(ctx, c, "Task."+req.Status, index.ActionUpdate, co.Patient, err); err != nil {
		return Response{}, storeError(err, "Task")
	}
	return Response{Consult: &co}, nil
}

func (m *Module) provideMessage(ctx context.Context, c index.Caller, req Request) (Response, error) {
	co, err := m.consultFor(ctx, c, req.Consult, index.ActConsultMessage)
	if err != nil {
		return Response{}, err
	}
	if err := checkDocuments(req.Documents); err != nil {
		return Response{}, err
	}
	msg, dup, err := m.store.AddMessage(booking.Message{Consult: co.ID, Sender: booker(c), Text: req.Text, Documents: req.Documents,
		ReplyTo: req.ReplyTo, ClientKey: req.ClientKey})
	if err := m.audited(ctx, c, "Communication.create", index.ActionCreate, co.Patient, err); err != nil {
		return Response{}, storeError(err, "ServiceRequest")
	}
	return Response{Consult: &co, Message: &msg, Duplicate: dup}, nil
}

func (m *Module) provideMessages(ctx context.Context, c index.Caller, req Request) (Response, error) {
	co, err := m.consultFor(ctx, c, req.Consult, index.ActConsultMessage)
	if err != nil {
		return Response{}, err
	}
	msgs, err := m.store.Messages(co.ID)
	if err != nil {
		return Response{}, storeError(err, "Communication")
	}
	if err := m.audited(ctx, c, "Communication.read", index.ActionRead, co.Patient, nil); err != nil {
		return Response{}, err
	}
	return Response{Consult: &co, Messages: msgs}, nil
}

// templateAt reads a template at a version and whether this region may
// make plans from it. A template this replica does not hold yet is read
// again through the leader: one just written through another node, or
// through this one before its replica applied it, is found.
func (m *Module) templateAt(ctx context.Context, id string, version int, typ string) (t catalog.Template, usable bool, err error) {
	t, usable, err = m.readTemplateAt(ctx, consensus.Local, id, version)
	if errors.Is(err, httpapi.ErrNotFound) {
		t, usable, err = m.readTemplateAt(ctx, consensus.Strong, id, version)
	}
	return t, usable && t.Active && t.Type == typ, err
}

// readTemplateAt reads a template at a version, and whether this region may
// make plans from it, at a consistency.
func (m *Module) readTemplateAt(ctx context.Context, cons consensus.Consistency, id string, version int) (t catalog.Template, usable bool, err error) {
	_, err = m.d.Replica.Read(ctx, cons, func(rd consensus.Reader) error {
		var ok bool
		var err error
		if t, ok, err = catalog.GetTemplate(rd, id, version); err != nil {
			return err
		}
		if !ok {
			return httpapi.E(httpapi.ErrNotFound, fmt.Sprintf("no PlanDefinition %s at version %d", id, version))
		}
		if usable, err = catalog.TemplateUsable(rd, t, m.cfg.Region); err != nil {
			return err
		}
		// A template retired since (its latest version) makes no new plans.
		latest, _, err := catalog.GetTemplate(rd, id, 0)
		usable = usable && latest.Active
		return err
	})
	return t, usable, err
}

func (m *Module) providePlan(ctx context.Context, c index.Caller, req Request) (Response, error) {
	t, usable, err := m.templateAt(ctx, req.Template, req.TemplateVersion, catalog.Teleassistance)
	if err != nil {
		return Response{}, err
	}
	p, err := m.deliver(ctx, c, req.Patient, "Patient", usable)
	if err != nil {
		return Response{}, err
	}
	plan, dup, err := m.store.StartPlan(booking.CarePlan{Template: t.ID, TemplateVersion: t.Version, Title: t.Title, Patient: p.ID,
		Author: booker(c), ClientKey: req.ClientKey})
	if err := m.audited(ctx, c, "CarePlan.create", index.ActionCreate, p.ID, err); err != nil {
		return Response{}, storeError(err, "CarePlan")
	}
	return Response{Plan: &plan, Duplicate: dup}, nil
}

func (m *Module) provideReadPlan(ctx context.Context, c index.Caller, req Request) (Response, error) {
	plan, err := m.store.Plan(req.Plan)
	if err != nil {
		return Response{}, storeError(err, "CarePlan")
	}
	if err := m.readable(ctx, c, plan.Patient, plan.Author.Subject, "CarePlan"); err != nil {
		return Response{}, err
	}
	sessions, err := m.store.Sessions(plan)
	if err != nil {
		return Response{}, storeError(err, "CarePlan")
	}
	if err := m.audited(ctx, c, "CarePlan.read", index.ActionRead, plan.Patient, nil); err != nil {
		return Response{}, err
	}
	return Response{Plan: &plan, Sessions: sessions}, nil
}

// provideSession records a session held under a plan, by a professional
// of one of the plan's activities.
func (m *Module) provideSession(ctx context.Context, c index.Caller, req Request) (Response, error) {
	plan, err := m.store.Plan(req.Plan)
	if err != nil {
		return Response{}, storeError(err, "CarePlan")
	}
	if _, err := m.deliver(ctx, c, plan.Patient, "CarePlan", true); err != nil {
		return Response{}, err
	}
	t, _, err := m.templateAt(ctx, plan.Template, plan.TemplateVersion, catalog.Teleassistance)
	if err != nil {
		return Response{}, err
	}
	// A session is one line of the plan's final report.
	if err := report.CheckText("the session's note", req.Text, report.MaxSessionBytes-100); err != nil {
		return Response{}, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	if !slices.ContainsFunc(t.Activities, func(a catalog.Activity) bool { return a.Profession == req.Profession }) {
		return Response{}, httpapi.E(httpapi.ErrInvalid, fmt.Sprintf("the plan's template has no activity of profession %q", req.Profession))
	}
	e, err := m.store.AddSession(plan.ID, booking.Encounter{By: booker(c), Role: req.Profession, Start: req.From, End: req.To, Note: req.Text,
		Service: plan.Template})
	if err := m.audited(ctx, c, "Encounter.session", index.ActionCreate, plan.Patient, err); err != nil {
		return Response{}, storeError(err, "CarePlan")
	}
	return Response{Encounter: &e}, nil
}

// provideReport makes the report of a finished televisit, an accepted
// teleconsult or a plan being closed, records it with what it reports on,
// and answers its PDF. Asked again — or twice at once — it answers the
// report made first; a plan's session recorded while its report was made
// makes it again.
func (m *Module) provideReport(ctx context.Context, c index.Caller, req Request) (Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := m.makeReport(ctx, c, req, attempt == 3)
		if !errors.Is(err, errRaced) {
			return resp, err
		}
	}
}

// errRaced is a report whose record changed while it was made.
var errRaced = errors.New("changed while the report was made")

func (m *Module) makeReport(ctx context.Context, c index.Caller, req Request, last bool) (Response, error) {
	var r report.Report
	var owner, patient string
	var err error
	switch {
	case req.Encounter != "":
		r, owner, patient, err = m.visitReport(ctx, c, req)
	case req.Consult != "":
		r, owner, patient, err = m.consultReport(ctx, c, req)
	case req.Plan != "":
		r, owner, patient, err = m.planReport(ctx, c, req)
	default:
		err = httpapi.E(httpapi.ErrInvalid, "a report is of an encounter, a teleconsult or a plan")
	}
	var already *made
	if errors.As(err, &already) {
		return m.reportAgain(ctx, c, already.doc, already.kind, patient)
	}
	if err != nil {
		return Response{}, err
	}
	doc, pdf, err := m.writeReport(ctx, c, r, patient, req.Text)
	if err != nil {
		return Response{}, err
	}
	switch {
	case req.Encounter != "":
		_, err = m.store.CloseEncounter(owner, doc, pdf)
	case req.Consult != "":
		_, err = m.store.CompleteConsult(owner, doc, pdf)
	default:
		_, err = m.store.ClosePlan(owner, len(r.Sessions), doc, pdf)
	}
	if errors.Is(err, booking.ErrState) && !last {
		return Response{}, errRaced
	}
	if err := m.audited(ctx, c, "Report."+string(r.Kind), index.ActionCreate, patient, err); err != nil {
		return Response{}, storeError(err, "report")
	}
	return Response{Report: &ReportFile{Document: doc, Kind: string(r.Kind), PDF: pdf, Patient: patient}}, nil
}

// writeReport fills in what every report says — the patient as the
// registry knows them, the clinician, the time, the text — and makes its
// PDF.
func (m *Module) writeReport(ctx context.Context, c index.Caller, r report.Report, patient, text string) (string, []byte, error) {
	pt, err := m.registered(ctx, patient)
	if err != nil || pt == nil {
		return "", nil, errors.Join(err, httpapi.E(httpapi.ErrConflict, "the patient is no longer in the national registry"))
	}
	r.Patient = reportPatient(*pt)
	r.Region, r.Time = m.cfg.Region, time.Now().UTC()
	r.Author = report.Person{CF: c.Subject}
	r.Findings = text
	pdf, err := report.PDF(r)
	if err != nil {
		return "", nil, httpapi.Wrap(httpapi.ErrInvalid, "the report cannot be made: "+err.Error(), err)
	}
	return documentID(m.cfg.Region, r.ID), pdf, nil
}

// made is a report already made for what was asked.
type made struct{ doc, kind string }

func (e *made) Error() string { return "the report was made: " + e.doc }

// reportAgain answers a report already made.
func (m *Module) reportAgain(ctx context.Context, c index.Caller, doc, kind, patient string) (Response, error) {
	pdf, err := m.store.Report(doc)
	if err := m.audited(ctx, c, "Report.read", index.ActionRead, patient, err); err != nil {
		return Response{}, storeError(err, "report")
	}
	return Response{Report: &ReportFile{Document: doc, Kind: kind, PDF: pdf, Patient: patient}}, nil
}

// documentID is the FSE id a report of this region is published under.
func documentID(region, local string) string {
	return "2.16.840.1.113883.2.9.2." + region + ".4.4^" + local
}

// localPart is the part of a record's id that follows its region.
func localPart(id string) string {
	_, l, _ := strings.Cut(id, "-")
	return l
}

func (m *Module) visitReport(ctx context.Context, c index.Caller, req Request) (report.Report, string, string, error) {
	e, err := m.store.Encounter(req.Encounter)
	if err == nil && e.Appointment == "" {
		err = booking.ErrNotFound // a plan's session has no report of its own
	}
	if err != nil {
		return report.Report{}, "", "", storeError(err, "Encounter")
	}
	if _, err := m.deliver(ctx, c, e.Patient, "Encounter", true); err != nil {
		return report.Report{}, "", e.Patient, err
	}
	if e.Report != "" {
		return report.Report{}, "", e.Patient, &made{e.Report, string(report.Televisita)}
	}
	s, _, err := m.serviceFor(ctx, e.Service, m.cfg.Region)
	if err != nil {
		return report.Report{}, "", e.Patient, err
	}
	if len(req.Prestazioni) == 0 {
		req.Prestazioni = []report.Prestazione{{Code: "89.01", Display: "Anamnesi e valutazione, definite brevi (televisita)"}}
	}
	return report.Report{Kind: report.Televisita, ID: "tv-" + localPart(e.ID), Organization: m.organization(c, s),
		Order: e.Appointment, Encounter: e.ID, Start: e.Start, End: time.Now().UTC(), Quesito: req.Quesito,
		Prestazioni: req.Prestazioni}, e.ID, e.Patient, nil
}

func (m *Module) consultReport(ctx context.Context, c index.Caller, req Request) (report.Report, string, string, error) {
	co, err := m.consultFor(ctx, c, req.Consult, index.ActDeliverCare)
	if err != nil {
		return report.Report{}, "", co.Patient, err
	}
	if co.Report != "" {
		return report.Report{}, "", co.Patient, &made{co.Report, string(report.Teleconsulto)}
	}
	s, _, err := m.serviceFor(ctx, co.Service, m.cfg.Region)
	if err != nil {
		return report.Report{}, "", co.Patient, err
	}
	quesito := req.Quesito
	if quesito == "" {
		quesito = co.Question
	}
	return report.Report{Kind: report.Teleconsulto, ID: "tc-" + localPart(co.ID), Organization: m.organization(c, s),
		Order: co.ID, Encounter: co.ID, Start: co.Created, End: time.Now().UTC(), Quesito: quesito,
		Requester: report.Person{CF: co.Requester.Subject}}, co.ID, co.Patient, nil
}

func (m *Module) planReport(ctx context.Context, c index.Caller, req Request) (report.Report, string, string, error) {
	plan, err := m.store.Plan(req.Plan)
	if err != nil {
		return report.Report{}, "", "", storeError(err, "CarePlan")
	}
	if _, err := m.deliver(ctx, c, plan.Patient, "CarePlan", true); err != nil {
		return report.Report{}, "", plan.Patient, err
	}
	if plan.Report != "" {
		return report.Report{}, "", plan.Patient, &made{plan.Report, string(report.Teleassistenza)}
	}
	sessions, err := m.store.Sessions(plan)
	if err != nil {
		return report.Report{}, "", plan.Patient, storeError(err, "CarePlan")
	}
	lines := make([]string, 0, len(sessions))
	for _, s := range sessions {
		lines = append(lines, fmt.Sprintf("%s, %s: %s", s.Start.Format("02/01/2006 15:04"), s.Role, s.Note))
	}
	org := report.Organization{ID: m.cfg.Region, Name: "Servizio di teleassistenza - " + federation.RegionNames[m.cfg.Region]}
	return report.Report{Kind: report.Teleassistenza, ID: "ta-" + localPart(plan.ID), Organization: org,
			Order: plan.ID, Encounter: plan.ID, Start: plan.Start, End: time.Now().UTC(), Quesito: req.Quesito, Sessions: lines},
		plan.ID, plan.Patient, nil
}

// organization is who delivers a service: the service's health authority
// (or the region's), named by the caller's organisation code if any.
func (m *Module) organization(c index.Caller, s catalog.Service) report.Organization {
	id := c.Organization
	if id == "" {
		id = m.cfg.Region
	}
	return report.Organization{ID: id, Name: providerName(s)}
}

// reportPatient is the registry's patient as a report names them.
func reportPatient(p index.Patient) report.Patient {
	out := report.Patient{Family: p.Family, Given: strings.Join(p.Given, " "), Gender: "UN"}
	_, out.CF, _ = strings.Cut(p.ID, ":")
	switch p.Gender {
	case "male":
		out.Gender = "M"
	case "female":
		out.Gender = "F"
	}
	if t, err := time.Parse(time.DateOnly, p.BirthDate); err == nil {
		out.BirthDate = t
	}
	return out
}
