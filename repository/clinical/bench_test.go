package clinical

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/store"
)

// benchDocs is the number of documents each region holds in the
// population benchmarks: FSENET_BENCH_DOCS_PER_REGION, 1,000,000 unless
// set (CI runs them small).
func benchDocs() int {
	if n, err := strconv.Atoi(os.Getenv("FSENET_BENCH_DOCS_PER_REGION")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// loadDocs stores n synthetic documents' rows in a region, as the
// extraction would: every document its DocumentReference row (a lab
// report or a discharge letter, of one of 40 facilities); each lab
// report also an HbA1c result. 100,000 patients per million documents.
func loadDocs(b *testing.B, r *region, n int, rng *rand.Rand) {
	b.Helper()
	patients := max(n/10, 1)
	age := make([]int, patients)
	gender := make([]string, patients)
	for p := range age {
		age[p], gender[p] = rng.IntN(100), []string{"male", "female"}[rng.IntN(2)]
	}
	const batch = 2000
	res := make([]store.ExtractionResult, 0, batch)
	start := time.Now()
	for i := range n {
		p := rng.IntN(patients)
		day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
		base := facts.Row{Date: day, Age: age[p], Gender: gender[p], Province: "P" + strconv.Itoa(rng.IntN(5)), Facility: fmt.Sprintf("%s%03d", r.code, rng.IntN(40)), Status: "final"}
		doc := base
		doc.Resource, doc.System, doc.Code = facts.DocumentReference, facts.SystemLOINC, "34105-7"
		rows := []facts.Row{doc}
		if rng.IntN(10) < 6 {
			rows[0].Code = "11502-2"
			obs := base
			obs.Resource, obs.System, obs.Code, obs.Value, obs.HasValue, obs.Unit = facts.Observation, facts.SystemLOINC, "59261-8", float64(30+rng.IntN(60)), true, "mmol/mol"
			rows = append(rows, obs)
		}
		res = append(res, store.ExtractionResult{Record: store.Extracted{Doc: r.code + "-" + strconv.Itoa(i), Patient: "CF:" + strconv.Itoa(p), Outcome: store.ExtractOK}, Rows: rows})
		if len(res) == batch || i == n-1 {
			if err := r.store.PutExtractions(res...); err != nil {
				b.Fatal(err)
			}
			res = res[:0]
		}
	}
	b.Logf("region %s: %d documents loaded in %v", r.code, n, time.Since(start).Round(time.Second))
}

// BenchmarkPopulationQuestion asks three regions of benchDocs documents
// each, over real libp2p hosts and real stores, the questions:
// patients with HbA1c >= 48 mmol/mol in 2025 by region and age band (the
// rows of the lab reports), and documents per month by facility (every
// document's row). One op is one whole question, asked of the three
// regions and merged.
func BenchmarkPopulationQuestion(b *testing.B) {
	n := benchDocs()
	rs := federationOf(b, "030", "150", "160")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range rs {
		loadDocs(b, r, n, rng)
	}
	for _, q := range []struct{ name, body string }{
		{"hba1c-by-region-age", hba1cByRegionAndAge},
		{"documents-by-month-facility", `{"resource":"DocumentReference","code":{"system":"http://loinc.org","codes":["11502-2","34105-7"]},
			"from":"2025-01-01","to":"2026-01-01","group_by":["month","facility"],"measure":"count"}`},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				code, body := ask(b, rs[0], "authority", q.body)
				if code != http.StatusOK {
					b.Fatalf("%d %s", code, body)
				}
				var res populationResult
				if err := json.Unmarshal(body, &res); err != nil || len(res.Result.Answered) != 3 {
					b.Fatalf("%v %s", err, body)
				}
			}
			b.ReportMetric(float64(n), "docs/region")
		})
	}
}
