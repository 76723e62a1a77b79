package mhd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	pid, valid := fhirres.PatientIDOf(r.PathValue("id"))
	withContent := false
	for k, vs := range r.URL.Query() {
		switch k {
		case "_content":
			if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
				httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, "_content: want true or false")
				return
			}
			withContent = vs[0] == "true"
		default:
			if strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "handling=strict") {
				httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeNotSupported, "unknown parameter "+k)
				return
			}
		}
	}
	var p index.Patient
	var found bool
	type doc struct {
		e   index.Entry
		acc index.Access
	}
	var docs []doc
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := a.d.Read(ctx, func(rd index.Reader) error {
		if !valid {
			return nil
		}
		var err error
		if p, found, err = index.GetPatient(rd, pid); err != nil || !found {
			return err
		}
		es, err := index.PatientEntries(rd, p.ID)
		for _, e := range es {
			if acc := index.EntryAccess(c, p, e); acc.Visible {
				docs = append(docs, doc{e, acc})
			}
		}
		return err
	})
	if err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the index could not be read; retry")
		return
	}
	if !found || !index.PatientAccess(c, p) {
		httpapi.Outcome(w, http.StatusNotFound, fhir.IssueTypeNotFound, "no such Patient")
		return
	}
	slices.SortFunc(docs, func(x, y doc) int { return x.e.Created.Compare(y.e.Created) })

	// Contents, region by region in parallel, each region within its
	// deadline.
	type result struct {
		data []byte
		err  error
	}
	results := make([]result, len(docs))
	if withContent {
		sem := make(chan struct{}, everythingParallel)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		deadlines := map[string]context.Context{}
		for _, d := range docs {
			if _, ok := deadlines[d.e.Custodian]; !ok {
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.regionDeadline())
				defer rcancel()
				deadlines[d.e.Custodian] = rctx
			}
		}
		for i, d := range docs {
			if !d.acc.Content {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx := deadlines[d.e.Custodian]
				select {
				case sem <- struct{}{}:
				case <-rctx.Done():
					results[i].err = rctx.Err()
					return
				}
				defer func() { <-sem }()
				b, err := a.content(rctx, r, d.e)
				if err != nil && rctx.Err() != nil && !errors.Is(err, fetch.ErrBusy) {
					err = rctx.Err() // whatever failed, the region's deadline passed
				}
				if err == nil {
					mu.Lock()
					if total+len(b) > maxEverythingContent {
						err = errTooMuch
					} else {
						total += len(b)
					}
					mu.Unlock()
				}
				results[i] = result{b, err}
			}()
		}
		wg.Wait()
	}

	var ids []string
	for _, d := range docs {
		ids = append(ids, d.e.ID)
	}
	ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionRead, What: "Patient.everything", Patient: p.ID, Documents: ids, Outcome: index.OutcomeSuccess}
	for _, d := range docs {
		ev.Override = ev.Override || d.acc.Override
	}
	if err := a.d.Audit.Record(r.Context(), ev); err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the access could not be audited, so nothing is disclosed; retry")
		return
	}

	failed := map[string]string{}
	for i, d := range docs {
		if withContent && d.acc.Content && results[i].err != nil {
			if _, seen := failed[d.e.Custodian]; !seen {
				failed[d.e.Custodian] = reason(results[i].err)
			}
		}
	}
	// The Bundle is written as it goes, each content base64-encoded
	// straight into the answer: building it whole and encoding it again
	// cost more CPU than fetching the documents.
	w.Header().Set("Content-Type", "application/fhir+json")
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, `{"resourceType":"Bundle","type":"searchset","total":%d,"entry":[`, len(docs))
	first := true
	entry := func(fullURL, mode string, write func(io.Writer) error) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		if fullURL != "" {
			u, _ := json.Marshal(fullURL)
			bw.WriteString(`{"fullUrl":`)
			bw.Write(u)
			bw.WriteString(`,"resource":`)
		} else {
			bw.WriteString(`{"resource":`)
		}
		if err := write(bw); err != nil {
			return err
		}
		_, err := fmt.Fprintf(bw, `,"search":{"mode":%q}}`, mode)
		return err
	}
	resource := func(v any) func(io.Writer) error {
		return func(w io.Writer) error {
			b, err := json.Marshal(v)
			if err == nil {
				_, err = w.Write(b)
			}
			return err
		}
	}
	base := fhirres.Base(r, a.d.PublicURL)
	err = entry(fhirres.FullURL(base, "Patient", fhirres.PatientResourceID(p.ID)), "match", resource(fhirres.Patient(p)))
	for i, d := range docs {
		if err != nil {
			break
		}
		rid := index.ResourceID(d.e.ID)
		err = entry(fhirres.FullURL(base, "DocumentReference", rid), "match", resource(fhirres.DocumentReference(d.e, d.acc.Content, base)))
		if err != nil || !withContent || !d.acc.Content || results[i].err != nil {
			continue
		}
		data := results[i].data
		err = entry(fhirres.FullURL(base, "Binary", rid), "include", func(w io.Writer) error {
			return fhirres.WriteBinary(w, rid, d.e.MIME, bytes.NewReader(data))
		})
	}
	regions := make([]string, 0, len(failed))
	for region := range failed {
		regions = append(regions, region)
	}
	slices.Sort(regions)
	for _, region := range regions {
		if err != nil {
			break
		}
		msg := "region " + region + ": " + failed[region] + "; its documents are listed without their content"
		err = entry("", "outcome", resource(fhirres.Incomplete(msg)))
	}
	if err == nil {
		bw.WriteString("]}\n")
		err = bw.Flush()
	}
	if err != nil {
		a.d.Log.Warn("history answer cut", "err", err)
	}
}

var errTooMuch = errors.New("the answer's contents would exceed 64 MiB: fetch the rest by Binary")

// reason is what a partial answer says about a region.
func reason(err error) string {
	var ref *fetch.Refusal
	switch {
	case errors.Is(err, fetch.ErrBusy):
		return "was not asked: this node is fetching as many documents as it may (retry)"
	case errors.Is(err, context.DeadlineExceeded):
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

func (a *API) regionDeadline() time.Duration {
	if a.d.RegionDeadline > 0 {
		return a.d.RegionDeadline
	}
	return 5 * time.Second
}
