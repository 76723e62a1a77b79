package mhd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/fetch"
)

// History limits.
const (
	// everythingParallel bounds the contents fetched at once.
	everythingParallel = 24
	// maxEverythingContent bounds the contents one answer carries inline;
	// past it a document is listed with its Binary URL only.
	maxEverythingContent = 64 << 20
)

// everything is GET /fhir/Patient/{id}/$everything: the patient's record
// from every region in one answer — the Patient and every document
// version the caller may see, from this node's replica of the index; with
// _content=true also each document's content (Binary, base64), fetched in
// parallel from the regions that keep them, each region within
// RegionDeadline. A region that cannot be reached or refuses yields an
// OperationOutcome entry naming it and why: a partial answer, never a
// silent gap and never a wait past the deadline.
func (a *API) everything(w http.ResponseWriter, r *http.Request) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	withContent, ok := everythingParams(w, r)
	if !ok {
		return
	}
	h, ok := a.readHistory(w, r, c)
	if !ok {
		return
	}
	if withContent {
		h.withContent = true
		h.contents = a.fetchContents(r, h.docs)
	}
	if !a.auditHistory(w, r, c, h) {
		return
	}
	a.writeHistory(w, r, h)
}

// historyDoc is a document version the caller may see, and what the
// access policy allows of it.
type historyDoc struct {
	e   index.Entry
	acc index.Access
}

// fetched is one document's content, or why it could not be had.
type fetched struct {
	data []byte
	err  error
}

// history is a patient's record as $everything answers it.
type history struct {
	patient index.Patient
	docs    []historyDoc // oldest first
	// withContent: _content=true; contents[i] is then docs[i]'s (empty
	// for a document whose content the caller may not have).
	withContent bool
	contents    []fetched
}

// carries reports whether the answer is to carry docs[i]'s content: it
// was asked for, and the caller may have it.
func (h *history) carries(i int) bool {
	return h.withContent && h.docs[i].acc.Content
}

// everythingParams reads $everything's parameters: _content, once, true
// or false. Another parameter is ignored, or refused under Prefer:
// handling=strict. On failure it has answered.
func everythingParams(w http.ResponseWriter, r *http.Request) (withContent, ok bool) {
	for k, vs := range r.URL.Query() {
		switch k {
		case "_content":
			if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
				httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, "_content: want true or false")
				return false, false
			}
			withContent = vs[0] == "true"
		default:
			if strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "handling=strict") {
				httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeNotSupported, "unknown parameter "+k)
				return false, false
			}
		}
	}
	return withContent, true
}

// readHistory reads the patient and the document versions the caller may
// see from this node's replica of the index, oldest first. A patient that
// does not exist and one the caller may not see are answered alike (404).
// On failure it has answered.
func (a *API) readHistory(w http.ResponseWriter, r *http.Request, c index.Caller) (*history, bool) {
	pid, valid := fhirres.PatientIDOf(r.PathValue("id"))
	h := &history{}
	var found bool
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := a.d.Read(ctx, func(rd index.Reader) error {
		if !valid {
			return nil
		}
		var err error
		if h.patient, found, err = index.GetPatient(rd, pid); err != nil || !found {
			return err
		}
		es, err := index.PatientEntries(rd, h.patient.ID)
		for _, e := range es {
			if acc := index.EntryAccess(c, h.patient, e); acc.Visible {
				h.docs = append(h.docs, historyDoc{e, acc})
			}
		}
		return err
	})
	if err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return nil, false
	}
	if !found || !index.PatientAccess(c, h.patient) {
		httpapi.Outcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Patient")
		return nil, false
	}
	slices.SortFunc(h.docs, func(x, y historyDoc) int { return x.e.Created.Compare(y.e.Created) })
	return h, true
}

// fetchContents fetches the contents the caller may have, docs[i]'s at
// i: in parallel, at most everythingParallel at once, region by region
// within each region's deadline.
func (a *API) fetchContents(r *http.Request, docs []historyDoc) []fetched {
	deadlines, cancel := a.regionDeadlines(r, docs)
	defer cancel()
	results := make([]fetched, len(docs))
	sem := make(chan struct{}, everythingParallel)
	budget := &contentBudget{}
	var wg sync.WaitGroup
	for i, d := range docs {
		if !d.acc.Content {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.fetchContent(deadlines[d.e.Custodian], r, d.e, sem, budget)
		}()
	}
	wg.Wait()
	return results
}

// regionDeadlines returns one context for each region that keeps one of
// docs, ending RegionDeadline from now, and what cancels them all. All of
// a region's documents share its deadline, so a region that does not
// answer delays the answer by that long and no longer. The contexts keep
// the request's values without its cancellation.
func (a *API) regionDeadlines(r *http.Request, docs []historyDoc) (map[string]context.Context, context.CancelFunc) {
	deadlines := map[string]context.Context{}
	var cancels []context.CancelFunc
	for _, d := range docs {
		if _, ok := deadlines[d.e.Custodian]; !ok {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.regionDeadline())
			cancels = append(cancels, rcancel)
			deadlines[d.e.Custodian] = rctx
		}
	}
	return deadlines, func() {
		for _, cancel := range cancels {
			cancel()
		}
	}
}

// fetchContent fetches one document's content within its region's
// deadline rctx, once one of the sem slots is free. A failure once the
// deadline passed is reported as the deadline (unless this node had no
// fetch slot free); a content that would take the answer past its budget
// is not carried (errTooMuch).
func (a *API) fetchContent(rctx context.Context, r *http.Request, e index.Entry, sem chan struct{}, budget *contentBudget) fetched {
	select {
	case sem <- struct{}{}:
	case <-rctx.Done():
		return fetched{err: rctx.Err()}
	}
	defer func() { <-sem }()
	b, err := a.content(rctx, r, e)
	if err != nil && rctx.Err() != nil && !errors.Is(err, fetch.ErrBusy) {
		err = rctx.Err() // whatever failed, the region's deadline passed
	}
	if err == nil && !budget.take(len(b)) {
		err = errTooMuch
	}
	return fetched{b, err}
}

// contentBudget bounds the bytes of content one answer carries
// (maxEverythingContent), for the fetches running at once.
type contentBudget struct {
	mu    sync.Mutex
	total int
}

// take reserves n bytes of the budget; it reports false, reserving
// nothing, when they would exceed it.
func (b *contentBudget) take(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total+n > maxEverythingContent {
		return false
	}
	b.total += n
	return true
}

// auditHistory records the disclosure of the record: every document
// version listed, flagged as an override when any of them was seen by
// emergency access. Nothing is disclosed unless the record is durable; on
// failure it has answered.
func (a *API) auditHistory(w http.ResponseWriter, r *http.Request, c index.Caller, h *history) bool {
	var ids []string
	for _, d := range h.docs {
		ids = append(ids, d.e.ID)
	}
	ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionRead, What: "Patient.everything", Patient: h.patient.ID, Documents: ids, Outcome: index.OutcomeSuccess}
	for _, d := range h.docs {
		ev.Override = ev.Override || d.acc.Override
	}
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited, so nothing is disclosed; retry")
		return false
	}
	return true
}

// regionFailure is why a region's contents are missing from an answer.
type regionFailure struct {
	region, reason string
}

// failedRegions lists the regions whose contents, or some of them, could
// not be had, by region code, each with the reason of its first failure
// in the documents' order.
func (h *history) failedRegions() []regionFailure {
	failed := map[string]string{}
	for i, d := range h.docs {
		if h.carries(i) && h.contents[i].err != nil {
			if _, seen := failed[d.e.Custodian]; !seen {
				failed[d.e.Custodian] = reason(h.contents[i].err)
			}
		}
	}
	out := make([]regionFailure, 0, len(failed))
	for _, region := range slices.Sorted(maps.Keys(failed)) {
		out = append(out, regionFailure{region, failed[region]})
	}
	return out
}

// writeHistory writes the answer, a searchset Bundle: the Patient, each
// DocumentReference followed by its content (a Binary) when carried, and
// an OperationOutcome for each region whose contents are missing. The
// Bundle is written as it goes, each content base64-encoded straight into
// the answer: building it whole and encoding it again cost more CPU than
// fetching the documents. A write that fails cuts the answer short, and
// is logged.
func (a *API) writeHistory(w http.ResponseWriter, r *http.Request, h *history) {
	failed := h.failedRegions()
	w.Header().Set("Content-Type", "application/fhir+json")
	sw := newSearchset(w, len(h.docs))
	base := fhirres.Base(r, a.d.PublicURL)
	err := sw.entry(fhirres.FullURL(base, "Patient", fhirres.PatientResourceID(h.patient.ID)), "match", jsonResource(fhirres.Patient(h.patient)))
	for i, d := range h.docs {
		if err != nil {
			break
		}
		rid := index.ResourceID(d.e.ID)
		err = sw.entry(fhirres.FullURL(base, "DocumentReference", rid), "match", jsonResource(fhirres.DocumentReference(d.e, d.acc.Content, base)))
		if err != nil || !h.carries(i) || h.contents[i].err != nil {
			continue
		}
		data := h.contents[i].data
		err = sw.entry(fhirres.FullURL(base, "Binary", rid), "include", func(w io.Writer) error {
			return fhirres.WriteBinary(w, rid, d.e.MIME, bytes.NewReader(data))
		})
	}
	for _, f := range failed {
		if err != nil {
			break
		}
		msg := "region " + f.region + ": " + f.reason + "; its documents are listed without their content"
		err = sw.entry("", "outcome", jsonResource(fhirres.Incomplete(msg)))
	}
	if err == nil {
		err = sw.close()
	}
	if err != nil {
		a.d.Log.Warn("history answer cut", "err", err)
	}
}

// searchset writes a searchset Bundle entry by entry, through a buffer,
// as its entries come.
type searchset struct {
	bw    *bufio.Writer
	first bool
}

// newSearchset starts a searchset Bundle of total matches on w.
func newSearchset(w io.Writer, total int) *searchset {
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"resourceType":"Bundle","type":"searchset","total":%d,"entry":[`, total)
	return &searchset{bw: bw, first: true}
}

// entry writes one entry: its fullUrl (none if empty), its resource as
// write writes it, and its search mode.
func (s *searchset) entry(fullURL, mode string, write func(io.Writer) error) error {
	if !s.first {
		s.bw.WriteByte(',')
	}
	s.first = false
	if fullURL != "" {
		u, _ := json.Marshal(fullURL)
		s.bw.WriteString(`{"fullUrl":`)
		s.bw.Write(u)
		s.bw.WriteString(`,"resource":`)
	} else {
		s.bw.WriteString(`{"resource":`)
	}
	if err := write(s.bw); err != nil {
		return err
	}
	_, err := fmt.Fprintf(s.bw, `,"search":{"mode":%q}}`, mode)
	return err
}

// close ends the Bundle and sends what is buffered.
func (s *searchset) close() error {
	s.bw.WriteString("]}\n")
	return s.bw.Flush()
}

// jsonResource returns a writer of v, a resource, as JSON.
func jsonResource(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		b, err := json.Marshal(v)
		if err == nil {
			_, err = w.Write(b)
		}
		return err
	}
}

var errTooMuch = errors.New("the answer's contents would exceed 64 MiB: fetch the rest by Binary")

// reason is what a partial answer says about a region.
func reason(err error) string {
	var ref *fetch.Refusal
	switch {
	case errors.Is(err, fetch.ErrBusy):
		return "was not asked: this node is fetching as many documents as it may, from that region or in all (retry)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fetch.ErrNoAnswer):
		return "did not answer within the deadline"
	case errors.As(err, &ref):
		return "refused (" + ref.Code + ")"
	case errors.Is(err, fetch.ErrMismatch):
		return "sent content that does not match the index (refused)"
	case errors.Is(err, errTooMuch):
		return errTooMuch.Error()
	}
	return "could not be reached"
}

// content reads one document's bytes, from this region's store or from
// its custodian, checked against the index.
func (a *API) content(ctx context.Context, r *http.Request, e index.Entry) ([]byte, error) {
	var rc io.ReadCloser
	if e.Custodian == a.d.Region {
		var msg string
		if rc, _, msg = a.openLocal(e); rc == nil {
			return nil, errors.New(msg)
		}
	} else {
		if a.d.Fetch == nil {
			return nil, errors.New("this node does not fetch from other regions")
		}
		_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		var err error
		if rc, err = a.d.Fetch(ctx, e.Custodian, e.ID, strings.TrimSpace(tok), fetch.Want{SHA256: e.Hash, Size: e.Size}); err != nil {
			if errors.Is(err, fetch.ErrMismatch) {
				a.d.Mismatch()
			}
			return nil, err
		}
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(e.Size, maxEverythingContent)))
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxEverythingContent+1)); err != nil {
		if errors.Is(err, fetch.ErrMismatch) {
			a.d.Mismatch()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return buf.Bytes(), nil
}

// regionDeadline is RegionDeadline, or 5 seconds when not set.
func (a *API) regionDeadline() time.Duration {
	if a.d.RegionDeadline > 0 {
		return a.d.RegionDeadline
	}
	return 5 * time.Second
}
