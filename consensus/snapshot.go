package consensus

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/zstd"
)

// Snapshot stream format, inside one zstd frame sequence:
//
//	magic "FSENSNP1"
//	header: uvarint index, uvarint term, 32-byte digest
//	records: uvarint key length (> 0), key, uvarint value length, value
//	end: uvarint 0, uvarint record count
//
// The end marker and count make a truncated stream detectable even when it
// ends on a record boundary; zstd's checksum catches corrupted bytes.
// Values travel without their seals (see seal); the writer checks each seal
// as it reads the value, so a replica never ships a value it cannot vouch
// for, and the reader seals each value again as it stores it.
var snapshotMagic = []byte("FSENSNP1")

// ErrBadSnapshot is returned by Restore for a stream that is not a complete
// fsenet snapshot. The live state is left untouched.
var ErrBadSnapshot = errors.New("consensus: bad snapshot")

// Snapshot captures a read-only badger transaction: a read timestamp that
// pins the point-in-time view. It first syncs the state to disk, so the
// state on disk always includes every entry a snapshot covers (Raft may
// compact those entries from its log once the snapshot is stored).
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	h, err := f.state.acquire()
	if err != nil {
		return nil, err
	}
	if err := h.db.Sync(); err != nil {
		h.release()
		return nil, fmt.Errorf("sync state before snapshot: %w", err)
	}
	txn := h.db.NewTransaction(false)
	f.mu.Lock()
	meta := f.meta
	f.mu.Unlock()
	return &fsmSnapshot{h: h, txn: txn, meta: meta, f: f}, nil
}

type fsmSnapshot struct {
	h    *dbHandle
	txn  *badger.Txn
	meta appliedMeta
	f    *FSM // told of damage met while streaming; may be nil
}

// Persist streams the captured view, zstd-compressed, into sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot at index %d: %w", s.meta.Index, err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 256<<10)
	var hdr []byte
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.AppendUvarint(hdr, s.meta.Index)
	hdr = binary.AppendUvarint(hdr, s.meta.Term)
	hdr = append(hdr, s.meta.Digest[:]...)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	it := s.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	var count uint64
	var scratch []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if bytes.Equal(item.Key(), keyFormat) {
			continue // a property of this node's storage, not of the state
		}
		scratch = binary.AppendUvarint(scratch[:0], uint64(len(item.Key())))
		scratch = append(scratch, item.Key()...)
		err := item.Value(func(stored []byte) error {
			v, err := unseal(item.Key(), stored)
			if err != nil {
				if s.f != nil {
					s.f.noticeDamage(err)
				}
				return err
			}
			scratch = binary.AppendUvarint(scratch, uint64(len(v)))
			scratch = append(scratch, v...)
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := bw.Write(scratch); err != nil {
			return err
		}
		count++
	}
	scratch = binary.AppendUvarint(scratch[:0], 0)
	scratch = binary.AppendUvarint(scratch, count)
	if _, err := bw.Write(scratch); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// Release ends the read transaction and drops the database reference.
// Streaming a large state leaves much freed heap behind; it goes back to
// the operating system now rather than over minutes, so that a node's
// resident memory stays near its working set.
func (s *fsmSnapshot) Release() {
	s.txn.Discard()
	s.h.release()
	debug.FreeOSMemory()
}

// Restore replaces the whole state with the snapshot in rc. The new state is
// built in a fresh database and switched in atomically only once complete and
// synced; on any error the old state stays live.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	return f.restoreLocked(rc, "snapshot")
}

// restoreLocked replaces the state with the snapshot in r; applyMu is
// held. from says where the snapshot came from, for the log.
func (f *FSM) restoreLocked(r io.Reader, from string) error {
	h, name, err := f.state.prepare()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	meta, err := loadSnapshot(r, h.db)
	if err != nil {
		f.state.abort(h)
		return fmt.Errorf("restore: %w", err)
	}
	if err := f.state.commit(h, name); err != nil {
		f.state.abort(h)
		return fmt.Errorf("restore: %w", err)
	}
	f.setMeta(meta, nil)
	f.restores.Add(1)
	// The whole state was replaced: whatever damage the old one had is
	// gone with it (the next scrub verifies the new one).
	f.integ.restored(meta.Index)
	debug.FreeOSMemory() // see fsmSnapshot.Release
	f.log.Info("restored state from snapshot", "index", meta.Index, "term", meta.Term, "from", from)
	if err := f.reloadHandlers(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// loadSnapshot reads a snapshot stream into db; with a nil db it only
// checks the stream end to end.
func loadSnapshot(r io.Reader, db *badger.DB) (appliedMeta, error) {
	var meta appliedMeta
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return meta, err
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 256<<10)

	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return meta, fmt.Errorf("%w: not an fsenet snapshot", ErrBadSnapshot)
	}
	if meta.Index, err = binary.ReadUvarint(br); err != nil {
		return meta, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if meta.Term, err = binary.ReadUvarint(br); err != nil {
		return meta, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if _, err := io.ReadFull(br, meta.Digest[:]); err != nil {
		return meta, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}

	var wb *badger.WriteBatch // nil: only check the stream
	if db != nil {
		wb = db.NewWriteBatch()
		defer wb.Cancel()
	}
	var count uint64
	var sawMeta bool
	for {
		klen, err := binary.ReadUvarint(br)
		if err != nil {
			return meta, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err)
		}
		if klen == 0 {
			break
		}
		if klen > 1<<20 {
			return meta, fmt.Errorf("%w: record %d: key of %d bytes", ErrBadSnapshot, count, klen)
		}
		key := make([]byte, klen)
		if _, err := io.ReadFull(br, key); err != nil {
			return meta, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err)
		}
		vlen, err := binary.ReadUvarint(br)
		if err != nil {
			return meta, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err)
		}
		if vlen > 1<<30 {
			return meta, fmt.Errorf("%w: record %d: value of %d bytes", ErrBadSnapshot, count, vlen)
		}
		val := make([]byte, vlen)
		if _, err := io.ReadFull(br, val); err != nil {
			return meta, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err)
		}
		if bytes.Equal(key, keyApplied) {
			m, err := decodeAppliedMeta(val)
			if err != nil || m != meta {
				return meta, fmt.Errorf("%w: applied index record disagrees with the header", ErrBadSnapshot)
			}
			sawMeta = true
		}
		// Each database records its own format; the stream's values are
		// unsealed whatever the writer's storage.
		if wb != nil && !bytes.Equal(key, keyFormat) {
			if err := wb.Set(key, seal(key, val)); err != nil {
				return meta, err
			}
		}
		count++
	}
	want, err := binary.ReadUvarint(br)
	if err != nil {
		return meta, fmt.Errorf("%w: trailer: %v", ErrBadSnapshot, err)
	}
	if want != count {
		return meta, fmt.Errorf("%w: %d records, trailer says %d", ErrBadSnapshot, count, want)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return meta, fmt.Errorf("%w: data after the trailer", ErrBadSnapshot)
	}
	if !sawMeta && meta.Index != 0 {
		return meta, fmt.Errorf("%w: no applied index record", ErrBadSnapshot)
	}
	if wb != nil {
		if err := wb.Flush(); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// snapshotIndex reads the applied index from a snapshot stream's header.
func snapshotIndex(r io.Reader) (uint64, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	br := bufio.NewReader(zr)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return 0, fmt.Errorf("%w: not an fsenet snapshot", ErrBadSnapshot)
	}
	return binary.ReadUvarint(br)
}
