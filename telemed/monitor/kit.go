package monitor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// Device is a device of a plan's kit, registered when the kit is
// delivered to the patient: its identifiers (HL7 Italia's
// DeviceTelemonitoraggio asks at least one UDI carrier), what it is, and
// when and by whom it was handed over (the DeviceUseStatement that binds
// it to the patient).
type Device struct {
	ID           string       `json:"id"` // the plan's name for it: readings come from Device/<id>
	Identifiers  []Identifier `json:"identifiers"`
	UDI          []UDI        `json:"udi"`
	Name         string       `json:"name,omitempty"`
	Model        string       `json:"model,omitempty"`
	Manufacturer string       `json:"manufacturer,omitempty"`
	Serial       string       `json:"serial,omitempty"`
	Lot          string       `json:"lot,omitempty"`
	Type         *Coding      `json:"type,omitempty"`
	Delivered    time.Time    `json:"delivered"`
	By           string       `json:"by,omitempty"` // the clinician who registered it
}

// Identifier is a business identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// UDI is a unique device identifier as carried on the label.
type UDI struct {
	DeviceIdentifier string `json:"device_identifier"`
	Issuer           string `json:"issuer,omitempty"`
	CarrierHRF       string `json:"carrier_hrf,omitempty"`
}

// Coding is a code of a system.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Closure is how a plan ended: when, by whom, and the final report's text.
type Closure struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

// Bounds of a device's free-text fields and of a closure's text.
const (
	maxDeviceText = 256
	MaxClosure    = 16 << 10
)

// CheckDevice refuses a device that cannot be registered.
func CheckDevice(d Device) error { return validDevice(d) }

func validDevice(d Device) error {
	switch {
	case !deviceRE.MatchString(d.ID):
		return fmt.Errorf("%w: device id %q", ErrInvalid, d.ID)
	case len(d.Identifiers) == 0 || len(d.Identifiers) > 8:
		return fmt.Errorf("%w: a device has 1 to 8 identifiers (system and value)", ErrInvalid)
	case len(d.UDI) == 0 || len(d.UDI) > 4:
		return fmt.Errorf("%w: a device has 1 to 4 UDI carriers (udiCarrier.deviceIdentifier)", ErrInvalid)
	case d.Delivered.IsZero():
		return fmt.Errorf("%w: a device's delivery time is required", ErrInvalid)
	}
	for _, id := range d.Identifiers {
		if id.System == "" || id.Value == "" || len(id.System) > maxDeviceText || len(id.Value) > maxDeviceText {
			return fmt.Errorf("%w: a device identifier needs a system and a value (at most %d bytes each)", ErrInvalid, maxDeviceText)
		}
	}
	for _, u := range d.UDI {
		if u.DeviceIdentifier == "" || len(u.DeviceIdentifier) > maxDeviceText || len(u.Issuer) > maxDeviceText || len(u.CarrierHRF) > maxDeviceText {
			return fmt.Errorf("%w: a UDI carrier needs its deviceIdentifier (at most %d bytes)", ErrInvalid, maxDeviceText)
		}
	}
	for _, s := range []string{d.Name, d.Model, d.Manufacturer, d.Serial, d.Lot, d.By} {
		if len(s) > maxDeviceText {
			return fmt.Errorf("%w: a device's text fields are at most %d bytes", ErrInvalid, maxDeviceText)
		}
	}
	for _, s := range deviceTexts(d) {
		if !printable(s) {
			return fmt.Errorf("%w: a device's fields hold control characters", ErrInvalid)
		}
	}
	if d.Type != nil && (d.Type.System == "" || d.Type.Code == "" || len(d.Type.System)+len(d.Type.Code)+len(d.Type.Display) > maxDeviceText) {
		return fmt.Errorf("%w: a device's type needs a system and a code", ErrInvalid)
	}
	return nil
}

func deviceTexts(d Device) []string {
	out := []string{d.ID, d.Name, d.Model, d.Manufacturer, d.Serial, d.Lot, d.By}
	for _, id := range d.Identifiers {
		out = append(out, id.System, id.Value)
	}
	for _, u := range d.UDI {
		out = append(out, u.DeviceIdentifier, u.Issuer, u.CarrierHRF)
	}
	if d.Type != nil {
		out = append(out, d.Type.System, d.Type.Code, d.Type.Display)
	}
	return out
}

// printable reports whether s is valid UTF-8 without control characters
// other than tab, line feed and carriage return (what XML text carries).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

// sameDevice reports whether two registrations name the same device.
func sameDevice(a, b Device) bool {
	return slices.Equal(a.Identifiers, b.Identifiers) && slices.Equal(a.UDI, b.UDI)
}

// RegisterDevice records a device of an active plan's kit: one the plan
// names (its readings' Device/<id>). Registering the same device again
// answers the first registration (dup); other identifiers for a device
// already registered, or identifiers another active plan's device holds,
// are ErrState.
func (s *Store) RegisterDevice(planID string, d Device) (out Plan, dup bool, err error) {
	if err := validDevice(d); err != nil {
		return out, false, err
	}
	err = s.retry(func(tx *badger.Txn) error {
		dup = false
		p, err := getPlan(tx, planID)
		if err != nil {
			return err
		}
		switch {
		case !p.Active:
			return fmt.Errorf("%w: plan %s is not active", ErrState, planID)
		case !slices.Contains(p.Devices, d.ID):
			return fmt.Errorf("%w: plan %s names no device %q (its devices: %s)", ErrInvalid, planID, d.ID, strings.Join(p.Devices, ", "))
		}
		if i := slices.IndexFunc(p.Kit, func(k Device) bool { return k.ID == d.ID }); i >= 0 {
			if !sameDevice(p.Kit[i], d) {
				return fmt.Errorf("%w: device %s of plan %s is registered with other identifiers", ErrState, d.ID, planID)
			}
			out, dup = p, true
			return nil
		}
		for _, k := range p.Kit {
			if heldBy(k, d) {
				return fmt.Errorf("%w: an identifier of the device belongs to device %s of the plan", ErrState, k.ID)
			}
		}
		if holder, err := identifierHolder(tx, planID, d); err != nil {
			return err
		} else if holder != "" {
			return fmt.Errorf("%w: an identifier of the device belongs to a device of plan %s", ErrState, holder)
		}
		p.Kit = append(p.Kit, d)
		out = p
		return setJSON(tx, planKey(p.ID), p)
	})
	return out, dup, err
}

// identifierHolder is the active plan (other than planID) one of whose
// devices holds one of d's identifiers or UDIs, or "".
func identifierHolder(tx *badger.Txn, planID string, d Device) (string, error) {
	it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("p/"), PrefetchValues: true})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var p Plan
		if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &p) }); err != nil {
			return "", err
		}
		if !p.Active || p.ID == planID {
			continue
		}
		for _, k := range p.Kit {
			if heldBy(k, d) {
				return p.ID, nil
			}
		}
	}
	return "", nil
}

// heldBy reports whether k holds one of d's identifiers, or one of its
// UDI carriers with the production identifiers (a UDI-DI alone names a
// model, not a device).
func heldBy(k, d Device) bool {
	for _, id := range d.Identifiers {
		if slices.Contains(k.Identifiers, id) {
			return true
		}
	}
	for _, u := range d.UDI {
		if u.CarrierHRF != "" && slices.Contains(k.UDI, u) {
			return true
		}
	}
	return false
}

// ClosePlan ends an active plan: no more readings are taken for it, its
// missing-measurement checks stop, and the closure is kept for the final
// report. Closing a closed plan answers the first closure (dup).
func (s *Store) ClosePlan(planID string, c Closure) (out Plan, dup bool, err error) {
	if c.At.IsZero() || c.By == "" || strings.TrimSpace(c.Text) == "" || len(c.Text) > MaxClosure || !printable(c.Text) {
		return out, false, fmt.Errorf("%w: a closure needs its time, its author and a text of at most %d bytes", ErrInvalid, MaxClosure)
	}
	err = s.retry(func(tx *badger.Txn) error {
		p, err := getPlan(tx, planID)
		if err != nil {
			return err
		}
		switch {
		case p.Closed != nil:
			out, dup = p, true
			return nil
		case !p.Active:
			return fmt.Errorf("%w: plan %s is not active here", ErrState, planID)
		}
		p.Active, p.End, p.Closed = false, c.At, &c
		out, dup = p, false
		if err := setJSON(tx, planKey(p.ID), p); err != nil {
			return err
		}
		return tx.Delete(patientPlanKey(p.Patient))
	})
	return out, dup, err
}

// Stats are one parameter's readings over a period.
type Stats struct {
	Count     int
	Min, Max  float64
	Sum       float64
	Breaches  int // readings below Low or above High of the threshold
	Days      int // Italian calendar days with readings
	FirstDay  float64
	LastDay   float64 // means of the first and last of those days
	firstDate string
	lastDate  string
	lastSum   float64
	lastCount int
}

// Summarize reads a parameter's readings in [from, to) once, counting
// those beyond t.
func (s *Store) Summarize(patient, code string, from, to time.Time, t Threshold) (Stats, error) {
	var st Stats
	prefix := seriesPrefix(patient, code)
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(max(from.UnixNano(), 0)))); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			at := time.Unix(0, int64(binary.BigEndian.Uint64(k)))
			if !at.Before(to) {
				break
			}
			var v float64
			if err := it.Item().Value(func(b []byte) error {
				if len(b) != 8 {
					return fmt.Errorf("a reading of %d bytes", len(b))
				}
				v = math.Float64frombits(binary.BigEndian.Uint64(b))
				return nil
			}); err != nil {
				return err
			}
			st.add(v, at.In(rome).Format("20060102"), t)
		}
		return nil
	})
	st.close()
	return st, err
}

func (st *Stats) add(v float64, date string, t Threshold) {
	if st.Count == 0 || v < st.Min {
		st.Min = v
	}
	if st.Count == 0 || v > st.Max {
		st.Max = v
	}
	st.Count++
	st.Sum += v
	if t.Low != nil && v < *t.Low || t.High != nil && v > *t.High {
		st.Breaches++
	}
	if date != st.lastDate {
		st.close()
		st.Days++
		st.lastDate, st.lastSum, st.lastCount = date, 0, 0
	}
	st.lastSum += v
	st.lastCount++
}

// close folds the day being read into the first and last day's means.
func (st *Stats) close() {
	if st.lastCount == 0 {
		return
	}
	mean := st.lastSum / float64(st.lastCount)
	if st.firstDate == "" || st.firstDate == st.lastDate {
		st.firstDate, st.FirstDay = st.lastDate, mean
	}
	st.LastDay = mean
}
