package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// BenchmarkHistory measures a patient's whole history with contents,
// GET /fhir/Patient/{id}/$everything?_content=true, asked of Puglia's node
// for a patient with 60 documents of ~20 KiB, 20 kept by each of three
// regions (three fsenode processes on loopback), 40 of them fetched
// from Lombardia and Campania over the federation, Puglia's from its own
// store. Sequential requests after a warm-up.
//
//	go test ./cmd/fsenode -run '^$' -bench History -benchtime 1x -v
func BenchmarkHistory(b *testing.B) {
	const perRegion, runs = 20, 200
	for range b.N {
		// FSENET_BENCH_PROFILE names a file for a CPU profile, during the
		// timed requests, of Lombardia's node (a custodian), or of Puglia's
		// (the requester) with FSENET_BENCH_PROFILE_REGION=160.
		pprofPort, err := freePort()
		if err != nil {
			b.Fatal(err)
		}
		_, regions := threeVotersEach(b, func(i int) []string {
			if i == profiledRegion() {
				return []string{"--debug.pprof_listen", fmt.Sprintf("127.0.0.1:%d", pprofPort)}
			}
			return nil
		})
		rng := rand.New(rand.NewPCG(11, 12))
		pt := synth.NewPatient(rng)
		registerPatient(b, regions[0], pt)
		kind, _ := synth.KindOf("11502-2")
		size := 0
		for _, r := range regions {
			prod := newProducer(b, r)
			client := &gateway.Client{BaseURL: r.url(), Bearer: prod.bearer, Key: prod.key, Issuer: producerIssuer,
				Subject: operatorSub, Role: "PSS", Region: r.code, Organization: producerOrg}
			for i := range perRegion {
				d := synth.Document{Kind: kind, Region: r.code, LocalID: fmt.Sprintf("h-%d", i), Patient: pt, AuthorCF: operatorSub,
					Org: producerOrg, Padding: 19 << 10, Time: time.Date(2025, time.Month(1+i%12), 1+i, 9, 0, 0, 0, time.UTC)}
				doc := synth.FHIRDocument(d)
				size = len(doc)
				sig, err := gateway.SignDocument(prod.key, doc)
				if err != nil {
					b.Fatal(err)
				}
				if a, err := client.ProvideFHIR(context.Background(), synth.ProvideBundle(d, doc, sig), doc, "11502-2", pt.CF); err != nil || a.Status != http.StatusOK {
					b.Fatalf("publish in %s: %v %v", r.code, a, err)
				}
			}
		}
		pug := regions[2]
		clinician := regionToken(b, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
		waitFor(b, 30*time.Second, "Puglia sees the 60 documents", func() bool {
			return len(search(b, pug, clinician, pt.CF, "&_count=100")) == 3*perRegion
		})
		url := pug.url() + "/fhir/Patient/CF-" + pt.CF + "/$everything?_content=true"
		profiled := make(chan struct{})
		go func() {
			defer close(profiled)
			path := os.Getenv("FSENET_BENCH_PROFILE")
			if path == "" {
				return
			}
			time.Sleep(2 * time.Second)
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=5", pprofPort))
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if f, err := os.Create(path); err == nil {
				io.Copy(f, resp.Body)
				f.Close()
			}
		}()
		defer func() { <-profiled }()
		var lat []time.Duration
		for i := range runs + 5 {
			start := time.Now()
			code, body := call(b, http.MethodGet, url, clinician, "", nil)
			took := time.Since(start)
			if code != http.StatusOK || strings.Count(string(body), `"resourceType":"Binary"`) != 3*perRegion || strings.Contains(string(body), `"OperationOutcome"`) {
				b.Fatalf("history: %d, %d Binaries", code, strings.Count(string(body), `"resourceType":"Binary"`))
			}
			if i >= 5 {
				lat = append(lat, took)
			}
		}
		slices.Sort(lat)
		q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(100 * time.Microsecond) }
		b.Logf("history of %d documents of %d bytes (%d per region), %d requests: p50 %v p99 %v max %v", 3*perRegion, size, perRegion, runs, q(0.5), q(0.99), q(1))
		b.ReportMetric(float64(q(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99-ms")
	}
}

func profiledRegion() int {
	if os.Getenv("FSENET_BENCH_PROFILE_REGION") == "160" {
		return 2
	}
	return 0
}
