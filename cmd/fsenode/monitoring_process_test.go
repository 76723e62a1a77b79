package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

const teamDoctor = "DBRCRL70A41F205E"

// monitoringTemplate is a telemonitoring plan template (PlanDefinition):
// weight every morning for 90 days.
var monitoringTemplate = []byte(`{"resourceType":"PlanDefinition","status":"active","title":"Scompenso cardiaco",` +
	`"type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"telemonitoraggio"}]},` +
	`"action":[{"description":"Peso ogni mattina","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"infermiere"}]}],` +
	`"timingTiming":{"repeat":{"count":90,"period":1,"periodUnit":"d"}}}]}`)

// monitoringPlan is a telemonitoring CarePlan from template for the
// patient cf, with a care team of teamDoctor in Campania.
func monitoringPlan(template, cf string) []byte {
	return []byte(`{"resourceType":"CarePlan","status":"active","intent":"plan",` +
		`"category":[{"coding":[{"system":"http://hl7.it/fhir/telemonitoraggio/CodeSystem/csTipologiaPiano","code":"01"}]}],` +
		`"instantiatesCanonical":["PlanDefinition/` + template + `|1"],"subject":{"reference":"Patient/CF-` + cf + `"},` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"monitor-` + cf + `"}],` +
		`"contained":[{"resourceType":"ObservationDefinition","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},` +
		`"qualifiedInterval":[{"range":{"high":{"value":90,"system":"http://unitsofmeasure.org","code":"kg"}}}]},` +
		`{"resourceType":"CareTeam","managingOrganization":[{"identifier":{"system":"urn:fsenet:region","value":"150"}}],` +
		`"participant":[{"member":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"` + teamDoctor + `"}}}]}],` +
		`"activity":[{"detail":{"status":"in-progress","performer":[{"reference":"Device/bilancia-1"}]}}]}`)
}

func weightBundle(cf string, from time.Time, n int, kg func(i int) float64) []byte {
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"%s",`+
			`"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"kg"}}}`, cf, from.Add(time.Duration(i)*time.Second).Format(time.RFC3339), kg(i))
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// TestProcessTelemonitoring: on three running regions, a Lombardia
// patient monitored by a care team in Campania. A breach while
// Campania's node is down reaches the team once Campania is back, and
// once only. Then Lombardia's node is killed with SIGKILL while device
// gateways send readings: after its restart every reading it
// acknowledged is there, once.
func TestProcessTelemonitoring(t *testing.T) {
	_, regions := threeVoters(t)
	lom, cam := regions[0], regions[1]
	pt := synth.NewPatient(rand.New(rand.NewPCG(17, 1)))
	registerPatient(t, lom, pt)
	op := regionToken(t, lom, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	clinician := regionToken(t, lom, "--sub", "BNCLCU75A01H501T", "--role", "AAS", "--purpose", "TREATMENT")
	team := regionToken(t, cam, "--sub", teamDoctor, "--role", "AAS", "--purpose", "TREATMENT")
	code, b := call(t, http.MethodPost, lom.url()+"/fhir/PlanDefinition", op, "application/fhir+json", monitoringTemplate)
	tid := idIn(t, code, b, http.StatusCreated)
	code, b = call(t, http.MethodPost, lom.url()+"/fhir/CarePlan", clinician, "application/fhir+json", monitoringPlan(tid, pt.CF))
	idIn(t, code, b, http.StatusCreated)

	flags := func() (int, bool) {
		code, b, err := callErr(http.MethodGet, cam.url()+"/fhir/Flag", team)
		var bundle struct{ Total int }
		if err != nil || code != http.StatusOK || json.Unmarshal(b, &bundle) != nil {
			return 0, false
		}
		return bundle.Total, true
	}
	cam.kill9()
	from := time.Now().UTC().Add(-10 * time.Hour).Truncate(time.Second)
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Observation", op, "application/fhir+json",
		weightBundle(pt.CF, from, 3, func(i int) float64 { return 88 + float64(i)*2 })); code != http.StatusOK {
		t.Fatalf("a breach while Campania is down: %d %s", code, b)
	}
	cam.start(t)
	waitFor(t, readyTimeout, "Campania back", cam.ready)
	waitFor(t, 60*time.Second, "the alert at the care team's node after its restart", func() bool {
		n, ok := flags()
		return ok && n == 1
	})

	// Lombardia killed while four gateways send 40 bundles of 50 readings.
	from = from.Add(time.Hour)
	acked := make([]bool, 40)
	var wg sync.WaitGroup
	var anyAcked atomic.Bool
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(acked); i += 4 {
				body := weightBundle(pt.CF, from.Add(time.Duration(i)*50*time.Second), 50, func(int) float64 { return 75 })
				code, _ := callQuiet(http.MethodPost, lom.url()+"/fhir/Observation", op, body)
				acked[i] = code == http.StatusOK
				if acked[i] {
					anyAcked.Store(true)
				}
			}
		}()
	}
	// Killed once the node has acknowledged a bundle, amid the others.
	waitFor(t, 30*time.Second, "a first bundle acknowledged", anyAcked.Load)
	lom.kill9()
	wg.Wait()
	lom.start(t)
	waitFor(t, readyTimeout, "Lombardia back", lom.ready)
	code, b = call(t, http.MethodGet, lom.url()+"/fhir/Observation?category=telemonitoring&patient=Patient/CF-"+pt.CF+"&code=29463-7&_count=1000&date=ge"+from.Format(time.RFC3339), clinician, "", nil)
	var series struct {
		Entry []struct {
			Resource struct {
				EffectiveDateTime string `json:"effectiveDateTime"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &series) != nil {
		t.Fatalf("series after the restart: %d %.300s", code, b)
	}
	have := map[string]int{}
	for _, e := range series.Entry {
		have[e.Resource.EffectiveDateTime]++
	}
	for i, ok := range acked {
		for j := range 50 {
			at := from.Add(time.Duration(i)*50*time.Second + time.Duration(j)*time.Second).Format(time.RFC3339)
			if have[at] > 1 || ok && have[at] != 1 {
				t.Fatalf("bundle %d (acknowledged %v): reading at %s present %d times", i, ok, at, have[at])
			}
		}
	}
	t.Logf("%d of %d bundles acknowledged before or after the kill; %d readings kept", count(boolsToCodes(acked), 1), len(acked), len(series.Entry))

	// The patient moves to Campania while a gateway streams: it sends to
	// Lombardia and, when refused, resends to Campania until one takes
	// each bundle. Every reading is then at Campania exactly once.
	op150 := regionToken(t, cam, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	stream := from.Add(2 * time.Hour)
	const bundles, per = 30, 20
	regOp := regionToken(t, lom, "--sub", operatorSub, "--role", "PSS", "--purpose", "SYSADMIN")
	for i := range bundles {
		body := weightBundle(pt.CF, stream.Add(time.Duration(i*per)*time.Second), per, func(int) float64 { return 76 })
		waitFor(t, 60*time.Second, fmt.Sprintf("bundle %d taken by the old or the new home", i), func() bool {
			if code, _ := callQuiet(http.MethodPost, lom.url()+"/fhir/Observation", op, body); code == http.StatusOK {
				return true
			}
			code, _ := callQuiet(http.MethodPost, cam.url()+"/fhir/Observation", op150, body)
			return code == http.StatusOK
		})
		if i == bundles/3 {
			rehome := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}],`+
				`"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s","managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"150"}}}`,
				pt.CF, pt.Family, pt.Given, pt.FHIRGender(), pt.BirthDate.Format(time.DateOnly))
			if code, b := call(t, http.MethodPut, lom.url()+"/fhir/Patient/CF-"+pt.CF, regOp, "application/fhir+json", []byte(rehome)); code != http.StatusOK {
				t.Fatalf("re-home: %d %s", code, b)
			}
		}
	}
	waitFor(t, 60*time.Second, "every streamed reading at Campania once", func() bool {
		code, b, err := callErr(http.MethodGet, cam.url()+"/fhir/Observation?category=telemonitoring&patient=Patient/CF-"+pt.CF+"&code=29463-7&_count=1000&date=ge"+stream.Format(time.RFC3339), team)
		var s struct {
			Entry []struct {
				Resource struct {
					EffectiveDateTime string `json:"effectiveDateTime"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(b, &s) != nil {
			return false
		}
		seen := map[string]bool{}
		for _, e := range s.Entry {
			if seen[e.Resource.EffectiveDateTime] {
				t.Fatalf("reading at %s twice after the move", e.Resource.EffectiveDateTime)
			}
			seen[e.Resource.EffectiveDateTime] = true
		}
		return len(seen) == bundles*per
	})
	// Many dispatch rounds and a restart of the home node later, the breach
	// is still one alert at the care team's node: delivered once.
	if n, ok := flags(); !ok || n != 1 {
		t.Fatalf("%d alerts for one breach at the end", n)
	}
}

func boolsToCodes(bs []bool) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		if b {
			out[i] = 1
		}
	}
	return out
}

// callErr is call without failing the test on a transport error (a node
// restarting).
func callErr(method, url, token string) (int, []byte, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
