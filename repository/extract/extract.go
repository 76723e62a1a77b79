// Package extract derives structured FHIR R4 resources from the CDA
// documents a region publishes, at the custodian: lab results and vital
// signs (Observation), reports (DiagnosticReport), problems and
// diagnoses (Condition), allergies (AllergyIntolerance), therapies
// (MedicationStatement, MedicationRequest), vaccinations (Immunization)
// and procedures (Procedure), with the document's coarse subject (birth
// date, gender, province of residence; never a name or identifier).
//
// It reads untrusted bytes: it resolves no entity, fetches nothing,
// bounds the tree it builds and the facts it returns, and answers any
// input with an Extraction or an error, never a panic. What it does not
// understand it counts (Extraction.Skipped), never guesses at.
//
// docs/EXTRACTION.md describes what is taken from each document type and
// how the result compares with the national CDA→FHIR mapping.
package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fsenet/fsenet/repository/facts"
)

var (
	// ErrMalformed: the bytes are not one well-formed CDA document.
	ErrMalformed = errors.New("extract: not a well-formed CDA document")
	// ErrUnsupported: the document type has no mapping; the Extraction
	// returned with it is empty.
	ErrUnsupported = errors.New("extract: document type has no mapping")
)

// docKind is a document type the extraction maps.
type docKind int

const (
	kindLAB docKind = iota + 1
	kindLDO
	kindPSS
	kindRAD
	kindRSA
	kindVAC
	kindVPS
)

// DocumentTypes are the LOINC codes of the document types extracted
// (ClinicalDocument/code).
var docTypes = map[string]docKind{
	"11502-2": kindLAB, // Referto di laboratorio
	"34105-7": kindLDO, // Lettera di dimissione ospedaliera
	"60591-5": kindPSS, // Profilo sanitario sintetico
	"68604-8": kindRAD, // Referto di radiologia
	"11488-4": kindRSA, // Referto specialistico ambulatoriale
	"87273-9": kindVAC, // Scheda della singola vaccinazione
	"82593-5": kindVAC, // Certificato vaccinale
	"59258-4": kindVPS, // Verbale di pronto soccorso
}

// Section codes (LOINC) the extraction reads by.
const (
	secAllergies    = "48765-2"
	secVitalSigns   = "8716-3"
	secResults      = "30954-2"
	secSocial       = "29762-2"
	secVaccinations = "11369-6"
	secFamily       = "10157-6"
	secDiagnosis    = "29548-5" // RSA: diagnosi
	secExam         = "29545-1"
	secRADExam      = "55111-9" // RAD: esame eseguito
	secRSAServices  = "62387-6" // RSA: prestazioni
	secProcedures   = "47519-4"
	secDischarge    = "28574-2" // VPS: dimissione
)

// ignoredSections hold entries the extraction deliberately does not
// derive: DICOM object catalogue, exemptions, pathology networks.
var ignoredSections = map[string]bool{"121181": true, "57827-8": true, "PSSIT99": true}

// procedureSections: a coded act performed in them is a procedure.
var procedureSections = map[string]bool{secRADExam: true, secRSAServices: true, secProcedures: true}

// Entry codes (LOINC) with a meaning of their own.
const (
	codeProblem        = "75326-9"
	codeAllergy        = "52473-6"
	codeStatus         = "33999-4"
	codeAnnotation     = "48767-8"
	codeDischargeDx    = "8651-2"
	codeAdmissionDx    = "8646-2"
	codeDiagnosis      = "29308-4"
	codeDoseNumber     = "30973-2"
	codeNotDoneReason  = "85714-4"
	codeFamilyHistory  = "10157-6"
	codeVitalSignPanel = "8716-3"
)

// vitalSigns are the LOINC codes of the FHIR vital signs profile.
var vitalSigns = map[string]bool{
	"85353-1": true, "9279-1": true, "8867-4": true, "2708-6": true, "59408-5": true,
	"8310-5": true, "8302-2": true, "9843-4": true, "29463-7": true, "39156-5": true,
	"85354-9": true, "8480-6": true, "8462-4": true, "8478-0": true,
}

// CDA extracts the facts of one CDA document. A document type with no
// mapping yields an empty Extraction and ErrUnsupported; bytes that are
// not a CDA document, ErrMalformed.
func CDA(doc []byte) (ex facts.Extraction, err error) {
	defer func() {
		// The walk indexes only what it checked; this is the last guard
		// of the promise that no input panics.
		if r := recover(); r != nil {
			ex, err = facts.Extraction{}, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	root, err := parse(doc)
	if err != nil {
		return facts.Extraction{}, err
	}
	if root.space != ns || root.local != "ClinicalDocument" {
		return facts.Extraction{}, fmt.Errorf("%w: root element is {%s}%s, not ClinicalDocument", ErrMalformed, root.space, root.local)
	}
	code := strings.TrimSpace(root.child("code").attr("code"))
	kind, ok := docTypes[code]
	if !ok {
		return facts.Extraction{}, fmt.Errorf("%w: %q", ErrUnsupported, code)
	}
	w := &walker{kind: kind}
	w.out.Subject = subject(root)
	w.out.Facts = []facts.Fact{}
	if kind == kindRAD {
		w.radReport(root)
	}
	for _, c := range root.path("component", "structuredBody").children("component") {
		w.section(c.child("section"), 0)
	}
	return w.out, nil
}

// subject reads the recordTarget's birth date, gender and province of
// residence.
func subject(root *el) facts.Subject {
	role := root.path("recordTarget", "patientRole")
	p := role.child("patient")
	var s facts.Subject
	if d := dateTime(p.child("birthTime").attr("value")); d != "" {
		if len(d) > 10 {
			d = d[:10]
		}
		s.BirthDate = d
	}
	switch p.child("administrativeGenderCode").attr("code") {
	case "M":
		s.Gender = "male"
	case "F":
		s.Gender = "female"
	case "UN":
		s.Gender = "unknown"
	}
	// Residence is the address with use H; the domicile (HP) stands in
	// when the document gives no residence.
	var home, domicile string
	for _, a := range role.children("addr") {
		county := strings.ToUpper(strings.TrimSpace(a.child("county").content()))
		if len(county) != 2 || county[0] < 'A' || county[0] > 'Z' || county[1] < 'A' || county[1] > 'Z' {
			continue
		}
		for _, u := range strings.Fields(a.attr("use")) {
			switch u {
			case "H":
				if home == "" {
					home = county
				}
			case "HP":
				if domicile == "" {
					domicile = county
				}
			}
		}
	}
	s.Province = home
	if s.Province == "" {
		s.Province = domicile
	}
	return s
}

type walker struct {
	kind docKind
	out  facts.Extraction
	// when is the effectiveTime of the act whose parts are being read,
	// for a part that gives none of its own (the VPS discharge's
	// outcome); nil elsewhere.
	when *el
}

func (w *walker) skip() { w.out.Skipped++ }

// add appends one fact, its Resource the JSON of res.
func (w *walker) add(f facts.Fact, res any) {
	if len(f.Code) == 0 {
		w.skip()
		return
	}
	if len(w.out.Facts) >= maxFacts {
		w.skip()
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		w.skip()
		return
	}
	f.Seq = len(w.out.Facts)
	f.Resource = b
	w.out.Facts = append(w.out.Facts, f)
}

func primary(e *el) string {
	c, ok := coding(e.child("code"))
	if !ok || c.System != facts.SystemLOINC {
		return ""
	}
	return c.Code
}

func planned(e *el) bool {
	m := e.attr("moodCode")
	return m != "" && m != "EVN"
}

func status(e *el) string { return strings.TrimSpace(e.child("statusCode").attr("code")) }

// section walks a section's entries and its nested sections.
func (w *walker) section(sec *el, depth int) {
	if sec == nil || depth > 16 {
		return
	}
	code := strings.TrimSpace(sec.child("code").attr("code"))
	if ignoredSections[code] {
		return
	}
	for _, entry := range sec.children("entry") {
		for _, st := range entry.kids {
			if st.space == ns {
				w.statement(st, code)
			}
		}
	}
	for _, c := range sec.children("component") {
		w.section(c.child("section"), depth+1)
	}
}

// statement maps one entry's clinical statement.
func (w *walker) statement(e *el, sec string) {
	switch e.local {
	case "observation":
		w.observationEntry(e, sec)
	case "act":
		w.act(e, sec)
	case "organizer":
		w.organizer(e, sec)
	case "substanceAdministration":
		w.substance(e, sec)
	case "procedure":
		w.procedure(e, sec)
	}
	// Encounters, supplies (devices), images and regions of interest are
	// not derived.
}

// observationEntry maps an observation that is an entry of its own (or
// the subject of a concern act).
func (w *walker) observationEntry(e *el, sec string) {
	if planned(e) {
		return
	}
	switch code := primary(e); {
	case code == codeProblem:
		w.condition(e, "problem-list-item")
	case code == codeDischargeDx || code == codeAdmissionDx || code == codeDiagnosis && (sec == secDiagnosis || sec == secDischarge):
		w.condition(e, "encounter-diagnosis")
	case code == codeAllergy || sec == secAllergies:
		w.allergy(e)
	default:
		w.observation(e, sec, "")
	}
}

// act maps an act entry: a lab report, a concern (whose subjects are
// problems or allergies), or a procedure performed.
func (w *walker) act(e *el, sec string) {
	if planned(e) {
		return
	}
	codes := codings(e.child("code"))
	if primary(e) == codeAnnotation {
		return
	}
	if w.kind == kindLAB {
		w.labReport(e, sec)
		return
	}
	if len(codes) == 0 {
		// A concern: what it is about are its subjects.
		for _, r := range e.children("entryRelationship") {
			if o := r.child("observation"); o != nil {
				w.observationEntry(o, sec)
			}
		}
		return
	}
	if sec == secDischarge {
		// The VPS discharge: its diagnosis and outcome are its parts,
		// at the discharge's time unless they give their own.
		w.when = e.child("effectiveTime")
		defer func() { w.when = nil }()
		for _, r := range e.children("entryRelationship") {
			if o := r.child("observation"); o != nil && r.attr("typeCode") == "COMP" {
				w.observationEntry(o, sec)
			}
		}
		return
	}
	if procedureSections[sec] {
		w.procedureFact(e, codes)
		for _, r := range e.children("entryRelationship") {
			if r.attr("typeCode") != "COMP" {
				continue
			}
			if o := r.child("observation"); o != nil {
				w.observationEntry(o, sec)
			}
			if p := r.child("procedure"); p != nil {
				w.procedure(p, sec)
			}
		}
	}
}

// organizer maps a battery or cluster: a report with its results, or a
// panel of vital signs. Family history is not derived.
func (w *walker) organizer(e *el, sec string) {
	if planned(e) || sec == secFamily || primary(e) == codeFamilyHistory {
		return
	}
	if w.kind == kindLAB || e.attr("classCode") == "BATTERY" && len(codings(e.child("code"))) > 0 && primary(e) != codeVitalSignPanel {
		w.labReport(e, sec)
		return
	}
	if primary(e) == codeVitalSignPanel {
		sec = secVitalSigns
	}
	for _, c := range e.children("component") {
		for _, st := range c.kids {
			if st.space != ns {
				continue
			}
			switch st.local {
			case "observation":
				w.observationEntry(st, sec)
			case "organizer":
				w.organizer(st, sec)
			}
		}
	}
}

// labReport maps a lab report act or battery: a DiagnosticReport and
// every leaf observation under it.
func (w *walker) labReport(e *el, sec string) {
	if codes := codings(e.child("code")); len(codes) > 0 {
		start, end := times(e.child("effectiveTime"))
		dr := diagnosticReport{
			ResourceType: facts.DiagnosticReport,
			Status:       reportStatus(status(e)),
			Category:     []concept{{Coding: []facts.Coding{{System: "http://terminology.hl7.org/CodeSystem/v2-0074", Code: "LAB", Display: "Laboratory"}}}},
			Code:         concept{Coding: codes},
		}
		setTime(start, end, &dr.EffectiveDateTime, &dr.EffectivePeriod)
		w.add(facts.Fact{Type: facts.DiagnosticReport, Category: "LAB", Code: codes, Status: dr.Status, Effective: start, End: end}, dr)
	}
	w.labLeaves(e, 0)
}

// labLeaves maps the observations under a lab act or organizer.
func (w *walker) labLeaves(e *el, depth int) {
	if depth > 16 {
		return
	}
	var kids []*el
	for _, r := range e.children("entryRelationship") {
		if r.attr("typeCode") == "COMP" {
			kids = append(kids, r.kids...)
		}
	}
	for _, c := range e.children("component") {
		kids = append(kids, c.kids...)
	}
	for _, k := range kids {
		if k.space != ns || planned(k) {
			continue
		}
		switch k.local {
		case "observation":
			if k.child("value") == nil && hasParts(k) {
				w.labLeaves(k, depth+1)
				continue
			}
			w.observation(k, secResults, "laboratory")
		case "organizer", "act":
			if primary(k) != codeAnnotation {
				w.labLeaves(k, depth+1)
			}
		}
	}
}

func hasParts(e *el) bool {
	for _, r := range e.children("entryRelationship") {
		if r.attr("typeCode") == "COMP" && r.child("observation") != nil {
			return true
		}
	}
	return false
}

// radReport is the RAD document's own report: its LOINC type, final (a
// published report is signed), at the time of the exam.
func (w *walker) radReport(root *el) {
	codes := codings(root.child("code"))
	start, end := times(root.path("documentationOf", "serviceEvent", "effectiveTime"))
	if start == "" {
		start, end = times(root.child("effectiveTime"))
	}
	dr := diagnosticReport{
		ResourceType: facts.DiagnosticReport,
		Status:       "final",
		Category:     []concept{{Coding: []facts.Coding{{System: "http://terminology.hl7.org/CodeSystem/v2-0074", Code: "RAD", Display: "Radiology"}}}},
		Code:         concept{Coding: codes},
	}
	setTime(start, end, &dr.EffectiveDateTime, &dr.EffectivePeriod)
	w.add(facts.Fact{Type: facts.DiagnosticReport, Category: "RAD", Code: codes, Status: dr.Status, Effective: start, End: end}, dr)
}

func setTime(start, end string, dt *string, p **period) {
	if end != "" {
		*p = &period{Start: start, End: end}
		return
	}
	*dt = start
}

// observation maps one observation with a value.
func (w *walker) observation(e *el, sec, category string) {
	codes := codings(e.child("code"))
	if len(codes) == 0 {
		w.skip()
		return
	}
	if category == "" {
		category = observationCategory(sec, codes[0], w.kind)
	}
	o := observation{ResourceType: facts.Observation, Code: concept{Coding: codes}}
	if category != "" {
		o.Category = []concept{{Coding: []facts.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: category}}}}
	}
	f := facts.Fact{Type: facts.Observation, Category: category, Code: codes}
	has := w.value(e.child("value"), &o, &f)
	st := status(e)
	if !has && st != "aborted" && st != "cancelled" {
		w.skip()
		return
	}
	o.Status = observationStatus(st, has)
	f.Status = o.Status
	t := e.child("effectiveTime")
	if t == nil {
		t = w.when
	}
	f.Effective, f.End = times(t)
	setTime(f.Effective, f.End, &o.EffectiveDateTime, &o.EffectivePeriod)
	for _, ic := range e.children("interpretationCode") {
		if cs := codings(ic); len(cs) > 0 {
			o.Interpretation = append(o.Interpretation, concept{Coding: cs})
		}
	}
	for _, rr := range e.children("referenceRange") {
		v := rr.path("observationRange", "value")
		lo, _, _ := pq(v.child("low"))
		hi, _, _ := pq(v.child("high"))
		if lo != nil || hi != nil {
			o.ReferenceRange = append(o.ReferenceRange, refRange{Low: lo, High: hi})
		}
	}
	w.add(f, o)
}

// value reads an observation's value into the resource and the fact.
func (w *walker) value(v *el, o *observation, f *facts.Fact) bool {
	if v == nil || v.attr("nullFlavor") != "" {
		return false
	}
	switch v.xsiType() {
	case "PQ":
		q, fq, ok := pq(v)
		if !ok {
			return false
		}
		o.ValueQuantity, f.Value = q, fq
	case "REAL":
		n, x, ok := number(v.attr("value"))
		if !ok {
			return false
		}
		o.ValueQuantity, f.Value = &quantity{Value: n}, &facts.Quantity{Value: x}
	case "INT":
		_, x, ok := number(v.attr("value"))
		if !ok || x != float64(int64(x)) || x > 1<<53 || x < -(1<<53) {
			return false
		}
		i := int64(x)
		o.ValueInteger, f.Value = &i, &facts.Quantity{Value: x}
	case "CD", "CE", "CV", "CO":
		cs := codings(v)
		if len(cs) == 0 {
			return false
		}
		o.ValueCodeableConcept, f.ValueCode = &concept{Coding: cs}, &cs[0]
	case "ST", "ED":
		s := strings.TrimSpace(v.content())
		if s == "" {
			return false
		}
		o.ValueString = s
	case "BL":
		var b bool
		switch v.attr("value") {
		case "true":
			b = true
		case "false":
		default:
			return false
		}
		o.ValueBoolean = &b
	default:
		return false
	}
	return true
}

func observationCategory(sec string, c facts.Coding, kind docKind) string {
	switch {
	case c.System == facts.SystemLOINC && vitalSigns[c.Code] || sec == secVitalSigns:
		return "vital-signs"
	case kind == kindLAB || sec == secResults:
		return "laboratory"
	case sec == secSocial:
		return "social-history"
	case sec == secExam:
		return "exam"
	}
	return ""
}

// clinicalStatus reads the status observation (LOINC 33999-4) of a
// problem or allergy.
func clinicalStatus(e *el) string {
	for _, r := range e.children("entryRelationship") {
		o := r.child("observation")
		if primary(o) != codeStatus {
			continue
		}
		switch strings.TrimSpace(o.child("value").attr("code")) {
		case "LA16666-2":
			return "active"
		case "LA18632-2":
			return "inactive"
		case "LA9041-0":
			return "resolved"
		}
	}
	return ""
}

// condition maps a problem or diagnosis: the concept is the value.
func (w *walker) condition(e *el, category string) {
	codes := codings(e.child("value"))
	if len(codes) == 0 {
		w.skip()
		return
	}
	c := condition{
		ResourceType: facts.Condition,
		Category:     []concept{{Coding: []facts.Coding{{System: "http://terminology.hl7.org/CodeSystem/condition-category", Code: category}}}},
		Code:         concept{Coding: codes},
	}
	f := facts.Fact{Type: facts.Condition, Category: category, Code: codes}
	if st := clinicalStatus(e); st != "" {
		c.ClinicalStatus = cc(facts.Coding{System: "http://terminology.hl7.org/CodeSystem/condition-clinical", Code: st})
		f.Status = st
	}
	f.Effective, f.End = times(e.child("effectiveTime"))
	c.OnsetDateTime, c.AbatementDateTime = f.Effective, f.End
	w.add(f, c)
}

// allergy maps an allergy or intolerance observation: the concept is the
// agent (the consumable participant), else the kind of reaction.
func (w *walker) allergy(e *el) {
	var codes []facts.Coding
	for _, p := range e.children("participant") {
		if cs := codings(p.path("participantRole", "playingEntity", "code")); len(cs) > 0 {
			codes = cs
			break
		}
	}
	kind := strings.TrimSpace(e.child("value").attr("code"))
	if len(codes) == 0 {
		codes = codings(e.child("value"))
	}
	if len(codes) == 0 {
		w.skip()
		return
	}
	a := allergy{ResourceType: facts.AllergyIntolerance, Code: concept{Coding: codes}}
	switch kind {
	case "ALG", "DALG", "EALG", "FALG":
		a.Type = "allergy"
	case "INT", "DINT", "EINT", "FINT", "OINT", "NAINT", "DNAINT", "ENAINT", "FNAINT":
		a.Type = "intolerance"
	}
	if kind != "" {
		switch kind[0] {
		case 'D':
			a.Category = []string{"medication"}
		case 'F':
			a.Category = []string{"food"}
		case 'E':
			a.Category = []string{"environment"}
		}
	}
	f := facts.Fact{Type: facts.AllergyIntolerance, Code: codes}
	if st := clinicalStatus(e); st != "" {
		a.ClinicalStatus = cc(facts.Coding{System: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", Code: st})
		f.Status = st
	}
	f.Effective, _ = times(e.child("effectiveTime"))
	a.OnsetDateTime = f.Effective
	severity := ""
	for _, r := range e.children("entryRelationship") {
		o := r.child("observation")
		if o == nil {
			continue
		}
		if c, ok := coding(o.child("code")); ok && c.Code == "SEV" {
			switch o.child("value").attr("code") {
			case "CRITL":
				a.Criticality = "low"
			case "CRITH":
				a.Criticality = "high"
			case "CRITU":
				a.Criticality = "unable-to-assess"
			case "L":
				severity = "mild"
			case "M":
				severity = "moderate"
			case "H":
				severity = "severe"
			}
		}
	}
	for _, r := range e.children("entryRelationship") {
		if r.attr("typeCode") != "MFST" {
			continue
		}
		o := r.child("observation")
		if cs := codings(o.child("value")); len(cs) > 0 {
			on, _ := times(o.child("effectiveTime"))
			a.Reaction = append(a.Reaction, reaction{Manifestation: []concept{{Coding: cs}}, Onset: on, Severity: severity})
		}
	}
	w.add(f, a)
}

// material reads the product a substance administration gives.
func material(e *el) []facts.Coding {
	return codings(e.path("consumable", "manufacturedProduct", "manufacturedMaterial", "code"))
}

// therapyTime reads the IVL_TS effectiveTime of a substance
// administration (not its frequency, a PIVL_TS or EIVL_TS).
func therapyTime(e *el) (string, string) {
	for _, t := range e.children("effectiveTime") {
		switch t.xsiType() {
		case "PIVL_TS", "EIVL_TS", "SXPR_TS":
			continue
		}
		return times(t)
	}
	return "", ""
}

// substance maps a substance administration: a vaccination, a therapy
// taken (MedicationStatement) or prescribed or planned (MedicationRequest).
func (w *walker) substance(e *el, sec string) {
	vaccination := w.kind == kindVAC || sec == secVaccinations || strings.TrimSpace(e.child("code").attr("code")) == "IMMUNIZ"
	if vaccination && planned(e) {
		return
	}
	codes := material(e)
	if len(codes) == 0 {
		w.skip()
		return
	}
	start, end := therapyTime(e)
	route := cc(codings(e.child("routeCode"))...)
	var dose []doseAndRate
	if q, _, ok := pq(e.child("doseQuantity")); ok {
		dose = []doseAndRate{{DoseQuantity: q}}
	}
	st := status(e)
	switch {
	case vaccination:
		w.immunization(e, codes, start, route)
	case !planned(e):
		m := medicationStatement{ResourceType: facts.MedicationStatement, Status: statementStatus(st), MedicationCodeableConcept: concept{Coding: codes}}
		setTime(start, end, &m.EffectiveDateTime, &m.EffectivePeriod)
		if route != nil || dose != nil {
			m.Dosage = []dosage{{Route: route, DoseAndRate: dose}}
		}
		w.add(facts.Fact{Type: facts.MedicationStatement, Code: codes, Status: m.Status, Effective: start, End: end}, m)
	default:
		m := medicationRequest{ResourceType: facts.MedicationRequest, Status: requestStatus(st), Intent: intent(e.attr("moodCode")), MedicationCodeableConcept: concept{Coding: codes}}
		d := dosage{Route: route, DoseAndRate: dose}
		if start != "" || end != "" {
			d.Timing = &timing{Repeat: &repeat{BoundsPeriod: &period{Start: start, End: end}}}
		}
		if d.Timing != nil || d.Route != nil || d.DoseAndRate != nil {
			m.DosageInstruction = []dosage{d}
		}
		w.add(facts.Fact{Type: facts.MedicationRequest, Code: codes, Status: m.Status, Effective: start, End: end}, m)
	}
}

func intent(mood string) string {
	switch mood {
	case "INT":
		return "plan"
	case "PRP":
		return "proposal"
	}
	return "order"
}

// immunization maps a vaccination given (or not given, with its reason),
// and the reactions it caused as Observations.
func (w *walker) immunization(e *el, codes []facts.Coding, at string, route *concept) {
	if at == "" {
		w.skip()
		return
	}
	im := immunization{ResourceType: facts.Immunization, Status: immunizationStatus(status(e)), VaccineCode: concept{Coding: codes}, OccurrenceDateTime: at, Route: route}
	var reactions []*el
	for _, r := range e.children("entryRelationship") {
		o := r.child("observation")
		if o == nil {
			continue
		}
		switch {
		case primary(o) == codeDoseNumber:
			if _, x, ok := number(o.child("value").attr("value")); ok && x >= 1 && x < 1000 && x == float64(int64(x)) {
				im.ProtocolApplied = []protocol{{DoseNumberPositiveInt: int64(x)}}
			}
		case primary(o) == codeNotDoneReason && im.Status == "not-done":
			im.StatusReason = cc(codings(o.child("value"))...)
		case r.attr("typeCode") == "CAUS":
			reactions = append(reactions, o)
		}
	}
	w.add(facts.Fact{Type: facts.Immunization, Code: codes, Status: im.Status, Effective: at}, im)
	for _, o := range reactions {
		w.observation(o, secVaccinations, "")
	}
}

// procedure maps a procedure performed.
func (w *walker) procedure(e *el, sec string) {
	if planned(e) {
		return
	}
	codes := codings(e.child("code"))
	if len(codes) == 0 {
		w.skip()
		return
	}
	w.procedureFact(e, codes)
}

func (w *walker) procedureFact(e *el, codes []facts.Coding) {
	p := procedure{ResourceType: facts.Procedure, Status: procedureStatus(status(e)), Code: concept{Coding: codes}}
	start, end := times(e.child("effectiveTime"))
	setTime(start, end, &p.PerformedDateTime, &p.PerformedPeriod)
	w.add(facts.Fact{Type: facts.Procedure, Code: codes, Status: p.Status, Effective: start, End: end}, p)
}
