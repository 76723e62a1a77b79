package pdfcda

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

func embed(t testing.TB, cda []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Embed(&b, []string{"Referto di laboratorio", "Documento sintetico: dati di prova, nessun paziente reale"}, cda); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEmbedExtractRoundTrip(t *testing.T) {
	cda := []byte(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Prova àèìòù</title></ClinicalDocument>`)
	pdf := embed(t, cda)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("output starts %q", pdf[:8])
	}
	got, err := Extract(bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, cda) {
		t.Fatalf("extracted %q, want %q", got, cda)
	}
}

// A page with a scanned image (its pixels incompressible) keeps its CDA
// readable, and its size.
func TestEmbedScan(t *testing.T) {
	cda := []byte(`<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Scansione</title></ClinicalDocument>`)
	grey := make([]byte, 3<<20+5)
	for i := range grey {
		grey[i] = byte(i*7919>>3) ^ byte(i>>11)
	}
	var b bytes.Buffer
	if err := EmbedScan(&b, []string{"Referto scansionato"}, cda, grey); err != nil {
		t.Fatal(err)
	}
	if b.Len() < len(grey) {
		t.Fatalf("a PDF of %d bytes for %d bytes of pixels", b.Len(), len(grey))
	}
	got, err := Extract(bytes.NewReader(b.Bytes()))
	if err != nil || !bytes.Equal(got, cda) {
		t.Fatalf("extracted %q (%v), want the CDA", got, err)
	}
}

func TestExtractRefusals(t *testing.T) {
	plain := textPDF([]string{"no attachment"}, nil)
	var withOther bytes.Buffer
	if err := EmbedFile(&withOther, nil, "referto.xml", []byte("<x/>")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotPDF},
		{"not a PDF", []byte("<ClinicalDocument/>"), ErrNotPDF},
		{"header only", []byte("%PDF-1.7\n"), ErrMalformed},
		{"no attachments", plain, ErrNoCDA},
		{"another attachment", withOther.Bytes(), ErrNoCDA},
		{"truncated", embed(t, []byte("<x/>"))[:300], ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Extract(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(embed(f, []byte("<ClinicalDocument/>")))
	f.Add(textPDF([]string{"x"}, nil))
	f.Add([]byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cda, err := Extract(bytes.NewReader(in))
		if err == nil && len(cda) > MaxCDABytes {
			t.Fatalf("returned %d bytes past the limit", len(cda))
		}
		if err != nil && !errors.Is(err, ErrNotPDF) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoCDA) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func TestNoConfigDirWritten(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	embed(t, []byte("<x/>"))
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Fatalf("pdfcpu wrote %v under the home directory", entries)
	}
}

// BenchmarkExtract reads the cda.xml of a PDF of about 20 KiB, as the
// gateway does on every request.
func BenchmarkExtract(b *testing.B) {
	cda := bytes.Repeat([]byte("<observation>emoglobina 13,5 g/dL</observation>\n"), 3000)
	var buf bytes.Buffer
	if err := Embed(&buf, []string{"Referto di laboratorio (prova)"}, cda); err != nil {
		b.Fatal(err)
	}
	pdf := buf.Bytes()
	b.SetBytes(int64(len(pdf)))
	for b.Loop() {
		got, err := Extract(bytes.NewReader(pdf))
		if err != nil || len(got) != len(cda) {
			b.Fatal(err, len(got))
		}
	}
}
