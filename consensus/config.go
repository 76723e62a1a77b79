package consensus

import (
	"errors"
	"fmt"
	"time"

	"github.com/fsenet/fsenet/federation"
)

// Config configures one replica.
type Config struct {
	// ID is the Raft server ID: the region's ISTAT code, e.g. "030".
	ID string
	// DataDir holds the Raft log (wal/), snapshots (snapshots/) and the
	// state database (state/).
	DataDir string

	// HeartbeatTimeout and ElectionTimeout bound how long followers wait
	// for a leader before starting an election. LeaderLeaseTimeout bounds
	// how long a leader stays leader without hearing from a quorum.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long a leader with nothing to send waits before
	// telling followers the new commit index. Each tick is one
	// AppendEntries per follower even on an idle federation; it also bounds
	// how long after the last write of a burst a follower applies it (a
	// strong read there waits up to twice this). Failover does not depend
	// on it.
	CommitTimeout time.Duration
	// MaxAppendEntries bounds the entries sent in one AppendEntries RPC and
	// written in one log-store batch.
	MaxAppendEntries int

	// SnapshotInterval is how often the node checks whether to snapshot;
	// SnapshotThreshold is how many new entries make it do so. TrailingLogs
	// entries are kept after a snapshot so slightly lagging followers catch
	// up from the log rather than by snapshot.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotsRetained is how many snapshots are kept on disk.
	SnapshotsRetained int

	// BatchMaxCommands and BatchMaxBytes bound one group-committed log
	// entry; BatchInflight is how many entries may be in flight at once.
	// While they are, new commands wait and join the next entry.
	BatchMaxCommands int
	BatchMaxBytes    int
	BatchInflight    int

	// ApplyTimeout bounds one write when the caller's context has no
	// deadline.
	ApplyTimeout time.Duration
	// RPCTimeout bounds one forwarded write or read-index request.
	RPCTimeout time.Duration

	// Memory of the state database: MemTables memtables of MemTableSize
	// each, and BlockCacheSize for the block cache; they bound most of a
	// node's memory. Zero keeps badger's defaults.
	MemTableSize   int64
	MemTables      int
	BlockCacheSize int64

	// ScrubInterval is how often the leader has every replica hash its
	// stored state at one log index and compare it with the others' (see
	// scrub.go); a replica also does once after it starts. Zero: this
	// node never asks (it still scans and compares when another does).
	// ScrubBytesPerSec paces a scan: keys and values read per second.
	ScrubInterval    time.Duration
	ScrubBytesPerSec int64
}

// DefaultConfig returns settings for regions connected over a WAN.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		MaxAppendEntries:   256,
		SnapshotInterval:   30 * time.Second,
		SnapshotThreshold:  16384,
		TrailingLogs:       20480,
		SnapshotsRetained:  2,
		BatchMaxCommands:   512,
		BatchMaxBytes:      1 << 20,
		BatchInflight:      2,
		ApplyTimeout:       10 * time.Second,
		RPCTimeout:         10 * time.Second,
		MemTableSize:       32 << 20,
		MemTables:          2,
		BlockCacheSize:     64 << 20,
		ScrubInterval:      time.Hour,
		ScrubBytesPerSec:   32 << 20,
	}
}

// Validate reports the first bad setting, naming the field and the fix.
func (c Config) Validate() error {
	switch {
	case !federation.ValidRegionCode(c.ID):
		return fmt.Errorf("consensus: ID %q: want the region's three-digit ISTAT code, e.g. 030", c.ID)
	case c.DataDir == "":
		return errors.New("consensus: DataDir is empty: set a directory for the Raft log and state")
	case c.HeartbeatTimeout < 5*time.Millisecond:
		return errors.New("consensus: HeartbeatTimeout must be at least 5ms")
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return errors.New("consensus: ElectionTimeout must be at least HeartbeatTimeout")
	case c.LeaderLeaseTimeout <= 0 || c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return errors.New("consensus: LeaderLeaseTimeout must be positive and at most HeartbeatTimeout")
	case c.CommitTimeout <= 0:
		return errors.New("consensus: CommitTimeout must be positive")
	case c.MaxAppendEntries <= 0 || c.MaxAppendEntries > 1024:
		return errors.New("consensus: MaxAppendEntries must be between 1 and 1024")
	case c.SnapshotInterval <= 0 || c.SnapshotThreshold == 0:
		return errors.New("consensus: SnapshotInterval and SnapshotThreshold must be positive")
	case c.SnapshotsRetained < 1:
		return errors.New("consensus: SnapshotsRetained must be at least 1")
	case c.BatchMaxCommands < 1 || c.BatchMaxBytes < 1024 || c.BatchInflight < 1:
		return errors.New("consensus: BatchMaxCommands and BatchInflight must be at least 1, BatchMaxBytes at least 1024")
	case c.BatchMaxBytes > 8<<20:
		return errors.New("consensus: BatchMaxBytes must be at most 8 MiB (one entry must fit one state transaction)")
	case c.MemTableSize != 0 && c.MemTableSize < 16*int64(c.BatchMaxBytes):
		return fmt.Errorf("consensus: MemTableSize %d is too small for BatchMaxBytes %d: one Raft batch must fit one state transaction (about 15%% of a memtable); use at least 16 x BatchMaxBytes", c.MemTableSize, c.BatchMaxBytes)
	case c.ApplyTimeout <= 0 || c.RPCTimeout <= 0:
		return errors.New("consensus: ApplyTimeout and RPCTimeout must be positive")
	case c.ScrubInterval < 0 || c.ScrubBytesPerSec < 1<<20:
		return errors.New("consensus: ScrubInterval must not be negative (0: never) and ScrubBytesPerSec must be at least 1 MiB")
	}
	return nil
}
