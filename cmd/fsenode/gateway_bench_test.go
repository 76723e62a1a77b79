package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/store"
	"github.com/fsenet/fsenet/repository/synth"
)

// BenchmarkGatewayPublish measures publications of ~20 KiB PDF documents
// (a synthetic lab report whose CDA is padded until the PDF is about
// 20 KiB) through the producer gateway of real fsenode processes: three
// voters on loopback, each region's producer publishing its own
// documents with 64 concurrent requests, first one region alone, then all
// three at once. Documents are validated beforehand (not timed). A
// publication counts when the gateway answered 201, i.e. after its index
// entry was committed.
//
//	FSENET_BENCH_DOCS=2000 go test ./cmd/fsenode -run '^$' -bench GatewayPublish -benchtime 1x -v
func BenchmarkGatewayPublish(b *testing.B) {
	docs := 1000
	if v, err := strconv.Atoi(os.Getenv("FSENET_BENCH_DOCS")); err == nil && v > 0 {
		docs = v
	}
	const workers = 64
	for range b.N {
		base := b.TempDir()
		a := newAuthority(b, base)
		regions := []*proc{a.region(base, "030", "voter"), a.region(base, "150", "voter"), a.region(base, "160", "voter")}
		profile := os.Getenv("FSENET_BENCH_PROFILE") // a file for a CPU profile of Lombardia's node while it publishes alone
		pprofPort, err := freePort()
		if err != nil {
			b.Fatal(err)
		}
		regions[0].start(b, "--raft.bootstrap=true", "--raft.snapshot_threshold", "100000", "--raft.trailing_logs", "100000", "--raft.snapshot_interval", "60s",
			"--debug.pprof_listen", fmt.Sprintf("127.0.0.1:%d", pprofPort))
		for _, r := range regions[1:] {
			r.start(b, "--p2p.join", regions[0].url(), "--raft.snapshot_threshold", "100000", "--raft.trailing_logs", "100000", "--raft.snapshot_interval", "60s")
		}
		waitFor(b, 60*time.Second, "three regions ready", func() bool {
			return regions[0].ready() && regions[1].ready() && regions[2].ready()
		})

		type load struct {
			prod *producer
			pt   synth.Patient
			pdfs [][]byte
			ids  []string
		}
		loads := make([]*load, len(regions))
		kind, _ := synth.KindOf("11502-2")
		pdfBytes, cdaBytes := 0, 0
		for ri, r := range regions {
			rng := rand.New(rand.NewPCG(uint64(ri), 99))
			l := &load{prod: newProducer(b, r), pt: synth.NewPatient(rng)}
			registerPatient(b, r, l.pt)
			for i := range 2 * docs {
				d := synth.Document{Kind: kind, Region: r.code, LocalID: fmt.Sprintf("bench-%d", i), Patient: l.pt,
					AuthorCF: operatorSub, Org: producerOrg, Padding: 140 << 10}
				pdf, err := synth.PDF(d)
				if err != nil {
					b.Fatal(err)
				}
				if ri == 0 && i == 0 {
					pdfBytes, cdaBytes = len(pdf), len(synth.CDA(d))
				}
				l.pdfs = append(l.pdfs, pdf)
				l.ids = append(l.ids, d.LocalID)
			}
			loads[ri] = l
		}
		b.Logf("document: PDF %d bytes, its CDA %d bytes", pdfBytes, cdaBytes)
		// Validate every document, concurrently, untimed.
		parallel := func(n int, fn func(i int)) {
			next := make(chan int)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						fn(i)
					}
				}()
			}
			for i := range n {
				next <- i
			}
			close(next)
			wg.Wait()
		}
		for _, l := range loads {
			parallel(len(l.pdfs), func(i int) {
				l.prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, l.pdfs[i], l.pt.CF, "11502-2", "CREATE")
			})
		}

		// cpu is the CPU time (user and system) the three nodes used so
		// far: the federation's whole cost of what it did.
		cpu := func() time.Duration {
			var sum time.Duration
			for _, r := range regions {
				sum += processCPU(b, r.cmd.Process.Pid)
			}
			return sum
		}
		reportCPU := func(name string, used time.Duration, n int) {
			perDoc := float64(used.Microseconds()) / 1000 / float64(n)
			b.Logf("%s: the three nodes used %v of CPU for %d documents = %.2f core-ms per document", name, used.Round(10*time.Millisecond), n, perDoc)
			b.ReportMetric(perDoc, name+"-core-ms/doc")
		}
		publish := func(l *load, from, to int) (time.Duration, []time.Duration) {
			var mu sync.Mutex
			var lat []time.Duration
			start := time.Now()
			parallel(to-from, func(i int) {
				i += from
				t0 := time.Now()
				l.prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication(l.prod.node.code, l.ids[i], "REF"), l.pdfs[i], l.pt.CF, "11502-2", "CREATE")
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			})
			return time.Since(start), lat
		}
		report := func(name string, took time.Duration, lat []time.Duration) {
			slices.Sort(lat)
			q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(100 * time.Microsecond) }
			rate := float64(len(lat)) / took.Seconds()
			b.Logf("%s: %d documents in %v = %.0f documents/s; latency p50 %v p99 %v max %v", name, len(lat), took.Round(time.Millisecond), rate, q(0.5), q(0.99), q(1))
			b.ReportMetric(rate, name+"-docs/s")
			b.ReportMetric(float64(q(0.99).Microseconds())/1000, name+"-p99-ms")
		}

		// One region publishing alone.
		profiled := make(chan struct{})
		go func() {
			defer close(profiled)
			if profile == "" {
				return
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=3", pprofPort))
			if err != nil {
				b.Log(err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(profile)
			if err != nil {
				b.Log(err)
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		}()
		c0 := cpu()
		took, lat := publish(loads[0], 0, docs)
		reportCPU("one-region", cpu()-c0, docs)
		<-profiled
		report("one-region", took, lat)
		// The FHIR format (IHE MHD ITI-65), one region: FHIR document
		// Bundles of about 20 KiB, signed by the producer.
		{
			l := loads[0]
			client := &gateway.Client{BaseURL: l.prod.node.url(), Bearer: l.prod.bearer, Key: l.prod.key, Issuer: producerIssuer,
				Subject: operatorSub, Role: "PSS", Region: l.prod.node.code, Organization: producerOrg, HTTP: l.prod.client}
			bundles, docsF := make([][]byte, docs), make([][]byte, docs)
			for i := range docs {
				d := synth.Document{Kind: kind, Region: "030", LocalID: fmt.Sprintf("fhir-%d", i), Patient: l.pt,
					AuthorCF: operatorSub, Org: producerOrg, Padding: 19 << 10}
				docsF[i] = synth.FHIRDocument(d)
				sig, err := gateway.SignDocument(l.prod.key, docsF[i])
				if err != nil {
					b.Fatal(err)
				}
				bundles[i] = synth.ProvideBundle(d, docsF[i], sig)
			}
			b.Logf("FHIR document: %d bytes (transaction Bundle %d bytes)", len(docsF[0]), len(bundles[0]))
			var mu sync.Mutex
			var lat []time.Duration
			start, c0 := time.Now(), cpu()
			parallel(docs, func(i int) {
				t0 := time.Now()
				a, err := client.ProvideFHIR(context.Background(), bundles[i], docsF[i], "11502-2", l.pt.CF)
				if err != nil || a.Status != http.StatusOK {
					b.Errorf("ITI-65 %d: %v %v", i, a, err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			})
			reportCPU("one-region-fhir", cpu()-c0, docs)
			report("one-region-fhir", time.Since(start), lat)
		}

		// All three at once, each its own documents.
		var wg sync.WaitGroup
		res := make([]struct {
			took time.Duration
			lat  []time.Duration
		}, len(loads))
		c0 = cpu()
		for i, l := range loads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				from := docs
				if i > 0 {
					from = 0
				}
				res[i].took, res[i].lat = publish(l, from, from+docs)
			}()
		}
		wg.Wait()
		reportCPU("three-regions", cpu()-c0, len(loads)*docs)
		for i, r := range res {
			report("three-regions-"+regions[i].code, r.took, r.lat)
		}

		for _, r := range regions {
			r.terminate(b)
		}
		cfg := store.DefaultConfig(filepath.Join(regions[0].dir, "repository"))
		cfg.GCInterval = 0
		st, err := store.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		stats, err := st.Stats()
		st.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("Lombardia's store: %d documents, %d bytes received, %d bytes stored (content chunks): ratio %.3f",
			stats.Documents, stats.OriginalBytes, stats.StoredBytes, float64(stats.StoredBytes)/float64(stats.OriginalBytes))
		b.ReportMetric(float64(stats.StoredBytes)/float64(stats.OriginalBytes), "stored/original")
	}
}

// processCPU is a process's CPU time, user and system, from
// /proc/<pid>/stat (in clock ticks of 10 ms).
func processCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command (which may hold spaces) in parentheses.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
