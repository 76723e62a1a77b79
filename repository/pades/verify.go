package pades

import (
	"bytes"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func (v *verifier) run() {
	if len(v.pdf) > v.cfg.MaxBytes {
		v.add(RuleUnreadable, "the PDF has %d bytes, more than the %d allowed", len(v.pdf), v.cfg.MaxBytes)
		return
	}
	if !bytes.HasPrefix(v.pdf, []byte("%PDF-")) {
		v.add(RuleUnreadable, "the file is not a PDF (it does not start with %%PDF-)")
		return
	}
	full, err := v.read(v.pdf)
	if err != nil {
		v.add(RuleUnreadable, "the PDF cannot be read: %v", err)
		return
	}
	fields, err := signatureFields(full)
	if err != nil {
		v.add(RuleUnreadable, "the PDF's signatures cannot be read: %v", err)
		return
	}
	approvals := 0
	for _, f := range fields {
		if !f.documentTimestamp() {
			approvals++
		}
	}
	if approvals == 0 && v.cfg.Policy == Required {
		v.add(RuleUnsigned, "the region requires signed PDFs and this one carries no signature")
	}
	if approvals > 1 && !v.cfg.MultipleSignatures {
		v.add(RuleMultiple, "the PDF carries %d signatures; the region accepts one", approvals)
	}
	revisions := map[int64]*revision{}
	for _, f := range fields {
		s := v.check(full, f, revisions)
		v.res.Signatures = append(v.res.Signatures, s)
		if !s.DocumentTimestamp && !v.res.Signed {
			v.res.Signed = true
			v.res.Signer, v.res.SigningTime, v.res.TimeSource = s.Signer, s.SigningTime, s.TimeSource
		}
	}
}

// revision is a signed revision: the prefix of the file a signature's
// byte range ends with, parsed, and what was appended after it.
type revision struct {
	ctx      *model.Context
	err      error
	appended bool
	changes  []string // what was appended that PAdES does not allow
}

// check verifies one signature field.
func (v *verifier) check(full *model.Context, f sigField, revisions map[int64]*revision) (s Signature) {
	s = Signature{Field: f.name, SubFilter: f.subFilter(), DocumentTimestamp: f.documentTimestamp()}
	before := len(v.problems)
	defer func() { s.Valid = len(v.problems) == before }()

	label := f.label()
	if s.DocumentTimestamp {
		if s.SubFilter != subFilterDocTimeTST {
			v.add(RuleSubFilter, "%s: document timestamp with SubFilter %q; PAdES document timestamps are %s", label, s.SubFilter, subFilterDocTimeTST)
			return s
		}
	} else if s.SubFilter != subFilterDetached && s.SubFilter != subFilterCAdES {
		v.add(RuleSubFilter, "%s: SubFilter %q is not accepted; fsenet accepts %s and %s", label, s.SubFilter, subFilterDetached, subFilterCAdES)
		return s
	}

	br, contents, err := v.byteRange(full.XRefTable, f)
	s.ByteRange = br
	if err != nil {
		v.add(RuleByteRange, "%s: %v", label, err)
		return s
	}
	end := br[2] + br[3]
	rev := v.revision(full, end, revisions)
	if rev.err != nil {
		v.add(RuleByteRange, "%s: the revision it signs (bytes 0 to %d) cannot be read: %v", label, end, rev.err)
		return s
	}
	if !sameObject(rev.ctx.XRefTable, full.XRefTable, f.home) {
		v.add(RuleByteRange, "%s: its signature dictionary is not the one of the revision its byte range covers", label)
		return s
	}
	s.Appended = rev.appended
	if len(rev.changes) > 0 && !s.DocumentTimestamp {
		for _, c := range rev.changes {
			v.add(RuleAppended, "%s: changed after signing: %s", label, c)
		}
	}

	signed := v.signedBytes(br)
	if s.DocumentTimestamp {
		v.checkDocumentTimestamp(&s, label, trimDER(contents), signed)
		return s
	}
	v.checkCMS(&s, f, label, trimDER(contents), signed)
	return s
}

// revision parses the signed revision ending at end (once for all the
// signatures that end there) and compares it with the whole file.
func (v *verifier) revision(full *model.Context, end int64, revisions map[int64]*revision) *revision {
	if r, ok := revisions[end]; ok {
		return r
	}
	r := &revision{}
	revisions[end] = r
	if end == int64(len(v.pdf)) {
		r.ctx = full
		return r
	}
	r.ctx, r.err = v.read(v.pdf[:end])
	if r.err != nil {
		return r
	}
	r.appended, r.changes = v.appendedChanges(r.ctx, full, end)
	return r
}
