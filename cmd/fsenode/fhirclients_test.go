package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// fhirClientsDir holds the Node.js script that drives a node with real FHIR
// client libraries, and its pinned dependencies (package-lock.json).
const fhirClientsDir = "testdata/fhirclients"

// The patient's history in TestProcessFHIRClients: FHIR documents kept by
// Lombardia, PDFs kept by Campania, read by a clinician of Puglia in pages
// of fhirClientsPage.
const (
	fhirClientsFHIRDocs = 6
	fhirClientsPDFs     = 4
	fhirClientsPage     = 3
)

// TestProcessFHIRClients: three regions on loopback; a patient of
// Lombardia with FHIR documents published through Lombardia's ITI-65 and
// PDFs through Campania's gateway; a clinician of Puglia reads them at
// Puglia's node. In Go, every resource the node serves for that — the
// CapabilityStatement, the Patient search, each page of the
// DocumentReference search to the last, each DocumentReference, $everything
// with and without contents, each Binary as a resource and the FHIR
// documents inside them — parses strictly as FHIR R4 with
// github.com/google/fhir/go. Then real FHIR client libraries (fhir-kit-client,
// fhirclient and @medplum/core, from testdata/fhirclients) hold the same
// conversation, Binary read both as a resource and as the document's bytes,
// and every resource they got is validated by @medplum/core's validator and
// parsed by google/fhir/go too.
func TestProcessFHIRClients(t *testing.T) {
	_, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	pt := synth.NewPatient(rand.New(rand.NewPCG(21, 7)))
	registerPatient(t, lom, pt)

	// Lombardia's producer provides FHIR documents (ITI-65).
	lomProd := newProducer(t, lom)
	client := &gateway.Client{BaseURL: lom.url(), Bearer: lomProd.bearer, Key: lomProd.key, Issuer: producerIssuer,
		Subject: operatorSub, Role: "PSS", Region: lom.code, Organization: producerOrg}
	for i := range fhirClientsFHIRDocs {
		kind := synth.Kinds[i%len(synth.Kinds)]
		d := synth.Document{Kind: kind, Region: lom.code, LocalID: fmt.Sprintf("clients-fhir-%d", i), Patient: pt, AuthorCF: operatorSub,
			Org: producerOrg, Time: time.Date(2026, time.Month(1+i), 3, 9, 0, 0, 0, time.UTC)}
		doc := synth.FHIRDocument(d)
		sig, err := gateway.SignDocument(lomProd.key, doc)
		if err != nil {
			t.Fatal(err)
		}
		if a, err := client.ProvideFHIR(context.Background(), synth.ProvideBundle(d, doc, sig), doc, kind.LOINC, pt.CF); err != nil || !a.OK() {
			t.Fatalf("publish FHIR document %d: %v %v", i, a, err)
		}
	}
	// Campania's producer publishes PDFs through its gateway.
	camProd := newProducer(t, cam)
	for i := range fhirClientsPDFs {
		kind, _ := synth.KindOf("11502-2")
		local := fmt.Sprintf("clients-pdf-%d", i)
		d := synth.Document{Kind: kind, Region: cam.code, LocalID: local, Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
		pdf, err := synth.PDF(d)
		if err != nil {
			t.Fatal(err)
		}
		camProd.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, pt.CF, kind.LOINC, "CREATE")
		camProd.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication(cam.code, local, kind.Class), pdf, pt.CF, kind.LOINC, "CREATE")
	}
	const docs = fhirClientsFHIRDocs + fhirClientsPDFs
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	waitFor(t, 30*time.Second, "Puglia sees every document", func() bool {
		return len(search(t, pug, clinician, pt.CF, "&_count=100")) == docs
	})
	base := pug.url() + "/fhir"

	t.Run("google-fhir-go", func(t *testing.T) {
		r := newStrictReader(t, base, clinician, pt.CF)
		r.conversation(docs)
		t.Logf("%d resources parsed strictly as FHIR R4", r.parsed)
		r.refusesTampered()
	})

	t.Run("clients", func(t *testing.T) {
		node := nodeForClients(t)
		out := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "clients.mjs")
		cmd.Dir = fhirClientsDir
		cmd.Env = append(os.Environ(), "FSENET_FHIR_BASE="+base, "FSENET_FHIR_TOKEN="+clinician, "FSENET_PATIENT_CF="+pt.CF,
			fmt.Sprint("FSENET_PAGE_SIZE=", fhirClientsPage), "FSENET_MIN_PAGES=3", fmt.Sprint("FSENET_EXPECT_DOCUMENTS=", docs),
			"FSENET_FHIRCLIENTS_OUT="+out)
		output, err := cmd.CombinedOutput()
		t.Logf("%s", output)
		if err != nil {
			t.Fatalf("the FHIR clients failed: %v", err)
		}
		// What the clients got, parsed strictly in Go as well.
		files, err := filepath.Glob(filepath.Join(out, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("the clients wrote no answers: %v", err)
		}
		r := newStrictReader(t, base, clinician, pt.CF)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r.parse(filepath.Base(f), b)
		}
		t.Logf("%d answers of the clients parsed strictly as FHIR R4", r.parsed)
	})
}

// nodeForClients returns the Node.js executable and makes sure the clients'
// packages are installed (npm ci, from the lockfile, when they are not).
// Without Node.js the test is skipped on a developer's machine and fails
// in CI, where .ci/run installs it.
func nodeForClients(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run installs it", what)
		}
		t.Skipf("%s is not installed: the FHIR client libraries are not run (CI runs them)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	if _, err := os.Stat(filepath.Join(fhirClientsDir, "node_modules", "@medplum", "core", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			missing("npm")
		}
		cmd := exec.Command(npm, "ci")
		cmd.Dir = fhirClientsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", fhirClientsDir, err, out)
		}
	}
	return node
}

// strictReader fetches what a FHIR client asks a node for and parses every
// resource strictly as FHIR R4 (google/fhir/go: unknown elements, wrong
// types, malformed primitives and missing required elements are errors).
type strictReader struct {
	t      *testing.T
	base   string
	token  string
	cf     string // the patient's codice fiscale
	um     *jsonformat.Unmarshaller
	parsed int
}

func newStrictReader(t *testing.T, base, token, cf string) *strictReader {
	um, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return &strictReader{t: t, base: base, token: token, cf: cf, um: um}
}

// parse parses one resource; a failure is the test's.
func (r *strictReader) parse(what string, b []byte) bool {
	r.t.Helper()
	if _, err := r.um.Unmarshal(b); err != nil {
		r.t.Errorf("%s is not strict FHIR R4: %v\n%.600s", what, err, b)
		return false
	}
	r.parsed++
	return true
}

// refusesTampered checks that the parser is strict: a DocumentReference
// the node served, altered in one place each time, is refused.
func (r *strictReader) refusesTampered() {
	r.t.Helper()
	b, _ := r.get("DocumentReference?patient=Patient/CF-"+r.cf+"&_count=1", "application/fhir+json")
	var page bundleOf
	if err := json.Unmarshal(b, &page); err != nil || len(page.Entry) == 0 {
		r.t.Fatalf("no DocumentReference to tamper with: %v", err)
	}
	for what, change := range map[string]func(map[string]any){
		"an unknown element":         func(m map[string]any) { m["bogus"] = true },
		"a status not of its codes":  func(m map[string]any) { m["status"] = "bogus" },
		"a malformed instant":        func(m map[string]any) { m["date"] = "2026-12-04 10:00" },
		"a missing required element": func(m map[string]any) { delete(m, "content") },
	} {
		var m map[string]any
		if err := json.Unmarshal(page.Entry[0].Resource, &m); err != nil {
			r.t.Fatal(err)
		}
		change(m)
		tampered, _ := json.Marshal(m)
		if _, err := r.um.Unmarshal(tampered); err == nil {
			r.t.Errorf("a DocumentReference with %s parses", what)
		}
	}
}

// get fetches a URL (relative to the FHIR base, or absolute) with an
// Accept header and returns the body and its Content-Type.
func (r *strictReader) get(u, accept string) ([]byte, string) {
	r.t.Helper()
	if !strings.HasPrefix(u, "http") {
		u = r.base + "/" + u
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		r.t.Fatalf("GET %s: %d %v %.300s", u, resp.StatusCode, err, b)
	}
	return b, resp.Header.Get("Content-Type")
}

// resource fetches a FHIR resource, parses it strictly and decodes it.
func (r *strictReader) resource(u string, v any) {
	r.t.Helper()
	b, ct := r.get(u, "application/fhir+json")
	if ct != "application/fhir+json" {
		r.t.Errorf("GET %s: Content-Type %q", u, ct)
	}
	r.parse(u, b)
	if err := json.Unmarshal(b, v); err != nil {
		r.t.Fatalf("GET %s: %v", u, err)
	}
}

// docRef is what the conversation reads of a DocumentReference.
type docRef struct {
	ID      string `json:"id"`
	Content []struct {
		Attachment struct {
			ContentType string `json:"contentType"`
			URL         string `json:"url"`
			Size        int    `json:"size"`
			Extension   []struct {
				URL               string `json:"url"`
				ValueBase64Binary string `json:"valueBase64Binary"`
			} `json:"extension"`
		} `json:"attachment"`
	} `json:"content"`
}

type bundleOf struct {
	Total int `json:"total"`
	Link  []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

func (b bundleOf) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

// conversation is what each FHIR client does, read and parsed in Go.
func (r *strictReader) conversation(want int) {
	t, cf := r.t, r.cf
	var cs struct{ FhirVersion string }
	r.resource("metadata", &cs)
	if cs.FhirVersion != "4.0.1" {
		t.Errorf("CapabilityStatement.fhirVersion %q", cs.FhirVersion)
	}
	var patients bundleOf
	r.resource("Patient?identifier="+url.QueryEscape(ident.SystemCF+"|"+cf), &patients)
	if len(patients.Entry) != 1 {
		t.Fatalf("Patient search: %d results", len(patients.Entry))
	}
	pid := "CF-" + cf

	var docs []docRef
	pages := 0
	for u := fmt.Sprintf("DocumentReference?patient=Patient/%s&_count=%d", pid, fhirClientsPage); u != ""; pages++ {
		if pages > want {
			t.Fatalf("more pages than documents: the next links do not end")
		}
		var page bundleOf
		r.resource(u, &page)
		for _, e := range page.Entry {
			var d docRef
			if err := json.Unmarshal(e.Resource, &d); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		u = page.next()
	}
	if pages < 3 || len(docs) != want {
		t.Fatalf("%d documents over %d pages, want %d over at least 3", len(docs), pages, want)
	}
	for _, d := range docs {
		var read docRef
		r.resource("DocumentReference/"+d.ID, &read)
		if read.ID != d.ID {
			t.Errorf("read DocumentReference/%s: id %q", d.ID, read.ID)
		}
	}
	for _, q := range []string{"", "?_content=true"} {
		var all bundleOf
		r.resource("Patient/"+pid+"/$everything"+q, &all)
		for i, e := range all.Entry {
			r.parse(fmt.Sprintf("$everything%s entry %d", q, i), e.Resource)
		}
		if len(all.Entry) < 1+want {
			t.Errorf("$everything%s: %d entries", q, len(all.Entry))
		}
	}
	// The data extracted from the documents, paged to the end, and the
	// patient summary.
	observations := 0
	for u, pages := fmt.Sprintf("Observation?patient=Patient/%s&_count=%d", pid, 4*fhirClientsPage), 0; u != ""; pages++ {
		if pages > 1000 {
			t.Fatal("the Observation search's next links do not end")
		}
		var page bundleOf
		r.resource(u, &page)
		for i, e := range page.Entry {
			r.parse(fmt.Sprintf("Observation page %d entry %d", pages+1, i), e.Resource)
			observations++
		}
		u = page.next()
	}
	if observations == 0 {
		t.Error("no Observation extracted from the documents")
	}
	var summary bundleOf
	r.resource("Patient/"+pid+"/$summary", &summary)
	for i, e := range summary.Entry {
		r.parse(fmt.Sprintf("$summary entry %d", i), e.Resource)
	}
	raws := 0
	for _, d := range docs {
		att := d.Content[0].Attachment
		var sum string
		for _, x := range att.Extension {
			if x.URL == fhirres.ExtensionSHA256 {
				sum = x.ValueBase64Binary
			}
		}
		same := func(what string, b []byte) {
			h := sha256.Sum256(b)
			if len(b) != att.Size || base64.StdEncoding.EncodeToString(h[:]) != sum {
				t.Errorf("%s: %d bytes not the attachment's %d (or not its SHA-256)", what, len(b), att.Size)
			}
		}
		var bin struct {
			ID, ContentType, Data string
		}
		r.resource(att.URL, &bin)
		content, err := base64.StdEncoding.DecodeString(bin.Data)
		if err != nil || bin.ContentType != att.ContentType || bin.ID != d.ID {
			t.Errorf("Binary/%s: %q %q %v", d.ID, bin.ID, bin.ContentType, err)
		}
		same("Binary/"+d.ID+" as a resource", content)
		if att.ContentType == "application/fhir+json" {
			// The FHIR document the producer signed.
			r.parse("the document in Binary/"+d.ID, content)
			continue
		}
		raw, ct := r.get(att.URL, att.ContentType)
		if ct != att.ContentType || !bytes.Equal(raw, content) {
			t.Errorf("Binary/%s as %s: Content-Type %q, %d bytes", d.ID, att.ContentType, ct, len(raw))
		}
		same("Binary/"+d.ID+" as "+att.ContentType, raw)
		raws++
	}
	if raws != fhirClientsPDFs {
		t.Errorf("%d documents read as their own bytes, want %d", raws, fhirClientsPDFs)
	}
}
