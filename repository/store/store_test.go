package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/zstd"

	"github.com/fsenet/fsenet/index"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	cfg := DefaultConfig(dir)
	cfg.ChunkBytes = 4 << 10
	cfg.MaxDocumentBytes = 1 << 20
	cfg.GCInterval = 0
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// compressible returns n bytes of text-like content.
func compressible(n int) []byte {
	line := []byte("<observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"718-7\"/></observation>\n")
	b := bytes.Repeat(line, n/len(line)+1)
	return b[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func docFor(id string, content []byte) *Document {
	return &Document{ID: id, State: StatePending, Workflow: "wf-" + id, Stored: time.Now(),
		Entry: index.Entry{ID: id, Hash: sum(content), Size: int64(len(content)), MIME: "application/pdf"}}
}

func publish(t *testing.T, s *Store, id string, content []byte) Op {
	t.Helper()
	b, err := s.Stage(context.Background(), bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	d := docFor(id, content)
	op, err := s.Submit(Submission{Blob: b, Doc: d, Op: &Op{Kind: OpPublish, Doc: id, Workflow: d.Workflow, Operation: "PUBLICATION", Entry: &d.Entry},
		Workflow: Workflow{ID: d.Workflow, Operation: "PUBLICATION", Doc: id, Status: WorkflowPending, Created: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestContentRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"empty", nil},
		{"one byte", []byte{7}},
		{"one chunk", compressible(4 << 10)},
		{"several chunks", compressible(50<<10 + 17)},
		{"incompressible", random(20 << 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			publish(t, s, "doc", tc.content)
			got, err := s.ReadAll(sum(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.content) {
				t.Fatalf("read %d bytes, want %d identical", len(got), len(tc.content))
			}
			m, err := s.Manifest(sum(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(len(tc.content)) {
				t.Errorf("manifest size %d, want %d", m.Size, len(tc.content))
			}
			if tc.name == "several chunks" && m.Stored*4 > m.Size {
				t.Errorf("stored %d bytes for %d of repetitive text: not compressed", m.Stored, m.Size)
			}
			// The stored frames, read as they are (both ways a reader
			// may take them), decompress to the content.
			for _, via := range []string{"Read", "WriteTo"} {
				fr, _, err := s.Frames(sum(tc.content))
				if err != nil {
					t.Fatal(err)
				}
				var comp bytes.Buffer
				if via == "Read" {
					// Reads of 1000 bytes (neither side may bypass the buffer).
					_, err = io.CopyBuffer(struct{ io.Writer }{&comp}, struct{ io.Reader }{fr}, make([]byte, 1000))
				} else {
					_, err = fr.(io.WriterTo).WriteTo(&comp)
				}
				fr.Close()
				if err != nil || int64(comp.Len()) != m.Stored {
					t.Fatalf("frames via %s: %d bytes (%v), want the %d stored", via, comp.Len(), err, m.Stored)
				}
				dec, _ := zstd.NewReader(&comp)
				plain, err := io.ReadAll(dec)
				dec.Close()
				if err != nil || !bytes.Equal(plain, tc.content) {
					t.Fatalf("frames via %s decompress to %d bytes (%v), want the content", via, len(plain), err)
				}
			}
		})
	}
}

func TestTooLargeLeavesNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	_, err := s.Stage(context.Background(), bytes.NewReader(random(1<<20+1)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n := countPrefix(t, s, pChunk) + countPrefix(t, s, pUpload); n != 0 {
		t.Fatalf("%d keys left behind", n)
	}
}

func countPrefix(t *testing.T, s *Store, p []byte) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInterruptedUploadIsSweptAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := s.Stage(context.Background(), bytes.NewReader(random(20<<10))); err != nil {
		t.Fatal(err)
	}
	if countPrefix(t, s, pChunk) == 0 {
		t.Fatal("a multi-chunk upload wrote no chunk before its commit")
	}
	s.Close() // a crash before Submit
	s = openStore(t, dir)
	if n := countPrefix(t, s, pChunk) + countPrefix(t, s, pUpload); n != 0 {
		t.Fatalf("%d keys of the interrupted upload survive the reopen", n)
	}
}

func TestCorruptContentIsRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	content := compressible(10 << 10)
	publish(t, s, "doc", content)
	m, _ := s.Manifest(sum(content))
	// Another chunk's bytes in place of the first: valid zstd, wrong data.
	other := s.enc.EncodeAll(compressible(4 << 10)[:4<<10-1], nil)
	if err := s.db.Update(func(tx *badger.Txn) error { return tx.Set(chunkKey(m.Blob, 0), other) }); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Content(sum(content))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading altered content: err = %v, want ErrCorrupt", err)
	}
	// Garbage in place of a chunk.
	if err := s.db.Update(func(tx *badger.Txn) error { return tx.Set(chunkKey(m.Blob, 1), []byte("garbage")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(sum(content)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading garbage chunk: err = %v, want ErrCorrupt", err)
	}
	// A missing chunk fails the frames' reader too (what it passes on
	// is never checked here: altered bytes are its reader's to refuse).
	if err := s.db.Update(func(tx *badger.Txn) error { return tx.Delete(chunkKey(m.Blob, 1)) }); err != nil {
		t.Fatal(err)
	}
	fr, _, err := s.Frames(sum(content))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, fr); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("frames with a chunk missing: err = %v, want ErrCorrupt", err)
	}
}

func TestSameContentStoredOnce(t *testing.T) {
	s := openStore(t, t.TempDir())
	content := random(30 << 10)
	publish(t, s, "a", content)
	publish(t, s, "b", content)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Documents != 2 || st.Contents != 1 {
		t.Fatalf("stats %+v: want 2 documents over 1 content", st)
	}
	if n, want := countPrefix(t, s, pChunk), 8; n != want {
		t.Fatalf("%d chunks stored, want %d (one copy)", n, want)
	}
}

func TestRollbackRemovesContentOnlyWhenUnshared(t *testing.T) {
	s := openStore(t, t.TempDir())
	shared, own := random(10<<10), random(10<<10)
	opA := publish(t, s, "a", shared)
	opB := publish(t, s, "b", shared)
	opC := publish(t, s, "c", own)
	if err := s.Complete(opA, docFor("a", shared).Entry); err != nil {
		t.Fatal(err)
	}
	for _, op := range []Op{opB, opC} {
		if err := s.Rollback(op, "conflict", "refused"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ReadAll(sum(shared)); err != nil {
		t.Fatalf("content still used by a: %v", err)
	}
	if _, err := s.Manifest(sum(own)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused document's own content: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Document("c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused document record: err = %v, want ErrNotFound", err)
	}
	if n := countPrefix(t, s, pChunk); n != 3 {
		t.Fatalf("%d chunks left, want the 3 of the shared content", n)
	}
	w, err := s.Workflow("wf-c", "PUBLICATION")
	if err != nil || w.Status != WorkflowError || w.Message != "refused" {
		t.Fatalf("workflow %+v, %v: want ERROR with the reason", w, err)
	}
	if n, _ := s.OutboxLen(); n != 0 {
		t.Fatalf("outbox holds %d after every op ended", n)
	}
}

func TestOperationsOnAVersionAreSerialised(t *testing.T) {
	s := openStore(t, t.TempDir())
	content := random(1 << 10)
	op := publish(t, s, "a", content)
	upd := func(wf string) error {
		_, err := s.Submit(Submission{Op: &Op{Kind: OpUpdate, Doc: "a", Workflow: wf, Operation: "UPDATE", Update: &index.EntryUpdate{ID: "a"}},
			Workflow: Workflow{ID: wf, Operation: "UPDATE", Status: WorkflowPending}})
		return err
	}
	if err := upd("u1"); !errors.Is(err, ErrState) {
		t.Fatalf("update of a pending document: err = %v, want ErrState", err)
	}
	if err := s.Complete(op, docFor("a", content).Entry); err != nil {
		t.Fatal(err)
	}
	if err := upd("u2"); err != nil {
		t.Fatal(err)
	}
	if err := upd("u3"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second update while the first waits: err = %v, want ErrBusy", err)
	}
	if err := upd("u2"); !errors.Is(err, ErrExists) {
		t.Fatalf("reused workflow id: err = %v, want ErrExists", err)
	}
	if err := upd("x"); err == nil {
		t.Fatal("update accepted while busy")
	}
	ops, err := s.Outbox(10, nil)
	if err != nil || len(ops) != 1 || ops[0].Workflow != "u2" {
		t.Fatalf("outbox %+v, %v: want the one update", ops, err)
	}
	if err := s.Rollback(ops[0], "invalid", "no"); err != nil {
		t.Fatal(err)
	}
	if err := upd("u4"); err != nil {
		t.Fatalf("update after the refused one: %v", err)
	}
	if _, err := s.Document("a"); err != nil {
		t.Fatalf("a refused update must not remove the document: %v", err)
	}
}

func TestOutboxSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	var seqs []uint64
	for _, id := range []string{"a", "b", "c"} {
		seqs = append(seqs, publish(t, s, id, random(100)).Seq)
	}
	s.Close()
	s = openStore(t, dir)
	ops, err := s.Outbox(10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[0].Seq != seqs[0] || ops[2].Doc != "c" {
		t.Fatalf("outbox after reopen %+v", ops)
	}
	op := publish(t, s, "d", random(100))
	if op.Seq <= seqs[2] {
		t.Fatalf("sequence went back after reopen: %d after %d", op.Seq, seqs[2])
	}
}

// A scrub reads every content and names the documents of those that no
// longer hash to their address; it keeps to its pace and records its end.
func TestScrubFindsAlteredContent(t *testing.T) {
	s := openStore(t, t.TempDir())
	if last, err := s.LastScrub(); err != nil || !last.IsZero() {
		t.Fatalf("last scrub of a new store: %v %v", last, err)
	}
	good, bad := compressible(50<<10+3), random(20<<10)
	publish(t, s, "a", good)
	publish(t, s, "b", bad)
	publish(t, s, "c", random(3<<10))
	rep, err := s.Scrub(context.Background(), 0, func(sha string, docs []string) { t.Fatalf("intact store: %s reported", sha) })
	if err != nil || rep.Contents != 3 || rep.Corrupt != 0 || rep.Bytes != int64(len(good)+len(bad)+3<<10) {
		t.Fatalf("scrub of an intact store: %+v %v", rep, err)
	}
	if last, _ := s.LastScrub(); time.Since(last) > time.Minute {
		t.Fatalf("last scrub %v", last)
	}
	m, _ := s.Manifest(sum(bad))
	if err := s.db.Update(func(tx *badger.Txn) error {
		return tx.Set(chunkKey(m.Blob, 0), s.enc.EncodeAll(random(4<<10), nil))
	}); err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	start := time.Now()
	rep, err = s.Scrub(context.Background(), 400<<10, func(sha string, docs []string) { found[sha] = docs })
	if err != nil || rep.Contents != 3 || rep.Corrupt != 1 || len(found) != 1 || strings.Join(found[sum(bad)], ",") != "b" {
		t.Fatalf("scrub: %+v %v, found %v", rep, err, found)
	}
	// At 400 KiB/s, the ~57 KiB read take at least ~0.1 s.
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Fatalf("a paced scrub of %d bytes took %v", rep.Bytes, took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Scrub(ctx, 0, func(string, []string) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scrub: %v", err)
	}
}

// Content removed while a scrub reads it (a rollback drops its chunks) is
// not reported as damaged.
func TestScrubIgnoresContentRemovedMidway(t *testing.T) {
	s := openStore(t, t.TempDir())
	op := publish(t, s, "gone", random(200<<10))
	done := make(chan struct{})
	var rep ScrubReport
	var err error
	go func() {
		defer close(done)
		rep, err = s.Scrub(context.Background(), 400<<10, func(sha string, docs []string) {
			t.Errorf("reported %s (%v) as damaged", sha, docs)
		})
	}()
	time.Sleep(100 * time.Millisecond)
	if rerr := s.Rollback(op, "TEST", "rolled back mid-scrub"); rerr != nil {
		t.Fatal(rerr)
	}
	<-done
	if err != nil || rep.Corrupt != 0 {
		t.Fatalf("scrub: %+v %v", rep, err)
	}
}
