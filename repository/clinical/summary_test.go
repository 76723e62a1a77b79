package clinical

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
)

// The summary lists what took place and stands: a cancelled test does not
// hide the last value of its code, and a vaccination or procedure not done
// or recorded in error is not listed.
func TestSummaryLeavesOutWhatDidNotHappen(t *testing.T) {
	a := New(Deps{Region: "030"})
	fact := func(doc, typ, status, effective, code string, v *facts.Quantity) found {
		f := facts.Fact{Seq: 1, Type: typ, Status: status, Effective: effective, Value: v,
			Code:     []facts.Coding{{System: facts.SystemLOINC, Code: code, Display: doc}},
			Resource: json.RawMessage(`{"resourceType":"` + typ + `"}`)}
		from, _, _ := factRange(&f)
		return found{wireFact: wireFact{Doc: doc, Fact: f}, entry: index.Entry{ID: doc, Custodian: "030"}, from: from}
	}
	g := &gathered{patient: index.Patient{ID: "CF:RSSMRA80A01H501U"}, facts: []found{
		fact("hba1c-january", facts.Observation, "final", "2025-01-10", "4548-4", &facts.Quantity{Value: 7.1, Unit: "%"}),
		fact("hba1c-march-cancelled", facts.Observation, "cancelled", "2025-03-10", "4548-4", nil),
		fact("flu-in-error", facts.Immunization, "entered-in-error", "2025-01-01", "J07BB02", nil),
		fact("flu-not-done", facts.Immunization, "not-done", "2025-02-01", "J07BB02", nil),
		fact("flu-given", facts.Immunization, "completed", "2024-11-01", "J07BB02", nil),
		fact("ecg-not-done", facts.Procedure, "not-done", "2025-02-01", "11524-6", nil),
	}}
	sortFound(g.facts, false)
	b, err := json.Marshal(a.summaryBundle(g, "https://x/fhir", "2025-04-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Entry []struct{ Resource map[string]any }
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{}
	for _, sec := range bundle.Entry[0].Resource["section"].([]any) {
		m := sec.(map[string]any)
		texts[m["title"].(string)] = m["text"].(map[string]any)["div"].(string)
	}
	for title, want := range map[string][]string{
		"Risultati recenti": {"hba1c-january"},
		"Vaccinazioni":      {"flu-given"},
		"Procedure":         nil,
	} {
		for _, doc := range []string{"hba1c-january", "hba1c-march-cancelled", "flu-in-error", "flu-not-done", "flu-given", "ecg-not-done"} {
			if listed, wanted := strings.Contains(texts[title], doc), strings.Contains(strings.Join(want, " "), doc); listed != wanted {
				t.Errorf("%s lists %s: %v, want %v (%s)", title, doc, listed, wanted, texts[title])
			}
		}
	}
	if len(bundle.Entry) != 4 {
		t.Errorf("%d entries, want the Composition, the Patient, the January result and the vaccination given", len(bundle.Entry))
	}
}
