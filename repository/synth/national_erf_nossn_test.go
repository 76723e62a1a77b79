package synth

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// A dispensing outside the SSN, first version and replacement, passes the
// national rules as fsenet runs them, carries the optional parts they
// judge (variation, regional message, regime, the optional sections), and
// the same Document always gives the same bytes.
func TestNationalErFNoSSN(t *testing.T) {
	rng := rand.New(rand.NewPCG(60593, 1))
	first := Document{Region: "050", LocalID: "erf-synth-1", Patient: NewPatient(rng), AuthorCF: NewPatient(rng).CF,
		Org: "050112", Time: time.Date(2026, 9, 3, 16, 45, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Replaces, second.Confidentiality = "erf-synth-2", 2, first.ID(), "R"
	for _, d := range []Document{first, second, {}} {
		doc, err := National("ErF_NoSSN", d)
		if err != nil {
			t.Fatal(err)
		}
		s, fails, err := schematron.Check(doc)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "ErF_NoSSN" || len(fails) > 0 {
			t.Fatalf("%s judged by %s: %v", d.LocalID, s.Name, fails)
		}
		if again, _ := National("ErF_NoSSN", d); !bytes.Equal(doc, again) {
			t.Fatalf("%s: two builds of the same document differ", d.LocalID)
		}
	}
	doc, _ := National("ErF_NoSSN", first)
	for _, part := range []string{"63.10.936", "63.10.938", "63.10.939", "63.10.818", "63.10.829", "63.10.830", "63.10.813",
		"63.10.816", "63.10.815", "<authenticator>", "<inFulfillmentOf>"} {
		if !strings.Contains(string(doc), part) {
			t.Errorf("no %s", part)
		}
	}
}
