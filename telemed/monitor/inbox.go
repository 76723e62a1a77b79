package monitor

// The care team's side: alerts raised at patients' home nodes and
// delivered to the node of the team's region, kept until acknowledged.
//
//	ia/<home region>\x00<sequence>  -> Inbound (JSON)

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Inbound is an alert at its care team's node.
type Inbound struct {
	Alert
	ID       string    `json:"id"` // <home region>-<sequence>
	Received time.Time `json:"received"`
	// Assignee is the member it is assigned to: the first, then the
	// next when not acknowledged in time.
	Assignee  int       `json:"assignee"`
	Escalated time.Time `json:"escalated,omitzero"`
	AckBy     string    `json:"ack_by,omitempty"`
	AckAt     time.Time `json:"ack_at,omitzero"`
	// Audited: its receipt is in the patient's access log (a resend of
	// one kept but not yet audited audits it).
	Audited bool `json:"audited,omitempty"`
}

// MarkAudited records that an alert's receipt was audited.
func (s *Store) MarkAudited(id string) error {
	home, seq, ok := parseInboundID(id)
	if !ok {
		return ErrNotFound
	}
	return s.retry(func(tx *badger.Txn) error {
		k := inboundKey(home, seq)
		it, err := tx.Get(k)
		if err != nil {
			return err
		}
		var in Inbound
		if err := it.Value(func(b []byte) error { return json.Unmarshal(b, &in) }); err != nil {
			return err
		}
		in.Audited = true
		return setJSON(tx, k, in)
	})
}

// Open reports whether the alert waits for acknowledgement.
func (in Inbound) Open() bool { return in.AckBy == "" }

func inboundKey(home string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("ia/"+home+"\x00"), seq)
}

// InboundID names an inbound alert: its home region and sequence there.
func InboundID(home string, seq uint64) string { return home + "-" + strconv.FormatUint(seq, 10) }

func parseInboundID(id string) (string, uint64, bool) {
	home, seq, ok := strings.Cut(id, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	return home, n, ok && err == nil && len(home) == 3
}

// Receive keeps an alert delivered by its home node; delivered again, it
// is kept once (dup).
func (s *Store) Receive(a Alert) (in Inbound, dup bool, err error) {
	if a.Home == "" || a.Plan == "" || a.Patient == "" || len(a.Team.Members) == 0 {
		return in, false, fmt.Errorf("%w: an alert names its home region, plan, patient and team", ErrInvalid)
	}
	err = s.retry(func(tx *badger.Txn) error {
		k := inboundKey(a.Home, a.Seq)
		if it, err := tx.Get(k); err == nil {
			dup = true
			return it.Value(func(b []byte) error { return json.Unmarshal(b, &in) })
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		in = Inbound{Alert: a, ID: InboundID(a.Home, a.Seq), Received: s.now().UTC()}
		return setJSON(tx, k, in)
	})
	return in, dup, err
}

func setJSON(tx *badger.Txn, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(k, b)
}

// Inbox lists the alerts of the plans whose team has member (every one
// when member is ""), open ones only when open, newest first.
func (s *Store) Inbox(member string, open bool) ([]Inbound, error) {
	var out []Inbound
	err := s.db.View(func(tx *badger.Txn) error {
		// Newest first (by region, then sequence), at most 1000.
		it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("ia/"), PrefetchValues: true, Reverse: true})
		defer it.Close()
		for it.Seek([]byte("ia/\xff")); it.Valid() && len(out) < 1000; it.Next() {
			var in Inbound
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &in) }); err != nil {
				return err
			}
			if (member == "" || slices.Contains(in.Team.Members, member)) && (!open || in.Open()) {
				out = append(out, in)
			}
		}
		return nil
	})
	return out, err
}

// Inbound reads one alert.
func (s *Store) Inbound(id string) (Inbound, error) {
	var in Inbound
	home, seq, ok := parseInboundID(id)
	if !ok {
		return in, ErrNotFound
	}
	err := s.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get(inboundKey(home, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return it.Value(func(b []byte) error { return json.Unmarshal(b, &in) })
	})
	return in, err
}

// Acknowledge records that a team member took charge of an alert;
// acknowledged again, it keeps the first.
func (s *Store) Acknowledge(id, by string) (Inbound, error) {
	var in Inbound
	home, seq, ok := parseInboundID(id)
	if !ok {
		return in, ErrNotFound
	}
	err := s.retry(func(tx *badger.Txn) error {
		k := inboundKey(home, seq)
		it, err := tx.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := it.Value(func(b []byte) error { return json.Unmarshal(b, &in) }); err != nil {
			return err
		}
		if !in.Open() {
			return nil
		}
		in.AckBy, in.AckAt = by, s.now().UTC()
		return setJSON(tx, k, in)
	})
	return in, err
}

// Escalate assigns every alert left open for after to its team's next
// member (once per member); it returns those escalated.
func (s *Store) Escalate(after time.Duration) ([]Inbound, error) {
	open, err := s.Inbox("", true)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var out []Inbound
	for _, in := range open {
		since := in.Received
		if !in.Escalated.IsZero() {
			since = in.Escalated
		}
		if in.Assignee+1 >= len(in.Team.Members) || now.Sub(since) < after {
			continue
		}
		err := s.retry(func(tx *badger.Txn) error {
			k := inboundKey(in.Home, in.Seq)
			var cur Inbound
			it, err := tx.Get(k)
			if err != nil {
				return err
			}
			if err := it.Value(func(b []byte) error { return json.Unmarshal(b, &cur) }); err != nil {
				return err
			}
			if !cur.Open() || cur.Assignee != in.Assignee {
				return nil // acknowledged or escalated meanwhile
			}
			cur.Assignee, cur.Escalated = cur.Assignee+1, now
			in = cur
			return setJSON(tx, k, cur)
		})
		if err != nil {
			return out, err
		}
		if in.Escalated.Equal(now) {
			out = append(out, in)
		}
	}
	return out, nil
}
