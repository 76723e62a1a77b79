package node

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// BenchmarkObservationsAcrossRegions is a clinician at Puglia's node
// asking for a patient's Observations, kept by three regions (Lombardia,
// Campania and Puglia itself: two lab reports each), over real nodes on
// loopback: one op is one search, answered merged. It reports the
// latency's median and 99th percentile.
func BenchmarkObservationsAcrossRegions(b *testing.B) {
	f := newFed(b)
	nodes := map[string]*Node{"030": f.add("030", federation.RoleVoter), "150": f.add("150", federation.RoleVoter), "160": f.add("160", federation.RoleVoter)}
	pt := synth.NewPatient(rand.New(rand.NewPCG(7, 19)))
	register(b, nodes["030"], pt, "030", true)
	consensustest.Eventually(b, 30*time.Second, func() error {
		for code, n := range nodes {
			for _, idp := range []string{"030", "150", "160"} {
				if _, ok := n.members.Members().View().IdP(idp); !ok {
					return fmt.Errorf("%s does not know %s's IdP yet", code, idp)
				}
			}
		}
		return nil
	}, "IdP keys replicated")
	for _, region := range []string{"030", "150", "160"} {
		lab := f.producer(nodes[region], region, "Ospedale "+region, region+"901")
		for i := range 2 {
			_, _ = lab.publishLab(b, pt, fmt.Sprintf("bench-lab-%d", i), time.Date(2026, 10, 1+i, 9, 0, 0, 0, time.UTC))
		}
	}
	clinician := f.token("160", index.PurposeTreatment, func(c *federation.Claims) { c.Subject, c.SubjectRole = "BNCLCU75A01H501Z", "AAS" })
	url := "http://" + nodes["160"].HTTPAddr() + "/fhir/Observation?patient=Patient/CF-" + pt.CF
	var want int
	consensustest.Eventually(b, 60*time.Second, func() error {
		code, body := do(b, http.MethodGet, url, clinician, "", "")
		var bundle struct {
			Total int `json:"total"`
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
					Meta         struct {
						Tag []struct{ Code string } `json:"tag"`
					} `json:"meta"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &bundle) != nil {
			return fmt.Errorf("%d %.300s", code, body)
		}
		regions := map[string]bool{}
		for _, e := range bundle.Entry {
			if e.Resource.ResourceType == "OperationOutcome" {
				return fmt.Errorf("partial: %.300s", body)
			}
			for _, t := range e.Resource.Meta.Tag {
				regions[t.Code] = true
			}
		}
		if len(regions) != 3 {
			return fmt.Errorf("observations from %d regions", len(regions))
		}
		want = bundle.Total
		return nil
	}, "every region's observations")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		code, body := do(b, http.MethodGet, url, clinician, "", "")
		lat = append(lat, time.Since(start))
		if code != http.StatusOK || len(body) < 100 {
			b.Fatalf("%d %.300s", code, body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(want), "observations")
}
