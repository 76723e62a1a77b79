package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
)

// Structured data. When the index commits a new version of one of the
// region's documents, the version is marked for extraction in the same
// transaction (x/), so no committed document is ever left without its
// facts, whatever stops the node; the extraction worker drains the marks.
// A version's facts, its population rows and its extraction record are
// written, and its mark cleared, in one transaction.
//
//	x/<doc>                                    marked for extraction
//	e/<doc>                                    Extracted: the outcome, the keys written
//	f/<patient>\x00<type>\x00<doc>\x00<seq 4B>  a Fact (JSON)
//	q/<resource>\x00<system>\x00<code>\x00<day 4B>\x00<doc>\x00<seq 4B>  a population row
//	z/<doc>                                    a version whose rows no question counts
//	n/pseudonym                                the region's pseudonym key
var (
	pExtract   = []byte("x/")
	pExtracted = []byte("e/")
	pFact      = []byte("f/")
	pRow       = []byte("q/")
	pExcluded  = []byte("z/")
	kPseudo    = []byte("n/pseudonym")
)

// Extraction outcomes.
const (
	ExtractOK          = "ok"
	ExtractUnsupported = "unsupported" // a document type or format the extraction does not map
	ExtractFailed      = "failed"      // the content could not be read or parsed
)

// Extracted records the extraction of one document version.
type Extracted struct {
	Doc     string    `json:"doc"`
	Patient string    `json:"patient,omitempty"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"` // why it failed: never clinical content
	Facts   int       `json:"facts"`
	Skipped int       `json:"skipped,omitempty"`
	Version int       `json:"version"` // of the extraction
	At      time.Time `json:"at"`
	Keys    []string  `json:"keys,omitempty"` // the fact and row keys written
}

// ExtractionResult is what the worker stores for a version.
type ExtractionResult struct {
	Record Extracted
	Facts  []facts.Fact
	Rows   []facts.Row // Patient and Region are ignored: the store sets the pseudonym
}

// PendingExtractions returns up to max document versions marked for
// extraction.
func (s *Store) PendingExtractions(max int) ([]string, error) {
	var docs []string
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExtract})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(docs) < max; it.Next() {
			docs = append(docs, string(it.Item().Key()[len(pExtract):]))
		}
		return nil
	})
	return docs, err
}

// kExtractVersion is the extraction version every stored version has
// been marked for.
var kExtractVersion = []byte("n/extract-version")

// markBatch bounds the marks one transaction writes.
const markBatch = 10000

// MarkExtraction marks the committed versions of the region's documents
// for extraction: those named, or with all every indexed version whose
// last extraction is older than version (a new extraction's upgrade;
// skipped once the store has been marked for that version), marking
// too the versions no population question may count. It returns how
// many it marked for extraction.
func (s *Store) MarkExtraction(all bool, version int, docs ...string) (int, error) {
	var ids, excl []string
	ids = append(ids, docs...)
	if all {
		err := s.db.View(func(tx *badger.Txn) error {
			var done uint64
			if it, err := tx.Get(kExtractVersion); err == nil {
				if err := it.Value(func(v []byte) error {
					if len(v) == 8 {
						done = binary.BigEndian.Uint64(v)
					}
					return nil
				}); err != nil {
					return err
				}
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			if done >= uint64(max(version, 0)) {
				all = false
				return nil
			}
			it := tx.NewIterator(badger.IteratorOptions{Prefix: pDoc})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				var d Document
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &d) }); err != nil {
					return err
				}
				if d.State == StatePending {
					continue
				}
				if !counted(d) {
					// Versions replaced, withdrawn or hidden before the
					// store kept these marks.
					excl = append(excl, d.ID)
				}
				var rec Extracted
				ok, err := getJSON(tx, cat(pExtracted, []byte(d.ID)), &rec)
				if err != nil {
					return err
				}
				if !ok || rec.Version < version {
					ids = append(ids, d.ID)
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	marked := len(ids)
	for _, set := range []struct {
		prefix []byte
		ids    []string
	}{{pExtract, ids}, {pExcluded, excl}} {
		for len(set.ids) > 0 {
			n := min(len(set.ids), markBatch)
			if err := s.db.Update(func(tx *badger.Txn) error {
				for _, id := range set.ids[:n] {
					if err := tx.Set(cat(set.prefix, []byte(id)), nil); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return 0, err
			}
			set.ids = set.ids[n:]
		}
	}
	if all {
		if err := s.db.Update(func(tx *badger.Txn) error {
			return tx.Set(kExtractVersion, binary.BigEndian.AppendUint64(nil, uint64(max(version, 0))))
		}); err != nil {
			return 0, err
		}
	}
	return marked, nil
}

// DropExtractionMark removes a version's mark without extracting it (a
// version that no longer exists).
func (s *Store) DropExtractionMark(doc string) error {
	return s.db.Update(func(tx *badger.Txn) error { return tx.Delete(cat(pExtract, []byte(doc))) })
}

// PutExtraction replaces a version's facts and rows with res, records
// the outcome and clears the version's mark, in one transaction.
func (s *Store) PutExtraction(res ExtractionResult) error { return s.PutExtractions(res) }

// PutExtractions stores several versions' extractions in one
// transaction (a bulk load; a restore's re-extraction).
func (s *Store) PutExtractions(results ...ExtractionResult) error {
	for _, res := range results {
		if res.Record.Doc == "" || res.Record.Patient == "" {
			return errors.New("store: an extraction needs its document and patient")
		}
	}
	return s.db.Update(func(tx *badger.Txn) error {
		for _, res := range results {
			if err := s.putExtraction(tx, res); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) putExtraction(tx *badger.Txn, res ExtractionResult) error {
	rec := res.Record
	var old Extracted
	if _, err := getJSON(tx, cat(pExtracted, []byte(rec.Doc)), &old); err != nil {
		return err
	}
	for _, k := range old.Keys {
		if err := tx.Delete([]byte(k)); err != nil {
			return err
		}
	}
	rec.Keys = rec.Keys[:0]
	for i := range res.Facts {
		f := &res.Facts[i]
		k := factKey(rec.Patient, f.Type, rec.Doc, f.Seq)
		v, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if err := tx.Set(k, v); err != nil {
			return err
		}
		rec.Keys = append(rec.Keys, string(k))
	}
	pseudo := s.Pseudonym(rec.Patient)
	for i := range res.Rows {
		r := res.Rows[i]
		r.Patient = pseudo
		k := rowKey(&r, rec.Doc, i)
		if err := tx.Set(k, encodeRow(&r)); err != nil {
			return err
		}
		rec.Keys = append(rec.Keys, string(k))
	}
	if err := setJSON(tx, cat(pExtracted, []byte(rec.Doc)), rec); err != nil {
		return err
	}
	return tx.Delete(cat(pExtract, []byte(rec.Doc)))
}

// Extraction returns a version's extraction record.
func (s *Store) Extraction(doc string) (Extracted, bool, error) {
	var rec Extracted
	var ok bool
	err := s.db.View(func(tx *badger.Txn) error {
		var err error
		ok, err = getJSON(tx, cat(pExtracted, []byte(doc)), &rec)
		return err
	})
	return rec, ok, err
}

// ExtractionCounts counts the versions by extraction outcome, and those
// still marked.
func (s *Store) ExtractionCounts() (map[string]int, int, error) {
	out := map[string]int{}
	pending := 0
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExtracted, PrefetchValues: true, PrefetchSize: 64})
		for it.Rewind(); it.Valid(); it.Next() {
			var rec Extracted
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				it.Close()
				return err
			}
			out[rec.Outcome]++
		}
		it.Close()
		it = tx.NewIterator(badger.IteratorOptions{Prefix: pExtract})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			pending++
		}
		return nil
	})
	return out, pending, err
}

// PendingCount counts the versions still marked for extraction (a walk
// of the marks' keys only).
func (s *Store) PendingCount() (int, error) {
	n := 0
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExtract})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// ExtractionFailures returns up to max records of versions whose
// extraction failed, in document order, for the region's operators:
// document and reason, without the patient or the keys written.
func (s *Store) ExtractionFailures(max int) ([]Extracted, error) {
	var out []Extracted
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExtracted, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < max; it.Next() {
			var rec Extracted
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return err
			}
			if rec.Outcome == ExtractFailed {
				rec.Patient, rec.Keys = "", nil
				out = append(out, rec)
			}
		}
		return nil
	})
	return out, err
}

// StoredFact is a fact with the version it comes from.
type StoredFact struct {
	Doc  string
	Fact facts.Fact
}

// PatientFacts calls fn with every fact of the patients (a person's
// identities) of type typ ("" every type), by patient, type and version.
func (s *Store) PatientFacts(patients []string, typ string, fn func(StoredFact) error) error {
	return s.db.View(func(tx *badger.Txn) error {
		for _, p := range patients {
			prefix := cat(pFact, []byte(p), []byte(typ))
			if typ == "" {
				prefix = append(cat(pFact, []byte(p)), 0)
			} else {
				prefix = append(prefix, 0)
			}
			it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix}) // small values, read in place
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				rest := k[len(pFact):]
				var parts [][]byte
				if len(rest) > 5 {
					parts = bytes.SplitN(rest[:len(rest)-5], []byte{0}, 3)
				}
				if len(parts) != 3 {
					it.Close()
					return fmt.Errorf("store: malformed fact key %q", k)
				}
				sf := StoredFact{Doc: string(parts[2])}
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &sf.Fact) }); err != nil {
					it.Close()
					return fmt.Errorf("store: fact %q: %w", k, err)
				}
				if err := fn(sf); err != nil {
					it.Close()
					return err
				}
			}
			it.Close()
		}
		return nil
	})
}

// Scan is one range of population rows: the rows of a resource type
// whose code, in system, equals Code (or starts with it, with Prefix),
// dated in [From, To).
type Scan struct {
	Resource, System, Code string
	Prefix                 bool
	From, To               time.Time
}

// ScanRows calls fn with every row of the scans, and the version it
// comes from; rows whose version is excluded (hidden, withdrawn,
// replaced) are left out. One view serves them all: the exclusions are
// read once, at the same point in time as the rows. Row.Region is not
// set.
func (s *Store) ScanRows(scans []Scan, fn func(doc string, r *facts.Row) error) error {
	return s.db.View(func(tx *badger.Txn) error {
		excluded := map[string]bool{}
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExcluded})
		for it.Rewind(); it.Valid(); it.Next() {
			excluded[string(it.Item().Key()[len(pExcluded):])] = true
		}
		it.Close()
		for _, sc := range scans {
			if err := scanRows(tx, sc, excluded, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanRows is ScanRows of one scan.
func scanRows(tx *badger.Txn, sc Scan, excluded map[string]bool, fn func(doc string, r *facts.Row) error) error {
	from, to := dayOf(sc.From), dayOf(sc.To)
	head := cat(pRow, []byte(sc.Resource), []byte(sc.System), []byte(sc.Code))
	prefix := head
	if !sc.Prefix {
		prefix = append(bytes.Clone(head), 0)
	}
	// Values are small and kept in the LSM tree: read in place, without
	// badger's prefetching (a goroutine per item).
	it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var r facts.Row
	for it.Rewind(); it.Valid(); {
		k := it.Item().Key()
		// <code rest>\x00<day 4B>\x00<doc>\x00<seq 4B>
		rest := k[len(head):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 || len(rest) < i+1+4+1+1+4 {
			return fmt.Errorf("store: malformed row key %q", k)
		}
		codeEnd := len(head) + i // the code's end in k
		day := binary.BigEndian.Uint32(rest[i+1:])
		if day < from {
			// Seek to the window's first day of this code.
			it.Seek(append(append(bytes.Clone(k[:codeEnd]), 0), u32(from)...))
			continue
		}
		if day >= to {
			// Past the window: on to the next code.
			it.Seek(append(bytes.Clone(k[:codeEnd]), 1))
			continue
		}
		doc := rest[i+1+4+1 : len(rest)-5]
		if !excluded[string(doc)] {
			if err := it.Item().Value(func(v []byte) error { return decodeRow(v, &r) }); err != nil {
				return fmt.Errorf("store: row %q: %w", k, err)
			}
			r.Resource, r.System = sc.Resource, sc.System
			r.Code = string(k[len(pRow)+len(sc.Resource)+1+len(sc.System)+1 : codeEnd])
			r.Date = timeOf(day)
			if err := fn(string(doc), &r); err != nil {
				return err
			}
		}
		it.Next()
	}
	return nil
}

// counted reports whether population questions count a version's rows:
// a committed current version that nobody but its patient and author has
// had hidden.
func counted(d Document) bool {
	e := d.Entry
	return d.State == StateIndexed && e.Status == index.StatusCurrent && !e.Hidden() && e.Confidentiality != "V"
}

// syncCounted keeps a version's exclusion mark in step with its record.
func syncCounted(tx *badger.Txn, d Document) error {
	if counted(d) {
		return tx.Delete(cat(pExcluded, []byte(d.ID)))
	}
	return tx.Set(cat(pExcluded, []byte(d.ID)), nil)
}

// Pseudonym is the region's pseudonym of a patient for population rows:
// a keyed hash under a key that never leaves the region's store, so a
// row names nobody and two rows of one person still count once.
func (s *Store) Pseudonym(patient string) uint64 {
	m := hmac.New(sha256.New, s.pseudoKey)
	m.Write([]byte(patient))
	return binary.BigEndian.Uint64(m.Sum(nil))
}

// loadPseudoKey reads the region's pseudonym key, making it on first use.
func (s *Store) loadPseudoKey() error {
	return s.db.Update(func(tx *badger.Txn) error {
		it, err := tx.Get(kPseudo)
		if err == nil {
			s.pseudoKey, err = it.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		s.pseudoKey = key
		return tx.Set(kPseudo, key)
	})
}

func factKey(patient, typ, doc string, seq int) []byte {
	return binary.BigEndian.AppendUint32(append(cat(pFact, []byte(patient), []byte(typ), []byte(doc)), 0), uint32(seq))
}

func rowKey(r *facts.Row, doc string, seq int) []byte {
	k := cat(pRow, []byte(r.Resource), []byte(r.System), []byte(r.Code))
	k = append(k, 0)
	k = append(k, u32(dayOf(r.Date))...)
	k = append(append(k, 0), doc...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(seq))
}

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// epoch is day 0 of row keys; an unknown date is day 0.
var epoch = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

func dayOf(t time.Time) uint32 {
	if t.IsZero() || t.Before(epoch) {
		return 0
	}
	d := t.Sub(epoch) / (24 * time.Hour)
	if d > math.MaxUint32-1 {
		return math.MaxUint32 - 1
	}
	return uint32(d)
}

func timeOf(day uint32) time.Time {
	if day == 0 {
		return time.Time{}
	}
	return epoch.AddDate(0, 0, int(day))
}

// Row values: flags, value, pseudonym, age, then unit, status, gender,
// province and facility, each a length byte and its bytes (at most 255).
func encodeRow(r *facts.Row) []byte {
	b := make([]byte, 0, 32+len(r.Unit)+len(r.Status)+len(r.Gender)+len(r.Province)+len(r.Facility))
	var flags byte
	if r.HasValue {
		flags = 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Value))
	b = binary.BigEndian.AppendUint64(b, r.Patient)
	b = binary.BigEndian.AppendUint16(b, uint16(int16(max(-1, min(r.Age, 32767)))))
	for _, s := range []string{r.Unit, r.Status, r.Gender, r.Province, r.Facility} {
		if len(s) > 255 {
			s = s[:255]
		}
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

var errRow = errors.New("malformed population row")

func decodeRow(b []byte, r *facts.Row) error {
	if len(b) < 19 {
		return errRow
	}
	r.HasValue = b[0]&1 != 0
	r.Value = math.Float64frombits(binary.BigEndian.Uint64(b[1:]))
	r.Patient = binary.BigEndian.Uint64(b[9:])
	r.Age = int(int16(binary.BigEndian.Uint16(b[17:])))
	b = b[19:]
	for _, dst := range []*string{&r.Unit, &r.Status, &r.Gender, &r.Province, &r.Facility} {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return errRow
		}
		n := int(b[0])
		if *dst != string(b[1:1+n]) { // reuse the previous row's string when equal
			*dst = strings.Clone(string(b[1 : 1+n]))
		}
		b = b[1+n:]
	}
	return nil
}
