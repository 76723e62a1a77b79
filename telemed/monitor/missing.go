package monitor

// Missing measurements: a parameter of an active plan without a reading
// for the plan's Every and half again raises a "missing" alert, once per
// gap (the next reading ends the gap).
//
//	mm/<plan>\x00<code> -> the time (Unix nanoseconds) of the last reading a "missing" alert was raised after

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// CheckMissing raises the alerts of parameters gone unmeasured at now,
// into the outbox.
func (s *Store) CheckMissing(now time.Time) ([]Alert, error) {
	var plans []Plan
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("p/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var p Plan
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
				return err
			}
			if p.Active && p.Every > 0 {
				plans = append(plans, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, p := range plans {
		for code := range p.Thresholds {
			a, err := s.missing(p, code, now)
			if err != nil {
				return out, err
			}
			if a != nil {
				out = append(out, *a)
			}
		}
	}
	return out, nil
}

func (s *Store) missing(p Plan, code string, now time.Time) (*Alert, error) {
	var raised *Alert
	err := s.retry(func(tx *badger.Txn) error {
		raised = nil
		if cur, err := getPlan(tx, p.ID); err != nil || !cur.Active {
			return err // closed or moved meanwhile: nothing is missing
		}
		last, err := lastReading(tx, p.Patient, code)
		if err != nil {
			return err
		}
		if last.IsZero() {
			last = p.Start
		}
		if now.Sub(last) < p.Every+p.Every/2 {
			return nil
		}
		mk := []byte("mm/" + p.ID + "\x00" + code)
		it, err := tx.Get(mk)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			var after int64
			if err := it.Value(func(v []byte) error { after = int64(binary.BigEndian.Uint64(v)); return nil }); err != nil {
				return err
			}
			if after == last.UnixNano() {
				return nil // raised for this gap already
			}
		}
		seq, err := s.seq.Next()
		if err != nil {
			return err
		}
		a := Alert{Seq: seq, Team: p.Team, Plan: p.ID, Patient: p.Patient, Code: code, Kind: "missing", Time: last.UTC(), Raised: now.UTC()}
		if err := tx.Set(mk, binary.BigEndian.AppendUint64(nil, uint64(last.UnixNano()))); err != nil {
			return err
		}
		raised = &a
		return setJSON(tx, binary.BigEndian.AppendUint64([]byte("o/"), seq), a)
	})
	return raised, err
}

// lastReading is the time of a parameter's latest reading (zero: none).
func lastReading(tx *badger.Txn, patient, code string) (time.Time, error) {
	prefix := seriesPrefix(patient, code)
	it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	it.Seek(append(append([]byte{}, prefix...), 0xff))
	if !it.Valid() {
		return time.Time{}, nil
	}
	k := it.Item().Key()[len(prefix):]
	if len(k) < 8 {
		return time.Time{}, errors.New("a reading key without its time")
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(k))), nil
}
