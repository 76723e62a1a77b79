package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/index/indextest"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/repository/store"
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
	t       *testing.T
	rep     *consensus.Node
	store   *store.Store
	srv     *httptest.Server
	idp     jwk.Key
	prod    jwk.Key
	audit   *recorder
	gw      *Gateway
	clock   time.Time
	clockMu sync.Mutex
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, audit: &recorder{}, clock: time.Now().UTC()}
	e.rep = indextest.NewReplica(t, index.New())
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
	return e.clock
}

func (e *env) advance(d time.Duration) {
	e.clockMu.Lock()
	defer e.clockMu.Unlock()
	e.clock = e.clock.Add(d)
}

func genKey(t *testing.T) jwk.Key {
	k, err := federation.GenerateIdPKey(filepath.Join(t.TempDir(), "key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwks(t *testing.T, k jwk.Key) jwk.Set {
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
	json         bool // application/json instead of multipart
	contentType  string
	bearer       func(*federation.Claims)
	sig          func(*federation.Claims)
	noSig        bool
}

func (e *env) bearerClaims() federation.Claims {
	now := time.Now().UTC().Truncate(time.Second)
	return federation.Claims{Issuer: idpIssuer, Subject: operatorCF, IssuedAt: now, Expiry: now.Add(time.Hour),
		SubjectRole: "PSS", OrganizationID: region, Organization: producerOrg, PurposeOfUse: "UPDATE"}
}

func (e *env) do(c call) (*http.Response, []byte) {
	e.t.Helper()
	var body io.Reader
	ct := c.contentType
	switch {
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
func sampleCDA(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(samplePath(name))
	if err != nil {
		t.Skipf("the national samples are not here (%v): this test runs beside ../shared/samples", err)
	}
	return b
}

func pdfOf(t *testing.T, cda []byte) []byte {
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

// lab returns a PDF of the national LAB sample, with its CDA id made
// unique (so each test's documents differ).
func lab(t *testing.T, tag string) []byte {
	t.Helper()
	x := sampleCDA(t, "LAB")
	x = bytes.Replace(x, []byte("OQlvTq1J"), []byte(tag), 1)
	return pdfOf(t, x)
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
		if ev.Outcome != "0" || ev.Patient != "CF:"+samplePatient || ev.Actor != operatorCF {
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
func (e *env) mustStatusOf(resp *http.Response, b []byte) okBody { return e.mustStatus(resp, b, http.StatusCreated) }

