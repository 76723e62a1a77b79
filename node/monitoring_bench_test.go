package node

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

// BenchmarkTelemonitoringAlert: a reading breaching its threshold posted
// at the patient's home node (Lombardia) until its alert is listed at the
// care team's node (Campania), polled back to back. One op is one breach
// (each after a normal reading, so that each starts a new run).
func BenchmarkTelemonitoringAlert(b *testing.B) {
	c := newCareFed(b)
	enrolMonitoring(b, c)
	start := time.Now().UTC().Add(-time.Hour)
	reading := func(i int, systolic float64) string {
		return fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/sfigmo-1"},"effectiveDateTime":"%s","component":[`+
			`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},`+
			`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
			careCF, start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), systolic)
	}
	count := func() int {
		code, body := do(b, "GET", c.camBase+"/Flag", c.camDoc, "", "")
		var bundle struct{ Total int }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &bundle) != nil {
			b.Fatalf("flags: %d %s", code, body)
		}
		return bundle.Total
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if code, body := do(b, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", reading(2*i, 120)); code != http.StatusOK {
			b.Fatalf("normal reading: %d %s", code, body)
		}
		before := count()
		b.StartTimer()
		t0 := time.Now()
		if code, body := do(b, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", reading(2*i+1, 175)); code != http.StatusOK {
			b.Fatalf("breach: %d %s", code, body)
		}
		for count() == before {
			if time.Since(t0) > 30*time.Second {
				b.Fatal("no alert at the care team's node after 30 s")
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
}

// BenchmarkTelemonitoringIngest: device gateways posting Bundles of 100
// readings (weights; every 30th over the threshold) for 16 patients to
// their home node over HTTP, 8 at once, each reading checked against its
// plan; one op is one Bundle.
func BenchmarkTelemonitoringIngest(b *testing.B) {
	c := newCareFed(b)
	_, plan := enrolMonitoring(b, c)
	rng := rand.New(rand.NewPCG(16, 16))
	var patients []string
	for range 16 {
		pt := synth.NewPatient(rng)
		if code, body := do(b, "POST", c.lomBase+"/Patient", c.op030, "application/fhir+json", patientBody(pt.CF, "030")); code != http.StatusCreated {
			b.Fatalf("patient: %d %s", code, body)
		}
		p := strings.NewReplacer(careCF, pt.CF, "monitor-0001", "monitor-"+pt.CF).Replace(plan)
		if code, body := do(b, "POST", c.lomBase+"/CarePlan", c.lomDoc, "application/fhir+json", p); code != http.StatusCreated {
			b.Fatalf("enrol: %d %s", code, body)
		}
		patients = append(patients, pt.CF)
	}
	start := time.Now().UTC().Add(-20 * time.Hour).Truncate(time.Second)
	bundle := func(n int) string {
		var sb strings.Builder
		sb.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
		cf := patients[n%len(patients)]
		for i := range 100 {
			if i > 0 {
				sb.WriteByte(',')
			}
			kg := 70 + float64(i%10)
			if i%30 == 29 {
				kg = 95
			}
			fmt.Fprintf(&sb, `{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
				`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"%s",`+
				`"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"kg"}}}`,
				cf, start.Add(time.Duration(n/len(patients)*100+i)*time.Second).Format(time.RFC3339), kg)
		}
		sb.WriteString(`]}`)
		return sb.String()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0, t0 := cpuTime(), time.Now()
	b.ResetTimer()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1) - 1)
				if n >= b.N {
					return
				}
				if code, body := do(b, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", bundle(n)); code != http.StatusOK || strings.Count(body, "201 Created") != 100 {
					b.Errorf("bundle %d: %d %.200s", n, code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	readings := float64(b.N) * 100
	b.ReportMetric(readings/time.Since(t0).Seconds(), "readings/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/readings/1e3, "cpu-µs/reading")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
