package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// trustFiles are what a region keeps outside any backup: its identity,
// certificate, the authority's key, its IdP's keys and its configuration.
var trustFiles = []string{"region.toml", "node.key", "region.cert", "authority.pub", "idp.jwks", "idp.key"}

// copyTrust copies a region's trust files from src into dst.
func copyTrust(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range trustFiles {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// restoreRun runs fsenode restore; it returns the output and whether it
// succeeded.
func restoreRun(args ...string) (string, bool) {
	out, err := exec.Command(fsenodeBin, append([]string{"restore"}, args...)...).CombinedOutput()
	return string(out), err == nil
}

// readAll reads every document through a region's Binary endpoint and
// compares the bytes, waiting for each until the region knows it.
func readAll(t *testing.T, r *proc, token string, docs map[string][]byte) {
	t.Helper()
	var wrong []string
	for id, want := range docs {
		var code int
		var body []byte
		waitFor(t, 60*time.Second, "Binary/"+id+" at "+r.code, func() bool {
			code, body = call(t, http.MethodGet, r.url()+"/fhir/Binary/"+index.ResourceID(id), token, "", nil)
			return code != http.StatusNotFound && code != http.StatusServiceUnavailable
		})
		if code != http.StatusOK || !bytes.Equal(body, want) {
			wrong = append(wrong, fmt.Sprintf("%s: %d, %d bytes (want the %d published)", id, code, len(body), len(want)))
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("%d of %d documents read wrong at %s:\n%s", len(wrong), len(docs), r.code, strings.Join(wrong, "\n"))
	}
}

// TestProcessBackupRestore: Campania's producer publishes 200 documents;
// a state-only snapshot restored into an empty directory leaves every
// one without its document (the finding), and the restore says so.
// Campania's region backup (state and documents) is saved; two more
// documents are published; Campania's data directory is destroyed. The
// backup refuses to restore as another region or when altered. Restored
// with --documents-only, Campania rejoins the running federation; the
// check names the two documents published after the backup, which the
// producer sends again; Puglia's clinician then reads all 202 through
// Binary, byte for byte. Last, the whole federation is rebuilt from the
// backup: Campania restores state and documents and starts alone,
// Puglia rejoins it with an empty consensus directory and reads the 200
// documents of the backup again.
func TestProcessBackupRestore(t *testing.T) {
	a, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	base := filepath.Dir(cam.dir)
	auth := a.token()

	rng := rand.New(rand.NewPCG(14, 14))
	pt := synth.NewPatient(rng)
	registerPatient(t, cam, pt)
	prod := newProducer(t, cam)
	client := &gateway.Client{BaseURL: cam.url(), Bearer: prod.bearer, Key: prod.key, Issuer: producerIssuer,
		Subject: operatorSub, Role: "PSS", Region: cam.code, Organization: producerOrg}
	kind, _ := synth.KindOf("11502-2")
	// build makes document i: a few span several of the store's 1 MiB
	// chunks.
	build := func(i int) (string, synth.Document, []byte) {
		d := synth.Document{Kind: kind, Region: cam.code, LocalID: fmt.Sprintf("bk-%d", i), Patient: pt, AuthorCF: operatorSub,
			Org: producerOrg, Time: time.Date(2026, time.Month(1+i%12), 1+i%28, 9, i%60, 0, 0, time.UTC), Padding: 200 + i*37}
		if i%67 == 5 {
			d.Padding = 1<<20 + 1<<19
		}
		return index.DocumentID(cam.code, d.LocalID), d, synth.FHIRDocument(d)
	}
	provide := func(d synth.Document, doc []byte) error {
		sig, err := gateway.SignDocument(prod.key, doc)
		if err != nil {
			return err
		}
		a, err := client.ProvideFHIR(context.Background(), synth.ProvideBundle(d, doc, sig), doc, kind.LOINC, pt.CF)
		if err != nil || !a.OK() {
			return fmt.Errorf("publish %s: %v %v", d.LocalID, a, err)
		}
		return nil
	}
	docs := map[string][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	next := make(chan int)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id, d, doc := build(i)
				if err := provide(d, doc); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				docs[id] = doc
				mu.Unlock()
			}
		}()
	}
	for i := range 200 {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	operator := regionToken(t, cam, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN")
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")

	// The finding: the replicated state alone, restored into an empty
	// directory, names 200 documents this region no longer holds.
	snap := filepath.Join(base, "state-only.snap")
	if out, code := ctl(t, cam.url(), operator, "snapshot", "save", snap); code != 0 {
		t.Fatalf("snapshot save: exit %d\n%s", code, out)
	}
	scratch := filepath.Join(base, "scratch-150")
	copyTrust(t, cam.dir, scratch)
	out, ok := restoreRun("--config", filepath.Join(cam.dir, "region.toml"), "--data_dir", scratch, snap)
	if ok || !strings.Contains(out, "check: 200 of 200 index entries of region 150") || !strings.Contains(out, "no document store") {
		t.Fatalf("restoring the state alone should report 200 documents missing (exit 1):\n%s", out)
	}

	// The region's telemonitoring: a plan and three readings, kept in
	// the region's own store, not in the replicated state.
	tmOp := regionToken(t, cam, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	tmClin := regionToken(t, cam, "--sub", "BNCLCU75A01H501T", "--role", "AAS", "--purpose", "TREATMENT")
	code, b := call(t, http.MethodPost, cam.url()+"/fhir/PlanDefinition", tmOp, "application/fhir+json", monitoringTemplate)
	tid := idIn(t, code, b, http.StatusCreated)
	code, b = call(t, http.MethodPost, cam.url()+"/fhir/CarePlan", tmClin, "application/fhir+json", monitoringPlan(tid, pt.CF))
	idIn(t, code, b, http.StatusCreated)
	weighed := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if code, b := call(t, http.MethodPost, cam.url()+"/fhir/Observation", tmOp, "application/fhir+json",
		weightBundle(pt.CF, weighed, 3, func(i int) float64 { return 70 + float64(i) })); code != http.StatusOK {
		t.Fatalf("readings: %d %s", code, b)
	}
	readings := func() int {
		code, b, err := callErr(http.MethodGet, cam.url()+"/fhir/Observation?category=telemonitoring&patient=Patient/CF-"+pt.CF+"&code=29463-7&date=ge"+weighed.Format(time.RFC3339), tmClin)
		var bundle struct{ Entry []json.RawMessage }
		if err != nil || code != http.StatusOK || json.Unmarshal(b, &bundle) != nil {
			t.Fatalf("readings: %d %s %v", code, b, err)
		}
		return len(bundle.Entry)
	}
	if n := readings(); n != 3 {
		t.Fatalf("%d readings before the backup, want 3", n)
	}

	// The region's backup: only its operator may take it.
	backup := filepath.Join(base, "backup-150")
	if out, code := ctl(t, cam.url(), auth, "backup", "save", backup); code != 1 || !strings.Contains(out, "403") {
		t.Fatalf("the authority took a region's backup with its documents: exit %d\n%s", code, out)
	}
	out, code = ctl(t, cam.url(), operator, "backup", "save", backup)
	if code != 0 || !strings.Contains(out, "200 documents") {
		t.Fatalf("backup save: exit %d\n%s", code, out)
	}
	t.Log(strings.TrimSpace(out))
	var man struct {
		Region string `json:"region"`
		Index  uint64 `json:"index"`
		Files  map[string]struct {
			Bytes int64 `json:"bytes"`
		} `json:"files"`
	}
	if b, err := os.ReadFile(filepath.Join(backup, "manifest.json")); err != nil || json.Unmarshal(b, &man) != nil || man.Region != "150" || man.Index == 0 ||
		len(man.Files) != 4 || man.Files["telemed-monitoring.badger"].Bytes == 0 {
		t.Fatalf("manifest: %+v %v (want the state, the documents and both telemedicine stores)", man, err)
	}

	// Published after the backup.
	late := map[string][]byte{}
	lateDocs := map[string]synth.Document{}
	for i := 200; i < 202; i++ {
		id, d, doc := build(i)
		if err := provide(d, doc); err != nil {
			t.Fatal(err)
		}
		late[id], lateDocs[id] = doc, d
	}
	waitFor(t, 30*time.Second, "Puglia applies the late publications", func() bool {
		for id := range late {
			if code, _ := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(id), clinician, "", nil); code != http.StatusOK {
				return false
			}
		}
		return true
	})

	// Campania's disk is lost: everything but its trust files.
	cam.terminate(t)
	keep := filepath.Join(base, "keep-150")
	copyTrust(t, cam.dir, keep)
	if err := os.RemoveAll(cam.dir); err != nil {
		t.Fatal(err)
	}
	copyTrust(t, keep, cam.dir)

	// Refused before anything is written: another region's node, an
	// altered backup.
	if out, ok := restoreRun("--config", filepath.Join(pug.dir, "region.toml"), "--data_dir", filepath.Join(base, "scratch-160"), "--documents-only", backup); ok ||
		!strings.Contains(out, "is a backup of region 150; this node is region 160") {
		t.Fatalf("restore as Puglia:\n%s", out)
	}
	altered := filepath.Join(base, "altered-150")
	if err := os.CopyFS(altered, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"telemed-monitoring.badger", "repository.badger"} {
		file := filepath.Join(altered, name)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, ok := restoreRun("--config", filepath.Join(cam.dir, "region.toml"), altered); ok || !strings.Contains(out, name+" has") {
			t.Fatalf("restore of a backup whose %s was altered:\n%s", name, out)
		}
	}
	for _, sub := range []string{"consensus", "repository", "telemed", "telemonitoring"} {
		if _, err := os.Stat(filepath.Join(cam.dir, sub)); err == nil {
			t.Fatalf("a refused restore left %s behind", sub)
		}
	}

	// Restored documents; the node rejoins the running federation.
	out, ok = restoreRun("--config", filepath.Join(cam.dir, "region.toml"), "--documents-only", backup)
	if !ok || !strings.Contains(out, "restored the documents of region 150") || !strings.Contains(out, "check: 200 index entries of region 150") ||
		!strings.Contains(out, "restored telemed-monitoring.badger into "+filepath.Join(cam.dir, "telemonitoring")) {
		t.Fatalf("restore --documents-only:\n%s", out)
	}
	t.Log(strings.TrimSpace(out))
	cam.start(t, "--p2p.join", lom.url()+","+pug.url())
	waitFor(t, readyTimeout, "Campania ready again", cam.ready)
	if n := readings(); n != 3 {
		t.Fatalf("%d readings after the restore, want the 3 in the backup", n)
	}

	// The check names what was published after the backup; the producer
	// sends those again, the same documents.
	var check struct {
		Entries int      `json:"entries"`
		Missing []string `json:"missing"`
	}
	out, code = ctl(t, cam.url(), operator, "--json", "backup", "check")
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &check); code != 1 || err != nil || check.Entries != 202 || len(check.Missing) != 2 {
		t.Fatalf("backup check after the restore: exit %d, %+v %v\n%s", code, check, err, out)
	}
	for _, id := range check.Missing {
		if late[id] == nil {
			t.Fatalf("the check names %s, not one of the documents published after the backup", id)
		}
		if err := provide(lateDocs[id], late[id]); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := ctl(t, cam.url(), operator, "backup", "check"); code != 0 || !strings.Contains(out, "202 index entries, 0 without their document") {
		t.Fatalf("backup check after sending them again: exit %d\n%s", code, out)
	}
	all := map[string][]byte{}
	for id, d := range docs {
		all[id] = d
	}
	for id, d := range late {
		all[id] = d
	}
	readAll(t, pug, clinician, all)

	// The whole federation rebuilt from the backup: Campania alone from
	// its state and documents, Puglia rejoining it.
	for _, p := range regions {
		p.terminate(t)
	}
	rebuilt := filepath.Join(base, "rebuilt-150")
	copyTrust(t, cam.dir, rebuilt)
	out, ok = restoreRun("--config", filepath.Join(cam.dir, "region.toml"), "--data_dir", rebuilt, backup)
	if !ok || !strings.Contains(out, fmt.Sprintf("restored the state at log index %d", man.Index)) ||
		!strings.Contains(out, "check: 200 index entries of region 150") {
		t.Fatalf("full restore:\n%s", out)
	}
	cam.start(t, "--data_dir", rebuilt)
	waitFor(t, readyTimeout, "the rebuilt federation's node ready", cam.ready)
	if err := os.RemoveAll(filepath.Join(pug.dir, "consensus")); err != nil {
		t.Fatal(err)
	}
	pug.start(t, "--p2p.join", cam.url())
	waitFor(t, readyTimeout, "Puglia rejoined the rebuilt federation", pug.ready)
	readAll(t, pug, clinician, docs)
	for id := range late {
		if code, _ := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(id), clinician, "", nil); code != http.StatusNotFound {
			t.Fatalf("%s, published after the backup, answered %d in the rebuilt federation", id, code)
		}
	}
}
