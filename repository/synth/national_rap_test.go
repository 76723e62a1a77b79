package synth

import (
	"bytes"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The RAP builder's documents — with the defaults, for a patient of
// another region and sex, and that document's replacement — pass the
// ported national schematron with no failed assertion, and are the same
// every time.
func TestNationalRAP(t *testing.T) {
	cf := func(s string) string { return s + string(ident.CheckChar(s)) }
	first := Document{Region: "120", LocalID: "RAP-2026-000417", Org: "120201", AuthorCF: cf("VRDLNE72H52F205"),
		Patient: Patient{CF: cf("SMPGLI63M47H501"), Family: "Esempio", Given: "Giulia", Gender: "F", BirthDate: time.Date(1963, 8, 7, 0, 0, 0, 0, time.UTC)},
		Time:    time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Replaces, second.Confidentiality = "RAP-2026-000418", 2, first.ID(), "V"
	second.Time = first.Time.AddDate(0, 0, 2)
	for name, d := range map[string]Document{"defaults": {}, "first version": first, "replacement": second} {
		doc, err := National("RAP", d)
		if err != nil {
			t.Fatal(err)
		}
		s, fails, err := schematron.Check(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name != "RAP" || len(fails) != 0 {
			t.Errorf("%s: judged by %s, fails %v", name, s.Name, schematron.IDs(fails))
		}
		if again, _ := National("RAP", d); !bytes.Equal(doc, again) {
			t.Errorf("%s: two builds differ", name)
		}
	}
}
