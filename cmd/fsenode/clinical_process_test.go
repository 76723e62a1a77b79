package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/clinical"
	"github.com/fsenet/fsenet/repository/extract"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/repository/synth"
)

// nationalSamples holds the national CDA→FHIR mapping's input (cda/) and
// output (fhir/): shared test data outside the repository, as
// repository/extract's differential test reads it.
const nationalSamples = "../../../shared/samples/fse-it"

// nationalSample is one of the national sample CDAs as published.
type nationalSample struct {
	name, loinc, cf string
	cda             []byte
	doc, rid        string
	facts           map[string]facts.Fact // by the id the API gives each
}

// servedFact is a fact as a node serves it, with what the API adds
// taken off again: what the extraction wrote.
type servedFact struct {
	id, fullURL string
	resource    map[string]any
	region      string
	source      string
}

// factsOf searches a patient's facts of one type on a node; it returns
// the facts served and the OperationOutcome entries of the answer.
func factsOf(t *testing.T, node *proc, token, typ, cf string) ([]servedFact, []string, error) {
	t.Helper()
	code, b, err := callErr(http.MethodGet, node.url()+"/fhir/"+typ+"?patient=Patient/CF-"+cf+"&_count=1000", token)
	if err != nil {
		return nil, nil, err
	}
	if code != http.StatusOK {
		return nil, nil, fmt.Errorf("%s search at %s: %d %s", typ, node.code, code, b)
	}
	var bundle struct {
		Entry []struct {
			FullURL  string                     `json:"fullUrl"`
			Resource map[string]json.RawMessage `json:"resource"`
			Search   struct{ Mode string }      `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		return nil, nil, err
	}
	var out []servedFact
	var outcomes []string
	for _, e := range bundle.Entry {
		if e.Search.Mode == "outcome" {
			raw, _ := json.Marshal(e.Resource)
			outcomes = append(outcomes, string(raw))
			continue
		}
		var m map[string]any
		raw, _ := json.Marshal(e.Resource)
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, nil, err
		}
		sf := servedFact{fullURL: e.FullURL}
		sf.id, _ = m["id"].(string)
		meta, _ := m["meta"].(map[string]any)
		sf.source, _ = meta["source"].(string)
		if tags, _ := meta["tag"].([]any); len(tags) == 1 {
			if tag, _ := tags[0].(map[string]any); tag["system"] == facts.SystemRegions {
				sf.region, _ = tag["code"].(string)
			}
		}
		field := "subject"
		if typ == facts.AllergyIntolerance || typ == facts.Immunization {
			field = "patient"
		}
		if ref, _ := m[field].(map[string]any); ref["reference"] != "Patient/CF-"+cf {
			return nil, nil, fmt.Errorf("%s %s names %v, not the patient", typ, sf.id, m[field])
		}
		var kept []any
		exts, _ := m["extension"].([]any)
		for _, x := range exts {
			if xm, _ := x.(map[string]any); xm["url"] != clinical.ExtSourceDocument {
				kept = append(kept, x)
			}
		}
		for _, k := range []string{"id", "meta", field, "derivedFrom", "extension"} {
			delete(m, k)
		}
		if kept != nil {
			m["extension"] = kept
		}
		sf.resource = m
		out = append(out, sf)
	}
	return out, outcomes, nil
}

// sameFacts compares the facts a node serves with what extract.CDA
// derives from the published documents: the same ids, each decorated
// with its document and region, each resource equal to the extraction's
// (so code, value, unit, date and status).
func sameFacts(node *proc, served []servedFact, want map[string]facts.Fact, docOf map[string]*nationalSample, custodian string) error {
	var got, wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	for _, sf := range served {
		got = append(got, sf.id)
		f, ok := want[sf.id]
		if !ok {
			return fmt.Errorf("served %s, which no sample's extraction has", sf.id)
		}
		s := docOf[sf.id]
		if sf.region != custodian || sf.source != node.url()+"/fhir/DocumentReference/"+s.rid || sf.fullURL != node.url()+"/fhir/"+f.Type+"/"+sf.id {
			return fmt.Errorf("%s: region %q, source %q, fullUrl %q", sf.id, sf.region, sf.source, sf.fullURL)
		}
		var ext map[string]any
		if err := json.Unmarshal(f.Resource, &ext); err != nil {
			return err
		}
		if !reflect.DeepEqual(sf.resource, ext) {
			return fmt.Errorf("%s (%s, %s|%s): served %v, extracted %s", sf.id, s.name, f.Code[0].System, f.Code[0].Code, sf.resource, f.Resource)
		}
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if !slices.Equal(got, wantIDs) {
		return fmt.Errorf("served %d facts %v, want %d %v", len(got), got, len(wantIDs), wantIDs)
	}
	return nil
}

// TestProcessClinicalNationalSamples: the national mapping's four sample
// CDAs (LAB, LDO, PSS, RAD), each in a PDF, published through Campania's
// gateway with real fsenode processes. A clinician of Puglia gets, for
// each type, exactly the facts extract.CDA derives from them (and so, by
// repository/extract's differential test, the national mapping's);
// the patient's blinding of the radiology report hides its facts from
// the clinician at once; with Campania killed by SIGKILL the search from
// Lombardia answers within the region deadline, naming Campania in an
// OperationOutcome entry; Campania restarted, the facts are back.
func TestProcessClinicalNationalSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(nationalSamples, "cda", "*.xml"))
	if len(files) == 0 {
		t.Skipf("the national samples are not at %s", nationalSamples)
	}
	samples := []*nationalSample{{name: "LAB", loinc: "11502-2"}, {name: "LDO", loinc: "34105-7"}, {name: "PSS", loinc: "60591-5"}, {name: "RAD", loinc: "68604-8"}}
	for _, s := range samples {
		var err error
		if s.cda, err = os.ReadFile(filepath.Join(nationalSamples, "cda", s.name+".xml")); err != nil {
			t.Fatal(err)
		}
		// The patient is the recordTarget's codice fiscale.
		const mef = `root="2.16.840.1.113883.2.9.4.3.2" extension="`
		rt := s.cda[bytes.Index(s.cda, []byte("<recordTarget")):]
		i := bytes.Index(rt, []byte(mef))
		if i < 0 {
			t.Fatalf("%s: no codice fiscale in the recordTarget", s.name)
		}
		s.cf = string(rt[i+len(mef) : i+len(mef)+16])
	}

	_, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	start := time.Now()
	var patients []string
	for _, s := range samples {
		if !slices.Contains(patients, s.cf) {
			patients = append(patients, s.cf)
			registerPatient(t, cam, synth.Patient{CF: s.cf, Family: "Campione", Given: "Nazionale", Gender: "F", BirthDate: time.Date(1982, 2, 2, 0, 0, 0, 0, time.UTC)})
		}
	}
	prod := newProducer(t, cam)
	docOf := map[string]*nationalSample{}
	for _, s := range samples {
		var pdf bytes.Buffer
		if err := pdfcda.Embed(&pdf, []string{"Campione nazionale " + s.name}, s.cda); err != nil {
			t.Fatal(err)
		}
		kind, _ := synth.KindOf(s.loinc)
		local := "nat-" + strings.ToLower(s.name)
		prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf.Bytes(), s.cf, s.loinc, "CREATE")
		prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication(cam.code, local, kind.Class), pdf.Bytes(), s.cf, s.loinc, "CREATE")
		s.doc = index.DocumentID(cam.code, local)
		s.rid = index.ResourceID(s.doc)
		ex, err := extract.CDA(s.cda)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		s.facts = map[string]facts.Fact{}
		for _, f := range ex.Facts {
			id := clinical.FactID(s.doc, f.Seq)
			s.facts[id] = f
			docOf[id] = s
		}
	}
	published := time.Now()

	// What each search should answer: the samples' facts of its patient
	// and type.
	expect := func(cf, typ string, hidden string) map[string]facts.Fact {
		out := map[string]facts.Fact{}
		for _, s := range samples {
			if s.cf != cf || s.name == hidden {
				continue
			}
			for id, f := range s.facts {
				if f.Type == typ {
					out[id] = f
				}
			}
		}
		return out
	}
	var counts []string
	for _, typ := range facts.Types {
		n := 0
		for _, cf := range patients {
			n += len(expect(cf, typ, ""))
		}
		if n == 0 && slices.Contains([]string{facts.Observation, facts.Condition, facts.AllergyIntolerance, facts.MedicationStatement, facts.Immunization}, typ) {
			t.Fatalf("the samples yield no %s: the search of it tests nothing", typ)
		}
		counts = append(counts, fmt.Sprintf("%s %d", typ, n))
	}
	t.Logf("the samples' facts by type: %s", strings.Join(counts, ", "))

	clinician := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	checkAll := func(node *proc, token, hidden string) error {
		for _, cf := range patients {
			for _, typ := range facts.Types {
				served, outcomes, err := factsOf(t, node, token, typ, cf)
				if err != nil {
					return err
				}
				if len(outcomes) > 0 {
					return fmt.Errorf("%s at %s: a partial answer: %s", typ, node.code, outcomes)
				}
				if err := sameFacts(node, served, expect(cf, typ, hidden), docOf, cam.code); err != nil {
					return fmt.Errorf("%s of %s at %s: %w", typ, cf, node.code, err)
				}
			}
		}
		return nil
	}
	consensustest.Eventually(t, 60*time.Second, func() error { return checkAll(pug, clinician, "") },
		"every type's facts of the samples searched from Puglia")
	t.Logf("four national samples published in %v; their facts served from Puglia %v later", published.Sub(start).Round(time.Millisecond), time.Since(published).Round(time.Millisecond))

	// The patient blinds the radiology report at its custodian: at once,
	// its facts are gone for the clinician at Puglia, the others stay.
	var rad *nationalSample
	for _, s := range samples {
		if s.name == "RAD" {
			rad = s
		}
	}
	patient := regionToken(t, cam, "--sub", rad.cf, "--role", "ASS", "--purpose", "PERSONAL")
	if code, b := call(t, http.MethodPost, cam.url()+"/fhir/DocumentReference/"+rad.rid+"/$blind", patient, "", nil); code != http.StatusOK {
		t.Fatalf("the patient's $blind: %d %s", code, b)
	}
	if err := checkAll(pug, clinician, "RAD"); err != nil {
		t.Fatalf("right after the blinding: %v", err)
	}
	// The patient still has them, from any node.
	if err := func() error {
		served, _, err := factsOf(t, pug, patient, facts.Observation, rad.cf)
		if err != nil {
			return err
		}
		return sameFacts(pug, served, expect(rad.cf, facts.Observation, ""), docOf, cam.code)
	}(); err != nil {
		t.Fatalf("the patient's own search after the blinding: %v", err)
	}

	// The custodian killed: the search from the third region answers 200
	// within the region deadline, naming Campania as missing.
	lomClinician := regionToken(t, lom, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	if err := checkAll(lom, lomClinician, "RAD"); err != nil {
		t.Fatalf("Lombardia before the kill: %v", err)
	}
	// The custodian frozen with its connections open (SIGSTOP): the
	// search waits out the region deadline, no longer, and names
	// Campania as not answering in time; thawed, it answers again.
	if err := cam.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cam.cmd.Process.Signal(syscall.SIGCONT) })
	began := time.Now()
	served, outcomes, err := factsOf(t, lom, lomClinician, facts.Observation, rad.cf)
	took := time.Since(began)
	if err != nil {
		t.Fatalf("with the custodian frozen: %v", err)
	}
	if len(served) != 0 || len(outcomes) != 1 || !strings.Contains(outcomes[0], "region "+cam.code+": it did not answer in time") {
		t.Fatalf("with the custodian frozen: %d facts, outcomes %v", len(served), outcomes)
	}
	if limit := clinical.DefaultRegionDeadline + 3*time.Second; took > limit {
		t.Fatalf("with the custodian frozen the answer took %v, more than the region deadline and a margin (%v)", took, limit)
	}
	t.Logf("with the custodian frozen: answered in %v: %s", took.Round(time.Millisecond), outcomes[0])
	if err := cam.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	consensustest.Eventually(t, 60*time.Second, func() error { return checkAll(lom, lomClinician, "RAD") },
		"the samples' facts back at Lombardia once Campania thawed")

	cam.kill9()
	for _, typ := range []string{facts.Observation, facts.Condition} {
		began := time.Now()
		served, outcomes, err := factsOf(t, lom, lomClinician, typ, rad.cf)
		took := time.Since(began)
		if err != nil {
			t.Fatalf("%s with the custodian down: %v", typ, err)
		}
		if len(served) != 0 || len(outcomes) != 1 || !strings.Contains(outcomes[0], "region "+cam.code) {
			t.Fatalf("%s with the custodian down: %d facts, outcomes %v, want none and one naming region %s", typ, len(served), outcomes, cam.code)
		}
		if limit := clinical.DefaultRegionDeadline + 3*time.Second; took > limit {
			t.Fatalf("%s with the custodian down answered in %v, more than the region deadline and a margin (%v)", typ, took, limit)
		}
		t.Logf("%s with the custodian down: answered in %v: %s", typ, took.Round(time.Millisecond), outcomes[0])
	}

	cam.start(t)
	waitFor(t, readyTimeout, "Campania back", cam.ready)
	consensustest.Eventually(t, 60*time.Second, func() error { return checkAll(lom, lomClinician, "RAD") },
		"the samples' facts back at Lombardia after Campania's restart")
}
