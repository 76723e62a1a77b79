// Package mhd is the FHIR side of a region's repository (IHE MHD):
// retrieving content (ITI-68), a patient's history from every region
// ($everything) and the patient's blinding of a document.
//
// The three MHD transactions of a node, and where each lives:
//   - ITI-65 Provide Document Bundle: POST /fhir, a transaction Bundle
//     with a signed FHIR document — repository/gateway (provide.go), which
//     validates, verifies, stores and indexes it like the national
//     gateway's publications.
//   - ITI-67 Find Document References: GET /fhir/DocumentReference —
//     index/fhirapi, from the node's replica of the national index.
//   - ITI-68 Retrieve Document: GET /fhir/Binary/{id} — this package, for
//     any region's document (fetched from its custodian over
//     repository/fetch when another region keeps it).
//
// FHIR resources are built by index/fhirres for all three.
//
// GET /fhir/Binary/{id} serves a region's document content: the
// bytes a DocumentReference's attachment points to (Binary/<id>, the
// DocumentReference's own id). It answers for the documents this region
// keeps, after the index's access policy allowed the caller the content
// and the disclosure was audited; the content is streamed from the store
// and checked against the hash the index holds, so altered bytes are
// never passed on as the document.
package mhd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/store"
)

// Deps are what the Binary endpoint needs from the node.
type Deps struct {
	Store *store.Store
	// Outbox sends this region's changes of its documents (blinding) to
	// the federation.
	Outbox *repository.Outbox
	// Read runs fn on the local replica of the index.
	Read   func(ctx context.Context, fn func(index.Reader) error) error
	Caller func(*http.Request) (index.Caller, bool)
	Audit  Recorder
	Region string
	// PublicURL is the node's public base URL (http.public_url); empty:
	// the scheme and host each request came to.
	PublicURL string
	Log       *slog.Logger
	// Corrupt is called when stored content does not match its hash.
	Corrupt func()
	// Fetch opens a document another region keeps, through the fetch
	// protocol, checked against want; nil: this node does not fetch.
	Fetch func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error)
	// FetchTimeout bounds one fetch (default 5 minutes).
	FetchTimeout time.Duration
	// RegionDeadline bounds each region's part of a patient's history
	// with contents (default 5 s).
	RegionDeadline time.Duration
	// Mismatch is called when a custodian's content does not match the
	// index.
	Mismatch func()
	// Attempt tells the custodian region of a read this node refused, for
	// it to decide and audit it too (fetch.Attempt); nil: not told.
	Attempt func(ctx context.Context, region, doc, token string) error
}

// Recorder makes audit events durable before a disclosure (an
// index.Auditor).
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Attempts told to custodians at once; past it, an attempt is only
// audited here (and logged).
const maxAttemptsInFlight = 32

// API serves GET /fhir/Binary/{id}.
type API struct {
	d        Deps
	attempts chan struct{} // slots for attempts being told to custodians
	told     sync.WaitGroup
	refused  *refusals // refused reads' audit records, off the answers' path
	// decoy is the resource id of the last version a read found, read
	// again for an id that names none (lookup).
	decoy atomic.Pointer[string]
}

// New returns the endpoint.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Corrupt == nil {
		d.Corrupt = func() {}
	}
	if d.Mismatch == nil {
		d.Mismatch = func() {}
	}
	return &API{d: d, attempts: make(chan struct{}, maxAttemptsInFlight), refused: newRefusals(d.Audit, d.Log)}
}

// Close waits, until ctx ends, for the work refused reads left behind
// their answers: their audit records and the custodians being told. The
// node calls it after the routes stopped and before the audit stops.
func (a *API) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		a.refused.wait()
		a.told.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("refused reads still being audited or told to their custodians: %w", ctx.Err())
	}
}

// openLocal opens the content of a version this region keeps; on failure
// it returns the status and message to answer.
func (a *API) openLocal(e index.Entry) (io.ReadCloser, int, string) {
	return a.openStored(e, a.d.Store.Content)
}

// openStored checks that this region keeps version e, then opens it with
// open: the content (checked against its hash as it is read) or the
// stored zstd frames (checked by whoever decompresses them).
func (a *API) openStored(e index.Entry, open func(sha string) (io.ReadCloser, store.Manifest, error)) (io.ReadCloser, int, string) {
	d, err := a.d.Store.Document(e.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.d.Log.Error("indexed document missing from the store", "doc", e.ID)
		return nil, http.StatusInternalServerError, "the document's content is missing from this region's store"
	case err != nil:
		return nil, http.StatusServiceUnavailable, "the store could not be read; retry"
	case d.State == store.StateWithdrawn:
		return nil, http.StatusNotFound, "no such Binary"
	case d.Entry.Hash != e.Hash:
		a.d.Corrupt()
		a.d.Log.Error("stored document does not match the index", "doc", e.ID)
		return nil, http.StatusInternalServerError, "the stored content does not match the index"
	}
	rc, _, err := open(e.Hash)
	if err != nil {
		a.d.Log.Error("stored content unreadable", "doc", e.ID, "err", err)
		return nil, http.StatusInternalServerError, "the document's content could not be read"
	}
	return rc, 0, ""
}

func issueFor(status int) fhir.IssueType {
	switch status {
	case http.StatusNotFound:
		return fhir.IssueTypeNotFound
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusBadGateway:
		return fhir.IssueTypeTransient
	}
	return fhir.IssueTypeException
}

// openRemote fetches a version another region keeps, on the caller's
// behalf (their token goes along). A refusal by the custodian is audited
// here too and answered as an absent document; any other failure is
// answered with the status remoteStatus gives it, naming the region.
func (a *API) openRemote(w http.ResponseWriter, r *http.Request, c index.Caller, e index.Entry) (io.ReadCloser, bool) {
	if a.d.Fetch == nil {
		httpapi.Outcome(w, http.StatusNotImplemented, fhir.IssueTypeNotSupported, "this node does not fetch documents from other regions")
		return nil, false
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	// A caller that goes away ends the fetch (or its wait for a slot).
	ctx, cancel := context.WithTimeout(r.Context(), a.fetchTimeout())
	rc, err := a.d.Fetch(ctx, e.Custodian, e.ID, strings.TrimSpace(tok), fetch.Want{SHA256: e.Hash, Size: e.Size})
	if err == nil {
		return &cancelOnClose{ReadCloser: rc, cancel: cancel}, true
	}
	cancel()
	status, issue, msg := remoteStatus(err, e.Custodian)
	switch {
	case status == http.StatusNotFound:
		ev := readEvent(c, e, index.OutcomeRefused)
		if aerr := a.d.Audit.Record(r.Context(), ev); aerr != nil {
			a.d.Log.Error("audit record failed", "err", aerr)
		}
		a.d.Log.Info("the custodian refused a fetch", "doc", e.ID, "custodian", e.Custodian, "reason", err.Error())
	case errors.Is(err, fetch.ErrMismatch):
		a.d.Mismatch()
		a.d.Log.Error("content from the custodian does not match the index", "doc", e.ID, "custodian", e.Custodian, "err", err)
	case status != http.StatusServiceUnavailable || !errors.Is(err, fetch.ErrBusy):
		a.d.Log.Warn("fetch from the custodian failed", "doc", e.ID, "custodian", e.Custodian, "status", status, "err", err)
	}
	httpapi.Outcome(w, status, issue, msg)
	return nil, false
}

// remoteStatus is the answer to a read whose fetch from region, the
// custodian, failed with err:
//   - 404: the custodian refused (absent, or not for this caller there:
//     the replicas disagree for now), or did not accept the caller's
//     token — as for an absent document;
//   - 503: this node is fetching as many documents as it may, in all or
//     from that region, and did not ask it; or the custodian answered
//     that it cannot serve now (its index or its audit unavailable);
//   - 504: the custodian did not answer within the first-byte limit (or
//     the fetch's whole time passed);
//   - 502: the custodian could not be reached, answered outside the
//     protocol, failed, or announced content that does not match the
//     index.
func remoteStatus(err error, region string) (int, fhir.IssueType, string) {
	var ref *fetch.Refusal
	switch {
	case errors.As(err, &ref) && (ref.Code == fetch.CodeNotFound || ref.Code == fetch.CodeUnauth):
		return http.StatusNotFound, fhir.IssueTypeNotFound, "no such Binary"
	case errors.As(err, &ref) && ref.Code == fetch.CodeBusy:
		return http.StatusServiceUnavailable, fhir.IssueTypeTransient,
			"region " + region + ", which keeps this document, cannot serve it now; retry"
	case errors.Is(err, fetch.ErrBusy):
		return http.StatusServiceUnavailable, fhir.IssueTypeTransient,
			"region " + region + " was not asked: this node is fetching as many documents (from that region, or in all) as it may; retry"
	case errors.Is(err, fetch.ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, fhir.IssueTypeTimeout,
			"region " + region + ", which keeps this document, did not answer in time; retry"
	case errors.Is(err, fetch.ErrMismatch):
		return http.StatusBadGateway, fhir.IssueTypeTransient,
			"region " + region + ", which keeps this document, sent content that does not match the index"
	case ref != nil:
		return http.StatusBadGateway, fhir.IssueTypeTransient,
			"region " + region + ", which keeps this document, failed to serve it (" + ref.Code + "); retry"
	}
	return http.StatusBadGateway, fhir.IssueTypeTransient,
		"region " + region + ", which keeps this document, could not be reached; retry"
}

// teller returns what tells the custodian of a read this node refused,
// in the background (the refusals' worker calls it after the answer, so
// that the answer neither waits for it nor tells, by taking longer, that
// the document exists); nil when nobody is to be told. The custodian
// decides on its own replica, audits the attempt and sends no content.
func (a *API) teller(r *http.Request, e index.Entry) func() {
	if a.d.Attempt == nil || e.Custodian == a.d.Region {
		return nil
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return func() {
		select {
		case a.attempts <- struct{}{}:
		default:
			a.d.Log.Warn("too many refused attempts being told to custodians; this one is audited here only", "doc", e.ID, "custodian", e.Custodian)
			return
		}
		a.told.Add(1)
		go func() {
			defer a.told.Done()
			defer func() { <-a.attempts }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.d.Attempt(ctx, e.Custodian, e.ID, tok); err != nil {
				a.d.Log.Info("the custodian could not be told of a refused attempt", "doc", e.ID, "custodian", e.Custodian, "err", err)
			}
		}()
	}
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func (a *API) fetchTimeout() time.Duration {
	if a.d.FetchTimeout > 0 {
		return a.d.FetchTimeout
	}
	return 5 * time.Minute
}

// Router is where the API mounts its routes (an http.ServeMux, or the
// node's router that also lists them).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Capabilities declares what the API serves, for the node's
// CapabilityStatement.
func (a *API) Capabilities(c *fhirres.Capabilities) {
	c.Interactions(fhir.ResourceTypeBinary, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead})
	c.Operation(fhir.ResourceTypePatient, "everything")
	c.Operation(fhir.ResourceTypeDocumentReference, "blind")
	c.Operation(fhir.ResourceTypeDocumentReference, "unblind")
}

// Register mounts the routes.
func (a *API) Register(mux Router) {
	mux.HandleFunc("GET /fhir/Binary/{id}", a.read)
	mux.HandleFunc("GET /fhir/Patient/{id}/$everything", a.everything)
	a.registerBlinding(mux)
}

// wantsResource reports whether the client asks for the FHIR Binary
// resource (Accept: application/fhir+json, or _format=json) rather than
// the document's own bytes.
func wantsResource(r *http.Request) bool {
	switch r.URL.Query().Get("_format") {
	case "json", "application/json", "application/fhir+json":
		return true
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/fhir+json", "application/json+fhir":
			return true
		}
	}
	return false
}

// send writes the content: its own bytes, or the FHIR Binary resource
// holding them, base64-encoded as they stream.
func (a *API) send(w http.ResponseWriter, r *http.Request, e index.Entry, mime string, content io.Reader) error {
	if wantsResource(r) {
		w.Header().Set("Content-Type", "application/fhir+json")
		return fhirres.WriteBinary(w, index.ResourceID(e.ID), mime, content)
	}
	w.Header().Set("Content-Type", mime)
	_, err := io.Copy(w, content)
	return err
}

// read is GET /fhir/Binary/{id}: the content of a version the caller
// may open, from this region's store or fetched from its custodian,
// audited before the first byte and checked against the index's hash as
// it streams.
func (a *API) read(w http.ResponseWriter, r *http.Request) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	e, acc, found, err := a.lookup(r, c)
	if err != nil {
		httpapi.With(r, a.d.Log).Error("index read failed", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return
	}
	if !acc.Content {
		a.refuseRead(w, r, c, e, found)
		return
	}
	rc, ok := a.open(w, r, c, e)
	if !ok {
		return
	}
	defer rc.Close()
	ev := readEvent(c, e, index.OutcomeSuccess)
	ev.Override = acc.Override
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		httpapi.With(r, a.d.Log).Error("audit record failed; content withheld", "err", err)
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited; retry")
		return
	}
	a.stream(w, r, e, ev, rc)
}

// lookup reads the version the request names and the policy's verdict
// on it for the caller, from the local replica. An id that names no
// version costs what one that does costs: reading a version that exists
// costs more than finding that a key does not (badger's bloom filters
// answer that), so for an absent id the last version found is read too,
// its verdict thrown away. Otherwise the time of a 404 would tell a
// document the caller may not open from one that does not exist.
func (a *API) lookup(r *http.Request, c index.Caller) (e index.Entry, acc index.Access, found bool, err error) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rid := r.PathValue("id")
	err = a.d.Read(ctx, func(rd index.Reader) error {
		var err error
		e, _, acc, found, err = index.EntryFor(rd, rid, c)
		if err == nil && !found {
			if decoy := a.decoy.Load(); decoy != nil {
				_, _, _, _, _ = index.EntryFor(rd, *decoy, c)
			}
		}
		return err
	})
	if found {
		a.decoy.Store(&rid)
	}
	return e, acc, found, err
}

// readEvent is the audit record of a read of a version's content.
func readEvent(c index.Caller, e index.Entry, outcome index.AuditOutcome) index.Event {
	return index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionRead, What: "Binary.read", Patient: e.Patient, Documents: []string{e.ID}, Outcome: outcome}
}

// refuseRead answers a read the caller may not make. Absent, not visible
// and not allowed the content are one answer, which costs the same:
// nothing tells a caller that a document it may not open exists, not even
// the time the answer takes. The answer is written first; then an
// attempt on a document that exists is queued for the audit as refused
// (recorded durably just after the answer, so the patient sees who
// tried), and for a document another region keeps that region is told in
// the background, so it decides and audits the attempt on its own
// replica.
func (a *API) refuseRead(w http.ResponseWriter, r *http.Request, c index.Caller, e index.Entry, found bool) {
	httpapi.Outcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Binary")
	if found {
		ev := readEvent(c, e, index.OutcomeRefused)
		ev.Time = time.Now().UTC() // the attempt's, not the record's
		a.refused.add(context.WithoutCancel(r.Context()), refusal{ev: ev, tell: a.teller(r, e)})
	}
}

// open opens the content: from this region's store, or from its
// custodian. A failure is answered.
func (a *API) open(w http.ResponseWriter, r *http.Request, c index.Caller, e index.Entry) (io.ReadCloser, bool) {
	if e.Custodian != a.d.Region {
		return a.openRemote(w, r, c, e)
	}
	rc, status, msg := a.openLocal(e)
	if rc == nil {
		httpapi.Outcome(w, status, issueFor(status), msg)
		return nil, false
	}
	return rc, true
}

// stream sends the content, checked as it goes. Bytes that do not hash to
// the index's value cut the transfer: the status is sent, and cutting the
// connection is how the client learns the body is not the document.
func (a *API) stream(w http.ResponseWriter, r *http.Request, e index.Entry, ev index.Event, rc io.Reader) {
	mime := e.MIME
	if mime == "" || strings.ContainsAny(mime, "\r\n") {
		mime = "application/octet-stream"
	}
	// No Content-Length: the body is chunked, so a transfer cut because
	// the bytes did not hash to the index's value ends without its last
	// chunk and the client sees an error, not a complete document.
	w.Header().Set("Fsenet-Content-Size", strconv.FormatInt(e.Size, 10))
	w.Header().Set("ETag", `"`+e.Hash+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	err := a.send(w, r, e, mime, rc)
	switch {
	case err == nil:
		return
	case errors.Is(err, store.ErrCorrupt):
		a.d.Corrupt()
		a.d.Log.Error("stored content does not match its hash; transfer cut", "doc", e.ID)
	case errors.Is(err, fetch.ErrMismatch):
		a.d.Mismatch()
		a.d.Log.Error("content from the custodian does not match the index; transfer cut", "doc", e.ID, "custodian", e.Custodian)
		ev.What, ev.Outcome = "Binary.read.mismatch", index.OutcomeSeriousFailure
		if aerr := a.d.Audit.Record(context.WithoutCancel(r.Context()), ev); aerr != nil {
			a.d.Log.Error("audit record failed", "err", aerr)
		}
	}
	panic(http.ErrAbortHandler)
}
