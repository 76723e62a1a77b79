package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// telemedBench is three regions in one process on loopback libp2p, with
// Lombardia providing a national televisit with many free slots.
type telemedBench struct {
	f                *fed
	lom, cam, pug    *Node
	slots            []string
	clinician160     string
	lomBase, pugBase string
}

func newTelemedBench(b *testing.B, slots int) *telemedBench {
	f := newFed(b)
	tb := &telemedBench{f: f, lom: f.add("030", federation.RoleVoter), cam: f.add("150", federation.RoleVoter), pug: f.add("160", federation.RoleVoter)}
	tb.lomBase, tb.pugBase = "http://"+tb.lom.HTTPAddr()+"/fhir", "http://"+tb.pug.HTTPAddr()+"/fhir"
	op := f.token("030", "SYSADMIN")
	if code, body := do(b, "POST", tb.lomBase+"/Patient", op, "application/fhir+json", patientBody("RSSMRA80A01H501U", "030")); code != http.StatusCreated {
		b.Fatalf("patient: %d %s", code, body)
	}
	if code, body := do(b, "POST", tb.lomBase+"/HealthcareService", op, "application/fhir+json", serviceJSON("030-tv-cardio", "Televisita", "NAZ")); code != http.StatusCreated {
		b.Fatalf("service: %d %s", code, body)
	}
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Minute)
	for i := range slots {
		s := start.Add(time.Duration(i) * 15 * time.Minute)
		code, body := do(b, "POST", tb.lomBase+"/Slot", op, "application/fhir+json",
			`{"resourceType":"Slot","schedule":{"reference":"Schedule/030-tv-cardio"},"start":"`+s.Format(time.RFC3339)+`","end":"`+s.Add(15*time.Minute).Format(time.RFC3339)+`"}`)
		var sl struct{ ID string }
		if code != http.StatusCreated || json.Unmarshal([]byte(body), &sl) != nil {
			b.Fatalf("slot: %d %s", code, body)
		}
		tb.slots = append(tb.slots, sl.ID)
	}
	tb.clinician160 = f.token("160", "TREATMENT")
	consensustest.Eventually(b, 20*time.Second, func() error {
		if code, body := do(b, "GET", tb.pugBase+"/Slot?schedule=Schedule/030-tv-cardio", tb.clinician160, "", ""); code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	}, "the service and Puglia's IdP keys known everywhere")
	return tb
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkTelemedSlotSearch: a Puglia clinician asks Puglia's node for a
// Lombardia service's free slots (forwarded to Lombardia's node with the
// token, checked there, 50 slots answered), one request after another.
func BenchmarkTelemedSlotSearch(b *testing.B) {
	tb := newTelemedBench(b, 50)
	url := tb.pugBase + "/Slot?schedule=Schedule/030-tv-cardio"
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		code, body := do(b, "GET", url, tb.clinician160, "", "")
		lat = append(lat, time.Since(t0))
		if code != http.StatusOK || !strings.Contains(body, `"total":50`) {
			b.Fatalf("%d %.200s", code, body)
		}
	}
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkTelemedBooking: clients book Lombardia's slots concurrently,
// half through Puglia's node (forwarded) and half at Lombardia's; each
// slot is asked for by two clients at once, so every slot is contested.
// It reports bookings per second, the CPU the three nodes spent per
// booking, and fails on any slot booked twice.
func BenchmarkTelemedBooking(b *testing.B) {
	n := max(b.N, 20)
	tb := newTelemedBench(b, n)
	clinician030 := tb.f.token("030", "TREATMENT")
	clients := 64
	if v, err := strconv.Atoi(os.Getenv("FSENET_BENCH_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	type result struct {
		slot, appt string
		code       int
	}
	work := make(chan int)
	results := make(chan result, 2*n)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				base, tok := tb.pugBase, tb.clinician160
				if j%2 == 1 {
					base, tok = tb.lomBase, clinician030
				}
				slot := tb.slots[j/2]
				code, body := do(b, "POST", base+"/Appointment", tok, "application/fhir+json", bookingJSON(slot, "RSSMRA80A01H501U", fmt.Sprintf("bench-%06d", j)))
				var a struct{ ID string }
				_ = json.Unmarshal([]byte(body), &a)
				results <- result{slot, a.ID, code}
			}
		}()
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	t0 := time.Now()
	for j := range 2 * n {
		work <- j
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	close(results)
	booked := map[string]string{}
	for r := range results {
		switch r.code {
		case http.StatusCreated:
			if prev, dup := booked[r.slot]; dup {
				b.Fatalf("slot %s booked twice: %s and %s", r.slot, prev, r.appt)
			}
			booked[r.slot] = r.appt
		case http.StatusConflict:
		default:
			b.Fatalf("a booking got %d", r.code)
		}
	}
	if len(booked) != n {
		b.Fatalf("%d of %d slots booked", len(booked), n)
	}
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(n)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "bookings/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu-ms/booking")
}
