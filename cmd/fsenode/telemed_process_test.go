package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

func televisitService(id string) []byte {
	return []byte(`{"resourceType":"HealthcareService","id":"` + id + `","active":true,"name":"Televisita cardiologica",` +
		`"type":[{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"televisita"}]}],` +
		`"characteristic":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csRaggioErogazione","code":"NAZ"}]}]}`)
}

func appointmentBody(slot, cf, key string) []byte {
	return []byte(`{"resourceType":"Appointment","status":"proposed","slot":[{"reference":"Slot/` + slot + `"}],` +
		`"participant":[{"actor":{"reference":"Patient/CF-` + cf + `"},"status":"needs-action"}],` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"` + key + `"}]}`)
}

// TestProcessTelevisitBookings: on three running regions, Lombardia offers
// a national televisit. Fifty bookings of one slot from Campania's and
// Puglia's nodes at once: exactly one wins, the others get 409. Then
// bookings of another slot while Lombardia is killed with SIGKILL: after
// its restart every client key, retried, answers consistently — at most
// one appointment holds the slot, and the slot names it — so nothing is
// half-booked on either side.
func TestProcessTelevisitBookings(t *testing.T) {
	_, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	rng := rand.New(rand.NewPCG(15, 1))
	pt := synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	op := regionToken(t, lom, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/HealthcareService", op, "application/fhir+json", televisitService("030-tv-cardio")); code != http.StatusCreated {
		t.Fatalf("service: %d %s", code, b)
	}
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	var slots []string
	for i := range 2 {
		s := start.Add(time.Duration(i) * time.Hour)
		body := fmt.Sprintf(`{"resourceType":"Slot","schedule":{"reference":"Schedule/030-tv-cardio"},"status":"free","start":%q,"end":%q}`,
			s.Format(time.RFC3339), s.Add(30*time.Minute).Format(time.RFC3339))
		code, b := call(t, http.MethodPost, lom.url()+"/fhir/Slot", op, "application/fhir+json", []byte(body))
		var sl struct{ ID string }
		if code != http.StatusCreated || json.Unmarshal(b, &sl) != nil {
			t.Fatalf("slot: %d %s", code, b)
		}
		slots = append(slots, sl.ID)
	}
	tokens := map[*proc]string{}
	for _, r := range []*proc{cam, pug} {
		tokens[r] = regionToken(t, r, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	}
	waitFor(t, 30*time.Second, "the service known at Puglia", func() bool {
		code, _ := call(t, http.MethodGet, pug.url()+"/fhir/Slot?schedule=Schedule/030-tv-cardio", tokens[pug], "", nil)
		return code == http.StatusOK
	})

	// Fifty at once, from two regions.
	codes := make([]int, 50)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := []*proc{cam, pug}[i%2]
			codes[i], _ = call(t, http.MethodPost, r.url()+"/fhir/Appointment", tokens[r], "application/fhir+json",
				appointmentBody(slots[0], pt.CF, fmt.Sprintf("race-%s-%04d", r.code, i)))
		}()
	}
	wg.Wait()
	if won, conflicts := count(codes, http.StatusCreated), count(codes, http.StatusConflict); won != 1 || won+conflicts != len(codes) {
		t.Fatalf("%d won, %d conflicts of %d: %v", won, conflicts, len(codes), codes)
	}

	// Bookings of the second slot while Lombardia is killed.
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("kill-%04d", i)
	}
	firstCodes := make([]int, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			firstCodes[i], _ = callQuiet(http.MethodPost, pug.url()+"/fhir/Appointment", tokens[pug], appointmentBody(slots[1], pt.CF, k))
		}()
		if i == len(keys)/2 {
			lom.kill9()
		}
	}
	wg.Wait()
	lom.start(t)
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)
	winners := map[string]bool{}
	for i, k := range keys {
		var code int
		var b []byte
		waitFor(t, 30*time.Second, "a retried booking answered", func() bool {
			code, b = call(t, http.MethodPost, pug.url()+"/fhir/Appointment", tokens[pug], "application/fhir+json", appointmentBody(slots[1], pt.CF, k))
			return code != http.StatusGatewayTimeout && code != http.StatusServiceUnavailable
		})
		switch {
		case code == http.StatusOK || code == http.StatusCreated:
			var ap struct{ ID string }
			_ = json.Unmarshal(b, &ap)
			winners[ap.ID] = true
		case code == http.StatusConflict:
			if firstCodes[i] == http.StatusCreated {
				t.Fatalf("key %s: acknowledged before the kill, refused after it", k)
			}
		default:
			t.Fatalf("key %s after the restart: %d %s", k, code, b)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d appointments hold the second slot: %v", len(winners), winners)
	}
	for id := range winners {
		code, b := call(t, http.MethodGet, cam.url()+"/fhir/Appointment/"+id, tokens[pug], "", nil)
		if code != http.StatusOK || !strings.Contains(string(b), "Slot/"+slots[1]) || !strings.Contains(string(b), `"status":"booked"`) {
			t.Fatalf("the winner at Lombardia: %d %s", code, b)
		}
	}
}

func count(codes []int, want int) int {
	n := 0
	for _, c := range codes {
		if c == want {
			n++
		}
	}
	return n
}

// callQuiet is call for requests that may fail while a node is killed.
func callQuiet(method, url, token string, body []byte) (int, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
