// Package mhd is the FHIR side of a region's repository (IHE MHD):
// retrieving content (ITI-68) and the patient's blinding of a document.
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
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirapi"
	"github.com/fsenet/fsenet/repository"
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
	Audit  fhirapi.Recorder
	Region string
	Log    *slog.Logger
	// Corrupt is called when stored content does not match its hash.
	Corrupt func()
}

// API serves GET /fhir/Binary/{id}.
type API struct{ d Deps }

// New returns the endpoint.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Corrupt == nil {
		d.Corrupt = func() {}
	}
	return &API{d: d}
}

// Register mounts the route.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /fhir/Binary/{id}", a.read)
	a.registerBlinding(mux)
}

func (a *API) read(w http.ResponseWriter, r *http.Request) {
	c, ok := a.d.Caller(r)
	if !ok {
		fhirapi.OperationOutcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	var e index.Entry
	var acc index.Access
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := a.d.Read(ctx, func(rd index.Reader) error {
		var err error
		e, _, acc, _, err = index.EntryFor(rd, r.PathValue("id"), c)
		return err
	})
	if err != nil {
		a.d.Log.Error("index read failed", "err", err)
		fhirapi.OperationOutcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return
	}
	// Absent, not visible and not allowed the content are one answer:
	// nothing tells a caller that a document it may not open exists.
	if !acc.Content {
		fhirapi.OperationOutcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Binary")
		return
	}
	if e.Custodian != a.d.Region {
		fhirapi.OperationOutcome(w, http.StatusNotImplemented, fhir.IssueTypeNotSupported,
			"this document is kept by region "+e.Custodian+": fetch it from that region's node (retrieval across regions is not available yet)")
		return
	}
	d, err := a.d.Store.Document(e.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.d.Log.Error("indexed document missing from the store", "doc", e.ID)
		fhirapi.OperationOutcome(w, http.StatusInternalServerError, fhir.IssueTypeException, "the document's content is missing from this region's store")
		return
	case err != nil:
		fhirapi.OperationOutcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the store could not be read; retry")
		return
	case d.State == store.StateWithdrawn:
		fhirapi.OperationOutcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Binary")
		return
	case d.Entry.Hash != e.Hash:
		a.d.Corrupt()
		a.d.Log.Error("stored document does not match the index", "doc", e.ID)
		fhirapi.OperationOutcome(w, http.StatusInternalServerError, fhir.IssueTypeException, "the stored content does not match the index")
		return
	}
	rc, m, err := a.d.Store.Content(e.Hash)
	if err != nil {
		a.d.Log.Error("stored content unreadable", "doc", e.ID, "err", err)
		fhirapi.OperationOutcome(w, http.StatusInternalServerError, fhir.IssueTypeException, "the document's content could not be read")
		return
	}
	defer rc.Close()
	ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: "R", What: "Binary.read", Patient: e.Patient, Documents: []string{e.ID}, Outcome: "0", Override: acc.Override}
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		a.d.Log.Error("audit record failed; content withheld", "err", err)
		fhirapi.OperationOutcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited; retry")
		return
	}
	mime := e.MIME
	if mime == "" || strings.ContainsAny(mime, "\r\n") {
		mime = "application/octet-stream"
	}
	w.Header().Set("Content-Type", mime)
	// No Content-Length: the body is chunked, so a transfer cut because
	// the bytes did not hash to the index's value ends without its last
	// chunk and the client sees an error, not a complete document.
	w.Header().Set("Fsenet-Content-Size", strconv.FormatInt(m.Size, 10))
	w.Header().Set("ETag", `"`+e.Hash+`"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := io.Copy(w, rc); err != nil {
		if errors.Is(err, store.ErrCorrupt) {
			a.d.Corrupt()
			a.d.Log.Error("stored content does not match its hash; transfer cut", "doc", e.ID)
		}
		// The status is sent: cutting the connection is how the client
		// learns the body is not the document.
		panic(http.ErrAbortHandler)
	}
}
