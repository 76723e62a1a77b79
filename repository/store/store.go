// Package store is a region's document store: the content of its clinical
// documents, zstd-compressed and addressed by SHA-256, their metadata, and
// the durable outbox of index commands not yet committed by the
// federation, all in one badger database on the node's disk.
//
// A submission (content, document record, outbox record and workflow
// record) becomes durable in one badger transaction; content is streamed
// in chunks before that transaction and never held whole in memory. The
// store never talks to the federation: the gateway's outbox worker reads
// the outbox and reports each command's outcome back.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/zstd"
)

// Errors of the store. Each is wrapped with the detail.
var (
	ErrTooLarge = errors.New("store: document larger than the limit")
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	ErrClosed   = errors.New("store: closed")
	ErrCorrupt  = errors.New("store: stored content does not match its hash")
	// ErrState: the document is not in a state that allows the operation
	// (not indexed yet, withdrawn).
	ErrState = errors.New("store: document state does not allow this")
	// ErrBusy: an earlier operation on the document is still waiting for
	// the federation.
	ErrBusy = errors.New("store: an operation on the document is in progress")
)

// Config configures a Store.
type Config struct {
	// Dir is the badger directory.
	Dir string
	// MaxDocumentBytes bounds one document's content (uncompressed).
	MaxDocumentBytes int64
	// ChunkBytes is the uncompressed size of one stored chunk: the most
	// content held in memory per stream.
	ChunkBytes int
	// GCInterval is how often deleted content is reclaimed from the value
	// log; zero disables the loop (tests).
	GCInterval time.Duration
	Log        *slog.Logger
}

// DefaultConfig returns a usable configuration for dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, MaxDocumentBytes: 64 << 20, ChunkBytes: 1 << 20, GCInterval: 10 * time.Minute}
}

// Validate refuses a configuration the store cannot run with.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("store: dir is required"))
	}
	if c.MaxDocumentBytes <= 0 {
		errs = append(errs, errors.New("store: max document bytes must be positive"))
	}
	if c.ChunkBytes < 4<<10 || c.ChunkBytes > 8<<20 {
		errs = append(errs, fmt.Errorf("store: chunk bytes %d: want 4 KiB to 8 MiB", c.ChunkBytes))
	}
	if c.GCInterval < 0 {
		errs = append(errs, errors.New("store: gc interval must not be negative"))
	}
	return errors.Join(errs...)
}

// Key layout. Parts after a prefix are separated by 0x00 where a part is
// free text.
//
//	b/<blob id 8B>/<chunk 4B>  zstd chunk of a blob
//	u/<blob id 8B>             blob being written (removed at commit; swept at open)
//	h/<sha256 hex>             Blob manifest: the content of that hash
//	r/<sha256 hex>\x00<doc>    the document referring to the content
//	d/<doc id>                 Document
//	o/<seq 8B>                 outbox Op
//	w/<workflow id>            Workflow
//	v/<sha256 hex>             Validation of a CDA
//	n/blob, n/outbox           counters
//	x/ e/ f/ q/ z/ n/pseudonym structured data (facts.go)
var (
	pChunk    = []byte("b/")
	pUpload   = []byte("u/")
	pHash     = []byte("h/")
	pRef      = []byte("r/")
	pDoc      = []byte("d/")
	pOutbox   = []byte("o/")
	pWorkflow = []byte("w/")
	pValid    = []byte("v/")
	kBlobSeq  = []byte("n/blob")
	kOpSeq    = []byte("n/outbox")
)

func cat(prefix []byte, parts ...[]byte) []byte {
	k := append([]byte(nil), prefix...)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func chunkKey(blob uint64, n uint32) []byte {
	return binary.BigEndian.AppendUint32(cat(pChunk, u64(blob)), n)
}

// Store is a region's document store.
type Store struct {
	cfg Config
	db  *badger.DB
	log *slog.Logger
	enc *zstd.Encoder
	dec *zstd.Decoder

	// chunks recycles the chunk-sized read buffers of Stage (a fresh
	// megabyte per document cost more CPU than anything else it does).
	chunks  sync.Pool
	blobSeq *badger.Sequence
	opSeq   *badger.Sequence
	// submits is held shared by every Submit and exclusively while a
	// backup opens its view (see OpenBackup).
	submits sync.RWMutex
	closed  chan struct{}
	wg      sync.WaitGroup
	// pseudoKey keys the patients' pseudonyms in population rows.
	pseudoKey []byte
}

// Open opens (or creates) the store, removes the chunks of uploads a
// crash interrupted, and starts the value-log reclaimer.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	o := badger.DefaultOptions(cfg.Dir).
		WithLogger(nil).
		// An acknowledged document must survive a crash: every commit is
		// fsynced.
		WithSyncWrites(true).
		WithMetricsEnabled(false).
		// Chunks go to the value log, keys and records stay in the LSM.
		WithValueThreshold(16 << 10).
		// Each compactor wakes every 50 ms even when idle; two are the
		// minimum (one for level 0, one for the rest) and plenty here.
		WithNumCompactors(2)
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open document store %s: %w", cfg.Dir, err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		db.Close()
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(cfg.ChunkBytes)+1<<10))
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{cfg: cfg, db: db, log: cfg.Log, enc: enc, dec: dec, closed: make(chan struct{})}
	s.chunks.New = func() any { b := make([]byte, cfg.ChunkBytes); return &b }
	// Sequences lease numbers in ranges: a crash skips the rest of a
	// range, never reuses a number.
	if s.blobSeq, err = db.GetSequence(kBlobSeq, 1000); err == nil {
		s.opSeq, err = db.GetSequence(kOpSeq, 1000)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open document store: %w", err)
	}
	if err := s.loadPseudoKey(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open document store: pseudonym key: %w", err)
	}
	if err := s.sweepUploads(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open document store: sweep interrupted uploads: %w", err)
	}
	if cfg.GCInterval > 0 {
		s.wg.Add(1)
		go s.gcLoop()
	}
	return s, nil
}

// Close stops the reclaimer and closes the database.
func (s *Store) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	s.wg.Wait()
	for _, q := range []*badger.Sequence{s.blobSeq, s.opSeq} {
		if q != nil {
			_ = q.Release()
		}
	}
	s.dec.Close()
	return s.db.Close()
}

func (s *Store) gcLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			for s.db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

func getJSON(tx *badger.Txn, key []byte, v any) (bool, error) {
	it, err := tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, it.Value(func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%w: record %q: %v", ErrCorrupt, key, err)
		}
		return nil
	})
}

func setJSON(tx *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// deleteRange deletes every key under prefix, in as many transactions as
// it takes.
func (s *Store) deleteRange(prefix []byte) error {
	for {
		var keys [][]byte
		err := s.db.View(func(tx *badger.Txn) error {
			it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < 1000; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		wb := s.db.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
	}
}

// sweepUploads removes the chunks of blobs whose upload never committed.
func (s *Store) sweepUploads() error {
	var blobs [][]byte
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pUpload})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			blobs = append(blobs, it.Item().KeyCopy(nil)[len(pUpload):])
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range blobs {
		if err := s.deleteRange(cat(pChunk, b)); err != nil {
			return err
		}
		if err := s.db.Update(func(tx *badger.Txn) error { return tx.Delete(cat(pUpload, b)) }); err != nil {
			return err
		}
	}
	if len(blobs) > 0 {
		s.log.Info("removed interrupted uploads", "count", len(blobs))
	}
	return nil
}
