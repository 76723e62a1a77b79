package synth

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// National documents: for each national schematron (named as package
// repository/cda/schematron names it: LAB, LDO, PSS, RAD, RSA, VPS,
// PrF, …), a builder of a complete CDA document of that type — header
// and body — that the schematron accepts with no failed assertion. Each
// type's builder is in its own file (national_<name>.go) and registers
// itself here. They serve the differential tests of the document rules
// and any test that needs a real-shaped document of a type.

var (
	nationalMu sync.Mutex
	national   = map[string]func(Document) []byte{}
)

// registerNational adds a type's builder (from an init function).
func registerNational(name string, build func(Document) []byte) {
	nationalMu.Lock()
	defer nationalMu.Unlock()
	if _, dup := national[name]; dup {
		panic("synth: two builders of national type " + name)
	}
	national[name] = build
}

// NationalTypes lists the schematron names a builder exists for, sorted.
func NationalTypes() []string {
	nationalMu.Lock()
	defer nationalMu.Unlock()
	var out []string
	for n := range national {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// National builds a document of a national type for d's patient, author,
// organisation, region, id and time (defaults filled in as CDA does).
func National(name string, d Document) ([]byte, error) {
	nationalMu.Lock()
	build, ok := national[name]
	nationalMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("synth: no builder of national type %q", name)
	}
	if d.Time.IsZero() {
		d.Time = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	}
	if d.Confidentiality == "" {
		d.Confidentiality = "N"
	}
	if d.Version < 1 {
		d.Version = 1
	}
	if d.Region == "" {
		d.Region = "030"
	}
	if d.LocalID == "" {
		d.LocalID = "nat-" + name
	}
	if d.AuthorCF == "" {
		d.AuthorCF = "BNCLCU75A01H501T"
	}
	if d.Org == "" {
		d.Org = "030901"
	}
	if d.Patient.CF == "" {
		d.Patient = Patient{CF: "RSSMRA80A01H501U", Family: "Prova", Given: "Mario", Gender: "M", BirthDate: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	return build(d), nil
}
