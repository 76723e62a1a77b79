package extract

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fsenet/fsenet/repository/facts"
)

// Version is the extraction's version: a region's node extracts again
// the documents an older version extracted when it starts. 2: the
// emergency department report (VPS) is extracted.
const Version = 2

// maxFHIREntries bounds the entries read from one FHIR document.
const maxFHIREntries = 10000

// FHIR extracts the facts of a FHIR document Bundle: its resources of
// the types facts are kept for, taken as they are (without their id,
// subject or patient, meta and text, which the store sets when it
// serves them), with the fields searches filter on read from them, and
// the subject's birth date and gender from its Patient. Resources of
// other types are ignored; one that lacks a code is counted as skipped.
func FHIR(doc []byte) (facts.Extraction, error) {
	var ex facts.Extraction
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		return ex, fmt.Errorf("%w: not a FHIR Bundle: %v", ErrMalformed, err)
	}
	if b.ResourceType != "Bundle" || b.Type != "document" {
		return ex, fmt.Errorf("%w: a %s of type %q, not a document Bundle", ErrMalformed, b.ResourceType, b.Type)
	}
	if len(b.Entry) > maxFHIREntries {
		return ex, fmt.Errorf("%w: %d entries (at most %d)", ErrMalformed, len(b.Entry), maxFHIREntries)
	}
	for _, e := range b.Entry {
		var m map[string]any
		if json.Unmarshal(e.Resource, &m) != nil {
			ex.Skipped++
			continue
		}
		typ, _ := m["resourceType"].(string)
		if typ == "Patient" {
			ex.Subject.BirthDate, _ = m["birthDate"].(string)
			if g, _ := m["gender"].(string); slices.Contains([]string{"male", "female", "other", "unknown"}, g) {
				ex.Subject.Gender = g
			}
			continue
		}
		if !slices.Contains(facts.Types, typ) {
			continue
		}
		f, ok := fhirFact(typ, m)
		if !ok {
			ex.Skipped++
			continue
		}
		f.Seq = len(ex.Facts)
		ex.Facts = append(ex.Facts, f)
	}
	return ex, nil
}

// codeElement is the element that holds each type's concept.
func codeElement(typ string) string {
	switch typ {
	case facts.Immunization:
		return "vaccineCode"
	case facts.MedicationStatement, facts.MedicationRequest:
		return "medicationCodeableConcept"
	}
	return "code"
}

// effectiveElements are the elements that say when each type's fact
// holds, in the order they are looked for.
var effectiveElements = []string{"effectiveDateTime", "effectivePeriod", "onsetDateTime", "onsetPeriod", "occurrenceDateTime",
	"performedDateTime", "performedPeriod", "recordedDate", "authoredOn", "issued", "dateAsserted"}

// fhirFact reads one resource of a FHIR document as a fact.
func fhirFact(typ string, m map[string]any) (facts.Fact, bool) {
	f := facts.Fact{Type: typ, Code: fhirCodings(m[codeElement(typ)])}
	if len(f.Code) == 0 {
		return f, false
	}
	f.Status, _ = m["status"].(string)
	if cs := fhirCodings(m["clinicalStatus"]); len(cs) > 0 {
		f.Status = cs[0].Code
	}
	if cats, _ := m["category"].([]any); len(cats) > 0 {
		if cs := fhirCodings(cats[0]); len(cs) > 0 {
			f.Category = cs[0].Code
		}
	}
	for _, k := range effectiveElements {
		switch v := m[k].(type) {
		case string:
			f.Effective = v
		case map[string]any:
			f.Effective, _ = v["start"].(string)
			f.End, _ = v["end"].(string)
		}
		if f.Effective != "" {
			break
		}
	}
	if q, ok := m["valueQuantity"].(map[string]any); ok {
		if v, ok := q["value"].(float64); ok {
			f.Value = &facts.Quantity{Value: v}
			f.Value.Unit, _ = q["code"].(string)
			if f.Value.Unit == "" {
				f.Value.Unit, _ = q["unit"].(string)
			}
			f.Value.Comparator, _ = q["comparator"].(string)
		}
	}
	if cs := fhirCodings(m["valueCodeableConcept"]); len(cs) > 0 {
		f.ValueCode = &cs[0]
	}
	for _, k := range []string{"id", "meta", "text", "subject", "patient", "encounter"} {
		delete(m, k)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return f, false
	}
	f.Resource = raw
	return f, true
}

// codings reads a CodeableConcept's codings that have a code.
func fhirCodings(v any) []facts.Coding {
	cc, _ := v.(map[string]any)
	list, _ := cc["coding"].([]any)
	var out []facts.Coding
	for _, c := range list {
		m, _ := c.(map[string]any)
		code, _ := m["code"].(string)
		if code == "" || len(code) > 256 {
			continue
		}
		sys, _ := m["system"].(string)
		disp, _ := m["display"].(string)
		out = append(out, facts.Coding{System: sys, Code: code, Display: disp})
	}
	return out
}
