package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index/doctype"
)

// replica is a one-voter consensus node with the index registered.
type replica struct {
	t    *testing.T
	node *consensus.Node
}

func newReplica(t *testing.T) *replica {
	t.Helper()
	return &replica{t: t, node: consensustest.NewReplica(t, New())}
}

func (r *replica) apply(cmd consensus.Command, err error) (consensus.Result, error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("building the command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.node.Apply(ctx, cmd)
}

func (r *replica) must(cmd consensus.Command, err error) consensus.Result {
	r.t.Helper()
	res, err := r.apply(cmd, err)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

func (r *replica) read(fn func(Reader) error) {
	r.t.Helper()
	if _, err := r.node.Read(context.Background(), consensus.Local, fn); err != nil {
		r.t.Fatal(err)
	}
}

func (r *replica) entry(id string) Entry {
	r.t.Helper()
	var e Entry
	r.read(func(rd Reader) error {
		var ok bool
		var err error
		e, ok, err = GetEntry(rd, id)
		if err == nil && !ok {
			err = errors.New("missing entry " + id)
		}
		return err
	})
	return e
}

func (r *replica) patientEntries(id string) []Entry {
	r.t.Helper()
	var out []Entry
	r.read(func(rd Reader) error {
		var err error
		out, err = PatientEntries(rd, id)
		return err
	})
	return out
}

const (
	mario = "CF:RSSMRA80A01H501U"
	teo   = "CF:MRTMTT25D09F205Z"
)

func patient(id, region string) Patient {
	return Patient{ID: id, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: region}
}

func doc(local, pat, loinc string, class string) Entry {
	sum := sha256.Sum256([]byte(local))
	return Entry{ID: DocumentID("030", local), Patient: pat, Type: loinc, Class: dclass(class), Created: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		AuthorOrg: "030-ASST-01", Custodian: "030", Hash: hex.EncodeToString(sum[:]), Size: 1234, MIME: "application/pdf"}
}

func TestRegistry(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	// A move of home region is one update; the history keeps both.
	r.must(PutPatient(patient(mario, "160")))
	r.must(SetConsent(ConsentChange{Patient: mario, Given: true}))
	r.must(SetDeceased(Death{Patient: mario, Date: "2026-11-20"}))
	var p Patient
	r.read(func(rd Reader) error { p, _, _ = GetPatient(rd, mario); return nil })
	if p.HomeRegion != "160" || len(p.Homes) != 2 || p.Homes[0].Region != "030" || !p.Consent.Given || p.Deceased != "2026-11-20" {
		t.Fatalf("patient %+v", p)
	}
	// Updating demographics keeps consent and history.
	upd := patient(mario, "160")
	upd.Family = "Rossi Bianchi"
	r.must(PutPatient(upd))
	r.read(func(rd Reader) error { p, _, _ = GetPatient(rd, mario); return nil })
	if p.Family != "Rossi Bianchi" || !p.Consent.Given || len(p.Homes) != 2 {
		t.Fatalf("after an update: %+v", p)
	}

	bad := []struct {
		name string
		p    Patient
	}{
		{"bad codice fiscale", patient("CF:RSSMRA80A01H501A", "030")},
		{"unknown region", patient(mario, "999")},
		{"bad birth date", func() Patient { x := patient(mario, "030"); x.BirthDate = "01/01/1980"; return x }()},
		{"bad gender", func() Patient { x := patient(mario, "030"); x.Gender = "m"; return x }()},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := PutPatient(tt.p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// The state machine checks again whatever reaches the log.
	raw := consensus.Command{Type: TypePutPatient, Version: version1, Payload: []byte(`{"id":"CF:RSSMRA80A01H501U","home_region":"030","extra":1}`)}
	if _, err := r.apply(raw, nil); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
	raw.Payload = []byte(`{"id":"CF:RSSMRA80A01H501U","home_region":"999"}`)
	if _, err := r.apply(raw, nil); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("bad region through the log: %v", err)
	}
	if _, err := r.apply(SetConsent(ConsentChange{Patient: teo, Given: true})); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("consent of an unknown patient: %v", err)
	}
}

func TestVersionChain(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	v1 := doc("lab-1", mario, "11502-2", "REF")
	r.must(Publish(v1))
	if _, err := r.apply(Publish(v1)); !errors.Is(err, consensus.ErrAlreadyExists) {
		t.Fatalf("same id twice: %v", err)
	}
	v2 := doc("lab-1-v2", mario, "11502-2", "REF")
	v2.Replaces = v1.ID
	r.must(Publish(v2))
	if e := r.entry(v1.ID); e.Status != StatusSuperseded {
		t.Fatalf("v1 after the replace: %s", e.Status)
	}
	if e := r.entry(v2.ID); e.Status != StatusCurrent || e.Chain != v1.ID || e.Version != 2 {
		t.Fatalf("v2: %+v", e)
	}
	// Replacing a superseded version would make two current ones: refused.
	v3 := doc("lab-1-v3", mario, "11502-2", "REF")
	v3.Replaces = v1.ID
	if _, err := r.apply(Publish(v3)); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("replace of a superseded version: %v", err)
	}
	// Withdrawing the current version makes the previous one current.
	r.must(Withdraw(v2.ID))
	if a, b := r.entry(v1.ID), r.entry(v2.ID); a.Status != StatusCurrent || b.Status != StatusEnteredErr {
		t.Fatalf("after withdrawal: v1 %s, v2 %s", a.Status, b.Status)
	}
	r.read(func(rd Reader) error {
		cur, ok, err := CurrentVersion(rd, v1.ID)
		if err != nil || !ok || cur != v1.ID {
			t.Fatalf("current version %q %v %v", cur, ok, err)
		}
		// The patient index's attributes follow the status changes.
		current := 0
		isCurrent := func(a Attrs) bool { return a.Status == StatusCurrent }
		if err := ByPatient(rd, mario, Range{}, isCurrent, func(e Entry) bool {
			if e.Status != StatusCurrent {
				t.Errorf("index attributes say current, entry %s says %s", e.ID, e.Status)
			}
			current++
			return true
		}); err != nil || current != 1 {
			t.Fatalf("%d current versions (%v)", current, err)
		}
		mine := 0
		if err := ByCustodian(rd, "030", Range{}, func(Entry) bool { mine++; return true }); err != nil || mine != 2 {
			t.Fatalf("custodian index: %d versions (%v)", mine, err)
		}
		return nil
	})
	// Blinding is a metadata update in place.
	r.must(UpdateEntry(EntryUpdate{ID: v1.ID, Events: []string{EventHidden}}))
	if e := r.entry(v1.ID); !e.Hidden() {
		t.Fatal("P99 not recorded")
	}
	if _, err := r.apply(UpdateEntry(EntryUpdate{ID: v1.ID, Events: []string{EventHidden, EventNotHidden}})); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("P99 with P00: %v", err)
	}
	// The producer's metadata update: the patient index's attributes
	// follow the new setting, and the events given replace the old ones.
	start := time.Date(2026, 10, 30, 9, 0, 0, 0, time.UTC)
	r.must(UpdateEntry(EntryUpdate{ID: v1.ID, Setting: "AD_PSC026", Facility: "Territorio", ServiceStart: start}))
	if e := r.entry(v1.ID); e.Setting != "AD_PSC026" || e.Facility != "Territorio" || !e.ServiceStart.Equal(start) || e.Hidden() {
		t.Fatalf("after the metadata update: %+v", e)
	}
	r.read(func(rd Reader) error {
		n := 0
		err := ByPatient(rd, mario, Range{}, func(a Attrs) bool { return a.Setting == "AD_PSC026" }, func(Entry) bool { n++; return true })
		if err != nil || n != 1 {
			t.Fatalf("search by the new setting: %d (%v)", n, err)
		}
		return nil
	})
	if _, err := r.apply(UpdateEntry(EntryUpdate{ID: v1.ID, ServiceStop: start.Add(-time.Hour)})); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("service stop before its start: %v", err)
	}
}

func TestPublishRefusals(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	tests := []struct {
		name   string
		mutate func(*Entry)
	}{
		{"type and class disagree", func(e *Entry) { e.Class = "LDO" }},
		{"not an FSE type", func(e *Entry) { e.Type = "12345-6" }},
		{"custodian is not the id's region", func(e *Entry) { e.Custodian = "150" }},
		{"bad id", func(e *Entry) { e.ID = "lab-1" }},
		{"bad hash", func(e *Entry) { e.Hash = "abc" }},
		{"bad confidentiality", func(e *Entry) { e.Confidentiality = "X" }},
		{"no author organisation", func(e *Entry) { e.AuthorOrg = "" }},
		{"two relations", func(e *Entry) { e.Replaces = DocumentID("030", "a"); e.Appends = DocumentID("030", "b") }},
		{"stop before start", func(e *Entry) { e.ServiceStart = time.Now(); e.ServiceStop = e.ServiceStart.Add(-time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := doc("x", mario, "11502-2", "REF")
			tt.mutate(&e)
			if _, err := Publish(e); err == nil {
				t.Fatal("accepted by the builder")
			}
			raw, _ := command(TypePublish, e)
			if _, err := r.apply(raw, nil); !errors.Is(err, consensus.ErrInvalid) {
				t.Fatalf("through the log: %v", err)
			}
		})
	}
	if _, err := r.apply(Publish(doc("y", teo, "11502-2", "REF"))); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("unregistered patient: %v", err)
	}
	orphan := doc("z", mario, "11502-2", "REF")
	orphan.Replaces = DocumentID("030", "never")
	if _, err := r.apply(Publish(orphan)); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("replacing an unknown document: %v", err)
	}
}

func TestMergeRepointsEveryEntryAndMoveChangesNothing(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	r.must(PutPatient(patient(teo, "030")))
	for _, local := range []string{"a", "b", "c"} {
		r.must(Publish(doc(local, teo, "60591-5", "SUM")))
	}
	r.must(Publish(doc("d", mario, "11502-2", "REF")))
	before := r.patientEntries(teo)

	// A move of home region leaves the index as it is.
	r.must(PutPatient(patient(teo, "160")))
	if after := r.patientEntries(teo); len(after) != 3 || after[0].Custodian != "030" || after[0].Patient != teo {
		t.Fatalf("the move changed the index: %+v", after)
	}

	res := r.must(Merge(MergeRequest{Survivor: mario, Merged: teo}))
	if len(res.Value) == 0 {
		t.Fatal("merge returned nothing")
	}
	if got := r.patientEntries(teo); len(got) != 0 {
		t.Fatalf("%d entries still under the merged identity", len(got))
	}
	got := r.patientEntries(mario)
	if len(got) != 4 {
		t.Fatalf("survivor has %d entries, want 4", len(got))
	}
	for _, e := range before {
		if r.entry(e.ID).Patient != mario {
			t.Fatalf("entry %s not re-pointed", e.ID)
		}
	}
	var dup Patient
	r.read(func(rd Reader) error { dup, _, _ = GetPatient(rd, teo); return nil })
	if dup.MergedInto != mario {
		t.Fatalf("merged identity %+v", dup)
	}
	if _, err := r.apply(Publish(doc("e", teo, "11502-2", "REF"))); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("publishing for a merged identity: %v", err)
	}
	if _, err := r.apply(Merge(MergeRequest{Survivor: mario, Merged: mario})); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("merge into itself: %v", err)
	}
}

// FuzzDecodePayloads feeds garbage to the payload decoding and validation
// every command goes through: it must never panic, and what it accepts
// must survive a round trip.
func FuzzDecodePayloads(f *testing.F) {
	e := doc("a", mario, "11502-2", "REF")
	for _, v := range []any{patient(mario, "030"), e, MergeRequest{Survivor: mario, Merged: teo}, EntryUpdate{ID: e.ID, Events: []string{"P99"}}} {
		cmd, _ := command("x", v)
		f.Add(cmd.Payload)
	}
	f.Add([]byte(`{"id":`))
	f.Add([]byte(`{} {}`))
	f.Add(EncodeEntry(&e))
	f.Add(encodePatient(&Patient{ID: mario, HomeRegion: "030", Homes: []HomeChange{{Region: "030"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodePatient(b); err == nil {
			if again, err := decodePatient(encodePatient(&p)); err != nil || again.ID != p.ID || len(again.Homes) != len(p.Homes) {
				t.Fatalf("patient record changes over a round trip: %v", err)
			}
		}
		if d, err := DecodeEntry(b); err == nil {
			again, err := DecodeEntry(EncodeEntry(&d))
			if err != nil {
				t.Fatalf("re-encoded entry refused: %v", err)
			}
			if d2, _ := DecodeEntry(EncodeEntry(&again)); !reflect.DeepEqual(again, d2) {
				t.Fatalf("entry changes over a round trip:\n%+v\n%+v", again, d2)
			}
			if d.validate() == nil {
				if _, err := Publish(d); err != nil {
					t.Fatalf("valid entry refused by the builder: %v", err)
				}
			}
		}
		var p Patient
		if consensus.DecodeJSON(b, &p) == nil && p.validate() == nil {
			if _, err := PutPatient(p); err != nil {
				t.Fatalf("valid patient refused by the builder: %v", err)
			}
		}
		var e Entry
		if consensus.DecodeJSON(b, &e) == nil && e.validate() == nil {
			if _, err := Publish(e); err != nil {
				t.Fatalf("valid entry refused by the builder: %v", err)
			}
		}
		var u EntryUpdate
		_ = consensus.DecodeJSON(b, &u)
		_ = validEvents(u.Events)
		var m MergeRequest
		_ = consensus.DecodeJSON(b, &m)
	})
}

func dclass(s string) doctype.Class { return doctype.Class(s) }

func TestFeedingStatistics(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	r.must(PutPatient(patient(teo, "030")))
	r.must(Publish(doc("a", mario, "11502-2", "REF")))
	r.must(Publish(doc("b", mario, "60591-5", "SUM")))
	r.must(Publish(doc("c", teo, "11502-2", "REF")))
	var f Feeding
	r.read(func(rd Reader) error { var err error; f, err = FeedingOf(rd, "030", "", ""); return err })
	month := time.Now().UTC().Format("2006-01")
	if f.PatientsWithDocs != 2 || f.PatientsWithSummary != 1 || f.SummaryShare != 0.5 || f.Documents[month]["11502-2"] != 2 || f.Documents[month]["60591-5"] != 1 {
		t.Fatalf("feeding %+v", f)
	}
	// A merge counts the person once.
	r.must(Merge(MergeRequest{Survivor: mario, Merged: teo}))
	r.read(func(rd Reader) error { var err error; f, err = FeedingOf(rd, "030", "", ""); return err })
	if f.PatientsWithDocs != 1 || f.PatientsWithSummary != 1 || f.SummaryShare != 1 {
		t.Fatalf("after the merge: %+v", f)
	}
	r.read(func(rd Reader) error { var err error; f, err = FeedingOf(rd, "030", "2000-01", "2000-12"); return err })
	if len(f.Documents) != 0 {
		t.Fatalf("a range outside the data: %+v", f.Documents)
	}
}

// A merge is one entry: a reader sees every index entry of the merged
// patient under it, or every one under the survivor, never a mix.
func TestMergeIsAllOrNothingUnderConcurrentReads(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	r.must(PutPatient(patient(teo, "030")))
	for i := 0; i < 40; i++ {
		r.must(Publish(doc(fmt.Sprintf("t-%d", i), teo, "11502-2", "REF")))
	}
	r.must(Publish(doc("m-0", mario, "11502-2", "REF")))
	// Readers run until they have seen the state before the merge and
	// after it; one that sees anything else stops and says so.
	stop := make(chan struct{})
	var before, after atomic.Int64
	var mu sync.Mutex
	var problem error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return problem != nil
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var counts [2]int
				_, err := r.node.Read(context.Background(), consensus.Local, func(rd Reader) error {
					a, err := PatientEntries(rd, mario)
					if err != nil {
						return err
					}
					b, err := PatientEntries(rd, teo)
					counts = [2]int{len(a), len(b)}
					return err
				})
				switch {
				case err == nil && counts == [2]int{1, 40}:
					before.Add(1)
					continue
				case err == nil && counts == [2]int{41, 0}:
					after.Add(1)
					continue
				case err == nil:
					err = fmt.Errorf("a reader saw a partial merge: survivor %d, merged %d", counts[0], counts[1])
				}
				mu.Lock()
				if problem == nil {
					problem = err
				}
				mu.Unlock()
				return
			}
		}()
	}
	consensustest.Eventually(t, 10*time.Second, func() bool { return before.Load() > 0 || failed() }, "a read before the merge")
	r.must(Merge(MergeRequest{Survivor: mario, Merged: teo}))
	consensustest.Eventually(t, 10*time.Second, func() bool { return after.Load() > 0 || failed() }, "a read after the merge")
	close(stop)
	wg.Wait()
	if problem != nil {
		t.Fatal(problem)
	}
}
