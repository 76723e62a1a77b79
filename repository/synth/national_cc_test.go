package synth

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The CC builder's documents — with the defaults (a man), a woman's first
// version (with the obstetric section) and its replacement (another
// confidentiality, a name to escape) — pass the national CC schematron
// with no failed assertion, and the same Document always gives the same
// bytes.
func TestNationalCC(t *testing.T) {
	rng := rand.New(rand.NewPCG(100971, 1))
	p := NewPatient(rng)
	for p.Gender != "F" {
		p = NewPatient(rng)
	}
	p.Family = "D'Prova & <Figli>"
	first := Document{Region: "120", LocalID: "cc-2026-0001", Patient: p, AuthorCF: NewPatient(rng).CF,
		Org: "120201", Time: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)}
	second := first
	second.LocalID, second.Version, second.Confidentiality = "cc-2026-0002", 2, "V"
	second.Replaces = first.ID()
	for _, tc := range []struct {
		name string
		d    Document
	}{{"defaults", Document{}}, {"first", first}, {"replacement", second}} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := National("CC", tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := National("CC", tc.d); !bytes.Equal(x, again) {
				t.Fatal("two builds of the same document differ")
			}
			if obstetric := bytes.Contains(x, []byte(`code="15508-5"`)); obstetric != (tc.d.Patient.Gender == "F") {
				t.Errorf("obstetric section present: %v, for a patient of gender %q", obstetric, tc.d.Patient.Gender)
			}
			s, fails, err := schematron.Check(x)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != "CC" {
				t.Fatalf("judged by %s, want CC", s.Name)
			}
			for _, f := range fails {
				t.Error(f)
			}
		})
	}
}
