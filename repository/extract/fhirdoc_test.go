package extract

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

// A FHIR document's resources of the kept types become facts as they
// are, without what the store sets; one without a code is skipped; the
// subject keeps only birth date and gender.
func TestFHIRDocument(t *testing.T) {
	b, err := os.ReadFile("testdata/fhir-document.json")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := FHIR(b)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Subject != (facts.Subject{BirthDate: "1951-07-14", Gender: "female"}) || ex.Skipped != 1 {
		t.Fatalf("subject %+v, skipped %d", ex.Subject, ex.Skipped)
	}
	want := []struct {
		typ, code, status, effective, end, category string
		value                                       *facts.Quantity
	}{
		{facts.Observation, "59261-8", "final", "2026-03-01T08:30:00+01:00", "", "laboratory", &facts.Quantity{Value: 52, Unit: "mmol/mol"}},
		{facts.Condition, "250.00", "active", "2019", "", "", nil},
		{facts.Immunization, "J07BB02", "completed", "2025-10-20", "", "", nil},
		{facts.MedicationStatement, "A10BA02", "active", "2024-01-10", "2026-12-31", "", nil},
	}
	if len(ex.Facts) != len(want) {
		t.Fatalf("%d facts, want %d: %+v", len(ex.Facts), len(want), ex.Facts)
	}
	for i, w := range want {
		f := ex.Facts[i]
		t.Run(w.typ, func(t *testing.T) {
			if f.Seq != i || f.Type != w.typ || f.Code[0].Code != w.code || f.Status != w.status || f.Effective != w.effective || f.End != w.end || f.Category != w.category {
				t.Fatalf("fact %+v", f)
			}
			if (w.value == nil) != (f.Value == nil) || w.value != nil && *w.value != *f.Value {
				t.Fatalf("value %+v, want %+v", f.Value, w.value)
			}
			var m map[string]any
			if err := json.Unmarshal(f.Resource, &m); err != nil || m["resourceType"] != w.typ {
				t.Fatalf("resource %s: %v", f.Resource, err)
			}
			for _, k := range []string{"id", "subject", "patient", "meta", "text"} {
				if _, ok := m[k]; ok {
					t.Fatalf("the resource keeps %s: %s", k, f.Resource)
				}
			}
		})
	}
}

func TestFHIRDocumentRefusesGarbage(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":              "",
		"not JSON":           "<ClinicalDocument/>",
		"a resource":         `{"resourceType":"Observation"}`,
		"a searchset":        `{"resourceType":"Bundle","type":"searchset","entry":[]}`,
		"entries not a list": `{"resourceType":"Bundle","type":"document","entry":{}}`,
		"trailing garbage":   `{"resourceType":"Bundle","type":"document"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := FHIR([]byte(doc)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("FHIR(%q) = %v, want ErrMalformed", doc, err)
			}
		})
	}
	// Entries that are not resources are skipped, never a failure.
	ex, err := FHIR([]byte(`{"resourceType":"Bundle","type":"document","entry":[{"resource":7},{"resource":{"resourceType":"Condition","code":{"coding":[{"code":""}]}}}]}`))
	if err != nil || len(ex.Facts) != 0 || ex.Skipped != 2 {
		t.Fatalf("%+v %v", ex, err)
	}
}

func FuzzFHIR(f *testing.F) {
	if b, err := os.ReadFile("testdata/fhir-document.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Observation","code":{"coding":[{"code":"1"}]},"valueQuantity":{"value":"x"}}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := FHIR(b)
		if err != nil {
			return
		}
		for _, fc := range ex.Facts {
			var head struct {
				ResourceType string `json:"resourceType"`
			}
			if len(fc.Code) == 0 || json.Unmarshal(fc.Resource, &head) != nil || head.ResourceType != fc.Type {
				t.Fatalf("fact %+v", fc)
			}
		}
	})
}
