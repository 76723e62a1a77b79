package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	"github.com/fsenet/fsenet/index"
)

// ErrNotEmpty is returned by Load for a directory that already holds a
// store.
var ErrNotEmpty = errors.New("store: directory is not empty")

// Backup is a point-in-time view of the whole store, opened by OpenBackup
// and written by Write in the format of badger's own backups (what
// badger's DB.Load, and so Load, reads).
type Backup struct {
	txn *badger.Txn
}

// BackupStats counts what a backup holds.
type BackupStats struct {
	Bytes     int64 `json:"bytes"`
	Documents int   `json:"documents"` // document versions
	Contents  int   `json:"contents"`  // distinct contents
	Outbox    int   `json:"outbox"`    // index commands not yet committed
}

// OpenBackup opens a point-in-time view of the store for a backup. While
// the view opens, no submission commits: during runs after the view is
// taken and before submissions resume, so whatever during captures (the
// replicated state) sees no index command of a submission the view does
// not hold. A submission waiting meanwhile commits after during returns.
// If during fails, the view is closed and its error returned. The caller
// must Close the backup.
func (s *Store) OpenBackup(during func() error) (*Backup, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	s.submits.Lock()
	txn := s.db.NewTransaction(false)
	var err error
	if during != nil {
		err = during()
	}
	s.submits.Unlock()
	if err != nil {
		txn.Discard()
		return nil, err
	}
	return &Backup{txn: txn}, nil
}

// Close ends the view.
func (b *Backup) Close() { b.txn.Discard() }

// backupListBytes is about the size of one KVList of a backup: badger's
// Load holds one in memory at a time.
const backupListBytes = 4 << 20

// Write writes every live key of the view to w as badger's backup
// format: records of a little-endian uint64 length and a protobuf KVList.
// Chunks of uploads that never committed are left out (a store sweeps
// them at open anyway).
func (b *Backup) Write(w io.Writer) (BackupStats, error) {
	var st BackupStats
	cw := &countWriter{w: w}
	// Uploads in flight or marked for the sweep: their chunks are not
	// content of any document.
	dropped := map[string]bool{}
	it := b.txn.NewIterator(badger.IteratorOptions{Prefix: pUpload})
	for it.Rewind(); it.Valid(); it.Next() {
		dropped[string(it.Item().Key()[len(pUpload):])] = true
	}
	it.Close()

	list := &pb.KVList{}
	size := 0
	flush := func() error {
		if len(list.Kv) == 0 {
			return nil
		}
		buf, err := proto.Marshal(list)
		if err != nil {
			return err
		}
		if err := binary.Write(cw, binary.LittleEndian, uint64(len(buf))); err != nil {
			return err
		}
		if _, err := cw.Write(buf); err != nil {
			return err
		}
		list.Kv, size = list.Kv[:0], 0
		return nil
	}
	it = b.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := item.Key()
		switch {
		case bytes.HasPrefix(key, pUpload):
			continue
		case bytes.HasPrefix(key, pChunk) && len(key) >= len(pChunk)+8 && dropped[string(key[len(pChunk):len(pChunk)+8])]:
			continue
		case bytes.HasPrefix(key, pDoc):
			st.Documents++
		case bytes.HasPrefix(key, pHash):
			st.Contents++
		case bytes.HasPrefix(key, pOutbox):
			st.Outbox++
		}
		val, err := item.ValueCopy(nil)
		if err != nil {
			return st, fmt.Errorf("store: backup: %w", err)
		}
		list.Kv = append(list.Kv, &pb.KV{Key: item.KeyCopy(nil), Value: val, UserMeta: []byte{item.UserMeta()},
			Version: item.Version(), ExpiresAt: item.ExpiresAt()})
		size += len(key) + len(val)
		if size >= backupListBytes {
			if err := flush(); err != nil {
				return st, fmt.Errorf("store: backup: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return st, fmt.Errorf("store: backup: %w", err)
	}
	st.Bytes = cw.n
	return st, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Load builds a store in dir from a backup written by Backup.Write.
// dir must not exist or be empty. The store is built in a directory
// beside dir and renamed to dir only once complete and synced, so a
// failed load leaves dir as it was.
func Load(dir string, r io.Reader, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%w: %s", ErrNotEmpty, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".load-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	db, err := badger.Open(badger.DefaultOptions(tmp).WithLogger(nil).WithMetricsEnabled(false).WithValueThreshold(16 << 10))
	if err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	if err := db.Load(r, 256); err != nil {
		db.Close()
		return fmt.Errorf("store: load: %w", err)
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return fmt.Errorf("store: load: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	// An empty dir is replaced; a missing one is created by the rename.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	done = true
	if d, err := os.Open(parent); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return err
		}
	}
	log.Info("document store loaded from a backup", "dir", dir)
	return nil
}

// CheckReport compares the store with the replicated index.
type CheckReport struct {
	// Entries is the number of index entries of the region checked.
	Entries int `json:"entries"`
	// Missing are the index entries of the region whose document (its
	// record, its content manifest or a chunk) the store does not hold.
	Missing []string `json:"missing"`
	// Unindexed are documents the store holds as committed that the index
	// does not know (published after the state the index was restored
	// from).
	Unindexed []string `json:"unindexed"`
	// Pending counts the index commands still in the outbox: the node
	// sends them when it starts.
	Pending int `json:"pending"`
}

// Check lists the index entries of region (the documents it keeps) whose
// document the view does not hold whole, and the committed documents of
// the view the index does not know. Chunks are counted, not read: the
// scrub reads them. The comparison is exact when r was opened during
// OpenBackup and includes every write acknowledged before (a strong
// read): then no submission falls between the two views.
func (b *Backup) Check(r index.Reader, region string) (CheckReport, error) {
	rep := CheckReport{Missing: []string{}, Unindexed: []string{}}
	err := func(tx *badger.Txn) error {
		var ierr error
		err := index.ByCustodian(r, region, index.Range{}, func(e index.Entry) bool {
			rep.Entries++
			ok, err := holds(tx, e.ID, e.Hash)
			if err != nil {
				ierr = err
				return false
			}
			if !ok {
				rep.Missing = append(rep.Missing, e.ID)
			}
			return true
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pDoc, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var d Document
			if _, err := getJSON(tx, it.Item().KeyCopy(nil), &d); err != nil {
				return err
			}
			if d.State == StatePending {
				continue
			}
			if _, ok, err := index.GetEntry(r, d.ID); err != nil {
				return err
			} else if !ok {
				rep.Unindexed = append(rep.Unindexed, d.ID)
			}
		}
		it2 := tx.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
		defer it2.Close()
		for it2.Rewind(); it2.Valid(); it2.Next() {
			rep.Pending++
		}
		return nil
	}(b.txn)
	return rep, err
}

// holds reports whether the store has document doc with content sha and
// every chunk of that content.
func holds(tx *badger.Txn, doc, sha string) (bool, error) {
	var d Document
	ok, err := getJSON(tx, cat(pDoc, []byte(doc)), &d)
	if err != nil || !ok || d.Entry.Hash != sha {
		return false, err
	}
	var m Manifest
	if ok, err := getJSON(tx, cat(pHash, []byte(sha)), &m); err != nil || !ok {
		return false, err
	}
	it := tx.NewIterator(badger.IteratorOptions{Prefix: cat(pChunk, u64(m.Blob))})
	defer it.Close()
	var n uint32
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n == m.Chunks, nil
}
