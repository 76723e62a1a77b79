// Package booking keeps a providing region's telemedicine schedule on its
// own node: the slots of its services and the appointments booked in
// them, in badger, fsynced on every commit. Nothing here is replicated:
// another region reaches it through the provider's node.
//
// A slot is booked at most once: a booking reads the slot and writes it
// busy in one badger transaction, and badger refuses to commit a
// transaction whose reads another committed transaction changed; the
// loser retries, finds the slot busy and is told so. A booking carries
// the booker's client key, so a retried booking answers as the first did.
//
// Key layout:
//
//	sl/<slot id>                            -> Slot (JSON)
//	ss/<service>\x00<start>\x00<slot id>     -> empty: the service's slots by start time
//	ap/<appointment id>                     -> Appointment (JSON)
//	ck/<region>\x00<subject>\x00<client key> -> appointment id: the booker's retries
package booking

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Errors the store answers with.
var (
	ErrNotFound = errors.New("no such slot or appointment")
	ErrTaken    = errors.New("the slot is already booked")
	ErrInvalid  = errors.New("invalid")
	ErrState    = errors.New("not in a state that allows it")
	// ErrKeyReused: the booker's client key named another booking.
	ErrKeyReused = errors.New("the client key was used for another booking")
)

// Slot statuses and appointment statuses (FHIR codes).
const (
	SlotFree = "free"
	SlotBusy = "busy"

	AppointmentBooked    = "booked"
	AppointmentCancelled = "cancelled"
)

// Slot is a time a service can be delivered in.
type Slot struct {
	ID          string    `json:"id"`
	Service     string    `json:"service"` // catalogue service id
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      string    `json:"status"`
	Appointment string    `json:"appointment,omitempty"`
}

// Booker is who booked: the caller's identity as their token says.
type Booker struct {
	Subject      string `json:"subject"` // codice fiscale
	Role         string `json:"role"`
	Region       string `json:"region"`
	Organization string `json:"organization,omitempty"`
}

// Eligibility is the "verifica di eseguibilità" recorded with a booking:
// whether the visit can be held remotely for this patient.
type Eligibility struct {
	ClinicallySuitable bool   `json:"clinically_suitable"`
	Consent            bool   `json:"consent"`         // the patient consents to a remote visit
	DigitallyReady     bool   `json:"digitally_ready"` // device, connection, skills (or a caregiver's)
	Note               string `json:"note,omitempty"`  // free text, at most 1 KiB
	AssessedBy         string `json:"assessed_by"`     // the clinician who assessed it
}

// Appointment is a booked slot.
type Appointment struct {
	ID          string      `json:"id"`
	Slot        string      `json:"slot"`
	Service     string      `json:"service"`
	Start       time.Time   `json:"start"`
	End         time.Time   `json:"end"`
	Patient     string      `json:"patient"` // registry id, e.g. CF:RSSMRA80A01H501U
	Status      string      `json:"status"`
	Booker      Booker      `json:"booker"`
	ClientKey   string      `json:"client_key"`
	FirstSlot   string      `json:"first_slot"` // the slot it was booked in, before any rescheduling
	Eligibility Eligibility `json:"eligibility"`
	// Consult is the synchronous teleconsult the appointment is the
	// meeting of, if any.
	Consult string    `json:"consult,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Store is a provider's schedule.
type Store struct {
	db     *badger.DB
	log    *slog.Logger
	now    func() time.Time
	region string // prefixes every id: the provider a slot or appointment belongs to
}

// Open opens (or creates) the store of region's schedule in dir.
func Open(dir, region string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	o := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).WithMetricsEnabled(false).
		WithMemTableSize(8 << 20).WithBlockCacheSize(8 << 20).
		// Each compactor wakes every 50 ms even when idle: two, the minimum.
		WithNumCompactors(2)
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open the telemedicine store %s: %w", dir, err)
	}
	return &Store{db: db, log: log, now: time.Now, region: region}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Backup writes a consistent copy of the whole store to w, in badger's
// backup format (what a restore loads).
func (s *Store) Backup(w io.Writer) error {
	_, err := s.db.Backup(w, 0)
	return err
}

var (
	idRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,79}$`)
	clientKeyRE = regexp.MustCompile(`^[\x21-\x7e]{8,128}$`)
)

// newID is "<region>-<24 hex digits>": the id names the provider.
func (s *Store) newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return s.region + "-" + hex.EncodeToString(b)
}

func slotKey(id string) []byte { return []byte("sl/" + id) }
func apptKey(id string) []byte { return []byte("ap/" + id) }
func serviceSlotKey(service string, start time.Time, id string) []byte {
	return []byte("ss/" + service + "\x00" + start.UTC().Format("20060102150405") + "\x00" + id)
}
func clientKey(b Booker, key string) []byte {
	return []byte("ck/" + b.Region + "\x00" + b.Subject + "\x00" + key)
}

func get[T any](tx *badger.Txn, key []byte) (T, bool, error) {
	var v T
	it, err := tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	err = it.Value(func(b []byte) error { return json.Unmarshal(b, &v) })
	return v, err == nil, err
}

func set(tx *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// AddSlot adds a free slot of a service; its times must be sane (up to a
// day long, within two years).
func (s *Store) AddSlot(service string, start, end time.Time) (Slot, error) {
	now := s.now()
	switch {
	case !idRE.MatchString(service):
		return Slot{}, fmt.Errorf("%w: service %q", ErrInvalid, service)
	case !end.After(start) || end.Sub(start) > 24*time.Hour:
		return Slot{}, fmt.Errorf("%w: a slot ends after it starts, within a day", ErrInvalid)
	case start.Before(now.Add(-time.Hour)) || start.After(now.AddDate(2, 0, 0)):
		return Slot{}, fmt.Errorf("%w: a slot starts between now and two years from now", ErrInvalid)
	}
	sl := Slot{ID: s.newID(), Service: service, Start: start.UTC().Truncate(time.Second), End: end.UTC().Truncate(time.Second), Status: SlotFree}
	err := s.db.Update(func(tx *badger.Txn) error {
		if err := set(tx, slotKey(sl.ID), sl); err != nil {
			return err
		}
		return tx.Set(serviceSlotKey(sl.Service, sl.Start, sl.ID), nil)
	})
	return sl, err
}

// SlotQuery selects a service's slots by status and start time.
type SlotQuery struct {
	Service  string
	Status   string    // "" any
	From, To time.Time // zero: unbounded
	Limit    int       // at most this many (default 100, at most 1000)
}

// Slots lists a service's slots in start order.
func (s *Store) Slots(q SlotQuery) ([]Slot, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	var out []Slot
	prefix := []byte("ss/" + q.Service + "\x00")
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		start := prefix
		if !q.From.IsZero() {
			start = append(bytes.Clone(prefix), q.From.UTC().Format("20060102150405")...)
		}
		for it.Seek(start); it.Valid() && len(out) < q.Limit; it.Next() {
			k := it.Item().Key()
			id := string(k[bytes.LastIndexByte(k, 0)+1:])
			sl, ok, err := get[Slot](tx, slotKey(id))
			if err != nil {
				return err
			}
			if !ok || (!q.To.IsZero() && !sl.Start.Before(q.To)) {
				if ok {
					break
				}
				continue
			}
			if q.Status == "" || sl.Status == q.Status {
				out = append(out, sl)
			}
		}
		return nil
	})
	return out, err
}

// BookRequest books a slot for a patient.
type BookRequest struct {
	Slot        string
	Patient     string
	Booker      Booker
	ClientKey   string
	Eligibility Eligibility
	// Consult makes the appointment the meeting of a teleconsult of the
	// slot's service, in the same transaction.
	Consult string
}

// Book books a slot. A retry with the same booker and client key answers
// the appointment the first made (dup true), whatever happened since; a
// slot already booked by anyone else is ErrTaken.
func (s *Store) Book(r BookRequest) (a Appointment, dup bool, err error) {
	switch {
	case !clientKeyRE.MatchString(r.ClientKey):
		return a, false, fmt.Errorf("%w: a client key is 8 to 128 printable characters", ErrInvalid)
	case r.Booker.Subject == "" || r.Booker.Region == "" || r.Patient == "":
		return a, false, fmt.Errorf("%w: a booking names its booker and patient", ErrInvalid)
	case len(r.Eligibility.Note) > 1024:
		return a, false, fmt.Errorf("%w: the eligibility note is at most 1 KiB", ErrInvalid)
	}
	for attempt := 0; ; attempt++ {
		a, dup, err = s.book(r)
		if !errors.Is(err, badger.ErrConflict) || attempt == 20 {
			return a, dup, err
		}
	}
}

func (s *Store) book(r BookRequest) (a Appointment, dup bool, err error) {
	err = s.db.Update(func(tx *badger.Txn) error {
		ck := clientKey(r.Booker, r.ClientKey)
		if id, ok, err := get[string](tx, ck); err != nil {
			return err
		} else if ok {
			a, _, err = get[Appointment](tx, apptKey(id))
			// A retry names the same patient and the slot first booked
			// (the appointment may have moved since).
			if err == nil && (a.Patient != r.Patient || a.FirstSlot != r.Slot) {
				return ErrKeyReused
			}
			dup = true
			return err
		}
		sl, ok, err := get[Slot](tx, slotKey(r.Slot))
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrNotFound
		case sl.Status != SlotFree:
			return ErrTaken
		case !s.now().Before(sl.Start):
			return fmt.Errorf("%w: the slot has started", ErrState)
		}
		now := s.now().UTC()
		a = Appointment{ID: s.newID(), Slot: sl.ID, FirstSlot: sl.ID, Service: sl.Service, Start: sl.Start, End: sl.End, Patient: r.Patient,
			Status: AppointmentBooked, Booker: r.Booker, ClientKey: r.ClientKey, Eligibility: r.Eligibility, Consult: r.Consult, Created: now, Updated: now}
		if r.Consult != "" {
			if err := s.meet(tx, r, sl, a.ID); err != nil {
				return err
			}
		}
		sl.Status, sl.Appointment = SlotBusy, a.ID
		if err := set(tx, slotKey(sl.ID), sl); err != nil {
			return err
		}
		if err := set(tx, apptKey(a.ID), a); err != nil {
			return err
		}
		return set(tx, ck, a.ID)
	})
	return a, dup, err
}

// meet makes an appointment the meeting of an open teleconsult of the
// slot's service and patient that has none booked.
func (s *Store) meet(tx *badger.Txn, r BookRequest, sl Slot, appt string) error {
	c, ok, err := get[Consult](tx, consultKey(r.Consult))
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrNotFound
	case c.Service != sl.Service || c.Patient != r.Patient:
		return fmt.Errorf("%w: the teleconsult is of another service or patient than the slot's", ErrInvalid)
	case c.Status != TaskRequested && c.Status != TaskAccepted:
		return fmt.Errorf("%w: the teleconsult is %s", ErrState, c.Status)
	}
	if c.Appointment != "" {
		if prev, ok, err := get[Appointment](tx, apptKey(c.Appointment)); err != nil || ok && prev.Status == AppointmentBooked {
			return errors.Join(err, fmt.Errorf("%w: the teleconsult's meeting is booked already", ErrState))
		}
	}
	c.Appointment, c.Updated = appt, s.now().UTC()
	return set(tx, consultKey(c.ID), c)
}

// Appointment reads an appointment.
func (s *Store) Appointment(id string) (Appointment, error) { return read[Appointment](s, apptKey(id)) }

// Slot reads a slot.
func (s *Store) Slot(id string) (Slot, error) { return read[Slot](s, slotKey(id)) }

// read reads one record; an absent one is ErrNotFound.
func read[T any](s *Store, key []byte) (T, error) {
	var v T
	err := s.db.View(func(tx *badger.Txn) error {
		var ok bool
		var err error
		if v, ok, err = get[T](tx, key); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return v, err
}

// Cancel cancels a booked appointment and frees its slot (when it has
// not started). Cancelling a cancelled appointment answers it again.
func (s *Store) Cancel(id string) (Appointment, error) {
	var a Appointment
	for attempt := 0; ; attempt++ {
		err := s.db.Update(func(tx *badger.Txn) error {
			var ok bool
			var err error
			if a, ok, err = get[Appointment](tx, apptKey(id)); err != nil || !ok {
				return errors.Join(err, map[bool]error{false: ErrNotFound, true: nil}[ok])
			}
			if a.Status == AppointmentCancelled {
				return nil
			}
			if !s.now().Before(a.Start) {
				return fmt.Errorf("%w: the visit has started", ErrState)
			}
			a.Status, a.Updated = AppointmentCancelled, s.now().UTC()
			sl, ok, err := get[Slot](tx, slotKey(a.Slot))
			if err != nil {
				return err
			}
			if ok && sl.Appointment == a.ID {
				sl.Status, sl.Appointment = SlotFree, ""
				if err := set(tx, slotKey(sl.ID), sl); err != nil {
					return err
				}
			}
			return set(tx, apptKey(a.ID), a)
		})
		if !errors.Is(err, badger.ErrConflict) || attempt == 20 {
			return a, err
		}
	}
}

// Reschedule moves a booked appointment to another free slot of the same
// service, in one transaction: the new slot is claimed, the old one freed,
// the appointment changed — or nothing is (the new slot taken: ErrTaken).
func (s *Store) Reschedule(id, slot string) (Appointment, error) {
	var a Appointment
	for attempt := 0; ; attempt++ {
		err := s.db.Update(func(tx *badger.Txn) error {
			var ok bool
			var err error
			if a, ok, err = get[Appointment](tx, apptKey(id)); err != nil || !ok {
				return errors.Join(err, map[bool]error{false: ErrNotFound, true: nil}[ok])
			}
			if a.Slot == slot {
				return nil
			}
			if a.Status != AppointmentBooked || !s.now().Before(a.Start) {
				return fmt.Errorf("%w: only a booked visit that has not started is moved", ErrState)
			}
			to, ok, err := get[Slot](tx, slotKey(slot))
			switch {
			case err != nil:
				return err
			case !ok:
				return ErrNotFound
			case to.Service != a.Service:
				return fmt.Errorf("%w: the new slot belongs to another service", ErrInvalid)
			case to.Status != SlotFree:
				return ErrTaken
			case !s.now().Before(to.Start):
				return fmt.Errorf("%w: the new slot has started", ErrState)
			}
			from, ok, err := get[Slot](tx, slotKey(a.Slot))
			if err != nil {
				return err
			}
			if ok && from.Appointment == a.ID {
				from.Status, from.Appointment = SlotFree, ""
				if err := set(tx, slotKey(from.ID), from); err != nil {
					return err
				}
			}
			to.Status, to.Appointment = SlotBusy, a.ID
			a.Slot, a.Start, a.End, a.Updated = to.ID, to.Start, to.End, s.now().UTC()
			if err := set(tx, slotKey(to.ID), to); err != nil {
				return err
			}
			return set(tx, apptKey(a.ID), a)
		})
		if !errors.Is(err, badger.ErrConflict) || attempt == 20 {
			return a, err
		}
	}
}
