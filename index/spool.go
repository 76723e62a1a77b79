package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

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
		WithSyncWrites(true).
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
	s.next = seq
	return nil
}

// pending returns up to max spooled events, oldest first.
func (s *Spool) pending(max int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < max; it.Next() {
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
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if binary.BigEndian.Uint64(k[len(spoolEventPrefix):]) > through {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// Len returns how many events wait to be replicated.
func (s *Spool) Len() (int, error) {
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spoolEventPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

type spoolLogger struct{ l *slog.Logger }

func (s spoolLogger) Errorf(f string, a ...any)   { s.l.Error(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Warningf(f string, a ...any) { s.l.Warn(fmt.Sprintf(f, a...)) }
func (s spoolLogger) Infof(string, ...any)        {}
func (s spoolLogger) Debugf(string, ...any)       {}
