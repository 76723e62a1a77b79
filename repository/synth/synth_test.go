package synth

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/pdfcda"
)

func TestPatientsHaveValidCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for range 1000 {
		p := NewPatient(rng)
		if err := ident.ValidCF(p.CF); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if seen[p.CF] {
			t.Fatalf("code %s made twice", p.CF)
		}
		seen[p.CF] = true
	}
}

// Every kind of document passes the header rules the gateway applies,
// and survives the PDF round trip byte for byte.
func TestDocumentsPassTheHeaderRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range Kinds {
		t.Run(k.Title, func(t *testing.T) {
			if err := doctype.Check(k.LOINC, doctype.Class(k.Class)); err != nil {
				t.Fatal(err)
			}
			d := Document{Kind: k, Region: "030", LocalID: "synth-1", Patient: NewPatient(rng), AuthorCF: NewPatient(rng).CF,
				Org: "030-ASST-PROVA", Padding: 20 << 10}
			for _, v := range []Document{d, {Kind: k, Region: "030", LocalID: "synth-2", Patient: d.Patient, AuthorCF: d.AuthorCF,
				Org: d.Org, Version: 2, Replaces: d.ID(), Confidentiality: "R"}} {
				x := CDA(v)
				h, err := cda.Read(bytes.NewReader(x))
				if err != nil {
					t.Fatal(err)
				}
				if fails := cda.Check(h); len(fails) > 0 {
					t.Fatalf("header rules: %v", fails)
				}
				if id, _ := h.PatientID(ident.OIDCF); id != v.Patient.CF {
					t.Fatalf("patient %q, want %q", id, v.Patient.CF)
				}
				pdf, err := PDF(v)
				if err != nil {
					t.Fatal(err)
				}
				got, err := pdfcda.Extract(bytes.NewReader(pdf))
				if err != nil || !bytes.Equal(got, x) {
					t.Fatalf("embedded CDA differs (%v)", err)
				}
			}
			if n := len(CDA(d)); n < 20<<10 {
				t.Fatalf("padded CDA of %d bytes", n)
			}
		})
	}
}
