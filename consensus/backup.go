package consensus

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// SnapshotView is a point-in-time view of the replicated state, held open
// until Release: its applied index, term and digest are known before its
// records are written, so that a backup can take other copies consistent
// with it (the region's documents) before it streams.
type SnapshotView struct {
	s *fsmSnapshot
}

// OpenSnapshot opens a view of the replicated state. With Strong, the view
// includes every write acknowledged anywhere in the federation before the
// call (the leader is asked for its commit index and this replica applies
// that far first); with Local, it is this replica's state as it is. The
// caller must Release the view.
func (n *Node) OpenSnapshot(ctx context.Context, c Consistency) (*SnapshotView, error) {
	if c == Strong {
		idx, err := n.readIndex(ctx)
		if err != nil {
			return nil, fmt.Errorf("consensus: snapshot: %w", err)
		}
		if err := n.fsm.waitApplied(ctx, idx); err != nil {
			return nil, fmt.Errorf("consensus: snapshot: %w", err)
		}
	}
	h, err := n.fsm.state.acquire()
	if err != nil {
		return nil, err
	}
	txn := h.db.NewTransaction(false)
	// The applied-index record read in the same transaction matches the
	// view exactly, whatever is applied meanwhile.
	meta, err := readAppliedMeta(txn)
	if err != nil {
		txn.Discard()
		h.release()
		return nil, err
	}
	return &SnapshotView{s: &fsmSnapshot{h: h, txn: txn, meta: meta}}, nil
}

// Index is the log index the view reflects.
func (v *SnapshotView) Index() uint64 { return v.s.meta.Index }

// Term is the term of the entry at Index.
func (v *SnapshotView) Term() uint64 { return v.s.meta.Term }

// Digest is the state digest at Index, in hex (as /v1/cluster shows it).
func (v *SnapshotView) Digest() string { return hex.EncodeToString(v.s.meta.Digest[:]) }

// Read runs fn on the view.
func (v *SnapshotView) Read(fn func(Reader) error) error { return readTxn(v.s.txn, fn) }

// readTxn runs fn on a transaction's state.
func readTxn(txn *badger.Txn, fn func(Reader) error) error {
	return fn(txnReader{txn: txn})
}

// WriteTo streams the view to w in the format of Raft snapshots (what
// RestoreSnapshot reads).
func (v *SnapshotView) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	if err := v.s.write(cw); err != nil {
		return cw.n, fmt.Errorf("consensus: write snapshot: %w", err)
	}
	return cw.n, nil
}

// Release ends the view.
func (v *SnapshotView) Release() { v.s.Release() }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteSnapshot streams a point-in-time copy of the replicated state to w,
// in the format of Raft snapshots, and returns the log index it reflects.
// Writes go on while it runs; the copy is the state as of one applied
// entry. started, if not nil, learns that index before the first byte is
// written.
func (n *Node) WriteSnapshot(w io.Writer, started func(index uint64)) (uint64, error) {
	v, err := n.OpenSnapshot(context.Background(), Local)
	if err != nil {
		return 0, err
	}
	defer v.Release()
	if started != nil {
		started(v.Index())
	}
	_, err = v.WriteTo(w)
	return v.Index(), err
}

// SnapshotInfo describes a snapshot stream.
type SnapshotInfo struct {
	Index, Term uint64
	Digest      string // hex
}

// InspectSnapshot checks the snapshot in r end to end, loads it into a
// scratch database in a new directory under dir, and runs fn on that
// state; the scratch directory is removed before it returns. It is how a
// restore checks what a snapshot holds without starting a node.
func InspectSnapshot(r io.Reader, dir string, log *slog.Logger, fn func(SnapshotInfo, Reader) error) error {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(dir, "inspect-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	db, err := badger.Open(badger.DefaultOptions(scratch).WithLogger(badgerLogger{log}).
		WithSyncWrites(false).WithMetricsEnabled(false).WithDetectConflicts(false))
	if err != nil {
		return fmt.Errorf("consensus: scratch state: %w", err)
	}
	defer db.Close()
	meta, err := loadSnapshot(r, db)
	if err != nil {
		return err
	}
	info := SnapshotInfo{Index: meta.Index, Term: meta.Term, Digest: hex.EncodeToString(meta.Digest[:])}
	return db.View(func(txn *badger.Txn) error {
		return readTxn(txn, func(r Reader) error { return fn(info, r) })
	})
}

// ErrNotEmpty is returned by RestoreSnapshot for a data directory that
// already holds a replica.
var ErrNotEmpty = errors.New("consensus: data directory is not empty")

// RestoreSnapshot prepares an empty data directory to start from the
// snapshot in r, as a new federation whose only voter is self: the
// snapshot is checked end to end, then stored as the node's Raft snapshot
// with that configuration, and the node installs it when it starts. The
// other regions rejoin it afterwards with empty data directories. It
// returns the snapshot's log index.
func RestoreSnapshot(dataDir string, self Server, r io.Reader, log *slog.Logger) (uint64, error) {
	if log == nil {
		log = slog.Default()
	}
	for _, sub := range []string{"wal", "snapshots", "state"} {
		if _, err := os.Stat(filepath.Join(dataDir, sub)); err == nil {
			return 0, fmt.Errorf("%w: %s exists", ErrNotEmpty, filepath.Join(dataDir, sub))
		}
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return 0, err
	}
	// Keep a copy to read twice: once to check, once to store.
	tmp, err := os.CreateTemp(dataDir, "restore-*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, r)
	if err != nil {
		return 0, fmt.Errorf("consensus: read snapshot: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	meta, err := loadSnapshot(tmp, nil)
	if err != nil {
		return 0, err
	}
	if meta.Index == 0 {
		return 0, fmt.Errorf("%w: empty state", ErrBadSnapshot)
	}
	store, err := raft.NewFileSnapshotStoreWithLogger(dataDir, 1, newHclog(log, "snapshots"))
	if err != nil {
		return 0, err
	}
	cfg := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(self.ID), Address: raft.ServerAddress(self.Peer.String()), Suffrage: raft.Voter}}}
	// The store also writes the legacy peer list, encoded by a transport;
	// an in-memory one encodes addresses as the network transport does.
	_, enc := raft.NewInmemTransport("")
	sink, err := store.Create(raft.SnapshotVersionMax, meta.Index, meta.Term, cfg, meta.Index, enc)
	if err != nil {
		return 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		_ = sink.Cancel()
		return 0, err
	}
	if _, err := io.Copy(sink, tmp); err != nil {
		_ = sink.Cancel()
		return 0, err
	}
	if err := sink.Close(); err != nil {
		return 0, err
	}
	// Start the new federation's terms after the snapshot's, as if it had
	// been elected at that term: Raft's stable store keeps the current
	// term under this key.
	meta2 := &metadb.BoltMetaDB{}
	walDir := filepath.Join(dataDir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return 0, err
	}
	w, err := wal.Open(walDir, wal.WithLogger(newHclog(log, "raft-wal")), wal.WithMetaStore(meta2))
	if err != nil {
		_ = meta2.Close()
		return 0, fmt.Errorf("consensus: open raft log: %w", err)
	}
	err = w.SetUint64([]byte("CurrentTerm"), meta.Term)
	_ = w.Close()
	_ = meta2.Close()
	if err != nil {
		return 0, fmt.Errorf("consensus: set term: %w", err)
	}
	log.Info("snapshot restored into data directory", "index", meta.Index, "term", meta.Term, "bytes", size, "voter", self.ID)
	return meta.Index, nil
}
