// Package pdfcda reads and writes the file format of the FSE 2.0 gateway:
// a PDF (the document as people read it) carrying the HL7 CDA as an
// embedded file named cda.xml. PDFs are read with pdfcpu, which turns its
// own failures (and panics) on malformed input into errors; this package
// adds the checks a gateway needs before and after: the PDF header, the
// attachment's name and its size.
package pdfcda

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// AttachmentName is the name the FSE gateway gives the embedded CDA.
const AttachmentName = "cda.xml"

// MaxCDABytes bounds the embedded CDA.
const MaxCDABytes = 16 << 20

// Errors of Extract.
var (
	ErrNotPDF    = errors.New("pdfcda: the file is not a PDF")
	ErrMalformed = errors.New("pdfcda: the PDF cannot be read")
	ErrNoCDA     = errors.New("pdfcda: the PDF has no embedded cda.xml")
	ErrTooLarge  = errors.New("pdfcda: the embedded cda.xml is too large")
)

var configOnce sync.Once

// config is pdfcpu's configuration for this package: relaxed validation
// (real producers' PDFs are rarely perfect), and no configuration
// directory written to the user's home.
func config() *model.Configuration {
	configOnce.Do(func() { model.ConfigPath = "disable" })
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	return conf
}

// Extract returns the embedded cda.xml of the PDF read from rs.
func Extract(rs io.ReadSeeker) ([]byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(rs, head[:]); err != nil || string(head[:]) != "%PDF-" {
		return nil, ErrNotPDF
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if b, err := embeddedCDA(rs); err == nil || errors.Is(err, ErrTooLarge) {
		return b, err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	aa, err := api.ExtractAttachmentsRaw(rs, "", nil, config())
	if err != nil {
		if strings.Contains(err.Error(), "no attachments") {
			return nil, ErrNoCDA
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	for _, a := range aa {
		if !strings.EqualFold(a.FileName, AttachmentName) && !strings.EqualFold(a.ID, AttachmentName) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(a, MaxCDABytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(b) > MaxCDABytes {
			return nil, ErrTooLarge
		}
		return b, nil
	}
	return nil, ErrNoCDA
}

// embeddedCDA reads cda.xml by walking the catalog's EmbeddedFiles name
// tree itself, without pdfcpu's validation pass over every object (which
// also decodes the attachment twice): the way every PDF made as the
// national gateway's format carries it. Anything it cannot walk is an
// error, and Extract then tries pdfcpu's full reading.
func embeddedCDA(rs io.ReadSeeker) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("unreadable PDF structure: %v", r)
		}
	}()
	ctx, err := api.ReadContext(rs, config())
	if err != nil {
		return nil, err
	}
	xt := ctx.XRefTable
	cat, err := xt.Catalog()
	if err != nil {
		return nil, err
	}
	names, err := xt.DereferenceDict(cat["Names"])
	if err != nil || names == nil {
		return nil, errors.New("no Names dictionary")
	}
	tree, err := xt.DereferenceDict(names["EmbeddedFiles"])
	if err != nil || tree == nil {
		return nil, errors.New("no EmbeddedFiles")
	}
	spec, err := findSpec(xt, tree, 0)
	if err != nil {
		return nil, err
	}
	ef, err := xt.DereferenceDict(spec["EF"])
	if err != nil || ef == nil {
		return nil, errors.New("no EF in the file specification")
	}
	sd, _, err := xt.DereferenceStreamDict(ef["F"])
	if err != nil || sd == nil {
		return nil, errors.New("no embedded file stream")
	}
	out, err := sd.DecodeLengthWithLimit(-1, MaxCDABytes+1)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxCDABytes {
		return nil, ErrTooLarge
	}
	return out, nil
}

// findSpec finds cda.xml's file specification in a name tree node: its
// Names pairs, then its Kids (a bounded walk).
func findSpec(xt *model.XRefTable, node types.Dict, depth int) (types.Dict, error) {
	if depth > 8 {
		return nil, errors.New("name tree too deep")
	}
	pairs, _ := xt.DereferenceArray(node["Names"])
	for i := 0; i+1 < len(pairs) && i < 512; i += 2 {
		name, err := xt.DereferenceStringOrHexLiteral(pairs[i], model.V10, nil)
		if err != nil {
			continue
		}
		spec, err := xt.DereferenceDict(pairs[i+1])
		if err != nil || spec == nil {
			continue
		}
		file := name
		for _, k := range []string{"UF", "F"} {
			if f, err := xt.DereferenceStringOrHexLiteral(spec[k], model.V10, nil); err == nil && f != "" {
				file = f
				break
			}
		}
		if strings.EqualFold(name, AttachmentName) || strings.EqualFold(file, AttachmentName) {
			return spec, nil
		}
	}
	kids, _ := xt.DereferenceArray(node["Kids"])
	for i, k := range kids {
		if i >= 64 {
			break
		}
		kid, err := xt.DereferenceDict(k)
		if err != nil || kid == nil {
			continue
		}
		if spec, err := findSpec(xt, kid, depth+1); err == nil {
			return spec, nil
		}
	}
	return nil, ErrNoCDA
}

// Embed writes a PDF of one page showing lines of text, with cda
// embedded as cda.xml.
func Embed(w io.Writer, lines []string, cda []byte) error {
	return embedIn(w, textPDF(lines, nil), AttachmentName, cda)
}

// EmbedScan is Embed with a scanned image on the page too: grey, 8 bits
// a pixel, 1024 pixels a row (padded with white to whole rows). A
// document's size mostly lies in such images.
func EmbedScan(w io.Writer, lines []string, cda, grey []byte) error {
	return embedIn(w, textPDF(lines, grey), AttachmentName, cda)
}

// EmbedFile is Embed with another attachment name (a PDF the gateway must
// refuse, for tests).
func EmbedFile(w io.Writer, lines []string, name string, data []byte) error {
	return embedIn(w, textPDF(lines, nil), name, data)
}

func embedIn(w io.Writer, page []byte, name string, data []byte) error {
	conf := config()
	ctx, err := api.ReadValidateAndOptimize(bytes.NewReader(page), conf)
	if err != nil {
		return fmt.Errorf("pdfcda: base page: %w", err)
	}
	mod := time.Now().UTC()
	if err := ctx.AddAttachment(model.Attachment{Reader: bytes.NewReader(data), ID: name, FileName: name,
		Desc: "HL7 CDA R2", ModTime: &mod}, false); err != nil {
		return fmt.Errorf("pdfcda: embed %s: %w", name, err)
	}
	if err := api.WriteContext(ctx, w); err != nil {
		return fmt.Errorf("pdfcda: write: %w", err)
	}
	return nil
}

// textPDF returns a minimal one-page PDF (A4, Helvetica) showing lines,
// and the grey image when there is one.
func textPDF(lines []string, grey []byte) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 11 Tf 56 780 Td 14 TL\n")
	for _, l := range lines {
		content.WriteString("(" + pdfString(l) + ") Tj T*\n")
	}
	content.WriteString("ET\n")
	resources := "/Font << /F1 4 0 R >>"
	if len(grey) > 0 {
		content.WriteString("q 483 0 0 600 56 100 cm /Im1 Do Q\n")
		resources += " /XObject << /Im1 6 0 R >>"
	}
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << " + resources + " >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
	}
	if len(grey) > 0 {
		const width = 1024
		rows := (len(grey) + width - 1) / width
		pixels := append(bytes.Clone(grey), bytes.Repeat([]byte{0xff}, rows*width-len(grey))...)
		objects = append(objects, fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream",
			width, rows, len(pixels), pixels))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// pdfString escapes s for a PDF literal string, keeping Latin-1 letters
// (WinAnsi) and replacing anything else with '?'.
func pdfString(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
