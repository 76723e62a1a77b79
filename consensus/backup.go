package consensus

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// WriteSnapshot streams a point-in-time copy of the replicated state to w,
// in the format of Raft snapshots, and returns the log index it reflects.
// Writes go on while it runs; the copy is the state as of one applied
// entry. started, if not nil, learns that index before the first byte is
// written.
func (n *Node) WriteSnapshot(w io.Writer, started func(index uint64)) (uint64, error) {
	h, err := n.fsm.state.acquire()
	if err != nil {
		return 0, err
	}
	txn := h.db.NewTransaction(false)
	// The applied-index record read in the same transaction matches the
	// view exactly, whatever is applied meanwhile.
	meta, err := readAppliedMeta(txn)
	if err != nil {
		txn.Discard()
		h.release()
		return 0, err
	}
	s := &fsmSnapshot{h: h, txn: txn, meta: meta}
	defer s.Release()
	if started != nil {
		started(meta.Index)
	}
	if err := s.write(w); err != nil {
		return meta.Index, fmt.Errorf("consensus: write snapshot: %w", err)
	}
	return meta.Index, nil
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
