package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/synth"
)

func national(t testing.TB, name string) []byte {
	t.Helper()
	doc, err := synth.National(name, synth.Document{})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// want is a fact a document must yield.
type want struct {
	Type, System, Code string
	Value              float64
	Unit               string
	ValueCode          string
	Status, Effective  string
}

func find(ex facts.Extraction, w want) *facts.Fact {
	for i, f := range ex.Facts {
		if f.Type != w.Type || f.Code[0].System != w.System || f.Code[0].Code != w.Code {
			continue
		}
		if w.Unit != "" && (f.Value == nil || f.Value.Value != w.Value || f.Value.Unit != w.Unit) {
			continue
		}
		if w.ValueCode != "" && (f.ValueCode == nil || f.ValueCode.Code != w.ValueCode) {
			continue
		}
		if w.Status != "" && f.Status != w.Status || w.Effective != "" && f.Effective != w.Effective {
			continue
		}
		return &ex.Facts[i]
	}
	return nil
}

func TestSyntheticDocuments(t *testing.T) {
	const icd9 = facts.SystemICD9CM
	aic, atc, loinc := facts.SystemAIC, facts.SystemATC, facts.SystemLOINC
	tests := []struct {
		name string
		want []want
	}{
		{"LAB", []want{
			{Type: facts.DiagnosticReport, System: loinc, Code: "58410-2", Status: "final", Effective: "2026-10-30T11:00:00+01:00"},
			{Type: facts.Observation, System: loinc, Code: "718-7", Value: 15.9, Unit: "g/dL", Status: "final", Effective: "2026-10-31T11:00:00+01:00"},
			{Type: facts.Observation, System: loinc, Code: "2164-2", Value: 101, Unit: "mL/min", Status: "final"},
			{Type: facts.Observation, System: loinc, Code: "2823-3", Status: "cancelled"},
			{Type: facts.Observation, System: loinc, Code: "630-4", ValueCode: "112283007", Status: "final"},
		}},
		{"LDO", []want{
			{Type: facts.Condition, System: icd9, Code: "410.71"},
			{Type: facts.Condition, System: icd9, Code: "401.9", Status: "active", Effective: "2018-11-01"},
			{Type: facts.Observation, System: loinc, Code: "4548-4", Value: 7.4, Unit: "%", Effective: "2026-10-26T06:30:00+01:00"},
			{Type: facts.Procedure, System: icd9, Code: "36.07", Status: "completed"},
			{Type: facts.AllergyIntolerance, System: atc, Code: "J01CA04", Status: "active"},
			{Type: facts.MedicationStatement, System: atc, Code: "B01AB05", Status: "completed"},
			{Type: facts.MedicationRequest, System: aic, Code: "031981069", Status: "active", Effective: "2026-11-02"},
		}},
		{"PSS", []want{
			{Type: facts.Immunization, System: atc, Code: "J07BB02", Status: "completed", Effective: "2026-10-01T11:00:00+01:00"},
			{Type: facts.Observation, System: loinc, Code: "75321-0", ValueCode: "780.60"},
			{Type: facts.Condition, System: icd9, Code: "535.40", Status: "inactive"},
			{Type: facts.Observation, System: loinc, Code: "29463-7", Value: 61, Unit: "kg", Status: "final"},
			{Type: facts.Observation, System: loinc, Code: "72166-2", ValueCode: "LA18978-9"},
			{Type: facts.DiagnosticReport, System: loinc, Code: "58410-2", Status: "final"},
			{Type: facts.Observation, System: loinc, Code: "2345-7", Value: 106, Unit: "mg/dL"},
			{Type: facts.Procedure, System: icd9, Code: "81.51", Status: "completed", Effective: "2023-09-01T11:00:00+01:00"},
		}},
		{"RAD", []want{
			{Type: facts.DiagnosticReport, System: loinc, Code: "68604-8", Status: "final", Effective: "2026-11-01T09:30:00+01:00"},
			{Type: facts.Condition, System: icd9, Code: "493.90", Status: "active"},
			{Type: facts.Procedure, System: icd9, Code: "87.44", Status: "completed"},
		}},
		{"RSA", []want{
			{Type: facts.Condition, System: icd9, Code: "401.1", Status: "active", Effective: "2020-09-01"},
			{Type: facts.Condition, System: icd9, Code: "535.00", Status: "inactive", Effective: "2022-12-01"},
			{Type: facts.AllergyIntolerance, System: "urn:oid:2.16.840.1.113883.2.9.77.22.11.2", Code: "111088007", Status: "active"},
			{Type: facts.MedicationStatement, System: atc, Code: "C09AA05", Status: "active", Effective: "2020-10-01"},
			{Type: facts.MedicationRequest, System: atc, Code: "C08CA01", Effective: "2026-11-02"},
			{Type: facts.Observation, System: loinc, Code: "2093-3", Value: 212, Unit: "mg/dL", Effective: "2026-10-20"},
			{Type: facts.Observation, System: loinc, Code: "8480-6", Value: 138, Unit: "mm[Hg]", Effective: "2026-11-01T09:30:00+01:00"},
			{Type: facts.Observation, System: loinc, Code: "8867-4", Value: 68, Unit: "/min"},
			{Type: facts.Procedure, System: icd9, Code: "89.52", Status: "completed"},
			{Type: facts.Procedure, System: facts.SystemSNOMED, Code: "29303009"},
			{Type: facts.Condition, System: icd9, Code: "401.1"},
		}},
		{"VPS", []want{
			{Type: facts.Observation, System: loinc, Code: "11283-9", ValueCode: "R", Status: "final", Effective: "2026-11-01T09:43:00+01:00"},
			{Type: facts.Condition, System: icd9, Code: "401.9", Status: "active", Effective: "2018-11-01"},
			{Type: facts.AllergyIntolerance, System: atc, Code: "J01CA04", Status: "active"},
			{Type: facts.Procedure, System: loinc, Code: "11524-6", Status: "completed"},
			{Type: facts.Observation, System: loinc, Code: "89579-7", Value: 96, Unit: "ng/L", Status: "final"},
			{Type: facts.Observation, System: loinc, Code: "8480-6", Value: 100, Unit: "mm[Hg]", Effective: "2026-11-01T09:45:00+01:00"},
			{Type: facts.Observation, System: loinc, Code: "59408-5", Value: 93, Unit: "%"},
			{Type: facts.MedicationStatement, System: atc, Code: "B01AC06", Status: "completed"},
			{Type: facts.Condition, System: icd9, Code: "410.11", Effective: "2026-11-01T10:30:00+01:00"},                     // the discharge diagnosis
			{Type: facts.Observation, System: loinc, Code: "11302-7", ValueCode: "4", Effective: "2026-11-01T10:45:00+01:00"}, // the outcome, at the discharge
		}},
		{"singola_VACC", []want{
			{Type: facts.Immunization, System: aic, Code: "900000076", Status: "completed", Effective: "2026-11-01T10:30:00+01:00"},
		}},
		{"certificato_VACC", []want{
			{Type: facts.Immunization, System: aic, Code: "900000076", Status: "completed", Effective: "2014-01-01T10:00:00+01:00"},
			{Type: facts.Immunization, System: aic, Code: "900000076", Status: "not-done", Effective: "2023-12-11T10:00:00+01:00"},
			{Type: facts.Immunization, System: aic, Code: "900000102", Status: "not-done"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := CDA(national(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if len(ex.Facts) == 0 {
				t.Fatal("no facts")
			}
			if ex.Subject.BirthDate != "1980-01-01" || ex.Subject.Gender != "male" || len(ex.Subject.Province) != 2 {
				t.Errorf("subject %+v", ex.Subject)
			}
			for _, w := range tc.want {
				if find(ex, w) == nil {
					t.Errorf("no fact %+v among %d", w, len(ex.Facts))
				}
			}
			checkFacts(t, ex)
		})
	}
}

// TestSyntheticTranslations: a vaccine keeps its ATC translation as a
// second coding, the document's own AIC code first.
func TestSyntheticTranslations(t *testing.T) {
	ex, err := CDA(national(t, "singola_VACC"))
	if err != nil {
		t.Fatal(err)
	}
	f := find(ex, want{Type: facts.Immunization, System: facts.SystemAIC, Code: "900000076"})
	if f == nil || len(f.Code) != 2 || f.Code[1].System != facts.SystemATC || f.Code[1].Code != "J07AJ52" {
		t.Fatalf("vaccine codes: %+v", f)
	}
	var im struct {
		ProtocolApplied []struct {
			DoseNumberPositiveInt int `json:"doseNumberPositiveInt"`
		} `json:"protocolApplied"`
	}
	if err := json.Unmarshal(f.Resource, &im); err != nil || len(im.ProtocolApplied) != 1 || im.ProtocolApplied[0].DoseNumberPositiveInt != 8 {
		t.Fatalf("dose number: %v %s", err, f.Resource)
	}
}

// checkFacts: every fact has a code, a resource of its type, and the
// fields pulled out agree with the resource.
func checkFacts(t *testing.T, ex facts.Extraction) {
	t.Helper()
	for i, f := range ex.Facts {
		if f.Seq != i {
			t.Errorf("fact %d has seq %d", i, f.Seq)
		}
		if len(f.Code) == 0 || f.Code[0].Code == "" || f.Code[0].System == "" {
			t.Errorf("fact %d without a code: %+v", i, f)
			continue
		}
		r := tupleOf(t, f.Resource, nil)
		if r.Type != f.Type {
			t.Errorf("fact %d: type %s, resource %s", i, f.Type, r.Type)
		}
		if r.System != f.Code[0].System || r.Code != f.Code[0].Code {
			t.Errorf("fact %d: code %v, resource %s|%s", i, f.Code[0], r.System, r.Code)
		}
		if r.Status != f.Status {
			t.Errorf("fact %d (%s): status %q, resource %q", i, f.Type, f.Status, r.Status)
		}
		if r.Effective != f.Effective {
			t.Errorf("fact %d (%s): effective %q, resource %q", i, f.Type, f.Effective, r.Effective)
		}
		switch {
		case f.Value != nil:
			if !strings.HasPrefix(r.Value+" ", strings.TrimSpace(formatG(f.Value.Value)+" "+f.Value.Unit)+" ") {
				t.Errorf("fact %d: value %+v, resource %q", i, *f.Value, r.Value)
			}
		case f.ValueCode != nil:
			if r.Value != f.ValueCode.System+"|"+f.ValueCode.Code {
				t.Errorf("fact %d: value code %+v, resource %q", i, *f.ValueCode, r.Value)
			}
		}
		if f.Category != "" && !strings.Contains(string(f.Resource), `"`+f.Category+`"`) {
			t.Errorf("fact %d: category %q not in %s", i, f.Category, f.Resource)
		}
		if strings.Contains(string(f.Resource), `"subject"`) || strings.Contains(string(f.Resource), `"patient"`) || strings.Contains(string(f.Resource), `"id"`) {
			t.Errorf("fact %d: resource names its subject or id: %s", i, f.Resource)
		}
	}
}

func TestMinimalDocument(t *testing.T) {
	doc, err := os.ReadFile("testdata/minimal-lab.xml")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := CDA(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := (facts.Subject{BirthDate: "1985-07", Gender: "female", Province: "MI"}); ex.Subject != want {
		t.Errorf("subject %+v, want %+v (residence H before domicile HP)", ex.Subject, want)
	}
	if ex.Skipped != 2 {
		t.Errorf("skipped %d, want 2 (a result without a value, one without a code)", ex.Skipped)
	}
	if len(ex.Facts) != 2 {
		t.Fatalf("%d facts, want the report and one result: %+v", len(ex.Facts), ex.Facts)
	}
	o := ex.Facts[1]
	if o.Effective != "2025-01-02T08:30:00.123+01:00" || o.Value == nil || o.Value.Value != 53 || o.Value.Unit != "mmol/mol" || len(o.Code) != 2 || o.Code[1].System != "urn:oid:2.16.840.1.113883.2.9.2.30.6.11" {
		t.Errorf("result %+v", o)
	}
	if !strings.Contains(string(o.Resource), `"valueQuantity":{"value":53,"unit":"mmol/mol","system":"http://unitsofmeasure.org","code":"mmol/mol"}`) {
		t.Errorf("resource %s", o.Resource)
	}
	checkFacts(t, ex)
}

// Elements real documents leave out are read as absent, never as an
// error: an address without a county (found in an independent author's
// LAB, LDO and PSS documents), an observation without a value.
func TestMissingElements(t *testing.T) {
	const head = `<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>`
	const result = `<component><structuredBody><component><section><code code="18719-5" codeSystem="2.16.840.1.113883.6.1"/>` +
		`<entry><observation classCode="OBS" moodCode="EVN"><code code="4548-4" codeSystem="2.16.840.1.113883.6.1"/>%s</observation></entry>` +
		`</section></component></structuredBody></component>`
	tests := []struct {
		name, target, value string
		want                facts.Subject
		facts               int
	}{
		{"address without county", `<addr use="H"><city>Roma</city></addr><patient><administrativeGenderCode code="M"/></patient>`, `<value xsi:type="PQ" value="53" unit="mmol/mol"/>`, facts.Subject{Gender: "male"}, 1},
		{"empty address", `<addr/><addr use="HP"><county>RM</county></addr>`, `<value xsi:type="PQ" value="53" unit="mmol/mol"/>`, facts.Subject{Province: "RM"}, 1},
		{"no patient", `<addr use="H"/>`, `<value xsi:type="PQ" value="53" unit="mmol/mol"/>`, facts.Subject{}, 1},
		{"no value", `<addr use="H"/>`, ``, facts.Subject{}, 0},
		{"string value without text", ``, `<value xsi:type="ST"/>`, facts.Subject{}, 0},
		{"value without a type", ``, `<value value="53" unit="mmol/mol"/>`, facts.Subject{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := head + `<recordTarget><patientRole>` + tc.target + `</patientRole></recordTarget>` + fmt.Sprintf(result, tc.value) + `</ClinicalDocument>`
			ex, err := CDA([]byte(doc))
			if err != nil {
				t.Fatalf("err %v", err)
			}
			if ex.Subject != tc.want || len(ex.Facts) != tc.facts || ex.Skipped != 1-tc.facts {
				t.Errorf("subject %+v, %d facts, %d skipped; want %+v, %d facts, %d skipped", ex.Subject, len(ex.Facts), ex.Skipped, tc.want, tc.facts, 1-tc.facts)
			}
			checkFacts(t, ex)
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"not xml", "hello", ErrMalformed},
		{"unclosed", `<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="11502-2"/>`, ErrMalformed},
		{"two roots", `<a/><b/>`, ErrMalformed},
		{"doctype", `<!DOCTYPE x [<!ENTITY e "e">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>`, ErrMalformed},
		{"other root", `<Bundle xmlns="http://hl7.org/fhir"/>`, ErrMalformed},
		{"no namespace", `<ClinicalDocument><code code="11502-2"/></ClinicalDocument>`, ErrMalformed},
		{"deep", strings.Repeat("<ClinicalDocument>", 200) + strings.Repeat("</ClinicalDocument>", 200), ErrMalformed},
		{"prescription", `<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="57833-6" codeSystem="2.16.840.1.113883.6.1"/></ClinicalDocument>`, ErrUnsupported},
		{"no code", `<ClinicalDocument xmlns="urn:hl7-org:v3"/>`, ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := CDA([]byte(tc.doc))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if len(ex.Facts) != 0 || ex.Subject != (facts.Subject{}) {
				t.Errorf("extraction %+v with an error", ex)
			}
		})
	}
	// Every synthetic type the extraction has no mapping for is
	// ErrUnsupported, not a guess.
	for _, name := range synth.NationalTypes() {
		doc := national(t, name)
		_, err := CDA(doc)
		switch name {
		case "LAB", "LDO", "PSS", "RAD", "RSA", "VPS", "singola_VACC", "certificato_VACC":
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		default:
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: err %v, want ErrUnsupported", name, err)
			}
		}
	}
}

func TestDateTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2022", "2022"},
		{"202203", "2022-03"},
		{"20220330", "2022-03-30"},
		{"20220330112426+0100", "2022-03-30T11:24:26+01:00"},
		{"202203301124-0500", "2022-03-30T11:24:00-05:00"},
		{"2022033011+0000", "2022-03-30T11:00:00+00:00"},
		{"20220330112426.5+0100", "2022-03-30T11:24:26.5+01:00"},
		{"20220330112426", "2022-03-30"}, // a time without a zone keeps the day
		{"20240229", "2024-02-29"},
		{"20230229", ""},
		{"20221330", ""},
		{"20220330256000+0100", ""},
		{"2022033", ""},
		{"2022-03-30", ""},
		{"20220330112426+01", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := dateTime(tc.in); got != tc.want {
				t.Errorf("dateTime(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSystem(t *testing.T) {
	tests := []struct{ oid, want string }{
		{"2.16.840.1.113883.6.1", facts.SystemLOINC},
		{"2.16.840.1.113883.6.103", facts.SystemICD9CM},
		{"2.16.840.1.113883.6.104", facts.SystemICD9CM},
		{"2.16.840.1.113883.6.73", facts.SystemATC},
		{"2.16.840.1.113883.2.9.6.1.5", facts.SystemAIC},
		{"2.16.840.1.113883.6.96", facts.SystemSNOMED},
		{"1.2.3", "urn:oid:1.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.oid, func(t *testing.T) {
			if got := System(tc.oid); got != tc.want {
				t.Errorf("System(%s) = %s, want %s", tc.oid, got, tc.want)
			}
		})
	}
}

func formatG(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var benchTypes = []string{"LAB", "LDO", "PSS", "RAD", "VPS"}

func BenchmarkExtract(b *testing.B) {
	for _, name := range benchTypes {
		doc := national(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CDA(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzCDA(f *testing.F) {
	for _, name := range []string{"LAB", "LDO", "PSS", "RAD", "RSA", "VPS", "singola_VACC", "certificato_VACC"} {
		f.Add(national(f, name))
	}
	if doc, err := os.ReadFile("testdata/minimal-lab.xml"); err == nil {
		f.Add(doc)
	}
	f.Add([]byte(""))
	f.Add([]byte("<"))
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="60591-5"/><component><structuredBody><component><section><entry><act><entryRelationship><observation><code code="75326-9" codeSystem="2.16.840.1.113883.6.1"/><value code="1" codeSystem="1"/></observation></entryRelationship></act></entry></section></component></structuredBody></component></ClinicalDocument>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ex, err := CDA(doc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error outside the two sentinels: %v", err)
			}
			return
		}
		for i, f := range ex.Facts {
			if len(f.Code) == 0 || f.Code[0].Code == "" {
				t.Fatalf("fact %d without a code", i)
			}
			var r struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(f.Resource, &r); err != nil {
				t.Fatalf("fact %d: resource is not JSON: %v", i, err)
			}
			if r.ResourceType != f.Type {
				t.Fatalf("fact %d: resourceType %q, type %q", i, r.ResourceType, f.Type)
			}
		}
	})
}
