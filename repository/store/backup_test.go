package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
)

// complete records op as committed with its own entry, as the outbox does
// once the index answers.
func complete(t *testing.T, s *Store, op Op) {
	t.Helper()
	e := *op.Entry
	e.Status = index.StatusCurrent
	if err := s.Complete(op, e); err != nil {
		t.Fatal(err)
	}
}

// backupBytes writes a backup of s.
func backupBytes(t *testing.T, s *Store) ([]byte, BackupStats) {
	t.Helper()
	b, err := s.OpenBackup(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var buf bytes.Buffer
	st, err := b.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(buf.Len()) {
		t.Fatalf("backup counted %d bytes, wrote %d", st.Bytes, buf.Len())
	}
	return buf.Bytes(), st
}

// A backup loaded into a new directory is the store as it was: every
// content with the same bytes, the records, the outbox; an upload that
// never committed is not carried over; numbering goes on after the
// numbers the backup used.
func TestBackupLoadRoundTrip(t *testing.T) {
	s := openStore(t, t.TempDir())
	contents := map[string][]byte{
		"one-chunk":  compressible(3 << 10),
		"chunks":     compressible(50<<10 + 17),
		"random":     random(20 << 10),
		"same-bytes": compressible(3 << 10), // the same content as one-chunk
	}
	var ops []Op
	for _, id := range []string{"one-chunk", "chunks", "random", "same-bytes"} {
		op := publish(t, s, id, contents[id])
		if id != "random" {
			complete(t, s, op) // random stays in the outbox
		}
		ops = append(ops, op)
	}
	// An upload in flight when the backup is taken.
	staged, err := s.Stage(context.Background(), bytes.NewReader(random(10<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer staged.Discard()

	data, st := backupBytes(t, s)
	if st.Documents != 4 || st.Contents != 3 || st.Outbox != 1 {
		t.Fatalf("backup stats %+v, want 4 documents, 3 contents, 1 in the outbox", st)
	}
	dir := filepath.Join(t.TempDir(), "repository")
	if err := Load(dir, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir)
	for id, c := range contents {
		d, err := r.Document(id)
		if err != nil {
			t.Fatalf("document %s: %v", id, err)
		}
		got, err := r.ReadAll(d.Entry.Hash)
		if err != nil || !bytes.Equal(got, c) {
			t.Fatalf("document %s: %d bytes (%v), want its %d bytes", id, len(got), err, len(c))
		}
		want := StateIndexed
		if id == "random" {
			want = StatePending
		}
		if d.State != want {
			t.Errorf("document %s is %s, want %s", id, d.State, want)
		}
	}
	pending, err := r.Outbox(10, nil)
	if err != nil || len(pending) != 1 || pending[0].Doc != "random" || pending[0].Seq != ops[2].Seq {
		t.Fatalf("restored outbox %+v (%v), want the operation of random", pending, err)
	}
	if w, err := r.Workflow("wf-chunks", "PUBLICATION"); err != nil || w.Status != WorkflowSuccess {
		t.Fatalf("restored workflow %+v (%v)", w, err)
	}
	stats, err := r.Stats()
	if err != nil || stats.Contents != 3 {
		t.Fatalf("restored stats %+v (%v)", stats, err)
	}
	var chunks int
	_ = r.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pChunk})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			chunks++
		}
		return nil
	})
	want := 0
	for _, sha := range []string{sum(contents["one-chunk"]), sum(contents["chunks"]), sum(contents["random"])} {
		m, err := r.Manifest(sha)
		if err != nil {
			t.Fatal(err)
		}
		want += int(m.Chunks)
	}
	if chunks != want {
		t.Fatalf("restored store holds %d chunks, want the %d of its contents (not the upload in flight)", chunks, want)
	}
	// Numbering goes on after the backup's: a new operation is numbered
	// after every one the backup holds.
	op := publish(t, r, "after", compressible(5<<10))
	if op.Seq <= ops[len(ops)-1].Seq {
		t.Fatalf("operation numbered %d after a restore, but the backup used %d", op.Seq, ops[len(ops)-1].Seq)
	}
}

func TestLoadRefusesANonEmptyDirectory(t *testing.T) {
	s := openStore(t, t.TempDir())
	publish(t, s, "doc", compressible(1<<10))
	data, _ := backupBytes(t, s)

	dir := t.TempDir()
	keep := filepath.Join(dir, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Load(dir, bytes.NewReader(data), nil); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("load into a non-empty directory: %v, want ErrNotEmpty", err)
	}
	if b, err := os.ReadFile(keep); err != nil || string(b) != "x" {
		t.Fatalf("the directory's file was touched: %q %v", b, err)
	}
	// A truncated backup is refused and leaves nothing behind.
	fresh := filepath.Join(t.TempDir(), "repository")
	if err := Load(fresh, bytes.NewReader(data[:len(data)-3]), nil); err == nil {
		t.Fatal("a truncated backup loaded")
	}
	if ents, _ := os.ReadDir(filepath.Dir(fresh)); len(ents) != 0 {
		t.Fatalf("a failed load left %v behind", ents)
	}
}

// No submission commits while a backup's view opens: during runs with
// the submissions held, and they go on afterwards.
func TestOpenBackupHoldsSubmissions(t *testing.T) {
	s := openStore(t, t.TempDir())
	ran := false
	b, err := s.OpenBackup(func() error {
		ran = true
		if s.submits.TryRLock() {
			s.submits.RUnlock()
			t.Error("a submission could commit while the backup's view opened")
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("open backup: %v (during ran: %v)", err, ran)
	}
	publish(t, s, "after", compressible(1<<10)) // not held any more
	b.Close()

	boom := errors.New("boom")
	if _, err := s.OpenBackup(func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing during: %v, want its error", err)
	}
}

// The check lists the region's index entries whose document the store
// does not hold, and the committed documents the index does not know.
func TestBackupCheck(t *testing.T) {
	rep := consensustest.NewReplica(t, index.New())
	ctx := context.Background()
	const patient = "CF:RSSMRA80A01H501U"
	cmd, err := index.PutPatient(index.Patient{ID: patient, Family: "Rossi", HomeRegion: "030"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Apply(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, t.TempDir())
	entry := func(local string, content []byte) index.Entry {
		return index.Entry{ID: index.DocumentID("030", local), Patient: patient, Type: "11502-2", Class: "REF",
			Created: time.Now().UTC(), AuthorOrg: "030-ASST-01", Custodian: "030", Hash: sum(content),
			Size: int64(len(content)), MIME: "application/pdf"}
	}
	// store submits a document; indexed publishes its entry; committed
	// records the commit in the store.
	add := func(local string, stored, indexed, committed bool) string {
		content := random(2 << 10)
		e := entry(local, content)
		var op Op
		if stored {
			b, err := s.Stage(ctx, bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			wf := "wf-" + local
			op, err = s.Submit(Submission{Blob: b, Doc: &Document{ID: e.ID, Entry: e, State: StatePending, Workflow: wf},
				Op:       &Op{Kind: OpPublish, Doc: e.ID, Workflow: wf, Operation: "PUBLICATION", Entry: &e},
				Workflow: Workflow{ID: wf, Operation: "PUBLICATION", Status: WorkflowPending, Created: time.Now()}})
			if err != nil {
				t.Fatal(err)
			}
		}
		if indexed {
			cmd, err := index.Publish(e)
			if err != nil {
				t.Fatal(err)
			}
			res, err := rep.Apply(ctx, cmd)
			if err != nil {
				t.Fatal(err)
			}
			if committed {
				got, err := index.DecodeEntry(res.Value)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Complete(op, got); err != nil {
					t.Fatal(err)
				}
			}
		}
		return e.ID
	}
	whole := add("whole", true, true, true)
	pendingIndexed := add("pending-indexed", true, true, false) // committed, the store not told yet
	add("pending", true, false, false)                          // in the outbox
	lost := add("lost", false, true, false)                     // indexed, never stored here
	v, err := rep.OpenSnapshot(ctx, consensus.Strong)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Release()
	b, err := s.OpenBackup(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got CheckReport
	if err := v.Read(func(r consensus.Reader) error { got, err = b.Check(r, "030"); return err }); err != nil {
		t.Fatal(err)
	}
	if got.Entries != 3 || !slices.Equal(got.Missing, []string{lost}) || len(got.Unindexed) != 0 || got.Pending != 2 {
		t.Fatalf("check %+v; want 3 entries, %s missing, nothing unindexed, 2 pending (%s and pending)", got, lost, pendingIndexed)
	}

	// Against an index that knows none of them: the committed documents
	// are unindexed, the pending ones are not (their commands are still
	// to be sent).
	rep2 := consensustest.NewReplica(t, index.New())
	if _, err := rep2.Apply(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	if err := func() error {
		_, err := rep2.Read(ctx, consensus.Local, func(r consensus.Reader) error {
			got, err = b.Check(r, "030")
			return err
		})
		return err
	}(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got.Unindexed)
	want := []string{whole}
	if got.Entries != 0 || len(got.Missing) != 0 || !slices.Equal(got.Unindexed, want) {
		t.Fatalf("check against an empty index %+v; want %v unindexed", got, want)
	}
}
