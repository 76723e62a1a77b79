package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/consensus"
	"github.com/klauspost/compress/zstd"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/mhd"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/repository/store"
	"github.com/fsenet/fsenet/repository/synth"
)

const (
	region      = "030" // the test replica's region
	idpIssuer   = "https://idp.lombardia.example"
	prodIssuer  = "lis.asst-milano.example"
	producerOrg = "030-ASST-MILANO"
	operatorCF  = "RSSMRA80A01F205X"
	// samplePatient is the patient of the national samples LAB, LDO, RAD.
	samplePatient = "GTWGWY82B42G920M"
	pssPatient    = "RSSMRA22A01A399Z"
)

// recorder keeps the audit events.
type recorder struct {
	mu     sync.Mutex
	events []index.Event
}

func (r *recorder) Record(_ context.Context, evs ...index.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) all() []index.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]index.Event(nil), r.events...)
}

type env struct {
	t       testing.TB
	rep     *consensus.Node
	store   *store.Store
	srv     *httptest.Server
	idp     jwk.Key
	prod    jwk.Key
	audit   *recorder
	gw      *Gateway
	docs    *mhd.API
	verify  func(string) (index.Caller, error)
	clock   time.Time
	clockMu sync.Mutex
}

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, audit: &recorder{}, clock: time.Now().UTC()}
	e.rep = consensustest.NewReplica(t, index.New())
	for _, cf := range []string{samplePatient, pssPatient} {
		e.apply(index.PutPatient(index.Patient{ID: "CF:" + cf, Family: "Test", HomeRegion: region}))
	}
	cfg := store.DefaultConfig(filepath.Join(t.TempDir(), "store"))
	cfg.GCInterval = 0
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e.store = s
	lookup := func(ctx context.Context, id string) (index.Entry, bool, error) { return e.entry(id) }
	ob, err := repository.NewOutbox(repository.OutboxConfig{Store: s, Apply: e.rep.Apply, Lookup: lookup, InFlight: 16,
		Timeout: 10 * time.Second, Retry: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ob.Start()
	t.Cleanup(ob.Stop)
	e.idp = genKey(t)
	e.prod = genKey(t)
	bearerV := &federation.Verifier{Lookup: func(iss string) (federation.IssuerKeys, bool) {
		if iss != idpIssuer {
			return federation.IssuerKeys{}, false
		}
		return federation.IssuerKeys{Region: region, Keys: jwks(t, e.idp)}, true
	}}
	gcfg := DefaultConfig(region)
	gcfg.TempDir = t.TempDir()
	gcfg.InMemoryBytes = 32 << 10 // larger test files take the temporary-file path
	gcfg.MaxFileBytes = 4 << 20
	gcfg.WaitCommit = 10 * time.Second
	e.gw, err = New(gcfg, Deps{Store: s, Outbox: ob, Audit: e.audit, Now: e.now,
		Patient: func(ctx context.Context, id string) (index.Patient, bool, error) {
			var p index.Patient
			var ok bool
			_, err := e.rep.Read(ctx, consensus.Local, func(r consensus.Reader) error {
				var err error
				p, ok, err = index.GetPatient(r, id)
				return err
			})
			return p, ok, err
		},
		Bearer: func(r *http.Request) (federation.Claims, bool) {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return federation.Claims{}, false
			}
			c, err := bearerV.Verify(tok)
			return c, err == nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.gw.Register(mux)
	e.docs = mhd.New(mhd.Deps{Store: s, Outbox: ob, Audit: e.audit, Region: region,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := e.rep.Read(ctx, consensus.Local, fn)
			return err
		},
		Caller: func(r *http.Request) (index.Caller, bool) {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") {
				return index.Caller{}, false
			}
			c, err := bearerV.Verify(tok)
			if err != nil {
				return index.Caller{}, false
			}
			return index.CallerFromClaims(c), true
		}})
	e.docs.Register(mux)
	e.verify = func(tok string) (index.Caller, error) {
		c, err := bearerV.Verify(tok)
		return index.CallerFromClaims(c), err
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	keys, err := json.Marshal(jwks(t, e.prod))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutProducer(store.Producer{Issuer: prodIssuer, Organization: producerOrg, Keys: keys}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) now() time.Time {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	if e.clock.IsZero() {
		return time.Now()
	}
	return e.clock
}

func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.clock = e.clock.Add(d)
}

func genKey(t testing.TB) jwk.Key {
	k, err := federation.GenerateIdPKey(filepath.Join(t.TempDir(), "key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwks(t testing.TB, k jwk.Key) jwk.Set {
	s, err := federation.PublicJWKS(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) apply(cmd consensus.Command, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.rep.Apply(context.Background(), cmd); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) entry(id string) (index.Entry, bool, error) {
	var got index.Entry
	var ok bool
	_, err := e.rep.Read(context.Background(), consensus.Local, func(r consensus.Reader) error {
		var err error
		got, ok, err = index.GetEntry(r, id)
		return err
	})
	return got, ok, err
}

func (e *env) indexed(id string) index.Entry {
	e.t.Helper()
	got, ok, err := e.entry(id)
	if err != nil || !ok {
		e.t.Fatalf("entry %s: not indexed (%v)", id, err)
	}
	return got
}

// call describes one gateway request.
type call struct {
	method, path string
	body         any    // requestBody (marshalled) or, for JSON calls, the body
	rawBody      []byte // a requestBody part as given
	pdf          []byte
	noFile       bool
	json         bool   // application/json instead of multipart
	raw          []byte // the body as given (with contentType)
	contentType  string
	bearer       func(*federation.Claims)
	sig          func(*federation.Claims)
	noSig        bool
}

func (e *env) bearerClaims() federation.Claims {
	now := time.Now().UTC().Truncate(time.Second)
	return federation.Claims{Issuer: idpIssuer, Subject: operatorCF, IssuedAt: now, Expiry: now.Add(time.Hour),
		SubjectRole: "PSS", OrganizationID: region, Organization: producerOrg, Locality: producerOrg, PurposeOfUse: "UPDATE"}
}

func (e *env) do(c call) (*http.Response, []byte) {
	e.t.Helper()
	var body io.Reader
	ct := c.contentType
	switch {
	case c.raw != nil:
		body = bytes.NewReader(c.raw)
	case c.json:
		b, _ := json.Marshal(c.body)
		body, ct = bytes.NewReader(b), "application/json"
	case c.method == http.MethodDelete || c.method == http.MethodGet:
	default:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		rb := c.rawBody
		if rb == nil {
			rb, _ = json.Marshal(c.body)
		}
		_ = mw.WriteField("requestBody", string(rb))
		if !c.noFile {
			fw, _ := mw.CreateFormFile("file", "documento.pdf")
			fw.Write(c.pdf)
		}
		mw.Close()
		body = &buf
		if ct == "" {
			ct = mw.FormDataContentType()
		}
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	bc := e.bearerClaims()
	if c.bearer != nil {
		c.bearer(&bc)
	}
	tok, err := federation.IssueToken(e.idp, bc)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if !c.noSig {
		sc := bc
		sc.Issuer = prodIssuer
		sc.ActionID = map[string]string{http.MethodPost: "CREATE", http.MethodPut: "UPDATE", http.MethodDelete: "DELETE", http.MethodGet: "READ"}[c.method]
		if c.pdf != nil {
			h := sha256.Sum256(c.pdf)
			sc.AttachmentHash = hex.EncodeToString(h[:])
			if code := loincOf(c.pdf); code != "" {
				sc.ResourceHL7Type = "('" + code + "^^2.16.840.1.113883.6.1')"
			}
			if h, err := cdaHeader(c.pdf); err == nil {
				if id, ok := h.PatientID(ident.OIDCF); ok {
					sc.PersonID = id + "^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
				}
			}
		}
		if c.sig != nil {
			c.sig(&sc)
		}
		stok, err := federation.IssueToken(e.prod, sc)
		if err != nil {
			e.t.Fatal(err)
		}
		req.Header.Set(HeaderSignature, stok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func cdaHeader(pdf []byte) (*cda.Header, error) {
	x, err := pdfcda.Extract(bytes.NewReader(pdf))
	if err != nil {
		return nil, err
	}
	return cda.Read(bytes.NewReader(x))
}

// loincOf reads the document type of the CDA in a PDF, for the claims.
func loincOf(pdf []byte) string {
	x, err := pdfcda.Extract(bytes.NewReader(pdf))
	if err != nil {
		return ""
	}
	i := bytes.Index(x, []byte(`codeSystem="2.16.840.1.113883.6.1"`))
	if i < 0 {
		return ""
	}
	j := bytes.LastIndex(x[:i], []byte(`code="`))
	if j < 0 {
		return ""
	}
	rest := x[j+len(`code="`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

func samplePath(name string) string {
	return filepath.Join("..", "..", "..", "shared", "samples", "fse-it", "cda", name+".xml")
}

// sampleCDA reads one of the national sample documents, or skips.
func sampleCDA(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath(name))
	if err != nil {
		t.Skipf("the national samples are not here (%v): this test runs beside ../shared/samples", err)
	}
	return b
}

func pdfOf(t testing.TB, cda []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pdfcda.Embed(&b, []string{"Documento di prova"}, cda); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pubBody(local, class string) map[string]any {
	return map[string]any{
		"healthDataFormat": "CDA", "mode": "ATTACHMENT",
		"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": class, "assettoOrganizzativo": "AD_PSC001",
		"tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.030.4.3.1",
		"identificativoDoc": index.DocumentID(region, local), "identificativoRep": "2.16.840.1.113883.2.9.2.030.4.5.1",
		"dataInizioPrestazione": "20220325110000", "dataFinePrestazione": "20220325120000",
	}
}

type okBody struct {
	TraceID            string `json:"traceID"`
	WorkflowInstanceID string `json:"workflowInstanceId"`
}

func (e *env) mustStatus(resp *http.Response, b []byte, want int) okBody {
	e.t.Helper()
	if resp.StatusCode != want {
		e.t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, b)
	}
	var ok okBody
	if want < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, &ok); err != nil {
			e.t.Fatalf("answer %s: %v", b, err)
		}
	}
	return ok
}

func (e *env) validate(pdf []byte) okBody {
	e.t.Helper()
	resp, b := e.do(call{method: http.MethodPost, path: "/v1/documents/validation", body: map[string]string{"activity": "VALIDATION", "healthDataFormat": "CDA", "mode": "ATTACHMENT"}, pdf: pdf})
	return e.mustStatus(resp, b, http.StatusCreated)
}

func TestNationalSamplesValidateAndPublish(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ name, loinc, class, patient string }{
		{"LAB", "11502-2", "REF", samplePatient},
		{"LDO", "34105-7", "LDO", samplePatient},
		{"PSS", "60591-5", "SUM", pssPatient},
		{"RAD", "68604-8", "REF", samplePatient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			pdf := pdfOf(t, sampleCDA(t, tc.name))
			v := e.validate(pdf)
			if !strings.HasSuffix(v.WorkflowInstanceID, "^^^^urn:ihe:iti:xdw:2013:workflowInstanceId") || v.TraceID == "" {
				t.Fatalf("validation answer %+v", v)
			}
			body := pubBody("sample-"+tc.name, tc.class)
			body["workflowInstanceId"] = v.WorkflowInstanceID
			resp, b := e.do(call{method: http.MethodPost, path: "/v1/documents", body: body, pdf: pdf})
			e.mustStatus(resp, b, http.StatusCreated)
			got := e.indexed(index.DocumentID(region, "sample-"+tc.name))
			sum := sha256.Sum256(pdf)
			if got.Type != tc.loinc || string(got.Class) != tc.class || got.Patient != "CF:"+tc.patient ||
				got.Hash != hex.EncodeToString(sum[:]) || got.Size != int64(len(pdf)) || got.AuthorOrg != producerOrg ||
				got.Custodian != region || got.Status != index.StatusCurrent || got.Setting != "AD_PSC001" {
				t.Fatalf("indexed %+v", got)
			}
			stored, err := e.store.ReadAll(got.Hash)
			if err != nil || !bytes.Equal(stored, pdf) {
				t.Fatalf("stored content differs (%v)", err)
			}
		})
	}
}

// lab returns the PDF of a synthetic lab report of the registered
// patient; tag makes its CDA (and so its hash) unique.
func lab(t testing.TB, tag string) []byte {
	t.Helper()
	pdf, err := synth.PDF(labDoc(tag))
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

func labDoc(tag string) synth.Document {
	k, _ := synth.KindOf("11502-2")
	return synth.Document{Kind: k, Region: region, LocalID: "cda-" + tag, AuthorCF: operatorCF, Org: producerOrg,
		Patient: synth.Patient{CF: samplePatient, Family: "Prova", Given: "Anna", Gender: "F", BirthDate: time.Date(1982, 2, 2, 0, 0, 0, 0, time.UTC)}}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	v1pdf := lab(t, "v1")
	e.validate(v1pdf)
	v1 := index.DocumentID(region, "life-1")
	resp, b := e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("life-1", "REF"), pdf: v1pdf})
	e.mustStatus(resp, b, http.StatusCreated)
	e.indexed(v1)

	// Replace: the new version supersedes the first.
	v2pdf := lab(t, "v2")
	e.validate(v2pdf)
	v2 := index.DocumentID(region, "life-2")
	resp, b = e.do(call{method: http.MethodPut, path: "/v1/documents/" + v1, body: pubBody("life-2", "REF"), pdf: v2pdf})
	e.mustStatus(resp, b, http.StatusCreated)
	if a, b := e.indexed(v1), e.indexed(v2); a.Status != index.StatusSuperseded || b.Status != index.StatusCurrent || b.Replaces != v1 || b.Chain != v1 || b.Version != 2 {
		t.Fatalf("after the replace: v1 %s, v2 %s (replaces %q, chain %q, version %d)", a.Status, b.Status, b.Replaces, b.Chain, b.Version)
	}

	// Metadata update: blind it (P99) and change the setting.
	meta := pubBody("", "REF")
	for _, k := range []string{"identificativoDoc", "identificativoRep", "healthDataFormat", "mode"} {
		delete(meta, k)
	}
	meta["assettoOrganizzativo"] = "AD_PSC026"
	meta["attiCliniciRegoleAccesso"] = []string{"P99"}
	resp, b = e.do(call{method: http.MethodPut, path: "/v1/documents/" + v2 + "/metadata", body: meta, json: true})
	e.mustStatus(resp, b, http.StatusOK)
	if got := e.indexed(v2); !got.Hidden() || got.Setting != "AD_PSC026" {
		t.Fatalf("after the metadata update: %+v", got)
	}
	// The national path of the same operation: unblind.
	meta["attiCliniciRegoleAccesso"] = []string{"P00"}
	resp, b = e.do(call{method: http.MethodPut, path: "/v1/documents/" + v2 + "/metadata-iti-57", body: meta, json: true})
	e.mustStatus(resp, b, http.StatusOK)
	if got := e.indexed(v2); got.Hidden() {
		t.Fatal("still hidden after P00")
	}

	// Withdraw: entered-in-error, the content kept but no longer served,
	// the first version current again.
	resp, b = e.do(call{method: http.MethodDelete, path: "/v1/documents/" + v2})
	e.mustStatus(resp, b, http.StatusOK)
	if a, b := e.indexed(v1), e.indexed(v2); b.Status != index.StatusEnteredErr || a.Status != index.StatusCurrent {
		t.Fatalf("after the withdrawal: v1 %s, v2 %s", a.Status, b.Status)
	}
	d, err := e.store.Document(v2)
	if err != nil || d.State != store.StateWithdrawn {
		t.Fatalf("stored version after withdrawal: %+v %v", d, err)
	}
	if _, err := e.store.Manifest(d.Entry.Hash); err != nil {
		t.Fatalf("a withdrawn document's content must be kept: %v", err)
	}

	// Every step was audited, with its patient and documents.
	var whats []string
	for _, ev := range e.audit.all() {
		if ev.Outcome != index.OutcomeSuccess || ev.Patient != "CF:"+samplePatient || ev.Actor != operatorCF {
			t.Fatalf("audit event %+v", ev)
		}
		whats = append(whats, ev.What)
	}
	want := "Document.validate DocumentReference.publish Document.validate DocumentReference.replace DocumentReference.update DocumentReference.update DocumentReference.withdraw"
	if got := strings.Join(whats, " "); got != want {
		t.Fatalf("audit trail\n%s\nwant\n%s", got, want)
	}

	// The status service tells each workflow's operations.
	resp, b = e.do(call{method: http.MethodGet, path: "/v1/status/" + d.Workflow, noSig: true})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"eventType":"REPLACE"`) || !strings.Contains(string(b), `"eventStatus":"SUCCESS"`) {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
}

func TestRetriedPublicationIndexesOnce(t *testing.T) {
	e := newEnv(t)
	pdf := lab(t, "retry")
	v := e.validate(pdf)
	body := pubBody("retry-1", "REF")
	body["workflowInstanceId"] = v.WorkflowInstanceID
	first := e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: body, pdf: pdf}))
	// The same request again (a lost answer), and once more without the
	// workflow id: the same document, never a second one.
	again := e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: body, pdf: pdf}))
	delete(body, "workflowInstanceId")
	third := e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: body, pdf: pdf}))
	if again.WorkflowInstanceID != first.WorkflowInstanceID || third.WorkflowInstanceID != first.WorkflowInstanceID {
		t.Fatalf("workflow ids %q, %q, %q: want the first's", first.WorkflowInstanceID, again.WorkflowInstanceID, third.WorkflowInstanceID)
	}
	st, err := e.store.Stats()
	if err != nil || st.Documents != 1 || st.Contents != 1 || st.Outbox != 0 {
		t.Fatalf("store after three tries: %+v (%v)", st, err)
	}
	n := 0
	if _, err := e.rep.Read(context.Background(), consensus.Local, func(r consensus.Reader) error {
		return index.ByPatient(r, "CF:"+samplePatient, index.Range{}, nil, func(index.Entry) bool { n++; return true })
	}); err != nil || n != 1 {
		t.Fatalf("%d index entries (%v), want 1", n, err)
	}
	// The same id with other content is a conflict.
	other := lab(t, "other")
	e.validate(other)
	resp, b := e.do(call{method: http.MethodPost, path: "/v1/documents", body: body, pdf: other})
	e.mustStatus(resp, b, http.StatusConflict)
}

// mustStatus with the response and body of do.
func (e *env) mustStatusOf(resp *http.Response, b []byte) okBody {
	return e.mustStatus(resp, b, http.StatusCreated)
}

// Bad input: each request is refused with a 4xx problem+json, and nothing
// is stored or indexed.
func TestBadInputIsRefusedAndLeavesNothing(t *testing.T) {
	e := newEnv(t)
	good := lab(t, "bad-base")
	e.validate(good)
	withCDA := func(mutate func([]byte) []byte) []byte {
		return pdfOf(t, mutate(synth.CDA(labDoc("bad-base"))))
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	}
	notRegistered := labDoc("stranger")
	notRegistered.Patient.CF = "PRVPRV80A01H501" + string(ident.CheckChar("PRVPRV80A01H501"))
	strangerPDF, err := synth.PDF(notRegistered)
	if err != nil {
		t.Fatal(err)
	}
	e.validate(pdfOf(t, synth.CDA(labDoc("unvalidated")))) // validated, but another CDA than the one published below
	unvalidated, _ := synth.PDF(labDoc("never-validated"))
	hugeFile := bytes.Repeat([]byte{0x42}, 4<<20+1)
	var noCDA bytes.Buffer // a PDF whose only attachment is not cda.xml
	if err := pdfcda.EmbedFile(&noCDA, []string{"x"}, "referto.xml", synth.CDA(labDoc("bad-base"))); err != nil {
		t.Fatal(err)
	}
	pdfNoCDA := noCDA.Bytes()
	body := pubBody("bad-1", "REF")
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range body {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	post := func(c call) call {
		c.method, c.path = http.MethodPost, "/v1/documents"
		if c.body == nil && c.rawBody == nil {
			c.body = body
		}
		if c.pdf == nil && !c.noFile {
			c.pdf = good
		}
		return c
	}
	past := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	for _, tc := range []struct {
		name string
		c    call
		want int
		why  string // in the problem's detail
	}{
		{"hash mismatch", post(call{sig: func(c *federation.Claims) { c.AttachmentHash = strings.Repeat("ab", 32) }}), 403, "attachment_hash"},
		{"no attachment_hash", post(call{sig: func(c *federation.Claims) { c.AttachmentHash = "" }}), 403, "attachment_hash"},
		{"no signature token", post(call{noSig: true}), 401, "token is required"},
		{"tokens of two subjects", post(call{sig: func(c *federation.Claims) { c.Subject = "VRDLGU75C12H501Y" }}), 403, "different subjects"},
		{"action_id READ", post(call{sig: func(c *federation.Claims) { c.ActionID = "READ" }}), 403, "action_id"},
		{"person_id of another patient", post(call{sig: func(c *federation.Claims) { c.PersonID = pssPatient }}), 403, "person_id"},
		{"resource_hl7_type of another type", post(call{sig: func(c *federation.Claims) { c.ResourceHL7Type = "34105-7" }}), 403, "resource_hl7_type"},
		{"another organisation", post(call{sig: func(c *federation.Claims) { c.Organization = "030-OTHER" }}), 403, "subject_organization"},
		{"expired signature token", post(call{sig: func(c *federation.Claims) { c.IssuedAt, c.Expiry = past, past.Add(time.Hour) }}), 401, "not valid"},
		{"expired bearer token", post(call{bearer: func(c *federation.Claims) { c.IssuedAt, c.Expiry = past, past.Add(time.Hour) }}), 401, "bearer token"},
		{"bearer of another region", post(call{bearer: func(c *federation.Claims) { c.OrganizationID = "150" }}), 401, "bearer token"},
		{"unregistered producer", post(call{sig: func(c *federation.Claims) { c.Issuer = "someone.example" }}), 401, "not valid"},
		{"not multipart", post(call{contentType: "application/json"}), 415, "multipart/form-data"},
		{"malformed multipart", post(call{contentType: "multipart/form-data; boundary=nothere"}), 400, "multipart"},
		{"no file part", post(call{noFile: true}), 400, "file part is missing"},
		{"requestBody not JSON", post(call{rawBody: []byte("tipologiaStruttura=Ospedale")}), 400, "JSON"},
		{"requestBody with an unknown enum value", post(call{body: with("tipologiaStruttura", "Castello")}), 400, "Castello"},
		{"requestBody with an unknown field", post(call{body: with("colore", "blu")}), 400, "colore"},
		{"requestBody without a required field", post(call{body: with("identificativoDoc", "")}), 400, "identificativoDoc"},
		{"requestBody with a bad date", post(call{body: with("dataInizioPrestazione", "ieri")}), 400, "dataInizioPrestazione"},
		{"document id of another region", post(call{body: with("identificativoDoc", index.DocumentID("150", "x"))}), 400, "region 150"},
		{"not a PDF", post(call{pdf: []byte("<ClinicalDocument/>")}), 400, "not a readable PDF"},
		{"PDF without cda.xml", post(call{pdf: pdfNoCDA}), 400, "no embedded cda.xml"},
		{"CDA not well-formed", post(call{pdf: withCDA(replace("</ClinicalDocument>", "</ClinicalDoc>"))}), 400, "closed by"},
		{"CDA with a DTD", post(call{pdf: withCDA(replace("<ClinicalDocument ", "<!DOCTYPE x [<!ENTITY a \"b\">]><ClinicalDocument "))}), 400, "document type declarations"},
		{"invalid codice fiscale", post(call{pdf: withCDA(replace(samplePatient, "GTWGWY82B42G920X"))}), 422, "HDR-recordTarget.id"}, // the check character is fsenet's own rule, beyond the schematron,
		{"unknown LOINC", post(call{pdf: withCDA(replace(`code="11502-2"`, `code="99999-9"`))}), 422, "99999-9"},
		{"no realmCode IT", post(call{pdf: withCDA(replace(`<realmCode code="IT"/>`, `<realmCode code="FR"/>`))}), 422, "ERRORE-2"},
		{"type and class disagree", post(call{body: with("tipoDocumentoLivAlto", "LDO")}), 422, "class"},
		{"patient not registered", post(call{pdf: strangerPDF}), 422, "not registered"},
		{"publication without validation", post(call{pdf: unvalidated}), 422, "validation"},
		{"oversize", post(call{pdf: hugeFile}), 413, "exceeds"},
		{"replace of an unknown document", call{method: http.MethodPut, path: "/v1/documents/" + index.DocumentID(region, "nope"), body: body, pdf: good}, 404, "no document"},
		{"withdraw of an unknown document", call{method: http.MethodDelete, path: "/v1/documents/" + index.DocumentID(region, "nope")}, 404, "no document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			resp, b := e.do(tc.c)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			var p Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Status != tc.want || p.TraceID == "" || p.Title == "" || !strings.HasPrefix(p.Type, httpapi.ProblemBase) {
				t.Fatalf("problem %s (%v)", b, err)
			}
			all := p.Detail
			for _, f := range p.Errors {
				all += " " + f.Rule + " " + f.Message
			}
			if !strings.Contains(all, tc.why) {
				t.Fatalf("problem %q: %s, want it to name %q", p.Title, all, tc.why)
			}
		})
	}
	st, err := e.store.Stats()
	if err != nil || st.Documents != 0 || st.Contents != 0 || st.Outbox != 0 {
		t.Fatalf("store after bad requests: %+v (%v)", st, err)
	}
	for _, id := range []string{"bad-1", "x"} {
		if _, ok, _ := e.entry(index.DocumentID(region, id)); ok {
			t.Fatalf("%s indexed", id)
		}
	}
	if entries, _ := os.ReadDir(e.gw.cfg.TempDir); len(entries) != 0 {
		t.Fatalf("temporary files left: %v", entries)
	}
	// The same request, well formed, goes through.
	resp, b := e.do(post(call{}))
	e.mustStatus(resp, b, http.StatusCreated)
}

// GET /fhir/Binary/{id}: the stored bytes, for whom the policy allows the
// content, audited; nothing for anyone else, nor once withdrawn.
func TestBinaryRead(t *testing.T) {
	e := newEnv(t)
	pdf := lab(t, "binary")
	e.validate(pdf)
	e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("bin-1", "REF"), pdf: pdf}))
	rid := index.ResourceID(index.DocumentID(region, "bin-1"))
	get := func(id string, mutate func(*federation.Claims)) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/fhir/Binary/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+e.token(mutate))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	code, b, h := get(rid, nil) // the author organisation
	if code != http.StatusOK || !bytes.Equal(b, pdf) || h.Get("Content-Type") != "application/pdf" {
		t.Fatalf("author: %d, %d bytes (%s)", code, len(b), h.Get("Content-Type"))
	}
	code, b, _ = get(rid, func(c *federation.Claims) {
		c.Subject, c.SubjectRole, c.Organization, c.Locality = samplePatient, "ASS", "", ""
	})
	if code != http.StatusOK || !bytes.Equal(b, pdf) {
		t.Fatalf("the patient: %d", code)
	}
	// Another organisation's clinician, the patient not consenting: the
	// same answer as for an id that does not exist.
	other, absentBody, _ := get(rid, func(c *federation.Claims) {
		c.Organization, c.Locality, c.SubjectRole = "030-ALTRO", "030-ALTRO", "AAS"
	})
	absent, absentBody2, _ := get(index.ResourceID("nothing"), nil)
	if other != http.StatusNotFound || absent != http.StatusNotFound || !bytes.Equal(absentBody, absentBody2) {
		t.Fatalf("not allowed %d %s / absent %d %s", other, absentBody, absent, absentBody2)
	}
	n := 0
	for _, ev := range e.audit.all() {
		if ev.What == "Binary.read" && ev.Outcome == index.OutcomeSuccess && len(ev.Documents) == 1 {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d Binary.read audit events, want 2 (one per disclosure)", n)
	}
	// Withdrawn: no longer served, even to its author.
	if resp, b := e.do(call{method: http.MethodDelete, path: "/v1/documents/" + index.DocumentID(region, "bin-1")}); resp.StatusCode != http.StatusOK {
		t.Fatalf("withdraw: %d %s", resp.StatusCode, b)
	}
	if code, _, _ := get(rid, nil); code != http.StatusNotFound {
		t.Fatalf("withdrawn document served: %d", code)
	}
}

// The patient blinds and unblinds their document; nobody else but the
// author organisation may, and to them the document does not exist.
func TestPatientBlinding(t *testing.T) {
	e := newEnv(t)
	pdf := lab(t, "blind")
	e.validate(pdf)
	e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("blind-1", "REF"), pdf: pdf}))
	id := index.DocumentID(region, "blind-1")
	post := func(op string, mutate func(*federation.Claims)) (int, string) {
		t.Helper()
		c := e.bearerClaims()
		c.PurposeOfUse = "PERSONAL"
		mutate(&c)
		tok, err := federation.IssueToken(e.idp, c)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/fhir/DocumentReference/"+index.ResourceID(id)+"/"+op, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	patient := func(c *federation.Claims) {
		c.Subject, c.SubjectRole, c.Organization, c.Locality = samplePatient, "ASS", "", ""
	}
	stranger := func(c *federation.Claims) {
		c.Subject, c.SubjectRole, c.Organization, c.Locality = "VRDLGU75C12H501Y", "AAS", "030-ALTRO", "030-ALTRO"
	}
	if code, b := post("$blind", stranger); code != http.StatusNotFound {
		t.Fatalf("a stranger blinding: %d %s", code, b)
	}
	if code, b := post("$blind", patient); code != http.StatusOK {
		t.Fatalf("the patient blinding: %d %s", code, b)
	}
	if got := e.indexed(id); !got.Hidden() {
		t.Fatal("not hidden after $blind")
	}
	if code, b := post("$unblind", patient); code != http.StatusOK {
		t.Fatalf("the patient unblinding: %d %s", code, b)
	}
	if got := e.indexed(id); got.Hidden() {
		t.Fatal("still hidden after $unblind")
	}
	// The author organisation may too.
	if code, b := post("$blind", func(*federation.Claims) {}); code != http.StatusOK {
		t.Fatalf("the author blinding: %d %s", code, b)
	}
	blinds := 0
	for _, ev := range e.audit.all() {
		if ev.What == "DocumentReference.blind" || ev.What == "DocumentReference.unblind" {
			blinds++
		}
	}
	if blinds != 3 {
		t.Fatalf("%d blinding audit events, want 3", blinds)
	}
}

// IHE MHD ITI-65: a FHIR document, signed by the producer, published with
// a transaction Bundle; retried once; refused when its signature, tokens
// or metadata do not hold.
func TestProvideFHIRDocument(t *testing.T) {
	e := newEnv(t)
	d := labDoc("fhir-1")
	d.LocalID = "fhir-1"
	doc := synth.FHIRDocument(d)
	sig, err := SignDocument(e.prod, doc)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(body []byte) func(*federation.Claims) {
		return func(c *federation.Claims) {
			h := sha256.Sum256(body)
			c.AttachmentHash = hex.EncodeToString(h[:])
			c.ResourceHL7Type = "11502-2"
			c.PersonID = samplePatient
		}
	}
	provide := func(bundle, doc []byte, mutate ...func(*federation.Claims)) (*http.Response, []byte) {
		t.Helper()
		ms := append([]func(*federation.Claims){claims(doc)}, mutate...)
		return e.do(call{method: http.MethodPost, path: "/fhir", raw: bundle, contentType: "application/fhir+json",
			sig: func(c *federation.Claims) {
				for _, m := range ms {
					m(c)
				}
			}})
	}
	bundle := synth.ProvideBundle(d, doc, sig)
	for try := range 2 { // the second is a retry: the same answer, one document
		resp, b := provide(bundle, doc)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"type":"transaction-response"`) || !strings.Contains(string(b), "Binary/"+index.ResourceID(d.ID())) {
			t.Fatalf("try %d: %d %s", try, resp.StatusCode, b)
		}
	}
	got := e.indexed(d.ID())
	if got.Type != "11502-2" || got.Class != "REF" || got.MIME != "application/fhir+json" || got.Patient != "CF:"+samplePatient || got.AuthorOrg != producerOrg || got.Setting != "AD_PSC001" {
		t.Fatalf("indexed %+v", got)
	}
	stored, err := e.store.ReadAll(got.Hash)
	if err != nil || !bytes.Equal(stored, doc) {
		t.Fatalf("stored document differs (%v)", err)
	}
	if st, _ := e.store.Stats(); st.Documents != 1 {
		t.Fatalf("%d documents after a retried request", st.Documents)
	}

	other := labDoc("fhir-2")
	other.LocalID = "fhir-2"
	odoc := synth.FHIRDocument(other)
	osig, _ := SignDocument(e.prod, odoc)
	strangerKey := genKey(t)
	strangerSig, _ := SignDocument(strangerKey, odoc)
	tampered := bytes.Replace(odoc, []byte("Contenuto sintetico"), []byte("Contenuto alterato!"), 1)
	wrongClass := other
	wrongClass.Kind.Class = "LDO"
	for _, tc := range []struct {
		name   string
		bundle []byte
		doc    []byte
		mutate []func(*federation.Claims)
		want   int
	}{
		{"signed by an unregistered key", synth.ProvideBundle(other, odoc, strangerSig), odoc, nil, 403},
		{"no signature", synth.ProvideBundle(other, odoc, ""), odoc, nil, 400},
		{"document altered after signing", synth.ProvideBundle(other, tampered, osig), tampered, nil, 403},
		{"hash claim of other bytes", synth.ProvideBundle(other, odoc, osig), doc, nil, 403},
		{"type and class disagree", synth.ProvideBundle(wrongClass, odoc, osig), odoc, nil, 422},
		{"person_id of another patient", synth.ProvideBundle(other, odoc, osig), odoc, []func(*federation.Claims){func(c *federation.Claims) { c.PersonID = pssPatient }}, 403},
		{"not a Bundle", []byte(`{"resourceType":"Patient"}`), odoc, nil, 400},
		{"not JSON", []byte(`<Bundle/>`), odoc, nil, 400},
		{"a document Bundle, not a transaction", odoc, odoc, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := e.t
			e.t = t
			defer func() { e.t = parent }()
			resp, b := provide(tc.bundle, tc.doc, tc.mutate...)
			if resp.StatusCode != tc.want || !strings.Contains(string(b), `"resourceType":"OperationOutcome"`) {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
		})
	}
	if _, ok, _ := e.entry(other.ID()); ok {
		t.Fatal("a refused document was indexed")
	}
	if st, _ := e.store.Stats(); st.Documents != 1 || st.Outbox != 0 {
		t.Fatalf("store after refusals: %+v", st)
	}
}

// The custodian's side of a fetch from another region: the caller's token
// verified, the same policy, every answer audited here.
func TestCustodianSource(t *testing.T) {
	e := newEnv(t)
	pdf := lab(t, "src")
	e.validate(pdf)
	e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("src-1", "REF"), pdf: pdf}))
	id := index.DocumentID(region, "src-1")
	src := e.docs.Source(e.verify)
	token := e.token
	c, err := src(context.Background(), "", fetch.Request{V: 1, Doc: id, Token: token(func(*federation.Claims) {})})
	if err != nil {
		t.Fatal(err)
	}
	// The store's zstd frames go out as they are.
	dec, _ := zstd.NewReader(c.Body)
	got, derr := io.ReadAll(dec)
	dec.Close()
	c.Body.Close()
	if derr != nil || !c.Zstd || !bytes.Equal(got, pdf) || c.Size != int64(len(pdf)) {
		t.Fatalf("author's fetch: %d bytes (%v), size %d, zstd %v", len(got), derr, c.Size, c.Zstd)
	}
	var ref *fetch.Refusal
	_, err = src(context.Background(), "", fetch.Request{V: 1, Doc: id, Token: token(func(c *federation.Claims) {
		c.Organization, c.Locality, c.SubjectRole = "030-ALTRO", "030-ALTRO", "AAS"
	})})
	if !errors.As(err, &ref) || ref.Code != fetch.CodeNotFound {
		t.Fatalf("another organisation without consent: %v", err)
	}
	_, err = src(context.Background(), "", fetch.Request{V: 1, Doc: index.DocumentID(region, "nothing"), Token: token(func(*federation.Claims) {})})
	if !errors.As(err, &ref) || ref.Code != fetch.CodeNotFound {
		t.Fatalf("absent document: %v", err)
	}
	_, err = src(context.Background(), "", fetch.Request{V: 1, Doc: id, Token: "not.a.token"})
	if !errors.As(err, &ref) || ref.Code != fetch.CodeUnauth {
		t.Fatalf("bad token: %v", err)
	}
	// An attempt the requesting node refused: refused here too, even for
	// a caller this replica would allow, and audited.
	_, err = src(context.Background(), "", fetch.Request{V: 1, Doc: id, Token: token(func(*federation.Claims) {}), Attempt: true})
	if !errors.As(err, &ref) || ref.Code != fetch.CodeNotFound {
		t.Fatalf("attempt: %v", err)
	}
	var outcomes []index.AuditOutcome
	for _, ev := range e.audit.all() {
		if ev.What == "Binary.fetch" {
			outcomes = append(outcomes, ev.Outcome)
		}
	}
	if want := []index.AuditOutcome{index.OutcomeSuccess, index.OutcomeRefused, index.OutcomeRefused, index.OutcomeRefused}; !slices.Equal(outcomes, want) {
		t.Fatalf("custodian's audit of the fetches: %v, want a disclosure and three refusals", outcomes)
	}
}
