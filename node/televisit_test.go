package node

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

func bookingJSON(slot, cf, key string) string {
	return `{"resourceType":"Appointment","status":"proposed","slot":[{"reference":"Slot/` + slot + `"}],` +
		`"participant":[{"actor":{"reference":"Patient/CF-` + cf + `"},"status":"needs-action"}],` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"` + key + `"}],` +
		`"extension":[{"url":"urn:fsenet:telemedicina:verifica-eseguibilita","extension":[{"url":"clinicallySuitable","valueBoolean":true},` +
		`{"url":"consent","valueBoolean":true},{"url":"digitallyReady","valueBoolean":true}]}]}`
}

// A Campania clinician books a Lombardia televisit from Campania's node:
// the search and the booking are forwarded to Lombardia's node with the
// clinician's token, decided and audited there; a retry answers as the
// first; concurrent bookings of one slot from both regions leave exactly
// one; with Lombardia gone the answer names it within the deadline.
func TestTelevisitBookedAcrossRegions(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	op030 := f.token("030", "SYSADMIN")
	camBase, lomBase := "http://"+cam.HTTPAddr()+"/fhir", "http://"+lom.HTTPAddr()+"/fhir"
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := cam.members.Members().View().IdP("150"); !ok {
			return fmt.Errorf("Campania's IdP keys not replicated yet")
		}
		return nil
	}, "Campania's IdP keys replicated")
	// The patient, registered by Lombardia; a national service with two slots.
	const cf = "RSSMRA80A01H501U"
	if code, body := do(t, "POST", lomBase+"/Patient", op030, "application/fhir+json", patientBody(cf, "030")); code != http.StatusCreated {
		t.Fatalf("patient: %d %s", code, body)
	}
	if code, body := do(t, "POST", lomBase+"/HealthcareService", op030, "application/fhir+json", serviceJSON("030-tv-cardio", "Televisita cardiologica", "NAZ")); code != http.StatusCreated {
		t.Fatalf("service: %d %s", code, body)
	}
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	var slots []string
	for i := range 2 {
		s := start.Add(time.Duration(i) * time.Hour)
		code, body := do(t, "POST", lomBase+"/Slot", op030, "application/fhir+json",
			`{"resourceType":"Slot","schedule":{"reference":"Schedule/030-tv-cardio"},"status":"free","start":"`+s.Format(time.RFC3339)+`","end":"`+s.Add(30*time.Minute).Format(time.RFC3339)+`"}`)
		var sl struct{ ID string }
		if code != http.StatusCreated || json.Unmarshal([]byte(body), &sl) != nil || !strings.HasPrefix(sl.ID, "030-") {
			t.Fatalf("slot: %d %s", code, body)
		}
		slots = append(slots, sl.ID)
	}
	clinician := f.token("150", "TREATMENT")
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", camBase+"/Slot?schedule=Schedule/030-tv-cardio", clinician, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":2`) {
			return fmt.Errorf("slots through Campania: %d %s", code, body)
		}
		return nil
	}, "Lombardia's free slots found through Campania's node")

	// Spaced JSON, as clients write it, is a FHIR Appointment too.
	spaced := strings.Replace(bookingJSON(slots[0], cf, "booking-0001"), `"resourceType":"Appointment"`, `"resourceType" : "Appointment"`, 1)
	code, body := do(t, "POST", camBase+"/Appointment", clinician, "application/fhir+json", spaced)
	var appt struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &appt) != nil || appt.Status != "booked" || !strings.Contains(body, "digitallyReady") {
		t.Fatalf("booking: %d %s", code, body)
	}
	if code, body := do(t, "POST", camBase+"/Appointment", clinician, "application/fhir+json", bookingJSON(slots[0], cf, "booking-0001")); code != http.StatusOK || !strings.Contains(body, appt.ID) {
		t.Fatalf("a retried booking: %d %s", code, body)
	}
	for _, bad := range []struct {
		name, tok, body string
		want            int
	}{
		{"the taken slot", clinician, bookingJSON(slots[0], cf, "booking-0002"), http.StatusConflict},
		{"an unregistered patient", clinician, bookingJSON(slots[1], "MRTMTT25D09F205Z", "booking-0003"), http.StatusNotFound},
		// Who may not book for a patient learns nothing of the registry.
		{"an operator", f.token("150", "SYSADMIN"), bookingJSON(slots[1], cf, "booking-0004"), http.StatusNotFound},
		{"garbage", clinician, "{garbage", http.StatusBadRequest},
		{"no client key", clinician, strings.Replace(bookingJSON(slots[1], cf, "x"), "client-key", "other", 1), http.StatusBadRequest},
		{"an unknown slot", clinician, bookingJSON("030-nope", cf, "booking-0005"), http.StatusNotFound},
		{"a slot of a region outside the federation", clinician, bookingJSON("190-abc", cf, "booking-0006"), http.StatusNotFound},
		{"the first key for another slot", clinician, bookingJSON(slots[1], cf, "booking-0001"), http.StatusConflict},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, "POST", camBase+"/Appointment", bad.tok, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
	for _, bad := range []struct {
		name, method, url, tok, body string
		want                         int
	}{
		{"a garbage slot", "POST", lomBase + "/Slot", op030, "{garbage", http.StatusBadRequest},
		{"a slot without times", "POST", lomBase + "/Slot", op030, `{"resourceType":"Slot","schedule":{"reference":"Schedule/030-tv-cardio"}}`, http.StatusBadRequest},
		{"a slot of an unknown service", "POST", lomBase + "/Slot", op030, `{"resourceType":"Slot","schedule":{"reference":"Schedule/030-nope"},"start":"2030-01-01T10:00:00Z","end":"2030-01-01T10:30:00Z"}`, http.StatusNotFound},
		{"a slot search without a schedule", "GET", camBase + "/Slot", clinician, "", http.StatusBadRequest},
		{"a slot search with a bad start", "GET", camBase + "/Slot?schedule=Schedule/030-tv-cardio&start=yesterday", clinician, "", http.StatusBadRequest},
		{"an unknown schedule", "GET", camBase + "/Schedule/030-nope", clinician, "", http.StatusNotFound},
		{"the video of an unknown appointment", "POST", camBase + "/Appointment/030-nope/$video-session", clinician, "", http.StatusNotFound},
		{"an appointment id of no region", "GET", camBase + "/Appointment/nope", clinician, "", http.StatusNotFound},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, bad.method, bad.url, bad.tok, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
	if code, body := do(t, "GET", camBase+"/Appointment/"+appt.ID, clinician, "", ""); code != http.StatusOK || !strings.Contains(body, "Patient/CF-"+cf) {
		t.Fatalf("read through Campania: %d %s", code, body)
	}
	// Rescheduled to the other slot and back, through Campania's node.
	for _, to := range []string{slots[1], slots[0]} {
		code, body := do(t, "POST", camBase+"/Appointment/"+appt.ID+"/$reschedule", clinician, "application/fhir+json",
			`{"resourceType":"Parameters","parameter":[{"name":"slot","valueReference":{"reference":"Slot/`+to+`"}}]}`)
		if code != http.StatusOK || !strings.Contains(body, "Slot/"+to) {
			t.Fatalf("reschedule to %s: %d %s", to, code, body)
		}
	}
	if code, _ := do(t, "POST", camBase+"/Appointment/"+appt.ID+"/$reschedule", clinician, "application/fhir+json", `{"resourceType":"Parameters"}`); code != http.StatusBadRequest {
		t.Fatalf("reschedule without a slot: %d", code)
	}
	// The video session: a token for the appointment's room, signed by
	// Lombardia's node key, valid from 15 minutes before the visit.
	code, body = do(t, "POST", camBase+"/Appointment/"+appt.ID+"/$video-session", clinician, "", "")
	var video struct {
		Room, Token string
		NotBefore   time.Time `json:"not_before"`
		Moderator   bool
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &video) != nil || video.Room != "fsenet-"+appt.ID || video.Moderator ||
		!video.NotBefore.Equal(start.Add(-15*time.Minute)) {
		t.Fatalf("video session: %d %s", code, body)
	}
	if err := verifyVideoToken(video.Token, lom, video.Room); err != nil {
		t.Fatalf("video token: %v", err)
	}
	other := f.token("150", "SYSADMIN", func(c *federation.Claims) { c.Subject = "VRDGPP70A01F205X" })
	if code, _ := do(t, "POST", camBase+"/Appointment/"+appt.ID+"/$video-session", other, "", ""); code != http.StatusNotFound {
		t.Fatalf("video session for an operator of another region: %d", code)
	}
	// The second slot, booked concurrently from both regions: one wins.
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base, tok := camBase, clinician
			if i%2 == 0 {
				base, tok = lomBase, f.token("030", "TREATMENT")
			}
			codes[i], _ = do(t, "POST", base+"/Appointment", tok, "application/fhir+json", bookingJSON(slots[1], cf, fmt.Sprintf("race-%04d", i)))
		}()
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			won++
		case http.StatusConflict:
		default:
			t.Fatalf("a concurrent booking got %d (all: %v)", c, codes)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent bookings of one slot won (%v)", won, codes)
	}
	// The patient's log holds the booking at both regions.
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", lomBase+"/AuditEvent?patient=Patient/CF-"+cf+"&_count=100", f.authorityToken(), "", "")
		// Refused bookings (the taken slot, the operator, the race) are there too.
		if code != http.StatusOK || !strings.Contains(body, `"display":"Appointment.book"`) || !strings.Contains(body, `"display":"Appointment.book.request"`) ||
			strings.Count(body, `"outcome":"4"`) < 2 {
			return fmt.Errorf("access log: %d %.300s", code, body)
		}
		return nil
	}, "the booking and the refused one in the patient's access log, from both regions")
	// Lombardia gone: Campania answers naming it, within the deadline.
	if err := lom.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	code, body = do(t, "GET", camBase+"/Slot?schedule=Schedule/030-tv-cardio", clinician, "", "")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "030") || time.Since(begin) > 15*time.Second {
		t.Fatalf("with the provider gone: %d after %v: %s", code, time.Since(begin), body)
	}
}

// verifyVideoToken checks a video token as the video service would: with
// the provider node's Ed25519 key (its peer ID), audience jitsi, the room.
func verifyVideoToken(tok string, provider *Node, room string) error {
	pub, err := provider.PeerID().ExtractPublicKey()
	if err != nil {
		return err
	}
	raw, err := pub.Raw()
	if err != nil {
		return err
	}
	t, err := jwt.Parse([]byte(tok), jwt.WithKey(jwa.EdDSA(), ed25519.PublicKey(raw)), jwt.WithValidate(false), jwt.WithAudience("jitsi"))
	if err != nil {
		return err
	}
	var got string
	if err := t.Get("room", &got); err != nil || got != room {
		return fmt.Errorf("room %q (%v), want %q", got, err, room)
	}
	return nil
}

func patientBody(cf, home string) string {
	return `{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"` + cf + `"}],` +
		`"name":[{"family":"Rossi","given":["Maria"]}],"gender":"female","birthDate":"1980-01-01",` +
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"` + home + `"}}}`
}
