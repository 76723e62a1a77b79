package monitor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/fsenet/fsenet/index/fhirres"
)

// What a device gateway posts: one FHIR Observation, or a Bundle (batch
// or transaction) of them, read strictly enough that a reading is never
// guessed at. Only the elements a reading needs are read.

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type codeable struct {
	Coding []coding `json:"coding"`
}

type reference struct {
	Reference string `json:"reference"`
}

type quantity struct {
	Value      *float64 `json:"value"`
	System     string   `json:"system"`
	Code       string   `json:"code"`
	Comparator string   `json:"comparator"`
}

type observation struct {
	ResourceType string `json:"resourceType"`
	Identifier   []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Status            string     `json:"status"`
	Code              codeable   `json:"code"`
	Subject           *reference `json:"subject"`
	Device            *reference `json:"device"`
	EffectiveDateTime string     `json:"effectiveDateTime"`
	EffectiveInstant  string     `json:"effectiveInstant"`
	ValueQuantity     *quantity  `json:"valueQuantity"`
	Component         []struct {
		Code              codeable        `json:"code"`
		ValueQuantity     *quantity       `json:"valueQuantity"`
		DataAbsentReason  json.RawMessage `json:"dataAbsentReason"`
		ModifierExtension json.RawMessage `json:"modifierExtension"`
	} `json:"component"`
	// Elements that change a reading's meaning: a reading carrying them
	// is refused rather than misread.
	DataAbsentReason  json.RawMessage `json:"dataAbsentReason"`
	ModifierExtension json.RawMessage `json:"modifierExtension"`
}

var (
	deviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$`)
	// a reading's time carries its zone (a FHIR dateTime may be a bare date)
	timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`)
)

// DecodeObservations reads the readings of one Observation or of a Bundle
// of type batch or transaction holding only Observations (at most
// MaxBatch). A blood pressure panel (85354-9) gives a reading per
// component. Values are normalised (Normalise); every error wraps
// ErrInvalid and names the entry.
func DecodeObservations(b []byte) ([]Reading, error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
			Request  *struct {
				Method string `json:"method"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: not a FHIR resource: %v", ErrInvalid, err)
	}
	switch probe.ResourceType {
	case "Observation":
		return decodeObservation(b, "the Observation")
	case "Bundle":
	default:
		return nil, fmt.Errorf("%w: want an Observation or a Bundle of Observations, not %q", ErrInvalid, probe.ResourceType)
	}
	switch {
	case probe.Type != "batch" && probe.Type != "transaction":
		return nil, fmt.Errorf("%w: a Bundle of readings is a batch or a transaction, not %q", ErrInvalid, probe.Type)
	case len(probe.Entry) == 0 || len(probe.Entry) > MaxBatch:
		return nil, fmt.Errorf("%w: a Bundle holds 1 to %d readings", ErrInvalid, MaxBatch)
	}
	var out []Reading
	for i, e := range probe.Entry {
		if e.Request != nil && e.Request.Method != "POST" {
			return nil, fmt.Errorf("%w: entry %d: a reading is created (request.method POST), not %q", ErrInvalid, i, e.Request.Method)
		}
		rs, err := decodeObservation(e.Resource, fmt.Sprintf("entry %d", i))
		if err != nil {
			return nil, err
		}
		for j := range rs {
			rs[j].Entry = i
		}
		out = append(out, rs...)
	}
	if len(out) > MaxBatch {
		return nil, fmt.Errorf("%w: a Bundle holds at most %d readings", ErrInvalid, MaxBatch)
	}
	return out, nil
}

func decodeObservation(b []byte, where string) ([]Reading, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, where, fmt.Sprintf(format, args...))
	}
	var o observation
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&o); err != nil || o.ResourceType != "Observation" {
		return nil, bad("not an Observation")
	}
	switch {
	case o.Status != "final" && o.Status != "preliminary":
		return nil, bad("status %q: a reading is final or preliminary (a stored reading is not corrected)", o.Status)
	case o.DataAbsentReason != nil || o.ModifierExtension != nil:
		return nil, bad("a reading with dataAbsentReason or modifierExtension is not taken")
	}
	r := Reading{}
	var ok bool
	if o.Subject == nil {
		return nil, bad("no subject")
	}
	if r.Patient, ok = fhirres.PatientIDOf(strings.TrimPrefix(o.Subject.Reference, "Patient/")); !ok || !strings.HasPrefix(o.Subject.Reference, "Patient/") {
		return nil, bad("subject: want Patient/CF-<codice fiscale>")
	}
	if o.Device == nil || !strings.HasPrefix(o.Device.Reference, "Device/") || !deviceRE.MatchString(strings.TrimPrefix(o.Device.Reference, "Device/")) {
		return nil, bad("device: want Device/<id>")
	}
	r.Device = strings.TrimPrefix(o.Device.Reference, "Device/")
	when := o.EffectiveDateTime + o.EffectiveInstant
	t, err := time.Parse(time.RFC3339Nano, when)
	if !timeRE.MatchString(when) || err != nil {
		return nil, bad("effectiveDateTime: want a time with its zone, e.g. 2026-12-04T08:00:00+01:00")
	}
	r.Time = t.UTC()
	if len(o.Identifier) > 0 {
		r.Identifier = o.Identifier[0].Value
		if len(r.Identifier) > 100 {
			return nil, bad("identifier: at most 100 characters")
		}
	}
	code := loinc(o.Code)
	if code == BPPanel {
		return components(o, r, bad)
	}
	if o.ValueQuantity == nil {
		return nil, bad("valueQuantity is required")
	}
	if r.Code, r.Value, err = quantityOf(code, o.ValueQuantity); err != nil {
		return nil, bad("%v", err)
	}
	return []Reading{r}, nil
}

// components reads a blood pressure panel as its two readings; each
// keeps the panel's identifier with its code appended, so a resend of
// the panel is dropped whole.
func components(o observation, r Reading, bad func(string, ...any) error) ([]Reading, error) {
	var out []Reading
	for _, c := range o.Component {
		code := loinc(c.Code)
		if code != Systolic && code != Diastolic {
			continue
		}
		if c.ValueQuantity == nil || c.DataAbsentReason != nil || c.ModifierExtension != nil {
			return nil, bad("component %s: valueQuantity is required (no dataAbsentReason, no modifierExtension)", code)
		}
		cr := r
		var err error
		if cr.Code, cr.Value, err = quantityOf(code, c.ValueQuantity); err != nil {
			return nil, bad("component: %v", err)
		}
		if r.Identifier != "" {
			cr.Identifier = r.Identifier + "/" + code
		}
		out = append(out, cr)
	}
	if len(out) != 2 || out[0].Code == out[1].Code {
		return nil, bad("a blood pressure panel carries one systolic (8480-6) and one diastolic (8462-4) component")
	}
	return out, nil
}

func loinc(c codeable) string {
	for _, cd := range c.Coding {
		if cd.System == SystemLOINC {
			return cd.Code
		}
	}
	return ""
}

func quantityOf(code string, q *quantity) (string, float64, error) {
	switch {
	case q.Value == nil:
		return "", 0, fmt.Errorf("%s: the quantity has no value", code)
	case q.System != SystemUCUM:
		return "", 0, fmt.Errorf("%s: the unit is a UCUM code (system %s)", code, SystemUCUM)
	case q.Comparator != "":
		return "", 0, fmt.Errorf("%s: a reading is a value, not a bound (comparator %q)", code, q.Comparator)
	}
	v, err := Normalise(code, *q.Value, q.Code)
	return Canonical(code), v, err
}
