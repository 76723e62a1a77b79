package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/zstd"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/store"
	"github.com/fsenet/fsenet/repository/synth"
)

const (
	producerIssuer = "lis.asst-prova.example"
	producerOrg    = "030-ASST-PROVA"
	operatorSub    = "RSSMRA80A01F205X"
)

// threeVoters makes an authority and starts Lombardia (founding the
// federation), Campania and Puglia as voters, with extra flags for each;
// it returns when all three are ready, and stops them when the test ends.
func threeVoters(t testing.TB, extra ...string) (*authority, []*proc) {
	t.Helper()
	return threeVotersEach(t, func(int) []string { return extra })
}

// threeVotersEach is threeVoters with flags per region (0 Lombardia, 1
// Campania, 2 Puglia).
func threeVotersEach(t testing.TB, extra func(i int) []string) (*authority, []*proc) {
	t.Helper()
	base := t.TempDir()
	a := newAuthority(t, base)
	regions := []*proc{a.region(base, "030", "voter"), a.region(base, "150", "voter"), a.region(base, "160", "voter")}
	t.Cleanup(func() {
		for _, p := range regions {
			p.terminate(t)
		}
	})
	regions[0].start(t, append([]string{"--raft.bootstrap=true"}, extra(0)...)...)
	for i, r := range regions[1:] {
		r.start(t, append([]string{"--p2p.join", regions[0].url()}, extra(i+1)...)...)
	}
	consensustest.Eventually(t, readyTimeout, allReady(regions...), "three regions ready")
	return a, regions
}

// producer publishes through a region's gateway as a hospital's software
// would: bearer token from the region's IdP, FSE-JWT-Signature signed
// with the producer's own key.
type producer struct {
	t      testing.TB
	node   *proc
	key    jwk.Key
	bearer string
	client *http.Client
}

func newProducer(t testing.TB, node *proc) *producer {
	t.Helper()
	key, err := federation.GenerateIdPKey(filepath.Join(t.TempDir(), "producer.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := federation.PublicJWKS(key)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal(pub)
	op := regionToken(t, node, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN", "--organization", producerOrg)
	body, _ := json.Marshal(map[string]any{"issuer": producerIssuer, "organization": producerOrg, "name": "ASST di prova", "keys": json.RawMessage(keys)})
	if code, b := call(t, http.MethodPost, node.url()+"/v1/producers", op, "application/json", body); code != http.StatusOK {
		t.Fatalf("register producer: %d %s", code, b)
	}
	return &producer{t: t, node: node, key: key, client: &http.Client{Timeout: 60 * time.Second},
		bearer: regionToken(t, node, "--sub", operatorSub, "--role", "PSS", "--purpose", "TREATMENT", "--organization", producerOrg)}
}

func regionToken(t testing.TB, p *proc, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, append([]string{"token", "--idp-key", filepath.Join(p.dir, "idp.key"), "--region", p.code}, args...)...))
}

func call(t testing.TB, method, url, token, ct string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// send makes one gateway request; err is a transport failure (the node
// went away), never a refusal.
func (p *producer) send(method, path string, body any, pdf []byte, patientCF, loinc, action string) (int, []byte, error) {
	var buf bytes.Buffer
	ct := "application/json"
	if pdf != nil {
		mw := multipart.NewWriter(&buf)
		rb, _ := json.Marshal(body)
		_ = mw.WriteField("requestBody", string(rb))
		fw, _ := mw.CreateFormFile("file", "documento.pdf")
		fw.Write(pdf)
		mw.Close()
		ct = mw.FormDataContentType()
	} else if body != nil {
		b, _ := json.Marshal(body)
		buf.Write(b)
	}
	now := time.Now().UTC().Truncate(time.Second)
	c := federation.Claims{Issuer: producerIssuer, Subject: operatorSub, IssuedAt: now, Expiry: now.Add(time.Hour),
		SubjectRole: "PSS", OrganizationID: p.node.code, Organization: producerOrg, PurposeOfUse: "TREATMENT", ActionID: action}
	if pdf != nil {
		h := sha256.Sum256(pdf)
		c.AttachmentHash = hex.EncodeToString(h[:])
		c.ResourceHL7Type = "('" + loinc + "^^2.16.840.1.113883.6.1')"
		c.PersonID = patientCF + "^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
	}
	sig, err := federation.IssueToken(p.key, c)
	if err != nil {
		p.t.Fatal(err)
	}
	req, err := http.NewRequest(method, p.node.url()+path, &buf)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+p.bearer)
	req.Header.Set("FSE-JWT-Signature", sig)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *producer) must(want int, method, path string, body any, pdf []byte, cf, loinc, action string) []byte {
	p.t.Helper()
	code, b, err := p.send(method, path, body, pdf, cf, loinc, action)
	if err != nil || code != want {
		p.t.Fatalf("%s %s: %d %s (%v), want %d", method, path, code, b, err, want)
	}
	return b
}

func publication(region, local, class string) map[string]any {
	return map[string]any{"healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
		"tipoDocumentoLivAlto": class, "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
		"identificativoSottomissione": "sub-" + local, "identificativoDoc": index.DocumentID(region, local),
		"identificativoRep": "2.16.840.1.113883.2.9.2." + region + ".4.5.1"}
}

// registerPatient creates a synthetic patient of region r with consent.
func registerPatient(t testing.TB, r *proc, pt synth.Patient) {
	t.Helper()
	op := regionToken(t, r, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN")
	body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}],`+
		`"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s",`+
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"%s"}}}`,
		pt.CF, pt.Family, pt.Given, pt.FHIRGender(), pt.BirthDate.Format(time.DateOnly), r.code)
	if code, b := call(t, http.MethodPost, r.url()+"/fhir/Patient", op, "application/fhir+json", []byte(body)); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("register patient: %d %s", code, b)
	}
	consent := []byte(`{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":true}]}`)
	if code, b := call(t, http.MethodPost, r.url()+"/fhir/Patient/CF-"+pt.CF+"/$consent", op, "application/fhir+json", consent); code != http.StatusOK {
		t.Fatalf("consent: %d %s", code, b)
	}
}

// search returns the ids and statuses of a patient's documents as a
// region's clinician finds them.
func search(t testing.TB, r *proc, token, cf, extra string) map[string]string {
	t.Helper()
	code, b := call(t, http.MethodGet, r.url()+"/fhir/DocumentReference?patient=Patient/CF-"+cf+extra, token, "", nil)
	if code != http.StatusOK {
		t.Fatalf("search on %s: %d %s", r.code, code, b)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range bundle.Entry {
		out[e.Resource.ID] = e.Resource.Status
	}
	return out
}

// audited reports whether the trail, read on r by the authority, holds an
// event "what" of the patient.
func audited(t testing.TB, r *proc, auth, cf, what string) bool {
	code, b := call(t, http.MethodGet, r.url()+"/fhir/AuditEvent?patient=Patient/CF-"+cf+"&_count=200", auth, "", nil)
	return code == http.StatusOK && strings.Contains(string(b), `"display":"`+what+`"`)
}

// TestProcessGatewayLifecycle: a producer of Lombardia validates and
// publishes through its region's gateway, a clinician of Puglia finds the
// document on Puglia's own replica, and each later step (replace,
// metadata update, blinding, withdrawal) shows on Puglia's replica and in
// the replicated audit trail.
func TestProcessGatewayLifecycle(t *testing.T) {
	a, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]
	auth := a.token()

	rng := rand.New(rand.NewPCG(5, 6))
	pt := synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	kind, _ := synth.KindOf("11502-2")
	doc := func(local string) synth.Document {
		return synth.Document{Kind: kind, Region: "030", LocalID: local, Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
	}
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	waitStep := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, 30*time.Second, what, cond)
	}

	// Validate, then publish on Lombardia.
	v1 := index.DocumentID("030", "e2e-1")
	pdf1, err := synth.PDF(doc("e2e-1"))
	if err != nil {
		t.Fatal(err)
	}
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf1, pt.CF, "11502-2", "CREATE")
	var ack struct {
		WorkflowInstanceID string `json:"workflowInstanceId"`
	}
	b := prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "e2e-1", "REF"), pdf1, pt.CF, "11502-2", "CREATE")
	if err := json.Unmarshal(b, &ack); err != nil || ack.WorkflowInstanceID == "" {
		t.Fatalf("publication answer %s", b)
	}
	// Acknowledged means committed: the leader's replica has it now, and
	// Puglia's as soon as it applies.
	waitStep("Puglia finds the document", func() bool { return search(t, pug, clinician, pt.CF, "")[index.ResourceID(v1)] == "current" })
	waitStep("the publication in the audit trail", func() bool { return audited(t, pug, auth, pt.CF, "DocumentReference.publish") })
	// The content, from Lombardia's store, to a clinician allowed it.
	lomClinician := regionToken(t, lom, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	if code, body := call(t, http.MethodGet, lom.url()+"/fhir/Binary/"+index.ResourceID(v1), lomClinician, "", nil); code != http.StatusOK || !bytes.Equal(body, pdf1) {
		t.Fatalf("Binary: %d, %d bytes (want the %d published)", code, len(body), len(pdf1))
	}
	// The same from Puglia's node: fetched from Lombardia over the
	// federation on the clinician's behalf, checked against the index,
	// audited by both regions.
	if code, body := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(v1), clinician, "", nil); code != http.StatusOK || !bytes.Equal(body, pdf1) {
		t.Fatalf("Binary through Puglia: %d, %d bytes (want the %d published)", code, len(body), len(pdf1))
	}
	waitStep("the fetch audited by the custodian and by the requester", func() bool {
		return audited(t, pug, auth, pt.CF, "Binary.fetch") && audited(t, pug, auth, pt.CF, "Binary.read")
	})
	// A patient without consent: Puglia's clinician gets the answer of an
	// absent document, and the attempt is in the patient's access log,
	// recorded by Puglia and by Lombardia.
	shy := synth.NewPatient(rng)
	registerPatient(t, lom, shy)
	opTok := regionToken(t, lom, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN")
	noConsent := []byte(`{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":false}]}`)
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Patient/CF-"+shy.CF+"/$consent", opTok, "application/fhir+json", noConsent); code != http.StatusOK {
		t.Fatalf("withdraw consent: %d %s", code, b)
	}
	shyDoc := synth.Document{Kind: kind, Region: "030", LocalID: "e2e-shy", Patient: shy, AuthorCF: operatorSub, Org: producerOrg}
	shyPDF, _ := synth.PDF(shyDoc)
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, shyPDF, shy.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "e2e-shy", "REF"), shyPDF, shy.CF, "11502-2", "CREATE")
	waitStep("the document replicated to Puglia", func() bool {
		_, ok, _ := pugEntry(t, pug, auth, shyDoc.ID())
		return ok
	})
	if code, _ := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(shyDoc.ID()), clinician, "", nil); code != http.StatusNotFound {
		t.Fatalf("a document without consent fetched for another organisation: %d", code)
	}
	// Lombardia, asked all the same, refused on its own replica: the
	// attempt is audited by both regions, and nothing was disclosed.
	waitStep("the refused attempt audited by the requester and by the custodian", func() bool {
		return audited(t, pug, auth, shy.CF, "Binary.read") && audited(t, pug, auth, shy.CF, "Binary.fetch")
	})
	code, b := call(t, http.MethodGet, pug.url()+"/fhir/AuditEvent?patient=Patient/CF-"+shy.CF+"&_count=200", auth, "", nil)
	var log struct {
		Entry []struct {
			Resource struct {
				Type    struct{ Display string }
				Outcome string
				Source  struct {
					Observer struct{ Identifier struct{ Value string } }
				}
			}
		}
	}
	if code != http.StatusOK || json.Unmarshal(b, &log) != nil {
		t.Fatalf("the patient's access log: %d %s", code, b)
	}
	var reads []string
	for _, e := range log.Entry {
		if r := e.Resource; strings.HasPrefix(r.Type.Display, "Binary.") {
			reads = append(reads, r.Source.Observer.Identifier.Value+" "+r.Type.Display+" "+r.Outcome)
		}
	}
	slices.Sort(reads)
	if strings.Join(reads, ", ") != "030 Binary.fetch 4, 160 Binary.read 4" {
		t.Fatalf("the content reads in the patient's access log: %v, want one refusal recorded by each region", reads)
	}

	// Replace.
	v2 := index.DocumentID("030", "e2e-2")
	d2 := doc("e2e-2")
	d2.Version, d2.Replaces = 2, v1
	pdf2, err := synth.PDF(d2)
	if err != nil {
		t.Fatal(err)
	}
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf2, pt.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPut, "/v1/documents/"+v1, publication("030", "e2e-2", "REF"), pdf2, pt.CF, "11502-2", "UPDATE")
	waitStep("Puglia sees the new version current, the old superseded", func() bool {
		got := search(t, pug, clinician, pt.CF, "")
		return got[index.ResourceID(v2)] == "current" && got[index.ResourceID(v1)] == "superseded"
	})
	waitStep("the replace in the audit trail", func() bool { return audited(t, pug, auth, pt.CF, "DocumentReference.replace") })

	// Metadata update that blinds the document: Puglia's clinician no
	// longer sees it at all.
	meta := publication("030", "", "REF")
	for _, k := range []string{"identificativoDoc", "identificativoRep", "healthDataFormat", "mode"} {
		delete(meta, k)
	}
	meta["attiCliniciRegoleAccesso"] = []string{"P99"}
	prod.must(http.StatusOK, http.MethodPut, "/v1/documents/"+v2+"/metadata", meta, nil, pt.CF, "", "UPDATE")
	waitStep("the blinded version hidden from Puglia", func() bool {
		_, seen := search(t, pug, clinician, pt.CF, "")[index.ResourceID(v2)]
		return !seen
	})
	// Nor can its content be fetched: the same answer as for an absent id.
	if code, _ := call(t, http.MethodGet, pug.url()+"/fhir/Binary/"+index.ResourceID(v2), clinician, "", nil); code != http.StatusNotFound {
		t.Fatalf("a blinded document fetched by another organisation's clinician: %d", code)
	}
	// Unblind.
	meta["attiCliniciRegoleAccesso"] = []string{"P00"}
	prod.must(http.StatusOK, http.MethodPut, "/v1/documents/"+v2+"/metadata", meta, nil, pt.CF, "", "UPDATE")
	waitStep("the version visible again", func() bool { return search(t, pug, clinician, pt.CF, "")[index.ResourceID(v2)] == "current" })
	waitStep("the updates in the audit trail", func() bool { return audited(t, pug, auth, pt.CF, "DocumentReference.update") })

	// Withdraw: entered-in-error, the first version current again.
	prod.must(http.StatusOK, http.MethodDelete, "/v1/documents/"+v2, nil, nil, pt.CF, "", "DELETE")
	waitStep("Puglia sees the withdrawal", func() bool {
		got := search(t, pug, clinician, pt.CF, "")
		return got[index.ResourceID(v1)] == "current" && got[index.ResourceID(v2)] != "current"
	})
	waitStep("the withdrawal in the audit trail", func() bool { return audited(t, pug, auth, pt.CF, "DocumentReference.withdraw") })

	// The workflow's status, as the national status service tells it.
	code, sb := call(t, http.MethodGet, lom.url()+"/v1/status/"+ack.WorkflowInstanceID, prod.bearer, "", nil)
	if code != http.StatusOK || !strings.Contains(string(sb), `"eventType":"PUBLICATION"`) || !strings.Contains(string(sb), `"eventStatus":"SUCCESS"`) {
		t.Fatalf("status: %d %s", code, sb)
	}
	// The patient's history from Puglia, with contents fetched from
	// Lombardia; then, Lombardia killed, a partial answer naming it,
	// within the deadline.
	everything := func() (int, string, time.Duration) {
		start := time.Now()
		code, b := call(t, http.MethodGet, pug.url()+"/fhir/Patient/CF-"+pt.CF+"/$everything?_content=true", clinician, "", nil)
		return code, string(b), time.Since(start)
	}
	code, body, _ := everything()
	if code != http.StatusOK || !strings.Contains(body, `"resourceType":"Binary"`) || strings.Contains(body, `"resourceType":"OperationOutcome"`) {
		t.Fatalf("history with contents: %d %.400s", code, body)
	}
	histDir := filepath.Join(t.TempDir(), "history")
	if out, code := ctl(t, pug.url(), clinician, "history", pt.CF, "--out", histDir); code != 0 || !strings.Contains(out, "contents saved") {
		t.Fatalf("fsectl history: exit %d: %s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(histDir, "index.tsv")); err != nil || !strings.Contains(string(b), v1) {
		t.Fatalf("index.tsv: %v %s", err, b)
	}
	lom.kill9()
	if out, code := ctl(t, pug.url(), clinician, "history", pt.CF, "--out", histDir+"-partial"); code != 1 || !strings.Contains(out, "region 030") {
		t.Fatalf("fsectl history with Lombardia down: exit %d: %s", code, out)
	}
	code, body, took := everything()
	if code != http.StatusOK || !strings.Contains(body, "region 030") || strings.Contains(body, `"resourceType":"Binary"`) || took > 15*time.Second {
		t.Fatalf("history with Lombardia down: %d after %v: %.600s", code, took, body)
	}
	t.Logf("history with the custodian killed: a partial answer naming it in %v", took.Round(time.Millisecond))
	lom.start(t)
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)
	waitFor(t, 30*time.Second, "the history whole again", func() bool {
		code, body, _ := everything()
		return code == http.StatusOK && !strings.Contains(body, `"resourceType":"OperationOutcome"`)
	})
	// A custodian that hangs (stopped, its connections open) costs the
	// region's deadline (5 s), not more.
	if err := lom.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	code, body, took = everything()
	_ = lom.cmd.Process.Signal(syscall.SIGCONT)
	if code != http.StatusOK || !strings.Contains(body, "region 030: ") || strings.Contains(body, `"resourceType":"Binary"`) || took > 10*time.Second {
		t.Fatalf("history with Lombardia hanging: %d after %v: %s", code, took, body[max(0, len(body)-500):])
	}
	t.Logf("history with the custodian hanging: a partial answer naming it in %v", took.Round(time.Millisecond))
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)

	// Cross-region publication is refused: Puglia's gateway does not
	// publish Lombardia's documents (nor has it this producer).
	if code, _, err := (&producer{t: t, node: pug, key: prod.key, bearer: prod.bearer, client: prod.client}).send(http.MethodPost,
		"/v1/documents", publication("030", "e2e-x", "REF"), pdf1, pt.CF, "11502-2", "CREATE"); err != nil || code != http.StatusForbidden {
		t.Fatalf("a Lombardia producer at Puglia's gateway: %d (%v), want 403", code, err)
	}
}

// pugEntry reports whether a replica holds a version (read by the
// authority, who sees metadata).
func pugEntry(t testing.TB, r *proc, auth, id string) (int, bool, error) {
	code, _ := call(t, http.MethodGet, r.url()+"/fhir/DocumentReference/"+index.ResourceID(id), auth, "", nil)
	return code, code == http.StatusOK, nil
}

// TestProcessGatewayKill9: Lombardia's node is killed with SIGKILL in the
// middle of a stream of publications. After the restart every
// acknowledged document is stored and indexed exactly once, and every
// unacknowledged one is either wholly there (its outbox command went
// through after the restart) or not there at all.
func TestProcessGatewayKill9(t *testing.T) {
	_, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]

	rng := rand.New(rand.NewPCG(7, 8))
	pt := synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	kind, _ := synth.KindOf("11502-2")

	// Validate everything first, then publish from 4 producers at once.
	const n = 80
	pdfs := make([][]byte, n)
	for i := range n {
		d := synth.Document{Kind: kind, Region: "030", LocalID: fmt.Sprintf("k9-%d", i), Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
		var err error
		if pdfs[i], err = synth.PDF(d); err != nil {
			t.Fatal(err)
		}
		prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdfs[i], pt.CF, "11502-2", "CREATE")
	}
	var mu sync.Mutex
	acked := map[int]bool{}
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				code, _, err := prod.send(http.MethodPost, "/v1/documents", publication("030", fmt.Sprintf("k9-%d", i), "REF"), pdfs[i], pt.CF, "11502-2", "CREATE")
				if err == nil && code == http.StatusCreated {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		}()
	}
	killed := false
	for i := range n {
		if i == n/2 {
			mu.Lock()
			done := len(acked)
			mu.Unlock()
			if done == 0 {
				t.Fatal("no publication acknowledged before the kill")
			}
			lom.kill9()
			killed = true
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if !killed {
		t.Fatal("the node was not killed")
	}
	t.Logf("%d of %d publications acknowledged before and around the kill", len(acked), n)

	lom.start(t)
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)
	// The outbox finishes what was stored before the kill.
	waitFor(t, 60*time.Second, "the outbox drained", func() bool { return metric(t, lom, "fsenet_repository_outbox_pending") == "0" })
	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	indexed := map[string]string{}
	waitFor(t, 30*time.Second, "Puglia caught up", func() bool {
		indexed = search(t, pug, clinician, pt.CF, "&_count=500")
		got := search(t, lom, clinician, pt.CF, "&_count=500")
		return len(indexed) == len(got)
	})
	lom.terminate(t)

	// Lombardia's store, opened by the test now that the node is down.
	cfg := store.DefaultConfig(filepath.Join(lom.dir, "repository"))
	cfg.GCInterval = 0
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats()
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for i := range n {
		id := index.DocumentID("030", fmt.Sprintf("k9-%d", i))
		_, isIndexed := indexed[index.ResourceID(id)]
		d, derr := st.Document(id)
		stored := derr == nil && d.State == store.StateIndexed
		if stored {
			if _, err := st.ReadAll(d.Entry.Hash); err != nil {
				t.Errorf("%s: content unreadable: %v", id, err)
			}
		}
		switch {
		case acked[i] && !(isIndexed && stored):
			t.Errorf("%s acknowledged but indexed=%v stored=%v", id, isIndexed, stored)
		case isIndexed != stored:
			t.Errorf("%s half-there: indexed=%v stored=%v (%v)", id, isIndexed, stored, derr)
		}
		if isIndexed && stored {
			whole++
		}
	}
	if len(indexed) != whole || stats.Documents != whole || stats.Outbox != 0 {
		t.Fatalf("%d index entries, %d stored documents, %d whole, outbox %d", len(indexed), stats.Documents, whole, stats.Outbox)
	}
	t.Logf("after the restart: %d documents whole (%d acknowledged), none half-there", whole, len(acked))
}

// TestProcessTamperedContent: a document's bytes altered on the
// custodian's disk are never served as the document, locally or to
// another region: the transfer is cut, the custodian counts it on its own
// read and the requester on the fetch.
func TestProcessTamperedContent(t *testing.T) {
	_, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]
	rng := rand.New(rand.NewPCG(21, 22))
	pt := synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	kind, _ := synth.KindOf("11502-2")
	d := synth.Document{Kind: kind, Region: "030", LocalID: "tamper-1", Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
	pdf, err := synth.PDF(d)
	if err != nil {
		t.Fatal(err)
	}
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, pt.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "tamper-1", "REF"), pdf, pt.CF, "11502-2", "CREATE")

	// Lombardia stopped, one byte of the stored chunk changed on disk (the
	// store's layout: h/<sha256> holds the manifest, b/<blob>/<chunk> the
	// zstd chunks), then restarted.
	lom.terminate(t)
	sum := sha256.Sum256(pdf)
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(lom.dir, "repository")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *badger.Txn) error {
		it, err := tx.Get([]byte("h/" + hex.EncodeToString(sum[:])))
		if err != nil {
			return err
		}
		var m struct {
			Blob uint64 `json:"blob"`
		}
		if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte("b/"), m.Blob), 0)
		enc, _ := zstd.NewWriter(nil)
		altered := bytes.Clone(pdf)
		altered[len(altered)/2] ^= 0xff
		return tx.Set(key, enc.EncodeAll(altered, nil))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Restarted with a scrub every second: the altered bytes are found
	// before anyone asks for them.
	lom.start(t, "--repository.scrub_interval", "1s")
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)
	waitFor(t, 30*time.Second, "the scrub finds the altered document", func() bool {
		v := metric(t, lom, "fsenet_repository_corrupt_content_total")
		return v != "" && v != "0"
	})
	if v := metric(t, lom, "fsenet_repository_scrub_completed_timestamp_seconds"); v == "" || v == "0" {
		t.Fatalf("no whole scrub recorded (%q)", v)
	}

	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	for _, node := range []*proc{pug, lom} {
		req, _ := http.NewRequest(http.MethodGet, node.url()+"/fhir/Binary/"+index.ResourceID(d.ID()), nil)
		tok := clinician
		if node == lom {
			tok = regionToken(t, lom, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // refused before any answer: fine
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && resp.StatusCode == http.StatusOK {
			t.Fatalf("region %s served tampered content as the document (%d bytes, equal to the original: %v)", node.code, len(body), bytes.Equal(body, pdf))
		}
	}
	if v := metric(t, lom, "fsenet_repository_corrupt_content_total"); v == "" || v == "0" {
		t.Fatalf("the custodian did not count the corrupt content (%q)", v)
	}
	// The custodian passes its stored frames on unchecked: the requester
	// is the one that refused them, and counts it.
	if v := metric(t, pug, "fsenet_repository_fetch_mismatch_total"); v == "" || v == "0" {
		t.Fatalf("the requester did not count the content that does not match the index (%q)", v)
	}
}
