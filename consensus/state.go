package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// stateDir manages the FSM's badger database on disk. The live database is
// the directory named in the file CURRENT; a snapshot restore builds a new
// directory beside it and switches CURRENT with an atomic rename, so a crash
// at any point leaves either the old state or the new one, never a mix.
// Directories not named by CURRENT are leftovers of an interrupted restore and
// are removed on open.
type stateDir struct {
	dir  string
	opts badgerOptions
	log  *slog.Logger

	mu     sync.RWMutex
	cur    *dbHandle
	seq    int
	closed bool
}

// badgerOptions are the knobs of the state database that matter to operators.
type badgerOptions struct {
	MemTableSize   int64
	MemTables      int
	BlockCacheSize int64
	IndexCacheSize int64
}

// dbHandle is a reference-counted open database. The state directory owns
// one reference; readers and snapshots take their own, so a restore can
// replace the database while they finish on the old one.
type dbHandle struct {
	db        *badger.DB
	path      string
	refs      atomic.Int64
	remove    atomic.Bool // delete the directory once closed
	closeOnce sync.Once
	log       *slog.Logger
	// legacy: the database predates sealed values (see seal) and must be
	// upgraded before it is used.
	legacy bool
}

func (h *dbHandle) release() {
	if h.refs.Add(-1) == 0 {
		h.closeOnce.Do(func() {
			if err := h.db.Close(); err != nil {
				h.log.Error("closing state database", "path", h.path, "error", err)
			}
			if h.remove.Load() {
				if err := os.RemoveAll(h.path); err != nil {
					h.log.Error("removing replaced state database", "path", h.path, "error", err)
				}
			}
		})
	}
}

const currentFile = "CURRENT"

func stateName(seq int) string { return fmt.Sprintf("state-%06d", seq) }

func openStateDir(dir string, opts badgerOptions, log *slog.Logger) (*stateDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	s := &stateDir{dir: dir, opts: opts, log: log}
	name, err := os.ReadFile(filepath.Join(dir, currentFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.seq = 1
		if err := s.writeCurrent(stateName(1)); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state directory: %w", err)
	default:
		n := strings.TrimSpace(string(name))
		seq, err := strconv.Atoi(strings.TrimPrefix(n, "state-"))
		if !strings.HasPrefix(n, "state-") || err != nil {
			return nil, fmt.Errorf("state directory: %s names %q, not a state database", filepath.Join(dir, currentFile), n)
		}
		s.seq = seq
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "state-") && e.Name() != stateName(s.seq) {
			log.Warn("removing state left by an interrupted restore", "path", filepath.Join(dir, e.Name()))
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("state directory: %w", err)
			}
		}
	}
	h, err := s.open(stateName(s.seq))
	if err != nil {
		return nil, err
	}
	s.cur = h
	if h.legacy {
		if err := s.upgrade(); err != nil {
			h.release()
			return nil, err
		}
	}
	return s, nil
}

func (s *stateDir) open(name string) (*dbHandle, error) {
	path := filepath.Join(s.dir, name)
	o := badger.DefaultOptions(path).
		WithLogger(badgerLogger{s.log}).
		// The Raft log is the durable record; the FSM state is synced
		// before every snapshot (see FSM.Snapshot), and anything lost in a
		// crash after that is re-applied from the log.
		WithSyncWrites(false).
		WithMetricsEnabled(false).
		// One writer (the FSM goroutine) applies everything in log order:
		// transaction conflict tracking would only cost time.
		WithDetectConflicts(false).
		// Each compactor wakes every 50 ms even when idle; two (the
		// minimum: one for level 0, one for the rest) keep up with the FSM.
		WithNumCompactors(2)
	if s.opts.MemTableSize > 0 {
		o = o.WithMemTableSize(s.opts.MemTableSize)
		// Badger refuses a value threshold above its largest batch (15% of
		// a memtable); keep large values in the value log on small tables.
		if vt := s.opts.MemTableSize / 16; vt < o.ValueThreshold {
			o = o.WithValueThreshold(vt)
		}
	}
	if s.opts.MemTables > 0 {
		o = o.WithNumMemtables(s.opts.MemTables)
	}
	if s.opts.BlockCacheSize > 0 {
		o = o.WithBlockCacheSize(s.opts.BlockCacheSize)
	}
	if s.opts.IndexCacheSize > 0 {
		o = o.WithIndexCacheSize(s.opts.IndexCacheSize)
	}
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	legacy, err := checkFormat(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	h := &dbHandle{db: db, path: path, log: s.log, legacy: legacy}
	h.refs.Store(1)
	return h, nil
}

// Every value in the state database is sealed: stored followed by a
// CRC-32C of its key and value. Badger checks its own files only in part
// (by default it verifies neither table blocks nor value-log entries when
// it reads them), so a byte altered on disk would otherwise be read back as
// if it had been written. A value whose seal does not match is never
// handed to a reader: the read fails with ErrDamaged and the replica
// repairs itself (see scrub.go). Snapshots carry values unsealed, so the
// stream is the same whatever the nodes' storage.
//
// keyFormat records that the database's values are sealed; a database
// without it was written before seals and is upgraded when opened.
var keyFormat = []byte("\x00meta/format")

const (
	stateFormat = "sealed-crc32c"
	sealLen     = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum is the seal of value stored under key.
func checksum(key, value []byte) uint32 {
	var n [binary.MaxVarintLen64]byte
	c := crc32.Update(0, castagnoli, n[:binary.PutUvarint(n[:], uint64(len(key)))])
	c = crc32.Update(c, castagnoli, key)
	return crc32.Update(c, castagnoli, value)
}

// seal returns value as stored under key: the value, then its checksum.
func seal(key, value []byte) []byte {
	out := make([]byte, len(value)+sealLen)
	copy(out, value)
	binary.BigEndian.PutUint32(out[len(value):], checksum(key, value))
	return out
}

// unseal returns the value stored under key without its seal (a slice of
// stored), or a *DamageError when the bytes read back are not those that
// were written.
func unseal(key, stored []byte) ([]byte, error) {
	if len(stored) < sealLen {
		return nil, &DamageError{Range: rangeOf(key), What: "a stored value shorter than its seal"}
	}
	v := stored[:len(stored)-sealLen]
	if binary.BigEndian.Uint32(stored[len(v):]) != checksum(key, v) {
		return nil, &DamageError{Range: rangeOf(key), What: "a stored value that does not match its seal"}
	}
	return v, nil
}

// checkFormat reports whether db holds values written before seals (it
// must then be upgraded); a new, empty database is marked sealed.
func checkFormat(db *badger.DB) (legacy bool, err error) {
	var format []byte
	empty := true
	err = db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyFormat)
		if err == nil {
			format, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	switch {
	case err != nil:
		return false, err
	case format != nil && string(format) != stateFormat:
		return false, fmt.Errorf("the state is stored in format %q, which this node does not know: is it older than the node that wrote it?", format)
	case format != nil:
		return false, nil
	case empty:
		return false, db.Update(func(txn *badger.Txn) error { return txn.Set(keyFormat, []byte(stateFormat)) })
	}
	return true, nil
}

// upgrade seals the values of a database written before seals. It copies
// them into a new database and switches CURRENT to it, as a restore does,
// so a crash midway leaves the old database and the upgrade starts again.
func (s *stateDir) upgrade() error {
	old := s.cur
	s.log.Info("sealing the state's values with checksums (once, after an upgrade)", "path", old.path)
	h, name, err := s.prepare()
	if err != nil {
		return fmt.Errorf("upgrade state: %w", err)
	}
	wb := h.db.NewWriteBatch()
	n := 0
	err = old.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.KeyCopy(nil)
			if bytes.Equal(k, keyFormat) {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := wb.Set(k, seal(k, v)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	} else {
		wb.Cancel()
	}
	if err == nil {
		err = s.commit(h, name)
	}
	if err != nil {
		s.abort(h)
		return fmt.Errorf("upgrade state: %w", err)
	}
	s.log.Info("state values sealed", "keys", n)
	return nil
}

// acquire returns the live database with a reference the caller releases,
// or ErrShutdown once the state is closed.
func (s *stateDir) acquire() (*dbHandle, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrShutdown
	}
	h := s.cur
	h.refs.Add(1)
	return h, nil
}

// prepare opens an empty database for a restore, in a directory that CURRENT
// does not name yet.
func (s *stateDir) prepare() (*dbHandle, string, error) {
	s.mu.Lock()
	s.seq++
	name := stateName(s.seq)
	s.mu.Unlock()
	path := filepath.Join(s.dir, name)
	if err := os.RemoveAll(path); err != nil {
		return nil, "", err
	}
	h, err := s.open(name)
	if err != nil {
		return nil, "", err
	}
	return h, name, nil
}

// commit makes the prepared database the live one: CURRENT is switched
// atomically, then the old database is closed (once its readers are done)
// and deleted.
func (s *stateDir) commit(h *dbHandle, name string) error {
	if err := h.db.Sync(); err != nil {
		return fmt.Errorf("sync restored state: %w", err)
	}
	if err := s.writeCurrent(name); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.cur
	s.cur = h
	s.mu.Unlock()
	old.remove.Store(true)
	old.release()
	return nil
}

// abort discards a prepared database.
func (s *stateDir) abort(h *dbHandle) {
	h.remove.Store(true)
	h.release()
}

func (s *stateDir) writeCurrent(name string) error {
	tmp := filepath.Join(s.dir, currentFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if _, err := f.WriteString(name + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("state directory: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("state directory: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, currentFile)); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// close releases the state directory's own reference.
func (s *stateDir) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	h := s.cur
	s.mu.Unlock()
	h.release()
}

// badgerLogger sends badger's messages to slog. Badger's Info and Debug are
// chatty (compactions, flushes) and go to Debug.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}
func (l badgerLogger) Infof(f string, a ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}
func (l badgerLogger) Debugf(f string, a ...any) {
	l.log.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "subsystem", "badger")
}
