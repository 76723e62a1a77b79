package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

func event(actor, patient string, docs ...string) Event {
	return Event{Actor: actor, Role: "AAS", Region: "160", Purpose: "TREATMENT", Action: "R", What: "DocumentReference.search", Patient: patient, Documents: docs, Outcome: "0"}
}

func TestAuditTrailChainsAndVerifies(t *testing.T) {
	r := newReplica(t)
	a := NewAuditor("030", r.node, nil)
	a.Start()
	defer a.Stop()
	// Concurrent records are group-committed; each returns once committed.
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
	var batches, events int
	r.read(func(rd Reader) error {
		var err error
		batches, events, _, err = VerifyAudit(rd)
		return err
	})
	if events != 50 || batches < 1 || batches > 50 {
		t.Fatalf("%d batches, %d events", batches, events)
	}
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
			b := Batch{Seq: uint64(i), Prev: prev, Node: "030", Time: time.Unix(int64(i), 0).UTC(), Events: []Event{event("A", mario)}}
			b.Hash = hashBatch(b)
			j, _ := json.Marshal(b)
			kv[string(batchKey(b.Seq))] = j
			prev = b.Hash
			h, _ := json.Marshal(Batch{Seq: b.Seq, Hash: b.Hash})
			kv[string(auditHead)] = h
		}
		return kv
	}
	if _, _, _, err := VerifyAudit(mapReader(chain(3))); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
	tampered := chain(3)
	var b Batch
	_ = json.Unmarshal(tampered[string(batchKey(1))], &b)
	b.Events[0].Actor = "SOMEONE-ELSE"
	tampered[string(batchKey(1))], _ = json.Marshal(b)
	if _, _, _, err := VerifyAudit(mapReader(tampered)); err == nil {
		t.Fatal("a changed event went unnoticed")
	}
	removed := chain(3)
	delete(removed, string(batchKey(1)))
	if _, _, _, err := VerifyAudit(mapReader(removed)); err == nil {
		t.Fatal("a removed batch went unnoticed")
	}
	truncated := chain(3)
	delete(truncated, string(batchKey(2)))
	if _, _, _, err := VerifyAudit(mapReader(truncated)); err == nil {
		t.Fatal("a removed last batch went unnoticed")
	}
}

// A Record that cannot be committed says so: nothing may be disclosed.
func TestAuditorReportsFailure(t *testing.T) {
	a := NewAuditor("030", failingApplier{}, nil)
	a.Start()
	defer a.Stop()
	if err := a.Record(context.Background(), event("A", mario)); !errors.Is(err, ErrAuditUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

type failingApplier struct{}

func (failingApplier) Apply(context.Context, consensus.Command) (consensus.Result, error) {
	return consensus.Result{}, consensus.ErrNoLeader
}

// mapReader is a Reader over a map, for tests of read paths.
type mapReader map[string][]byte

func (m mapReader) Get(k []byte) ([]byte, bool, error) { v, ok := m[string(k)]; return v, ok, nil }

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
