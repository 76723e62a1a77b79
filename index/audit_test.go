package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

func event(actor, patient string, docs ...string) Event {
	return Event{Actor: actor, Role: "AAS", Region: "160", Purpose: "TREATMENT", Action: "R", What: "DocumentReference.search", Patient: patient, Documents: docs, Outcome: "0"}
}

func newSpool(t testing.TB, dir string) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// lastSeqOf reads a node's last number in the trail of n, linearizably.
func lastSeqOf(n *consensus.Node, node string) func(context.Context) (uint64, error) {
	return TrailLastSeq(n, node)
}

// newAuditor returns a started auditor of region 030 shipping through
// apply, numbering from the trail of n.
func newAuditor(t testing.TB, n *consensus.Node, apply Applier, spool *Spool) *Auditor {
	t.Helper()
	a, err := NewAuditor(AuditorConfig{Node: "030", Apply: apply, Spool: spool, LastSeq: lastSeqOf(n, "030"), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	return a
}

// report verifies the replica's trail, failing the test on a broken chain.
func (r *replica) report(t *testing.T) AuditReport {
	t.Helper()
	var rep AuditReport
	r.read(func(rd Reader) error {
		var err error
		rep, err = VerifyAudit(rd)
		return err
	})
	return rep
}

// waitShipped waits until the trail holds n events.
func (r *replica) waitShipped(t *testing.T, n int) AuditReport {
	t.Helper()
	var rep AuditReport
	consensustest.Eventually(t, 10*time.Second, func() error {
		if rep = r.report(t); rep.Events < n {
			return fmt.Errorf("trail holds %d events", rep.Events)
		}
		return nil
	}, "%d events in the trail", n)
	return rep
}

func TestAuditTrailChainsAndVerifies(t *testing.T) {
	r := newReplica(t)
	spool := newSpool(t, t.TempDir())
	defer spool.Close()
	a := newAuditor(t, r.node, r.node, spool)
	defer a.Stop()
	// Concurrent records are group-committed to the spool; each returns
	// once durable, and the shipper replicates them.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- a.Record(context.Background(), event(fmt.Sprintf("ACTOR%02d", i%5), mario, DocumentID("030", fmt.Sprint(i))))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := r.waitShipped(t, 50)
	batches := rep.Batches
	if rep.Events != 50 || batches < 1 || batches > 50 || len(rep.Missing) != 0 {
		t.Fatalf("report %+v", rep)
	}
	consensustest.Eventually(t, 5*time.Second, func() error {
		if n := spool.Len(); n != 0 {
			return fmt.Errorf("%d events still spooled", n)
		}
		return nil
	}, "the spool emptied after its events were replicated")
	r.read(func(rd Reader) error {
		got, err := SearchAudit(rd, AuditQuery{Patient: mario})
		if err != nil || len(got) != 50 || got[0].Node != "030" {
			t.Fatalf("patient's access log: %d events, %v", len(got), err)
		}
		got, err = SearchAudit(rd, AuditQuery{Actor: "ACTOR01", Limit: 3})
		if err != nil || len(got) != 3 || got[0].Actor != "ACTOR01" {
			t.Fatalf("by actor: %d %v", len(got), err)
		}
		return nil
	})
	t.Logf("50 concurrent records in %d batches", batches)
}

// A tampered or removed batch breaks the chain.
func TestVerifyAuditFindsTampering(t *testing.T) {
	chain := func(n int) map[string][]byte {
		kv := map[string][]byte{}
		prev := ""
		for i := 0; i < n; i++ {
			ev := event("A", mario)
			ev.Node, ev.NodeSeq = "030", uint64(i+1)
			if i == 3 {
				ev.NodeSeq = 6 // events 4 and 5 never reached the trail
			}
			b := Batch{Seq: uint64(i), Prev: prev, Node: "030", Time: time.Unix(int64(i), 0).UTC(), Events: []Event{ev}}
			b.Hash = hashBatch(b)
			j, _ := json.Marshal(b)
			kv[string(batchKey(b.Seq))] = j
			prev = b.Hash
			h, _ := json.Marshal(Batch{Seq: b.Seq, Hash: b.Hash})
			kv[string(auditHead)] = h
		}
		return kv
	}
	if rep, err := VerifyAudit(mapReader(chain(3))); err != nil || rep.Batches != 3 || len(rep.Missing) != 0 {
		t.Fatalf("intact chain: %+v %v", rep, err)
	}
	if rep, err := VerifyAudit(mapReader(chain(4))); err != nil || rep.Missing["030"] != 2 {
		t.Fatalf("a hole in the node's numbering: %+v %v", rep, err)
	}
	tampered := chain(3)
	var b Batch
	_ = json.Unmarshal(tampered[string(batchKey(1))], &b)
	b.Events[0].Actor = "SOMEONE-ELSE"
	tampered[string(batchKey(1))], _ = json.Marshal(b)
	if _, err := VerifyAudit(mapReader(tampered)); err == nil {
		t.Fatal("a changed event went unnoticed")
	}
	removed := chain(3)
	delete(removed, string(batchKey(1)))
	if _, err := VerifyAudit(mapReader(removed)); err == nil {
		t.Fatal("a removed batch went unnoticed")
	}
	truncated := chain(3)
	delete(truncated, string(batchKey(2)))
	if _, err := VerifyAudit(mapReader(truncated)); err == nil {
		t.Fatal("a removed last batch went unnoticed")
	}
}

// A Record that cannot be made durable says so: nothing may be disclosed.
func TestAuditorReportsSpoolFailure(t *testing.T) {
	r := newReplica(t)
	spool := newSpool(t, t.TempDir())
	a := newAuditor(t, r.node, r.node, spool)
	defer a.Stop()
	spool.Close() // the disk is gone
	if err := a.Record(context.Background(), event("A", mario)); !errors.Is(err, ErrAuditUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

// switchApplier fails while down is set, and applies through a node
// otherwise: a region cut off from the quorum, then back.
type switchApplier struct {
	mu   sync.Mutex
	down bool
	n    Applier
	sent int
}

func (s *switchApplier) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func (s *switchApplier) Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
	s.mu.Lock()
	down := s.down
	s.sent++
	s.mu.Unlock()
	if down {
		return consensus.Result{}, consensus.ErrNoLeader
	}
	return s.n.Apply(ctx, cmd)
}

// Without a quorum, reads go on: events wait in the spool, survive a
// restart, and are replicated once the quorum is back, each exactly once
// and numbered without holes.
func TestAuditSpoolOutlivesQuorumLossAndRestart(t *testing.T) {
	r := newReplica(t)
	dir := t.TempDir()
	sw := &switchApplier{n: r.node, down: true}
	spool := newSpool(t, dir)
	a := newAuditor(t, r.node, sw, spool)
	for i := 0; i < 20; i++ {
		if err := a.Record(context.Background(), event("A", mario)); err != nil {
			t.Fatalf("record %d without quorum: %v", i, err)
		}
	}
	a.Stop()
	if n := spool.Len(); n != 20 {
		t.Fatalf("%d events spooled, want 20", n)
	}
	if rep := r.report(t); rep.Events != 0 {
		t.Fatalf("trail holds %d events while the quorum was lost", rep.Events)
	}
	spool.Close()

	// Restart: the numbering goes on after the spooled events.
	spool = newSpool(t, dir)
	defer spool.Close()
	sw.set(false)
	a = newAuditor(t, r.node, sw, spool)
	defer a.Stop()
	if err := a.Record(context.Background(), event("B", mario)); err != nil {
		t.Fatal(err)
	}
	rep := r.waitShipped(t, 21)
	if rep.Events != 21 || len(rep.Missing) != 0 {
		t.Fatalf("after the quorum came back: %+v", rep)
	}
	r.read(func(rd Reader) error {
		got, err := SearchAudit(rd, AuditQuery{Patient: mario})
		if err != nil || len(got) != 21 {
			t.Fatalf("%d events, %v", len(got), err)
		}
		for i, e := range got {
			if e.NodeSeq != uint64(i+1) {
				t.Fatalf("event %d numbered %d", i, e.NodeSeq)
			}
		}
		if last, err := LastAuditSeq(rd, "030"); err != nil || last != 21 {
			t.Fatalf("last number %d %v", last, err)
		}
		return nil
	})
}

// A batch shipped twice (its answer lost) is appended once; a spool that
// lost its directory numbers after what the trail holds.
func TestAuditBatchRetryAndFloor(t *testing.T) {
	r := newReplica(t)
	evs := []Event{event("A", mario), event("B", mario)}
	for i := range evs {
		evs[i].Node, evs[i].NodeSeq = "030", uint64(i+1)
	}
	for i := 0; i < 2; i++ {
		r.must(AuditBatch("030", evs))
	}
	if rep := r.report(t); rep.Events != 2 || rep.Batches != 1 {
		t.Fatalf("retried batch: %+v", rep)
	}
	// Overlapping retry: only the new event is appended.
	evs = append(evs, event("C", mario))
	evs[2].Node, evs[2].NodeSeq = "030", 3
	r.must(AuditBatch("030", evs))
	if rep := r.report(t); rep.Events != 3 || len(rep.Missing) != 0 {
		t.Fatalf("overlapping retry: %+v", rep)
	}
	for name, bad := range map[string][]Event{
		"unnumbered":     {event("A", mario)},
		"out of order":   {{Actor: "A", What: "x", Node: "030", NodeSeq: 9}, {Actor: "A", What: "x", Node: "030", NodeSeq: 8}},
		"another node's": {{Actor: "A", What: "x", Node: "160", NodeSeq: 9}},
	} {
		if _, err := r.apply(AuditBatch("030", bad)); !errors.Is(err, consensus.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A node cannot append another region's events, whatever the batch says.
	other := []Event{{Actor: "A", What: "x", Node: "160", NodeSeq: 1}}
	if _, err := r.apply(AuditBatch("160", other)); !errors.Is(err, consensus.ErrForbidden) {
		t.Errorf("events of another region: %v", err)
	}
	// A new spool (its directory lost) numbers after what the trail holds.
	spool := newSpool(t, t.TempDir())
	defer spool.Close()
	a := newAuditor(t, r.node, r.node, spool)
	defer a.Stop()
	d := event("D", mario)
	if err := a.Record(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if rep := r.waitShipped(t, 4); rep.Events != 4 || len(rep.Missing) != 0 {
		t.Fatalf("fresh spool: %+v", rep)
	}
	r.read(func(rd Reader) error {
		got, err := SearchAudit(rd, AuditQuery{Actor: "D"})
		if err != nil || len(got) != 1 || got[0].NodeSeq != 4 {
			t.Fatalf("event of the new spool: %+v %v", got, err)
		}
		return nil
	})
}

// A spool that has never numbered an event takes no number until it has
// read the trail's last one: nothing is recorded, so nothing disclosed.
func TestAuditorWaitsForTheTrailsLastNumber(t *testing.T) {
	r := newReplica(t)
	spool := newSpool(t, t.TempDir())
	defer spool.Close()
	var mu sync.Mutex
	reachable := false
	a, err := NewAuditor(AuditorConfig{Node: "030", Apply: r.node, Spool: spool, Log: quiet(),
		LastSeq: func(ctx context.Context) (uint64, error) {
			mu.Lock()
			defer mu.Unlock()
			if !reachable {
				return 0, consensus.ErrNoLeader
			}
			return lastSeqOf(r.node, "030")(ctx)
		}})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer a.Stop()
	if err := a.Record(context.Background(), event("A", mario)); !errors.Is(err, ErrAuditUnavailable) {
		t.Fatalf("record without the trail's last number: %v", err)
	}
	if spool.Len() != 0 || spool.Numbered() {
		t.Fatalf("spool numbered events (%d) without the trail's last number", spool.Len())
	}
	mu.Lock()
	reachable = true
	mu.Unlock()
	if err := a.Record(context.Background(), event("A", mario)); err != nil {
		t.Fatal(err)
	}
	if rep := r.waitShipped(t, 1); rep.Events != 1 || len(rep.Missing) != 0 {
		t.Fatalf("%+v", rep)
	}
}

// refusingApplier refuses for good any batch holding the event numbered
// poison, and counts the batches it sees.
type refusingApplier struct {
	n       Applier
	poison  uint64
	mu      sync.Mutex
	batches []int
}

func (f *refusingApplier) Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
	var b Batch
	if err := json.Unmarshal(cmd.Payload, &b); err != nil {
		return consensus.Result{}, err
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(cmd.Payload))
	f.mu.Unlock()
	for _, e := range b.Events {
		if e.NodeSeq == f.poison {
			return consensus.Result{}, consensus.Errorf(consensus.CodeInvalid, "refused")
		}
	}
	return f.n.Apply(ctx, cmd)
}

// Batches are cut by encoded size, and an event the trail refuses for good
// is set aside without holding back the ones after it.
func TestAuditShippingBoundsBatchesAndQuarantines(t *testing.T) {
	r := newReplica(t)
	spool := newSpool(t, t.TempDir())
	defer spool.Close()
	ap := &refusingApplier{n: r.node, poison: 37}
	const maxBytes = 16 << 10
	a, err := NewAuditor(AuditorConfig{Node: "030", Apply: ap, Spool: spool, LastSeq: lastSeqOf(r.node, "030"), MaxBatchBytes: maxBytes, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]string, 100)
	for i := range docs {
		docs[i] = fmt.Sprintf("2.16.840.1.113883.2.9.2.30.4.4^doc-%06d", i)
	}
	a.Start()
	defer a.Stop()
	for i := 0; i < 60; i++ {
		if err := a.Record(context.Background(), event("A", mario, docs...)); err != nil {
			t.Fatal(err)
		}
	}
	rep := r.waitShipped(t, 59)
	if rep.Events != 59 || rep.Missing["030"] != 1 {
		t.Fatalf("trail: %+v, want 59 events and number 37 missing", rep)
	}
	if spool.Quarantined() != 1 || spool.Len() != 0 {
		t.Fatalf("spool: %d quarantined, %d queued", spool.Quarantined(), spool.Len())
	}
	ap.mu.Lock()
	defer ap.mu.Unlock()
	for _, n := range ap.batches {
		if n > maxBytes+1024 {
			t.Fatalf("a batch of %d bytes, bound %d", n, maxBytes)
		}
	}
	if len(ap.batches) < 60*4000/maxBytes {
		t.Fatalf("%d batches for %d KiB of events", len(ap.batches), 60*4)
	}
}

// The spool writes an append larger than one badger transaction, ships
// only what it has numbered, and drops at open what an interrupted append
// left past its next number.
func TestSpoolAppendsAndReopens(t *testing.T) {
	dir := t.TempDir()
	s := newSpool(t, dir)
	s.SetFloor(10)
	big := make([]Event, 6000)
	pad := string(make([]byte, 900))
	for i := range big {
		big[i] = event("A"+pad, mario)
	}
	if err := s.append(big); err != nil {
		t.Fatalf("append of %d events: %v", len(big), err)
	}
	if s.Len() != 6000 || big[0].NodeSeq != 10 || big[5999].NodeSeq != 6009 {
		t.Fatalf("len %d, numbers %d..%d", s.Len(), big[0].NodeSeq, big[5999].NodeSeq)
	}
	got, err := s.pending(maxAuditBatch, 1<<30)
	if err != nil || len(got) != maxAuditBatch || got[0].NodeSeq != 10 || got[len(got)-1].NodeSeq != uint64(10+maxAuditBatch-1) {
		t.Fatalf("pending: %d events, %v", len(got), err)
	}
	if err := s.ack(5009); err != nil {
		t.Fatal(err)
	}
	// The remains of an append that never completed.
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(spoolKey(6010), []byte("{}")) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.pending(maxAuditBatch, 1<<30); len(got) != 1000 || got[999].NodeSeq != 6009 {
		t.Fatalf("pending after ack: %d events", len(got))
	}
	s.Close()
	s = newSpool(t, dir)
	defer s.Close()
	if !s.Numbered() || s.Len() != 1000 {
		t.Fatalf("reopened: numbered %v, %d queued", s.Numbered(), s.Len())
	}
	if err := s.append([]Event{event("B", mario)}); err != nil {
		t.Fatal(err)
	}
	got, err = s.pending(maxAuditBatch, 1<<30)
	if err != nil || len(got) != 1001 || got[1000].NodeSeq != 6010 || got[1000].Actor != "B" {
		t.Fatalf("after reopen: %d events, %v", len(got), err)
	}
}

// mapReader is a Reader over a map, for tests of read paths.
type mapReader map[string][]byte

func (m mapReader) Get(k []byte) ([]byte, bool, error) { v, ok := m[string(k)]; return v, ok, nil }

func (m mapReader) IterateFrom(prefix, start []byte, fn func(k, v []byte) error) error {
	return m.Iterate(prefix, func(k, v []byte) error {
		if string(k) < string(start) {
			return nil
		}
		return fn(k, v)
	})
}

func (m mapReader) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	var keys []string
	for k := range m {
		if len(k) >= len(prefix) && k[:len(prefix)] == string(prefix) {
			keys = append(keys, k)
		}
	}
	sortStrings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

func sortStrings(s []string) { slices.Sort(s) }
