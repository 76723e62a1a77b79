package store

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
)

// commit publishes a version and has the index commit it as entry.
func commit(t *testing.T, s *Store, id string, e index.Entry) {
	t.Helper()
	op := publish(t, s, id, []byte("content of "+id))
	e.ID, e.Status, e.Hash = id, index.StatusCurrent, sum([]byte("content of "+id))
	if err := s.Complete(op, e); err != nil {
		t.Fatal(err)
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func hba1c(seq int, v float64, date string) (facts.Fact, facts.Row) {
	f := facts.Fact{Seq: seq, Type: facts.Observation, Code: []facts.Coding{{System: facts.SystemLOINC, Code: "59261-8"}},
		Status: "final", Effective: date, Value: &facts.Quantity{Value: v, Unit: "mmol/mol"}, Resource: json.RawMessage(`{"resourceType":"Observation"}`)}
	r := facts.Row{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8", Date: day(date), Value: v, HasValue: true,
		Unit: "mmol/mol", Status: "final", Age: 70, Gender: "female", Province: "MI", Facility: "030101"}
	return f, r
}

func TestCommittedVersionsAreMarkedAndExtractedOnce(t *testing.T) {
	s := openStore(t, t.TempDir())
	commit(t, s, "d1", index.Entry{Patient: "CF:A"})
	pending, err := s.PendingExtractions(10)
	if err != nil || !slices.Equal(pending, []string{"d1"}) {
		t.Fatalf("pending %v, %v; want [d1]", pending, err)
	}
	f, r := hba1c(0, 50, "2026-03-01")
	if err := s.PutExtraction(ExtractionResult{Record: Extracted{Doc: "d1", Patient: "CF:A", Outcome: ExtractOK, Facts: 1, Version: 1},
		Facts: []facts.Fact{f}, Rows: []facts.Row{r}}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.PendingExtractions(10); len(pending) != 0 {
		t.Fatalf("still pending after extraction: %v", pending)
	}
	// Extracting again replaces, never adds.
	f.Value.Value, r.Value = 60, 60
	if err := s.PutExtraction(ExtractionResult{Record: Extracted{Doc: "d1", Patient: "CF:A", Outcome: ExtractOK, Facts: 1, Version: 2},
		Facts: []facts.Fact{f}, Rows: []facts.Row{r}}); err != nil {
		t.Fatal(err)
	}
	var got []float64
	if err := s.PatientFacts([]string{"CF:A"}, facts.Observation, func(sf StoredFact) error {
		if sf.Doc != "d1" {
			t.Errorf("fact of %q, want d1", sf.Doc)
		}
		got = append(got, sf.Fact.Value.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float64{60}) {
		t.Fatalf("facts %v, want [60]", got)
	}
	var rows []float64
	sc := Scan{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8", From: day("2026-01-01"), To: day("2027-01-01")}
	if err := s.ScanRows([]Scan{sc}, func(doc string, r *facts.Row) error { rows = append(rows, r.Value); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, []float64{60}) {
		t.Fatalf("rows %v, want [60]", rows)
	}
	// Older extractions are marked again when the extraction changes.
	if n, err := s.MarkExtraction(true, 3); err != nil || n != 1 {
		t.Fatalf("marked %d, %v; want 1", n, err)
	}
	if n, err := s.MarkExtraction(true, 2); err != nil || n != 0 {
		t.Fatalf("marked %d, %v; want 0 (the extraction is as new as asked)", n, err)
	}
}

func TestScanRowsWindowCodesAndExclusion(t *testing.T) {
	s := openStore(t, t.TempDir())
	put := func(doc, patient string, rows ...facts.Row) {
		t.Helper()
		commit(t, s, doc, index.Entry{Patient: patient})
		if err := s.PutExtraction(ExtractionResult{Record: Extracted{Doc: doc, Patient: patient, Outcome: ExtractOK}, Rows: rows}); err != nil {
			t.Fatal(err)
		}
	}
	_, a := hba1c(0, 40, "2025-12-31")
	_, b := hba1c(0, 50, "2026-01-01")
	_, c := hba1c(0, 55, "2026-12-31")
	_, d := hba1c(0, 70, "2027-01-01")
	other := b
	other.Code = "59261-9"
	vacc := facts.Row{Resource: facts.Immunization, System: facts.SystemATC, Code: "J07BB02", Date: day("2026-10-10"), Age: 80}
	put("d1", "CF:A", a, b)
	put("d2", "CF:B", c, d, other)
	put("d3", "CF:B", vacc)

	scan := func(sc Scan) (out []string) {
		t.Helper()
		if err := s.ScanRows([]Scan{sc}, func(doc string, r *facts.Row) error {
			out = append(out, doc+"/"+r.Code+"/"+r.Date.Format(time.DateOnly))
			if r.Patient == 0 || r.Region != "" {
				t.Errorf("row pseudonym %d region %q", r.Patient, r.Region)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	year := Scan{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8", From: day("2026-01-01"), To: day("2027-01-01")}
	for _, tc := range []struct {
		name string
		sc   Scan
		want []string
	}{
		{"one code, one year", year, []string{"d1/59261-8/2026-01-01", "d2/59261-8/2026-12-31"}},
		{"a code prefix", Scan{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-", Prefix: true, From: day("2026-01-01"), To: day("2027-01-01")},
			[]string{"d1/59261-8/2026-01-01", "d2/59261-8/2026-12-31", "d2/59261-9/2026-01-01"}},
		{"an ATC class", Scan{Resource: facts.Immunization, System: facts.SystemATC, Code: "J07BB", Prefix: true, From: day("2026-01-01"), To: day("2027-01-01")},
			[]string{"d3/J07BB02/2026-10-10"}},
		{"another system", Scan{Resource: facts.Observation, System: facts.SystemSNOMED, Code: "59261-8", From: day("2026-01-01"), To: day("2027-01-01")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scan(tc.sc); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Two rows of one person carry one pseudonym; another person another.
	pseudo := map[string]uint64{}
	_ = s.ScanRows([]Scan{{Resource: facts.Observation, System: facts.SystemLOINC, Code: "5926", Prefix: true, To: day("2100-01-01")}}, func(doc string, r *facts.Row) error {
		if p, ok := pseudo[doc]; ok && p != r.Patient {
			t.Errorf("two pseudonyms for one patient")
		}
		pseudo[doc] = r.Patient
		return nil
	})
	if pseudo["d1"] == pseudo["d2"] {
		t.Fatal("two patients share a pseudonym")
	}

	// Blinding d1 (an update the index commits) takes its rows out of
	// every question; showing it again puts them back.
	blind := func(events ...string) {
		t.Helper()
		op, err := s.Submit(Submission{Op: &Op{Kind: OpUpdate, Doc: "d1", Workflow: "wf-b" + events[0], Operation: "UPDATE"},
			Workflow: Workflow{ID: "wf-b" + events[0], Operation: "UPDATE", Status: WorkflowPending, Created: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := s.Document("d1")
		e := d.Entry
		e.Events = events
		if err := s.Complete(op, e); err != nil {
			t.Fatal(err)
		}
	}
	blind(index.EventHidden)
	if got := scan(year); !slices.Equal(got, []string{"d2/59261-8/2026-12-31"}) {
		t.Fatalf("after blinding: %v", got)
	}
	blind(index.EventNotHidden)
	if got := scan(year); len(got) != 2 {
		t.Fatalf("after unblinding: %v", got)
	}
	// A replacing version supersedes d2: its rows go.
	op := publish(t, s, "d2b", []byte("v2"))
	if err := s.Complete(op, index.Entry{ID: "d2b", Patient: "CF:B", Status: index.StatusCurrent, Replaces: "d2"}); err != nil {
		t.Fatal(err)
	}
	if got := scan(year); !slices.Equal(got, []string{"d1/59261-8/2026-01-01"}) {
		t.Fatalf("after the replacement: %v", got)
	}
}

func TestPutExtractionNeedsItsDocumentAndPatient(t *testing.T) {
	s := openStore(t, t.TempDir())
	if err := s.PutExtraction(ExtractionResult{Record: Extracted{Doc: "d1"}}); err == nil {
		t.Fatal("an extraction without a patient was stored")
	}
}

func TestMalformedRowIsAnError(t *testing.T) {
	var r facts.Row
	for _, b := range [][]byte{nil, make([]byte, 18), append(make([]byte, 19), 5, 'a')} {
		if err := decodeRow(b, &r); !errors.Is(err, errRow) {
			t.Errorf("decodeRow(%v) = %v", b, err)
		}
	}
	in := facts.Row{Value: -1.5, HasValue: true, Patient: 42, Age: -1, Unit: "mmol/mol", Status: "final", Gender: "male", Province: "BA", Facility: "160114"}
	var out facts.Row
	if err := decodeRow(encodeRow(&in), &out); err != nil || out != in {
		t.Fatalf("round trip: %+v, %v; want %+v", out, err, in)
	}
}

// A store from before these marks: its replaced versions are marked as
// excluded when the extraction first runs over it.
func TestUpgradeMarksVersionsReplacedBefore(t *testing.T) {
	s := openStore(t, t.TempDir())
	commit(t, s, "d1", index.Entry{Patient: "CF:A"})
	op := publish(t, s, "d2", []byte("v2"))
	if err := s.Complete(op, index.Entry{ID: "d2", Patient: "CF:A", Status: index.StatusCurrent, Replaces: "d1"}); err != nil {
		t.Fatal(err)
	}
	// As an older build left it: no exclusion marks, no extraction.
	if err := s.db.Update(func(tx *badger.Txn) error {
		for _, k := range [][]byte{cat(pExcluded, []byte("d1")), cat(pExtract, []byte("d1")), cat(pExtract, []byte("d2"))} {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if ex, _ := excludedOf(s); ex["d1"] {
		t.Fatal("the setup left d1 excluded")
	}
	n, err := s.MarkExtraction(true, 1)
	if err != nil || n != 2 {
		t.Fatalf("marked %d, %v; want both versions", n, err)
	}
	ex, err := excludedOf(s)
	if err != nil || !ex["d1"] || ex["d2"] {
		t.Fatalf("excluded %v, %v; want d1 only", ex, err)
	}
}

// excludedOf reads the versions no question counts.
func excludedOf(s *Store) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pExcluded})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out[string(it.Item().Key()[len(pExcluded):])] = true
		}
		return nil
	})
	return out, err
}
