package monitor

// A plan follows its patient: when the patient's home region changes,
// the old home node exports the plan and every reading to the new one,
// which imports them (a reading it has already is kept once); both
// compute a digest of the patient's readings, and only when they agree
// does the old node forget them, keeping a pointer to the new home.
//
//	mv/<patient> -> the region the patient's monitoring moved to

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ActivePlans lists the active plans kept here.
func (s *Store) ActivePlans() ([]Plan, error) {
	var out []Plan
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("p/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var p Plan
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
				return err
			}
			if p.Active {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// Export reads up to limit of a patient's readings (every parameter) from
// after (a key from an earlier page; nil: the start), and the key the
// next page starts after (nil: none).
func (s *Store) Export(patient string, after []byte, limit int) (out []Reading, next []byte, err error) {
	prefix := []byte("r/" + patient + "\x00")
	err = s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		it.Seek(prefix)
		if after != nil {
			it.Seek(after)
			if it.Valid() && bytes.Equal(it.Item().Key(), after) {
				it.Next()
			}
		}
		for ; it.Valid() && len(out) < limit; it.Next() {
			k := it.Item().KeyCopy(nil)
			r, err := readingOf(k[len(prefix):], patient)
			if err != nil {
				return err
			}
			if err := it.Item().Value(func(v []byte) error {
				r.Value = math.Float64frombits(binary.BigEndian.Uint64(v))
				return nil
			}); err != nil {
				return err
			}
			out = append(out, r)
			next = k
		}
		if !it.Valid() {
			next = nil
		}
		return nil
	})
	return out, next, err
}

// readingOf reads a reading's key after its "r/<patient>\x00": code,
// time, device.
func readingOf(k []byte, patient string) (Reading, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8+1 {
		return Reading{}, errors.New("a malformed reading key")
	}
	t := time.Unix(0, int64(binary.BigEndian.Uint64(k[i+1:]))).UTC()
	return Reading{Patient: patient, Code: string(k[:i]), Time: t, Device: string(k[i+10:])}, nil
}

// Digest is the count and SHA-256 of a patient's readings (code, time,
// device, value, in key order): equal on both sides of a move.
func (s *Store) Digest(patient string) (int, string, error) {
	h := sha256.New()
	n := 0
	prefix := []byte("r/" + patient + "\x00")
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			h.Write(it.Item().Key()[len(prefix):])
			if err := it.Item().Value(func(v []byte) error { h.Write(v); return nil }); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// Import takes a plan moving here with a batch of its readings: the plan
// becomes its patient's (once), and the readings are stored as ingestion
// stores them — resends dropped, aggregates kept — without raising
// alerts again (the old home raised them).
func (s *Store) Import(p Plan, batch []Reading) (stored int, err error) {
	if err := validPlan(p); err != nil {
		return 0, err
	}
	if len(batch) > MaxBatch {
		return 0, fmt.Errorf("%w: a batch holds at most %d readings", ErrInvalid, MaxBatch)
	}
	err = s.retry(func(tx *badger.Txn) error {
		stored = 0
		if cur, err := getPlan(tx, p.ID); errors.Is(err, ErrNotFound) {
			p.Active = true
			if err := setJSON(tx, planKey(p.ID), p); err != nil {
				return err
			}
			if err := tx.Set(patientPlanKey(p.Patient), []byte(p.ID)); err != nil {
				return err
			}
		} else if err != nil {
			return err
		} else if merged, changed := mergeKit(cur.Kit, p.Kit); changed {
			// A device registered at the old home since the first page.
			cur.Kit = merged
			if err := setJSON(tx, planKey(p.ID), cur); err != nil {
				return err
			}
		}
		in := newBatchState(tx)
		for _, r := range batch {
			if r.Patient != p.Patient || !slices.Contains(p.Devices, r.Device) {
				return fmt.Errorf("%w: a reading of another patient or device in a moving plan", ErrInvalid)
			}
			if _, ok := Vitals[r.Code]; !ok {
				return fmt.Errorf("%w: a moving reading of %q", ErrInvalid, r.Code)
			}
			if v, err := in.value(readingKey(r)); err != nil || v != nil {
				if err != nil {
					return err
				}
				continue
			}
			if err := in.store(r); err != nil {
				return err
			}
			stored++
		}
		return in.flush(nil)
	})
	return stored, err
}

// Forget drops a patient's monitoring once it has moved to region: the
// plan is kept inactive with a pointer naming the new home, then every
// reading, aggregate and run is deleted.
//
// sent is how many readings the new home verified: a reading stored
// meanwhile (its ingestion began before the registry changed) makes the
// count differ, and nothing is forgotten (ErrState: move again). The
// count is taken in the transaction that retires the plan, which any
// later ingestion conflicts with, so no reading is left behind.
func (s *Store) Forget(p Plan, region string, sent int) error {
	err := s.retry(func(tx *badger.Txn) error {
		cur, err := getPlan(tx, p.ID)
		if err != nil {
			return err
		}
		it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("r/" + p.Patient + "\x00")})
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		it.Close()
		if n != sent {
			return fmt.Errorf("%w: %d readings now, %d sent: move again", ErrState, n, sent)
		}
		if len(cur.Kit) != len(p.Kit) || cur.Closed != nil || !cur.Active {
			return fmt.Errorf("%w: the plan changed while it moved: move again", ErrState)
		}
		cur.Active, cur.MovedTo = false, region
		if err := setJSON(tx, planKey(p.ID), cur); err != nil {
			return err
		}
		if err := tx.Set([]byte("mv/"+p.Patient), []byte(region)); err != nil {
			return err
		}
		return tx.Delete(patientPlanKey(p.Patient))
	})
	if err != nil {
		return err
	}
	return s.db.DropPrefix([]byte("r/"+p.Patient+"\x00"), []byte("d/"+p.Patient+"\x00"), []byte("ri/"+p.Patient+"\x00"), []byte("s/"+p.ID+"\x00"))
}

// MovedTo is the region a patient's monitoring moved to ("" if none).
func (s *Store) MovedTo(patient string) (string, error) {
	var region string
	err := s.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get([]byte("mv/" + patient))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := it.ValueCopy(nil)
		region = string(b)
		return err
	})
	return region, err
}

// mergeKit adds to kit the devices of more it lacks.
func mergeKit(kit, more []Device) ([]Device, bool) {
	changed := false
	for _, d := range more {
		if !slices.ContainsFunc(kit, func(k Device) bool { return k.ID == d.ID }) {
			kit, changed = append(kit, d), true
		}
	}
	return kit, changed
}
