package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// Reader is the replicated state a query reads (a consensus.Reader).
type Reader = consensus.Reader

// GetPatient returns a patient's record as stored (a merged identity
// says which one it was merged into).
func GetPatient(r Reader, id string) (Patient, bool, error) {
	b, ok, err := r.Get(patientKey(id))
	if err != nil || !ok {
		return Patient{}, false, err
	}
	p, err := decodePatient(b)
	if err != nil {
		return Patient{}, false, fmt.Errorf("stored patient %s: %w", id, err)
	}
	return p, true, nil
}

// GetEntry returns one document version.
func GetEntry(r Reader, id string) (Entry, bool, error) {
	b, ok, err := r.Get(entryKey(id))
	if err != nil || !ok {
		return Entry{}, false, err
	}
	e, err := DecodeEntry(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("stored version %s: %w", id, err)
	}
	return e, true, nil
}

// CurrentVersion returns the id of a chain's current version.
func CurrentVersion(r Reader, chain string) (string, bool, error) {
	b, ok, err := r.Get(chainKey(chain))
	return string(b), ok, err
}

// Range bounds a query by creation time; zero values are open.
type Range struct {
	From, To time.Time // From inclusive, To exclusive
}

// ByPatient calls fn for every version indexed for a patient, oldest
// first, within rg. If match is not nil, only versions whose attributes it
// accepts are read. fn returns false to stop. Only the patient's keys are
// read.
func ByPatient(r Reader, patient string, rg Range, match func(Attrs) bool, fn func(Entry) bool) error {
	return scanIndex(r, byPatient, patient, rg, func(id string, v []byte) (bool, error) {
		if match != nil {
			a, err := decodeAttrs(v)
			if err != nil {
				return false, fmt.Errorf("patient %s, version %s: %w", patient, id, err)
			}
			if !match(a) {
				return true, nil
			}
		}
		return visit(r, id, fn)
	})
}

// ByCustodian calls fn for every version a region keeps, oldest first,
// within rg; fn returns false to stop.
func ByCustodian(r Reader, region string, rg Range, fn func(Entry) bool) error {
	return scanIndex(r, byCustodian, region, rg, func(id string, _ []byte) (bool, error) {
		return visit(r, id, fn)
	})
}

func visit(r Reader, id string, fn func(Entry) bool) (bool, error) {
	e, ok, err := GetEntry(r, id)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("index points to missing version %s", id)
	}
	return fn(e), nil
}

var errStop = errors.New("stop")

// scanIndex calls fn with the version id and value of every key under one
// secondary index value within rg, in key (time) order, until fn returns
// false.
func scanIndex(r Reader, name, value string, rg Range, fn func(id string, v []byte) (bool, error)) error {
	prefix := indexPrefix(name, value)
	from, to := "", ""
	if !rg.From.IsZero() {
		from = timeKey(rg.From)
	}
	if !rg.To.IsZero() {
		to = timeKey(rg.To)
	}
	start := prefix
	if from != "" {
		start = append(bytes.Clone(prefix), from...) // seek to the range's first time
	}
	err := r.IterateFrom(prefix, start, func(k, v []byte) error {
		rest := k[len(prefix):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return fmt.Errorf("malformed index key %q", k)
		}
		ts := string(rest[:i])
		if from != "" && ts < from {
			return nil
		}
		if to != "" && ts >= to {
			return errStop
		}
		more, err := fn(string(rest[i+1:]), v)
		if err != nil {
			return err
		}
		if !more {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// PatientEntries returns every version indexed for a patient, oldest
// first.
func PatientEntries(r Reader, patient string) ([]Entry, error) {
	var out []Entry
	err := ByPatient(r, patient, Range{}, nil, func(e Entry) bool {
		out = append(out, e)
		return true
	})
	return out, err
}

// ResourceID is the FHIR id of a document version: FHIR ids allow only
// letters, digits, '-' and '.', so it is derived from the FSE id.
func ResourceID(entryID string) string {
	sum := sha256.Sum256([]byte(entryID))
	return hex.EncodeToString(sum[:16])
}

// EntryByResourceID returns the version whose FHIR id is rid.
func EntryByResourceID(r Reader, rid string) (Entry, bool, error) {
	b, ok, err := r.Get(resKey(rid))
	if err != nil || !ok {
		return Entry{}, false, err
	}
	return GetEntry(r, string(b))
}

// FoldName folds a name for search: lower case, accents kept.
func FoldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// PatientsByIndex calls fn with every patient id under a patient index
// ("fam" with a folded family-name prefix, "bd" with a birth date).
// With prefix set, every value starting with value matches.
func PatientsByIndex(r Reader, name, value string, prefix bool, fn func(id string) bool) error {
	k := []byte("ix/px/" + name + "/" + value)
	if !prefix {
		k = append(k, 0)
	}
	err := r.Iterate(k, func(key, _ []byte) error {
		i := bytes.LastIndexByte(key, 0)
		if i < 0 {
			return fmt.Errorf("malformed patient index key %q", key)
		}
		if !fn(string(key[i+1:])) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// EntryFor reads the version whose FHIR id is rid, its patient and the
// policy's verdict for caller c. found is false when either is absent;
// the caller must then answer exactly as for a version it may not see.
func EntryFor(r Reader, rid string, c Caller) (e Entry, p Patient, acc Access, found bool, err error) {
	e, found, err = EntryByResourceID(r, rid)
	if err != nil || !found {
		return e, p, acc, false, err
	}
	p, found, err = GetPatient(r, e.Patient)
	if err != nil || !found {
		return e, p, acc, false, err
	}
	return e, p, EntryAccess(c, p, e), true, nil
}
