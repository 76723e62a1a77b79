package index

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// auditChain is a trail of n batches, one event of mario's each, with
// the patient index keys a search reads.
func auditChain(n int) map[string][]byte {
	kv := map[string][]byte{}
	prev := ""
	for i := 0; i < n; i++ {
		ev := event(fmt.Sprintf("ACTOR%d", i), mario)
		ev.Node, ev.NodeSeq, ev.Time = "030", uint64(i+1), time.Unix(int64(i), 0).UTC()
		b := Batch{Seq: uint64(i), Prev: prev, Node: "030", Time: ev.Time, Events: []Event{ev}}
		b.Hash = hashBatch(b)
		kv[string(batchKey(b.Seq))], _ = json.Marshal(b)
		kv[string(auditIndexKey(auditByPatient, mario, b.Seq, 0))] = nil
		prev = b.Hash
		kv[string(auditHead)], _ = json.Marshal(Batch{Seq: b.Seq, Hash: b.Hash})
	}
	return kv
}

func rewriteBatch(kv map[string][]byte, seq uint64, fn func(b *Batch)) {
	var b Batch
	_ = json.Unmarshal(kv[string(batchKey(seq))], &b)
	fn(&b)
	kv[string(batchKey(seq))], _ = json.Marshal(b)
}

// Finding 8 of the hardening issue: an event whose batch fails the hash
// chain's verification was served as if intact. Each hit now says whether
// its batch is intact.
func TestSearchAuditMarksBrokenBatches(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(kv map[string][]byte)
		broken   map[uint64]string // batch -> part of the reason; absent: intact
		withheld map[uint64]bool
	}{
		{"intact", func(map[string][]byte) {}, nil, nil},
		{"event changed", func(kv map[string][]byte) {
			rewriteBatch(kv, 1, func(b *Batch) { b.Events[0].Actor = "SOMEONE-ELSE" })
		}, map[uint64]string{1: "content does not match its hash"}, nil},
		{"event changed and hash recomputed", func(kv map[string][]byte) {
			rewriteBatch(kv, 1, func(b *Batch) { b.Events[0].Actor = "SOMEONE-ELSE"; b.Hash = hashBatch(*b) })
		}, map[uint64]string{1: "batch 2 does not follow it", 2: "does not follow batch 1"}, nil},
		{"last batch changed and head rewritten", func(kv map[string][]byte) {
			rewriteBatch(kv, 2, func(b *Batch) { b.Events[0].Actor = "SOMEONE-ELSE"; b.Hash = hashBatch(*b) })
		}, map[uint64]string{2: "head does not end at it"}, nil},
		{"batch unreadable", func(kv map[string][]byte) { kv[string(batchKey(0))] = []byte("{garbage") },
			map[uint64]string{0: "cannot be read", 1: "the batch before it cannot be read"}, map[uint64]bool{0: true}},
		{"batch removed", func(kv map[string][]byte) { delete(kv, string(batchKey(1))) },
			map[uint64]string{0: "batch 1 after it is missing", 1: "missing", 2: "does not follow batch 1"}, map[uint64]bool{1: true}},
		{"batch stored under another number", func(kv map[string][]byte) {
			kv[string(batchKey(1))] = kv[string(batchKey(0))]
		}, map[uint64]string{0: "batch 1 does not follow it", 1: "stored as batch 0", 2: "does not follow batch 1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := auditChain(3)
			tt.tamper(kv)
			hits, err := SearchAudit(mapReader(kv), AuditQuery{Patient: mario})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != 3 {
				t.Fatalf("%d hits, want 3 (one per index key)", len(hits))
			}
			for _, h := range hits {
				want, broken := tt.broken[h.Batch]
				switch {
				case broken && (h.Broken == "" || !strings.Contains(h.Broken, want)):
					t.Errorf("batch %d: broken %q, want %q", h.Batch, h.Broken, want)
				case !broken && h.Broken != "":
					t.Errorf("batch %d: broken %q, want intact", h.Batch, h.Broken)
				case h.Withheld != tt.withheld[h.Batch]:
					t.Errorf("batch %d: withheld %v", h.Batch, h.Withheld)
				case !h.Withheld && h.Actor == "":
					t.Errorf("batch %d: shown without its event", h.Batch)
				}
			}
			// The trail's own verification agrees that something is wrong.
			if _, err := VerifyAudit(mapReader(kv)); (err != nil) != (len(tt.broken) > 0) {
				t.Errorf("VerifyAudit: %v", err)
			}
		})
	}
}
