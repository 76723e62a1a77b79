package node

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/clinical"
	"github.com/fsenet/fsenet/repository/extract"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/synth"
)

// factsBundle is the part of a searchset or document Bundle the tests
// read.
type factsBundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   *struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

func (b factsBundle) link(rel string) string {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// matches are the entries of mode match; outcomes, the OperationOutcome
// entries of a partial answer.
func (b factsBundle) matches() (matches, outcomes []json.RawMessage, urls []string) {
	for _, e := range b.Entry {
		if e.Search != nil && e.Search.Mode == "outcome" {
			outcomes = append(outcomes, e.Resource)
			continue
		}
		matches = append(matches, e.Resource)
		urls = append(urls, e.FullURL)
	}
	return matches, outcomes, urls
}

func getBundle(t *testing.T, u, tok string) (int, factsBundle, string) {
	t.Helper()
	code, body := do(t, http.MethodGet, u, tok, "", "")
	var b factsBundle
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, body)
		}
	}
	return code, b, body
}

// served checks the decoration of a fact as the API serves it (its id,
// the patient, the document it comes from, the region that keeps it) and
// returns its id and the resource without them: what the extraction
// wrote.
func served(t *testing.T, raw json.RawMessage, base, cf, region, rid string) (string, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	id, _ := m["id"].(string)
	typ, _ := m["resourceType"].(string)
	field := "subject"
	if typ == facts.AllergyIntolerance || typ == facts.Immunization {
		field = "patient"
	}
	if ref, _ := m[field].(map[string]any); ref["reference"] != "Patient/CF-"+cf {
		t.Fatalf("%s %s: %s %v, want Patient/CF-%s", typ, id, field, m[field], cf)
	}
	meta, _ := m["meta"].(map[string]any)
	if meta["source"] != base+"/fhir/DocumentReference/"+rid {
		t.Fatalf("%s %s: meta.source %v, want %s/fhir/DocumentReference/%s", typ, id, meta["source"], base, rid)
	}
	tags, _ := meta["tag"].([]any)
	if len(tags) != 1 || !reflect.DeepEqual(tags[0], map[string]any{"system": facts.SystemRegions, "code": region}) {
		t.Fatalf("%s %s: meta.tag %v, want region %s", typ, id, meta["tag"], region)
	}
	docRef := map[string]any{"reference": "DocumentReference/" + rid}
	if typ == facts.Observation && !reflect.DeepEqual(m["derivedFrom"], []any{docRef}) {
		t.Fatalf("%s %s: derivedFrom %v, want %v", typ, id, m["derivedFrom"], docRef)
	}
	exts, _ := m["extension"].([]any)
	var kept []any
	found := false
	for _, e := range exts {
		if x, _ := e.(map[string]any); x["url"] == clinical.ExtSourceDocument {
			found = reflect.DeepEqual(x["valueReference"], docRef)
			continue
		}
		kept = append(kept, e)
	}
	if !found {
		t.Fatalf("%s %s: no source-document extension naming %s: %v", typ, id, rid, exts)
	}
	delete(m, "id")
	delete(m, "meta")
	delete(m, field)
	delete(m, "derivedFrom")
	delete(m, "extension")
	if kept != nil {
		m["extension"] = kept
	}
	return id, m
}

// expectedFacts are a document's facts as extract.CDA derives them, by
// the id the API gives each.
func expectedFacts(t *testing.T, doc string, cda []byte) map[string]facts.Fact {
	t.Helper()
	ex, err := extract.CDA(cda)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]facts.Fact{}
	for _, f := range ex.Facts {
		out[clinical.FactID(doc, f.Seq)] = f
	}
	return out
}

func resourceOf(t *testing.T, f facts.Fact) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Resource, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestClinicalFactsAcrossRegions: a lab report (the national LAB
// builder's CDA in a PDF) published at Lombardia is extracted there; a
// clinician of Puglia searches the patient's Observations on Puglia's node
// and gets exactly what extract.CDA derives from the CDA, each naming its
// document and region, filtered, paged with links that work, read by id
// and in the patient summary; whoever may not see the patient gets the
// answer of a patient that does not exist; the patient's blinding hides
// the facts from the clinician at once but not from the patient; both
// regions audit the search.
func TestClinicalFactsAcrossRegions(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	pug := f.add("160", federation.RoleVoter)
	lomURL, pugURL := "http://"+lom.HTTPAddr(), "http://"+pug.HTTPAddr()

	rng := rand.New(rand.NewPCG(19, 19))
	pt, shy, nobody := synth.NewPatient(rng), synth.NewPatient(rng), synth.NewPatient(rng)
	register(t, lom, pt, "030", true)
	register(t, lom, shy, "030", false)

	// A hospital's laboratory software, registered as Lombardia's producer.
	lab := f.producer(lom, "030", "ASST Santi Paolo e Carlo", "030901")
	publish := func(p synth.Patient, local string) (synth.Document, string) {
		t.Helper()
		doc, _ := lab.publishLab(t, p, local, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
		return doc, index.ResourceID(doc.ID())
	}
	doc, rid := publish(pt, "lab-19")
	publish(shy, "lab-shy")

	// What the extraction derives from the same CDA, by fact id.
	want := expectedFacts(t, doc.ID(), synth.CDA(doc))
	var wantObs []string
	for id, fc := range want {
		if fc.Type == facts.Observation {
			wantObs = append(wantObs, id)
		}
	}
	slices.Sort(wantObs)
	if len(wantObs) < 5 {
		t.Fatalf("the LAB document yields %d Observations: not a test of anything", len(wantObs))
	}

	clinician := f.token("160", index.PurposeTreatment, func(c *federation.Claims) { c.Subject, c.SubjectRole = "BNCLCU75A01H501Z", "AAS" })
	patient := f.token("030", index.PurposePersonal, func(c *federation.Claims) { c.Subject, c.SubjectRole = pt.CF, index.RolePatient })
	search := pugURL + "/fhir/Observation?patient=Patient/CF-" + pt.CF

	// Eventually (the custodian extracts in the background, Puglia's
	// replica and IdP keys catch up) the clinician at Puglia gets them
	// all, from Lombardia, and only them.
	var all factsBundle
	consensustest.Eventually(t, 60*time.Second, func() error {
		code, b, body := getBundle(t, search, clinician)
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		_, outcomes, _ := b.matches()
		if len(outcomes) > 0 || b.Total == nil || *b.Total != len(wantObs) {
			return fmt.Errorf("total %v, %d outcomes, want %d Observations: %.600s", b.Total, len(outcomes), len(wantObs), body)
		}
		all = b
		return nil
	}, "the lab values searched from Puglia")

	t.Run("equal to the extraction", func(t *testing.T) {
		res, _, urls := all.matches()
		var got []string
		var last time.Time
		for i, raw := range res {
			id, m := served(t, raw, pugURL, pt.CF, "030", rid)
			got = append(got, id)
			fc, ok := want[id]
			if !ok || fc.Type != facts.Observation {
				t.Fatalf("served %s, no Observation of the document's extraction", id)
			}
			if urls[i] != pugURL+"/fhir/Observation/"+id {
				t.Fatalf("fullUrl %q, want %s/fhir/Observation/%s", urls[i], pugURL, id)
			}
			if !reflect.DeepEqual(m, resourceOf(t, fc)) {
				t.Fatalf("%s served as %v, extracted as %s", id, m, fc.Resource)
			}
			// The values, one by one.
			code := m["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)
			if code["system"] != fc.Code[0].System || code["code"] != fc.Code[0].Code || m["status"] != fc.Status || m["effectiveDateTime"] != fc.Effective {
				t.Fatalf("%s: code %v status %v effective %v, want %+v", id, code, m["status"], m["effectiveDateTime"], fc)
			}
			if fc.Value != nil {
				vq := m["valueQuantity"].(map[string]any)
				if vq["value"] != fc.Value.Value || fc.Value.Unit != "" && vq["unit"] != fc.Value.Unit {
					t.Fatalf("%s: value %v, want %v %s", id, vq, fc.Value.Value, fc.Value.Unit)
				}
			}
			// The newest first.
			at, err := time.Parse(time.RFC3339, fc.Effective)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && at.After(last) {
				t.Fatalf("%s (%s) after an older fact: not the newest first", id, fc.Effective)
			}
			last = at
		}
		slices.Sort(got)
		if !slices.Equal(got, wantObs) {
			t.Fatalf("served %v, want %v", got, wantObs)
		}
	})

	t.Run("filters", func(t *testing.T) {
		count := func(pred func(facts.Fact) bool) int {
			n := 0
			for _, id := range wantObs {
				if pred(want[id]) {
					n++
				}
			}
			return n
		}
		day := func(d string) func(facts.Fact) bool {
			return func(fc facts.Fact) bool { return strings.HasPrefix(fc.Effective, d) }
		}
		tests := []struct {
			params string
			want   int
		}{
			{"&code=http://loinc.org|718-7", count(func(fc facts.Fact) bool { return fc.Code[0].Code == "718-7" })},
			{"&code=718-7,2093-3", count(func(fc facts.Fact) bool { return fc.Code[0].Code == "718-7" || fc.Code[0].Code == "2093-3" })},
			{"&code=http://snomed.info/sct|718-7", 0},
			{"&date=2026-11-01", count(day("2026-11-01"))},
			{"&date=2026-10-31", count(day("2026-10-31"))},
			{"&date=2026-11", count(day("2026-11"))},
			{"&date=ge2026-10", len(wantObs)},
			{"&date=ge2026-11-01&date=lt2026-11-02", count(day("2026-11-01"))},
			{"&date=lt2026-11-01", count(day("2026-10-31"))},
			{"&date=2025", 0},
			{"&code=718-7&date=2026-10-31", 0},
			{"&status=cancelled", count(func(fc facts.Fact) bool { return fc.Status == "cancelled" })},
			{"&category=laboratory", len(wantObs)},
		}
		for _, tt := range tests {
			t.Run(tt.params, func(t *testing.T) {
				code, b, body := getBundle(t, search+tt.params, clinician)
				if code != http.StatusOK || b.Total == nil || *b.Total != tt.want {
					t.Fatalf("%d total %v, want %d: %.400s", code, b.Total, tt.want, body)
				}
				res, _, _ := b.matches()
				for _, raw := range res {
					id, m := served(t, raw, pugURL, pt.CF, "030", rid)
					if !reflect.DeepEqual(m, resourceOf(t, want[id])) {
						t.Fatalf("%s differs from its extraction", id)
					}
				}
			})
		}
		if n := count(day("2026-10-31")); n == 0 || n == len(wantObs) {
			t.Fatalf("%d of %d Observations on 31 October: the date filters do not narrow", n, len(wantObs))
		}
	})

	t.Run("paged one by one", func(t *testing.T) {
		next := search + "&_count=1"
		var got []string
		for pages := 0; next != ""; pages++ {
			if pages > len(wantObs) {
				t.Fatalf("more pages than facts: %v", got)
			}
			if !strings.HasPrefix(next, pugURL+"/fhir/Observation?") {
				t.Fatalf("link %q: not absolute on the node asked", next)
			}
			code, b, body := getBundle(t, next, clinician)
			res, _, _ := b.matches()
			if code != http.StatusOK || len(res) != 1 || b.Total == nil || *b.Total != len(wantObs) {
				t.Fatalf("page %d: %d, %d entries: %.400s", pages, code, len(res), body)
			}
			id, _ := served(t, res[0], pugURL, pt.CF, "030", rid)
			got = append(got, id)
			next = b.link("next")
		}
		_, _, urls := all.matches()
		for i := range urls {
			urls[i] = strings.TrimPrefix(urls[i], pugURL+"/fhir/Observation/")
		}
		if !slices.Equal(got, urls) {
			t.Fatalf("the pages hold %v, the whole answer %v", got, urls)
		}
	})

	t.Run("read by id", func(t *testing.T) {
		res, _, urls := all.matches()
		code, body := do(t, http.MethodGet, urls[0], clinician, "", "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", urls[0], code, body)
		}
		var got, fromSearch map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(res[0], &fromSearch)
		if !reflect.DeepEqual(got, fromSearch) {
			t.Fatalf("read %v, searched %v", got, fromSearch)
		}
		for _, id := range []string{clinical.FactID(doc.ID(), 9999), clinical.FactID(index.DocumentID("030", "never-published"), 1), "garbage"} {
			code, body := do(t, http.MethodGet, pugURL+"/fhir/Observation/"+id, clinician, "", "")
			if code != http.StatusNotFound || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
				t.Fatalf("GET Observation/%s: %d %s, want 404 and an OperationOutcome", id, code, body)
			}
		}
		// A DiagnosticReport's id is not an Observation's.
		for id, fc := range want {
			if fc.Type == facts.DiagnosticReport {
				if code, _ := do(t, http.MethodGet, pugURL+"/fhir/Observation/"+id, clinician, "", ""); code != http.StatusNotFound {
					t.Fatalf("a DiagnosticReport read as an Observation: %d", code)
				}
				if code, body := do(t, http.MethodGet, pugURL+"/fhir/DiagnosticReport/"+id, clinician, "", ""); code != http.StatusOK {
					t.Fatalf("GET DiagnosticReport/%s: %d %s", id, code, body)
				}
				break
			}
		}
	})

	t.Run("summary", func(t *testing.T) {
		code, b, body := getBundle(t, pugURL+"/fhir/Patient/CF-"+pt.CF+"/$summary", clinician)
		if code != http.StatusOK || b.ResourceType != "Bundle" || b.Type != "document" || len(b.Entry) < 3 {
			t.Fatalf("$summary: %d %.600s", code, body)
		}
		var comp struct {
			ResourceType string `json:"resourceType"`
			Section      []struct {
				Code struct {
					Coding []struct{ Code string } `json:"coding"`
				} `json:"code"`
				Entry []struct{ Reference string } `json:"entry"`
			} `json:"section"`
		}
		if err := json.Unmarshal(b.Entry[0].Resource, &comp); err != nil || comp.ResourceType != "Composition" {
			t.Fatalf("the first entry is not the Composition: %v %s", err, b.Entry[0].Resource)
		}
		byURL := map[string]json.RawMessage{}
		for _, e := range b.Entry {
			byURL[e.FullURL] = e.Resource
		}
		var results []string
		for _, s := range comp.Section {
			if len(s.Code.Coding) == 1 && s.Code.Coding[0].Code == "30954-2" {
				for _, e := range s.Entry {
					results = append(results, e.Reference)
				}
			}
		}
		var hb bool
		for _, ref := range results {
			raw, ok := byURL[ref]
			if !ok {
				t.Fatalf("the results section references %s, not in the Bundle", ref)
			}
			id, m := served(t, raw, pugURL, pt.CF, "030", rid)
			if ref != pugURL+"/fhir/"+m["resourceType"].(string)+"/"+id || !reflect.DeepEqual(m, resourceOf(t, want[id])) {
				t.Fatalf("result %s: not the fact %s as extracted", ref, id)
			}
			hb = hb || want[id].Code[0].Code == "718-7" && want[id].Type == facts.Observation
		}
		if !hb {
			t.Fatalf("the results section lacks the haemoglobin: %v", results)
		}
	})

	t.Run("callers who may not see", func(t *testing.T) {
		absentSearch := pugURL + "/fhir/Observation?patient=Patient/CF-" + nobody.CF
		absentSummary := pugURL + "/fhir/Patient/CF-" + nobody.CF + "/$summary"
		someoneElse := f.token("030", index.PurposePersonal, func(c *federation.Claims) { c.Subject, c.SubjectRole = shy.CF, index.RolePatient })
		tests := []struct {
			name, token, cf string
			// registry: the policy lets the caller read the patient's
			// registry record (PatientAccess), so $summary answers it,
			// with no clinical data; otherwise $summary is the 404 of a
			// patient that does not exist.
			registry bool
		}{
			{"a clinician, a patient without consent", clinician, shy.CF, true},
			{"another patient", someoneElse, pt.CF, false},
			{"the authority", f.authorityToken(), pt.CF, true},
			{"a clinician of the operators' purpose", f.token("160", index.PurposeSysadmin, func(c *federation.Claims) { c.SubjectRole = "AAS" }), pt.CF, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, b, body := getBundle(t, pugURL+"/fhir/Observation?patient=Patient/CF-"+tt.cf, tt.token)
				acode, ab, _ := getBundle(t, absentSearch, tt.token)
				if code != http.StatusOK || acode != code || b.Total == nil || ab.Total == nil || *b.Total != 0 || *ab.Total != 0 || len(b.Entry) != 0 || len(ab.Entry) != 0 {
					t.Fatalf("search: %d %.300s; for a patient that does not exist: %d", code, body, acode)
				}
				code, b, body = getBundle(t, pugURL+"/fhir/Patient/CF-"+tt.cf+"/$summary", tt.token)
				if tt.registry {
					if code != http.StatusOK || b.Type != "document" || len(b.Entry) != 2 {
						t.Fatalf("$summary: %d, %d entries, want the Composition and the Patient only: %.600s", code, len(b.Entry), body)
					}
					return
				}
				acode, abody := do(t, http.MethodGet, absentSummary, tt.token, "", "")
				if code != http.StatusNotFound || acode != code || body != abody {
					t.Fatalf("$summary: %d %.600s; for a patient that does not exist: %d %s", code, body, acode, abody)
				}
			})
		}
	})

	t.Run("garbage", func(t *testing.T) {
		base := pugURL + "/fhir/Observation?patient=Patient/CF-" + pt.CF
		tests := []struct{ name, url string }{
			{"no patient", pugURL + "/fhir/Observation?code=718-7"},
			{"two patients", base + "&patient=Patient/CF-" + shy.CF},
			{"a malformed code", base + "&code=" + url.QueryEscape("a|b|c")},
			{"a malformed date", base + "&date=2026-13"},
			{"an unsupported date prefix", base + "&date=ap2026"},
			{"a date without a zone", base + "&date=2026-11-01T10:00:00"},
			{"a _count too large", base + "&_count=100000"},
			{"a _count not a number", base + "&_count=many"},
			{"a negative _offset", base + "&_offset=-1"},
			{"an unknown _sort", base + "&_sort=value"},
			{"a Condition without a patient", pugURL + "/fhir/Condition?_count=1"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, body := do(t, http.MethodGet, tt.url, clinician, "", "")
				if code != http.StatusBadRequest || !strings.Contains(body, `"resourceType":"OperationOutcome"`) || !strings.Contains(body, `"code":"invalid"`) {
					t.Fatalf("%d %s, want 400 and an OperationOutcome", code, body)
				}
			})
		}
		for _, u := range []string{search, pugURL + "/fhir/Observation/" + clinical.FactID(doc.ID(), 1), pugURL + "/fhir/Patient/CF-" + pt.CF + "/$summary"} {
			if code, body := do(t, http.MethodGet, u, "", "", ""); code != http.StatusUnauthorized || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
				t.Fatalf("GET %s without a token: %d %s", u, code, body)
			}
		}
	})

	t.Run("audited by both regions", func(t *testing.T) {
		consensustest.Eventually(t, 30*time.Second, func() error {
			code, body := do(t, http.MethodGet, lomURL+"/fhir/AuditEvent?patient=Patient/CF-"+pt.CF+"&_count=1000", f.authorityToken(), "", "")
			if code != http.StatusOK {
				return fmt.Errorf("%d %s", code, body)
			}
			var b struct {
				Entry []struct {
					Resource struct {
						Type   struct{ Display string } `json:"type"`
						Source struct {
							Observer struct {
								Identifier struct{ Value string } `json:"identifier"`
							} `json:"observer"`
						} `json:"source"`
						Entity []struct {
							What struct{ Reference string } `json:"what"`
						} `json:"entity"`
					} `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal([]byte(body), &b); err != nil {
				return err
			}
			var asker, custodian bool
			for _, e := range b.Entry {
				r := e.Resource
				names := slices.ContainsFunc(r.Entity, func(x struct {
					What struct{ Reference string } `json:"what"`
				}) bool {
					return x.What.Reference == "DocumentReference/"+rid
				})
				switch {
				case r.Type.Display == "Observation.search" && r.Source.Observer.Identifier.Value == "160" && names:
					asker = true
				case r.Type.Display == "Observation.search.custodian" && r.Source.Observer.Identifier.Value == "030" && names:
					custodian = true
				}
			}
			if !asker || !custodian {
				return fmt.Errorf("Puglia's search recorded: %v, Lombardia's answer recorded: %v", asker, custodian)
			}
			return nil
		}, "the search in both regions' audit trails")
	})

	t.Run("extraction counted", func(t *testing.T) {
		_, metrics := do(t, http.MethodGet, lomURL+"/metrics", "", "", "")
		var ok float64
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "fsenet_facts_extractions_total{") && strings.Contains(l, `outcome="ok"`) {
				v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
				if err != nil {
					t.Fatal(err)
				}
				ok += v
			}
		}
		if ok < 1 {
			t.Fatalf("fsenet_facts_extractions_total{outcome=\"ok\"} = %v at Lombardia", ok)
		}
	})

	// Last, as it changes what the others see: the patient blinds the
	// report at Lombardia. Right after the 200 its facts are gone for the
	// clinician at Puglia; the patient still has them.
	t.Run("blinded", func(t *testing.T) {
		if code, body := do(t, http.MethodPost, lomURL+"/fhir/DocumentReference/"+rid+"/$blind", patient, "", ""); code != http.StatusOK {
			t.Fatalf("the patient blinding: %d %s", code, body)
		}
		code, b, body := getBundle(t, search, clinician)
		if code != http.StatusOK || b.Total == nil || *b.Total != 0 || len(b.Entry) != 0 {
			t.Fatalf("the clinician at Puglia right after the blinding: %d %.400s", code, body)
		}
		if code, body := do(t, http.MethodGet, pugURL+"/fhir/Observation/"+clinical.FactID(doc.ID(), want[wantObs[0]].Seq), clinician, "", ""); code != http.StatusNotFound {
			t.Fatalf("a blinded fact read by id: %d %s", code, body)
		}
		code, b, body = getBundle(t, search, patient)
		if code != http.StatusOK || b.Total == nil || *b.Total != len(wantObs) {
			t.Fatalf("the patient after the blinding: %d %.400s", code, body)
		}
		if _, outcomes, _ := b.matches(); len(outcomes) > 0 {
			t.Fatalf("the patient's answer is partial: %s", outcomes)
		}
	})
}
