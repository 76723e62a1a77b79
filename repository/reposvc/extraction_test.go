package reposvc

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
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/store"
)

// committed stores a version as the gateway would and has the index
// commit it (which marks it for extraction).
func committed(t *testing.T, s *store.Store, id string, content []byte) {
	t.Helper()
	b, err := s.Stage(context.Background(), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	e := index.Entry{ID: id, Patient: "CF:RSSMRA80A01H501U", Hash: hex.EncodeToString(sum[:]), Size: int64(len(content)), MIME: "text/xml",
		Type: "11502-2", Created: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), AuthorOrgID: "030901", Custodian: "030"}
	d := &store.Document{ID: id, State: store.StatePending, Workflow: "wf-" + id, Stored: time.Now(), Entry: e}
	op, err := s.Submit(store.Submission{Blob: b, Doc: d, Op: &store.Op{Kind: store.OpPublish, Doc: id, Workflow: d.Workflow, Operation: "PUBLICATION", Entry: &e},
		Workflow: store.Workflow{ID: d.Workflow, Operation: "PUBLICATION", Doc: id, Status: store.WorkflowPending, Created: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	e.Status = index.StatusCurrent
	if err := s.Complete(op, e); err != nil {
		t.Fatal(err)
	}
}

// fakeExtract answers by the content: "ok", "unsupported" or anything
// else (a malformed document).
func fakeExtract(calls *atomic.Int32) Extractor {
	return func(content []byte, mime string) (facts.Extraction, error) {
		calls.Add(1)
		switch string(content) {
		case "ok":
			return facts.Extraction{Subject: facts.Subject{BirthDate: "1980-01-01", Gender: "male", Province: "MI"},
				Facts: []facts.Fact{{Type: facts.Observation, Code: []facts.Coding{{System: facts.SystemLOINC, Code: "59261-8"}}, Effective: "2026-03-01",
					Value: &facts.Quantity{Value: 52, Unit: "mmol/mol"}, Status: "final", Resource: json.RawMessage(`{"resourceType":"Observation"}`)}}}, nil
		case "unsupported":
			return facts.Extraction{}, fmt.Errorf("%w: a type with no mapping", ErrUnsupported)
		}
		return facts.Extraction{}, errors.New("not a CDA")
	}
}

// Every committed version is extracted once, whatever its outcome; the
// outcome is recorded and counted; a failure never blocks the others; a
// restart extracts nothing again.
func TestExtractionWorkerRecordsEveryOutcome(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	open := func() *store.Store {
		cfg := store.DefaultConfig(dir)
		cfg.GCInterval = 0
		s, err := store.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	for id, content := range map[string]string{"d-ok": "ok", "d-unsupported": "unsupported", "d-bad": "<garbage"} {
		committed(t, s, id, []byte(content))
	}
	var calls atomic.Int32
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	x := newExtractor(s, fakeExtract(&calls), 1, log)
	x.start()
	consensustest.Eventually(t, 10*time.Second, func() error {
		if n, err := s.PendingCount(); err != nil || n != 0 {
			return fmt.Errorf("%d pending, %v", n, err)
		}
		return nil
	}, "every version extracted")
	x.close()
	for id, want := range map[string]string{"d-ok": store.ExtractOK, "d-unsupported": store.ExtractUnsupported, "d-bad": store.ExtractFailed} {
		rec, ok, err := s.Extraction(id)
		if err != nil || !ok || rec.Outcome != want {
			t.Errorf("%s: %+v %v %v, want %s", id, rec, ok, err, want)
		}
	}
	for outcome, want := range map[string]float64{store.ExtractOK: 1, store.ExtractUnsupported: 1, store.ExtractFailed: 1} {
		var m dto.Metric
		if err := x.outcomes.WithLabelValues(outcome).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s counted %v, want %v", outcome, got, want)
		}
	}
	failures, err := s.ExtractionFailures(10)
	if err != nil || len(failures) != 1 || failures[0].Doc != "d-bad" || failures[0].Reason == "" || failures[0].Patient != "" {
		t.Fatalf("failures %+v %v", failures, err)
	}
	// Every version is a document row; the ok one also its fact's row,
	// with the subject's coarse attributes.
	var rows []facts.Row
	if err := s.ScanRows([]store.Scan{{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8", To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}},
		func(_ string, r *facts.Row) error { rows = append(rows, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Age != 46 || rows[0].Province != "MI" || rows[0].Facility != "030901" || rows[0].Value != 52 {
		t.Fatalf("rows %+v", rows)
	}
	var docs int
	_ = s.ScanRows([]store.Scan{{Resource: facts.DocumentReference, System: facts.SystemLOINC, Code: "11502-2", To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}},
		func(string, *facts.Row) error { docs++; return nil })
	if docs != 3 {
		t.Fatalf("%d document rows, want 3", docs)
	}
	// A restart extracts nothing again.
	s.Close()
	s = open()
	defer s.Close()
	before := calls.Load()
	x = newExtractor(s, fakeExtract(&calls), 1, log)
	x.start()
	x.close()
	if calls.Load() != before {
		t.Fatalf("%d extractions after the restart", calls.Load()-before)
	}
}

// A mark whose version is gone is dropped, not retried forever.
func TestExtractionDropsTheMarkOfAVersionThatIsGone(t *testing.T) {
	cfg := store.DefaultConfig(t.TempDir())
	cfg.GCInterval = 0
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MarkExtraction(false, 1, "never-stored"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	x := newExtractor(s, fakeExtract(&calls), 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	x.start()
	defer x.close()
	consensustest.Eventually(t, 10*time.Second, func() error {
		if n, _ := s.PendingCount(); n != 0 {
			return fmt.Errorf("%d pending", n)
		}
		return nil
	}, "the mark dropped")
	if calls.Load() != 0 {
		t.Fatal("extracted a version that does not exist")
	}
}

func TestAgeOn(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, tc := range []struct {
		birth string
		on    string
		want  int
	}{
		{"1980-03-02", "2026-03-01", 45}, {"1980-03-01", "2026-03-01", 46}, {"1980", "2026-03-01", 46}, {"1980-04", "2026-03-01", 45},
		{"", "2026-03-01", -1}, {"garbage", "2026-03-01", -1}, {"2030-01-01", "2026-03-01", -1},
	} {
		if got := ageOn(tc.birth, day(tc.on)); got != tc.want {
			t.Errorf("ageOn(%q, %s) = %d, want %d", tc.birth, tc.on, got, tc.want)
		}
	}
}
