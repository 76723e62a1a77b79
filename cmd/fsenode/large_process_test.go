package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// rssKiB reads a process's resident set size from /proc.
func rssKiB(p *proc) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %d", p.cmd.Process.Pid)
}

// TestProcessLargeDocumentStreams: a 50 MiB document kept by Lombardia,
// read through Puglia's node, streams through Puglia: its resident memory
// grows by far less than the document while it passes.
func TestProcessLargeDocumentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("a 50 MiB document through three processes")
	}
	_, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]
	pt := synth.NewPatient(rand.New(rand.NewPCG(31, 32)))
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	kind, _ := synth.KindOf("11502-2")
	// A scanned page of pseudo-random pixels: the PDF stays ~50 MiB after every
	// compression on the way.
	d := synth.Document{Kind: kind, Region: "030", LocalID: "large-1", Patient: pt, AuthorCF: operatorSub, Org: producerOrg, Scan: 50 << 20}
	pdf, err := synth.PDF(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(pdf) < 50<<20 {
		t.Fatalf("the document is %d bytes, want at least 50 MiB", len(pdf))
	}
	sum := sha256.Sum256(pdf)
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, pt.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "large-1", "REF"), pdf, pt.CF, "11502-2", "CREATE")
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	url := pug.url() + "/fhir/Binary/" + index.ResourceID(d.ID())
	waitFor(t, 30*time.Second, "Puglia indexes the document", func() bool {
		_, ok := search(t, pug, clinician, pt.CF, "")[index.ResourceID(d.ID())]
		return ok
	})

	// A small read first, so that Puglia's connection to Lombardia and
	// its buffers exist before the baseline is taken.
	small := synth.Document{Kind: kind, Region: "030", LocalID: "large-0", Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
	smallPDF, _ := synth.PDF(small)
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, smallPDF, pt.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "large-0", "REF"), smallPDF, pt.CF, "11502-2", "CREATE")
	waitFor(t, 30*time.Second, "Puglia serves the small document", func() bool {
		code, b := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(small.ID()), clinician, "", nil)
		return code == http.StatusOK && bytes.Equal(b, smallPDF)
	})

	base, err := rssKiB(pug)
	if err != nil {
		t.Fatal(err)
	}
	var peak int64
	var sampleErr error
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			n, err := rssKiB(pug)
			if err != nil {
				sampleErr = err
				return
			}
			peak = max(peak, n)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+clinician)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	close(done)
	<-sampled
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	if resp.StatusCode != http.StatusOK || err != nil || n != int64(len(pdf)) || !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("read through Puglia: %d, %d bytes (%v), hash equal %v", resp.StatusCode, n, err, bytes.Equal(h.Sum(nil), sum[:]))
	}
	growth := (peak - base) << 10
	t.Logf("Puglia's RSS %d MiB before, at most %d MiB while %d MiB passed (+%.1f MiB)", base>>10, peak>>10, n>>20, float64(growth)/(1<<20))
	if growth > 25<<20 {
		t.Fatalf("Puglia's RSS grew by %d MiB for a %d MiB document: something holds it whole", growth>>20, n>>20)
	}
}
