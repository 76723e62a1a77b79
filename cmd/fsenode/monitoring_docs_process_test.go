package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
	"github.com/fsenet/fsenet/telemed/tmdoc"
)

const secondDoctor = "VRDGPP70A01F205V"

// publishFHIR signs a FHIR document with the producer's key and provides
// it through the region's gateway (ITI-65).
func publishFHIR(t *testing.T, p *producer, doc []byte, cf, loinc, class, local string) {
	t.Helper()
	client := &gateway.Client{BaseURL: p.node.url(), Bearer: p.bearer, Key: p.key, Issuer: producerIssuer,
		Subject: operatorSub, Role: "PSS", Region: p.node.code, Organization: producerOrg}
	sig, err := gateway.SignDocument(p.key, doc)
	if err != nil {
		t.Fatal(err)
	}
	d := synth.Document{Kind: synth.Kind{LOINC: loinc, Class: class}, Region: p.node.code, LocalID: local, Patient: synth.Patient{CF: cf}}
	if a, err := client.ProvideFHIR(context.Background(), synth.ProvideBundle(d, doc, sig), doc, loinc, cf); err != nil || !a.OK() {
		t.Fatalf("publish %s: %v %v", loinc, a, err)
	}
}

// flagsOf reads the alerts a care-team member sees at their node.
func flagsOf(r *proc, token string) ([]flagSeen, bool) {
	code, b, err := callErr(http.MethodGet, r.url()+"/fhir/Flag", token)
	var bundle struct {
		Entry []struct {
			Resource struct {
				ID        string `json:"id"`
				Status    string `json:"status"`
				Extension []struct {
					URL             string `json:"url"`
					ValueIdentifier *struct{ Value string }
				} `json:"extension"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(b, &bundle) != nil {
		return nil, false
	}
	var out []flagSeen
	for _, e := range bundle.Entry {
		f := flagSeen{ID: e.Resource.ID, Status: e.Resource.Status}
		for _, x := range e.Resource.Extension {
			if x.URL == "urn:fsenet:telemonitoraggio:assegnatario" && x.ValueIdentifier != nil {
				f.Assignee = x.ValueIdentifier.Value
			}
		}
		out = append(out, f)
	}
	return out, true
}

type flagSeen struct{ ID, Status, Assignee string }

// TestProcessTelemonitoringDocumentsAndEscalation: on three running
// regions, a Lombardia patient monitored by a two-member care team in
// Campania. Lombardia's clinician registers the scale at kit delivery;
// Lombardia's producer publishes the Piano and the Tesserino through
// Lombardia's gateway, and a Puglia clinician finds them in the
// patient's history. A breach reaches Campania; nobody acknowledges it,
// so Campania escalates it to the second member, who acknowledges it.
// The plan is closed and its Relazione finale published.
func TestProcessTelemonitoringDocumentsAndEscalation(t *testing.T) {
	_, regions := threeVotersEach(t, func(i int) []string {
		if i == 1 {
			return []string{"--telemed.escalate_after", "2s"}
		}
		return nil
	})
	lom, cam, pug := regions[0], regions[1], regions[2]
	pt := synth.NewPatient(rand.New(rand.NewPCG(18, 1)))
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	op := regionToken(t, lom, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	clinician := regionToken(t, lom, "--sub", "BNCLCU75A01H501T", "--role", "AAS", "--purpose", "TREATMENT")
	first := regionToken(t, cam, "--sub", teamDoctor, "--role", "AAS", "--purpose", "TREATMENT")
	second := regionToken(t, cam, "--sub", secondDoctor, "--role", "AAS", "--purpose", "TREATMENT")
	reader := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	code, b := call(t, http.MethodPost, lom.url()+"/fhir/PlanDefinition", op, "application/fhir+json", monitoringTemplate)
	tid := idIn(t, code, b, http.StatusCreated)
	plan := strings.Replace(string(monitoringPlan(tid, pt.CF)), `"value":"`+teamDoctor+`"}}}]`,
		`"value":"`+teamDoctor+`"}}},{"member":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"`+secondDoctor+`"}}}]`, 1)
	code, b = call(t, http.MethodPost, lom.url()+"/fhir/CarePlan", clinician, "application/fhir+json", []byte(plan))
	pid := idIn(t, code, b, http.StatusCreated)
	planURL := lom.url() + "/fhir/CarePlan/" + pid

	device := []byte(`{"resourceType":"Device","id":"bilancia-1","identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9.4.3.99","value":"SN-77"}],` +
		`"udiCarrier":[{"deviceIdentifier":"08012345678901","carrierHRF":"(01)08012345678901(21)SN-77"}],"deviceName":[{"name":"Bilancia","type":"user-friendly-name"}]}`)
	if code, b := call(t, http.MethodPost, planURL+"/$register-device", clinician, "application/fhir+json", device); code != http.StatusCreated {
		t.Fatalf("register the scale: %d %s", code, b)
	}
	document := func(method, op string, body []byte) []byte {
		code, b := call(t, method, planURL+"/$"+op, clinician, "application/fhir+json", body)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %.300s", op, code, b)
		}
		return b
	}
	publishFHIR(t, prod, document(http.MethodGet, "piano", nil), pt.CF, tmdoc.TypePiano, "TAC", "tm-piano-"+pid)
	publishFHIR(t, prod, document(http.MethodGet, "tesserino", nil), pt.CF, tmdoc.TypeTesserino, "REF", "tm-tesserino-"+pid)
	waitFor(t, 30*time.Second, "the Piano and the Tesserino in the history read at Puglia", func() bool {
		return len(search(t, pug, reader, pt.CF, "")) == 2
	})

	// A breach; the first member does not acknowledge it.
	from := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Observation", op, "application/fhir+json",
		weightBundle(pt.CF, from, 2, func(i int) float64 { return 89 + float64(i)*3 })); code != http.StatusOK {
		t.Fatalf("a breach: %d %s", code, b)
	}
	var alert flagSeen
	waitFor(t, 60*time.Second, "the alert escalated to the second member at Campania", func() bool {
		fs, ok := flagsOf(cam, second)
		if ok && len(fs) == 1 && fs[0].Status == "active" && fs[0].Assignee == secondDoctor {
			alert = fs[0]
			return true
		}
		return false
	})
	if code, b := call(t, http.MethodPost, cam.url()+"/fhir/Flag/"+alert.ID+"/$acknowledge", second, "", nil); code != http.StatusOK || !strings.Contains(string(b), `"status":"inactive"`) {
		t.Fatalf("acknowledged by the second member: %d %s", code, b)
	}
	if fs, ok := flagsOf(cam, first); !ok || len(fs) != 1 || fs[0].Status != "inactive" {
		t.Fatalf("the first member's view of the acknowledged alert: %+v", fs)
	}

	// The report of the hour, then the closure and its Relazione finale.
	period := url.Values{"start": {from.Add(-time.Minute).Format(time.RFC3339)}, "end": {time.Now().UTC().Format(time.RFC3339)}}
	report := document(http.MethodGet, "report-rilevazione?"+period.Encode(), nil)
	if !strings.Contains(string(report), `"fuori-soglia"`) {
		t.Fatalf("report: %.300s", report)
	}
	publishFHIR(t, prod, report, pt.CF, tmdoc.TypeReport, "REF", "tm-report-"+pid)
	closing := []byte(`{"resourceType":"Parameters","parameter":[{"name":"relazione","valueString":"Peso stabile dopo la terapia."}]}`)
	publishFHIR(t, prod, document(http.MethodPost, "relazione-finale", closing), pt.CF, tmdoc.TypeRelazione, "TAC", "tm-relazione-"+pid)
	waitFor(t, 30*time.Second, "four telemonitoring documents in the history read at Puglia", func() bool {
		return len(search(t, pug, reader, pt.CF, "")) == 4
	})
}
