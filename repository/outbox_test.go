package repository

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/store"
)

const mario = "CF:RSSMRA80A01H501U"

type outboxEnv struct {
	t     *testing.T
	rep   *consensus.Node
	store *store.Store
	apply func(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

func newOutboxEnv(t *testing.T) *outboxEnv {
	rep := consensustest.NewReplica(t, index.New())
	cmd, err := index.PutPatient(index.Patient{ID: mario, Family: "Rossi", HomeRegion: "030"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Apply(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig(t.TempDir())
	cfg.GCInterval = 0
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &outboxEnv{t: t, rep: rep, store: s, apply: rep.Apply}
}

func (e *outboxEnv) lookup(_ context.Context, id string) (index.Entry, bool, error) {
	var got index.Entry
	var ok bool
	_, err := e.rep.Read(context.Background(), consensus.Local, func(r consensus.Reader) error {
		var err error
		got, ok, err = index.GetEntry(r, id)
		return err
	})
	return got, ok, err
}

func (e *outboxEnv) start(apply func(ctx context.Context, cmd consensus.Command) (consensus.Result, error)) *Outbox {
	o, err := NewOutbox(OutboxConfig{Store: e.store, Apply: apply, Lookup: e.lookup, InFlight: 8,
		Timeout: 5 * time.Second, Retry: 50 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	o.Start()
	e.t.Cleanup(o.Stop)
	return o
}

func (e *outboxEnv) submit(local, patient string) store.Op {
	content := make([]byte, 2048)
	rand.Read(content)
	b, err := e.store.Stage(context.Background(), bytes.NewReader(content))
	if err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	ent := index.Entry{ID: index.DocumentID("030", local), Patient: patient, Type: "11502-2", Class: "REF",
		Created: time.Now().UTC(), AuthorOrg: "030-ASST-01", Custodian: "030", Hash: hex.EncodeToString(sum[:]),
		Size: int64(len(content)), MIME: "application/pdf"}
	wf := "wf-" + local
	op, err := e.store.Submit(store.Submission{Blob: b,
		Doc:      &store.Document{ID: ent.ID, Entry: ent, State: store.StatePending, Workflow: wf},
		Op:       &store.Op{Kind: store.OpPublish, Doc: ent.ID, Workflow: wf, Operation: "PUBLICATION", Entry: &ent},
		Workflow: store.Workflow{ID: wf, Operation: "PUBLICATION", Status: store.WorkflowPending, Created: time.Now()}})
	if err != nil {
		e.t.Fatal(err)
	}
	return op
}

func wait(t *testing.T, o *Outbox, op store.Op) Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := o.Wait(ctx, op)
	if err != nil {
		t.Fatalf("wait for %s: %v", op.Doc, err)
	}
	return out
}

func TestOutboxCommitsAndRollsBack(t *testing.T) {
	e := newOutboxEnv(t)
	o := e.start(e.apply)
	good := e.submit("good", mario)
	bad := e.submit("bad", "CF:MRTMTT25D09F205Z") // not registered
	if out := wait(t, o, good); out.Err != nil || out.Entry.Status != index.StatusCurrent || out.Entry.Indexed.IsZero() {
		t.Fatalf("good publication: %+v", out)
	}
	out := wait(t, o, bad)
	var de *consensus.Error
	if !errors.As(out.Err, &de) || de.Code != consensus.CodeNotFound {
		t.Fatalf("publication for an unknown patient: %+v, want a not-found refusal", out)
	}
	d, err := e.store.Document(good.Doc)
	if err != nil || d.State != store.StateIndexed {
		t.Fatalf("committed document %+v, %v", d, err)
	}
	if _, err := e.store.Document(bad.Doc); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused document still stored: %v", err)
	}
	if _, err := e.store.Manifest(bad.Entry.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused document's content still stored: %v", err)
	}
	if _, ok, _ := e.lookup(context.Background(), bad.Doc); ok {
		t.Fatal("refused document indexed")
	}
	// An outcome asked for after the fact is read from the store.
	if out := wait(t, o, bad); out.Err == nil {
		t.Fatal("late wait for a refused operation reports success")
	}
}

// A crash after the federation committed, before the store heard of it:
// the next attempt must settle the operation without a second entry.
func TestOutboxLostAnswerIsAppliedOnce(t *testing.T) {
	e := newOutboxEnv(t)
	var calls atomic.Int32
	lossy := func(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
		res, err := e.apply(ctx, cmd)
		if calls.Add(1) == 1 {
			return consensus.Result{}, errors.New("connection reset after the commit")
		}
		return res, err
	}
	op := e.submit("retried", mario)
	o := e.start(lossy)
	out := wait(t, o, op)
	if out.Err != nil {
		t.Fatalf("retried publication: %v", out.Err)
	}
	if calls.Load() < 2 {
		t.Fatalf("%d attempts, want a retry", calls.Load())
	}
	n := 0
	if _, err := e.rep.Read(context.Background(), consensus.Local, func(r consensus.Reader) error {
		return index.ByPatient(r, mario, index.Range{}, nil, func(index.Entry) bool { n++; return true })
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d index entries after a retried publication, want 1", n)
	}
}

// The federation forgot the idempotency key (a node down for long): an
// entry already indexed with the same content settles the operation.
func TestOutboxSettlesAnEntryAlreadyIndexed(t *testing.T) {
	e := newOutboxEnv(t)
	op := e.submit("old", mario)
	cmd, err := index.Publish(*op.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.apply(context.Background(), cmd); err != nil { // without the key
		t.Fatal(err)
	}
	o := e.start(e.apply)
	if out := wait(t, o, op); out.Err != nil {
		t.Fatalf("operation whose entry is already indexed: %v", out.Err)
	}
	if d, _ := e.store.Document(op.Doc); d.State != store.StateIndexed {
		t.Fatalf("document state %q, want indexed", d.State)
	}
}

func TestOutboxRetriesUntilTheFederationAnswers(t *testing.T) {
	e := newOutboxEnv(t)
	var down atomic.Bool
	down.Store(true)
	flaky := func(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
		if down.Load() {
			return consensus.Result{}, consensus.ErrNoLeader
		}
		return e.apply(ctx, cmd)
	}
	o := e.start(flaky)
	op := e.submit("late", mario)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := o.Wait(ctx, op)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait while the federation is down: %v, want the deadline", err)
	}
	if w, _ := e.store.Workflow(op.Workflow, op.Operation); w.Status != store.WorkflowPending {
		t.Fatalf("workflow %s while down, want PENDING", w.Status)
	}
	down.Store(false)
	if out := wait(t, o, op); out.Err != nil {
		t.Fatal(out.Err)
	}
}
