package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// getBinary reads a Binary as a clinician would; err is a transport
// failure, never a refusal.
func getBinary(client *http.Client, node *proc, token, rid string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, node.url()+"/fhir/Binary/"+rid, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// publishPDF validates and publishes a synthetic report of the patient
// through the producer's region; it returns its document id and bytes.
func publishPDF(t *testing.T, prod *producer, pt synth.Patient, local string) (string, []byte) {
	t.Helper()
	kind, _ := synth.KindOf("11502-2")
	d := synth.Document{Kind: kind, Region: prod.node.code, LocalID: local, Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
	pdf, err := synth.PDF(d)
	if err != nil {
		t.Fatal(err)
	}
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, pt.CF, kind.LOINC, "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication(prod.node.code, local, kind.Class), pdf, pt.CF, kind.LOINC, "CREATE")
	return d.ID(), pdf
}

// scrape returns the node's metrics in the text format.
func scrape(p *proc) string {
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// series sums the values of the samples of metric name whose labels
// include every one of labels ("custodian=\"030\"", say).
func series(text, name string, labels ...string) (float64, bool) {
	var sum float64
	var found bool
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		end := strings.LastIndexByte(l, '}')
		if end < 0 {
			continue
		}
		set := strings.Split(l[len(name)+1:end], ",")
		if !allIn(labels, set) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(l[end+1:]), 64)
		if err != nil {
			continue
		}
		sum, found = sum+v, true
	}
	return sum, found
}

func allIn(want, set []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

// frozenRead is one read of a document whose custodian is stopped.
type frozenRead struct {
	code  int
	body  []byte
	err   error
	took  time.Duration
	order int64 // 1 for the first of them to end, 2 for the next...
}

// TestProcessFrozenCustodianIsolated: Lombardia's node is stopped
// (SIGSTOP) with its connections open. Reads through Puglia of the
// documents Lombardia keeps take only Lombardia's share of Puglia's fetch
// slots, so reads of Campania's documents through Puglia answer while
// they are pending; each of them ends, still frozen, after the first-byte
// deadline with 504 naming the region (or 503 naming it, for those that
// never had one of its slots); the fetch metrics say so by region; once
// Lombardia resumes, its documents answer again.
func TestProcessFrozenCustodianIsolated(t *testing.T) {
	const (
		maxFetches = 8
		share      = maxFetches / 4 // repository.max_fetches_per_region's default
		frozen     = maxFetches + 4 // more than every slot of the node
		firstByte  = 3 * time.Second
	)
	_, regions := threeVoters(t, "--repository.max_fetches", strconv.Itoa(maxFetches),
		"--repository.fetch_first_byte_timeout", firstByte.String())
	lom, cam, pug := regions[0], regions[1], regions[2]
	pt := synth.NewPatient(rand.New(rand.NewPCG(91, 3)))
	registerPatient(t, lom, pt)
	lomProd, camProd := newProducer(t, lom), newProducer(t, cam)
	docs := map[string][]byte{}
	var lomDocs, camDocs []string
	for i := range 3 {
		id, pdf := publishPDF(t, lomProd, pt, fmt.Sprintf("iso-lom-%d", i))
		lomDocs, docs[id] = append(lomDocs, id), pdf
	}
	for i := range 2 {
		id, pdf := publishPDF(t, camProd, pt, fmt.Sprintf("iso-cam-%d", i))
		camDocs, docs[id] = append(camDocs, id), pdf
	}
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	client := &http.Client{Timeout: 2 * time.Minute}
	readsWhole := func(ids []string) func() bool {
		return func() bool {
			for _, id := range ids {
				code, b, err := getBinary(client, pug, clinician, index.ResourceID(id))
				if err != nil || code != http.StatusOK || !bytes.Equal(b, docs[id]) {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 30*time.Second, "Puglia serves every document", readsWhole(append(slices.Clone(lomDocs), camDocs...)))

	if err := lom.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// A stopped process ignores SIGTERM: resume it before it is stopped,
	// whatever happens below.
	t.Cleanup(func() { _ = lom.cmd.Process.Signal(syscall.SIGCONT) })

	var ended atomic.Int64
	results := make([]frozenRead, frozen)
	var wg sync.WaitGroup
	for i := range frozen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			code, b, err := getBinary(client, pug, clinician, index.ResourceID(lomDocs[i%len(lomDocs)]))
			results[i] = frozenRead{code: code, body: b, err: err, took: time.Since(start), order: ended.Add(1)}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// The frozen reads hold every slot Puglia gives Lombardia.
	waitFor(t, 30*time.Second, "Lombardia's share of Puglia's fetch slots taken", func() bool {
		v, _ := series(scrape(pug), "fsenet_repository_fetches_in_flight", `custodian="030"`)
		return v == share
	})

	// Campania's documents answer while every frozen read is pending.
	thirdDone := make(chan error, 1)
	go func() {
		for round := range 3 {
			for _, id := range camDocs {
				code, b, err := getBinary(client, pug, clinician, index.ResourceID(id))
				if err != nil || code != http.StatusOK || !bytes.Equal(b, docs[id]) {
					thirdDone <- fmt.Errorf("round %d, %s: %d, %d bytes (%v)", round, id, code, len(b), err)
					return
				}
			}
		}
		thirdDone <- nil
	}()
	select {
	case err := <-thirdDone:
		if err != nil {
			t.Fatalf("a read of Campania's document through Puglia with Lombardia frozen: %s", err)
		}
		if n := ended.Load(); n != 0 {
			t.Fatalf("%d reads of the frozen region's documents ended before Campania's were answered", n)
		}
	case <-done:
		t.Fatal("the reads of the frozen region's documents ended before Campania's were answered")
	case <-time.After(time.Minute):
		t.Fatal("reads of Campania's documents through Puglia did not answer within a minute with Lombardia frozen")
	}

	// Each frozen read ends, Lombardia still stopped: 504 naming the
	// region once the deadline passed, or 503 naming it when the read
	// never had a slot.
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("reads of the frozen region's documents still pending a minute after it stopped")
	}
	var timedOut int
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("frozen read %d: %v", i, r.err)
		}
		body := string(r.body)
		switch {
		case r.code == http.StatusGatewayTimeout && strings.Contains(body, `"resourceType":"OperationOutcome"`) && strings.Contains(body, "region 030"):
			timedOut++
			if r.took < firstByte {
				t.Errorf("frozen read %d answered 504 after %v, before the %v deadline", i, r.took, firstByte)
			}
		case r.code == http.StatusServiceUnavailable && strings.Contains(body, `"resourceType":"OperationOutcome"`) && strings.Contains(body, "region 030"):
		default:
			t.Errorf("frozen read %d: %d %s; want 504 (or 503) naming region 030", i, r.code, body)
		}
	}
	if timedOut < share {
		t.Errorf("%d of %d frozen reads answered 504; want at least the %d that held Lombardia's slots", timedOut, frozen, share)
	}
	t.Logf("%d frozen reads: %d answered 504, the rest 503; Campania's answered while they were pending", frozen, timedOut)

	// The fetch metrics, by custodian region and outcome, each with the
	// node's own region.
	m := scrape(pug)
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"fsenet_repository_fetches_total", []string{`custodian="030"`, `outcome="timeout"`, `region="160"`}, float64(timedOut)},
		{"fsenet_repository_fetches_total", []string{`custodian="150"`, `outcome="ok"`, `region="160"`}, 6},
		{"fsenet_repository_fetch_bytes_total", []string{`custodian="150"`, `region="160"`}, float64(len(docs[camDocs[0]]))},
		{"fsenet_repository_fetch_first_byte_seconds_count", []string{`custodian="150"`, `region="160"`}, 6},
		{"fsenet_repository_fetches_in_flight", []string{`custodian="030"`, `region="160"`}, 0},
	} {
		if v, ok := series(m, c.name, c.labels...); !ok || v < c.min {
			t.Errorf("%s%v = %v (found %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}

	if err := lom.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, readyTimeout, "Lombardia's documents answered again through Puglia", readsWhole(lomDocs))
}

// TestProcessHiddenReadsCostLikeAbsent: Binary of a blinded, a withdrawn
// and a no-consent document answers like an absent one (404) and takes as
// long: interleaved samples, in a random order each round, at the
// custodian's node and at another region's, with medians within 10 %
// (in at least one of three measurements, so that load from elsewhere on
// the machine does not fail it; a real difference misses all three).
func TestProcessHiddenReadsCostLikeAbsent(t *testing.T) {
	a, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]
	auth := a.token()
	rng := rand.New(rand.NewPCG(10, 10))
	pt, shy := synth.NewPatient(rng), synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	registerPatient(t, lom, shy)
	opTok := regionToken(t, lom, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN")
	noConsent := []byte(`{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":false}]}`)
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Patient/CF-"+shy.CF+"/$consent", opTok, "application/fhir+json", noConsent); code != http.StatusOK {
		t.Fatalf("withdraw consent: %d %s", code, b)
	}
	prod := newProducer(t, lom)
	open, _ := publishPDF(t, prod, pt, "hid-open")
	blinded, _ := publishPDF(t, prod, pt, "hid-blinded")
	withdrawn, _ := publishPDF(t, prod, pt, "hid-withdrawn")
	shyDoc, _ := publishPDF(t, prod, shy, "hid-shy")
	meta := publication("030", "", "REF")
	for _, k := range []string{"identificativoDoc", "identificativoRep", "healthDataFormat", "mode"} {
		delete(meta, k)
	}
	meta["attiCliniciRegoleAccesso"] = []string{"P99"}
	prod.must(http.StatusOK, http.MethodPut, "/v1/documents/"+blinded+"/metadata", meta, nil, pt.CF, "", "UPDATE")
	prod.must(http.StatusOK, http.MethodDelete, "/v1/documents/"+withdrawn, nil, nil, pt.CF, "", "DELETE")

	kinds := []struct{ name, rid string }{
		{"absent", index.ResourceID(index.DocumentID("030", "hid-never-published"))},
		{"blinded", index.ResourceID(blinded)},
		{"withdrawn", index.ResourceID(withdrawn)},
		{"no consent", index.ResourceID(shyDoc)},
	}
	for _, node := range []*proc{lom, pug} {
		clinician := regionToken(t, node, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
		waitFor(t, 30*time.Second, "region "+node.code+" has every change", func() bool {
			got := search(t, node, clinician, pt.CF, "")
			_, b := got[index.ResourceID(blinded)]
			_, w := got[index.ResourceID(withdrawn)]
			_, ok, _ := pugEntry(t, node, auth, shyDoc)
			return got[index.ResourceID(open)] == "current" && !b && !w && ok
		})
		t.Run(node.code, func(t *testing.T) {
			// A burst of load from elsewhere on the machine can move one
			// kind's median by a tenth in one measurement; a leak moves it
			// in every one. A kind fails when all attempts find it apart.
			const attempts = 3
			apart := map[string][]string{}
			for range attempts {
				medians := hiddenVersusAbsent(t, node, clinician, kinds)
				missed := false
				for _, k := range kinds[1:] {
					if r := float64(medians[k.name]) / float64(medians["absent"]); r < 0.9 || r > 1.1 {
						apart[k.name] = append(apart[k.name], fmt.Sprintf("%v against %v (%+.0f %%)", medians[k.name], medians["absent"], 100*(r-1)))
						missed = true
					}
				}
				if !missed {
					return
				}
			}
			for _, k := range kinds[1:] {
				if len(apart[k.name]) == attempts {
					t.Errorf("%s: medians %s for an absent id in all %d measurements: the answer's time tells that the document exists",
						k.name, strings.Join(apart[k.name], ", "), attempts)
				}
			}
		})
	}
}

// hiddenVersusAbsent reads each kind's Binary in rounds, every round in a
// random order, and returns each kind's median time; every answer must be
// the same 404. The answers take about half a millisecond, with a spread
// of as much on a loaded machine: a thousand samples of each keep the
// medians' own noise within a few per cent.
func hiddenVersusAbsent(t *testing.T, node *proc, token string, kinds []struct{ name, rid string }) map[string]time.Duration {
	const warmup, rounds = 100, 1000
	client := &http.Client{Timeout: 30 * time.Second}
	samples := map[string][]time.Duration{}
	var want []byte
	order := make([]int, len(kinds))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range warmup + rounds {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			k := kinds[i]
			start := time.Now()
			code, b, err := getBinary(client, node, token, k.rid)
			took := time.Since(start)
			if err != nil || code != http.StatusNotFound {
				t.Fatalf("%s: %d %s (%v), want 404", k.name, code, b, err)
			}
			if want == nil {
				want = b
			} else if !bytes.Equal(b, want) {
				t.Fatalf("%s answered %s, an absent id %s", k.name, b, want)
			}
			if round >= warmup {
				samples[k.name] = append(samples[k.name], took)
			}
		}
	}
	medians := map[string]time.Duration{}
	for name, s := range samples {
		slices.Sort(s)
		medians[name] = s[len(s)/2]
		t.Logf("%-10s median %v (p25 %v, p75 %v) of %d", name, medians[name], s[len(s)/4], s[3*len(s)/4], len(s))
	}
	return medians
}
