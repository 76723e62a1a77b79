package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/store"
)

// IHE MHD ITI-65 (Provide Document Bundle) for FHIR documents:
//
//	POST /fhir  (application/fhir+json)
//
// a transaction Bundle with exactly three entries — the SubmissionSet
// (List), one DocumentReference and the document that its attachment.url
// names: a Binary carrying the FHIR document Bundle (contentType
// application/fhir+json, base64 in data), or the document Bundle itself
// as an entry (POST Bundle), as IHE's own example does — and, in the
// transaction Bundle's signature (sigFormat application/jose), the
// producer organisation's detached JWS (RFC 7797, b64 false) over the
// document's bytes, signed with a key the region registered for that
// producer. The document's bytes are the Binary's decoded data, or, for
// an embedded Bundle, the entry's resource exactly as the transaction
// carries it; those bytes are what is hashed, signed, stored and served.
// The two tokens are the gateway's: FSE-JWT-Signature with action_id
// CREATE, attachment_hash the SHA-256 of the document's bytes,
// resource_hl7_type the document type and person_id the patient. The document is checked (a document Bundle whose first
// entry is a Composition of an FSE type, about a registered patient named
// by codice fiscale) in the same request: there is no separate validation
// call for FHIR documents.

// SignDocument makes the detached JWS (RFC 7797: b64 false, crit b64)
// over a document's bytes that POST /fhir expects in the transaction
// Bundle's signature, with a producer's private key (kid and alg set).
func SignDocument(key jwk.Key, doc []byte) (string, error) {
	kid, _ := key.KeyID()
	alg, ok := key.Algorithm()
	if kid == "" || !ok {
		return "", errors.New("gateway: the signing key needs a kid and an alg")
	}
	sa, ok := alg.(interface{ String() string })
	if !ok {
		return "", errors.New("gateway: the key's alg is not a signature algorithm")
	}
	salg, ok := jwaSignature(sa.String())
	if !ok {
		return "", fmt.Errorf("gateway: %s is not a signature algorithm", sa.String())
	}
	h := jws.NewHeaders()
	if err := errors.Join(h.Set(jws.KeyIDKey, kid), h.Set("b64", false), h.Set(jws.CriticalKey, []string{"b64"})); err != nil {
		return "", err
	}
	b, err := jws.Sign(nil, jws.WithKey(salg, key, jws.WithProtectedHeaders(h)), jws.WithDetachedPayload(doc))
	return string(b), err
}

// verifyDocumentSignature checks a detached JWS over doc against a
// producer's keys: one signature, a kid naming one of them, b64 false.
func verifyDocumentSignature(sig string, doc []byte, keys jwk.Set) error {
	if len(sig) > 8<<10 {
		return errors.New("signature larger than 8 KiB")
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		return errors.New("want a compact JWS with a detached payload (header..signature)")
	}
	msg, err := jws.Parse([]byte(sig), jws.WithCompact())
	if err != nil {
		return fmt.Errorf("not a JWS: %w", err)
	}
	if len(msg.Signatures()) != 1 {
		return errors.New("want one signature")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if b64, ok := hdr.B64(); !ok || b64 {
		return errors.New("want b64 false (RFC 7797): the signature is over the document's bytes")
	}
	_, err = jws.Verify([]byte(sig), jws.WithKeySet(keys, jws.WithRequireKid(true), jws.WithUseDefault(false), jws.WithInferAlgorithmFromKey(false)),
		jws.WithDetachedPayload(doc))
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// writeTransactionResponse answers a committed ITI-65 request.
func writeTransactionResponse(w http.ResponseWriter, docID string) {
	rid := index.ResourceID(docID)
	created := "201 Created"
	resp := fhir.Bundle{Type: fhir.BundleTypeTransactionResponse, Entry: []fhir.BundleEntry{
		{Response: &fhir.BundleEntryResponse{Status: created}},
		{Response: &fhir.BundleEntryResponse{Status: created, Location: ptr("DocumentReference/" + rid)}},
		{Response: &fhir.BundleEntryResponse{Status: created, Location: ptr("Binary/" + rid)}},
	}}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// entryKind is the resourceType of an ITI-65 transaction's entry.
type entryKind string

// The kinds of entry an ITI-65 transaction carries.
const (
	kindList    entryKind = "List"              // the SubmissionSet
	kindDocRef  entryKind = "DocumentReference" // the document's metadata
	kindBinary  entryKind = "Binary"            // the document, base64 in data
	kindBundle  entryKind = "Bundle"            // the document itself
	kindMissing entryKind = ""                  // no entry of its kind yet
)

// fhirEntry is one entry of an ITI-65 transaction.
type fhirEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	kind     entryKind
}

// readProvideBundle splits an ITI-65 transaction into its three entries;
// the document's entry is a Binary or a Bundle (its kind says which).
func readProvideBundle(b []byte) (bundle fhir.Bundle, list, docRef, binary fhirEntry, err error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err = json.Unmarshal(b, &probe); err != nil || probe.ResourceType != "Bundle" {
		return bundle, list, docRef, binary, errors.New("want a FHIR Bundle (resourceType Bundle)")
	}
	if bundle, err = fhir.UnmarshalBundle(b); err != nil {
		return bundle, list, docRef, binary, fmt.Errorf("not a valid FHIR R4 Bundle: %v", err)
	}
	if bundle.Type != fhir.BundleTypeTransaction {
		return bundle, list, docRef, binary, errors.New("want a Bundle of type transaction (IHE MHD ITI-65)")
	}
	if len(bundle.Entry) != 3 {
		return bundle, list, docRef, binary, fmt.Errorf("want 3 entries (SubmissionSet List, DocumentReference, the document as a Binary or a Bundle), got %d", len(bundle.Entry))
	}
	for _, e := range bundle.Entry {
		var rt struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(e.Resource, &rt) != nil || e.Request == nil || e.Request.Method != fhir.HTTPVerbPOST {
			return bundle, list, docRef, binary, errors.New("every entry must be a resource created with POST")
		}
		fe := fhirEntry{Resource: e.Resource, kind: entryKind(rt.ResourceType)}
		if e.FullUrl != nil {
			fe.FullURL = *e.FullUrl
		}
		var dst *fhirEntry
		switch fe.kind {
		case kindList:
			dst = &list
		case kindDocRef:
			dst = &docRef
		case kindBinary, kindBundle:
			dst = &binary
		default:
			return bundle, list, docRef, binary, fmt.Errorf("unexpected %s entry: want List, DocumentReference and the document (Binary or Bundle)", rt.ResourceType)
		}
		if dst.kind != kindMissing {
			return bundle, list, docRef, binary, fmt.Errorf("two %s entries", strings.Join([]string{string(dst.kind), rt.ResourceType}, " and "))
		}
		*dst = fe
	}
	if list.kind == kindMissing || docRef.kind == kindMissing || binary.kind == kindMissing {
		return bundle, list, docRef, binary, errors.New("want one List, one DocumentReference and the document (one Binary or one Bundle)")
	}
	return bundle, list, docRef, binary, nil
}

// fhirDocument is what the index needs from a FHIR document Bundle.
type fhirDocument struct {
	Type    string
	Patient ident.ID
	Date    time.Time
}

// readFHIRDocument checks a FHIR document Bundle: type document, a
// Composition first, of an FSE document type, whose subject is a Patient
// of the Bundle identified by codice fiscale (or STP/ENI code).
func readFHIRDocument(b []byte) (fhirDocument, error) {
	var d fhirDocument
	doc, err := fhir.UnmarshalBundle(b)
	if err != nil {
		return d, fmt.Errorf("the document is not a FHIR R4 Bundle: %v", err)
	}
	if doc.Type != fhir.BundleTypeDocument || len(doc.Entry) == 0 {
		return d, errors.New("the document must be a Bundle of type document with a Composition first")
	}
	comp, err := fhir.UnmarshalComposition(doc.Entry[0].Resource)
	if err != nil {
		return d, errors.New("the document's first entry must be a Composition")
	}
	for _, c := range comp.Type.Coding {
		if c.System != nil && *c.System == doctype.LOINCSystem && c.Code != nil {
			d.Type = *c.Code
		}
	}
	if _, ok := doctype.Lookup(d.Type); !ok {
		return d, fmt.Errorf("Composition.type %q is not an FSE document type (LOINC)", d.Type)
	}
	if d.Date, err = time.Parse(time.RFC3339, comp.Date); err != nil {
		return d, fmt.Errorf("Composition.date %q: want a dateTime with a time zone", comp.Date)
	}
	if comp.Subject == nil || comp.Subject.Reference == nil {
		return d, errors.New("Composition.subject must reference the Patient")
	}
	for _, e := range doc.Entry[1:] {
		if e.FullUrl == nil || *e.FullUrl != *comp.Subject.Reference {
			continue
		}
		p, err := fhir.UnmarshalPatient(e.Resource)
		if err != nil {
			return d, errors.New("Composition.subject is not a Patient")
		}
		for _, id := range p.Identifier {
			if id.Value == nil {
				continue
			}
			system := ""
			if id.System != nil {
				system = *id.System
			}
			if pid, err := ident.ParseSystem(system, *id.Value); err == nil {
				d.Patient = pid
				return d, nil
			}
		}
		return d, errors.New("the Patient has no valid codice fiscale, STP or ENI identifier")
	}
	return d, errors.New("Composition.subject names no Patient of the document")
}

// codeOf is the first code of a CodeableConcept, or "".
func codeOf(cc *fhir.CodeableConcept) string {
	if cc == nil {
		return ""
	}
	for _, c := range cc.Coding {
		if c.Code != nil {
			return *c.Code
		}
	}
	return ""
}

// provide is POST /fhir: IHE MHD ITI-65 for FHIR documents. Each step
// answers the producer when it refuses the request; they run in this
// order, so a request with several faults is answered for the first.
func (g *Gateway) provide(w http.ResponseWriter, r *http.Request) {
	q, ok := g.begin(w, r, changeProvide.action)
	if !ok {
		return
	}
	tx, ok := g.readProvide(q)
	if !ok {
		return
	}
	sum, ok := g.checkBinding(q, tx)
	if !ok {
		return
	}
	fd, class, ok := g.checkFHIRDocument(q, tx)
	if !ok {
		return
	}
	docID, replaces, ok := g.provideTarget(q, tx.docRef, fd)
	if !ok {
		return
	}
	m, err := readDocRefMetadata(tx.docRef)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	orgSystem, orgID := q.authorOrgID(docRefAuthorOrg(tx.docRef))
	g.commit(q, storeEntry{
		entry: index.Entry{ID: docID, Patient: fd.Patient.String(), Type: fd.Type, Class: class, Setting: m.setting, Facility: m.facility,
			ServiceStart: m.start.UTC(), ServiceStop: m.stop.UTC(), Created: fd.Date.UTC(), AuthorOrg: organization(q), Custodian: g.cfg.Region,
			AuthorOrgSystem: orgSystem, AuthorOrgID: orgID,
			Hash: sum, Size: int64(len(tx.doc)), MIME: "application/fhir+json", Confidentiality: m.conf, Replaces: replaces},
		content: bytes.NewReader(tx.doc), change: changeProvide,
	})
}

// provideRequest is an ITI-65 transaction, read and split.
type provideRequest struct {
	bundle fhir.Bundle // the transaction, for its signature
	docRef fhir.DocumentReference
	doc    []byte // the document's bytes: what is hashed, signed, stored and served
}

// readProvide reads an ITI-65 request's body and splits its transaction:
// FHIR JSON, a document of at most MaxFileBytes, and a DocumentReference
// whose one attachment names the document's entry. On failure it has
// answered.
func (g *Gateway) readProvide(q *request) (*provideRequest, bool) {
	if mt := strings.ToLower(q.r.Header.Get("Content-Type")); !strings.HasPrefix(mt, "application/fhir+json") && !strings.HasPrefix(mt, "application/json") {
		q.problem(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type", "POST /fhir takes application/fhir+json")
		return nil, false
	}
	// base64 makes the document a third larger inside the Bundle.
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, g.cfg.MaxFileBytes/3*4+1<<20))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the document exceeds %d bytes", g.cfg.MaxFileBytes))
		} else {
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the body could not be read")
		}
		return nil, false
	}
	bundle, _, drEntry, docEntry, err := readProvideBundle(body)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return nil, false
	}
	doc, ok := documentBytes(q, docEntry)
	if !ok {
		return nil, false
	}
	if int64(len(doc)) > g.cfg.MaxFileBytes {
		q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the document exceeds %d bytes", g.cfg.MaxFileBytes))
		return nil, false
	}
	dr, err := fhir.UnmarshalDocumentReference(drEntry.Resource)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "not a valid FHIR R4 DocumentReference: "+err.Error())
		return nil, false
	}
	if len(dr.Content) != 1 || dr.Content[0].Attachment.Url == nil || *dr.Content[0].Attachment.Url != docEntry.FullURL || docEntry.FullURL == "" {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the DocumentReference's one attachment must name the document entry's fullUrl")
		return nil, false
	}
	return &provideRequest{bundle: bundle, docRef: dr, doc: doc}, true
}

// documentBytes returns the document's bytes from its entry: an embedded
// document Bundle as the transaction carries it, byte for byte, or a
// Binary's decoded data. On failure it has answered.
func documentBytes(q *request, e fhirEntry) ([]byte, bool) {
	if e.kind == kindBundle {
		return e.Resource, true
	}
	bin, err := fhir.UnmarshalBinary(e.Resource)
	if err != nil || bin.Data == nil || bin.ContentType != "application/fhir+json" {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the Binary must carry the FHIR document (contentType application/fhir+json) in data")
		return nil, false
	}
	doc, err := base64.StdEncoding.DecodeString(*bin.Data)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "Binary.data is not base64")
		return nil, false
	}
	return doc, true
}

// checkBinding checks what binds the request to its document: the
// signature token's attachment_hash, then the producer's own detached JWS
// in the transaction's signature, verified with the keys registered for
// the token's issuer. It returns the document's SHA-256, hex; on failure
// it has answered.
func (g *Gateway) checkBinding(q *request, tx *provideRequest) (string, bool) {
	sum := sha256Hex(tx.doc)
	if !strings.EqualFold(q.sig.AttachmentHash, sum) {
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "attachment_hash is not the SHA-256 of the document's bytes")
		return "", false
	}
	sig := tx.bundle.Signature
	if sig == nil || sig.Data == nil || sig.SigFormat == nil || *sig.SigFormat != "application/jose" {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the transaction Bundle must carry the producer's detached JWS over the document in signature (sigFormat application/jose)")
		return "", false
	}
	jwsBytes, err := base64.StdEncoding.DecodeString(*sig.Data)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "signature.data is not base64")
		return "", false
	}
	keys, ok := g.producerKeys(q.sig.Issuer)
	if !ok {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the producer is not registered")
		return "", false
	}
	if err := verifyDocumentSignature(string(jwsBytes), tx.doc, keys.Keys); err != nil {
		q.log.Info("refused document signature", "reason", err.Error())
		q.problem(http.StatusForbidden, ptClaimMismatch, "Signature refused", "the document's signature does not verify with the producer's registered keys")
		return "", false
	}
	return sum, true
}

// checkFHIRDocument checks the document and what the request says of it:
// a document Bundle of an FSE type (readFHIRDocument), described alike by
// the DocumentReference, whose type and patient are the signature token's,
// about a patient of the national registry. It returns the document and
// its class; on failure it has answered.
func (g *Gateway) checkFHIRDocument(q *request, tx *provideRequest) (fhirDocument, doctype.Class, bool) {
	fd, err := readFHIRDocument(tx.doc)
	if err != nil {
		g.invalidCDA(q, []cda.Failure{{Rule: "FHIR-document", Message: err.Error()}})
		return fd, "", false
	}
	q.patient = fd.Patient.String()
	class := documentClass(tx.docRef)
	if fails := docRefFailures(tx.docRef, fd, class); len(fails) > 0 {
		g.invalidCDA(q, fails)
		return fd, "", false
	}
	switch {
	case !sameType(q.sig.ResourceHL7Type, fd.Type):
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "resource_hl7_type is not the document's type")
		return fd, "", false
	case !samePerson(q.sig.PersonID, fd.Patient):
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "person_id is not the document's patient")
		return fd, "", false
	}
	if !g.registeredPatient(q, fd.Patient) {
		return fd, "", false
	}
	return fd, class, true
}

// documentClass is the DocumentReference's class (tipoDocumentoLivAlto):
// the last category that has a code.
func documentClass(dr fhir.DocumentReference) doctype.Class {
	class := doctype.Class("")
	for _, c := range dr.Category {
		if code := codeOf(&c); code != "" {
			class = doctype.Class(code)
		}
	}
	return class
}

// docRefFailures lists where the DocumentReference disagrees with its
// document: its type (else its class, against the type), and its subject
// when it names one.
func docRefFailures(dr fhir.DocumentReference, fd fhirDocument, class doctype.Class) []cda.Failure {
	var fails []cda.Failure
	switch {
	case codeOf(dr.Type) != fd.Type:
		fails = append(fails, cda.Failure{Rule: "FHIR-type", Message: fmt.Sprintf("DocumentReference.type %q is not the Composition's %s", codeOf(dr.Type), fd.Type)})
	case doctype.Check(fd.Type, class) != nil:
		fails = append(fails, cda.Failure{Rule: "HDR-tipoDocumentoLivAlto", Message: doctype.Check(fd.Type, class).Error()})
	}
	if dr.Subject != nil && dr.Subject.Identifier != nil && dr.Subject.Identifier.Value != nil {
		if id, err := ident.Parse(*dr.Subject.Identifier.Value); err != nil || id != fd.Patient {
			fails = append(fails, cda.Failure{Rule: "FHIR-subject", Message: "DocumentReference.subject is not the document's patient"})
		}
	}
	return fails
}

// provideTarget returns the id of the version to publish (the
// masterIdentifier, an FSE document id of this region) and the one it
// replaces, if any, which must be the caller organisation's. On failure
// it has answered.
func (g *Gateway) provideTarget(q *request, dr fhir.DocumentReference, fd fhirDocument) (docID, replaces string, ok bool) {
	if dr.MasterIdentifier == nil || dr.MasterIdentifier.Value == nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "DocumentReference.masterIdentifier must be the FSE document id")
		return "", "", false
	}
	docID = *dr.MasterIdentifier.Value
	if region, _, err := index.ParseDocumentID(docID); err != nil || region != g.cfg.Region {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", fmt.Sprintf("masterIdentifier: want an FSE document id of region %s (2.16.840.1.113883.2.9.2.%s.4.4^<local id>)", g.cfg.Region, g.cfg.Region))
		return "", "", false
	}
	for _, rel := range dr.RelatesTo {
		if rel.Code == fhir.DocumentRelationshipTypeReplaces && rel.Target.Identifier != nil && rel.Target.Identifier.Value != nil {
			replaces = *rel.Target.Identifier.Value
		}
	}
	if replaces != "" {
		if _, ok := g.ownDocument(q, replaces); !ok {
			return "", "", false
		}
		q.patient = fd.Patient.String()
	}
	q.docs = []string{docID}
	return docID, replaces, true
}

// docRefMetadata are the index metadata a DocumentReference declares.
type docRefMetadata struct {
	conf              string // confidentiality: N unless a label says R or V
	setting, facility string // assettoOrganizzativo, tipologiaStruttura
	start, stop       time.Time
}

// readDocRefMetadata reads the DocumentReference's metadata; it refuses
// a setting or facility type that is not of the gateway's enumerations.
func readDocRefMetadata(dr fhir.DocumentReference) (docRefMetadata, error) {
	m := docRefMetadata{conf: "N"}
	for _, l := range dr.SecurityLabel {
		if c := codeOf(&l); slices.Contains([]string{"N", "R", "V"}, c) {
			m.conf = c
		}
	}
	if ctx := dr.Context; ctx != nil {
		m.setting, m.facility = codeOf(ctx.PracticeSetting), codeOf(ctx.FacilityType)
		if ctx.Period != nil && ctx.Period.Start != nil {
			m.start, _ = time.Parse(time.RFC3339, *ctx.Period.Start)
		}
		if ctx.Period != nil && ctx.Period.End != nil {
			m.stop, _ = time.Parse(time.RFC3339, *ctx.Period.End)
		}
	}
	var c checker
	c.enum("context.practiceSetting", m.setting, assetti, false)
	c.enum("context.facilityType", m.facility, tipologieStruttura, false)
	return m, c.err()
}

// storeEntry is a new version to store and index.
type storeEntry struct {
	entry   index.Entry
	content io.Reader // its bytes, hashing to entry.Hash
	change  change    // a publication or a replace
}

// commit stores a new version with its index command and waits for the
// federation. A retry of an earlier request (the same workflow, or the
// same document id with the same bytes) is answered as the first was and
// stores nothing.
func (g *Gateway) commit(q *request, s storeEntry) {
	if q.wii == "" {
		q.wii = g.newWorkflowID(s.entry.Hash)
	}
	if prev, err := g.d.Store.Workflow(q.wii, string(s.change.operation)); err == nil {
		g.answerExisting(q, prev, s.change)
		return
	}
	if d, err := g.d.Store.Document(s.entry.ID); err == nil {
		if d.Entry.Hash == s.entry.Hash {
			if prev, err := g.d.Store.Workflow(d.Workflow, string(s.change.operation)); err == nil {
				q.wii = prev.ID
				g.answerExisting(q, prev, s.change)
				return
			}
		}
		q.problem(http.StatusConflict, ptConflict, "Conflict", "the document id is already used by another document")
		return
	}
	blob, err := g.d.Store.Stage(q.r.Context(), s.content)
	if err != nil {
		q.log.Error("store the content", "err", err)
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the document could not be stored; retry")
		return
	}
	now := g.d.Now().UTC()
	e := s.entry
	operation := string(s.change.operation)
	op, err := g.d.Store.Submit(store.Submission{Blob: blob,
		Doc: &store.Document{ID: e.ID, Entry: e, State: store.StatePending, Workflow: q.wii, Stored: now},
		Op:  &store.Op{Kind: store.OpPublish, Doc: e.ID, Workflow: q.wii, Operation: operation, Entry: &e},
		Workflow: store.Workflow{ID: q.wii, Operation: operation, Doc: e.ID, Status: store.WorkflowPending,
			Issuer: organization(q), TraceID: q.trace(), Created: now, Updated: now}})
	if err != nil {
		blob.Discard()
		g.submitFailed(q, err)
		return
	}
	g.finish(q, op, s.change)
}

// jwaSignature maps an alg name to jwx's signature algorithm.
func jwaSignature(name string) (jwa.SignatureAlgorithm, bool) {
	return jwa.LookupSignatureAlgorithm(name)
}
