package ident

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		ok   bool
	}{
		{"RSSMRA80A01H501U", CF, true},
		{" rssmra80a01h501u ", CF, true}, // normalised
		{"RSSMRA80A41H501Y", CF, true},   // a woman's day (+40)
		{"RSSMRA80A01H50MM", CF, true},   // omocodia: 1 -> M
		{"MRTMTT25D09F205Z", CF, true},
		{"TSTSMN63A01F205H", CF, true},
		{"RSSMRA80A01H501A", CF, false},  // wrong check character
		{"RSSMRA80Z01H501U", CF, false},  // Z is not a month
		{"RSSMRA80A32H501U", CF, false},  // day 32
		{"RSSMRA80A00H501U", CF, false},  // day 0
		{"RSSMRA8AA01H501U", CF, false},  // A is not an omocodia letter
		{"1SSMRA80A01H501U", CF, false},  // letter expected
		{"RSSMRA80A01H501", CF, false},   // short
		{"RSSMRA80A01H501UX", CF, false}, // long
		{"", CF, false},
		{"STP0301234567890", STP, true},
		{"ENI1501234567890", ENI, true},
		{"STP030123456789", STP, false},   // short
		{"STP03012345678X0", STP, false},  // not digits
		{"ENI15012345678901", ENI, false}, // long
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, err := Parse(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			if tt.ok && id.Kind != tt.kind {
				t.Fatalf("kind %v, want %v", id.Kind, tt.kind)
			}
		})
	}
}

func TestParseSystem(t *testing.T) {
	tests := []struct {
		system, value string
		ok            bool
	}{
		{SystemCF, "RSSMRA80A01H501U", true},
		{"urn:oid:" + OIDCF, "RSSMRA80A01H501U", true},
		{"", "RSSMRA80A01H501U", true},
		{"urn:oid:" + OIDSTP, "STP0301234567890", true},
		{SystemCF, "STP0301234567890", false},
		{"urn:oid:" + OIDENI, "STP0301234567890", false},
		{"http://example.org/mrn", "RSSMRA80A01H501U", false},
	}
	for _, tt := range tests {
		t.Run(tt.system+"|"+tt.value, func(t *testing.T) {
			if _, err := ParseSystem(tt.system, tt.value); tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if id, _ := Parse("RSSMRA80A01H501U"); id.String() != "CF:RSSMRA80A01H501U" || id.Kind.System() != SystemCF {
		t.Fatalf("String/System: %s %s", id, id.Kind.System())
	}
}

// FuzzParse: never panics; whatever is accepted is normalised, 16
// characters, and parses again to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"RSSMRA80A01H501U", "STP0301234567890", "ENI1501234567890", "RSSMRA80A01H50MM", "", "\xff\xfe", "STP", "ZZZZZZ99Z99Z999Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		if len(id.Value) != 16 {
			t.Fatalf("accepted %q of %d characters", id.Value, len(id.Value))
		}
		again, err := Parse(id.Value)
		if err != nil || again != id {
			t.Fatalf("%q does not parse to itself: %v %v", id.Value, again, err)
		}
	})
}

// The patients of the national gateway's sample CDA documents carry valid
// codici fiscali (../shared/samples, not part of the repository).
func TestSampleDocumentPatients(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples", "fse-it", "cda")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("no sample documents in %s (they are not part of the repository)", dir)
	}
	re := regexp.MustCompile(`(?s)<recordTarget[^>]*>.*?<id[^>]*root="2\.16\.840\.1\.113883\.2\.9\.4\.3\.2"[^>]*extension="([^"]+)"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no patient codice fiscale found", filepath.Base(f))
		}
		if _, err := Parse(string(m[1])); err != nil {
			t.Errorf("%s: patient %s: %v", filepath.Base(f), m[1], err)
		}
	}
}
