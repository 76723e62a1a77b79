package booking

// Care delivered at the provider, beside its schedule:
//
//	en/<encounter id>                -> Encounter (JSON)
//	ea/<appointment id>              -> encounter id: a visit's one encounter
//	co/<consult id>                  -> Consult (JSON)
//	ck/<region>\x00<subject>\x00<key> -> consult or plan id (the requester's retries; keys are shared with bookings)
//	cm/<consult id>\x00<time>\x00<id> -> Message (JSON)
//	cp/<plan id>                     -> CarePlan (JSON)
//	rp/<document id>                 -> the report's PDF

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Encounter statuses, teleconsult (Task) statuses and plan statuses (FHIR
// codes).
const (
	EncounterInProgress = "in-progress"
	EncounterFinished   = "finished"

	TaskRequested = "requested"
	TaskAccepted  = "accepted"
	TaskRejected  = "rejected"
	TaskCancelled = "cancelled"
	TaskCompleted = "completed"

	PlanActive    = "active"
	PlanCompleted = "completed"
)

// Encounter is a televisit held, or a teleassistance session.
type Encounter struct {
	ID          string    `json:"id"`
	Appointment string    `json:"appointment,omitempty"` // the televisit booked
	Plan        string    `json:"plan,omitempty"`        // the teleassistance plan of a session
	Service     string    `json:"service"`
	Patient     string    `json:"patient"`
	By          Booker    `json:"by"`             // the professional who held it
	Role        string    `json:"role,omitempty"` // their profession, for a session (nurse, physiotherapist…)
	Status      string    `json:"status"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	Note        string    `json:"note,omitempty"`   // a session's note
	Report      string    `json:"report,omitempty"` // the report's document id
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Consult is a teleconsult: the request (ServiceRequest) and its Task.
type Consult struct {
	ID          string    `json:"id"`
	Service     string    `json:"service"`
	Patient     string    `json:"patient"`
	Requester   Booker    `json:"requester"`
	ClientKey   string    `json:"client_key"`
	Sync        bool      `json:"sync,omitempty"`
	Appointment string    `json:"appointment,omitempty"` // a synchronous teleconsult's meeting
	Question    string    `json:"question"`
	Documents   []string  `json:"documents,omitempty"` // FSE documents shared by reference (index ids)
	Status      string    `json:"status"`
	Reason      string    `json:"reason,omitempty"` // why it was rejected or cancelled
	Performer   *Booker   `json:"performer,omitempty"`
	Report      string    `json:"report,omitempty"`
	Messages    int       `json:"messages,omitempty"` // how many were written
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Message is one Communication of a teleconsult.
type Message struct {
	ID        string    `json:"id"`
	Consult   string    `json:"consult"`
	Sender    Booker    `json:"sender"`
	Text      string    `json:"text,omitempty"`
	Documents []string  `json:"documents,omitempty"`
	ReplyTo   string    `json:"reply_to,omitempty"`
	ClientKey string    `json:"client_key,omitempty"` // the sender's: a retry answers the first
	Sent      time.Time `json:"sent"`
}

// CarePlan is a teleassistance plan, made from a catalogue template.
type CarePlan struct {
	ID              string    `json:"id"`
	Template        string    `json:"template"`
	TemplateVersion int       `json:"template_version"`
	Title           string    `json:"title"`
	Patient         string    `json:"patient"`
	Author          Booker    `json:"author"`
	ClientKey       string    `json:"client_key"`
	Status          string    `json:"status"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end,omitzero"`
	Sessions        []string  `json:"sessions,omitempty"` // encounter ids
	Report          string    `json:"report,omitempty"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
}

// Bounds that keep a teleconsult readable from another region in one
// protocol answer, and a plan reportable in one final report.
const (
	maxText        = 16 << 10
	maxMessageText = 8 << 10
	maxMessages    = 100
	maxSessions    = 200
	maxSessionNote = 1900 // a session is one line of the final report, at most 2000 bytes
)

func encounterKey(id string) []byte { return []byte("en/" + id) }
func consultKey(id string) []byte   { return []byte("co/" + id) }
func planKey(id string) []byte      { return []byte("cp/" + id) }
func reportKey(doc string) []byte   { return []byte("rp/" + doc) }
func messagePrefix(consult string) []byte {
	return []byte("cm/" + consult + "\x00")
}

// Encounter, Consult and Plan read one record (ErrNotFound when absent).
func (s *Store) Encounter(id string) (Encounter, error) { return read[Encounter](s, encounterKey(id)) }
func (s *Store) Consult(id string) (Consult, error)     { return read[Consult](s, consultKey(id)) }
func (s *Store) Plan(id string) (CarePlan, error)       { return read[CarePlan](s, planKey(id)) }

// Report returns the PDF of a report made here.
func (s *Store) Report(doc string) ([]byte, error) {
	var pdf []byte
	err := s.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get(reportKey(doc))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		pdf, err = it.ValueCopy(nil)
		return err
	})
	return pdf, err
}

// retry runs a read-modify-write transaction until badger commits it
// without a conflicting write in between.
func (s *Store) retry(fn func(tx *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt == 20 {
			return err
		}
	}
}

// StartEncounter opens the encounter of a booked televisit; asked again,
// it answers the one opened first.
func (s *Store) StartEncounter(appointment string, by Booker) (Encounter, error) {
	var e Encounter
	err := s.retry(func(tx *badger.Txn) error {
		if id, ok, err := get[string](tx, []byte("ea/"+appointment)); err != nil || ok {
			if err == nil {
				e, _, err = get[Encounter](tx, encounterKey(id))
			}
			return err
		}
		a, ok, err := get[Appointment](tx, apptKey(appointment))
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrNotFound
		case a.Status != AppointmentBooked:
			return fmt.Errorf("%w: the appointment was cancelled", ErrState)
		}
		now := s.now().UTC()
		e = Encounter{ID: s.newID(), Appointment: a.ID, Service: a.Service, Patient: a.Patient, By: by, Status: EncounterInProgress,
			Start: now, Created: now, Updated: now}
		if err := set(tx, encounterKey(e.ID), e); err != nil {
			return err
		}
		return set(tx, []byte("ea/"+appointment), e.ID)
	})
	return e, err
}

// CloseEncounter finishes a televisit's encounter with its report, in one
// transaction; a report already made is kept (ErrState).
func (s *Store) CloseEncounter(id, doc string, pdf []byte) (Encounter, error) {
	var e Encounter
	err := s.retry(func(tx *badger.Txn) error {
		var ok bool
		var err error
		if e, ok, err = get[Encounter](tx, encounterKey(id)); err != nil || !ok {
			return errors.Join(err, notFoundIf(!ok))
		}
		if e.Report != "" || e.Status != EncounterInProgress {
			return fmt.Errorf("%w: the encounter already has its report", ErrState)
		}
		now := s.now().UTC()
		e.Status, e.End, e.Report, e.Updated = EncounterFinished, now, doc, now
		if err := tx.Set(reportKey(doc), pdf); err != nil {
			return err
		}
		return set(tx, encounterKey(e.ID), e)
	})
	return e, err
}

func notFoundIf(absent bool) error {
	if absent {
		return ErrNotFound
	}
	return nil
}

// RequestConsult records a teleconsult request and its task. A retry with
// the same requester and client key answers the first (dup true); the key
// reused for another patient or service is ErrKeyReused.
func (s *Store) RequestConsult(c Consult) (out Consult, dup bool, err error) {
	switch {
	case !clientKeyRE.MatchString(c.ClientKey):
		return out, false, fmt.Errorf("%w: a client key is 8 to 128 printable characters", ErrInvalid)
	case c.Requester.Subject == "" || c.Requester.Region == "" || c.Patient == "" || !idRE.MatchString(c.Service):
		return out, false, fmt.Errorf("%w: a teleconsult names its requester, patient and service", ErrInvalid)
	case c.Question == "" || len(c.Question) > maxText || len(c.Documents) > 50:
		return out, false, fmt.Errorf("%w: a teleconsult asks a question of at most 16 KiB, with at most 50 documents", ErrInvalid)
	}
	err = s.retry(func(tx *badger.Txn) error {
		ck := clientKey(c.Requester, c.ClientKey)
		if id, ok, err := get[string](tx, ck); err != nil || ok {
			if err == nil {
				out, _, err = get[Consult](tx, consultKey(id))
			}
			if err == nil && (out.Patient != c.Patient || out.Service != c.Service) {
				err = ErrKeyReused
			}
			dup = err == nil
			return err
		}
		now := s.now().UTC()
		out = c
		out.ID, out.Status, out.Created, out.Updated = s.newID(), TaskRequested, now, now
		if err := set(tx, consultKey(out.ID), out); err != nil {
			return err
		}
		return set(tx, ck, out.ID)
	})
	return out, dup, err
}

// consultMoves are the task's transitions: from each status, where it
// may go.
var consultMoves = map[string][]string{
	TaskRequested: {TaskAccepted, TaskRejected, TaskCancelled},
	TaskAccepted:  {TaskCompleted, TaskCancelled},
}

// MoveConsult changes a teleconsult's task status. Asked again for the
// status it has, it answers it unchanged; a move its status does not allow
// is ErrState.
func (s *Store) MoveConsult(id, to, reason string, by Booker) (Consult, error) {
	var c Consult
	err := s.retry(func(tx *badger.Txn) error {
		var ok bool
		var err error
		if c, ok, err = get[Consult](tx, consultKey(id)); err != nil || !ok {
			return errors.Join(err, notFoundIf(!ok))
		}
		if c.Status == to {
			return nil
		}
		if !slices.Contains(consultMoves[c.Status], to) || to == TaskCompleted {
			return fmt.Errorf("%w: a %s teleconsult cannot become %s", ErrState, c.Status, to)
		}
		if len(reason) > 1024 {
			return fmt.Errorf("%w: a reason is at most 1 KiB", ErrInvalid)
		}
		c.Status, c.Reason, c.Updated = to, reason, s.now().UTC()
		if to == TaskAccepted {
			c.Performer = &by
		}
		return set(tx, consultKey(c.ID), c)
	})
	return c, err
}

// CompleteConsult completes an accepted teleconsult with its report.
func (s *Store) CompleteConsult(id, doc string, pdf []byte) (Consult, error) {
	var c Consult
	err := s.retry(func(tx *badger.Txn) error {
		var ok bool
		var err error
		if c, ok, err = get[Consult](tx, consultKey(id)); err != nil || !ok {
			return errors.Join(err, notFoundIf(!ok))
		}
		if c.Status != TaskAccepted {
			return fmt.Errorf("%w: only an accepted teleconsult is reported on (this one is %s)", ErrState, c.Status)
		}
		c.Status, c.Report, c.Updated = TaskCompleted, doc, s.now().UTC()
		if err := tx.Set(reportKey(doc), pdf); err != nil {
			return err
		}
		return set(tx, consultKey(c.ID), c)
	})
	return c, err
}

// AddMessage records a Communication of an open teleconsult (at most
// 100). A retry with the sender's client key answers the first (dup).
func (s *Store) AddMessage(m Message) (out Message, dup bool, err error) {
	switch {
	case m.Text == "" && len(m.Documents) == 0:
		return m, false, fmt.Errorf("%w: a message carries text or documents", ErrInvalid)
	case len(m.Text) > maxMessageText || len(m.Documents) > 50:
		return m, false, fmt.Errorf("%w: a message is at most 8 KiB of text and 50 documents", ErrInvalid)
	case m.ReplyTo != "" && !idRE.MatchString(m.ReplyTo):
		return m, false, fmt.Errorf("%w: a reply names the message it answers by its id", ErrInvalid)
	case m.ClientKey != "" && !clientKeyRE.MatchString(m.ClientKey):
		return m, false, fmt.Errorf("%w: a client key is 8 to 128 printable characters", ErrInvalid)
	}
	err = s.retry(func(tx *badger.Txn) error {
		ck := []byte("mk/" + m.Consult + "\x00" + m.Sender.Region + "\x00" + m.Sender.Subject + "\x00" + m.ClientKey)
		if m.ClientKey != "" {
			if key, ok, err := get[string](tx, ck); err != nil || ok {
				if err == nil {
					out, _, err = get[Message](tx, []byte(key))
				}
				dup = err == nil
				return err
			}
		}
		c, ok, err := get[Consult](tx, consultKey(m.Consult))
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrNotFound
		case c.Status != TaskRequested && c.Status != TaskAccepted:
			return fmt.Errorf("%w: the teleconsult is %s", ErrState, c.Status)
		case c.Messages >= maxMessages:
			return fmt.Errorf("%w: a teleconsult holds at most %d messages", ErrState, maxMessages)
		}
		out = m
		out.ID, out.Sent = s.newID(), s.now().UTC()
		key := append(messagePrefix(c.ID), []byte(out.Sent.Format("20060102150405.000000000")+"\x00"+out.ID)...)
		c.Messages++
		if err := set(tx, consultKey(c.ID), c); err != nil {
			return err
		}
		if m.ClientKey != "" {
			if err := set(tx, ck, string(key)); err != nil {
				return err
			}
		}
		return set(tx, key, out)
	})
	return out, dup, err
}

// Messages lists a teleconsult's messages, oldest first.
func (s *Store) Messages(consult string) ([]Message, error) {
	var out []Message
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: messagePrefix(consult), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < maxMessages; it.Next() {
			var m Message
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &m) }); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// StartPlan records a teleassistance plan; a retry with the same author
// and client key answers the first (dup true).
func (s *Store) StartPlan(p CarePlan) (out CarePlan, dup bool, err error) {
	switch {
	case !clientKeyRE.MatchString(p.ClientKey):
		return out, false, fmt.Errorf("%w: a client key is 8 to 128 printable characters", ErrInvalid)
	case p.Author.Subject == "" || p.Patient == "" || !idRE.MatchString(p.Template) || p.TemplateVersion < 1:
		return out, false, fmt.Errorf("%w: a plan names its author, patient and template version", ErrInvalid)
	}
	err = s.retry(func(tx *badger.Txn) error {
		ck := clientKey(p.Author, p.ClientKey)
		if id, ok, err := get[string](tx, ck); err != nil || ok {
			if err == nil {
				out, _, err = get[CarePlan](tx, planKey(id))
			}
			if err == nil && (out.Patient != p.Patient || out.Template != p.Template || out.TemplateVersion != p.TemplateVersion) {
				err = ErrKeyReused
			}
			dup = err == nil
			return err
		}
		now := s.now().UTC()
		out = p
		out.ID, out.Status, out.Start, out.Created, out.Updated = s.newID(), PlanActive, now, now, now
		if err := set(tx, planKey(out.ID), out); err != nil {
			return err
		}
		return set(tx, ck, out.ID)
	})
	return out, dup, err
}

// AddSession records a session held under an active plan: a finished
// encounter with its note.
func (s *Store) AddSession(plan string, e Encounter) (Encounter, error) {
	switch {
	case e.Note == "" || len(e.Note) > maxSessionNote:
		return e, fmt.Errorf("%w: a session's note is 1 to %d bytes", ErrInvalid, maxSessionNote)
	case !e.End.After(e.Start) || e.End.Sub(e.Start) > 24*time.Hour || e.End.After(s.now().Add(time.Hour)):
		return e, fmt.Errorf("%w: a session ends after it starts, within a day, and has been held", ErrInvalid)
	}
	err := s.retry(func(tx *badger.Txn) error {
		p, ok, err := get[CarePlan](tx, planKey(plan))
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrNotFound
		case p.Status != PlanActive:
			return fmt.Errorf("%w: the plan is %s", ErrState, p.Status)
		case len(p.Sessions) >= maxSessions:
			return fmt.Errorf("%w: a plan holds at most %d sessions", ErrState, maxSessions)
		case e.Start.Before(p.Start.Add(-24 * time.Hour)):
			return fmt.Errorf("%w: a session is held after its plan starts", ErrInvalid)
		}
		now := s.now().UTC()
		e.ID, e.Plan, e.Patient, e.Status, e.Created, e.Updated = s.newID(), p.ID, p.Patient, EncounterFinished, now, now
		e.Start, e.End = e.Start.UTC(), e.End.UTC()
		p.Sessions, p.Updated = append(p.Sessions, e.ID), now
		if err := set(tx, encounterKey(e.ID), e); err != nil {
			return err
		}
		return set(tx, planKey(p.ID), p)
	})
	return e, err
}

// Sessions reads a plan's sessions, in the order they were recorded.
func (s *Store) Sessions(p CarePlan) ([]Encounter, error) {
	out := make([]Encounter, 0, len(p.Sessions))
	err := s.db.View(func(tx *badger.Txn) error {
		for _, id := range p.Sessions {
			e, ok, err := get[Encounter](tx, encounterKey(id))
			if err != nil {
				return err
			}
			if ok {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// ClosePlan completes an active plan with its final report, made from
// the plan's first sessions sessions: one recorded meanwhile is ErrState
// (the report is made again).
func (s *Store) ClosePlan(id string, sessions int, doc string, pdf []byte) (CarePlan, error) {
	var p CarePlan
	err := s.retry(func(tx *badger.Txn) error {
		var ok bool
		var err error
		if p, ok, err = get[CarePlan](tx, planKey(id)); err != nil || !ok {
			return errors.Join(err, notFoundIf(!ok))
		}
		switch {
		case p.Status != PlanActive:
			return fmt.Errorf("%w: the plan is %s", ErrState, p.Status)
		case len(p.Sessions) != sessions:
			return fmt.Errorf("%w: a session was recorded while the report was made; ask again", ErrState)
		}
		now := s.now().UTC()
		p.Status, p.End, p.Report, p.Updated = PlanCompleted, now, doc, now
		if err := tx.Set(reportKey(doc), pdf); err != nil {
			return err
		}
		return set(tx, planKey(p.ID), p)
	})
	return p, err
}
