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

func TestExtractRefusals(t *testing.T) {
	plain := textPDF([]string{"no attachment"})
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
	f.Add(textPDF([]string{"x"}))
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
