package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/telemed/tmdoc"
)

const scaleDevice = `{"resourceType":"Device","id":"bilancia-1","status":"active",` +
	`"identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9.4.3.99","value":"SN-0021"}],` +
	`"udiCarrier":[{"deviceIdentifier":"08012345678901","carrierHRF":"(01)08012345678901(21)SN-0021"}],` +
	`"manufacturer":"Meditech Italia S.r.l.","serialNumber":"SN-0021",` +
	`"deviceName":[{"name":"Bilancia","type":"user-friendly-name"},{"name":"Meditech Scale 2","type":"model-name"}],` +
	`"type":{"coding":[{"system":"http://snomed.info/sct","code":"39857003","display":"Weighing patient"}]}}`

// compositionOf reads a document Bundle's Composition.
func compositionOf(t *testing.T, code int, body string, want int) fhir.Composition {
	t.Helper()
	if code != want {
		t.Fatalf("%d %.400s, want %d", code, body, want)
	}
	b, err := fhir.UnmarshalBundle([]byte(body))
	if err != nil || b.Type != fhir.BundleTypeDocument || len(b.Entry) == 0 {
		t.Fatalf("not a document: %v %.300s", err, body)
	}
	comp, err := fhir.UnmarshalComposition(b.Entry[0].Resource)
	if err != nil {
		t.Fatal(err)
	}
	return comp
}

// TestTelemonitoringKitAndDocuments: the home region's clinician registers
// the kit's devices and asks for the plan's four documents; the care team
// in another region, a patient without a plan and bad input are refused
// with nothing kept.
func TestTelemonitoringKitAndDocuments(t *testing.T) {
	c := newCareFed(t)
	pid, _ := enrolMonitoring(t, c)
	planURL := c.lomBase + "/CarePlan/" + pid

	code, body := do(t, "GET", planURL+"/$tesserino", c.lomDoc, "", "")
	if code != http.StatusConflict {
		t.Fatalf("a Tesserino before any delivery: %d %s", code, body)
	}
	code, body = do(t, "POST", planURL+"/$register-device", c.lomDoc, "application/fhir+json", scaleDevice)
	if code != http.StatusCreated || !strings.Contains(body, "08012345678901") {
		t.Fatalf("register the scale: %d %s", code, body)
	}
	if code, body = do(t, "POST", planURL+"/$register-device", c.lomDoc, "application/fhir+json", scaleDevice); code != http.StatusOK {
		t.Fatalf("registered again: %d %s", code, body)
	}
	for _, tt := range []struct {
		name, url, tok, body string
		want                 int
	}{
		{"no token", planURL + "/$register-device", "", scaleDevice, http.StatusUnauthorized},
		{"the care team in another region", planURL + "/$register-device", c.camDoc, strings.Replace(scaleDevice, "bilancia-1", "sfigmo-1", 1), http.StatusNotFound},
		{"through the care team's node", c.camBase + "/CarePlan/" + pid + "/$register-device", c.camDoc, strings.Replace(scaleDevice, "bilancia-1", "sfigmo-1", 1), http.StatusNotFound},
		{"garbage", planURL + "/$register-device", c.lomDoc, "{not json", http.StatusBadRequest},
		{"not a Device", planURL + "/$register-device", c.lomDoc, `{"resourceType":"Patient"}`, http.StatusBadRequest},
		{"no UDI carrier", planURL + "/$register-device", c.lomDoc, strings.Replace(scaleDevice, `"udiCarrier"`, `"note"`, 1), http.StatusBadRequest},
		{"a control character in the name", planURL + "/$register-device", c.lomDoc, strings.Replace(scaleDevice, `"name":"Bilancia"`, `"name":"Bil\u0001ancia"`, 1), http.StatusBadRequest},
		{"no identifier", planURL + "/$register-device", c.lomDoc, strings.Replace(scaleDevice, `"identifier"`, `"contact"`, 1), http.StatusBadRequest},
		{"a device the plan does not name", planURL + "/$register-device", c.lomDoc, strings.Replace(scaleDevice, "bilancia-1", "glucometro-9", 1), http.StatusBadRequest},
		{"the scale's identifiers on the cuff", planURL + "/$register-device", c.lomDoc, strings.Replace(scaleDevice, "bilancia-1", "sfigmo-1", 1), http.StatusConflict},
		{"other identifiers for the scale", planURL + "/$register-device", c.lomDoc, strings.ReplaceAll(scaleDevice, "SN-0021", "SN-0099"), http.StatusConflict},
		{"no such plan", c.lomBase + "/CarePlan/030-tm-nessuno/$register-device", c.lomDoc, scaleDevice, http.StatusNotFound},
		{"a plan of a region outside the federation", c.lomBase + "/CarePlan/999-tm-x/$piano", c.lomDoc, "", http.StatusNotFound},
		{"the Piano for the care team in another region", planURL + "/$piano", c.camDoc, "", http.StatusNotFound},
		{"the Piano for an operator", planURL + "/$piano", c.op030, "", http.StatusNotFound},
		{"a report without a period", planURL + "/$report-rilevazione", c.lomDoc, "", http.StatusBadRequest},
		{"a report ending tomorrow", planURL + "/$report-rilevazione?start=2026-01-01&end=" + time.Now().AddDate(0, 0, 2).Format(time.DateOnly), c.lomDoc, "", http.StatusBadRequest},
		{"a report of two years", planURL + "/$report-rilevazione?start=2023-01-01&end=2025-01-01", c.lomDoc, "", http.StatusBadRequest},
		{"a report of garbage dates", planURL + "/$report-rilevazione?start=ieri&end=oggi", c.lomDoc, "", http.StatusBadRequest},
		{"the Relazione of a running plan", planURL + "/$relazione-finale", c.lomDoc, "", http.StatusConflict},
		{"closing with garbage", planURL + "/$relazione-finale", c.lomDoc, "{not json", http.StatusBadRequest},
		{"closing without a relazione", planURL + "/$relazione-finale", c.lomDoc, `{"resourceType":"Parameters","parameter":[{"name":"altro","valueString":"x"}]}`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if tt.body != "" {
				method = "POST"
			}
			code, body := do(t, method, tt.url, tt.tok, "application/fhir+json", tt.body)
			if code != tt.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d and an OperationOutcome", code, body, tt.want)
			}
		})
	}

	code, body = do(t, "GET", planURL+"/$piano", c.lomDoc, "", "")
	if comp := compositionOf(t, code, body, http.StatusOK); comp.Title != tmdoc.Titles[tmdoc.Piano] || *comp.Type.Coding[0].Code != tmdoc.TypePiano {
		t.Fatalf("Piano: %+v", comp)
	}
	code, body = do(t, "GET", planURL+"/$tesserino", c.lomDoc, "", "")
	if comp := compositionOf(t, code, body, http.StatusOK); *comp.Type.Coding[0].Code != tmdoc.TypeTesserino || !strings.Contains(body, "SN-0021") || strings.Contains(body, "sfigmo-1") {
		t.Fatalf("Tesserino: %.500s", body)
	}

	// Readings of the last hours, one beyond the threshold, then a report.
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	var entries []string
	for i, kg := range []float64{88, 89, 93} {
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"%s",`+
			`"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"kg"}}}`, careCF, start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), kg))
	}
	if code, body := do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", `{"resourceType":"Bundle","type":"batch","entry":[`+strings.Join(entries, ",")+`]}`); code != http.StatusOK {
		t.Fatalf("readings: %d %s", code, body)
	}
	period := url.Values{"start": {start.Add(-time.Hour).Format(time.RFC3339)}, "end": {time.Now().UTC().Format(time.RFC3339)}}
	code, body = do(t, "GET", planURL+"/$report-rilevazione?"+period.Encode(), c.lomDoc, "", "")
	if comp := compositionOf(t, code, body, http.StatusOK); *comp.Type.Coding[0].Code != tmdoc.TypeReport {
		t.Fatalf("Report: %+v", comp)
	}
	var weight struct {
		Component []struct {
			Code         struct{ Coding []struct{ Code string } }
			ValueInteger *int
		}
	}
	for _, e := range mustBundle(t, body).Entry {
		if strings.Contains(string(e.Resource), `"Observation"`) && strings.Contains(string(e.Resource), `"29463-7"`) {
			_ = json.Unmarshal(e.Resource, &weight)
		}
	}
	counts := map[string]int{}
	for _, c := range weight.Component {
		if c.ValueInteger != nil {
			counts[c.Code.Coding[0].Code] = *c.ValueInteger
		}
	}
	if counts["letture"] != 3 || counts["fuori-soglia"] != 1 {
		t.Fatalf("the report's weight figures: %v in %.600s", counts, body)
	}

	// Closure: the Relazione finale; the plan takes no more readings.
	closing := `{"resourceType":"Parameters","parameter":[{"name":"relazione","valueString":"Compenso raggiunto, si chiude il telemonitoraggio."}]}`
	if code, body := do(t, "POST", planURL+"/$relazione-finale", c.camDoc, "application/fhir+json", closing); code != http.StatusNotFound {
		t.Fatalf("closed by the care team in another region: %d %s", code, body)
	}
	code, body = do(t, "POST", planURL+"/$relazione-finale", c.lomDoc, "application/fhir+json", closing)
	if comp := compositionOf(t, code, body, http.StatusOK); comp.Title != tmdoc.Titles[tmdoc.Relazione] || len(comp.Section) != 2 || !strings.Contains(body, "Compenso raggiunto") {
		t.Fatalf("Relazione finale: %.500s", body)
	}
	if code, again := do(t, "GET", planURL+"/$relazione-finale", c.lomDoc, "", ""); code != http.StatusOK || again != body {
		t.Fatalf("the Relazione read again: %d, same bytes %v", code, again == body)
	}
	code, body = do(t, "GET", planURL, c.lomDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"status":"completed"`) {
		t.Fatalf("the closed plan: %d %s", code, body)
	}
	late := `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Replace(entries[0], start.Format(time.RFC3339), time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), 1) + `]}`
	if code, body := do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", late); code != http.StatusBadRequest || !strings.Contains(body, "no active telemonitoring plan") {
		t.Fatalf("a reading after closure: %d %s", code, body)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", c.lomBase+"/AuditEvent?patient=Patient/CF-"+careCF+"&_count=200", c.f.authorityToken(), "", "")
		for _, what := range []string{"Device.create", "CarePlan.document.piano", "CarePlan.document.report", "CarePlan.monitoring.close"} {
			if code != http.StatusOK || !strings.Contains(body, `"display":"`+what+`"`) {
				return fmt.Errorf("%s not in the access log: %d", what, code)
			}
		}
		return nil
	}, "the kit's and documents' accesses in the patient's log")
}

func mustBundle(t *testing.T, body string) fhir.Bundle {
	t.Helper()
	b, err := fhir.UnmarshalBundle([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
