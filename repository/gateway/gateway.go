// Package gateway is a region's producer gateway, compatible with the FSE
// 2.0 national Gateway's REST interface (v2.22): the same paths, the same
// multipart form (a PDF carrying the CDA as cda.xml, and a requestBody),
// the same two tokens (Authorization: Bearer, and FSE-JWT-Signature whose
// claims bind the request to its content), and RFC 7807 problems with a
// trace id. Unlike the national gateway, which answers 202 and may fail
// later, a publication here is answered only once its index entry is
// committed by the federation.
//
// A request's content and its index command become durable together in
// the region's store; the outbox worker sends the command to the
// federation with the workflow's idempotency key, so neither a retried
// request nor a crash ever indexes a document twice. Every write of
// clinical data is audited.
package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/cda/schematron"
	"github.com/fsenet/fsenet/repository/pades"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/repository/store"
)

// Operation is the operation of a workflow, as the status service names
// it. The store keeps it as a string (store.Workflow.Operation,
// store.Op.Operation); the gateway converts at that boundary.
type Operation string

// Operations of a workflow.
const (
	OpValidation  Operation = "VALIDATION"
	OpPublication Operation = "PUBLICATION"
	OpReplace     Operation = "REPLACE"
	OpUpdate      Operation = "UPDATE"
	OpDelete      Operation = "DELETE"
)

// actionID is the action_id an FSE-JWT-Signature token must carry for a
// request: what the producer declares it is doing.
type actionID string

// The action_id values of the gateway's requests.
const (
	actionCreate actionID = "CREATE" // validation, publication, ITI-65
	actionUpdate actionID = "UPDATE" // replace, metadata update
	actionDelete actionID = "DELETE" // withdrawal
)

// auditAction is the audit event's action for a request of this
// action_id: a creation, a deletion, or otherwise an update.
func (a actionID) auditAction() index.AuditAction {
	switch a {
	case actionCreate:
		return index.ActionCreate
	case actionDelete:
		return index.ActionDelete
	}
	return index.ActionUpdate
}

// auditWhat is what an audit event of the gateway names
// (index.Event.What).
type auditWhat string

// What the gateway's audit events name.
const (
	whatValidate auditWhat = "Document.validate"
	whatPublish  auditWhat = "DocumentReference.publish"
	whatReplace  auditWhat = "DocumentReference.replace"
	whatProvide  auditWhat = "DocumentReference.provide"
	whatUpdate   auditWhat = "DocumentReference.update"
	whatWithdraw auditWhat = "DocumentReference.withdraw"
)

// change is one kind of write through the gateway: the action_id its
// signature token must carry, the workflow operation it records and what
// its audit events name. The five kinds are the variables below; passing
// one of them keeps the three values of a request together.
type change struct {
	action    actionID
	operation Operation
	what      auditWhat
}

// The gateway's writes.
var (
	changePublish  = change{actionCreate, OpPublication, whatPublish}
	changeReplace  = change{actionUpdate, OpReplace, whatReplace}
	changeProvide  = change{actionCreate, OpPublication, whatProvide}
	changeUpdate   = change{actionUpdate, OpUpdate, whatUpdate}
	changeWithdraw = change{actionDelete, OpDelete, whatWithdraw}
)

// successStatus is the status of a committed change's answer on the
// national REST interface: 201 Created when it made a new document (a
// publication, or a new version), 200 OK for a change of an existing one.
func (c change) successStatus() int {
	switch c.operation {
	case OpPublication, OpReplace:
		return http.StatusCreated
	}
	return http.StatusOK
}

// HeaderSignature carries the token that binds a request to its content.
const HeaderSignature = "FSE-JWT-Signature"

// Config configures the gateway.
type Config struct {
	Region string
	// ValidationMaxAge: a publication's CDA must have passed validation
	// at most this long before.
	ValidationMaxAge time.Duration
	// MaxFileBytes bounds the PDF of one request.
	MaxFileBytes int64
	// InMemoryBytes: a file up to this size is held in memory, a larger
	// one in a temporary file under TempDir.
	InMemoryBytes int64
	TempDir       string
	// WaitCommit bounds how long a request waits for the federation to
	// commit its index entry; past it the answer is 504 and the workflow
	// goes on (GET /v1/status tells, a retry with the same
	// workflowInstanceId is safe).
	WaitCommit time.Duration
	// Audience is the aud the FSE-JWT-Signature tokens must carry.
	Audience string
	// Signature is the region's policy on PAdES signatures of the PDFs
	// (required or optional) and its trust list.
	Signature pades.Config
}

// DefaultConfig returns the defaults for a region.
func DefaultConfig(region string) Config {
	return Config{Region: region, ValidationMaxAge: 5 * 24 * time.Hour, MaxFileBytes: 64 << 20,
		InMemoryBytes: 1 << 20, WaitCommit: 30 * time.Second, Audience: federation.TokenAudience, Signature: pades.DefaultConfig()}
}

// Validate refuses an unusable configuration.
func (c Config) Validate() error {
	var errs []error
	if !federation.ValidRegionCode(c.Region) {
		errs = append(errs, fmt.Errorf("gateway: region %q: want a region code", c.Region))
	}
	if c.ValidationMaxAge <= 0 || c.WaitCommit <= 0 {
		errs = append(errs, errors.New("gateway: validation max age and commit wait must be positive"))
	}
	if c.MaxFileBytes <= 0 || c.InMemoryBytes <= 0 || c.InMemoryBytes > c.MaxFileBytes {
		errs = append(errs, errors.New("gateway: want 0 < in-memory bytes <= max file bytes"))
	}
	if err := c.Signature.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: %w", err))
	}
	return errors.Join(errs...)
}

// Recorder makes audit events durable (an index.Auditor).
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Deps are what the gateway needs from the node.
type Deps struct {
	Store  *store.Store
	Outbox *repository.Outbox
	// Patient reads the registry (local replica).
	Patient func(ctx context.Context, id string) (index.Patient, bool, error)
	// Bearer is the request's verified Authorization token.
	Bearer func(*http.Request) (federation.Claims, bool)
	Audit  Recorder
	Log    *slog.Logger
	Now    func() time.Time
}

// Gateway serves the producer API.
type Gateway struct {
	cfg Config
	d   Deps
	sig *federation.Verifier
	log *slog.Logger
}

// New returns the gateway.
func New(cfg Config, d Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.Outbox == nil || d.Patient == nil || d.Bearer == nil || d.Audit == nil {
		return nil, errors.New("gateway: store, outbox, patient lookup, bearer and audit are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	g := &Gateway{cfg: cfg, d: d, log: d.Log}
	g.sig = &federation.Verifier{Lookup: g.producerKeys, Audience: cfg.Audience, Now: d.Now}
	return g, nil
}

// producerKeys finds the keys of a registered producer.
func (g *Gateway) producerKeys(issuer string) (federation.IssuerKeys, bool) {
	p, err := g.d.Store.Producer(issuer)
	if err != nil {
		return federation.IssuerKeys{}, false
	}
	set, err := federation.ParseJWKS(p.Keys)
	if err != nil {
		g.log.Error("stored producer keys do not parse", "issuer", issuer, "err", err)
		return federation.IssuerKeys{}, false
	}
	return federation.IssuerKeys{Region: g.cfg.Region, Keys: set}, true
}

// Router is where the gateway mounts its routes (an http.ServeMux, or
// the node's router that also lists them).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register mounts the gateway's routes.
func (g *Gateway) Register(mux Router) {
	mux.HandleFunc("POST /v1/documents/validation", g.validate)
	mux.HandleFunc("POST /v1/documents", g.publish)
	mux.HandleFunc("PUT /v1/documents/{id}", g.replace)
	mux.HandleFunc("PUT /v1/documents/{id}/metadata", g.updateMetadata)
	mux.HandleFunc("PUT /v1/documents/{id}/metadata-iti-57", g.updateMetadata)
	mux.HandleFunc("DELETE /v1/documents/{id}", g.withdraw)
	mux.HandleFunc("GET /v1/status/{workflowInstanceId}", g.status)
	mux.HandleFunc("POST /fhir", g.provide)
	mux.HandleFunc("POST /v1/producers", g.putProducer)
	mux.HandleFunc("DELETE /v1/producers/{issuer}", g.deleteProducer)
}

// request is one gateway request in progress.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	bearer  federation.Claims
	sig     federation.Claims
	org     string // the registered producer organisation
	wii     string
	log     *slog.Logger
	patient string // for the audit event, once known
	docs    []string
	// fhir: a FHIR request (IHE MHD), answered with OperationOutcomes and
	// a transaction-response Bundle.
	fhir bool
}

// newRequest starts a gateway request; its trace id is the request's id.
func (g *Gateway) newRequest(w http.ResponseWriter, r *http.Request) *request {
	return &request{w: w, r: r, log: httpapi.With(r, g.log)}
}

// trace is the request's trace id, its id on this node.
func (q *request) trace() string { return httpapi.RequestID(q.r) }

// span is this node's span of the request.
func (q *request) span() string { return httpapi.SpanID(q.r) }

// problem answers the request with an error: an OperationOutcome for a
// FHIR request, otherwise an RFC 7807 problem naming the workflow. A
// failure of the node is logged as an error, a refusal as information.
func (q *request) problem(status int, typ, title, detail string) {
	if q.fhir {
		httpapi.Outcome(q.w, status, httpapi.StatusFor(status).Issue, title+": "+detail)
	} else {
		httpapi.WriteProblem(q.w, q.r, Problem{Type: typ, Title: title, Detail: detail, Status: status, WorkflowInstanceID: q.wii})
	}
	if status >= 500 {
		q.log.Error("gateway request failed", "status", status, "title", title)
	} else {
		q.log.Info("gateway request refused", "status", status, "type", typ)
	}
}

// begin authenticates a request: the bearer token (verified by the node),
// issued for this region, and the FSE-JWT-Signature token of a registered
// producer, for the same person and the expected action.
func (g *Gateway) begin(w http.ResponseWriter, r *http.Request, action actionID) (*request, bool) {
	q := g.newRequest(w, r)
	q.fhir = strings.HasPrefix(r.URL.Path, "/fhir")
	var ok bool
	q.bearer, ok = g.d.Bearer(r)
	if !ok {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "a valid bearer token is required")
		return nil, false
	}
	if index.Authorize(index.CallerFromClaims(q.bearer), index.ActPublish, index.Target{Region: g.cfg.Region}) != index.Allow {
		q.problem(http.StatusForbidden, ptForbidden, "Forbidden", "the bearer token does not publish in this region")
		return nil, false
	}
	tok := strings.TrimSpace(r.Header.Get(HeaderSignature))
	if tok == "" {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the "+HeaderSignature+" token is required")
		return nil, false
	}
	sig, err := g.sig.Verify(tok)
	if err != nil {
		q.log.Info("refused signature token", "reason", err.Error())
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the "+HeaderSignature+" token is not valid")
		return nil, false
	}
	q.sig = sig
	prod, err := g.d.Store.Producer(sig.Issuer)
	if err != nil {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the "+HeaderSignature+" token's issuer is not a registered producer")
		return nil, false
	}
	q.org = prod.Organization
	switch {
	case sig.Subject != q.bearer.Subject:
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "the two tokens are for different subjects")
		return nil, false
	case actionID(sig.ActionID) != action:
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", fmt.Sprintf("action_id %q does not allow this operation (want %s)", sig.ActionID, action))
		return nil, false
	case q.bearer.Organization != "" && q.bearer.Organization != q.org,
		sig.Organization != "" && sig.Organization != q.org:
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch",
			"subject_organization is not the organisation the producer is registered for")
		return nil, false
	}
	return q, true
}

// organization is the producer organisation a request speaks for: the
// one its signature token's issuer is registered for.
func organization(q *request) string {
	if q.org != "" {
		return q.org
	}
	return q.bearer.Organization
}

// content is a request's file, its CDA and the CDA's header, checked.
type content struct {
	file   *upload
	body   []byte
	cda    []byte
	cdaSHA string
	// validated: (a publication's) CDA passed validation recently.
	validated bool
	header    *cda.Header
	pid       ident.ID
}

// readContent reads the form, extracts and checks the CDA, and checks
// that the signature token's claims bind this content. On failure it has
// answered.
//
// A publication's CDA that passed validation (the same bytes, by SHA-256)
// is read up to its body only: validation read and checked all of it.
func (g *Gateway) readContent(q *request, publication bool) (*content, bool) {
	q.r.Body = http.MaxBytesReader(q.w, q.r.Body, g.cfg.MaxFileBytes+maxRequestBody+64<<10)
	body, file, err := readMultipart(q.r, multipartLimits{MaxFile: g.cfg.MaxFileBytes, InMemory: g.cfg.InMemoryBytes, TempDir: g.cfg.TempDir})
	switch {
	case errors.Is(err, errMediaType):
		q.problem(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type", err.Error())
		return nil, false
	case errors.Is(err, errUploadSize):
		q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the file exceeds %d bytes", g.cfg.MaxFileBytes))
		return nil, false
	case err != nil:
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return nil, false
	}
	c := &content{file: file, body: body}
	if !strings.EqualFold(q.sig.AttachmentHash, file.SHA) {
		file.Close()
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "attachment_hash is not the SHA-256 of the file received")
		return nil, false
	}
	rs, err := file.reader()
	if err != nil {
		file.Close()
		q.problem(http.StatusInternalServerError, ptInternal, "Internal error", "the upload could not be read back")
		return nil, false
	}
	c.cda, err = pdfcda.Extract(rs)
	if err != nil {
		file.Close()
		switch {
		case errors.Is(err, pdfcda.ErrNotPDF), errors.Is(err, pdfcda.ErrMalformed):
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the file is not a readable PDF")
		case errors.Is(err, pdfcda.ErrTooLarge):
			q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", "the embedded cda.xml is too large")
		default:
			q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "the PDF carries no embedded cda.xml")
		}
		return nil, false
	}
	if fails, err := g.checkSignature(file); err != nil || len(fails) > 0 {
		file.Close()
		if err != nil {
			q.problem(http.StatusInternalServerError, ptInternal, "Internal error", "the upload could not be read back")
		} else {
			g.invalidCDA(q, fails)
		}
		return nil, false
	}
	c.cdaSHA = sha256Hex(c.cda)
	c.validated = publication && g.validated(c.cdaSHA)
	if c.validated {
		c.header, err = cda.ReadHeader(bytes.NewReader(c.cda))
	} else {
		c.header, err = cda.Read(bytes.NewReader(c.cda))
	}
	if err != nil {
		file.Close()
		q.problem(http.StatusBadRequest, ptInvalidCDA, "CDA not well-formed", err.Error())
		return nil, false
	}
	fails, err := checkCDA(c, !c.validated)
	switch {
	case errors.Is(err, schematron.ErrNotXML):
		file.Close()
		q.problem(http.StatusBadRequest, ptInvalidCDA, "CDA not well-formed", err.Error())
		return nil, false
	case len(fails) > 0:
		file.Close()
		g.invalidCDA(q, fails)
		return nil, false
	}
	c.pid, _ = c.header.Patient() // Check validated it
	q.patient = c.pid.String()
	switch {
	case !sameType(q.sig.ResourceHL7Type, c.header.Code.Code):
		file.Close()
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", fmt.Sprintf("resource_hl7_type %q is not the CDA's document type %s", q.sig.ResourceHL7Type, c.header.Code.Code))
		return nil, false
	case !samePerson(q.sig.PersonID, c.pid):
		file.Close()
		q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "person_id is not the CDA's patient")
		return nil, false
	}
	if !g.registeredPatient(q, c.pid) {
		file.Close()
		return nil, false
	}
	return c, true
}

// checkSignature verifies the PDF's PAdES signatures by the region's
// policy (FIRMA-n problems). Under the optional policy a PDF whose bytes
// hold no /ByteRange (no signature dictionary outside a compressed
// object stream) is taken as unsigned without parsing it again; under
// the required policy every PDF is verified.
func (g *Gateway) checkSignature(u *upload) ([]cda.Failure, error) {
	pdf := u.mem
	if u.f != nil {
		rs, err := u.reader()
		if err != nil {
			return nil, err
		}
		if pdf, err = io.ReadAll(io.LimitReader(rs, g.cfg.MaxFileBytes+1)); err != nil {
			return nil, err
		}
	}
	if g.cfg.Signature.Policy == pades.Optional && !bytes.Contains(pdf, []byte("/ByteRange")) {
		return nil, nil
	}
	_, problems := pades.Verify(pdf, g.cfg.Signature)
	var out []cda.Failure
	for _, p := range problems {
		out = append(out, cda.Failure{Rule: p.Rule, Message: p.Message})
	}
	return out, nil
}

// checkCDA judges a CDA as the national gateway does, by its type's
// national schematron (every failed assertion, with its ERRORE id), and
// by fsenet's own header rules (HDR-…); a type no schematron judges, by
// the common header rules. full false (a CDA validated recently) checks
// fsenet's own rules only.
func checkCDA(c *content, full bool) ([]cda.Failure, error) {
	if !full {
		return cda.CheckOwn(c.header), nil
	}
	s, national, err := schematron.Check(c.cda)
	switch {
	case errors.Is(err, schematron.ErrNoSchema):
		return cda.Check(c.header), nil
	case errors.Is(err, schematron.ErrNotXML):
		return nil, err
	case err != nil:
		return []cda.Failure{{Rule: "SCHEMATRON", Message: fmt.Sprintf("the rules of %s cannot be evaluated on the document: %v", s.Source, err)}}, nil
	}
	var out []cda.Failure
	for _, f := range national {
		out = append(out, cda.Failure{Rule: f.Rule, Message: f.Message})
	}
	return append(out, cda.CheckOwn(c.header)...), nil
}

// registeredPatient reports whether the document's patient is in the
// national registry, and not merged into another record: a document is
// published only for a registered patient. When not (or when the registry
// cannot be read) it has answered.
func (g *Gateway) registeredPatient(q *request, pid ident.ID) bool {
	p, ok, err := g.d.Patient(q.r.Context(), pid.String())
	switch {
	case err != nil:
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the patient registry could not be read; retry")
		return false
	case !ok || p.MergedInto != "":
		g.invalidCDA(q, []cda.Failure{{Rule: "HDR-recordTarget.registered", Message: "the patient is not registered in the national registry"}})
		return false
	}
	return true
}

// validated reports whether a CDA passed validation recently enough to
// be published.
func (g *Gateway) validated(cdaSHA string) bool {
	v, ok, err := g.d.Store.Validated(cdaSHA)
	return err == nil && ok && g.d.Now().Sub(v.At) <= g.cfg.ValidationMaxAge
}

// invalidCDA answers 422 for the rules a document broke: each rule in the
// problem's errors (national interface), or all in one OperationOutcome
// (FHIR).
func (g *Gateway) invalidCDA(q *request, fails []cda.Failure) {
	if q.fhir {
		var msgs []string
		for _, f := range fails {
			msgs = append(msgs, f.Rule+": "+f.Message)
		}
		q.problem(http.StatusUnprocessableEntity, ptInvalidCDA, "Document validation failed", strings.Join(msgs, "; "))
		return
	}
	p := Problem{Type: ptInvalidCDA, Title: "CDA validation failed",
		Detail: fmt.Sprintf("%d header rule(s) failed", len(fails)), Status: http.StatusUnprocessableEntity,
		Instance: q.r.URL.Path, WorkflowInstanceID: q.wii}
	for _, f := range fails {
		p.Errors = append(p.Errors, RuleFailure{Rule: f.Rule, Message: f.Message})
	}
	httpapi.WriteProblem(q.w, q.r, p)
	q.log.Info("gateway request refused", "status", p.Status, "type", ptInvalidCDA, "rules", len(fails))
}

// sameType compares resource_hl7_type, bare ("11502-2") or in the
// gateway's form ("('11502-2^^2.16.840.1.113883.6.1')"), with a LOINC
// code.
func sameType(claim, code string) bool {
	v := strings.TrimSpace(claim)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "('"), "')")
	v, _, _ = strings.Cut(v, "^")
	return v != "" && v == code
}

// samePerson compares person_id, bare or in HL7 CX form
// (CF^^^&2.16.840.1.113883.2.9.4.3.2&ISO), with the patient.
func samePerson(claim string, id ident.ID) bool {
	v, _, _ := strings.Cut(strings.TrimSpace(claim), "^")
	got, err := ident.Parse(v)
	return err == nil && got == id
}

// newWorkflowID returns a workflowInstanceId in the gateway's form:
// <document OID>.<SHA-256 of the CDA>.<random>^^^^urn:ihe:iti:xdw:2013:workflowInstanceId.
func (g *Gateway) newWorkflowID(cdaSHA string) string {
	return fmt.Sprintf("2.16.840.1.113883.2.9.2.%s.4.4.%s.%s^^^^urn:ihe:iti:xdw:2013:workflowInstanceId",
		g.cfg.Region, cdaSHA, randomHex(5))
}

// auditEvent is the audit record of a gateway write.
func (q *request) auditEvent(action index.AuditAction, what auditWhat, outcome index.AuditOutcome) index.Event {
	return index.Event{Actor: q.bearer.Subject, Role: q.bearer.SubjectRole, Org: organization(q), Region: q.bearer.OrganizationID,
		Purpose: q.bearer.PurposeOfUse, Action: action, What: string(what), Patient: q.patient, Documents: q.docs, Outcome: outcome}
}

// audit records the event; it reports false (having answered 503) when
// the record could not be made durable.
func (g *Gateway) audit(q *request, ev index.Event) bool {
	if err := g.d.Audit.Record(q.r.Context(), ev); err != nil {
		q.log.Error("audit record failed", "err", err)
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the access could not be audited; retry")
		return false
	}
	return true
}

// validationResponse is ValidationResDTO and PublicationResDTO.
type validationResponse struct {
	TraceID            string `json:"traceID"`
	SpanID             string `json:"spanID"`
	WorkflowInstanceID string `json:"workflowInstanceId,omitempty"`
	Warning            string `json:"warning,omitempty"`
}

// validate is POST /v1/documents/validation: it checks a CDA and, for
// activity VALIDATION, records that it passed, so that the same bytes may
// be published (VERIFICA only checks). Either is audited.
func (g *Gateway) validate(w http.ResponseWriter, r *http.Request) {
	q, ok := g.begin(w, r, actionCreate)
	if !ok {
		return
	}
	c, ok := g.readContent(q, false)
	if !ok {
		return
	}
	defer c.file.Close()
	req, err := DecodeValidation(c.body)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	if !g.audit(q, q.auditEvent(index.ActionExecute, whatValidate, index.OutcomeSuccess)) {
		return
	}
	if req.Activity == activityVerify {
		writeJSON(w, http.StatusOK, validationResponse{TraceID: q.trace(), SpanID: q.span()})
		return
	}
	q.wii = g.newWorkflowID(c.cdaSHA)
	now := g.d.Now().UTC()
	if _, err := g.d.Store.Submit(store.Submission{Validation: c.cdaSHA, Workflow: store.Workflow{ID: q.wii, Operation: string(OpValidation),
		Status: store.WorkflowSuccess, Issuer: organization(q), TraceID: q.trace(), Created: now, Updated: now}}); err != nil {
		q.log.Error("record the validation", "err", err)
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the validation could not be recorded; retry")
		return
	}
	writeJSON(w, http.StatusCreated, validationResponse{TraceID: q.trace(), SpanID: q.span(), WorkflowInstanceID: q.wii})
}

// publish is POST /v1/documents: the publication of a new document.
func (g *Gateway) publish(w http.ResponseWriter, r *http.Request) {
	g.publishVersion(w, r, "")
}

// replace is PUT /v1/documents/{id}: a new version of the document id.
func (g *Gateway) replace(w http.ResponseWriter, r *http.Request) {
	g.publishVersion(w, r, r.PathValue("id"))
}

// publishVersion publishes a document, or (replaces != "") a new version
// of one.
func (g *Gateway) publishVersion(w http.ResponseWriter, r *http.Request, replaces string) {
	ch := changePublish
	if replaces != "" {
		ch = changeReplace
	}
	q, ok := g.begin(w, r, ch.action)
	if !ok {
		return
	}
	if replaces != "" {
		if _, ok := g.ownDocument(q, replaces); !ok {
			return
		}
	}
	c, ok := g.readContent(q, true)
	if !ok {
		return
	}
	defer c.file.Close()
	req, err := DecodePublication(c.body)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	q.wii = req.WorkflowInstanceID
	if err := doctype.Check(c.header.Code.Code, doctype.Class(req.TipoDocumentoLivAlto)); err != nil {
		g.invalidCDA(q, []cda.Failure{{Rule: "HDR-tipoDocumentoLivAlto", Message: err.Error()}})
		return
	}
	region, _, err := index.ParseDocumentID(req.IdentificativoDoc)
	switch {
	case err != nil:
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "identificativoDoc: "+err.Error())
		return
	case region != g.cfg.Region:
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", fmt.Sprintf("identificativoDoc: a document of region %s is not published in region %s", region, g.cfg.Region))
		return
	case req.IdentificativoDoc == replaces:
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "identificativoDoc: a new version needs an id of its own")
		return
	}
	q.docs = []string{req.IdentificativoDoc}
	if replaces != "" {
		q.docs = append(q.docs, replaces)
	}
	// Validation before publication, as the national gateway enforces it.
	if !c.validated {
		q.problem(http.StatusUnprocessableEntity, ptNotValidated, "Document not validated",
			fmt.Sprintf("this CDA has not passed validation in the last %s: call POST /v1/documents/validation first", g.cfg.ValidationMaxAge))
		return
	}
	if q.wii == "" {
		q.wii = g.newWorkflowID(c.cdaSHA)
	}
	created, err := c.header.EffectiveTime.Time()
	if err != nil {
		g.invalidCDA(q, []cda.Failure{{Rule: "HDR-effectiveTime", Message: err.Error()}})
		return
	}
	start, stop := req.ServicePeriod()
	rs, err := c.file.reader()
	if err != nil {
		q.problem(http.StatusInternalServerError, ptInternal, "Internal error", "the upload could not be read back")
		return
	}
	orgSystem, orgID := q.authorOrgID(cdaAuthorOrg(c.header))
	g.commit(q, storeEntry{
		entry: index.Entry{ID: req.IdentificativoDoc, Patient: c.pid.String(), Type: c.header.Code.Code,
			Class: doctype.Class(req.TipoDocumentoLivAlto), Setting: req.AssettoOrganizzativo, Facility: req.TipologiaStruttura,
			ServiceStart: start, ServiceStop: stop, Created: created.UTC(), Author: firstAuthor(c.header), AuthorOrg: organization(q),
			AuthorOrgSystem: orgSystem, AuthorOrgID: orgID,
			Custodian: g.cfg.Region, Repository: req.IdentificativoRep, Hash: c.file.SHA, Size: c.file.Size, MIME: "application/pdf",
			Confidentiality: c.header.Confidentiality.Code, Events: slices.Clone(req.AttiCliniciRegoleAccesso), Replaces: replaces},
		content: rs, change: ch,
	})
}

// ownDocument returns a stored document the caller's organisation may
// change; on failure it has answered.
func (g *Gateway) ownDocument(q *request, id string) (store.Document, bool) {
	d, err := g.d.Store.Document(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		q.problem(http.StatusNotFound, ptNotFound, "Not found", "no document "+id+" in this region's repository")
		return d, false
	case err != nil:
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the repository could not be read; retry")
		return d, false
	case d.Entry.AuthorOrg != organization(q):
		// Another organisation's document: as absent, so nothing leaks.
		q.problem(http.StatusNotFound, ptNotFound, "Not found", "no document "+id+" in this region's repository")
		return d, false
	}
	q.patient = d.Entry.Patient
	q.docs = []string{id}
	return d, true
}

// submitFailed answers a change the store would not record: a conflict
// with a workflow or document state, an absent document, or (logged) a
// failure of the store.
func (g *Gateway) submitFailed(q *request, err error) {
	switch {
	case errors.Is(err, store.ErrExists):
		q.problem(http.StatusConflict, ptConflict, "Conflict", "this workflow or document is already being processed")
	case errors.Is(err, store.ErrBusy):
		q.problem(http.StatusConflict, ptConflict, "Conflict", "an earlier operation on this document is still being committed; retry later")
	case errors.Is(err, store.ErrState):
		q.problem(http.StatusConflict, ptConflict, "Conflict", "the document's state does not allow this operation")
	case errors.Is(err, store.ErrNotFound):
		q.problem(http.StatusNotFound, ptNotFound, "Not found", "no such document in this region's repository")
	default:
		q.log.Error("submit", "err", err)
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the request could not be recorded; retry")
	}
}

// finish waits for the federation's answer to op and answers the
// producer, auditing the outcome.
func (g *Gateway) finish(q *request, op store.Op, ch change) {
	g.d.Outbox.Kick()
	ctx, cancel := context.WithTimeout(q.r.Context(), g.cfg.WaitCommit)
	defer cancel()
	out, err := g.d.Outbox.Wait(ctx, op)
	if err != nil {
		q.problem(http.StatusGatewayTimeout, ptUnavailable, "Not yet committed",
			"the federation has not committed the index entry yet; the workflow goes on: see GET /v1/status/{workflowInstanceId}, and a retry with the same workflowInstanceId is safe")
		return
	}
	g.answer(q, out, ch)
}

// answer audits the federation's outcome of a change and answers the
// producer: the index's refusal as a problem, or the workflow's ids (a
// transaction-response Bundle for a FHIR request). Nothing is answered
// as done unless its audit event is durable.
func (g *Gateway) answer(q *request, out repository.Outcome, ch change) {
	if out.Err != nil {
		status, typ := refusalStatus(out.Err)
		if !g.audit(q, q.auditEvent(ch.action.auditAction(), ch.what, index.OutcomeRefused)) {
			return
		}
		q.problem(status, typ, "Refused by the national index", out.Err.Error())
		return
	}
	if !g.audit(q, q.auditEvent(ch.action.auditAction(), ch.what, index.OutcomeSuccess)) {
		return
	}
	if q.fhir {
		writeTransactionResponse(q.w, q.docs[0])
		return
	}
	writeJSON(q.w, ch.successStatus(), validationResponse{TraceID: q.trace(), SpanID: q.span(), WorkflowInstanceID: q.wii})
}

// answerExisting answers a retried request with its first outcome,
// waiting for it if the federation has not answered yet.
func (g *Gateway) answerExisting(q *request, prev store.Workflow, ch change) {
	switch prev.Status {
	case store.WorkflowSuccess:
		g.answer(q, repository.Outcome{}, ch)
	case store.WorkflowError:
		g.answer(q, repository.Outcome{Err: &consensus.Error{Code: consensus.Code(prev.Code), Message: prev.Message}}, ch)
	default:
		ops, err := g.d.Store.Outbox(1<<20, nil)
		if err == nil {
			for _, op := range ops {
				if op.Workflow == prev.ID && op.Operation == prev.Operation {
					g.finish(q, op, ch)
					return
				}
			}
		}
		// Settled between the two reads.
		if w, err := g.d.Store.Workflow(prev.ID, prev.Operation); err == nil && w.Status != store.WorkflowPending {
			g.answerExisting(q, w, ch)
			return
		}
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the workflow could not be read; retry")
	}
}

// refusalStatus maps the index's refusal to an HTTP status.
func refusalStatus(err error) (int, string) {
	var de *consensus.Error
	if !errors.As(err, &de) {
		return http.StatusServiceUnavailable, ptUnavailable
	}
	switch de.Code {
	case consensus.CodeAlreadyExists, consensus.CodeConflict:
		return http.StatusConflict, ptConflict
	case consensus.CodeNotFound:
		return http.StatusUnprocessableEntity, ptBadRequest
	case consensus.CodeForbidden:
		return http.StatusForbidden, ptForbidden
	}
	return http.StatusBadRequest, ptBadRequest
}

// firstAuthor is the id of the CDA's first author that has one (the
// index entry's author).
func firstAuthor(h *cda.Header) string {
	for _, a := range h.Authors {
		for _, id := range a.IDs {
			if id.Extension != "" {
				return id.Extension
			}
		}
	}
	return ""
}

// updateMetadata is PUT /v1/documents/{id}/metadata (and its ITI-57
// path): new metadata of one of the caller organisation's documents,
// of the same class and, when the token names one, the same patient.
func (g *Gateway) updateMetadata(w http.ResponseWriter, r *http.Request) {
	q, ok := g.begin(w, r, changeUpdate.action)
	if !ok {
		return
	}
	d, ok := g.ownDocument(q, r.PathValue("id"))
	if !ok {
		return
	}
	if mt := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(mt), "application/json") {
		q.problem(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type", "the metadata update is application/json")
		return
	}
	b, err := readLimited(w, r, maxRequestBody)
	if err != nil {
		q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", err.Error())
		return
	}
	m, err := DecodeMetadata(b)
	if err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	if doctype.Class(m.TipoDocumentoLivAlto) != d.Entry.Class {
		g.invalidCDA(q, []cda.Failure{{Rule: "HDR-tipoDocumentoLivAlto", Message: fmt.Sprintf("the document is of class %s, not %s", d.Entry.Class, m.TipoDocumentoLivAlto)}})
		return
	}
	if q.sig.PersonID != "" {
		if id, err := ident.Parse(strings.TrimPrefix(d.Entry.Patient, "CF:")); err != nil || !samePerson(q.sig.PersonID, id) {
			q.problem(http.StatusForbidden, ptClaimMismatch, "JWT claims mismatch", "person_id is not the document's patient")
			return
		}
	}
	start, stop := m.ServicePeriod()
	upd := index.EntryUpdate{ID: d.ID, Events: slices.Clone(m.AttiCliniciRegoleAccesso), Setting: m.AssettoOrganizzativo,
		Facility: m.TipologiaStruttura, ServiceStart: start, ServiceStop: stop}
	g.submitChange(q, d, store.Op{Kind: store.OpUpdate, Doc: d.ID, Update: &upd}, changeUpdate)
}

// withdraw is DELETE /v1/documents/{id}: the document, entered in
// error, is withdrawn from the index (its content is kept).
func (g *Gateway) withdraw(w http.ResponseWriter, r *http.Request) {
	q, ok := g.begin(w, r, changeWithdraw.action)
	if !ok {
		return
	}
	d, ok := g.ownDocument(q, r.PathValue("id"))
	if !ok {
		return
	}
	g.submitChange(q, d, store.Op{Kind: store.OpWithdraw, Doc: d.ID}, changeWithdraw)
}

// submitChange records a change of an existing version and waits for it.
func (g *Gateway) submitChange(q *request, d store.Document, op store.Op, ch change) {
	q.wii = g.newWorkflowID(d.Entry.Hash)
	op.Workflow, op.Operation = q.wii, string(ch.operation)
	now := g.d.Now().UTC()
	sop, err := g.d.Store.Submit(store.Submission{Op: &op, Workflow: store.Workflow{ID: q.wii, Operation: string(ch.operation), Doc: d.ID,
		Status: store.WorkflowPending, Issuer: organization(q), TraceID: q.trace(), Created: now, Updated: now}})
	if err != nil {
		g.submitFailed(q, err)
		return
	}
	g.finish(q, sop, ch)
}

// readLimited reads a request's body of at most max bytes.
func readLimited(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("the body exceeds %d bytes", max)
		}
		return nil, fmt.Errorf("the body could not be read: %v", err)
	}
	return b, nil
}

// sha256Hex is the SHA-256 of b, in hex.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// statusEvent is StatusCheckDTO.
type statusEvent struct {
	WorkflowInstanceID      string `json:"workflowInstanceId"`
	EventType               string `json:"eventType"`
	EventDate               string `json:"eventDate"`
	EventStatus             string `json:"eventStatus"`
	Message                 string `json:"message,omitempty"`
	IdentificativoDocumento string `json:"identificativoDocumento,omitempty"`
	Organizzazione          string `json:"organizzazione,omitempty"`
	TraceID                 string `json:"traceId,omitempty"`
}

// status is GET /v1/status/{workflowInstanceId}: the operations of a
// workflow and how they ended, for the organisation that started it.
func (g *Gateway) status(w http.ResponseWriter, r *http.Request) {
	q := g.newRequest(w, r)
	var ok bool
	if q.bearer, ok = g.d.Bearer(r); !ok {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "a valid bearer token is required")
		return
	}
	wii := r.PathValue("workflowInstanceId")
	ws, err := g.d.Store.Workflows(wii)
	if err != nil {
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the workflow could not be read; retry")
		return
	}
	caller := index.CallerFromClaims(q.bearer)
	var events []statusEvent
	for _, wf := range ws {
		if index.Authorize(caller, index.ActReadWorkflow, index.Target{Region: g.cfg.Region, Organization: wf.Issuer}) != index.Allow {
			continue
		}
		events = append(events, statusEvent{WorkflowInstanceID: wf.ID, EventType: wf.Operation, EventDate: wf.Updated.Format(time.RFC3339),
			EventStatus: wf.Status, Message: wf.Message, IdentificativoDocumento: wf.Doc, Organizzazione: wf.Issuer, TraceID: wf.TraceID})
	}
	if len(events) == 0 {
		q.problem(http.StatusNotFound, ptNotFound, "Not found", "no workflow "+wii+" for this organisation")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"traceID": q.trace(), "spanID": q.span(), "transactionData": events})
}

// producerRequest registers a producer organisation's signing keys.
type producerRequest struct {
	Issuer       string          `json:"issuer"`
	Organization string          `json:"organization"`
	Name         string          `json:"name,omitempty"`
	Keys         json.RawMessage `json:"keys"`
}

// operator authenticates a region operator's request (the bearer token
// only); otherwise it has answered.
func (g *Gateway) operator(q *request) bool {
	var ok bool
	if q.bearer, ok = g.d.Bearer(q.r); !ok {
		q.problem(http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "a valid bearer token is required")
		return false
	}
	if index.Authorize(index.CallerFromClaims(q.bearer), index.ActRegisterProducer, index.Target{Region: g.cfg.Region}) != index.Allow {
		q.problem(http.StatusForbidden, ptForbidden, "Forbidden", "only the region's operators register producers")
		return false
	}
	return true
}

// putProducer is POST /v1/producers: a region operator registers (or
// replaces) a producer organisation's signing keys.
func (g *Gateway) putProducer(w http.ResponseWriter, r *http.Request) {
	q := g.newRequest(w, r)
	if !g.operator(q) {
		return
	}
	b, err := readLimited(w, r, maxRequestBody)
	if err != nil {
		q.problem(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", err.Error())
		return
	}
	var p producerRequest
	if err := decodeStrict(b, &p); err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	var c checker
	c.text("issuer", p.Issuer, 256, true)
	c.text("organization", p.Organization, 256, true)
	c.text("name", p.Name, 256, false)
	if err := c.err(); err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", err.Error())
		return
	}
	if _, err := federation.ParseJWKS(p.Keys); err != nil {
		q.problem(http.StatusBadRequest, ptBadRequest, "Bad request", "keys: "+err.Error())
		return
	}
	if err := g.d.Store.PutProducer(store.Producer{Issuer: p.Issuer, Organization: p.Organization, Name: p.Name,
		Keys: p.Keys, Registered: g.d.Now().UTC()}); err != nil {
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the producer could not be recorded; retry")
		return
	}
	q.log.Info("producer registered", "issuer", p.Issuer, "organization", p.Organization)
	writeJSON(w, http.StatusOK, map[string]string{"issuer": p.Issuer, "organization": p.Organization})
}

// deleteProducer is DELETE /v1/producers/{issuer}: the producer's keys
// are removed, so its tokens are no longer accepted.
func (g *Gateway) deleteProducer(w http.ResponseWriter, r *http.Request) {
	q := g.newRequest(w, r)
	if !g.operator(q) {
		return
	}
	if err := g.d.Store.DeleteProducer(r.PathValue("issuer")); err != nil {
		q.problem(http.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "the producer could not be removed; retry")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
