package population

import (
	"math/rand/v2"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

// benchRows makes n rows of one region: 300,000 patients, two years of
// results, most of them HbA1c in mmol/mol, the rest HbA1c in %, other
// tests and vaccinations, as a store scan of the laboratory range would
// feed them.
func benchRows(n int) []facts.Row {
	rng := rand.New(rand.NewPCG(1, 1))
	genders := []string{"male", "female", "other", ""}
	start := date("2024-01-01")
	rows := make([]facts.Row, n)
	for i := range rows {
		p := rng.IntN(300_000)
		r := facts.Row{
			Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8",
			Date: start.AddDate(0, 0, rng.IntN(2*365)), Value: float64(30 + rng.IntN(70)), HasValue: true,
			Unit: "mmol/mol", Status: "final", Patient: uint64(p), Age: p % 100, Gender: genders[p%len(genders)],
			Province: "RM", Facility: "120201", Region: "120",
		}
		switch rng.IntN(10) {
		case 0:
			r.Code, r.Value, r.Unit = "4548-4", float64(4+rng.IntN(10)), "%"
		case 1:
			r.Code, r.Value, r.Unit = "2345-7", float64(70+rng.IntN(100)), "mg/dL"
		}
		rows[i] = r
	}
	return rows
}

// BenchmarkAggregate1M answers "patients with HbA1c >= 48 mmol/mol in 2025,
// by age band and gender" over 1M rows of one region.
func BenchmarkAggregate1M(b *testing.B) {
	const n = 1_000_000
	rows := benchRows(n)
	q := hba1c(Patients, ByAgeBand, ByGender)
	q.Value = &ValueRange{Min: ptr(48.0), Unit: "mmol/mol"}
	var cells int
	for b.Loop() {
		a, err := NewAggregator(q, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			a.Add(r)
		}
		cells = len(a.Result().Cells)
	}
	if cells == 0 {
		b.Fatal("no cell")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
}
