package synth

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// Every outcome of a verbale, first version and replacement, passes the
// national rules as fsenet runs them, and the same Document always gives
// the same bytes.
func TestNationalVPS(t *testing.T) {
	rng := rand.New(rand.NewPCG(59258, 4))
	first := Document{Region: "120", LocalID: "vps-synth-1", Patient: NewPatient(rng), AuthorCF: NewPatient(rng).CF,
		Org: "120201", Time: time.Date(2026, 3, 14, 18, 30, 0, 0, time.UTC), Confidentiality: "N", Version: 1}
	second := first
	second.LocalID, second.Version, second.Replaces, second.Confidentiality = "vps-synth-2", 2, first.ID(), "V"
	for i, o := range vpsOutcomes {
		for _, d := range []Document{first, second} {
			t.Run(o.Name+"/v"+string(rune('0'+d.Version)), func(t *testing.T) {
				doc := vpsBuild(d, i)
				s, fails, err := schematron.Check(doc)
				if err != nil {
					t.Fatal(err)
				}
				if s.Name != "VPS" || len(fails) > 0 {
					t.Fatalf("judged by %s: %v", s.Name, fails)
				}
				if !bytes.Equal(doc, vpsBuild(d, i)) {
					t.Fatal("two builds of the same document differ")
				}
			})
		}
	}
	// The outcome that sends the patient home has every section the
	// national rules know.
	home := string(vpsBuild(first, 0))
	for _, code := range []string{"11459-5", "46239-0", "54094-8", "78337-3", "46240-8", "8648-8", "55109-3", "62387-6",
		"30954-2", "8716-3", "29549-3", "28574-2", "18776-5", "75311-1"} {
		if !strings.Contains(home, `<code code="`+code+`"`) {
			t.Errorf("no section %s", code)
		}
	}
	// Through the registry, with its defaults.
	doc, err := National("VPS", Document{})
	if err != nil {
		t.Fatal(err)
	}
	if s, fails, err := schematron.Check(doc); err != nil || s.Name != "VPS" || len(fails) > 0 {
		t.Fatalf("default document: %v %v", err, fails)
	}
}
