package clinical

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/facts"
)

// maxRecentResults bounds the results section: the latest value of each
// code, the most recent codes first.
const maxRecentResults = 50

// section is one section of the summary, in the spirit of the
// International Patient Summary: its LOINC code and title, and which
// facts it lists.
type section struct {
	code, title string
	keep        func(f *facts.Fact) bool
}

// active reports a status that is not over (or not given).
func active(f *facts.Fact) bool {
	return !slices.Contains([]string{"inactive", "resolved", "remission", "completed", "stopped", "entered-in-error", "cancelled", "not-taken"}, f.Status)
}

// happened reports a result, vaccination or procedure that took place
// and stands: not cancelled, not done or recorded in error.
func happened(f *facts.Fact) bool {
	return !slices.Contains([]string{"cancelled", "entered-in-error", "not-done"}, f.Status)
}

var sections = []section{
	{"11450-4", "Problemi attivi", func(f *facts.Fact) bool { return f.Type == facts.Condition && active(f) }},
	{"48765-2", "Allergie e intolleranze", func(f *facts.Fact) bool {
		return f.Type == facts.AllergyIntolerance && f.Status != "inactive" && f.Status != "resolved"
	}},
	{"10160-0", "Terapie farmacologiche", func(f *facts.Fact) bool {
		return (f.Type == facts.MedicationStatement || f.Type == facts.MedicationRequest) && active(f)
	}},
	{"30954-2", "Risultati recenti", func(f *facts.Fact) bool {
		return (f.Type == facts.Observation || f.Type == facts.DiagnosticReport) && happened(f)
	}},
	{"11369-6", "Vaccinazioni", func(f *facts.Fact) bool { return f.Type == facts.Immunization && happened(f) }},
	{"47519-4", "Procedure", func(f *facts.Fact) bool { return f.Type == facts.Procedure && happened(f) }},
}

// summary is GET /fhir/Patient/{id}/$summary: a document Bundle whose
// Composition lists the patient's active problems, allergies, current
// medications, recent results (the latest of each code), vaccinations
// and procedures, gathered from every region that keeps documents of
// theirs; each entry names its source document (meta.source) and
// region (a meta tag), and each region that did not answer is named in
// the Composition.
func (a *API) summary(w http.ResponseWriter, r *http.Request) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	g, err := a.gather(r, c, r.PathValue("id"), Query{})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if g.patient.ID == "" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such Patient")) // as a hidden one
		return
	}
	sortFound(g.facts, false)
	writeFHIR(w, a.summaryBundle(g, fhirres.Base(r, a.d.PublicURL), time.Now().UTC().Format(time.RFC3339)))
}

// summaryBundle is the summary of g as a document Bundle: the
// Composition, the Patient, then every resource a section lists.
func (a *API) summaryBundle(g *gathered, base, now string) fhir.Bundle {
	patientURL := fhirres.FullURL(base, "Patient", fhirres.PatientResourceID(g.patient.ID))
	var entries []fhir.BundleEntry
	var secs []any
	for _, s := range sections {
		sec, listed := a.section(s, g, base)
		secs = append(secs, sec)
		entries = append(entries, listed...)
	}
	if len(g.failed) > 0 {
		text := "Dati mancanti:"
		for _, f := range g.failed {
			text += " regione " + f.region + " (" + f.reason + ");"
		}
		secs = append(secs, map[string]any{"title": "Regioni che non hanno risposto", "text": xhtml(html.EscapeString(text))})
	}
	comp := map[string]any{"resourceType": "Composition", "status": "final",
		"type":    map[string]any{"coding": []any{map[string]any{"system": facts.SystemLOINC, "code": "60591-5", "display": "Patient summary Document"}}},
		"subject": map[string]any{"reference": patientURL}, "date": now,
		"author":  []any{map[string]any{"display": "fsenet, region " + a.d.Region}},
		"title":   "Profilo sanitario sintetico: dati dei documenti di ogni regione",
		"section": secs}
	compRaw, _ := json.Marshal(comp)
	patRaw, _ := json.Marshal(fhirres.Patient(g.patient))
	compURL := base + "/Composition/summary-" + fhirres.PatientResourceID(g.patient.ID)
	all := append([]fhir.BundleEntry{{FullUrl: &compURL, Resource: compRaw}, {FullUrl: &patientURL, Resource: patRaw}}, entries...)
	return fhir.Bundle{Type: fhir.BundleTypeDocument, Timestamp: &now, Entry: all,
		Identifier: &fhir.Identifier{System: fhirres.Ptr("urn:ietf:rfc:3986"), Value: fhirres.Ptr("urn:fsenet:summary:" + index.ResourceID(g.patient.ID+now))}}
}

// section is one section of the summary and the entries it lists (the
// results section: the latest of each code, at most maxRecentResults).
// Every section carries its narrative (FHIR's cmp-1): the entries it
// lists, or that there are none.
func (a *API) section(s section, g *gathered, base string) (map[string]any, []fhir.BundleEntry) {
	var refs []any
	var items []string
	var listed []fhir.BundleEntry
	latest := map[string]bool{}
	for _, f := range g.facts {
		if !s.keep(&f.Fact) {
			continue
		}
		if s.code == "30954-2" {
			key := f.Fact.Code[0].System + "|" + f.Fact.Code[0].Code
			if latest[key] || len(latest) == maxRecentResults {
				continue
			}
			latest[key] = true
		}
		id, raw, err := a.resource(f, g.patient, base)
		if err != nil {
			continue
		}
		u := fhirres.FullURL(base, f.Fact.Type, id)
		refs = append(refs, map[string]any{"reference": u})
		items = append(items, "<li>"+html.EscapeString(narrative(&f))+"</li>")
		listed = append(listed, fhir.BundleEntry{FullUrl: &u, Resource: raw})
	}
	sec := map[string]any{"title": s.title, "code": map[string]any{"coding": []any{map[string]any{"system": facts.SystemLOINC, "code": s.code}}}}
	if len(refs) > 0 {
		sec["entry"] = refs
		sec["text"] = xhtml("<ul>" + strings.Join(items, "") + "</ul>")
	} else {
		sec["text"] = xhtml("Nessun dato disponibile.")
		sec["emptyReason"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable"}}}
	}
	return sec, listed
}

// xhtml is a generated narrative whose body is inner (already escaped).
func xhtml(inner string) map[string]any {
	return map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">` + inner + `</div>`}
}

// narrative is one line of a section's text: the concept, its value, when
// it holds and the region that keeps it.
func narrative(f *found) string {
	c := f.Fact.Code[0]
	line := c.Display
	if line == "" {
		line = c.System + " " + c.Code
	}
	switch {
	case f.Fact.Value != nil:
		line += fmt.Sprintf(": %s%g %s", f.Fact.Value.Comparator, f.Fact.Value.Value, f.Fact.Value.Unit)
	case f.Fact.ValueCode != nil:
		v := f.Fact.ValueCode.Display
		if v == "" {
			v = f.Fact.ValueCode.Code
		}
		line += ": " + v
	}
	if f.Fact.Effective != "" {
		line += " (" + f.Fact.Effective + ")"
	}
	return line + " — regione " + f.entry.Custodian
}
