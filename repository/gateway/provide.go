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

func ptr[T any](v T) *T { return &v }

type fhirEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	kind     string
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
		fe := fhirEntry{Resource: e.Resource, kind: rt.ResourceType}
		if e.FullUrl != nil {
			fe.FullURL = *e.FullUrl
		}
		var dst *fhirEntry
		switch rt.ResourceType {
		case "List":
			dst = &list
		case "DocumentReference":
			dst = &docRef
		case "Binary", "Bundle":
			dst = &binary
		default:
			return bundle, list, docRef, binary, fmt.Errorf("unexpected %s entry: want List, DocumentReference and the document (Binary or Bundle)", rt.ResourceType)
		}
		if dst.kind != "" {
			return bundle, list, docRef, binary, fmt.Errorf("two %s entries", strings.Join([]string{dst.kind, rt.ResourceType}, " and "))
		}
		*dst = fe
	}
	if list.kind == "" || docRef.kind == "" || binary.kind == "" {
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

// provide is POST /fhir: IHE MHD ITI-65 for FHIR documents.
func (g *Gateway) provide(w http.ResponseWriter, r *http.Request) {
	q, ok := g.begin(w, r, "CREATE")
	if !ok {
		return
	}
	if mt := strings.ToLower(r.Header.Get("Content-Type")); !strings.HasPrefix(mt, "application/fhir+json") && !strings.HasPrefix(mt, "application/json") {
		q.problem(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type", "POST /fhir takes application/fhir+json")
		return
	}
	// base64 makes the document a third larger inside the Bundle.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxFileBytes/3*4+1<<20))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the document exceeds %d bytes", g.cfg.MaxFileBytes))
		} else {
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the body could not be read")
		}
		return
	}
	bundle, _, drEntry, binEntry, err := readProvideBundle(body)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	var doc []byte
	if binEntry.kind == "Bundle" {
		// The document as the transaction carries it, byte for byte.
		doc = binEntry.Resource
	} else {
		bin, err := fhir.UnmarshalBinary(binEntry.Resource)
		if err != nil || bin.Data == nil || bin.ContentType != "application/fhir+json" {
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the Binary must carry the FHIR document (contentType application/fhir+json) in data")
			return
		}
		if doc, err = base64.StdEncoding.DecodeString(*bin.Data); err != nil {
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "Binary.data is not base64")
			return
		}
	}
	if int64(len(doc)) > g.cfg.MaxFileBytes {
		q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the document exceeds %d bytes", g.cfg.MaxFileBytes))
		return
	}
	dr, err := fhir.UnmarshalDocumentReference(drEntry.Resource)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "not a valid FHIR R4 DocumentReference: "+err.Error())
		return
	}
	if len(dr.Content) != 1 || dr.Content[0].Attachment.Url == nil || *dr.Content[0].Attachment.Url != binEntry.FullURL || binEntry.FullURL == "" {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the DocumentReference's one attachment must name the document entry's fullUrl")
		return
	}
	// The request's binding: the signature token, then the producer's own
	// signature over the document.
	sum := sha256Hex(doc)
	if !strings.EqualFold(q.sig.AttachmentHash, sum) {
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "attachment_hash is not the SHA-256 of the document's bytes")
		return
	}
	if bundle.Signature == nil || bundle.Signature.Data == nil || bundle.Signature.SigFormat == nil || *bundle.Signature.SigFormat != "application/jose" {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the transaction Bundle must carry the producer's detached JWS over the document in signature (sigFormat application/jose)")
		return
	}
	jwsBytes, err := base64.StdEncoding.DecodeString(*bundle.Signature.Data)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "signature.data is not base64")
		return
	}
	keys, ok := g.producerKeys(q.sig.Issuer)
	if !ok {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the producer is not registered")
		return
	}
	if err := verifyDocumentSignature(string(jwsBytes), doc, keys.Keys); err != nil {
		q.log.Info("refused document signature", "reason", err.Error())
		q.problem(http.StatusForbidden, ptClaimMismatch, "Signature refused", "the document's signature does not verify with the producer's registered keys")
		return
	}
	fd, err := readFHIRDocument(doc)
	if err != nil {
		g.invalidCDA(q, []cda.Failure{{Rule: "FHIR-document", Message: err.Error()}})
		return
	}
	q.patient = fd.Patient.String()
	class := doctype.Class("")
	for _, c := range dr.Category {
		if code := codeOf(&c); code != "" {
			class = doctype.Class(code)
		}
	}
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
	if len(fails) > 0 {
		g.invalidCDA(q, fails)
		return
	}
	switch {
	case !sameType(q.sig.ResourceHL7Type, fd.Type):
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "resource_hl7_type is not the document's type")
		return
	case !samePerson(q.sig.PersonID, fd.Patient):
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "person_id is not the document's patient")
		return
	}
	if p, ok, err := g.d.Patient(r.Context(), fd.Patient.String()); err != nil {
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the patient registry could not be read; retry")
		return
	} else if !ok || p.MergedInto != "" {
		g.invalidCDA(q, []cda.Failure{{Rule: "HDR-recordTarget.registered", Message: "the patient is not registered in the national registry"}})
		return
	}
	if dr.MasterIdentifier == nil || dr.MasterIdentifier.Value == nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "DocumentReference.masterIdentifier must be the FSE document id")
		return
	}
	docID := *dr.MasterIdentifier.Value
	if region, _, err := index.ParseDocumentID(docID); err != nil || region != g.cfg.Region {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", fmt.Sprintf("masterIdentifier: want an FSE document id of region %s (2.16.840.1.113883.2.9.2.%s.4.4^<local id>)", g.cfg.Region, g.cfg.Region))
		return
	}
	var replaces string
	for _, rel := range dr.RelatesTo {
		if rel.Code == fhir.DocumentRelationshipTypeReplaces && rel.Target.Identifier != nil && rel.Target.Identifier.Value != nil {
			replaces = *rel.Target.Identifier.Value
		}
	}
	if replaces != "" {
		if _, ok := g.ownDocument(q, replaces); !ok {
			return
		}
		q.patient = fd.Patient.String()
	}
	q.docs = []string{docID}
	conf := "N"
	for _, l := range dr.SecurityLabel {
		if c := codeOf(&l); slices.Contains([]string{"N", "R", "V"}, c) {
			conf = c
		}
	}
	var setting, facility string
	var start, stop time.Time
	if ctx := dr.Context; ctx != nil {
		setting, facility = codeOf(ctx.PracticeSetting), codeOf(ctx.FacilityType)
		if ctx.Period != nil && ctx.Period.Start != nil {
			start, _ = time.Parse(time.RFC3339, *ctx.Period.Start)
		}
		if ctx.Period != nil && ctx.Period.End != nil {
			stop, _ = time.Parse(time.RFC3339, *ctx.Period.End)
		}
	}
	var c checker
	c.enum("context.practiceSetting", setting, assetti, false)
	c.enum("context.facilityType", facility, tipologieStruttura, false)
	if err := c.err(); err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	g.commit(q, storeEntry{
		entry: index.Entry{ID: docID, Patient: fd.Patient.String(), Type: fd.Type, Class: class, Setting: setting, Facility: facility,
			ServiceStart: start.UTC(), ServiceStop: stop.UTC(), Created: fd.Date.UTC(), AuthorOrg: organization(q), Custodian: g.cfg.Region,
			Hash: sum, Size: int64(len(doc)), MIME: "application/fhir+json", Confidentiality: conf, Replaces: replaces},
		content: bytes.NewReader(doc), operation: OpPublication, what: "DocumentReference.provide", action: "CREATE",
	})
}

// storeEntry is a new version to store and index.
type storeEntry struct {
	entry     index.Entry
	content   io.Reader // its bytes, hashing to entry.Hash
	operation string    // the workflow's operation (PUBLICATION, REPLACE)
	what      string    // the audit event's
	action    string    // CREATE, UPDATE
}

// commit stores a new version with its index command and waits for the
// federation. A retry of an earlier request (the same workflow, or the
// same document id with the same bytes) is answered as the first was and
// stores nothing.
func (g *Gateway) commit(q *request, s storeEntry) {
	if q.wii == "" {
		q.wii = g.newWorkflowID(s.entry.Hash)
	}
	if prev, err := g.d.Store.Workflow(q.wii, s.operation); err == nil {
		g.answerExisting(q, prev, s.what, s.action)
		return
	}
	if d, err := g.d.Store.Document(s.entry.ID); err == nil {
		if d.Entry.Hash == s.entry.Hash {
			if prev, err := g.d.Store.Workflow(d.Workflow, s.operation); err == nil {
				q.wii = prev.ID
				g.answerExisting(q, prev, s.what, s.action)
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
	op, err := g.d.Store.Submit(store.Submission{Blob: blob,
		Doc: &store.Document{ID: e.ID, Entry: e, State: store.StatePending, Workflow: q.wii, Stored: now},
		Op:  &store.Op{Kind: store.OpPublish, Doc: e.ID, Workflow: q.wii, Operation: s.operation, Entry: &e},
		Workflow: store.Workflow{ID: q.wii, Operation: s.operation, Doc: e.ID, Status: store.WorkflowPending,
			Issuer: organization(q), TraceID: q.trace(), Created: now, Updated: now}})
	if err != nil {
		blob.Discard()
		g.submitFailed(q, err)
		return
	}
	g.finish(q, op, s.what, s.action)
}

// jwaSignature maps an alg name to jwx's signature algorithm.
func jwaSignature(name string) (jwa.SignatureAlgorithm, bool) {
	return jwa.LookupSignatureAlgorithm(name)
}
