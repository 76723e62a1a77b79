package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// kScrubbed holds when the last whole scrub ended (Unix seconds).
var kScrubbed = []byte("n/scrubbed")

// ScrubReport is what one pass over the stored contents found.
type ScrubReport struct {
	Contents int   // contents read whole
	Bytes    int64 // their bytes, uncompressed
	Corrupt  int   // contents that do not hash to their address
}

// Scrub reads every stored content whole, at most bytesPerSec (0: no
// limit), and checks it against its hash: content altered or lost on disk
// is found before anyone asks for it — this node passes its stored chunks
// to other regions without decompressing them, so only its own reads and
// the requesters' checks would otherwise notice. corrupt is called for
// each content that fails, with the documents that refer to it. A whole
// pass records its end (LastScrub).
func (s *Store) Scrub(ctx context.Context, bytesPerSec int64, corrupt func(sha string, docs []string)) (ScrubReport, error) {
	var rep ScrubReport
	pace := &pacer{rate: bytesPerSec}
	var after []byte
	for {
		page, err := s.hashes(after, 256)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			break
		}
		after = cat(pHash, []byte(page[len(page)-1]))
		for _, sha := range page {
			n, m, err := s.check(ctx, sha, pace)
			if errors.Is(err, ErrCorrupt) && s.replaced(sha, m) {
				continue // removed (or stored anew) while it was read
			}
			switch {
			case errors.Is(err, ErrNotFound):
				continue // removed since the page was read
			case errors.Is(err, ErrCorrupt):
				rep.Corrupt++
				docs, rerr := s.referrers(sha)
				if rerr != nil {
					return rep, rerr
				}
				corrupt(sha, docs)
			case err != nil:
				return rep, err
			}
			rep.Contents++
			rep.Bytes += n
		}
	}
	return rep, s.db.Update(func(tx *badger.Txn) error {
		return tx.Set(kScrubbed, binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix())))
	})
}

// check reads one content whole at the pass's pace, and returns the
// manifest it read it by.
func (s *Store) check(ctx context.Context, sha string, pace *pacer) (int64, Manifest, error) {
	rc, m, err := s.Content(sha)
	if err != nil {
		return 0, m, err
	}
	defer rc.Close()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := rc.Read(buf)
		n += int64(k)
		if perr := pace.wait(ctx, int64(k)); perr != nil {
			return n, m, perr
		}
		if err == io.EOF {
			return n, m, nil
		}
		if err != nil {
			return n, m, err
		}
	}
}

// replaced says whether a content read as m is no longer stored as m (a
// rollback or withdrawal removed it, or it was stored again): its chunks
// may have gone while it was read, which is not damage.
func (s *Store) replaced(sha string, m Manifest) bool {
	now, err := s.Manifest(sha)
	return errors.Is(err, ErrNotFound) || (err == nil && now.Blob != m.Blob)
}

// pacer keeps a pass to rate bytes a second (0: no limit). A pass that
// falls behind (a stalled machine) does not make up for it in a burst.
type pacer struct {
	rate   int64
	origin time.Time
	bytes  int64
}

func (p *pacer) wait(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.rate <= 0 {
		return nil
	}
	now := time.Now()
	if p.origin.IsZero() {
		p.origin = now
	}
	p.bytes += n
	due := p.origin.Add(time.Duration(float64(p.bytes) / float64(p.rate) * float64(time.Second)))
	if behind := now.Sub(due); behind > time.Second {
		p.origin, p.bytes = now, 0
		return nil
	}
	select {
	case <-time.After(time.Until(due)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hashes returns up to max content hashes after the key after (nil: from
// the first).
func (s *Store) hashes(after []byte, max int) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pHash})
		defer it.Close()
		it.Seek(pHash)
		if after != nil {
			it.Seek(after)
			if it.Valid() && bytes.Equal(it.Item().Key(), after) {
				it.Next()
			}
		}
		for ; it.Valid() && len(out) < max; it.Next() {
			out = append(out, string(it.Item().Key()[len(pHash):]))
		}
		return nil
	})
	return out, err
}

// referrers returns the documents that refer to a content.
func (s *Store) referrers(sha string) ([]string, error) {
	var docs []string
	prefix := append(cat(pRef, []byte(sha)), 0)
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			docs = append(docs, string(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: referrers of %s: %w", sha, err)
	}
	return docs, nil
}

// LastScrub returns when the last whole scrub ended (zero: never).
func (s *Store) LastScrub() (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get(kScrubbed)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				t = time.Unix(int64(binary.BigEndian.Uint64(v)), 0)
			}
			return nil
		})
	})
	return t, err
}
