package pades

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

var configOnce sync.Once

// pdfConfig is pdfcpu's configuration for this package: relaxed
// validation (real producers' PDFs are rarely perfect), no configuration
// directory written to the user's home, and never online.
func pdfConfig() *model.Configuration {
	configOnce.Do(func() { model.ConfigPath = "disable" })
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Offline = true
	return conf
}

// read parses b with pdfcpu, loading every object.
func (v *verifier) read(b []byte) (ctx *model.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctx, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return pdfcpu.ReadWithContext(v.ctx, bytes.NewReader(b), pdfConfig())
}

// sigField is a signed signature field.
type sigField struct {
	name string
	// dict is the signature dictionary (the field's /V), home the number
	// of the object that holds it.
	dict types.Dict
	home int
}

func (f sigField) label() string {
	if f.name != "" {
		return fmt.Sprintf("signature %q", f.name)
	}
	return fmt.Sprintf("signature in object %d", f.home)
}

func (f sigField) subFilter() string {
	if n := f.dict.NameEntry("SubFilter"); n != nil {
		return *n
	}
	return ""
}

// documentTimestamp: a /Type /DocTimeStamp dictionary, or one with the
// RFC 3161 SubFilter.
func (f sigField) documentTimestamp() bool {
	t := f.dict.Type()
	return (t != nil && *t == "DocTimeStamp") || f.subFilter() == subFilterDocTimeTST
}

// signatureFields returns the signed signature fields of the AcroForm of
// ctx's catalog, in the order of the form's field tree.
func signatureFields(ctx *model.Context) ([]sigField, error) {
	xt := ctx.XRefTable
	cat, err := xt.Catalog()
	if err != nil || cat == nil {
		return nil, errors.New("the PDF has no catalog")
	}
	o, ok := cat.Find("AcroForm")
	if !ok {
		return nil, nil
	}
	form, err := xt.DereferenceDict(o)
	if err != nil || form == nil {
		return nil, nil
	}
	fo, ok := form.Find("Fields")
	if !ok {
		return nil, nil
	}
	fields, err := xt.DereferenceArray(fo)
	if err != nil {
		return nil, fmt.Errorf("the form's /Fields: %v", err)
	}
	w := &fieldWalk{xt: xt, seen: map[int]bool{}}
	for _, f := range fields {
		if err := w.walk(f, "", "", 0); err != nil {
			return nil, err
		}
	}
	return w.out, nil
}

type fieldWalk struct {
	xt    *model.XRefTable
	seen  map[int]bool
	count int
	out   []sigField
}

const maxFieldDepth = 32

func (w *fieldWalk) walk(o types.Object, parentName, parentFT string, depth int) error {
	ref, ok := o.(types.IndirectRef)
	if !ok {
		return nil // fields are indirect objects; anything else is no field
	}
	nr := ref.ObjectNumber.Value()
	if w.seen[nr] {
		return nil
	}
	w.seen[nr] = true
	if w.count++; w.count > MaxFields {
		return fmt.Errorf("the form has more than %d fields", MaxFields)
	}
	if depth > maxFieldDepth {
		return fmt.Errorf("the form's field tree is deeper than %d", maxFieldDepth)
	}
	d, err := w.xt.DereferenceDict(ref)
	if err != nil || d == nil {
		return nil
	}
	name := parentName
	if t, err := w.xt.DereferenceStringOrHexLiteral(d["T"], model.V10, nil); err == nil && t != "" {
		if name != "" {
			name += "."
		}
		name += t
	}
	ft := parentFT
	if n := d.NameEntry("FT"); n != nil {
		ft = *n
	}
	if kids, ok := d.Find("Kids"); ok {
		arr, err := w.xt.DereferenceArray(kids)
		if err == nil {
			for _, k := range arr {
				if err := w.walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
		}
	}
	if ft != "Sig" {
		return nil
	}
	vo, ok := d.Find("V")
	if !ok || vo == nil {
		return nil // an empty signature field: nobody signed it
	}
	home := nr
	if vr, ok := vo.(types.IndirectRef); ok {
		home = vr.ObjectNumber.Value()
	}
	sd, err := w.xt.DereferenceDict(vo)
	if err != nil || sd == nil {
		return fmt.Errorf("signature field %q: /V is not a signature dictionary", name)
	}
	if len(w.out) == MaxSignatures {
		return fmt.Errorf("the PDF carries more than %d signatures", MaxSignatures)
	}
	w.out = append(w.out, sigField{name: name, dict: sd, home: home})
	return nil
}

// byteRange checks the /ByteRange of f against the file: two ranges,
// from the start of the file to the end of a revision, leaving out
// exactly the /Contents hex string of f. It returns the ranges and the
// decoded /Contents.
func (v *verifier) byteRange(xt *model.XRefTable, f sigField) ([4]int64, []byte, error) {
	var br [4]int64
	o, ok := f.dict.Find("ByteRange")
	if !ok {
		return br, nil, errors.New("the signature dictionary has no /ByteRange")
	}
	arr, err := xt.DereferenceArray(o)
	if err != nil || len(arr) != 4 {
		return br, nil, errors.New("/ByteRange is not an array of 4 integers")
	}
	for i, e := range arr {
		n, ok := e.(types.Integer)
		if !ok {
			return br, nil, errors.New("/ByteRange is not an array of 4 integers")
		}
		br[i] = int64(n.Value())
	}
	size := int64(len(v.pdf))
	switch {
	case br[0] != 0:
		return br, nil, fmt.Errorf("/ByteRange %v does not start at the beginning of the file", br)
	case br[1] <= 0 || br[2] <= br[1] || br[3] < 0:
		return br, nil, fmt.Errorf("/ByteRange %v is not two ordered ranges around the signature", br)
	case br[2] > size || br[3] > size-br[2] || br[2] > math.MaxInt64-br[3]:
		return br, nil, fmt.Errorf("/ByteRange %v reaches past the end of the file (%d bytes)", br, size)
	}
	gap := v.pdf[br[1]:br[2]]
	if len(gap) < 2 || gap[0] != '<' || gap[len(gap)-1] != '>' {
		return br, nil, fmt.Errorf("/ByteRange %v leaves out bytes that are not the signature's hex string", br)
	}
	digits := gap[1 : len(gap)-1]
	if len(digits) > 2*MaxContentsBytes {
		return br, nil, fmt.Errorf("the signature's /Contents is larger than %d bytes", MaxContentsBytes)
	}
	if len(digits)%2 != 0 {
		return br, nil, fmt.Errorf("/ByteRange %v leaves out a hex string of odd length", br)
	}
	unsigned := make([]byte, len(digits)/2)
	if _, err := hex.Decode(unsigned, digits); err != nil {
		return br, nil, fmt.Errorf("/ByteRange %v leaves out bytes that are not the signature's hex string", br)
	}
	co, ok := f.dict.Find("Contents")
	if !ok {
		return br, nil, errors.New("the signature dictionary has no /Contents")
	}
	hl, ok := co.(types.HexLiteral)
	if !ok {
		return br, nil, errors.New("/Contents is not a hex string")
	}
	contents, err := hl.Bytes()
	if err != nil || !bytes.Equal(contents, unsigned) {
		return br, nil, fmt.Errorf("/ByteRange %v leaves out bytes other than the signature's /Contents", br)
	}
	// The signature dictionary lies in the signed bytes, before the gap.
	if e, ok := xt.Find(f.home); !ok || e.Compressed || e.Offset == nil || *e.Offset >= br[1] {
		return br, nil, fmt.Errorf("/ByteRange %v does not leave out the /Contents of this signature's own dictionary", br)
	}
	end := br[2] + br[3]
	if !bytes.HasSuffix(bytes.TrimRight(v.pdf[:end], "\r\n\t\f\x00 "), []byte("%%EOF")) {
		return br, nil, fmt.Errorf("/ByteRange %v does not cover a whole revision (it ends at byte %d, not after an %%%%EOF)", br, end)
	}
	return br, contents, nil
}

// signedBytes returns the bytes the ranges br cover.
func (v *verifier) signedBytes(br [4]int64) []byte {
	out := make([]byte, 0, br[1]+br[3])
	out = append(out, v.pdf[br[0]:br[0]+br[1]]...)
	return append(out, v.pdf[br[2]:br[2]+br[3]]...)
}

// trimDER cuts the zero padding after a DER or BER value: signers
// reserve /Contents larger than the CMS and fill the rest with zeros.
func trimDER(b []byte) []byte {
	if n := derLen(b); n > 0 && n <= len(b) {
		return b[:n]
	}
	return b
}

// derLen is the length of the first definite-length TLV of b (0 when
// it has an indefinite length or cannot be read: BER is left whole).
func derLen(b []byte) int {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0
	}
	l := int(b[1])
	if l < 0x80 {
		return 2 + l
	}
	n := l & 0x7f
	if n == 0 || n > 4 || len(b) < 2+n {
		return 0
	}
	l = 0
	for _, c := range b[2 : 2+n] {
		l = l<<8 | int(c)
	}
	if l < 0 || l > len(b) {
		return 0
	}
	return 2 + n + l
}
