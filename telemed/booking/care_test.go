package booking

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// A visit's encounter: opened once however often asked, closed once with
// its report, which survives a restart.
func TestEncounterOpenedAndReportedOnce(t *testing.T) {
	s, dir := open(t)
	start := time.Now().Add(time.Hour)
	sl, _ := s.AddSlot("030-tv-cardio", start, start.Add(30*time.Minute))
	a, _, err := s.Book(BookRequest{Slot: sl.ID, Patient: "CF:RSSMRA80A01H501U", Booker: booker("150", "DBRCRL70A41F205K"), ClientKey: "visit-0001"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := s.StartEncounter(a.ID, booker("030", "BNCLCU75A01H501Z"))
			if err != nil {
				t.Error(err)
			}
			ids[i] = e.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("two encounters for one visit: %v", ids)
		}
	}
	if _, err := s.StartEncounter("030-nope", booker("030", "x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown appointment: %v", err)
	}
	e, err := s.CloseEncounter(ids[0], "doc-1", []byte("%PDF-1"))
	if err != nil || e.Status != EncounterFinished || e.Report != "doc-1" {
		t.Fatalf("close: %+v %v", e, err)
	}
	if _, err := s.CloseEncounter(ids[0], "doc-2", []byte("%PDF-2")); !errors.Is(err, ErrState) {
		t.Fatalf("a second report: %v", err)
	}
	s.Close()
	s2, err := Open(dir, "030", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if pdf, err := s2.Report("doc-1"); err != nil || string(pdf) != "%PDF-1" {
		t.Fatalf("the report after a restart: %q %v", pdf, err)
	}
	if _, err := s2.Report("doc-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused report was kept: %v", err)
	}
}

// A teleconsult's task moves only as the workflow allows; messages are
// taken while it is open; a retried request answers the first.
func TestConsultWorkflow(t *testing.T) {
	s, _ := open(t)
	req := Consult{Service: "030-tc-derma", Patient: "CF:RSSMRA80A01H501U", Requester: booker("150", "DBRCRL70A41F205K"),
		ClientKey: "consult-0001", Question: "Parere?"}
	c, dup, err := s.RequestConsult(req)
	if err != nil || dup || c.Status != TaskRequested {
		t.Fatalf("request: %+v %v %v", c, dup, err)
	}
	if again, dup, err := s.RequestConsult(req); err != nil || !dup || again.ID != c.ID {
		t.Fatalf("retry: %+v %v %v", again, dup, err)
	}
	other := req
	other.Patient = "CF:VRDLGU85M41F839J"
	if _, _, err := s.RequestConsult(other); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("the key for another patient: %v", err)
	}
	for _, bad := range []Consult{{}, {ClientKey: "short"}, func() Consult { r := req; r.ClientKey, r.Question = "consult-0002", ""; return r }()} {
		if _, _, err := s.RequestConsult(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("request %+v: %v", bad, err)
		}
	}
	if _, err := s.CompleteConsult(c.ID, "doc", nil); !errors.Is(err, ErrState) {
		t.Fatalf("a report before acceptance: %v", err)
	}
	steps := []struct {
		to   string
		want error
	}{
		{TaskCompleted, ErrState}, {TaskAccepted, nil}, {TaskAccepted, nil}, {TaskRejected, ErrState}, {TaskRequested, ErrState},
	}
	for _, st := range steps {
		if _, err := s.MoveConsult(c.ID, st.to, "", booker("030", "BNCLCU75A01H501Z")); !errors.Is(err, st.want) && (st.want != nil || err != nil) {
			t.Fatalf("to %s: %v, want %v", st.to, err, st.want)
		}
	}
	for _, text := range []string{"domanda", "risposta"} {
		if _, _, err := s.AddMessage(Message{Consult: c.ID, Sender: booker("030", "x"), Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.AddMessage(Message{Consult: c.ID}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty message: %v", err)
	}
	done, err := s.CompleteConsult(c.ID, "doc", []byte("%PDF"))
	if err != nil || done.Status != TaskCompleted || done.Report != "doc" {
		t.Fatalf("complete: %+v %v", done, err)
	}
	if _, _, err := s.AddMessage(Message{Consult: c.ID, Text: "tardi"}); !errors.Is(err, ErrState) {
		t.Fatalf("a message after completion: %v", err)
	}
	msgs, err := s.Messages(c.ID)
	if err != nil || len(msgs) != 2 || msgs[0].Text != "domanda" || msgs[1].Text != "risposta" {
		t.Fatalf("messages: %+v %v", msgs, err)
	}
}

// A plan records sessions while active, and none after its closure.
func TestPlanSessions(t *testing.T) {
	s, _ := open(t)
	p, _, err := s.StartPlan(CarePlan{Template: "030-ta-riab", TemplateVersion: 1, Patient: "CF:RSSMRA80A01H501U", Author: booker("150", "x"), ClientKey: "plan-0001"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name string
		e    Encounter
		want error
	}{
		{"held", Encounter{Role: "infermiere", Start: now.Add(-time.Hour), End: now.Add(-30 * time.Minute), Note: "ok"}, nil},
		{"no note", Encounter{Role: "infermiere", Start: now.Add(-time.Hour), End: now}, ErrInvalid},
		{"ends before it starts", Encounter{Start: now, End: now.Add(-time.Hour), Note: "x"}, ErrInvalid},
		{"in the future", Encounter{Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour), Note: "x"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.AddSession(p.ID, tt.e); !errors.Is(err, tt.want) && (tt.want != nil || err != nil) {
				t.Fatalf("%v, want %v", err, tt.want)
			}
		})
	}
	if _, err := s.ClosePlan(p.ID, 0, "doc", []byte("%PDF")); !errors.Is(err, ErrState) {
		t.Fatalf("a report made before the last session: %v", err)
	}
	if _, err := s.ClosePlan(p.ID, 1, "doc", []byte("%PDF")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddSession(p.ID, tests[0].e); !errors.Is(err, ErrState) {
		t.Fatalf("a session after closure: %v", err)
	}
	p, _ = s.Plan(p.ID)
	sessions, err := s.Sessions(p)
	if err != nil || len(sessions) != 1 || p.Status != PlanCompleted {
		t.Fatalf("plan %+v, sessions %v %v", p, sessions, err)
	}
}

// A synchronous teleconsult's meeting: booked in one transaction with the
// request's link, once; a slot of another service is refused.
func TestConsultMeeting(t *testing.T) {
	s, _ := open(t)
	c, _, err := s.RequestConsult(Consult{Service: "030-tc-derma", Patient: "CF:RSSMRA80A01H501U", Requester: booker("150", "DBRCRL70A41F205K"),
		ClientKey: "consult-0001", Question: "Parere?", Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Hour)
	derma, _ := s.AddSlot("030-tc-derma", start, start.Add(20*time.Minute))
	derma2, _ := s.AddSlot("030-tc-derma", start.Add(time.Hour), start.Add(80*time.Minute))
	cardio, _ := s.AddSlot("030-tv-cardio", start, start.Add(20*time.Minute))
	book := func(slot, key string) (Appointment, error) {
		a, _, err := s.Book(BookRequest{Slot: slot, Patient: c.Patient, Booker: c.Requester, ClientKey: key, Consult: c.ID})
		return a, err
	}
	if _, err := book(cardio.ID, "meet-0001"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a slot of another service: %v", err)
	}
	a, err := book(derma.ID, "meet-0002")
	if err != nil || a.Consult != c.ID {
		t.Fatalf("the meeting: %+v %v", a, err)
	}
	if got, _ := s.Consult(c.ID); got.Appointment != a.ID {
		t.Fatalf("the teleconsult does not name its meeting: %+v", got)
	}
	if _, err := book(derma2.ID, "meet-0003"); !errors.Is(err, ErrState) {
		t.Fatalf("a second meeting: %v", err)
	}
	if sl, _ := s.Slot(derma2.ID); sl.Status != SlotFree {
		t.Fatalf("a refused meeting took its slot: %+v", sl)
	}
}

// A message retried with its client key is recorded once; a teleconsult
// holds a bounded number of them.
func TestMessagesIdempotentAndBounded(t *testing.T) {
	s, _ := open(t)
	c, _, err := s.RequestConsult(Consult{Service: "030-tc-derma", Patient: "CF:RSSMRA80A01H501U", Requester: booker("150", "DBRCRL70A41F205K"),
		ClientKey: "consult-0001", Question: "Parere?"})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Consult: c.ID, Sender: c.Requester, Text: "domanda", ClientKey: "message-0001"}
	first, dup, err := s.AddMessage(m)
	if err != nil || dup {
		t.Fatal(err, dup)
	}
	again, dup, err := s.AddMessage(m)
	if err != nil || !dup || again.ID != first.ID {
		t.Fatalf("a retry: %+v %v %v", again, dup, err)
	}
	for i := 1; i < maxMessages; i++ {
		if _, _, err := s.AddMessage(Message{Consult: c.ID, Sender: c.Requester, Text: "x"}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if _, _, err := s.AddMessage(Message{Consult: c.ID, Sender: c.Requester, Text: "troppi"}); !errors.Is(err, ErrState) {
		t.Fatalf("message %d: %v", maxMessages+1, err)
	}
	if msgs, err := s.Messages(c.ID); err != nil || len(msgs) != maxMessages {
		t.Fatalf("messages: %d %v", len(msgs), err)
	}
}
