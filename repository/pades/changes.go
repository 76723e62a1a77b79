package pades

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// What may follow a signed revision. PAdES (ETSI EN 319 142-1, 5.4)
// extends a signature by incremental updates that add validation data
// and document timestamps; ISO 32000 lets further signatures be added
// the same way. Verify accepts an appended update when, object by
// object, the file differs from the signed revision only by:
//
//   - a catalog whose /DSS, /AcroForm or /Extensions changed, every other
//     entry unchanged;
//   - new objects reachable from the catalog's /DSS (the Document
//     Security Store: certificates, CRLs, OCSP responses, VRI
//     dictionaries), and changes to objects that were already part of
//     the signed revision's DSS;
//   - new signature fields appended to the form's /Fields, each with
//     its signature dictionary (/Type /Sig or /DocTimeStamp, verified
//     in turn as a signature of its own) and the objects only it
//     references (its widget's appearance);
//   - an AcroForm changed only in /Fields (old fields kept, in order,
//     new signature fields after them) and /SigFlags;
//   - pages changed only in /Annots (old annotations kept, in order, the
//     new signature fields' widgets after them).
//
// Anything else (a changed or removed object, a new object nothing
// allowed refers to, another root, info dictionary or encryption, or
// bytes after the signed revision that are not an incremental update)
// is a change after signing (FIRMA-6). Cross-reference and object
// streams are containers, not content, and are not compared.

// appendedChanges compares the signed revision old (the file's first
// end bytes) with the whole file cur. It reports whether anything was
// appended and describes the changes PAdES does not allow.
func (v *verifier) appendedChanges(old, cur *model.Context, end int64) (bool, []string) {
	tail := v.pdf[end:]
	trimmed := bytes.TrimRight(tail, "\r\n\t\f\x00 ")
	if len(bytes.TrimLeft(trimmed, "\r\n\t\f\x00 ")) == 0 {
		return false, nil
	}
	if !bytes.HasSuffix(trimmed, []byte("%%EOF")) {
		return true, []string{fmt.Sprintf("%d bytes were appended after the signed revision that are not an incremental update", len(tail))}
	}
	d := &diff{old: old.XRefTable, cur: cur.XRefTable, visible: v.cfg.MultipleSignatures}
	d.compare()
	return true, d.changes
}

type diff struct {
	old, cur *model.XRefTable
	// visible accepts new approval signatures with a visible appearance.
	visible bool
	changes []string
	// newSigFields are the signature fields appended to the form.
	newSigFields []int
	// allowedNew are the new objects an allowed addition refers to.
	allowedNew map[int]bool
	// oldDSS are the objects of the signed revision's DSS.
	oldDSS map[int]bool
}

func (d *diff) change(format string, args ...any) {
	if len(d.changes) < 8 {
		d.changes = append(d.changes, fmt.Sprintf(format, args...))
	}
}

func refNr(o types.Object) (int, bool) {
	if r, ok := o.(types.IndirectRef); ok {
		return r.ObjectNumber.Value(), true
	}
	return 0, false
}

// objects returns the in-use, non-container objects of xt by number.
func objects(xt *model.XRefTable) map[int]types.Object {
	out := make(map[int]types.Object, len(xt.Table))
	for nr, e := range xt.Table {
		if nr == 0 || e == nil || e.Free || container(e.Object) {
			continue
		}
		out[nr] = e.Object
	}
	return out
}

// container reports cross-reference and object streams.
func container(o types.Object) bool {
	switch o := o.(type) {
	case types.ObjectStreamDict, types.XRefStreamDict, *types.ObjectStreamDict, *types.XRefStreamDict:
		return true
	case types.StreamDict:
		t := o.Type()
		return t != nil && (*t == "ObjStm" || *t == "XRef")
	}
	return false
}

// canonical is the content of an object, for comparison.
func canonical(o types.Object) string {
	switch o := o.(type) {
	case nil:
		return "null"
	case types.StreamDict:
		return o.Dict.PDFString() + "stream\n" + string(o.Raw)
	case *types.StreamDict:
		return o.Dict.PDFString() + "stream\n" + string(o.Raw)
	}
	return o.PDFString()
}

func (d *diff) compare() {
	if !sameRef(d.old.Root, d.cur.Root) {
		d.change("the document catalog was replaced")
		return
	}
	if !sameRef(d.old.Encrypt, d.cur.Encrypt) {
		d.change("the encryption dictionary was replaced")
	}
	if !sameRef(d.old.Info, d.cur.Info) {
		d.change("the document information dictionary was replaced")
	}
	oldObjs, curObjs := objects(d.old), objects(d.cur)
	catNr := d.old.Root.ObjectNumber.Value()
	oldCat, _ := oldObjs[catNr].(types.Dict)
	curCat, _ := curObjs[catNr].(types.Dict)
	if oldCat == nil || curCat == nil {
		d.change("the document catalog is not a dictionary")
		return
	}

	d.oldDSS = map[int]bool{}
	if o, ok := oldCat.Find("DSS"); ok {
		reach(d.old, o, func(nr int) bool { return true }, nil, d.oldDSS)
	}

	// The form: which fields were appended, and are they signatures.
	oldForm, oldFormNr := d.form(d.old, oldCat)
	curForm, curFormNr := d.form(d.cur, curCat)
	oldFields, oldFieldsNr := d.array(d.old, oldForm, "Fields")
	curFields, curFieldsNr := d.array(d.cur, curForm, "Fields")
	isNew := func(nr int) bool { _, had := oldObjs[nr]; _, has := curObjs[nr]; return has && !had }
	d.allowedNew = map[int]bool{}
	if extra, ok := appendedTo(oldFields, curFields); !ok {
		d.change("fields of the form were removed or reordered")
	} else {
		for _, o := range extra {
			nr, ok := refNr(o)
			if !ok || !isNew(nr) {
				d.change("the form's /Fields gained %s, which is no new field", o.PDFString())
				continue
			}
			sig, why := d.newSignatureField(nr)
			if why != "" {
				d.change("form field %d %s", nr, why)
			}
			if sig {
				d.newSigFields = append(d.newSigFields, nr)
				reach(d.cur, types.IndirectRef{ObjectNumber: types.Integer(nr)}, isNew, []string{"P", "Parent"}, d.allowedNew)
			}
		}
	}
	for _, key := range []string{"DSS", "Extensions"} {
		if o, ok := curCat.Find(key); ok {
			reach(d.cur, o, func(nr int) bool { return isNew(nr) || d.oldDSS[nr] }, nil, d.allowedNew)
		}
	}

	// Changed and removed objects.
	pages := map[int]bool{}
	annots := map[int]bool{}
	for nr, o := range oldObjs {
		if dict, ok := o.(types.Dict); ok && dict.Type() != nil && *dict.Type() == "Page" {
			pages[nr] = true
			if a, ok := refNr(dict["Annots"]); ok {
				annots[a] = true
			}
		}
	}
	var changed, removed []int
	for nr, o := range oldObjs {
		c, ok := curObjs[nr]
		if !ok {
			removed = append(removed, nr)
			continue
		}
		if canonical(o) == canonical(c) {
			continue
		}
		var ok2 bool
		switch {
		case nr == catNr:
			ok2 = d.catalogChange(oldCat, curCat, oldFormNr, curFormNr, oldForm, curForm)
		case nr == oldFormNr && nr == curFormNr:
			ok2 = d.formChange(oldForm, curForm, oldFieldsNr, curFieldsNr)
		case nr == oldFieldsNr && nr == curFieldsNr:
			ok2 = true // checked above: old fields kept, new signature fields appended
		case pages[nr]:
			ok2 = d.pageChange(o, c)
		case annots[nr]:
			ok2 = d.annotsChange(o, c)
		case d.oldDSS[nr]:
			ok2 = true
		}
		if !ok2 {
			changed = append(changed, nr)
		}
	}
	var added []int
	for nr := range curObjs {
		if _, had := oldObjs[nr]; !had && !d.allowedNew[nr] {
			added = append(added, nr)
		}
	}
	if len(changed) > 0 {
		d.change("%s changed", describe(d.old, oldObjs, changed))
	}
	if len(removed) > 0 {
		d.change("%s removed", describe(d.old, oldObjs, removed))
	}
	if len(added) > 0 {
		d.change("%s added, neither validation data (DSS) nor a signature", describe(d.cur, curObjs, added))
	}
}

func sameRef(a, b *types.IndirectRef) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.ObjectNumber == b.ObjectNumber
}

// form returns the AcroForm of a catalog and its object number (0 when
// it is direct or absent).
func (d *diff) form(xt *model.XRefTable, cat types.Dict) (types.Dict, int) {
	o, ok := cat.Find("AcroForm")
	if !ok {
		return nil, 0
	}
	nr, _ := refNr(o)
	f, err := xt.DereferenceDict(o)
	if err != nil {
		return nil, nr
	}
	return f, nr
}

// array returns the array under key of dict and its object number.
func (d *diff) array(xt *model.XRefTable, dict types.Dict, key string) (types.Array, int) {
	if dict == nil {
		return nil, 0
	}
	o, ok := dict.Find(key)
	if !ok {
		return nil, 0
	}
	nr, _ := refNr(o)
	a, err := xt.DereferenceArray(o)
	if err != nil {
		return nil, nr
	}
	return a, nr
}

// appendedTo reports whether cur is old with entries appended, and
// returns them.
func appendedTo(old, cur types.Array) (types.Array, bool) {
	if len(cur) < len(old) {
		return nil, false
	}
	for i := range old {
		if canonical(old[i]) != canonical(cur[i]) {
			return nil, false
		}
	}
	return cur[len(old):], true
}

// newSignatureField reports whether object nr of the file is a
// signature field whose value is a signature or document timestamp,
// and why it is not allowed when it is not (a visible appearance).
func (d *diff) newSignatureField(nr int) (bool, string) {
	const notSig = "was added and is not a signature field"
	f, err := d.cur.DereferenceDict(types.IndirectRef{ObjectNumber: types.Integer(nr)})
	if err != nil || f == nil {
		return false, notSig
	}
	if ft := f.NameEntry("FT"); ft == nil || *ft != "Sig" {
		return false, notSig
	}
	if _, ok := f.Find("Kids"); ok {
		return false, notSig
	}
	sd, err := d.cur.DereferenceDict(f["V"])
	if err != nil || sd == nil {
		return false, notSig
	}
	t := sd.Type()
	if t != nil && *t != "Sig" && *t != "DocTimeStamp" {
		return false, notSig
	}
	_, br := sd.Find("ByteRange")
	_, co := sd.Find("Contents")
	if !br || !co {
		return false, notSig
	}
	// A document timestamp shows nothing; nor does an approval signature
	// unless further signatures are accepted: a visible appearance added
	// after signing could cover what was signed.
	dts := t != nil && *t == "DocTimeStamp"
	if _, ap := f.Find("AP"); ap && (!d.visible || dts) && !zeroArea(d.cur, f["Rect"]) {
		if dts {
			return true, "is a document timestamp with a visible appearance"
		}
		return true, "is a further signature with a visible appearance"
	}
	return true, ""
}

// zeroArea reports a rectangle of no width or height.
func zeroArea(xt *model.XRefTable, o types.Object) bool {
	a, err := xt.DereferenceArray(o)
	if err != nil || len(a) != 4 {
		return false
	}
	var n [4]float64
	for i, e := range a {
		switch e := e.(type) {
		case types.Integer:
			n[i] = float64(e)
		case types.Float:
			n[i] = float64(e)
		default:
			return false
		}
	}
	return n[0] == n[2] || n[1] == n[3]
}

// onlyKeysDiffer reports whether a and b hold the same entries but
// for keys.
func onlyKeysDiffer(a, b types.Dict, keys ...string) bool {
	for k := range a {
		if !slices.Contains(keys, k) {
			if _, ok := b[k]; !ok {
				return false
			}
		}
	}
	for k, bv := range b {
		if slices.Contains(keys, k) {
			continue
		}
		av, ok := a[k]
		if !ok || canonical(av) != canonical(bv) {
			return false
		}
	}
	return true
}

func (d *diff) catalogChange(old, cur types.Dict, oldFormNr, curFormNr int, oldForm, curForm types.Dict) bool {
	if !onlyKeysDiffer(old, cur, "DSS", "AcroForm", "Extensions") {
		return false
	}
	_, hadForm := old.Find("AcroForm")
	switch {
	case oldFormNr != 0 || curFormNr != 0:
		// An indirect form must stay the same object (compared on its
		// own); a new one may only be added where the signed revision had
		// no form.
		return oldFormNr == curFormNr || (!hadForm && d.allowedFormObject(curFormNr))
	case hadForm:
		_, oldFieldsNr := d.array(d.old, oldForm, "Fields")
		_, curFieldsNr := d.array(d.cur, curForm, "Fields")
		return d.formChange(oldForm, curForm, oldFieldsNr, curFieldsNr)
	}
	return curForm == nil || d.formChange(nil, curForm, 0, 0)
}

// allowedFormObject: a new AcroForm object holding only new signature
// fields.
func (d *diff) allowedFormObject(nr int) bool {
	f, err := d.cur.DereferenceDict(types.IndirectRef{ObjectNumber: types.Integer(nr)})
	if err != nil || f == nil || !onlyKeysDiffer(types.Dict{}, f, "Fields", "SigFlags") {
		return false
	}
	d.allowedNew[nr] = true
	if fnr, ok := refNr(f["Fields"]); ok {
		d.allowedNew[fnr] = true
	}
	return true
}

func (d *diff) formChange(old, cur types.Dict, oldFieldsNr, curFieldsNr int) bool {
	if old == nil {
		old = types.Dict{}
	}
	if cur == nil || !onlyKeysDiffer(old, cur, "Fields", "SigFlags") {
		return false
	}
	// The fields array itself was checked (appendedTo); an indirect one
	// must stay the same object.
	return oldFieldsNr == curFieldsNr || oldFieldsNr == 0 && curFieldsNr == 0
}

func (d *diff) pageChange(old, cur types.Object) bool {
	o, ok1 := old.(types.Dict)
	c, ok2 := cur.(types.Dict)
	if !ok1 || !ok2 || !onlyKeysDiffer(o, c, "Annots") {
		return false
	}
	oldNr, oldRef := refNr(o["Annots"])
	curNr, curRef := refNr(c["Annots"])
	if oldRef || curRef {
		// An indirect annotation array is compared on its own.
		return oldRef && curRef && oldNr == curNr
	}
	oa, _ := o["Annots"].(types.Array)
	ca, _ := c["Annots"].(types.Array)
	return d.widgetsAppended(oa, ca)
}

func (d *diff) annotsChange(old, cur types.Object) bool {
	oa, ok1 := old.(types.Array)
	ca, ok2 := cur.(types.Array)
	return ok1 && ok2 && d.widgetsAppended(oa, ca)
}

// widgetsAppended: cur is old with widgets of new signature fields
// appended.
func (d *diff) widgetsAppended(old, cur types.Array) bool {
	extra, ok := appendedTo(old, cur)
	if !ok {
		return false
	}
	for _, o := range extra {
		nr, ok := refNr(o)
		if !ok || !d.allowedNew[nr] {
			return false
		}
		w, err := d.cur.DereferenceDict(o)
		if err != nil || w == nil {
			return false
		}
		if st := w.NameEntry("Subtype"); st == nil || *st != "Widget" {
			return false
		}
	}
	return true
}

// reach adds to out the objects reachable from o through objects that
// follow accepts, not following the keys skip.
func reach(xt *model.XRefTable, o types.Object, follow func(int) bool, skip []string, out map[int]bool) {
	const maxObjects = 1 << 16
	var walk func(o types.Object, depth int)
	walk = func(o types.Object, depth int) {
		if depth > 64 || len(out) > maxObjects {
			return
		}
		switch o := o.(type) {
		case types.IndirectRef:
			nr := o.ObjectNumber.Value()
			if out[nr] || !follow(nr) {
				return
			}
			out[nr] = true
			e, ok := xt.Find(nr)
			if ok && !e.Free {
				walk(e.Object, depth+1)
			}
		case types.Dict:
			for k, e := range o {
				if !slices.Contains(skip, k) {
					walk(e, depth+1)
				}
			}
		case types.StreamDict:
			walk(o.Dict, depth)
		case types.Array:
			for _, e := range o {
				walk(e, depth+1)
			}
		}
	}
	walk(o, 0)
}

// describe names objects for a message: "object 4 (a content stream)".
func describe(xt *model.XRefTable, objs map[int]types.Object, nrs []int) string {
	slices.Sort(nrs)
	var parts []string
	for i, nr := range nrs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(nrs)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d%s", nr, kind(objs[nr])))
	}
	word := "object"
	if len(nrs) > 1 {
		word = "objects"
	}
	return word + " " + strings.Join(parts, ", ")
}

func kind(o types.Object) string {
	var dict types.Dict
	switch o := o.(type) {
	case types.Dict:
		dict = o
	case types.StreamDict:
		if t := o.Type(); t != nil {
			return fmt.Sprintf(" (a /%s stream)", *t)
		}
		if st := o.Dict.NameEntry("Subtype"); st != nil {
			return fmt.Sprintf(" (a /%s stream)", *st)
		}
		return " (a stream)"
	case types.Array:
		return " (an array)"
	default:
		return ""
	}
	if t := dict.Type(); t != nil {
		return fmt.Sprintf(" (a /%s)", *t)
	}
	if st := dict.NameEntry("Subtype"); st != nil {
		return fmt.Sprintf(" (a /%s)", *st)
	}
	return ""
}
