package schematron_test

import (
	"testing"

	"github.com/fsenet/fsenet/repository/cda/schematron"
	"github.com/fsenet/fsenet/repository/synth"
)

// Every national type the synthetic generator makes is accepted by its
// schematron as fsenet runs it (the differential test compares each with
// the national tool).
func TestNationalBuildersPass(t *testing.T) {
	for _, name := range synth.NationalTypes() {
		t.Run(name, func(t *testing.T) {
			doc, err := synth.National(name, synth.Document{})
			if err != nil {
				t.Fatal(err)
			}
			s, fails, err := schematron.Check(doc)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != name || len(fails) > 0 {
				t.Fatalf("judged by %s: %v", s.Name, fails)
			}
		})
	}
}
