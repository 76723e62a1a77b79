package index

import (
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
// numbering, so an event dropped before replication is visible.
type Spool struct {
	db   *badger.DB
	mu   sync.Mutex
	head uint64 // number of the oldest event not yet acknowledged
	next uint64 // number of the next event
}

var (
	spoolEventPrefix = []byte("e/")
	spoolNextKey     = []byte("meta/next")
)

func spoolKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte("e/"), seq) }

// OpenSpool opens (or creates) the spool in dir. floor is the lowest number
// the next event may take: the node passes one past the last number its
// replica of the trail holds for it, so a lost spool directory never makes
// numbers repeat.
func OpenSpool(dir string, floor uint64, log *slog.Logger) (*Spool, error) {
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
	s := &Spool{db: db, next: max(floor, 1)}
	err = db.View(func(txn *badger.Txn) error {
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
			s.next = max(s.next, binary.BigEndian.Uint64(v))
			return nil
		})
	})
	if err == nil {
		s.head = s.next
		err = db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix})
			defer it.Close()
			if it.Rewind(); it.Valid() {
				s.head = binary.BigEndian.Uint64(it.Item().Key()[len(spoolEventPrefix):])
			}
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("audit spool %s: %w", dir, err)
	}
	return s, nil
}

// Close closes the spool; what it holds is shipped after the next start.
func (s *Spool) Close() error { return s.db.Close() }

// append numbers events and writes them durably, in one transaction. It is
// called by one goroutine at a time (the Auditor's writer).
func (s *Spool) append(events []Event) error {
	seq := s.next
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := range events {
			events[i].NodeSeq = seq
			b, err := json.Marshal(events[i])
			if err != nil {
				return err
			}
			if err := txn.Set(spoolKey(seq), b); err != nil {
				return err
			}
			seq++
		}
		return txn.Set(spoolNextKey, binary.BigEndian.AppendUint64(nil, seq))
	})
	if err != nil {
		return err
	}
	if err := s.db.Sync(); err != nil {
		return err
	}
	s.mu.Lock()
	s.next = seq
	s.mu.Unlock()
	return nil
}

// pending returns up to max spooled events, oldest first. It seeks past
// the acknowledged ones rather than stepping over their deletions.
func (s *Spool) pending(max int) ([]Event, error) {
	s.mu.Lock()
	head, next := s.head, s.next
	s.mu.Unlock()
	if head >= next {
		return nil, nil
	}
	var out []Event
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Seek(spoolKey(head)); it.Valid() && len(out) < max; it.Next() {
			var e Event
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("spooled event %x: %w", it.Item().Key(), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ack removes the events numbered up to through: the trail holds them.
func (s *Spool) ack(through uint64) error {
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

// Len returns how many events wait to be replicated.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.next - s.head)
}

type spoolLogger struct{ l *slog.Logger }

func (s spoolLogger) Errorf(f string, a ...any)   { s.l.Error(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Warningf(f string, a ...any) { s.l.Warn(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Infof(string, ...any)        {}
func (s spoolLogger) Debugf(string, ...any)       {}
