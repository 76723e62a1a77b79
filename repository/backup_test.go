package repository

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/repository/store"
)

// Backups taken while producers publish and the outbox indexes: in each,
// every index entry of the region in the state has its document in the
// store's part, and every document the store's part holds as committed is
// in the state; loaded into a new store, the same holds against the
// snapshot as restored.
func TestBackupIsConsistentUnderPublication(t *testing.T) {
	e := newOutboxEnv(t)
	o := e.start(e.apply)
	ctx := context.Background()

	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := e.submit(fmt.Sprintf("w%d-%d", w, i), mario)
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				out, err := o.Wait(wctx, op)
				cancel()
				if err != nil || out.Err != nil {
					t.Errorf("publication %s: %v %v", op.Doc, err, out.Err)
					return
				}
				published.Add(1)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	check := func(b *store.Backup, r consensus.Reader, what string) store.CheckReport {
		t.Helper()
		rep, err := b.Check(r, "030")
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Missing) > 0 || len(rep.Unindexed) > 0 {
			t.Fatalf("%s: %d entries, missing %v, unindexed %v", what, rep.Entries, rep.Missing, rep.Unindexed)
		}
		return rep
	}
	var last struct {
		state, docs bytes.Buffer
		entries     int
	}
	for i := range 8 {
		// Each backup after more publications.
		want := published.Load() + 5
		consensustest.Eventually(t, 60*time.Second, func() bool { return published.Load() >= want }, "publications go on")
		var v *consensus.SnapshotView
		b, err := e.store.OpenBackup(func() error {
			var err error
			v, err = e.rep.OpenSnapshot(ctx, consensus.Strong)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var rep store.CheckReport
		if err := v.Read(func(r consensus.Reader) error { rep = check(b, r, fmt.Sprintf("backup %d", i)); return nil }); err != nil {
			t.Fatal(err)
		}
		last.state.Reset()
		last.docs.Reset()
		last.entries = rep.Entries
		if _, err := v.WriteTo(&last.state); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write(&last.docs); err != nil {
			t.Fatal(err)
		}
		v.Release()
		b.Close()
	}
	if last.entries == 0 {
		t.Fatal("the backups held no entries")
	}

	// The last backup, restored: the same check, read from its files.
	dir := filepath.Join(t.TempDir(), "repository")
	if err := store.Load(dir, &last.docs, nil); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultConfig(dir)
	cfg.GCInterval = 0
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.OpenBackup(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = consensus.InspectSnapshot(&last.state, t.TempDir(), nil, func(_ consensus.SnapshotInfo, r consensus.Reader) error {
		if rep := check(b, r, "restored backup"); rep.Entries != last.entries {
			t.Errorf("restored backup: %d entries, the backup checked %d", rep.Entries, last.entries)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
