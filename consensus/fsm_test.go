package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// setHandler writes "k=v"; "fail" refuses after writing; "big" writes a value
// of the payload's length in bytes.
type setHandler struct{ reloads int }

func (h *setHandler) Apply(tx *Tx, cmd Command) ([]byte, error) {
	switch cmd.Type {
	case "set":
		k, v, _ := strings.Cut(string(cmd.Payload), "=")
		tx.Set([]byte("k/"+k), []byte(v))
		got, ok, err := tx.Get([]byte("k/" + k))
		if err != nil || !ok || string(got) != v {
			return nil, fmt.Errorf("own write not visible: %q %v %v", got, ok, err)
		}
		return []byte("ok"), nil
	case "fail":
		tx.Set([]byte("k/"+string(cmd.Payload)), []byte("x"))
		return nil, Errorf(CodeConflict, "no")
	case "big":
		tx.Set([]byte(fmt.Sprintf("big/%d", tx.Index())), make([]byte, len(cmd.Payload)))
		return nil, nil
	}
	return nil, Errorf(CodeInvalid, "?")
}

func (h *setHandler) Reload(Reader) error { h.reloads++; return nil }

func openTestFSM(t testing.TB, dir string) (*FSM, *setHandler) {
	t.Helper()
	st, err := openStateDir(dir, badgerOptions{MemTableSize: 4 << 20, BlockCacheSize: 4 << 20}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFSM(st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	h := &setHandler{}
	for _, typ := range []string{"set", "fail", "big"} {
		if err := f.register(typ, h); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(st.close)
	return f, h
}

func entry(index uint64, cmds ...Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: EncodeBatch(cmds)}
}

func set(k, v string) Command { return Command{Type: "set", Payload: []byte(k + "=" + v)} }

func get(t *testing.T, f *FSM, k string) string {
	t.Helper()
	var v []byte
	if err := f.view(func(r Reader) error {
		var err error
		v, _, err = r.Get([]byte("k/" + k))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestApplyBatchResultsAndRollback(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	out := f.ApplyBatch([]*raft.Log{
		entry(1, set("a", "1"), Command{Type: "fail", Payload: []byte("b")}, set("c", "3")),
		{Index: 2, Term: 1, Type: raft.LogConfiguration, Data: []byte("cfg")},
		entry(3, set("a", "2")),
	})
	if len(out) != 3 {
		t.Fatalf("%d responses", len(out))
	}
	r1 := out[0].([]Result)
	if r1[0].Err != nil || string(r1[0].Value) != "ok" || r1[0].Index != 1 {
		t.Fatalf("first result %+v", r1[0])
	}
	if !errors.Is(r1[1].Err, ErrConflict) {
		t.Fatalf("refused command result %+v", r1[1])
	}
	if get(t, f, "b") != "" {
		t.Fatal("a refused command's write reached the state")
	}
	if get(t, f, "a") != "2" || get(t, f, "c") != "3" {
		t.Fatal("accepted writes missing")
	}
	if idx, _ := f.Applied(); idx != 3 {
		t.Fatalf("applied %d, want 3 (configuration entries count)", idx)
	}
}

func TestRestartSkipsAppliedEntries(t *testing.T) {
	dir := t.TempDir()
	logs := []*raft.Log{entry(1, set("a", "1")), entry(2, set("a", "2"))}
	f, _ := openTestFSM(t, dir)
	f.ApplyBatch(logs)
	idx, dig := f.Applied()
	f.state.close()

	f2, _ := openTestFSM(t, dir)
	if i, d := f2.Applied(); i != idx || d != dig {
		t.Fatalf("reopened at %d %x, want %d %x", i, d[:4], idx, dig[:4])
	}
	// Raft replays entries after its last snapshot; they must be skipped,
	// even when they would change the state.
	replay := []*raft.Log{entry(1, set("a", "replayed")), entry(2, set("a", "replayed"))}
	f2.ApplyBatch(replay)
	if got := get(t, f2, "a"); got != "2" {
		t.Fatalf("a = %q after replay, want 2", got)
	}
	if i, d := f2.Applied(); i != idx || d != dig {
		t.Fatal("replayed entries changed the applied index or digest")
	}
	f2.ApplyBatch([]*raft.Log{entry(3, set("a", "3"))})
	if get(t, f2, "a") != "3" {
		t.Fatal("new entry after restart not applied")
	}
}

func TestDigestIsDeterministicAcrossBatching(t *testing.T) {
	var logs []*raft.Log
	for i := 1; i <= 40; i++ {
		logs = append(logs, entry(uint64(i), set(fmt.Sprint(i%7), fmt.Sprint(i))))
	}
	a, _ := openTestFSM(t, t.TempDir())
	b, _ := openTestFSM(t, t.TempDir())
	a.ApplyBatch(logs)
	for i := 0; i < len(logs); i += 3 {
		b.ApplyBatch(logs[i:min(i+3, len(logs))])
	}
	ia, da := a.Applied()
	ib, db := b.Applied()
	if ia != ib || da != db {
		t.Fatalf("same entries, different digests: %d %x vs %d %x", ia, da[:4], ib, db[:4])
	}
	for _, idx := range []uint64{5, 17, 40} {
		x, okx := a.digestAt(idx)
		y, oky := b.digestAt(idx)
		if !okx || !oky || x != y {
			t.Fatalf("digest at %d differs or missing", idx)
		}
	}
	c, _ := openTestFSM(t, t.TempDir())
	changed := append([]*raft.Log{}, logs...)
	changed[10] = entry(11, set("x", "other"))
	c.ApplyBatch(changed)
	if _, dc := c.Applied(); dc == da {
		t.Fatal("different entries, same digest")
	}
}

func TestOversizeBatchSplitsTransactions(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	// Each entry writes 256 KiB; badger's transaction limit with a 4 MiB
	// memtable is far below 64 of them.
	var logs []*raft.Log
	for i := 1; i <= 64; i++ {
		logs = append(logs, entry(uint64(i), Command{Type: "big", Payload: make([]byte, 256<<10)}))
	}
	out := f.ApplyBatch(logs)
	for i, o := range out {
		if rs, ok := o.([]Result); !ok || len(rs) != 1 || rs[0].Index != uint64(i+1) {
			t.Fatalf("response %d = %#v", i, o)
		}
	}
	if idx, _ := f.Applied(); idx != 64 {
		t.Fatalf("applied %d, want 64", idx)
	}
	n := 0
	_ = f.view(func(r Reader) error {
		return r.Iterate([]byte("big/"), func(_, _ []byte) error { n++; return nil })
	})
	if n != 64 {
		t.Fatalf("%d big values stored, want 64", n)
	}
}

func TestUndecodableEntryPanicsWithContext(t *testing.T) {
	for name, l := range map[string]*raft.Log{
		"garbage":      {Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("garbage")},
		"unknown type": entry(1, Command{Type: "from.a.newer.version"}),
	} {
		t.Run(name, func(t *testing.T) {
			f, _ := openTestFSM(t, t.TempDir())
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), "log entry 1") {
					t.Fatalf("recovered %v, want a panic naming the entry", r)
				}
			}()
			f.ApplyBatch([]*raft.Log{l})
		})
	}
}

type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "test" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src, _ := openTestFSM(t, t.TempDir())
	var logs []*raft.Log
	for i := 1; i <= 500; i++ {
		logs = append(logs, entry(uint64(i), set(fmt.Sprint(i), strings.Repeat("v", i%50))))
	}
	src.ApplyBatch(logs)
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Writes after Snapshot() must not appear in it: it is a point in time.
	src.ApplyBatch([]*raft.Log{entry(501, set("late", "x"))})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	dstDir := t.TempDir()
	dst, h := openTestFSM(t, dstDir)
	dst.ApplyBatch([]*raft.Log{entry(1, set("stale", "gone"))})
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if h.reloads != 1 {
		t.Fatalf("handler reloaded %d times, want 1", h.reloads)
	}
	if got := get(t, dst, "251"); got != "v" {
		t.Fatalf("key 251 = %q, want v", got)
	}
	if get(t, dst, "stale") != "" || get(t, dst, "late") != "" {
		t.Fatal("restore kept old state or included writes after the snapshot point")
	}
	ds, dd := src.digestAt(500)
	di, dg := dst.Applied()
	if di != 500 || dg != ds || !dd {
		t.Fatalf("restored at %d %x, want 500 %x", di, dg[:4], ds[:4])
	}
	// The replaced database directory is gone; one state remains.
	entries, _ := os.ReadDir(dstDir)
	var states []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state-") {
			states = append(states, e.Name())
		}
	}
	if len(states) != 1 || states[0] != "state-000002" {
		t.Fatalf("state directories after restore: %v", states)
	}
}

func TestBadSnapshotLeavesStateUntouched(t *testing.T) {
	src, _ := openTestFSM(t, t.TempDir())
	src.ApplyBatch([]*raft.Log{entry(1, set("a", "new")), entry(2, set("b", "new"))})
	snap, _ := src.Snapshot()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	good := sink.Bytes()

	cases := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("definitely not zstd"),
		"truncated": good[:len(good)/2],
		"flipped":   func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 0xff; return b }(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			dst, _ := openTestFSM(t, dir)
			dst.ApplyBatch([]*raft.Log{entry(1, set("a", "old"))})
			if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err == nil {
				t.Fatal("bad snapshot restored")
			}
			if get(t, dst, "a") != "old" || get(t, dst, "b") != "" {
				t.Fatal("a failed restore changed the state")
			}
			if idx, _ := dst.Applied(); idx != 1 {
				t.Fatalf("applied %d after failed restore", idx)
			}
		})
	}
}

// A crash during a restore leaves a half-built state directory that CURRENT
// does not name: the next open keeps the old state and removes it.
func TestCrashMidRestoreKeepsOldState(t *testing.T) {
	dir := t.TempDir()
	f, _ := openTestFSM(t, dir)
	f.ApplyBatch([]*raft.Log{entry(1, set("a", "old"))})
	h, _, err := f.state.prepare()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("k/a"), []byte("half")) }); err != nil {
		t.Fatal(err)
	}
	h.release() // the process dies here: CURRENT was never switched
	f.state.close()

	f2, _ := openTestFSM(t, dir)
	if got := get(t, f2, "a"); got != "old" {
		t.Fatalf("a = %q after a crash mid-restore, want old", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "state-000002")); !os.IsNotExist(err) {
		t.Fatalf("half-restored directory survives: %v", err)
	}
}

func TestIdempotencyKeysArePruned(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	h, err := f.state.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	err = h.db.Update(func(txn *badger.Txn) error {
		for i, key := range []string{"old", "new"} {
			if err := putIdempotent(txn, key, Result{Index: uint64(1 + i*idempotencyWindow)}); err != nil {
				return err
			}
		}
		return pruneIdempotency(txn, idempotencyWindow+4096)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.db.View(func(txn *badger.Txn) error {
		if _, ok, _ := getIdempotent(txn, "old"); ok {
			t.Error("key older than the window survived")
		}
		if _, ok, _ := getIdempotent(txn, "new"); !ok {
			t.Error("key inside the window was pruned")
		}
		return nil
	})
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.ID, base.DataDir = "030", "/tmp/x"
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"bad id", func(c *Config) { c.ID = "Lombardia" }, "ISTAT"},
		{"no dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"lease", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }, "LeaderLeaseTimeout"},
		{"batch", func(c *Config) { c.BatchMaxBytes = 64 << 20 }, "BatchMaxBytes"},
		{"inflight", func(c *Config) { c.BatchInflight = 0 }, "BatchInflight"},
		{"memtable", func(c *Config) { c.MemTableSize = 4 << 20 }, "MemTableSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			err := c.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkApplyOneEntry measures the FSM's cost per single-command entry
// (one badger transaction each), the floor under one writer's latency.
func BenchmarkApplyOneEntry(b *testing.B) {
	f, _ := openTestFSM(b, b.TempDir())
	v := strings.Repeat("x", 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.ApplyBatch([]*raft.Log{entry(uint64(i+1), set(fmt.Sprint(i), v))})
	}
}

func TestReadAfterCloseIsRefused(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	f.state.close()
	if err := f.view(func(Reader) error { return nil }); !errors.Is(err, ErrShutdown) {
		t.Fatalf("view after close: %v, want ErrShutdown", err)
	}
	if _, err := f.Snapshot(); !errors.Is(err, ErrShutdown) {
		t.Fatalf("snapshot after close: %v, want ErrShutdown", err)
	}
}

// FuzzLoadSnapshot feeds arbitrary bytes to the snapshot reader: a snapshot
// arrives from another node, so it is outside input.
func FuzzLoadSnapshot(f *testing.F) {
	src, _ := openTestFSM(f, f.TempDir())
	src.ApplyBatch([]*raft.Log{entry(1, set("a", "1")), entry(2, set("b", "2"))})
	snap, err := src.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		f.Fatal(err)
	}
	snap.Release()
	f.Add(sink.Bytes())
	f.Add([]byte{})
	f.Add([]byte("FSENSNP1"))
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil).
		WithMemTableSize(8 << 20).WithValueThreshold(256 << 10))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		meta, err := loadSnapshot(bytes.NewReader(in), db)
		if err != nil {
			// Every refusal is a snapshot error, never a crash or a
			// database failure.
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("refused with %v, not ErrBadSnapshot", err)
			}
			return
		}
		// Whatever was accepted is a complete stream: it re-reads the same.
		again, err := loadSnapshot(bytes.NewReader(in), db)
		if err != nil || again != meta {
			t.Fatalf("accepted stream does not load twice the same: %v", err)
		}
	})
}

func TestIdempotencyKeysAreScopedByOrigin(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	withKey := func(c Command, origin, key string) Command { c.Origin, c.Key = origin, key; return c }
	out := f.ApplyBatch([]*raft.Log{
		entry(1, withKey(set("a", "1"), "030", "w1")),
		entry(2, withKey(set("a", "2"), "030", "w1")), // retry by the same member
		entry(3, withKey(set("b", "1"), "160", "w1")), // another member's key
		entry(4, withKey(set("c", "1"), "", "w1")),    // format 1: no origin
		entry(5, withKey(set("c", "2"), "", "w1")),
	})
	dup := func(i int) bool { return out[i].([]Result)[0].Duplicate }
	for i, want := range []bool{false, true, false, false, true} {
		t.Run(fmt.Sprintf("entry %d", i+1), func(t *testing.T) {
			if dup(i) != want {
				t.Fatalf("duplicate = %v, want %v", dup(i), want)
			}
		})
	}
	if get(t, f, "a") != "1" || get(t, f, "b") != "1" || get(t, f, "c") != "1" {
		t.Fatalf("state a=%q b=%q c=%q", get(t, f, "a"), get(t, f, "b"), get(t, f, "c"))
	}
}
