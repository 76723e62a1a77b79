package monitor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

const patient = "CF:RSSMRA80A01H501U"

func ptr(f float64) *float64 { return &f }

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func plan(start time.Time) Plan {
	return Plan{ID: "030-tm-1", Patient: patient, Devices: []string{"bilancia-1", "sfigmo-1"}, Start: start, Active: true,
		Thresholds: map[string]Threshold{
			Weight:    {High: ptr(90), Sustained: 3},
			Systolic:  {Low: ptr(90), High: ptr(160)},
			Diastolic: {High: ptr(100)},
		}}
}

func TestNormalise(t *testing.T) {
	tests := []struct {
		name, code, unit string
		value, want      float64
		ok               bool
	}{
		{"kilograms", Weight, "kg", 72.5, 72.5, true},
		{"pounds", Weight, "[lb_av]", 160, 72.5747792, true},
		{"glucose in mmol/L", Glucose, "mmol/L", 5.5, 99.088, true},
		{"kPa", Systolic, "kPa", 16, 120.00986928, true},
		{"beats per minute", HeartRate, "{beats}/min", 70, 70, true},
		{"SpO2 as the guide's measurements code it", "2708-6", "%", 97, 97, true},
		{"an unknown code", "1234-5", "kg", 1, 0, false},
		{"a wrong unit", Weight, "mm[Hg]", 70, 0, false},
		{"an impossible weight", Weight, "kg", 4000, 0, false},
		{"SpO2 over 100", SpO2, "%", 101, 0, false},
		{"NaN", HeartRate, "/min", nanValue(), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalise(tt.code, tt.value, tt.unit)
			if (err == nil) != tt.ok || tt.ok && (got-tt.want > 1e-6 || tt.want-got > 1e-6) {
				t.Fatalf("%v %v, want %v ok=%v", got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func nanValue() float64 { var z float64; return z / z }

// Resends dropped by time and by identifier, late and out-of-order
// readings kept in order, a refused reading refusing its whole batch.
func TestIngest(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	if _, err := s.Ingest([]Reading{{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 70, Time: start}}); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("a reading without a plan: %v", err)
	}
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	w := func(day int, v float64, id string) Reading {
		return Reading{Patient: patient, Device: "bilancia-1", Code: Weight, Value: v, Time: start.Add(time.Duration(day) * 24 * time.Hour), Identifier: id}
	}
	res, err := s.Ingest([]Reading{w(2, 70, "a"), w(1, 71, "b"), w(3, 72, "c")})
	if err != nil || res.Stored != 3 || res.Duplicates != 0 {
		t.Fatalf("first batch: %+v %v", res, err)
	}
	// The device resends, with one new reading late (day 0).
	res, err = s.Ingest([]Reading{w(2, 70, "a"), w(1, 71, ""), {Patient: patient, Device: "bilancia-1", Code: Weight, Value: 72, Time: start.Add(time.Hour), Identifier: "c"}, w(0, 69, "d")})
	if err != nil || res.Stored != 1 || res.Duplicates != 3 {
		t.Fatalf("a resend: %+v %v", res, err)
	}
	got, next, err := s.Series(patient, Weight, Cursor{}, time.Time{}, 3)
	if err != nil || len(got) != 3 || next.Time.IsZero() || got[0].Value != 69 || got[2].Value != 70 || got[0].Device != "bilancia-1" {
		t.Fatalf("series: %+v %v %v", got, next, err)
	}
	rest, next, err := s.Series(patient, Weight, next, time.Time{}, 3)
	if err != nil || len(rest) != 1 || !next.Time.IsZero() || rest[0].Value != 72 {
		t.Fatalf("the next page: %+v %v %v", rest, next, err)
	}
	bad := []struct {
		name string
		r    Reading
	}{
		{"a device not associated", Reading{Patient: patient, Device: "altro", Code: Weight, Value: 70, Time: start}},
		{"a parameter the plan does not measure", Reading{Patient: patient, Device: "bilancia-1", Code: SpO2, Value: 97, Time: start}},
		{"a reading from the future", w(60, 70, "")},
		{"a reading from before the plan", w(-3, 70, "")},
		{"an impossible value", w(5, 4000, "")},
		{"a stored reading with another value", w(2, 75, "")},
		{"an identifier of a reading with another value", w(12, 75, "a")},
		{"a patient without a plan", Reading{Patient: "CF:VRDLGU85M41F839J", Device: "bilancia-1", Code: Weight, Value: 70, Time: start}},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := s.Ingest([]Reading{w(10, 70, "ok-"+b.name), b.r})
			var inv *InvalidReading
			if err == nil || !errors.As(err, &inv) && !errors.Is(err, ErrNoPlan) {
				t.Fatalf("accepted: %v", err)
			}
			if inv != nil && inv.Index != 1 {
				t.Fatalf("the refused reading is %d, not 1", inv.Index)
			}
			if got, _, _ := s.Series(patient, Weight, Cursor{Time: start.Add(10 * 24 * time.Hour)}, start.Add(11*24*time.Hour), 10); len(got) != 0 {
				t.Fatalf("a refused batch stored %v", got)
			}
		})
	}
	if _, err := s.Ingest(make([]Reading, MaxBatch+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an oversized batch: %v", err)
	}
}

// A threshold breached for its sustained number of readings raises one
// alert per run, kept in the outbox until delivered.
func TestThresholds(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-24 * time.Hour).UTC()
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }
	var alerts []Alert
	for i, v := range []float64{91, 92, 89, 91, 93, 95, 96, 80, 95, 96, 97} { // runs of 2, 4 (alert at its 3rd), 3 (alert)
		res, err := s.Ingest([]Reading{{Patient: patient, Device: "bilancia-1", Code: Weight, Value: v, Time: at(i)}})
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, res.Alerts...)
	}
	if len(alerts) != 2 || alerts[0].Value != 95 || alerts[1].Value != 97 || alerts[0].Kind != "high" || alerts[0].Seq >= alerts[1].Seq {
		t.Fatalf("alerts: %+v", alerts)
	}
	// One reading enough for blood pressure; low and high both.
	res, err := s.Ingest([]Reading{
		{Patient: patient, Device: "sfigmo-1", Code: Systolic, Value: 85, Time: at(20)},
		{Patient: patient, Device: "sfigmo-1", Code: Diastolic, Value: 70, Time: at(20)},
		{Patient: patient, Device: "sfigmo-1", Code: Systolic, Value: 170, Time: at(21)},
	})
	if err != nil || len(res.Alerts) != 1 || res.Alerts[0].Kind != "low" {
		t.Fatalf("blood pressure: %+v %v", res, err)
	}
	pending, err := s.Pending(10)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	if err := s.Delivered(pending[0].Seq); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.Pending(10); len(pending) != 2 {
		t.Fatalf("after delivery: %+v", pending)
	}
}

// Daily aggregates agree with the readings, whatever order they arrive
// in and however often they are resent, also under concurrent batches.
func TestDailyAggregates(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-10 * 24 * time.Hour).UTC().Truncate(24 * time.Hour)
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []Reading
	for i := range 600 {
		all = append(all, Reading{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 60 + float64(rng.IntN(300))/10,
			Time: start.Add(time.Duration(i) * 23 * time.Minute), Identifier: fmt.Sprint(i)})
	}
	shuffled := slices.Clone(all)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var wg sync.WaitGroup
	for w := range 4 { // every reading sent twice, by batches of 50 in four goroutines
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * 50; i < len(shuffled); i += 200 {
				for range 2 {
					if _, err := s.Ingest(shuffled[i:min(i+50, len(shuffled))]); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	want := map[string]*Day{}
	for _, r := range all {
		d := r.Time.In(rome).Format(time.DateOnly)
		if want[d] == nil {
			want[d] = &Day{Date: d, Min: r.Value, Max: r.Value}
		}
		w := want[d]
		w.Count++
		w.Avg += r.Value
		w.Min, w.Max = min(w.Min, r.Value), max(w.Max, r.Value)
	}
	got, err := s.Daily(patient, Weight, start, start.Add(30*24*time.Hour))
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d days, want %d (%v)", len(got), len(want), err)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].Date < got[j].Date }) {
		t.Fatal("days out of order")
	}
	for _, g := range got {
		w := want[g.Date]
		if g.Count != w.Count || g.Min != w.Min || g.Max != w.Max || abs(g.Avg-w.Avg/float64(w.Count)) > 1e-9 {
			t.Fatalf("%s: %+v, want count %d min %v max %v", g.Date, g, w.Count, w.Min, w.Max)
		}
	}
}

func abs(f float64) float64 { return max(f, -f) }

// The care team's side: an alert delivered twice is kept once; the first
// acknowledgement stands; left open, it goes to the next member once
// per member.
func TestInbox(t *testing.T) {
	s := open(t)
	now := time.Now().UTC()
	s.now = func() time.Time { return now }
	a := Alert{Seq: 7, Home: "030", Team: Team{Region: "150", Members: []string{"A", "B"}}, Plan: "030-tm-1", Patient: patient, Code: Weight, Kind: "high", Value: 95}
	if _, dup, err := s.Receive(a); err != nil || dup {
		t.Fatal(err, dup)
	}
	if in, dup, err := s.Receive(a); err != nil || !dup || in.ID != "030-7" {
		t.Fatalf("again: %+v %v %v", in, dup, err)
	}
	b := a
	b.Seq = 8
	if _, _, err := s.Receive(b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Receive(Alert{Seq: 9}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an alert without its home: %v", err)
	}
	if in, err := s.Acknowledge("030-7", "A"); err != nil || in.AckBy != "A" {
		t.Fatalf("ack: %+v %v", in, err)
	}
	if in, err := s.Acknowledge("030-7", "B"); err != nil || in.AckBy != "A" {
		t.Fatalf("a second ack: %+v %v", in, err)
	}
	if _, err := s.Acknowledge("030-99", "A"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown alert: %v", err)
	}
	if esc, _ := s.Escalate(time.Minute); len(esc) != 0 {
		t.Fatalf("escalated before its time: %+v", esc)
	}
	now = now.Add(2 * time.Minute)
	if esc, err := s.Escalate(time.Minute); err != nil || len(esc) != 1 || esc[0].ID != "030-8" || esc[0].Assignee != 1 {
		t.Fatalf("escalate: %+v %v", esc, err)
	}
	now = now.Add(2 * time.Minute)
	if esc, _ := s.Escalate(time.Minute); len(esc) != 0 {
		t.Fatalf("escalated past the last member: %+v", esc)
	}
	if open, _ := s.Inbox("B", true); len(open) != 1 {
		t.Fatalf("B's open alerts: %+v", open)
	}
	if all, _ := s.Inbox("C", false); len(all) != 0 {
		t.Fatalf("a stranger's alerts: %+v", all)
	}
}

// A parameter left unmeasured raises one "missing" alert per gap.
func TestMissingMeasurements(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-72 * time.Hour).UTC()
	p := plan(start)
	p.Every = 24 * time.Hour
	p.Thresholds = map[string]Threshold{Weight: {High: ptr(90)}}
	if err := s.PutPlan(p); err != nil {
		t.Fatal(err)
	}
	now := start.Add(40 * time.Hour) // nothing since the start, past a day and a half: missing
	a, err := s.CheckMissing(now)
	if err != nil || len(a) != 1 || a[0].Kind != "missing" || a[0].Code != Weight {
		t.Fatalf("first check: %+v %v", a, err)
	}
	if a, _ := s.CheckMissing(now.Add(time.Hour)); len(a) != 0 {
		t.Fatalf("raised twice for one gap: %+v", a)
	}
	if _, err := s.Ingest([]Reading{{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 70, Time: start.Add(31 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.CheckMissing(start.Add(45 * time.Hour)); len(a) != 0 {
		t.Fatalf("missing right after a reading: %+v", a)
	}
	if a, _ := s.CheckMissing(start.Add(70 * time.Hour)); len(a) != 1 {
		t.Fatalf("a new gap: %+v", a)
	}
	if pending, _ := s.Pending(10); len(pending) != 2 {
		t.Fatalf("outbox: %+v", pending)
	}
}

// Readings of two devices at one instant are paged one at a time without
// repeating or looping.
func TestSeriesPagesReadingsOfOneInstant(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	var batch []Reading
	for _, d := range []string{"bilancia-1", "sfigmo-1"} {
		for i := range 3 {
			batch = append(batch, Reading{Patient: patient, Device: d, Code: Weight, Value: 70 + float64(i), Time: start.Add(time.Duration(i) * time.Second)})
		}
	}
	if _, err := s.Ingest(batch); err != nil {
		t.Fatal(err)
	}
	var seen []string
	cur := Cursor{}
	for page := 0; page < 10; page++ {
		got, next, err := s.Series(patient, Weight, cur, time.Time{}, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("page %d: %v %v", page, got, err)
		}
		seen = append(seen, got[0].Device+got[0].Time.String())
		if next.Time.IsZero() {
			break
		}
		cur = next
	}
	if len(seen) != 6 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 6 {
		t.Fatalf("pages: %v", seen)
	}
}

// Runs are counted in time order: a backlog sent out of order raises the
// alert its readings' times make, and a late reading neither breaks nor
// extends a run.
func TestRunsInTimeOrder(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	p := plan(start)
	p.Thresholds = map[string]Threshold{Weight: {High: ptr(90), Sustained: 3}}
	if err := s.PutPlan(p); err != nil {
		t.Fatal(err)
	}
	w := func(min int, v float64) Reading {
		return Reading{Patient: patient, Device: "bilancia-1", Code: Weight, Value: v, Time: start.Add(time.Duration(min) * time.Minute)}
	}
	// Times N(0) H(1) H(2) H(3), sent as H(2) H(1) N(0) H(3): one run of three.
	res, err := s.Ingest([]Reading{w(2, 95), w(1, 95), w(0, 80), w(3, 95)})
	if err != nil || len(res.Alerts) != 1 || !res.Alerts[0].Time.Equal(start.Add(3*time.Minute)) {
		t.Fatalf("a backlog out of order: %+v %v", res, err)
	}
	// A late normal reading (minute 1.5) does not break the run; the run
	// goes on without a second alert.
	if res, err := s.Ingest([]Reading{{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 80, Time: start.Add(90 * time.Second)}, w(4, 96)}); err != nil || len(res.Alerts) != 0 {
		t.Fatalf("a late reading: %+v %v", res, err)
	}
	if res, err := s.Ingest([]Reading{w(5, 80), w(6, 95), w(7, 95), w(8, 95)}); err != nil || len(res.Alerts) != 1 {
		t.Fatalf("a new run: %+v %v", res, err)
	}
}

// A plan moved: exported in pages and imported (a page sent twice kept
// once), digests equal on both sides, the old store forgetting every
// reading but the pointer.
func TestMove(t *testing.T) {
	from, to := open(t), open(t)
	start := time.Now().Add(-20 * time.Hour).UTC().Truncate(time.Second)
	p := plan(start)
	if err := from.PutPlan(p); err != nil {
		t.Fatal(err)
	}
	var batch []Reading
	for i := range 250 {
		batch = append(batch, Reading{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 60 + float64(i%30), Time: start.Add(time.Duration(i) * time.Minute)},
			Reading{Patient: patient, Device: "sfigmo-1", Code: Systolic, Value: 120, Time: start.Add(time.Duration(i) * time.Minute)})
		if len(batch) == 500 {
			if _, err := from.Ingest(batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	plans, err := from.ActivePlans()
	if err != nil || len(plans) != 1 {
		t.Fatal(plans, err)
	}
	var after []byte
	for pages := 0; ; pages++ {
		rs, next, err := from.Export(patient, after, 120)
		if err != nil || pages > 10 {
			t.Fatal(err, pages)
		}
		for range 2 { // a page sent again after a cut
			if _, err := to.Import(plans[0], rs); err != nil {
				t.Fatal(err)
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	n1, h1, _ := from.Digest(patient)
	n2, h2, _ := to.Digest(patient)
	if n1 != 500 || n1 != n2 || h1 != h2 {
		t.Fatalf("digests: %d %s, %d %s", n1, h1, n2, h2)
	}
	if days, _ := to.Daily(patient, Weight, start, start.Add(48*time.Hour)); len(days) == 0 || days[0].Count+func() int {
		if len(days) > 1 {
			return days[1].Count
		}
		return 0
	}() != 250 {
		t.Fatalf("aggregates at the new home: %+v", days)
	}
	if _, err := to.Ingest([]Reading{{Patient: patient, Device: "bilancia-1", Code: Weight, Value: 70, Time: start.Add(19 * time.Hour)}}); err != nil {
		t.Fatalf("ingestion at the new home: %v", err)
	}
	if err := from.Forget(plans[0], "150", n1-1); !errors.Is(err, ErrState) {
		t.Fatalf("forgotten with a reading not sent: %v", err)
	}
	if err := from.Forget(plans[0], "150", n1); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := from.Digest(patient); n != 0 {
		t.Fatalf("%d readings left at the old home", n)
	}
	if r, _ := from.MovedTo(patient); r != "150" {
		t.Fatalf("pointer: %q", r)
	}
	if _, err := from.PlanOf(patient); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("the old home still monitors: %v", err)
	}
}
