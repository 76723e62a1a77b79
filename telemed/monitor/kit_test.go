package monitor

import (
	"errors"
	"testing"
	"time"
)

func scale(id, serial string) Device {
	return Device{ID: id, Identifiers: []Identifier{{System: "urn:oid:2.16.840.1.113883.2.9.4.3.99", Value: serial}},
		UDI: []UDI{{DeviceIdentifier: "0801234" + serial}}, Name: "Bilancia", Delivered: time.Now().UTC()}
}

func TestRegisterDevice(t *testing.T) {
	s := open(t)
	start := time.Now().Add(-time.Hour).UTC()
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	other := plan(start)
	other.ID, other.Patient = "030-tm-2", "CF:VRDGPP70A01F205V"
	if err := s.PutPlan(other); err != nil {
		t.Fatal(err)
	}
	if _, dup, err := s.RegisterDevice("030-tm-1", scale("bilancia-1", "SN1")); err != nil || dup {
		t.Fatalf("register: %v %v", dup, err)
	}
	noUDI := scale("sfigmo-1", "SN9")
	noUDI.UDI = nil
	longName := scale("sfigmo-1", "SN8")
	longName.Name = string(make([]byte, 300))
	for _, tt := range []struct {
		name string
		plan string
		d    Device
		want error
	}{
		{"the same device again", "030-tm-1", scale("bilancia-1", "SN1"), nil},
		{"other identifiers for a registered device", "030-tm-1", scale("bilancia-1", "SN2"), ErrState},
		{"a device the plan does not name", "030-tm-1", scale("glucometro-1", "SN3"), ErrInvalid},
		{"another plan's device identifiers", "030-tm-2", scale("bilancia-1", "SN1"), ErrState},
		{"no UDI carrier", "030-tm-1", noUDI, ErrInvalid},
		{"a name too long", "030-tm-1", longName, ErrInvalid},
		{"no such plan", "030-tm-9", scale("bilancia-1", "SN5"), ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.Plan(tt.plan)
			out, dup, err := s.RegisterDevice(tt.plan, tt.d)
			if !errors.Is(err, tt.want) || tt.want == nil && (err != nil || !dup || len(out.Kit) != 1) {
				t.Fatalf("%v %v, want %v", dup, err, tt.want)
			}
			if after, _ := s.Plan(tt.plan); len(after.Kit) != len(before.Kit) {
				t.Fatal("a refused registration changed the kit")
			}
		})
	}
	p, err := s.Plan("030-tm-1")
	if err != nil || len(p.Kit) != 1 || p.Kit[0].UDI[0].DeviceIdentifier != "0801234SN1" {
		t.Fatalf("kit: %+v %v", p.Kit, err)
	}
}

func TestClosePlan(t *testing.T) {
	s := open(t)
	start := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC) // 08:00 in Rome: two readings a day, on two days
	if err := s.PutPlan(plan(start)); err != nil {
		t.Fatal(err)
	}
	w := func(h int, v float64) Reading {
		return Reading{Patient: patient, Device: "bilancia-1", Code: Weight, Value: v, Time: start.Add(time.Duration(h) * time.Hour)}
	}
	if _, err := s.Ingest([]Reading{w(1, 80), w(2, 95), w(30, 84), w(31, 86)}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Summarize(patient, Weight, start, start.Add(47*time.Hour), Threshold{High: ptr(90)})
	if err != nil || st.Count != 4 || st.Min != 80 || st.Max != 95 || st.Breaches != 1 || st.Sum != 345 {
		t.Fatalf("summary: %+v %v", st, err)
	}
	if st.Days < 2 || st.FirstDay == st.LastDay || st.LastDay != 85 {
		t.Fatalf("days and trend: %+v", st)
	}
	if st, _ := s.Summarize(patient, Weight, start.Add(90*time.Minute), start.Add(30*time.Hour), Threshold{High: ptr(90)}); st.Count != 1 || st.Breaches != 1 {
		t.Fatalf("a period: %+v", st)
	}
	if _, _, err := s.ClosePlan("030-tm-1", Closure{At: time.Now(), By: "BNCLCU75A01H501T"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a closure without text: %v", err)
	}
	if _, _, err := s.ClosePlan("030-tm-1", Closure{At: time.Now(), By: "BNCLCU75A01H501T", Text: "fine\x00"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a closure text with a NUL: %v", err)
	}
	c := Closure{At: time.Now().UTC(), By: "BNCLCU75A01H501T", Text: "Obiettivi raggiunti"}
	p, dup, err := s.ClosePlan("030-tm-1", c)
	if err != nil || dup || p.Active || p.Closed == nil || !p.End.Equal(c.At) {
		t.Fatalf("close: %+v %v %v", p, dup, err)
	}
	if p, dup, err := s.ClosePlan("030-tm-1", Closure{At: time.Now(), By: "VRDGPP70A01F205V", Text: "altro"}); err != nil || !dup || p.Closed.Text != c.Text {
		t.Fatalf("closed again: %+v %v %v", p.Closed, dup, err)
	}
	if _, err := s.Ingest([]Reading{w(40, 80)}); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("a reading for a closed plan: %v", err)
	}
	if _, _, err := s.RegisterDevice("030-tm-1", scale("sfigmo-1", "SN7")); !errors.Is(err, ErrState) {
		t.Fatalf("a device for a closed plan: %v", err)
	}
	if _, _, err := s.Enrol(Plan{ID: "030-tm-3", Patient: patient, Devices: []string{"d"}, Thresholds: plan(start).Thresholds, ClientKey: "k", Author: "a"}); err != nil {
		t.Fatalf("a new plan after closure: %v", err)
	}
}

// A device registered at the old home while the plan moves reaches the
// new home, and the old home does not forget a plan that changed.
func TestMoveCarriesTheKit(t *testing.T) {
	from, to := open(t), open(t)
	p := plan(time.Now().Add(-time.Hour).UTC())
	if err := from.PutPlan(p); err != nil {
		t.Fatal(err)
	}
	if _, err := to.Import(p, nil); err != nil {
		t.Fatal(err)
	}
	moved, _, err := from.RegisterDevice(p.ID, scale("bilancia-1", "SN1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := from.Forget(p, "150", 0); !errors.Is(err, ErrState) {
		t.Fatalf("forgotten with a device the new home lacks: %v", err)
	}
	if _, err := to.Import(moved, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := to.Plan(p.ID); len(got.Kit) != 1 || got.Kit[0].ID != "bilancia-1" {
		t.Fatalf("the new home's kit: %+v", got.Kit)
	}
	if err := from.Forget(moved, "150", 0); err != nil {
		t.Fatal(err)
	}
}
