package fhirapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/fhirres"
)

const (
	mario = "CF:RSSMRA80A01H501U" // consents, has a blinded report
	teo   = "CF:MRTMTT25D09F205Z" // consents, nothing blinded
	lucia = "CF:TSTSMN63A01F205H" // no consent
)

// callers by bearer token, as the node's middleware would have verified.
var callers = map[string]index.Caller{
	"clinician": {Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: "TREATMENT", Region: "160", Organization: "160-ASL-BA"},
	"emergency": {Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: "EMERGENCY", Region: "160", Organization: "160-ASL-BA"},
	"author":    {Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: "TREATMENT", Region: "030", Organization: "030-ASST-01", Locality: "030901"},
	"mario":     {Subject: "RSSMRA80A01H501U", Role: "ASS", Purpose: "PERSONAL", Region: "030"},
	"authority": {Subject: "BNCLCU75A01H501Z", Role: "MDS", Purpose: "SYSADMIN", Region: "950", Authority: true},
	"op030":     {Subject: "VRDGPP70A01F205X", Role: "DRS", Purpose: "SYSADMIN", Region: "030"},
	"op160":     {Subject: "VRDGPP70A01F205X", Role: "DRS", Purpose: "SYSADMIN", Region: "160"},
}

type env struct {
	t    *testing.T
	node *consensus.Node
	srv  *httptest.Server
	dir  string
}

type failingRecorder struct{}

func (failingRecorder) Record(context.Context, ...index.Event) error {
	return index.ErrAuditUnavailable
}

func newEnv(t *testing.T, rec Recorder) *env {
	t.Helper()
	e := newEnvTB(t, rec)
	e.t = t
	for _, p := range []string{mario, teo, lucia} {
		e.apply(index.PutPatient(index.Patient{ID: p, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: "030"}))
	}
	e.apply(index.SetConsent(index.ConsentChange{Patient: mario, Given: true}))
	e.apply(index.SetConsent(index.ConsentChange{Patient: teo, Given: true}))
	return e
}

// newBenchEnv is an empty environment for benchmarks.
// newBenchEnv is newEnvTB with the audit records timed.
func newBenchEnv(b *testing.B) (*env, *timedRecorder) {
	tr := &timedRecorder{}
	return newEnvTB(b, nil, func(r Recorder) Recorder { tr.rec = r; return tr }), tr
}

func (e *env) mustApply(tb testing.TB, cmd consensus.Command) {
	if _, err := e.node.Apply(context.Background(), cmd); err != nil {
		tb.Error(err)
	}
}

func newEnvTB(t testing.TB, rec Recorder, wrap ...func(Recorder) Recorder) *env {
	t.Helper()
	n, dir := consensustest.NewReplicaDir(t, index.New())
	if rec == nil {
		spool, err := index.OpenSpool(filepath.Join(t.TempDir(), "spool"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { spool.Close() })
		a, err := index.NewAuditor(index.AuditorConfig{Node: "030", Apply: n, Spool: spool,
			LastSeq: index.TrailLastSeq(n, "030")})
		if err != nil {
			t.Fatal(err)
		}
		a.Start()
		t.Cleanup(a.Stop)
		rec = a
	}
	for _, w := range wrap {
		rec = w(rec)
	}
	api := New(Deps{
		Read: func(ctx context.Context, strong bool, fn func(index.Reader) error) (uint64, error) {
			c := consensus.Local
			if strong {
				c = consensus.Strong
			}
			return n.Read(ctx, c, fn)
		},
		Apply: n.Apply,
		Audit: rec,
		Caller: func(r *http.Request) (index.Caller, bool) {
			c, ok := callers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			return c, ok
		},
		Region: "030",
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{node: n, srv: srv, dir: dir}
}

func (e *env) apply(cmd consensus.Command, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.node.Apply(context.Background(), cmd); err != nil {
		e.t.Fatal(err)
	}
}

func entry(local, patient, loinc, class string, created time.Time) index.Entry {
	sum := sha256.Sum256([]byte(local))
	return index.Entry{ID: index.DocumentID("030", local), Patient: patient, Type: loinc, Class: doctype.Class(class), Created: created,
		AuthorOrg: "030-ASST-01", AuthorOrgID: "030901", Custodian: "030", Hash: hex.EncodeToString(sum[:]), Size: 10, MIME: "application/pdf"}
}

func (e *env) get(path, who string, header ...string) (int, string, http.Header) {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.srv.URL + path
	}
	req, _ := http.NewRequest("GET", u, nil)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+who)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        int    `json:"total"`
	Link         []struct {
		Relation, URL string
	} `json:"link"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

func (e *env) search(path, who string) bundle {
	e.t.Helper()
	code, body, h := e.get(path, who)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s as %s: %d %s", path, who, code, body)
	}
	if h.Get(HeaderAppliedIndex) == "" {
		e.t.Fatalf("GET %s: no %s header", path, HeaderAppliedIndex)
	}
	var b bundle
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
		e.t.Fatalf("GET %s: not a searchset: %v %s", path, err, body)
	}
	// The FHIR models read it back: every entry a resource with its full URL.
	fb, err := fhir.UnmarshalBundle([]byte(body))
	if err != nil || (fb.Total != nil && *fb.Total != b.Total) || len(fb.Entry) != len(b.Entry) {
		e.t.Fatalf("GET %s: the FHIR models do not read the Bundle back: %v", path, err)
	}
	for _, en := range fb.Entry {
		if en.FullUrl == nil || !strings.Contains(*en.FullUrl, "/fhir/") || len(en.Resource) == 0 || en.Search == nil {
			e.t.Fatalf("GET %s: entry without full URL, resource or search mode: %s", path, body)
		}
	}
	return b
}

func relations(b bundle) string {
	var r []string
	for _, l := range b.Link {
		r = append(r, l.Relation)
	}
	return strings.Join(r, ",")
}

// A blinded document is, for anyone but its author and the patient,
// indistinguishable from one that does not exist: results, totals,
// paging, reads and errors are the same.
func TestBlindedIsIndistinguishableFromAbsent(t *testing.T) {
	e := newEnv(t, nil)
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	e.apply(index.Publish(entry("m-lab", mario, "11502-2", "REF", t0)))
	blind := entry("m-hidden", mario, "11502-2", "REF", t0.Add(time.Hour))
	blind.Events = []string{index.EventHidden}
	e.apply(index.Publish(blind))
	e.apply(index.Publish(entry("t-lab", teo, "11502-2", "REF", t0)))

	for _, q := range []string{"", "&_count=1", "&type=11502-2", "&event=P99", "&_sort=date&_count=1&_offset=1"} {
		a := e.search("/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U"+q, "clinician")
		b := e.search("/fhir/DocumentReference?patient=Patient/CF-MRTMTT25D09F205Z"+q, "clinician")
		if a.Total != b.Total || len(a.Entry) != len(b.Entry) || relations(a) != relations(b) {
			t.Fatalf("query %q: with a blinded document total %d, %d entries, links %s; without: %d, %d, %s",
				q, a.Total, len(a.Entry), relations(a), b.Total, len(b.Entry), relations(b))
		}
	}
	hiddenID := index.ResourceID(blind.ID)
	c1, b1, _ := e.get("/fhir/DocumentReference/"+hiddenID, "clinician")
	c2, b2, _ := e.get("/fhir/DocumentReference/"+index.ResourceID(index.DocumentID("030", "never")), "clinician")
	if c1 != http.StatusNotFound || c1 != c2 || b1 != b2 {
		t.Fatalf("read of a blinded document: %d %s; of an absent one: %d %s", c1, b1, c2, b2)
	}
	// Its author and the patient see it.
	if got := e.search("/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U", "author"); got.Total != 2 {
		t.Fatalf("author sees %d", got.Total)
	}
	if got := e.search("/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U", "mario"); got.Total != 2 {
		t.Fatalf("patient sees %d", got.Total)
	}
	if code, _, _ := e.get("/fhir/DocumentReference/"+hiddenID, "mario"); code != http.StatusOK {
		t.Fatalf("patient reading their blinded document: %d", code)
	}
}

func TestPolicyThroughSearchAndTheAccessLog(t *testing.T) {
	e := newEnv(t, nil)
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	e.apply(index.Publish(entry("l-lab", lucia, "11502-2", "REF", t0)))
	e.apply(index.Publish(entry("l-pss", lucia, "60591-5", "SUM", t0.Add(time.Hour))))
	q := "/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|TSTSMN63A01F205H"
	if got := e.search(q, "clinician"); got.Total != 0 {
		t.Fatalf("without consent a clinician sees %d", got.Total)
	}
	if got := e.search(q, "author"); got.Total != 2 {
		t.Fatalf("without consent the author sees %d, want 2 (authors keep their documents)", got.Total)
	}
	if got := e.search(q, "author"); !strings.Contains(string(got.Entry[0].Resource), "/fhir/Binary/") {
		t.Fatalf("the author gets no content URL: %s", got.Entry[0].Resource)
	}
	got := e.search(q, "emergency")
	if got.Total != 1 || !strings.Contains(string(got.Entry[0].Resource), "60591-5") {
		t.Fatalf("emergency without consent: %d entries", got.Total)
	}
	// The authority sees metadata without a content URL.
	auth := e.search(q, "authority")
	if auth.Total != 2 || strings.Contains(string(auth.Entry[0].Resource), "/fhir/Binary/") {
		t.Fatalf("authority: %d entries, %s", auth.Total, auth.Entry[0].Resource)
	}
	// Every access is in the patient's log (replicated from the node's
	// spool moments after the access), the emergency flagged; the log is
	// for the patient and the authority only.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, _ := e.get("/fhir/AuditEvent?patient=Patient/CF-TSTSMN63A01F205H", "authority")
		if code == http.StatusOK && strings.Contains(body, "emergency access without consent") && strings.Count(body, `"resourceType":"AuditEvent"`) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, _ := e.get("/fhir/AuditEvent?patient=Patient/CF-TSTSMN63A01F205H", "clinician"); code != http.StatusForbidden {
		t.Fatalf("a clinician reading the access log: %d", code)
	}
	if code, _, _ := e.get("/fhir/AuditEvent?patient=Patient/CF-RSSMRA80A01H501U", "mario"); code != http.StatusOK {
		t.Fatalf("a patient reading their own log: %d", code)
	}
}

// The access log pages: every event once, in order, without a total
// while more pages follow.
func TestAuditEventPages(t *testing.T) {
	e := newEnv(t, nil)
	e.apply(index.Publish(entry("m-lab", mario, "11502-2", "REF", time.Now())))
	for i := 0; i < 7; i++ {
		e.search("/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U", "clinician")
	}
	first := "/fhir/AuditEvent?patient=Patient/CF-RSSMRA80A01H501U&_count=3"
	var ids []string
	searches := 0
	deadline := time.Now().Add(10 * time.Second)
	for searches < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("%d searches in the log, want 7", searches)
		}
		ids, searches = nil, 0
		for path := first; path != ""; {
			b := e.search(path, "authority")
			if len(b.Entry) > 3 {
				t.Fatalf("a page of %d with _count=3", len(b.Entry))
			}
			path = ""
			for _, l := range b.Link {
				if l.Relation == "next" {
					path = l.URL
				}
			}
			if path != "" && b.Total != 0 {
				t.Fatalf("a total (%d) on a page that is not the last", b.Total)
			}
			for _, en := range b.Entry {
				var ev fhir.AuditEvent
				if err := json.Unmarshal(en.Resource, &ev); err != nil || ev.Id == nil {
					t.Fatalf("entry: %v %s", err, en.Resource)
				}
				ids = append(ids, *ev.Id)
				if strings.Contains(string(en.Resource), "DocumentReference.search") {
					searches++
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("event %s on two pages", id)
		}
		seen[id] = true
	}
	// Past the end: an empty page, and no total made up from the offset.
	if b := e.search(first+"&_offset=500", "authority"); len(b.Entry) != 0 || b.Total != 0 {
		t.Fatalf("past the end: %d entries, total %d", len(b.Entry), b.Total)
	}
}

func TestPatientReadAndSearch(t *testing.T) {
	e := newEnv(t, nil)
	code, body, _ := e.get("/fhir/Patient/CF-RSSMRA80A01H501U", "clinician")
	if code != http.StatusOK || !strings.Contains(body, `"family":"Rossi"`) || !strings.Contains(body, `"resourceType":"Patient"`) {
		t.Fatalf("read: %d %s", code, body)
	}
	code, body, _ = e.get("/fhir/Patient?identifier=http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501U", "clinician")
	if code != http.StatusOK || !strings.Contains(body, `"total":1`) || !strings.Contains(body, `"fullUrl":"http://`+e.srv.Listener.Addr().String()+`/fhir/Patient/CF-RSSMRA80A01H501U"`) {
		t.Fatalf("by identifier: %d %s", code, body)
	}
	if got := e.search("/fhir/Patient?family=ros&given=mar&birthdate=1980-01-01", "clinician"); got.Total != 3 {
		t.Fatalf("by family prefix: %d", got.Total)
	}
	// Pages of _count, the total over all of them.
	page := e.search("/fhir/Patient?family=rossi&_count=2", "clinician")
	if page.Total != 3 || len(page.Entry) != 2 || !strings.Contains(relations(page), "next") {
		t.Fatalf("first page: total %d, %d entries, links %s", page.Total, len(page.Entry), relations(page))
	}
	page = e.search("/fhir/Patient?family=rossi&_count=2&_offset=2", "clinician")
	if page.Total != 3 || len(page.Entry) != 1 || strings.Contains(relations(page), "next") {
		t.Fatalf("last page: total %d, %d entries, links %s", page.Total, len(page.Entry), relations(page))
	}
	if got := e.search("/fhir/Patient?family=bianchi", "clinician"); got.Total != 0 {
		t.Fatalf("no match: %d", got.Total)
	}
	if code, _, _ := e.get("/fhir/Patient/CF-RSSMRA80A01H501U", "mario"); code != http.StatusOK {
		t.Fatalf("the patient reading their record: %d", code)
	}
}

// Every search parameter with a bad value is a 400 OperationOutcome;
// unknown parameters are ignored unless the client asks for strict
// handling.
func TestBadParameters(t *testing.T) {
	e := newEnv(t, nil)
	p := "/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U"
	bad := []string{
		"/fhir/DocumentReference",
		"/fhir/DocumentReference?patient=garbage",
		"/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501A",
		"/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U&patient=Patient/CF-MRTMTT25D09F205Z",
		p + "&date=yesterday", p + "&date=zz2026", p + "&period=2026-13", p + "&_count=-1", p + "&_count=many",
		p + "&_offset=x", p + "&_sort=title", p + "&status=", p + "&type=|", p + "&_format=xml",
		"/fhir/Patient", "/fhir/Patient?identifier=123", "/fhir/Patient?birthdate=1980",
		"/fhir/AuditEvent", "/fhir/AuditEvent?patient=x",
	}
	for _, path := range bad {
		t.Run(path, func(t *testing.T) {
			code, body, _ := e.get(path, "authority")
			if code != http.StatusBadRequest || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	if code, body, _ := e.get(p+"&foo=bar", "clinician", "Prefer", "handling=strict"); code != http.StatusBadRequest {
		t.Fatalf("unknown parameter, strict: %d %s", code, body)
	}
	got := e.search(p+"&foo=bar", "clinician")
	if strings.Contains(got.Link[0].URL, "foo") {
		t.Fatalf("the self link shows an ignored parameter: %s", got.Link[0].URL)
	}
	if code, _, _ := e.get(p, ""); code != http.StatusUnauthorized {
		t.Fatalf("no caller: %d", code)
	}
	if code, _, h := e.get(p, "clinician", HeaderConsistency, "strong"); code != http.StatusOK || h.Get(HeaderAppliedIndex) == "0" {
		t.Fatalf("strong read: %d %s", code, h.Get(HeaderAppliedIndex))
	}
}

// Nothing is disclosed when the access cannot be audited.
func TestNoDisclosureWithoutAudit(t *testing.T) {
	e := newEnv(t, failingRecorder{})
	e.apply(index.Publish(entry("m-lab", mario, "11502-2", "REF", time.Now())))
	for _, path := range []string{
		"/fhir/DocumentReference?patient=Patient/CF-RSSMRA80A01H501U",
		"/fhir/DocumentReference/" + index.ResourceID(index.DocumentID("030", "m-lab")),
		"/fhir/Patient/CF-RSSMRA80A01H501U",
	} {
		code, body, _ := e.get(path, "clinician")
		if code != http.StatusServiceUnavailable || strings.Contains(body, "RSSMRA80A01H501U") {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
}

func TestCapabilityStatementListsWhatIsServed(t *testing.T) {
	var caps fhirres.Capabilities
	New(Deps{}).Capabilities(&caps)
	b, err := json.Marshal(caps.Statement("test", "2026-12-04"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	for _, want := range []string{`"resourceType":"CapabilityStatement"`, `"type":"DocumentReference"`, `"name":"patient.identifier"`, `"type":"AuditEvent"`,
		`"fhirVersion":"4.0.1"`, `"name":"merge"`, `"name":"consent"`, `"code":"create"`, `"code":"update"`} {
		if !strings.Contains(body, want) {
			t.Errorf("CapabilityStatement lacks %s", want)
		}
	}
}

func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{"patient=Patient/CF-RSSMRA80A01H501U&date=ge2026-01&_count=5", "date=eq", "type=a|b,c", "_sort=-date", "x:exact=1", "%zz", "date=le2026-01-02T10:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, strict := range []bool{true, false} {
			s, err := parseSearch(q, documentParams, documentSorts, strict)
			if err != nil {
				if !errors.Is(err, errParam) {
					t.Fatalf("error without errParam: %v", err)
				}
				continue
			}
			if s.count < 0 || s.count > maxCount || s.offset < 0 {
				t.Fatalf("count %d offset %d", s.count, s.offset)
			}
		}
	})
}

func (e *env) send(method, path, who, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+who)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func patientJSON(cf, family, region string) string {
	return `{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"` + cf + `"}],` +
		`"name":[{"family":"` + family + `","given":["Anna"]}],"gender":"female","birthDate":"1990-05-04",` +
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"` + region + `"}}}`
}

func TestRegistryWrites(t *testing.T) {
	e := newEnv(t, nil)
	const cf = "LCNLVC95L47H501Q"
	tests := []struct {
		name, method, path, who, body string
		want                          int
	}{
		{"another region's operator", "POST", "/fhir/Patient", "op160", patientJSON(cf, "Bianchi", "030"), http.StatusForbidden},
		{"a clinician", "POST", "/fhir/Patient", "clinician", patientJSON(cf, "Bianchi", "030"), http.StatusForbidden},
		{"create", "POST", "/fhir/Patient", "op030", patientJSON(cf, "Bianchi", "030"), http.StatusCreated},
		{"create again", "POST", "/fhir/Patient", "op030", patientJSON(cf, "Bianchi", "030"), http.StatusConflict},
		{"move to Puglia", "PUT", "/fhir/Patient/CF-" + cf, "op030", patientJSON(cf, "Bianchi", "160"), http.StatusOK},
		{"the former region, after the move", "PUT", "/fhir/Patient/CF-" + cf, "op030", patientJSON(cf, "Verdi", "160"), http.StatusForbidden},
		{"id and body differ", "PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op160", patientJSON(cf, "Bianchi", "160"), http.StatusBadRequest},
		{"update of an unknown patient", "PUT", "/fhir/Patient/CF-GTWGWY82B42G920M", "op030", patientJSON("GTWGWY82B42G920M", "X", "030"), http.StatusNotFound},
		{"not JSON", "POST", "/fhir/Patient", "op030", "{garbage", http.StatusBadRequest},
		{"not a Patient", "POST", "/fhir/Patient", "op030", `{"resourceType":"Observation"}`, http.StatusBadRequest},
		{"bad codice fiscale", "POST", "/fhir/Patient", "op030", patientJSON("LCNLVC95L47H501A", "X", "030"), http.StatusBadRequest},
		{"bad region", "POST", "/fhir/Patient", "op030", patientJSON("GTWGWY82B42G920M", "X", "999"), http.StatusBadRequest},
		{"too big", "POST", "/fhir/Patient", "op030", strings.Repeat(" ", 70<<10), http.StatusRequestEntityTooLarge},
		{"consent by the patient", "POST", "/fhir/Patient/CF-RSSMRA80A01H501U/$consent", "mario", `{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":false}]}`, http.StatusOK},
		// The clinician may read the record, so its existence is no secret: 403.
		{"consent by a clinician", "POST", "/fhir/Patient/CF-RSSMRA80A01H501U/$consent", "clinician", `{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":true}]}`, http.StatusForbidden},
		{"consent garbage", "POST", "/fhir/Patient/CF-RSSMRA80A01H501U/$consent", "mario", `{"resourceType":"Parameters"}`, http.StatusBadRequest},
		{"merge by another region", "POST", "/fhir/Patient/$merge", "op160", `{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/CF-MRTMTT25D09F205Z"}},{"name":"target-patient","valueReference":{"reference":"Patient/CF-RSSMRA80A01H501U"}}]}`, http.StatusForbidden},
		{"merge", "POST", "/fhir/Patient/$merge", "op030", `{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/CF-MRTMTT25D09F205Z"}},{"name":"target-patient","valueReference":{"reference":"Patient/CF-RSSMRA80A01H501U"}}]}`, http.StatusOK},
		{"merge garbage", "POST", "/fhir/Patient/$merge", "op030", `{"resourceType":"Parameters","parameter":[]}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.send(tt.method, tt.path, tt.who, tt.body)
			if code != tt.want || (code >= 400 && !strings.Contains(body, "OperationOutcome")) {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
		})
	}
	code, body, _ := e.get("/fhir/Patient/CF-"+cf, "op160")
	if code != http.StatusOK || !strings.Contains(body, `"value":"160"`) || !strings.Contains(body, `"family":"Bianchi"`) {
		t.Fatalf("after the move: %d %s", code, body)
	}
	code, body, _ = e.get("/fhir/Patient/CF-MRTMTT25D09F205Z", "authority")
	if code != http.StatusOK || !strings.Contains(body, `"replaced-by"`) || !strings.Contains(body, `"active":false`) {
		t.Fatalf("merged identity: %d %s", code, body)
	}
}
