package synth

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// A discharge letter, first version and replacement, passes the national
// rules as fsenet runs them, has every section they know, and the same
// Document always gives the same bytes.
func TestNationalLDO(t *testing.T) {
	rng := rand.New(rand.NewPCG(34105, 7))
	first := Document{Region: "090", LocalID: "ldo-synth-1", Patient: NewPatient(rng), AuthorCF: NewPatient(rng).CF,
		Org: "090204", Time: time.Date(2026, 5, 20, 11, 15, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Replaces, second.Confidentiality = "ldo-synth-2", 2, first.ID(), "R"
	for _, d := range []Document{first, second, {}} {
		doc, err := National("LDO", d)
		if err != nil {
			t.Fatal(err)
		}
		s, fails, err := schematron.Check(doc)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "LDO" || len(fails) > 0 {
			t.Fatalf("%s judged by %s: %v", d.LocalID, s.Name, fails)
		}
		if again, _ := National("LDO", d); !bytes.Equal(doc, again) {
			t.Fatalf("%s: two builds of the same document differ", d.LocalID)
		}
	}
	doc, _ := National("LDO", first)
	for _, code := range []string{"46241-6", "47039-3", "11329-0", "29545-1", "42346-7", "8648-8", "55109-3", "11493-4",
		"34104-0", "30954-2", "47519-4", "48765-2", "10160-0", "11535-2", "10183-2", "18776-5"} {
		if !strings.Contains(string(doc), `<code code="`+code+`"`) {
			t.Errorf("no section %s", code)
		}
	}
}
