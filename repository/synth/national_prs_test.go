package synth

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The PrS builder's documents — with the defaults, a first version and
// its replacement (another confidentiality, a name to escape) — pass the
// national PrS schematron with no failed assertion, and the same
// Document always gives the same bytes.
func TestNationalPrS(t *testing.T) {
	rng := rand.New(rand.NewPCG(57832, 8))
	p := NewPatient(rng)
	p.Family = "D'Prova & <Figli>"
	first := Document{Region: "120", LocalID: "120A05714294330", Patient: p, AuthorCF: NewPatient(rng).CF,
		Org: "120201", Time: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Confidentiality = "120A05714294331", 2, "V"
	second.Replaces = "2.16.840.1.113883.2.9.4.3.9^" + first.LocalID
	for _, tc := range []struct {
		name string
		d    Document
	}{{"defaults", Document{}}, {"first", first}, {"replacement", second}} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := National("PrS", tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := National("PrS", tc.d); !bytes.Equal(x, again) {
				t.Fatal("two builds of the same document differ")
			}
			s, fails, err := schematron.Check(x)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "PrS" {
				t.Fatalf("judged by %s, want PrS", s.Name)
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}
