package booking

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, "030", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func booker(region, subject string) Booker {
	return Booker{Subject: subject, Role: "AAS", Region: region, Organization: region + "-ASL"}
}

// Fifty bookings of one slot at once, from two regions: exactly one wins,
// every other is told the slot is taken, and the slot names the winner.
func TestOneSlotIsNeverDoubleBooked(t *testing.T) {
	s, _ := open(t)
	start := time.Now().Add(24 * time.Hour)
	sl, err := s.AddSlot("030-tv-cardio", start, start.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 50)
	appts := make([]Appointment, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			region := []string{"150", "160"}[i%2]
			appts[i], _, results[i] = s.Book(BookRequest{Slot: sl.ID, Patient: "CF:RSSMRA80A01H501U",
				Booker: booker(region, fmt.Sprintf("CLINICIAN%02d", i)), ClientKey: fmt.Sprintf("key-%04d", i)})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range results {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("bookings %d and %d both won", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrTaken):
			t.Fatalf("booking %d: %v, want ErrTaken", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no booking won")
	}
	got, err := s.Slot(sl.ID)
	if err != nil || got.Status != SlotBusy || got.Appointment != appts[won].ID {
		t.Fatalf("slot %+v (%v), want busy with %s", got, err, appts[won].ID)
	}
}

func TestBookingRetriesCancelAndRestart(t *testing.T) {
	s, dir := open(t)
	start := time.Now().Add(2 * time.Hour)
	sl, err := s.AddSlot("030-tv-cardio", start, start.Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req := BookRequest{Slot: sl.ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("160", "BNCLCU75A01H501Z"), ClientKey: "visit-0001",
		Eligibility: Eligibility{ClinicallySuitable: true, Consent: true, DigitallyReady: true, AssessedBy: "BNCLCU75A01H501Z"}}
	first, dup, err := s.Book(req)
	if err != nil || dup || first.Status != AppointmentBooked || !first.Eligibility.DigitallyReady {
		t.Fatalf("first: %+v %v %v", first, dup, err)
	}
	again, dup, err := s.Book(req)
	if err != nil || !dup || again.ID != first.ID {
		t.Fatalf("a retry: %+v %v %v, want the first appointment", again, dup, err)
	}
	reused := req
	reused.Patient = "CF:MRTMTT25D09F205Z"
	if _, _, err := s.Book(reused); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("the key reused for another patient: %v", err)
	}
	other := req
	other.ClientKey = "visit-0002"
	if _, _, err := s.Book(other); !errors.Is(err, ErrTaken) {
		t.Fatalf("another key on the taken slot: %v", err)
	}
	if c, err := s.Cancel(first.ID); err != nil || c.Status != AppointmentCancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if _, err := s.Cancel(first.ID); err != nil {
		t.Fatalf("cancel again: %v", err)
	}
	if got, _ := s.Slot(sl.ID); got.Status != SlotFree {
		t.Fatalf("slot after the cancellation: %+v", got)
	}
	// Restarted, the store has it all; the freed slot is booked again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, "030", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if a, err := s2.Appointment(first.ID); err != nil || a.Status != AppointmentCancelled {
		t.Fatalf("after a restart: %+v %v", a, err)
	}
	if _, _, err := s2.Book(other); err != nil {
		t.Fatalf("the freed slot: %v", err)
	}
	free, err := s2.Slots(SlotQuery{Service: "030-tv-cardio", Status: SlotFree})
	if err != nil || len(free) != 0 {
		t.Fatalf("free slots %v %v", free, err)
	}
}

func TestBadBookingsAndSlots(t *testing.T) {
	s, _ := open(t)
	start := time.Now().Add(time.Hour)
	sl, _ := s.AddSlot("030-tv-cardio", start, start.Add(time.Hour))
	good := BookRequest{Slot: sl.ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("160", "X"), ClientKey: "client-key-1"}
	tests := []struct {
		name string
		req  func(BookRequest) BookRequest
		want error
	}{
		{"short client key", func(r BookRequest) BookRequest { r.ClientKey = "k"; return r }, ErrInvalid},
		{"client key with a space", func(r BookRequest) BookRequest { r.ClientKey = "client key 1"; return r }, ErrInvalid},
		{"no patient", func(r BookRequest) BookRequest { r.Patient = ""; return r }, ErrInvalid},
		{"no booker", func(r BookRequest) BookRequest { r.Booker = Booker{}; return r }, ErrInvalid},
		{"unknown slot", func(r BookRequest) BookRequest { r.Slot = "nope"; return r }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.Book(tt.req(good)); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	for name, times := range map[string][2]time.Time{
		"ends before it starts": {start, start.Add(-time.Minute)},
		"longer than a day":     {start, start.Add(25 * time.Hour)},
		"in the past":           {start.Add(-48 * time.Hour), start.Add(-47 * time.Hour)},
		"years away":            {start.AddDate(3, 0, 0), start.AddDate(3, 0, 0).Add(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.AddSlot("030-tv-cardio", times[0], times[1]); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v", err)
			}
		})
	}
	soon, _ := s.AddSlot("030-tv-cardio", time.Now().Add(-30*time.Minute), time.Now().Add(time.Minute))
	if _, _, err := s.Book(BookRequest{Slot: soon.ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("160", "X"), ClientKey: "late-0001"}); !errors.Is(err, ErrState) {
		t.Fatalf("a slot that has started: %v", err)
	}
	if _, err := s.AddSlot("030/../x", start, start.Add(time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a bad service id: %v", err)
	}
}

func TestReschedule(t *testing.T) {
	s, _ := open(t)
	start := time.Now().Add(3 * time.Hour)
	var slots []Slot
	for i := range 3 {
		sl, err := s.AddSlot("030-tv-cardio", start.Add(time.Duration(i)*time.Hour), start.Add(time.Duration(i)*time.Hour+30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, sl)
	}
	other, _ := s.AddSlot("030-tv-derma", start, start.Add(time.Hour))
	a, _, err := s.Book(BookRequest{Slot: slots[0].ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("160", "X"), ClientKey: "move-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Book(BookRequest{Slot: slots[2].ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("160", "X"), ClientKey: "move-0002"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, slot string
		want       error
	}{
		{"to a taken slot", slots[2].ID, ErrTaken},
		{"to another service's slot", other.ID, ErrInvalid},
		{"to no slot", "030-nope", ErrNotFound},
		{"to a free slot", slots[1].ID, nil},
		{"to where it is", slots[1].ID, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Reschedule(a.ID, tt.slot)
			if !errors.Is(err, tt.want) || (tt.want == nil && (got.Slot != tt.slot || !got.Start.Equal(slots[1].Start))) {
				t.Fatalf("%+v %v, want %v", got, err, tt.want)
			}
		})
	}
	for i, want := range []string{SlotFree, SlotBusy, SlotBusy} {
		if sl, _ := s.Slot(slots[i].ID); sl.Status != want {
			t.Fatalf("slot %d: %s, want %s", i, sl.Status, want)
		}
	}
}
