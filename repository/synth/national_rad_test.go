package synth

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The RAD builder's documents — with the defaults, a first version and
// its replacement (another confidentiality, a name to escape) — pass the
// national RAD schematron with no failed assertion, carry d.ID() as their
// id, and the same Document always gives the same bytes.
func TestNationalRAD(t *testing.T) {
	rng := rand.New(rand.NewPCG(68604, 8))
	p := NewPatient(rng)
	p.Family = "D'Prova & <Figli>"
	first := Document{Region: "120", LocalID: "rad-2026-0001", Patient: p, AuthorCF: NewPatient(rng).CF,
		Org: "120201", Time: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Confidentiality = "rad-2026-0002", 2, "R"
	second.Replaces = first.ID()
	for _, tc := range []struct {
		name string
		d    Document
	}{{"defaults", Document{}}, {"first", first}, {"replacement", second}} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := National("RAD", tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := National("RAD", tc.d); !bytes.Equal(x, again) {
				t.Fatal("two builds of the same document differ")
			}
			if tc.d.LocalID != "" && !bytes.Contains(x, []byte(`<id root="2.16.840.1.113883.2.9.2.120.4.4" extension="`+tc.d.LocalID+`"`)) {
				t.Errorf("the document's id is not %s", tc.d.ID())
			}
			s, fails, err := schematron.Check(x)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "RAD" {
				t.Fatalf("judged by %s, want RAD", s.Name)
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}
