package mhd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/fetch"
)

const (
	consenting = "CF:RSSMRA80A01H501U"
	refusing   = "CF:MRTMTT25D09F205Z"
)

// gatedRecorder is an audit recorder whose records wait for its gate.
type gatedRecorder struct {
	gate   chan struct{}
	mu     sync.Mutex
	events []index.Event
}

func (g *gatedRecorder) Record(ctx context.Context, events ...index.Event) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, events...)
	return nil
}

func (g *gatedRecorder) recorded() []index.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

// node is a region's Binary endpoint over a replica that indexes
// documents kept by Lombardia (030): open (for a consenting patient),
// blinded, withdrawn, and one of a patient who gives no consent. The
// caller is a clinician of Puglia (160).
type node struct {
	api      *API
	mux      *http.ServeMux
	rec      *gatedRecorder
	fetch    atomic.Pointer[func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error)]
	attempts atomic.Int64
	ids      map[string]string // name → resource id
}

func entry(local, patient, custodian string) index.Entry {
	sum := sha256.Sum256([]byte(local))
	return index.Entry{ID: index.DocumentID(custodian, local), Patient: patient, Type: "11502-2", Class: "REF",
		Created: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), AuthorOrg: custodian + "-ASST-01", Custodian: custodian,
		Hash: hex.EncodeToString(sum[:]), Size: 1234, MIME: "application/pdf"}
}

func newNode(t *testing.T, region string) *node {
	t.Helper()
	rep := consensustest.NewReplica(t, index.New())
	apply := func(cmd consensus.Command, err error) {
		t.Helper()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = rep.Apply(ctx, cmd)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{consenting, refusing} {
		apply(index.PutPatient(index.Patient{ID: id, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: "030"}))
	}
	apply(index.SetConsent(index.ConsentChange{Patient: consenting, Given: true}))
	n := &node{rec: &gatedRecorder{gate: make(chan struct{})}, ids: map[string]string{}}
	for _, d := range []struct {
		name, patient, custodian string
		change                   func(e index.Entry)
	}{
		{"open", consenting, "030", nil},
		{"blinded", consenting, "030", func(e index.Entry) {
			apply(index.UpdateEntry(index.EntryUpdate{ID: e.ID, Events: []string{index.EventHidden}}))
		}},
		{"withdrawn", consenting, "030", func(e index.Entry) { apply(index.Withdraw(e.ID)) }},
		{"no consent", refusing, "030", nil},
	} {
		e := entry(strings.ReplaceAll(d.name, " ", "-"), d.patient, d.custodian)
		apply(index.Publish(e))
		if d.change != nil {
			d.change(e)
		}
		n.ids[d.name] = index.ResourceID(e.ID)
	}
	n.ids["absent"] = index.ResourceID(index.DocumentID("030", "never-published"))
	n.api = New(Deps{Region: region, Audit: n.rec,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := rep.Read(ctx, consensus.Local, fn)
			return err
		},
		Caller: func(r *http.Request) (index.Caller, bool) {
			return index.Caller{Subject: "VRDLGU75C12H501Y", Role: "AAS", Purpose: "TREATMENT", Region: "160", Organization: "160-ASL-BA"},
				r.Header.Get("Authorization") != ""
		},
		Fetch: func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error) {
			return (*n.fetch.Load())(ctx, region, doc, token, want)
		},
		Attempt: func(context.Context, string, string, string) error { n.attempts.Add(1); return nil },
	})
	n.setFetch(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) {
		return nil, errors.New("not asked for content in this test")
	})
	n.mux = http.NewServeMux()
	n.api.Register(n.mux)
	t.Cleanup(func() {
		select {
		case <-n.rec.gate:
		default:
			close(n.rec.gate)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.api.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return n
}

func (n *node) setFetch(f func(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error)) {
	n.fetch.Store(&f)
}

// read serves GET /fhir/Binary/<name's id> and returns the answer.
func (n *node) read(name string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Binary/"+n.ids[name], nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	n.mux.ServeHTTP(w, r)
	return w
}

// A read the policy refuses is answered as for an absent document, and
// the answer does not wait for the refusal's audit record (which makes a
// record durable: an fsync) nor for the custodian being told: the time
// of the answer does not tell that the document exists. The refusals are
// recorded once the recorder lets them through; the absent id leaves no
// record.
func TestRefusedReadIsAnsweredBeforeItsAuditRecord(t *testing.T) {
	for _, tc := range []struct {
		name, region string
		told         int64
	}{
		{"at another region's node", "160", 3},
		{"at the custodian's node", "030", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { refusedReads(t, newNode(t, tc.region), tc.told) })
	}
}

func refusedReads(t *testing.T, n *node, told int64) {
	absent := n.read("absent")
	if absent.Code != http.StatusNotFound {
		t.Fatalf("absent: %d %s", absent.Code, absent.Body)
	}
	hidden := []string{"blinded", "withdrawn", "no consent"}
	for _, name := range hidden {
		t.Run(name, func(t *testing.T) {
			// The recorder holds every record: an answer that waited for
			// its record would not return.
			done := make(chan *httptest.ResponseRecorder, 1)
			go func() { done <- n.read(name) }()
			select {
			case w := <-done:
				if w.Code != absent.Code || !bytes.Equal(w.Body.Bytes(), absent.Body.Bytes()) || w.Header().Get("Content-Type") != absent.Header().Get("Content-Type") {
					t.Fatalf("answered %d %s, an absent id %d %s", w.Code, w.Body, absent.Code, absent.Body)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the answer waits for the refusal's audit record")
			}
		})
	}
	if got := n.rec.recorded(); len(got) != 0 {
		t.Fatalf("recorded through a closed gate: %v", got)
	}
	answered := time.Now()
	close(n.rec.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.api.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, ev := range n.rec.recorded() {
		if ev.What != "Binary.read" || ev.Outcome != index.OutcomeRefused || len(ev.Documents) != 1 || ev.Actor != "VRDLGU75C12H501Y" {
			t.Fatalf("recorded %+v, want refused Binary.read events", ev)
		}
		if ev.Time.IsZero() || ev.Time.After(answered) {
			t.Fatalf("a refusal recorded at %v, not at its read (answered by %v)", ev.Time, answered)
		}
		docs = append(docs, index.ResourceID(ev.Documents[0]))
	}
	slices.Sort(docs)
	var want []string
	for _, name := range hidden {
		want = append(want, n.ids[name])
	}
	slices.Sort(want)
	if !slices.Equal(docs, want) {
		t.Fatalf("refusals recorded for %v, want one for each hidden document %v", docs, want)
	}
	// Another region's node tells Lombardia of the attempts on its
	// documents; Lombardia's own node has nobody to tell.
	if got := n.attempts.Load(); got != told {
		t.Fatalf("custodians told of %d attempts, want %d", got, told)
	}
}

// Every way a fetch from the custodian fails has its status, and every
// answer but the refusal names the region.
func TestRemoteFailureStatuses(t *testing.T) {
	n := newNode(t, "160")
	close(n.rec.gate)
	for _, tc := range []struct {
		name  string
		err   error
		want  int
		issue fhir.IssueType
	}{
		{"refused", &fetch.Refusal{Code: fetch.CodeNotFound, Message: "no such document"}, http.StatusNotFound, fhir.IssueTypeNotFound},
		{"token not accepted", &fetch.Refusal{Code: fetch.CodeUnauth}, http.StatusNotFound, fhir.IssueTypeNotFound},
		{"custodian cannot serve now", &fetch.Refusal{Code: fetch.CodeBusy}, http.StatusServiceUnavailable, fhir.IssueTypeTransient},
		{"custodian failed", &fetch.Refusal{Code: fetch.CodeInternal}, http.StatusBadGateway, fhir.IssueTypeTransient},
		{"no slot of this node", fmt.Errorf("%w: region 030's share of 16 stayed busy", fetch.ErrBusy), http.StatusServiceUnavailable, fhir.IssueTypeTransient},
		{"no first byte in time", fmt.Errorf("%w: no answer within 5s", fetch.ErrNoAnswer), http.StatusGatewayTimeout, fhir.IssueTypeTimeout},
		{"the fetch's whole time", fmt.Errorf("fetch: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, fhir.IssueTypeTimeout},
		{"announced size not the index's", fmt.Errorf("%w: the custodian announces 3 bytes", fetch.ErrMismatch), http.StatusBadGateway, fhir.IssueTypeTransient},
		{"malformed answer", fmt.Errorf("%w: header", fetch.ErrProtocol), http.StatusBadGateway, fhir.IssueTypeTransient},
		{"unreachable", errors.New("fetch: open a stream: dial backoff"), http.StatusBadGateway, fhir.IssueTypeTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.setFetch(func(context.Context, string, string, string, fetch.Want) (io.ReadCloser, error) { return nil, tc.err })
			w := n.read("open")
			var oo fhir.OperationOutcome
			if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil || len(oo.Issue) != 1 || oo.Issue[0].Diagnostics == nil {
				t.Fatalf("%d: not an OperationOutcome: %s", w.Code, w.Body)
			}
			if w.Code != tc.want || oo.Issue[0].Code != tc.issue {
				t.Fatalf("%d %v, want %d %v: %s", w.Code, oo.Issue[0].Code, tc.want, tc.issue, w.Body)
			}
			if names := strings.Contains(*oo.Issue[0].Diagnostics, "region 030"); names != (tc.want != http.StatusNotFound) {
				t.Fatalf("the answer names the region: %v; %s", names, *oo.Issue[0].Diagnostics)
			}
		})
	}
}
