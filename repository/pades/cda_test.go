package pades

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/pdfcpu/pdfcpu/pkg/api"
)

// The gateway's own format, a PDF written by pdfcpu with cda.xml
// embedded, signed by an incremental update: it verifies, and the CDA
// is still found.
func TestSignedCDAPDF(t *testing.T) {
	p := newPKI(t)
	cda := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	var buf bytes.Buffer
	if err := pdfcda.Embed(&buf, []string{"Referto di laboratorio"}, cda); err != nil {
		t.Fatal(err)
	}
	base := buf.Bytes()
	d, err := appendTo(base)
	if err != nil {
		t.Fatal(err)
	}
	d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, signingTime, true)})
	res, problems := Verify(d.bytes(), testConfig(p))
	if len(problems) != 0 || !res.Signed {
		t.Fatalf("signed %v, problems %v", res.Signed, problems)
	}
	got, err := pdfcda.Extract(bytes.NewReader(d.bytes()))
	if err != nil || !bytes.Equal(got, cda) {
		t.Fatalf("cda.xml %q, %v", got, err)
	}
}

// appendTo prepares a pdfcpu-written PDF for incremental updates by
// pdfDoc: its catalog and first page, read with pdfcpu.
func appendTo(b []byte) (*pdfDoc, error) {
	ctx, err := api.ReadAndValidate(bytes.NewReader(b), pdfConfig())
	if err != nil {
		return nil, err
	}
	xt := ctx.XRefTable
	cat, err := xt.Catalog()
	if err != nil {
		return nil, err
	}
	page, ref, _, err := xt.PageDict(1, false)
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(b)
	if m == nil {
		return nil, strconv.ErrSyntax
	}
	prev, _ := strconv.Atoi(string(m[1]))
	return &pdfDoc{
		b: bytes.Clone(b), size: *xt.Size, prevXref: prev,
		catalogNr: xt.Root.ObjectNumber.Value(), pageNr: ref.ObjectNumber.Value(),
		catalogBase: strings.TrimSuffix(cat.PDFString(), ">>"),
		pageBase:    strings.TrimSuffix(page.PDFString(), ">>"),
	}, nil
}
