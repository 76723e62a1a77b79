package monitor

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngest: batches of 100 readings from 200 patients' device
// gateways, 16 at once, each reading checked against its plan's
// thresholds in the transaction that stores it. One op is one batch.
func BenchmarkIngest(b *testing.B) {
	s := open(b)
	start := time.Now().Add(-365 * 24 * time.Hour).UTC()
	const patients = 200
	for i := range patients {
		p := plan(start)
		p.ID, p.Patient = fmt.Sprintf("030-tm-%d", i), fmt.Sprintf("CF:P%015d", i)
		if err := s.PutPlan(p); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	batch := func(n int64) []Reading {
		pt := fmt.Sprintf("CF:P%015d", n%patients)
		out := make([]Reading, 100)
		for i := range out {
			at := start.Add(time.Duration(n/patients*100+int64(i)) * time.Minute)
			out[i] = Reading{Patient: pt, Device: "bilancia-1", Code: Weight, Value: 60 + float64(i%40), Time: at}
		}
		return out
	}
	cpu0, t0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	var alerts atomic.Int64
	b.ResetTimer()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				res, err := s.Ingest(batch(n))
				if err != nil || res.Stored != 100 {
					b.Error(res, err)
					return
				}
				alerts.Add(int64(len(res.Alerts)))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	readings := float64(b.N) * 100
	b.ReportMetric(readings/time.Since(t0).Seconds(), "readings/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/readings/1e3, "cpu-µs/reading")
	b.ReportMetric(float64(alerts.Load()), "alerts")
}

// BenchmarkDailyYear: a year of one patient's readings (about 50,000:
// weight and blood pressure several times a day) read as daily aggregates,
// the chart of a year.
func BenchmarkDailyYear(b *testing.B) {
	s := open(b)
	start := time.Now().Add(-366 * 24 * time.Hour).UTC()
	if err := s.PutPlan(plan(start)); err != nil {
		b.Fatal(err)
	}
	var rs []Reading
	for i := range 50000 {
		at := start.Add(time.Duration(i) * 630 * time.Second)
		rs = append(rs, Reading{Patient: patient, Device: "sfigmo-1", Code: Systolic, Value: 100 + float64(i%60), Time: at})
		if len(rs) == MaxBatch {
			if _, err := s.Ingest(rs); err != nil {
				b.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	if len(rs) > 0 {
		if _, err := s.Ingest(rs); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		days, err := s.Daily(patient, Systolic, start, start.Add(366*24*time.Hour))
		if err != nil || len(days) < 365 {
			b.Fatal(len(days), err)
		}
		lat = append(lat, time.Since(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1e3, "p99-ms")
}
