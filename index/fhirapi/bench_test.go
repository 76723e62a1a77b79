package fhirapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
)

// benchCF returns a valid codice fiscale for patient i.
func benchCF(i int) string {
	base := fmt.Sprintf("RSS%c%c%c%02dA01H501", 'A'+i/676%26, 'A'+i/26%26, 'A'+i%26, 50+i/17576%50)
	for c := 'A'; c <= 'Z'; c++ {
		if p := (index.Patient{ID: base + string(c), HomeRegion: "030"}); func() bool { _, err := index.PutPatient(p); return err == nil }() {
			return base + string(c)
		}
	}
	panic("no check character")
}

// BenchmarkSearchByPatient: one replica holding PATIENTS × 20 index
// entries (FSENET_BENCH_PATIENTS, default 5,000); a clinician searches
// DocumentReference?patient=… for random patients. It reports the latency
// of the index query with the policy applied, and of the whole HTTP
// search including the audit record committed before the answer, plus
// the state's bytes on disk per entry.
//
//	go test ./index/fhirapi -run '^$' -bench SearchByPatient -benchtime 2000x -v -timeout 60m
func BenchmarkSearchByPatient(b *testing.B) {
	patients := 5000
	if s := os.Getenv("FSENET_BENCH_PATIENTS"); s != "" {
		patients, _ = strconv.Atoi(s)
	}
	const perPatient = 20
	e, audit := newBenchEnv(b)
	ids := make([]string, patients)
	load := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= patients {
					return
				}
				cf := benchCF(i)
				ids[i] = cf
				cmd, _ := index.PutPatient(index.Patient{ID: cf, Family: "Rossi", HomeRegion: "030"})
				e.mustApply(b, cmd)
				cmd, _ = index.SetConsent(index.ConsentChange{Patient: "CF:" + cf, Given: true})
				e.mustApply(b, cmd)
				for d := 0; d < perPatient; d++ {
					sum := sha256.Sum256([]byte(fmt.Sprint(i, d)))
					cmd, err := index.Publish(index.Entry{ID: index.DocumentID("030", fmt.Sprintf("%d-%d", i, d)), Patient: "CF:" + cf,
						Type: "11502-2", Class: "REF", Created: created.Add(time.Duration(i*perPatient+d) * time.Minute),
						AuthorOrg: "030-ASST-01", Custodian: "030", Hash: hex.EncodeToString(sum[:]), Size: 40000, MIME: "application/pdf"})
					if err != nil {
						b.Error(err)
						return
					}
					e.mustApply(b, cmd)
				}
			}
		}()
	}
	wg.Wait()
	entries := patients * perPatient
	b.Logf("loaded %d patients, %d entries in %v", patients, entries, time.Since(load).Round(time.Second))
	if err := e.node.Snapshot(); err != nil {
		b.Logf("snapshot: %v", err)
	}
	b.Logf("state on disk: %.0f bytes per entry (allocated blocks: badger state %d MiB, raft log %d MiB, snapshots %d MiB)",
		float64(diskUsage(filepath.Join(e.dir, "consensus", "state")))/float64(entries),
		diskUsage(filepath.Join(e.dir, "consensus", "state"))>>20, diskUsage(filepath.Join(e.dir, "consensus", "wal"))>>20,
		diskUsage(filepath.Join(e.dir, "consensus", "snapshots"))>>20)
	b.Logf("RSS after loading: %d MiB (anonymous %d MiB, mapped files %d MiB)", rss("VmRSS"), rss("RssAnon"), rss("RssFile"))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.Logf("Go heap after a GC: %d MiB in use, %d MiB obtained from the OS, %d MiB released", ms.HeapInuse>>20, ms.HeapSys>>20, ms.HeapReleased>>20)
	// Badger goes on compacting after a bulk load, and the Go runtime
	// returns freed memory to the system gradually: optionally wait and
	// measure the settled node too.
	if settle, _ := time.ParseDuration(os.Getenv("FSENET_BENCH_SETTLE")); settle > 0 {
		time.Sleep(settle)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.Logf("after %v idle: RSS %d MiB (anonymous %d MiB, mapped files %d MiB); Go heap %d MiB in use, %d MiB obtained, %d MiB released",
			settle, rss("VmRSS"), rss("RssAnon"), rss("RssFile"), ms.HeapInuse>>20, ms.HeapSys>>20, ms.HeapReleased>>20)
	}
	if path := os.Getenv("FSENET_BENCH_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	// The load runs once; the sub-benchmark runs the searches b.N times.
	b.Run("search", func(b *testing.B) { audit.reset(); searchBench(b, e, ids, perPatient, audit) })
}

// timedRecorder times each audit Record (the spool write and fsync a
// disclosure waits for).
type timedRecorder struct {
	rec Recorder
	mu  sync.Mutex
	d   []time.Duration
}

func (t *timedRecorder) Record(ctx context.Context, events ...index.Event) error {
	t0 := time.Now()
	err := t.rec.Record(ctx, events...)
	t.mu.Lock()
	t.d = append(t.d, time.Since(t0))
	t.mu.Unlock()
	return err
}

func (t *timedRecorder) reset() { t.mu.Lock(); t.d = nil; t.mu.Unlock() }

func searchBench(b *testing.B, e *env, ids []string, perPatient int, audit *timedRecorder) {
	patients := len(ids)
	query := make([]time.Duration, 0, b.N)
	full := make([]time.Duration, 0, b.N)
	caller := callers["clinician"]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pid := "CF:" + ids[(i*7919)%patients]
		t0 := time.Now()
		n := 0
		_, err := e.node.Read(context.Background(), consensus.Local, func(rd index.Reader) error {
			p, _, err := index.GetPatient(rd, pid)
			if err != nil {
				return err
			}
			return index.ByPatient(rd, pid, index.Range{}, nil, func(en index.Entry) bool {
				if index.EntryAccess(caller, p, en).Visible {
					n++
				}
				return true
			})
		})
		query = append(query, time.Since(t0))
		if err != nil || n != perPatient {
			b.Fatalf("query: %d entries, %v", n, err)
		}
		t0 = time.Now()
		req, _ := http.NewRequest("GET", e.srv.URL+"/fhir/DocumentReference?patient=Patient/CF-"+ids[(i*7919)%patients], nil)
		req.Header.Set("Authorization", "Bearer clinician")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		full = append(full, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("search: %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(query, 0.5), "query-p50-ms")
	b.ReportMetric(pct(query, 0.99), "query-p99-ms")
	b.ReportMetric(pct(full, 0.5), "http+audit-p50-ms")
	b.ReportMetric(pct(full, 0.99), "http+audit-p99-ms")
	audit.mu.Lock()
	if len(audit.d) > 0 {
		b.ReportMetric(pct(audit.d, 0.5), "audit-p50-ms")
		b.ReportMetric(pct(audit.d, 0.99), "audit-p99-ms")
	}
	audit.mu.Unlock()
	b.ReportMetric(0, "ns/op")
}

// diskUsage is the space a directory's files take on disk (allocated
// blocks, not apparent sizes: the logs are preallocated and sparse).
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

// rss reads one of the process's memory figures, in MiB.
func rss(field string) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return kb >> 10
		}
	}
	return -1
}
