package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/mhd"
)

// fetchFunc stands for the fetch protocol: how the custodian (region 030,
// the test replica's) answers another region's node.
type fetchFunc func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error)

// requester is the view of another region's node (Puglia, 160) on the
// same replica: every document published in env is kept elsewhere.
type requester struct {
	url      string
	fetch    atomic.Pointer[fetchFunc]
	calls    atomic.Int64
	attempts atomic.Int64
	mismatch atomic.Int64
}

func newRequester(e *env) *requester {
	q := &requester{}
	api := mhd.New(mhd.Deps{Store: e.store, Audit: e.audit, Region: "160", RegionDeadline: 300 * time.Millisecond,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := e.rep.Read(ctx, consensus.Local, fn)
			return err
		},
		Caller: func(r *http.Request) (index.Caller, bool) {
			_, tok, ok := strings.Cut(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				return index.Caller{}, false
			}
			c, err := e.verify(tok)
			return c, err == nil
		},
		Fetch: func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error) {
			q.calls.Add(1)
			return (*q.fetch.Load())(ctx, region, doc, token, want)
		},
		Mismatch: func() { q.mismatch.Add(1) },
		Attempt: func(_ context.Context, region, doc, token string) error {
			if region == "030" && doc != "" && token != "" {
				q.attempts.Add(1)
			}
			return nil
		},
	})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	q.url = srv.URL
	q.set(e.servingCustodian())
	return q
}

func (q *requester) set(f fetchFunc) { q.fetch.Store(&f) }

// servingCustodian answers like a custodian that allows the fetch: the
// stored content, checked as the protocol checks it.
func (e *env) servingCustodian() fetchFunc {
	return func(_ context.Context, region, _, _ string, want fetch.Want) (io.ReadCloser, error) {
		if region != "030" {
			return nil, errors.New("asked the wrong region")
		}
		b, err := e.store.ReadAll(want.SHA256)
		return io.NopCloser(bytes.NewReader(b)), err
	}
}

func (e *env) token(mutate func(*federation.Claims)) string {
	c := e.bearerClaims()
	c.PurposeOfUse = "TREATMENT"
	if mutate != nil {
		mutate(&c)
	}
	tok, err := federation.IssueToken(e.idp, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// A fresh connection each time: the client retries a request whose
	// reused connection was cut before an answer, which would ask twice.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return -1, nil // the connection was cut before an answer
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1, b // the transfer was cut
	}
	return resp.StatusCode, b
}

func (e *env) publishN(t *testing.T, tags ...string) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	for _, tag := range tags {
		pdf := lab(t, tag)
		e.validate(pdf)
		e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody(tag, "REF"), pdf: pdf}))
		docs[index.ResourceID(index.DocumentID(region, tag))] = pdf
	}
	return docs
}

type historyBundle struct {
	ResourceType string
	Entry        []struct {
		Resource struct {
			ResourceType string
			ID           string
			Data         string
			Issue        []struct{ Code, Diagnostics string }
		}
		Search struct{ Mode string }
	}
}

func decodeHistory(t *testing.T, b []byte) (refs int, binaries map[string][]byte, outcomes []string) {
	t.Helper()
	var h historyBundle
	if err := json.Unmarshal(b, &h); err != nil || h.ResourceType != "Bundle" {
		t.Fatalf("not a Bundle (%v): %.300s", err, b)
	}
	binaries = map[string][]byte{}
	for _, en := range h.Entry {
		switch r := en.Resource; r.ResourceType {
		case "DocumentReference":
			refs++
		case "Binary":
			data, err := base64.StdEncoding.DecodeString(r.Data)
			if err != nil {
				t.Fatalf("Binary %s: %v", r.ID, err)
			}
			binaries[r.ID] = data
		case "OperationOutcome":
			for _, is := range r.Issue {
				outcomes = append(outcomes, is.Code+": "+is.Diagnostics)
			}
		}
	}
	return refs, binaries, outcomes
}

// A patient's history asked of a node that keeps none of the documents:
// whole when the custodian answers, partial — the documents listed, an
// OperationOutcome naming the region and why — when it does not, within
// the region's deadline.
func TestEverythingFromAnotherRegion(t *testing.T) {
	e := newEnv(t)
	docs := e.publishN(t, "hist-1", "hist-2", "hist-3")
	q := newRequester(e)
	url := q.url + "/fhir/Patient/CF-" + samplePatient + "/$everything?_content=true"
	author := e.token(nil)

	code, b := get(t, url, author)
	refs, bins, outcomes := decodeHistory(t, b)
	if code != http.StatusOK || refs != 3 || len(bins) != 3 || len(outcomes) != 0 {
		t.Fatalf("whole history: %d, %d references, %d contents, outcomes %v", code, refs, len(bins), outcomes)
	}
	for id, pdf := range docs {
		if !bytes.Equal(bins[id], pdf) {
			t.Fatalf("content of %s: %d bytes, want the %d published", id, len(bins[id]), len(pdf))
		}
	}
	if code, b := get(t, strings.TrimSuffix(url, "?_content=true"), author); code != http.StatusOK || strings.Contains(string(b), `"Binary"`) {
		t.Fatalf("history without contents: %d", code)
	}

	for _, tc := range []struct {
		name  string
		fetch fetchFunc
		want  string
	}{
		{"custodian hangs", func(ctx context.Context, _, _, _ string, _ fetch.Want) (io.ReadCloser, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, "region 030: did not answer within the deadline"},
		{"custodian refuses", func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
			return nil, &fetch.Refusal{Code: fetch.CodeNotFound, Message: "no such document"}
		}, "region 030: refused (not-found)"},
		{"custodian unreachable", func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
			return nil, errors.New("dial backoff")
		}, "region 030: could not be reached"},
		{"this node has no fetch slot free", func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
			return nil, fmt.Errorf("%w (all 64 fetch slots stayed busy)", fetch.ErrBusy)
		}, "region 030: was not asked: this node is fetching as many documents as it may"},
		{"content does not match", func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(strings.NewReader("%PDF-"), errReader{fetch.ErrMismatch})), nil
		}, "region 030: sent content that does not match the index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q.set(tc.fetch)
			before := q.mismatch.Load()
			start := time.Now()
			code, b := get(t, url, author)
			took := time.Since(start)
			refs, bins, outcomes := decodeHistory(t, b)
			if code != http.StatusOK || refs != 3 || len(bins) != 0 || len(outcomes) != 1 || !strings.HasPrefix(outcomes[0], "incomplete: "+tc.want) {
				t.Fatalf("partial history: %d, %d references, %d contents, outcomes %v; want %q", code, refs, len(bins), outcomes, tc.want)
			}
			if took > 5*time.Second {
				t.Fatalf("the answer took %v with a 300 ms region deadline", took)
			}
			if strings.Contains(tc.name, "match") && q.mismatch.Load() == before {
				t.Fatal("content that does not match the index was not counted")
			}
		})
	}
	n := 0
	for _, ev := range e.audit.all() {
		if ev.What == "Patient.everything" && len(ev.Documents) == 3 && ev.Node == "" {
			n++
		}
	}
	if n != 7 {
		t.Fatalf("%d Patient.everything audit events, want one per answer (7)", n)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// $everything refuses bad requests with an OperationOutcome and the
// right status, and says nothing of patients the caller may not see.
func TestEverythingBadRequests(t *testing.T) {
	e := newEnv(t)
	e.publishN(t, "bad-1")
	q := newRequester(e)
	base := q.url + "/fhir/Patient/CF-" + samplePatient + "/$everything"
	author := e.token(nil)
	for _, tc := range []struct {
		name, url, token string
		prefer           string
		want             int
	}{
		{"no token", base, "", "", http.StatusUnauthorized},
		{"garbage token", base, "not.a.token", "", http.StatusUnauthorized},
		{"_content not a boolean", base + "?_content=maybe", author, "", http.StatusBadRequest},
		{"_content twice", base + "?_content=true&_content=false", author, "", http.StatusBadRequest},
		{"unknown parameter, strict", base + "?_since=2020", author, "handling=strict", http.StatusBadRequest},
		{"unknown parameter, lenient", base + "?_since=2020", author, "", http.StatusOK},
		{"not a patient id", q.url + "/fhir/Patient/CF-%00%ff/$everything", author, "", http.StatusNotFound},
		{"unknown patient", q.url + "/fhir/Patient/CF-RSSMRA80A01F205X/$everything", author, "", http.StatusNotFound},
		{"a purpose that may not read the registry", base, e.token(func(c *federation.Claims) { c.PurposeOfUse, c.Organization = "PUBLICHEALTH", "030-ALTRO" }), "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.prefer != "" {
				req.Header.Set("Prefer", tc.prefer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %.300s, want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want != http.StatusOK && !strings.Contains(string(b), `"resourceType":"OperationOutcome"`) {
				t.Fatalf("error answer is not an OperationOutcome: %.300s", b)
			}
		})
	}
}

// Binary for a document another region keeps: fetched through the
// custodian on the caller's behalf; its refusal, absence or bad content
// never reach the caller as the document.
func TestBinaryFromAnotherRegion(t *testing.T) {
	e := newEnv(t)
	docs := e.publishN(t, "far-1")
	var rid string
	for id := range docs {
		rid = id
	}
	q := newRequester(e)
	url := q.url + "/fhir/Binary/" + rid
	author := e.token(nil)
	outcomes := func() (out []index.AuditOutcome) {
		for _, ev := range e.audit.all() {
			if ev.What == "Binary.read" {
				out = append(out, ev.Outcome)
			}
		}
		return out
	}

	if code, b := get(t, url, author); code != http.StatusOK || !bytes.Equal(b, docs[rid]) {
		t.Fatalf("allowed: %d, %d bytes", code, len(b))
	}
	q.set(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
		return nil, &fetch.Refusal{Code: fetch.CodeNotFound, Message: "no such document"}
	})
	if code, b := get(t, url, author); code != http.StatusNotFound || !strings.Contains(string(b), "OperationOutcome") {
		t.Fatalf("refused by the custodian: %d %s", code, b)
	}
	q.set(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
		return nil, fetch.ErrBusy
	})
	if code, b := get(t, url, author); code != http.StatusServiceUnavailable || !strings.Contains(string(b), "OperationOutcome") {
		t.Fatalf("no fetch slot free: %d %s", code, b)
	}
	q.set(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
		return nil, errors.New("no route")
	})
	if code, b := get(t, url, author); code != http.StatusBadGateway || !strings.Contains(string(b), "region 030") {
		t.Fatalf("custodian unreachable: %d %s", code, b)
	}
	q.set(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(strings.NewReader("%PDF-1.7 altered"), errReader{fetch.ErrMismatch})), nil
	})
	if code, b := get(t, url, author); code != -1 || bytes.Equal(b, docs[rid]) {
		t.Fatalf("content that does not match: answered %d with %d bytes, want the transfer cut", code, len(b))
	}
	if q.mismatch.Load() != 1 {
		t.Fatalf("mismatches counted: %d, want 1", q.mismatch.Load())
	}
	if got := outcomes(); !slices.Equal(got, []index.AuditOutcome{index.OutcomeSuccess, index.OutcomeRefused, index.OutcomeSuccess}) {
		// the disclosure, the custodian's refusal, and the mismatched
		// transfer (audited as started; cut on the mismatch)
		t.Fatalf("Binary.read audit outcomes %s", got)
	}

	// A caller this node refuses (another organisation, no consent): the
	// custodian is told of the attempt (for it to decide and audit),
	// after the answer and without any content being asked for.
	before := q.calls.Load()
	other := e.token(func(c *federation.Claims) {
		c.Organization, c.Locality, c.SubjectRole = "030-ALTRO", "030-ALTRO", "AAS"
	})
	if code, _ := get(t, url, other); code != http.StatusNotFound {
		t.Fatalf("refused caller: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.attempts.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if q.attempts.Load() != 1 || q.calls.Load() != before {
		t.Fatalf("for a refused read the custodian was told %d times and asked for content %d times, want told once and never asked",
			q.attempts.Load(), q.calls.Load()-before)
	}
	if code, _ := get(t, q.url+"/fhir/Binary/"+index.ResourceID("nothing"), other); code != http.StatusNotFound {
		t.Fatalf("an absent id: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	if q.attempts.Load() != 1 {
		t.Fatalf("the custodian was told of a read of an absent id (%d attempts)", q.attempts.Load())
	}
}
