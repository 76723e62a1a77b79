package consensus

import (
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
)

// walLogStore is raft-wal with one correction: after a head truncation
// (log compaction following a snapshot) raft-wal still serves the truncated
// entries while they remain in its open tail segment. Raft relies on
// GetLog failing below FirstIndex to decide that a lagging follower needs a
// snapshot, so this wrapper enforces it.
type walLogStore struct {
	*wal.WAL
}

// GetLog returns raft.ErrLogNotFound for indexes below the first index.
func (s walLogStore) GetLog(index uint64, l *raft.Log) error {
	first, err := s.WAL.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return s.WAL.GetLog(index, l)
}
