// Package fhirapi serves the national registry and document index as a
// FHIR R4 read API (IHE PDQm for patients, IHE MHD ITI-67 for document
// references, AuditEvent for the access log), read from the local replica
// and filtered by the index's one access policy. Every disclosure of
// clinical data is audited, and the audit record is durable on the node
// (spooled for replication) before the answer is written.
package fhirapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/node/httpapi"
)

// Recorder makes audit events durable before a disclosure (an index.Auditor).
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Deps are what the API needs from the node.
type Deps struct {
	// Read runs fn on the replica: the local state, or (strong) a state
	// that includes every write acknowledged before the call. It returns
	// the applied index read.
	Read func(ctx context.Context, strong bool, fn func(index.Reader) error) (uint64, error)
	// Apply replicates a registry write.
	Apply  func(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
	Audit  Recorder
	Caller func(*http.Request) (index.Caller, bool) // the authenticated caller
	Region string                                   // this node's region
	// PublicURL is the node's public base URL (http.public_url); empty:
	// the scheme and host each request came to.
	PublicURL string
	Log       *slog.Logger
}

// API is the FHIR read API.
type API struct{ d Deps }

// New returns the API.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &API{d: d}
}

// Header names.
const (
	HeaderAppliedIndex = "Fsenet-Applied-Index" // the replica's applied index the answer reflects
	HeaderConsistency  = "Fsenet-Consistency"   // "strong" asks for a strong read
)

// Router is where the API mounts its routes (an http.ServeMux, or the
// node's router that also lists them).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register mounts the API's routes.
func (a *API) Register(mux Router) {
	mux.HandleFunc("GET /fhir/Patient/{id}", a.readPatient)
	mux.HandleFunc("GET /fhir/Patient", a.searchPatient)
	mux.HandleFunc("GET /fhir/DocumentReference/{id}", a.readDocument)
	mux.HandleFunc("GET /fhir/DocumentReference", a.searchDocuments)
	mux.HandleFunc("GET /fhir/AuditEvent", a.searchAudit)
	a.registerWrites(mux)
}

// base is the absolute FHIR base URL links and fullUrls start with.
func (a *API) base(r *http.Request) string { return fhirres.Base(r, a.d.PublicURL) }

func writeResource(w http.ResponseWriter, applied uint64, v any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set(HeaderAppliedIndex, strconv.FormatUint(applied, 10))
	_ = json.NewEncoder(w).Encode(v)
}

// strict reports whether the client asked for strict handling of unknown
// parameters (Prefer: handling=strict); lenient is the default.
func strict(r *http.Request) bool {
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if strings.EqualFold(strings.TrimSpace(p), "handling=strict") {
			return true
		}
	}
	return false
}

func (a *API) caller(w http.ResponseWriter, r *http.Request) (index.Caller, bool) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
	}
	return c, ok
}

func (a *API) read(w http.ResponseWriter, r *http.Request, fn func(index.Reader) error) (uint64, bool) {
	strong := strings.EqualFold(r.Header.Get(HeaderConsistency), "strong")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	applied, err := a.d.Read(ctx, strong, fn)
	if err != nil {
		var pe *paramError
		if errors.As(err, &pe) {
			httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, pe.msg)
			return 0, false
		}
		httpapi.With(r, a.d.Log).Error("index read failed", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return 0, false
	}
	return applied, true
}

type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

// audit records the events and reports whether the answer may go out.
func (a *API) audit(w http.ResponseWriter, r *http.Request, events ...index.Event) bool {
	if err := a.d.Audit.Record(r.Context(), events...); err != nil {
		httpapi.With(r, a.d.Log).Error("audit record failed; answer withheld", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited, so nothing is disclosed; retry")
		return false
	}
	return true
}

func event(c index.Caller, what string, action index.AuditAction, patient string) index.Event {
	return index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: action, What: what, Patient: patient, Outcome: index.OutcomeSuccess}
}

func (a *API) readPatient(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	id, valid := fhirres.PatientIDOf(r.PathValue("id"))
	var p index.Patient
	var found bool
	applied, ok := a.read(w, r, func(rd index.Reader) error {
		if !valid {
			return nil
		}
		var err error
		p, found, err = index.GetPatient(rd, id)
		return err
	})
	if !ok {
		return
	}
	if !found || !index.PatientAccess(c, p) {
		httpapi.Outcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Patient")
		return
	}
	if !a.audit(w, r, event(c, "Patient.read", index.ActionRead, p.ID)) {
		return
	}
	writeResource(w, applied, fhirres.Patient(p))
}

var patientParams = map[string]paramType{"identifier": pToken, "family": pString, "given": pString, "birthdate": pDate, "gender": pToken, "_id": pToken}

func (a *API) searchPatient(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	s, ids, err := patientQuery(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var found []index.Patient
	applied, ok := a.read(w, r, func(rd index.Reader) error {
		var err error
		found, err = findPatients(rd, c, s, ids)
		return err
	})
	if !ok {
		return
	}
	total := len(found)
	start := min(s.offset, total)
	found = found[start:min(start+s.count, total)]
	var events []index.Event
	var resources []bundled
	for _, p := range found {
		events = append(events, event(c, "Patient.search", index.ActionExecute, p.ID))
		res := fhirres.Patient(p)
		resources = append(resources, bundled{typ: "Patient", id: deref(res.Id), res: res})
	}
	a.writeBundle(w, r, applied, s, resources, total, start, events...)
}

// patientQuery reads a patient search: its parameters, and the registry
// ids it names (identifier, _id). A search must name an identifier, a
// family name or a birth date: every patient is never listed.
func patientQuery(r *http.Request) (*search, []string, error) {
	s, err := parseSearch(r.URL.Query(), patientParams, nil, strict(r))
	if err != nil {
		return nil, nil, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	var ids []string
	for _, t := range s.tokens["identifier"] {
		id, err := ident.ParseSystem(t.system, t.code)
		if err != nil {
			return nil, nil, httpapi.E(httpapi.ErrInvalid, fmt.Sprintf("identifier %q: %v", t.code, err))
		}
		ids = append(ids, id.String())
	}
	for _, t := range s.tokens["_id"] {
		if id, ok := fhirres.PatientIDOf(t.code); ok {
			ids = append(ids, id)
		} else {
			ids = append(ids, "?")
		}
	}
	if len(ids) == 0 && len(s.strings["family"]) == 0 && len(s.dates["birthdate"]) == 0 {
		return nil, nil, httpapi.E(httpapi.ErrInvalid, "give identifier, _id, family or birthdate: a search of every patient is not served")
	}
	return s, ids, nil
}

// findPatients returns the patients that match every parameter and that
// the caller may read: the named ids, or the candidates of one patient
// index (family name, else birth date).
func findPatients(rd index.Reader, c index.Caller, s *search, ids []string) ([]index.Patient, error) {
	if len(ids) == 0 {
		var err error
		if ids, err = patientCandidates(rd, s); err != nil {
			return nil, err
		}
	}
	var found []index.Patient
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		p, ok, err := index.GetPatient(rd, id)
		if err != nil {
			return nil, err
		}
		if ok && matchPatient(p, s) && index.PatientAccess(c, p) {
			found = append(found, p)
		}
	}
	return found, nil
}

// patientCandidates lists the patients of one index value: the family
// name's prefix, or one day of birth.
func patientCandidates(rd index.Reader, s *search) ([]string, error) {
	name, value, prefix := "fam", "", true
	if len(s.strings["family"]) > 0 {
		value = index.FoldName(s.strings["family"][0])
	} else {
		// birthdate, day precision: one index value per day.
		c := s.dates["birthdate"][0]
		if c.prefix != "eq" || c.to.Sub(c.from) != 24*time.Hour {
			return nil, &paramError{"birthdate alone must be one day (YYYY-MM-DD); add family or identifier for other ranges"}
		}
		name, value, prefix = "bd", c.from.Format(time.DateOnly), false
	}
	var cands []string
	if err := index.PatientsByIndex(rd, name, value, prefix, func(id string) bool {
		cands = append(cands, id)
		return len(cands) <= maxPatientCandidates
	}); err != nil {
		return nil, err
	}
	if len(cands) > maxPatientCandidates {
		return nil, &paramError{fmt.Sprintf("more than %d patients match: add given, birthdate or identifier", maxPatientCandidates)}
	}
	return cands, nil
}

func matchPatient(p index.Patient, s *search) bool {
	for _, f := range s.strings["family"] {
		if !strings.HasPrefix(index.FoldName(p.Family), index.FoldName(f)) {
			return false
		}
	}
	for _, g := range s.strings["given"] {
		if !slices.ContainsFunc(p.Given, func(x string) bool { return strings.HasPrefix(index.FoldName(x), index.FoldName(g)) }) {
			return false
		}
	}
	for _, c := range s.dates["birthdate"] {
		t, err := time.Parse(time.DateOnly, p.BirthDate)
		if err != nil || !c.matches(t) {
			return false
		}
	}
	if g := s.tokens["gender"]; len(g) > 0 && !slices.ContainsFunc(g, func(t token) bool { return t.code == p.Gender }) {
		return false
	}
	return true
}

func (a *API) readDocument(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	var e index.Entry
	var acc index.Access
	applied, ok := a.read(w, r, func(rd index.Reader) error {
		var err error
		e, _, acc, _, err = index.EntryFor(rd, r.PathValue("id"), c)
		return err
	})
	if !ok {
		return
	}
	// Absent and not visible are the same answer.
	if !acc.Visible {
		httpapi.Outcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such DocumentReference")
		return
	}
	ev := event(c, "DocumentReference.read", index.ActionRead, e.Patient)
	ev.Documents, ev.Override = []string{e.ID}, acc.Override
	if !a.audit(w, r, ev) {
		return
	}
	writeResource(w, applied, fhirres.DocumentReference(e, acc.Content, a.base(r)))
}

var documentParams = map[string]paramType{
	"patient": pReference, "patient.identifier": pToken, "subject": pReference, "status": pToken, "type": pToken, "category": pToken,
	"date": pDate, "period": pDate, "setting": pToken, "facility": pToken, "event": pToken, "security-label": pToken, "_id": pToken,
}

var documentSorts = []string{"date", "-date"}

func (a *API) searchDocuments(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	s, err := parseSearch(r.URL.Query(), documentParams, documentSorts, strict(r))
	if err != nil {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, err.Error())
		return
	}
	pid, err := searchedPatient(s)
	if err != nil {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, err.Error())
		return
	}
	var matches []index.Entry
	var access []index.Access
	applied, ok := a.read(w, r, func(rd index.Reader) error {
		matches, access = nil, nil
		p, found, err := index.GetPatient(rd, pid)
		if err != nil || !found {
			return err
		}
		if p.MergedInto != "" {
			if p, found, err = index.GetPatient(rd, p.MergedInto); err != nil || !found {
				return err
			}
		}
		// The date conditions bound the scan; each version is still
		// checked against all of them.
		from, to, _ := interval(s.dates["date"])
		return index.ByPatient(rd, p.ID, index.Range{From: from, To: to}, func(at index.Attrs) bool { return matchAttrs(at, s) }, func(e index.Entry) bool {
			acc := index.EntryAccess(c, p, e)
			if acc.Visible && matchDocument(e, s) {
				matches = append(matches, e)
				access = append(access, acc)
			}
			return true
		})
	})
	if !ok {
		return
	}
	// Newest first unless asked otherwise; the total and the pages count
	// only what the caller may see.
	idx := make([]int, len(matches))
	for i := range idx {
		idx[i] = i
	}
	if s.sort != "date" {
		slices.Reverse(idx)
	}
	total := len(idx)
	start := min(s.offset, total)
	end := min(start+s.count, total)
	page := idx[start:end]
	ev := event(c, "DocumentReference.search", index.ActionExecute, pid)
	var resources []bundled
	for _, i := range page {
		e := matches[i]
		ev.Documents = append(ev.Documents, e.ID)
		ev.Override = ev.Override || access[i].Override
		res := fhirres.DocumentReference(e, access[i].Content, a.base(r))
		resources = append(resources, bundled{typ: "DocumentReference", id: deref(res.Id), res: res})
	}
	a.writeBundle(w, r, applied, s, resources, total, start, ev)
}

// searchedPatient returns the patient a document search is about: MHD
// requires patient (a reference) or patient.identifier.
func searchedPatient(s *search) (string, error) {
	refs := append(s.tokens["patient"], s.tokens["subject"]...)
	ids := s.tokens["patient.identifier"]
	if len(refs)+len(ids) != 1 {
		return "", errors.New("give exactly one patient (patient=Patient/ID or patient.identifier=SYSTEM|VALUE)")
	}
	if len(refs) == 1 {
		ref := strings.TrimPrefix(refs[0].code, "Patient/")
		if id, ok := fhirres.PatientIDOf(ref); ok {
			return id, nil
		}
		return "", fmt.Errorf("patient %q: want Patient/CF-<codice fiscale> (or STP-, ENI-)", refs[0].code)
	}
	id, err := ident.ParseSystem(ids[0].system, ids[0].code)
	if err != nil {
		return "", fmt.Errorf("patient.identifier: %v", err)
	}
	return id.String(), nil
}

func matchToken(ts []token, system, code string) bool {
	if len(ts) == 0 {
		return true
	}
	for _, t := range ts {
		if t.code == code && (t.system == "" || t.system == system) {
			return true
		}
	}
	return false
}

// matchAttrs applies the filters the patient index answers by itself.
func matchAttrs(at index.Attrs, s *search) bool {
	return matchToken(s.tokens["status"], "", at.Status) &&
		matchToken(s.tokens["type"], "http://loinc.org", at.Type) &&
		matchToken(s.tokens["category"], fhirres.SystemClass, at.Class) &&
		matchToken(s.tokens["setting"], fhirres.SystemSetting, at.Setting) &&
		matchToken(s.tokens["facility"], fhirres.SystemFacility, at.Facility)
}

func matchDocument(e index.Entry, s *search) bool {
	status := e.Status
	if !matchToken(s.tokens["status"], "", status) ||
		!matchToken(s.tokens["type"], "http://loinc.org", e.Type) ||
		!matchToken(s.tokens["category"], fhirres.SystemClass, string(e.Class)) ||
		!matchToken(s.tokens["setting"], fhirres.SystemSetting, e.Setting) ||
		!matchToken(s.tokens["facility"], fhirres.SystemFacility, e.Facility) ||
		!matchToken(s.tokens["security-label"], fhirres.SystemConfidentiality, e.Confidentiality) {
		return false
	}
	if ids := s.tokens["_id"]; len(ids) > 0 && !matchToken(ids, "", index.ResourceID(e.ID)) {
		return false
	}
	if evs := s.tokens["event"]; len(evs) > 0 && !slices.ContainsFunc(e.Events, func(ev string) bool { return matchToken(evs, fhirres.SystemEvent, ev) }) {
		return false
	}
	for _, c := range s.dates["date"] {
		if !c.matches(e.Created) {
			return false
		}
	}
	for _, c := range s.dates["period"] {
		if e.ServiceStart.IsZero() || !c.matches(e.ServiceStart) {
			return false
		}
	}
	return true
}

// bundled is one resource of a searchset.
type bundled struct {
	typ, id string
	res     json.Marshaler
	mode    string // search.mode: "match" when empty, or "outcome" (no fullUrl)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// writeBundle writes a searchset with self and next/previous links; a
// negative total means more matches exist beyond this page and their
// number was not counted (the Bundle then has no total). The
// resources are marshalled once each and spliced in, rather than
// marshalled and then re-read and re-compacted inside the Bundle. The
// audit events of the disclosure are made durable while the Bundle is
// built, and nothing is written before they are.
func (a *API) writeBundle(w http.ResponseWriter, r *http.Request, applied uint64, s *search, resources []bundled, total, offset int, audit ...index.Event) {
	audited := make(chan error, 1)
	go func() { audited <- a.d.Audit.Record(r.Context(), audit...) }()
	body, err := a.bundleBody(r, s, resources, total, offset)
	if aerr := <-audited; aerr != nil {
		httpapi.With(r, a.d.Log).Error("audit record failed; answer withheld", "err", aerr)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited, so nothing is disclosed; retry")
		return
	}
	if err != nil {
		httpapi.Outcome(w, http.StatusInternalServerError, fhir.IssueTypeException, "the search result could not be written")
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set(HeaderAppliedIndex, strconv.FormatUint(applied, 10))
	_, _ = w.Write(body)
}

func (a *API) bundleBody(r *http.Request, s *search, resources []bundled, total, offset int) ([]byte, error) {
	base := a.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Timestamp: fhirres.Ptr(time.Now().UTC().Format(time.RFC3339))}
	if total >= 0 {
		b.Total = fhirres.Ptr(total)
	}
	link := func(rel string, off int) {
		q := r.URL.Query()
		q.Set("_offset", strconv.Itoa(off))
		q.Set("_count", strconv.Itoa(s.count))
		for _, name := range s.ignored {
			q.Del(name) // the self link shows the search as performed
		}
		b.Link = append(b.Link, fhir.BundleLink{Relation: rel, Url: base + strings.TrimPrefix(r.URL.Path, "/fhir") + "?" + q.Encode()})
	}
	link("self", offset)
	if (total < 0 || offset+len(resources) < total) && s.count > 0 {
		link("next", offset+s.count)
	}
	if offset > 0 {
		link("previous", max(0, offset-s.count))
	}
	head, err := b.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if len(head) < 2 || head[len(head)-1] != '}' {
		return nil, errors.New("bundle: not a JSON object")
	}
	var out bytes.Buffer
	out.Write(head[:len(head)-1])
	if len(resources) > 0 {
		out.WriteString(`,"entry":[`)
		for i, res := range resources {
			raw, err := res.res.MarshalJSON()
			if err != nil {
				return nil, err
			}
			if i > 0 {
				out.WriteByte(',')
			}
			if res.mode == "outcome" {
				out.WriteString(`{"resource":`)
				out.Write(raw)
				out.WriteString(`,"search":{"mode":"outcome"}}`)
				continue
			}
			out.WriteString(`{"fullUrl":`)
			u, _ := json.Marshal(fhirres.FullURL(base, res.typ, res.id))
			out.Write(u)
			out.WriteString(`,"resource":`)
			out.Write(raw)
			out.WriteString(`,"search":{"mode":"match"}}`)
		}
		out.WriteByte(']')
	}
	out.WriteString("}\n")
	return out.Bytes(), nil
}

// maxPatientCandidates bounds the patients one index value may offer a
// search: beyond it the search must be narrowed.
const maxPatientCandidates = 10_000

var auditParams = map[string]paramType{"patient": pReference, "date": pDate, "agent": pToken}

// searchAudit serves the access log: patients their own, the authority
// anyone's (by patient or by agent). Each event's batch is checked against
// the hash chain: an event whose batch fails is shown tagged
// urn:fsenet:audit-integrity|failed, one whose batch cannot be read is
// withheld, and either way an OperationOutcome entry names the batch and
// why.
func (a *API) searchAudit(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	s, err := parseSearch(r.URL.Query(), auditParams, nil, strict(r))
	if err != nil {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, err.Error())
		return
	}
	var q index.AuditQuery
	if p := s.tokens["patient"]; len(p) == 1 {
		id, ok := fhirres.PatientIDOf(strings.TrimPrefix(p[0].code, "Patient/"))
		if !ok {
			httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, "patient: want Patient/CF-<codice fiscale>")
			return
		}
		q.Patient = id
	}
	if ag := s.tokens["agent"]; len(ag) == 1 {
		q.Actor = ag[0].code
	}
	if (q.Patient == "") == (q.Actor == "") {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, "give one patient or one agent")
		return
	}
	from, to, exact := interval(s.dates["date"])
	if !exact {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeNotSupported, "date: the access log supports eq, lt, le, gt, ge, sa and eb")
		return
	}
	q.From, q.To = from, to
	act, t := index.ActReadAgentLog, index.Target{}
	if q.Patient != "" {
		act, t = index.ActReadPatientLog, index.Target{Patient: &index.Patient{ID: q.Patient}}
	}
	if err := index.Authorize(c, act, t).Err("AuditEvent"); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// One page (and one event more, to know whether there is a next);
	// counting every match of a busy agent is not worth a scan, so the
	// Bundle has no total and pages with next links.
	q.Offset, q.Limit = s.offset, s.count+1
	var hits []index.AuditHit
	applied, ok := a.read(w, r, func(rd index.Reader) error {
		var err error
		hits, err = index.SearchAudit(rd, q)
		return err
	})
	if !ok {
		return
	}
	more := len(hits) > s.count
	hits = hits[:min(len(hits), s.count)]
	var resources []bundled
	var problems []string
	reported := map[uint64]bool{}
	for _, h := range hits {
		if h.Broken != "" && !reported[h.Batch] {
			reported[h.Batch] = true
			what := "its events are shown tagged " + fhirres.SystemAuditIntegrity + "|failed"
			if h.Withheld {
				what = "its events are withheld"
			}
			problems = append(problems, fmt.Sprintf("audit batch %d fails the hash-chain verification (%s): %s", h.Batch, h.Broken, what))
		}
		if h.Withheld {
			continue
		}
		res := fhirres.AuditHit(h)
		resources = append(resources, bundled{typ: "AuditEvent", id: deref(res.Id), res: res})
	}
	// The total is known only on a last page that holds something: past
	// the end, the offset says nothing about how many events there are.
	total := s.offset + len(resources)
	if more || len(resources) == 0 && s.offset > 0 {
		total = -1
	}
	if len(problems) > 0 {
		httpapi.With(r, a.d.Log).Warn("access log search met audit batches that fail the hash-chain verification", "batches", len(problems))
		resources = append(resources, bundled{typ: "OperationOutcome", res: fhirres.AuditIntegrity(problems), mode: "outcome"})
	}
	a.writeBundle(w, r, applied, s, resources, total, s.offset, event(c, "AuditEvent.search", index.ActionExecute, q.Patient))
}

// Capabilities declares what the API serves, for the node's
// CapabilityStatement.
func (a *API) Capabilities(c *fhirres.Capabilities) {
	params := func(m map[string]paramType) []fhirres.SearchParam {
		var out []fhirres.SearchParam
		for n, t := range m {
			out = append(out, fhirres.SearchParam{Name: n, Type: map[paramType]fhir.SearchParamType{pToken: fhir.SearchParamTypeToken, pString: fhir.SearchParamTypeString,
				pDate: fhir.SearchParamTypeDate, pReference: fhir.SearchParamTypeReference, pNumber: fhir.SearchParamTypeNumber}[t]})
		}
		return out
	}
	c.Security("Every request but this one carries a bearer JWT with the claims of IHE IUA and the FSE 2.0 gateway, signed by a member region's identity provider. " +
		"What a caller sees follows one policy over role, purpose of use, consent, blinding and authorship; every disclosure is audited before it is answered.")
	c.Interactions(fhir.ResourceTypePatient, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead, fhir.TypeRestfulInteractionSearchType,
		fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionUpdate}, params(patientParams)...)
	c.Operation(fhir.ResourceTypePatient, "merge")
	c.Operation(fhir.ResourceTypePatient, "consent")
	c.Interactions(fhir.ResourceTypeDocumentReference, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead, fhir.TypeRestfulInteractionSearchType}, params(documentParams)...)
	c.Interactions(fhir.ResourceTypeAuditEvent, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionSearchType}, params(auditParams)...)
}
