package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

func TestSealDetectsAlteredValues(t *testing.T) {
	key, value := []byte("ix/p/RSSMRA80A01H501U"), []byte(`{"family":"Rossi"}`)
	stored := seal(key, value)
	tests := []struct {
		name   string
		key    []byte
		stored func() []byte
		ok     bool
	}{
		{"intact", key, func() []byte { return bytes.Clone(stored) }, true},
		{"empty value", key, func() []byte { return seal(key, nil) }, true},
		{"flipped value byte", key, func() []byte { b := bytes.Clone(stored); b[3] ^= 1; return b }, false},
		{"flipped seal byte", key, func() []byte { b := bytes.Clone(stored); b[len(b)-1] ^= 0x80; return b }, false},
		{"truncated", key, func() []byte { return stored[:len(stored)-1] }, false},
		{"shorter than a seal", key, func() []byte { return stored[:2] }, false},
		{"under another key", []byte("ix/p/VRDGPP80A01H501X"), func() []byte { return bytes.Clone(stored) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := unseal(tt.key, tt.stored())
			if tt.ok {
				if err != nil {
					t.Fatalf("unseal: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrDamaged) || v != nil {
				t.Fatalf("unseal = %q, %v; want ErrDamaged", v, err)
			}
			var de *DamageError
			if !errors.As(err, &de) || de.Range != rangeOf(tt.key) {
				t.Fatalf("damage %+v, want range %d", de, rangeOf(tt.key))
			}
			if strings.Contains(err.Error(), "RSSMRA") || strings.Contains(err.Error(), "Rossi") {
				t.Fatalf("the error names the key or the value: %v", err)
			}
		})
	}
}

// tamper rewrites key's stored bytes in the FSM's live database.
func tamper(t *testing.T, f *FSM, key string, fn func([]byte) []byte) {
	t.Helper()
	h, err := f.state.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	err = h.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return txn.Set([]byte(key), fn(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func flipFirst(v []byte) []byte { v[0] ^= 0x20; return v }

func TestDamagedValueIsNeverRead(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	f.ApplyBatch([]*raft.Log{entry(1, set("a", "alpha"), set("b", "beta"))})
	tamper(t, f, "k/a", flipFirst)

	read := func(key string) (string, error) {
		var v []byte
		_, err := f.viewAt(func(r Reader) error {
			var err error
			v, _, err = r.Get([]byte("k/" + key))
			return err
		})
		return string(v), err
	}
	if v, err := read("a"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("read of the damaged value = %q, %v; want ErrDamaged", v, err)
	}
	// The replica now knows: every read is refused, sound keys too.
	if v, err := read("b"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("read of another value = %q, %v; want ErrDamaged while damaged", v, err)
	}
	// A reader that swallows the error still does not get an answer.
	_, err := f.read(false, func(r Reader) error {
		_ = r.Iterate([]byte("k/"), func(k, v []byte) error { return nil })
		return nil
	})
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("iteration over damage: %v, want ErrDamaged", err)
	}
	d := f.integ.current()
	if d == nil || !slices.Equal(d.Ranges, []int{rangeOf([]byte("k/a"))}) {
		t.Fatalf("damage %+v, want the range of k/a", d)
	}
	// An entry that reads the damaged value is not applied to it, even
	// if its handler ignores the error (no node runs a repair here, so
	// the entry reports the damage).
	peek := HandlerFunc(func(tx *Tx, cmd Command) ([]byte, error) {
		v, _, _ := tx.Get(cmd.Payload)
		return v, nil
	})
	if err := f.register("peek", peek); err != nil {
		t.Fatal(err)
	}
	out := f.ApplyBatch([]*raft.Log{entry(2, Command{Type: "peek", Payload: []byte("k/a")})})
	if err, ok := out[0].(error); !ok || !errors.Is(err, ErrDamaged) {
		t.Fatalf("apply over damage answered %v", out[0])
	}
	if idx, _ := f.Applied(); idx != 1 {
		t.Fatalf("applied index %d after an entry met damage, want 1", idx)
	}
}

func TestSnapshotCarriesNoDamage(t *testing.T) {
	src, _ := openTestFSM(t, t.TempDir())
	src.ApplyBatch([]*raft.Log{entry(1, set("a", "alpha"))})
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	// Restored into another replica, the values are sealed there.
	dst, _ := openTestFSM(t, t.TempDir())
	if err := dst.Restore(nopCloser{bytes.NewReader(sink.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, dst, "a"); got != "alpha" {
		t.Fatalf("a = %q", got)
	}

	// A replica whose value is damaged refuses to ship it.
	tamper(t, src, "k/a", flipFirst)
	snap, err = src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var bad memSink
	err = snap.Persist(&bad)
	snap.Release()
	if !errors.Is(err, ErrDamaged) || !bad.cancelled {
		t.Fatalf("snapshot of a damaged state: %v (cancelled %v), want ErrDamaged", err, bad.cancelled)
	}
	if src.integ.current() == nil {
		t.Fatal("the replica did not learn of the damage its snapshot met")
	}
	// Restoring a sound state clears the damage.
	if err := src.Restore(nopCloser{bytes.NewReader(sink.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if d := src.integ.current(); d != nil {
		t.Fatalf("damage %v survives a restore", d)
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// scan hashes the FSM's current state.
func scan(t testing.TB, f *FSM) *scanResult {
	t.Helper()
	h, err := f.state.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	res, err := scanState(txn, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestScanComparesStoredState(t *testing.T) {
	entries := func() []*raft.Log {
		var logs []*raft.Log
		for i := 1; i <= 50; i++ {
			logs = append(logs, entry(uint64(i), set(fmt.Sprint(i), strings.Repeat("x", i))))
		}
		return logs
	}
	a, _ := openTestFSM(t, t.TempDir())
	b, _ := openTestFSM(t, t.TempDir())
	// The same entries in other batches give the same stored state.
	a.ApplyBatch(entries())
	for _, l := range entries() {
		b.ApplyBatch([]*raft.Log{l})
	}
	ra, rb := scan(t, a), scan(t, b)
	if ra.Root != rb.Root || ra.Keys != rb.Keys || ra.Keys < 50 {
		t.Fatalf("equal states: roots %x %x, keys %d %d", ra.Root[:4], rb.Root[:4], ra.Keys, rb.Keys)
	}

	tests := []struct {
		name       string
		key        string
		change     func(f *FSM)
		unreadable bool
	}{
		{"flipped byte", "k/7", func(f *FSM) { tamper(t, f, "k/7", flipFirst) }, true},
		{"stale value", "k/8", func(f *FSM) {
			tamper(t, f, "k/8", func([]byte) []byte { return seal([]byte("k/8"), []byte("old")) })
		}, false},
		{"lost key", "k/9", func(f *FSM) {
			h, _ := f.state.acquire()
			defer h.release()
			if err := h.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte("k/9")) }); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := openTestFSM(t, t.TempDir())
			c.ApplyBatch(entries())
			tt.change(c)
			rc := scan(t, c)
			want := []int{rangeOf([]byte(tt.key))}
			if got := differingRanges(rc.answer().Ranges, ra.answer().Ranges); !slices.Equal(got, want) || rc.Root == ra.Root {
				t.Fatalf("differing ranges %v, want %v", got, want)
			}
			if tt.unreadable != (len(rc.Unreadable) > 0) || (tt.unreadable && !slices.Equal(rc.Unreadable, want)) {
				t.Fatalf("unreadable ranges %v", rc.Unreadable)
			}
		})
	}
}

func TestScrubMarkerEndsTheTransaction(t *testing.T) {
	f, _ := openTestFSM(t, t.TempDir())
	if err := f.register(leaderMarker, HandlerFunc(applyLeaderMarker)); err != nil {
		t.Fatal(err)
	}
	f.scans.init()
	defer f.scans.close()
	// The marker shares its entry with another command; a write follows
	// in the same batch and must not be in the scanned view.
	f.ApplyBatch([]*raft.Log{entry(1, set("a", "1")), entry(2, set("b", "2"), scrubMarker()), entry(3, set("c", "3"))})
	job := f.scans.take()
	if job == nil {
		t.Fatal("no view at the marker")
	}
	defer job.release()
	if job.meta.Index != 2 {
		t.Fatalf("view at index %d, want 2", job.meta.Index)
	}
	err := readTxnForTest(job.txn, func(r Reader) error {
		for k, want := range map[string]bool{"k/a": true, "k/b": true, "k/c": false} {
			if _, ok, err := r.Get([]byte(k)); err != nil || ok != want {
				return fmt.Errorf("%s in the view: %v (%v), want %v", k, ok, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if idx, _ := f.Applied(); idx != 3 {
		t.Fatalf("applied %d, want 3", idx)
	}
}

func readTxnForTest(txn *badger.Txn, fn func(Reader) error) error {
	return fn(txnReader{txn: txn})
}

// A state written before values were sealed is sealed when opened, in a
// new database switched in as a restore is.
func TestLegacyStateIsSealedOnOpen(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, stateName(1))
	db, err := badger.Open(badger.DefaultOptions(legacy).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	meta := appliedMeta{Index: 7, Term: 2}
	err = db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte("k/a"), []byte("alpha")); err != nil {
			return err
		}
		return txn.Set(keyApplied, meta.encode())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, currentFile), []byte(stateName(1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := openTestFSM(t, dir)
	if got := get(t, f, "a"); got != "alpha" {
		t.Fatalf("a = %q after the upgrade", got)
	}
	if idx, _ := f.Applied(); idx != 7 {
		t.Fatalf("applied %d after the upgrade, want 7", idx)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("the unsealed database is still there: %v", err)
	}
	f.state.close()
	// Opened again, it is not upgraded twice.
	f2, _ := openTestFSM(t, dir)
	if got := get(t, f2, "a"); got != "alpha" {
		t.Fatalf("a = %q on the second open", got)
	}
}

func TestRangesText(t *testing.T) {
	many := make([]int, 20)
	for i := range many {
		many[i] = i
	}
	for _, tt := range []struct {
		in   []int
		want string
	}{
		{[]int{7}, "range 7"},
		{[]int{3, 17, 200}, "ranges 3, 17 and 200"},
		{many, "20 ranges (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, …)"},
	} {
		if got := rangesText(tt.in); got != tt.want {
			t.Errorf("rangesText(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkScan measures a scan of 10,000 keys with values of 500 bytes
// (about the size of a registry record), unpaced: the CPU a check costs
// per 10k keys.
func BenchmarkScan(b *testing.B) {
	f, _ := openTestFSM(b, b.TempDir())
	v := strings.Repeat("x", 500)
	var logs []*raft.Log
	for i := 0; i < 10_000; i++ {
		logs = append(logs, entry(uint64(i+1), set(fmt.Sprint(i), v)))
	}
	for len(logs) > 0 {
		n := min(len(logs), 500)
		f.ApplyBatch(logs[:n])
		logs = logs[n:]
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := scan(b, f)
		if res.Keys < 10_000 {
			b.Fatalf("%d keys", res.Keys)
		}
		b.SetBytes(int64(res.Bytes))
	}
}
