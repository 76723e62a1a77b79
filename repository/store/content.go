package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Blob is content streamed into the store and not yet committed: its
// chunks are on disk, nothing refers to them. Commit it with Submit, or
// Discard it.
type Blob struct {
	s       *Store
	id      uint64
	SHA256  string // hex
	Size    int64  // bytes of the original content
	Stored  int64  // bytes of the compressed chunks
	chunks  uint32 // chunks on disk
	pending []byte // the last chunk, compressed, written at the commit
	done    bool
}

// Manifest is the stored description of one content hash.
type Manifest struct {
	Blob    uint64    `json:"blob"`
	Size    int64     `json:"size"`
	Stored  int64     `json:"stored"`
	Chunks  uint32    `json:"chunks"`
	Created time.Time `json:"created"`
}

// Stage streams r into the store, compressing it chunk by chunk, and
// returns the uncommitted blob with its SHA-256. Content over the size
// limit is refused with ErrTooLarge and leaves nothing behind. The caller
// must Submit or Discard the blob.
//
// The last chunk is held (compressed) until the commit and written in its
// transaction, so a document of one chunk costs no write before it.
func (s *Store) Stage(ctx context.Context, r io.Reader) (*Blob, error) {
	id, err := s.blobSeq.Next()
	if err != nil {
		return nil, err
	}
	b := &Blob{s: s, id: id}
	if err := b.write(ctx, r); err != nil {
		b.Discard()
		return nil, err
	}
	return b, nil
}

func (b *Blob) write(ctx context.Context, r io.Reader) error {
	s := b.s
	h := sha256.New()
	bp := s.chunks.Get().(*[]byte)
	defer s.chunks.Put(bp)
	buf := *bp
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			b.Size += int64(n)
			if b.Size > s.cfg.MaxDocumentBytes {
				return fmt.Errorf("%w: over %d bytes", ErrTooLarge, s.cfg.MaxDocumentBytes)
			}
			h.Write(buf[:n])
			if err := b.flushPending(); err != nil {
				return err
			}
			b.pending = s.enc.EncodeAll(buf[:n], nil)
			b.Stored += int64(len(b.pending))
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			b.SHA256 = hex.EncodeToString(h.Sum(nil))
			return nil
		default:
			return rerr
		}
	}
}

// flushPending writes the held chunk; before the first one it writes the
// upload marker, which makes a crash before the commit sweepable at the
// next open.
func (b *Blob) flushPending() error {
	if b.pending == nil {
		return nil
	}
	err := b.s.db.Update(func(tx *badger.Txn) error {
		if b.chunks == 0 {
			if err := tx.Set(cat(pUpload, u64(b.id)), u64(uint64(time.Now().Unix()))); err != nil {
				return err
			}
		}
		return tx.Set(chunkKey(b.id, b.chunks), b.pending)
	})
	if err != nil {
		return fmt.Errorf("store chunk: %w", err)
	}
	b.chunks++
	b.pending = nil
	return nil
}

// Discard removes an uncommitted blob's chunks. Safe to call twice and
// after a commit (it then does nothing).
func (b *Blob) Discard() {
	if b == nil || b.done {
		return
	}
	b.done = true
	if err := b.s.dropBlob(b.id); err != nil {
		b.s.log.Warn("discard staged content", "err", err)
	}
}

func (s *Store) dropBlob(id uint64) error {
	if err := s.deleteRange(cat(pChunk, u64(id))); err != nil {
		return err
	}
	return s.db.Update(func(tx *badger.Txn) error { return tx.Delete(cat(pUpload, u64(id))) })
}

// commitBlob writes, in tx, the manifest of the blob's hash (unless the
// same content is already stored, in which case the blob is dropped after
// the commit) and the document's reference to it.
func (b *Blob) commitBlob(tx *badger.Txn, doc string) (dup bool, err error) {
	var m Manifest
	ok, err := getJSON(tx, cat(pHash, []byte(b.SHA256)), &m)
	if err != nil {
		return false, err
	}
	if !ok {
		chunks := b.chunks
		if b.pending != nil {
			if err := tx.Set(chunkKey(b.id, chunks), b.pending); err != nil {
				return false, err
			}
			chunks++
		}
		m = Manifest{Blob: b.id, Size: b.Size, Stored: b.Stored, Chunks: chunks, Created: time.Now().UTC()}
		if err := setJSON(tx, cat(pHash, []byte(b.SHA256)), m); err != nil {
			return false, err
		}
		if err := tx.Delete(cat(pUpload, u64(b.id))); err != nil {
			return false, err
		}
	}
	return ok, tx.Set(cat(pRef, []byte(b.SHA256), []byte(doc)), nil)
}

// Manifest returns the stored description of a content hash.
func (s *Store) Manifest(sha string) (Manifest, error) {
	var m Manifest
	err := s.db.View(func(tx *badger.Txn) error {
		ok, err := getJSON(tx, cat(pHash, []byte(sha)), &m)
		if err == nil && !ok {
			err = fmt.Errorf("%w: content %s", ErrNotFound, sha)
		}
		return err
	})
	return m, err
}

// Content streams the content of a hash, decompressing one chunk at a
// time. The reader's last Read fails with ErrCorrupt if the bytes read do
// not hash to sha (the disk was altered), so a caller that copies it
// whole never passes on altered content as good.
func (s *Store) Content(sha string) (io.ReadCloser, Manifest, error) {
	m, err := s.Manifest(sha)
	if err != nil {
		return nil, m, err
	}
	return &contentReader{s: s, m: m, want: sha, h: sha256.New()}, m, nil
}

type contentReader struct {
	s    *Store
	m    Manifest
	want string
	h    hash.Hash
	next uint32
	buf  []byte
	pos  int
	n    int64
	err  error
}

func (r *contentReader) Read(p []byte) (int, error) {
	for r.pos >= len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		if r.next >= r.m.Chunks {
			r.err = io.EOF
			if got := hex.EncodeToString(r.h.Sum(nil)); got != r.want || r.n != r.m.Size {
				r.err = fmt.Errorf("%w: content %s", ErrCorrupt, r.want)
			}
			return 0, r.err
		}
		if err := r.load(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

func (r *contentReader) load() error {
	comp, err := r.s.chunk(r.m.Blob, r.next, r.want, nil)
	if err != nil {
		return err
	}
	r.buf, err = r.s.dec.DecodeAll(comp, r.buf[:0])
	if err != nil {
		return fmt.Errorf("%w: chunk %d of content %s: %v", ErrCorrupt, r.next, r.want, err)
	}
	r.h.Write(r.buf)
	r.n += int64(len(r.buf))
	r.pos = 0
	r.next++
	return nil
}

func (r *contentReader) Close() error { return nil }

// chunk reads stored chunk n of a blob (compressed) into dst's storage; a
// missing chunk is ErrCorrupt.
func (s *Store) chunk(blob uint64, n uint32, sha string, dst []byte) ([]byte, error) {
	err := s.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get(chunkKey(blob, n))
		if err != nil {
			return err
		}
		dst, err = it.ValueCopy(dst[:0])
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: chunk %d of content %s is missing", ErrCorrupt, n, sha)
	}
	return dst, err
}

// Frames streams the stored chunks of a hash as they are on disk: a
// sequence of zstd frames that decompress to the content, one chunk in
// memory at a time. Nothing is decompressed or checked here: it is for a
// reader that checks the content itself (a region fetching a document
// checks every byte against its own index). A missing chunk fails the
// read with ErrCorrupt.
func (s *Store) Frames(sha string) (io.ReadCloser, Manifest, error) {
	m, err := s.Manifest(sha)
	if err != nil {
		return nil, m, err
	}
	return &framesReader{s: s, m: m, sha: sha}, m, nil
}

type framesReader struct {
	s    *Store
	m    Manifest
	sha  string
	next uint32
	buf  []byte
	pos  int
	err  error
}

func (r *framesReader) Read(p []byte) (int, error) {
	for r.pos >= len(r.buf) {
		if r.err != nil {
			return 0, r.err
		}
		if r.next >= r.m.Chunks {
			r.err = io.EOF
			return 0, r.err
		}
		var err error
		if r.buf, err = r.s.chunk(r.m.Blob, r.next, r.sha, r.buf); err != nil {
			r.err = err
			return 0, err
		}
		r.pos = 0
		r.next++
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// WriteTo hands each chunk to w whole, without a copy through the
// caller's buffer.
func (r *framesReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.pos < len(r.buf) {
			n, err := w.Write(r.buf[r.pos:])
			total += int64(n)
			r.pos += n
			if err == nil && r.pos < len(r.buf) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		}
		// Read loads the next chunk (it copies nothing into an empty p).
		if _, err := r.Read(nil); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

func (r *framesReader) Close() error { return nil }

// ReadAll returns a whole content, for small documents (CDA extraction,
// tests); large ones should be streamed with Content.
func (s *Store) ReadAll(sha string) ([]byte, error) {
	rc, m, err := s.Content(sha)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(m.Size, 64<<20)))
	_, err = io.Copy(&buf, rc)
	return buf.Bytes(), err
}
