package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Spool is a node's durable queue of audit events not yet in the
// replicated trail. An event is written (and fsynced) here before the data
// it describes is disclosed, and leaves only once the trail holds it, so a
// crash or a lost quorum between disclosure and replication loses nothing
// and reads do not wait for a consensus round.
//
// Events are numbered per node (Event.NodeSeq) when they are spooled; the
// trail refuses nothing it already holds and reports any hole in a node's
// numbering, so an event dropped before replication is visible. A spool
// that has never numbered an event (new, or its directory lost) must be
// given the trail's last number for the node first (SetFloor), read
// linearizably, so that numbers never repeat.
type Spool struct {
	db *badger.DB
	// use is held (read) by every operation on db and (write) by Close: a
	// badger write batch on a closed database waits forever.
	use    sync.RWMutex
	closed bool

	mu          sync.Mutex
	numbered    bool   // a next number is persisted (meta/next)
	head        uint64 // number of the oldest event not yet acknowledged
	next        uint64 // number of the next event
	quarantined int    // events the trail refused, kept aside
}

var (
	spoolEventPrefix = []byte("e/")
	spoolQuarantine  = []byte("q/")
	spoolNextKey     = []byte("meta/next")
)

func spoolKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("e/"), seq) }

// OpenSpool opens (or creates) the spool in dir.
func OpenSpool(dir string, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.Default()
	}
	o := badger.DefaultOptions(dir).
		WithLogger(spoolLogger{log}).
		// Appends are synced explicitly (append); removals are not: a
		// removal lost in a crash only makes the events ship again, and the
		// trail skips numbers it holds.
		WithSyncWrites(false).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithMemTableSize(8 << 20).
		WithValueThreshold(64 << 10).
		WithNumMemtables(2).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithCompression(options.None).
		WithValueLogFileSize(16 << 20).
		WithNumCompactors(2)
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("audit spool %s: %w", dir, err)
	}
	s := &Spool{db: db, next: 1}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit spool %s: %w", dir, err)
	}
	return s, nil
}

// load reads the next number, finds the oldest spooled event, counts the
// quarantined ones, and removes events numbered at or past next: the
// remains of an append that crashed before it completed, which no caller
// was told were durable.
func (s *Spool) load() error {
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(spoolNextKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("next event number of %d bytes", len(v))
			}
			s.next, s.numbered = binary.BigEndian.Uint64(v), true
			return nil
		})
	})
	if err != nil {
		return err
	}
	var stale [][]byte
	s.head = s.next
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix})
		defer it.Close()
		// The oldest event, then whatever lies at or past next: two seeks,
		// not a walk over everything the spool holds.
		if it.Rewind(); it.Valid() {
			s.head = min(s.head, binary.BigEndian.Uint64(it.Item().Key()[len(spoolEventPrefix):]))
		}
		for it.Seek(spoolKey(s.next)); it.Valid(); it.Next() {
			stale = append(stale, it.Item().KeyCopy(nil))
		}
		q := txn.NewIterator(badger.IteratorOptions{Prefix: spoolQuarantine})
		defer q.Close()
		for q.Rewind(); q.Valid(); q.Next() {
			s.quarantined++
		}
		return nil
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range stale {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// ErrSpoolClosed is returned by a closed spool.
var ErrSpoolClosed = errors.New("index: audit spool closed")

// Close closes the spool; what it holds is shipped after the next start.
func (s *Spool) Close() error {
	s.use.Lock()
	defer s.use.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

// acquire holds the database open for one operation.
func (s *Spool) acquire() error {
	s.use.RLock()
	if s.closed {
		s.use.RUnlock()
		return ErrSpoolClosed
	}
	return nil
}

// Numbered reports whether the spool has numbered events before; until it
// has, SetFloor must be called with the trail's last number for the node.
func (s *Spool) Numbered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.numbered
}

// SetFloor makes floor the lowest number the next event may take.
func (s *Spool) SetFloor(floor uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if floor > s.next {
		if s.head == s.next {
			s.head = floor
		}
		s.next = floor
	}
}

// append numbers events and writes them durably. It is called by one
// goroutine at a time (the Auditor's writer). The writes go out in as many
// transactions as they need, then one sync; the numbers count as used once
// written, even if the sync fails (the events may still ship: an event of
// a disclosure that did not happen, never the reverse).
func (s *Spool) append(events []Event) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.use.RUnlock()
	s.mu.Lock()
	first := s.next
	s.mu.Unlock()
	seq := first
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range events {
		events[i].NodeSeq = seq
		b, err := json.Marshal(events[i])
		if err != nil {
			return err
		}
		if err := wb.Set(spoolKey(seq), b); err != nil {
			return err
		}
		seq++
	}
	if err := wb.Set(spoolNextKey, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	s.mu.Lock()
	s.next, s.numbered = seq, true
	s.mu.Unlock()
	return s.db.Sync()
}

// pending returns spooled events, oldest first: at most max of them, and
// no more than maxBytes of encoded events (at least one). It seeks past the
// acknowledged ones rather than stepping over their deletions.
func (s *Spool) pending(max, maxBytes int) ([]Event, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.use.RUnlock()
	s.mu.Lock()
	head, next := s.head, s.next
	s.mu.Unlock()
	if head >= next {
		return nil, nil
	}
	var out []Event
	size := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Seek(spoolKey(head)); it.Valid() && len(out) < max; it.Next() {
			item := it.Item()
			if binary.BigEndian.Uint64(item.Key()[len(spoolEventPrefix):]) >= next {
				break
			}
			if size += int(item.ValueSize()) + 1; size > maxBytes && len(out) > 0 {
				break
			}
			var e Event
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("spooled event %x: %w", item.Key(), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ack removes the events numbered up to through: the trail holds them.
func (s *Spool) ack(through uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.use.RUnlock()
	s.mu.Lock()
	head := s.head
	s.mu.Unlock()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for seq := head; seq <= through; seq++ {
		if err := wb.Delete(spoolKey(seq)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	s.mu.Lock()
	s.head = max(s.head, through+1)
	s.mu.Unlock()
	return nil
}

// quarantine moves the oldest spooled event, numbered seq, aside: the
// trail refused it for good. It stays on disk for the operator; the trail
// shows its number as missing.
func (s *Spool) quarantine(seq uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.use.RUnlock()
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(spoolKey(seq))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := txn.Set(binary.BigEndian.AppendUint64(bytes.Clone(spoolQuarantine), seq), v); err != nil {
			return err
		}
		return txn.Delete(spoolKey(seq))
	})
	if err != nil {
		return err
	}
	if err := s.db.Sync(); err != nil {
		return err
	}
	s.mu.Lock()
	s.head = max(s.head, seq+1)
	s.quarantined++
	s.mu.Unlock()
	return nil
}

// Len returns how many events wait to be replicated.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.next - s.head)
}

// Quarantined returns how many events the trail refused for good; they
// are kept in the spool directory, outside the queue.
func (s *Spool) Quarantined() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quarantined
}

type spoolLogger struct{ l *slog.Logger }

func (s spoolLogger) Errorf(f string, a ...any)   { s.l.Error(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Warningf(f string, a ...any) { s.l.Warn(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Infof(string, ...any)        {}
func (s spoolLogger) Debugf(string, ...any)       {}
