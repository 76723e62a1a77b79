package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// reportPDF asks a node for a telemedicine report: its FSE id and PDF.
func reportPDF(t *testing.T, url, token, param, text string) (string, []byte) {
	t.Helper()
	body := `{"resourceType":"Parameters","parameter":[{"name":"` + param + `","valueString":"` + text + `"}]}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pdf, _ := io.ReadAll(resp.Body)
	doc := resp.Header.Get("Fsenet-Document-Id")
	if resp.StatusCode != http.StatusOK || doc == "" {
		t.Fatalf("report %s: %d %.300s", url, resp.StatusCode, pdf)
	}
	return doc, pdf
}

// publishReport publishes a report through the provider's gateway as its
// producer (validated, then published under the id the node gave it).
func publishReport(t *testing.T, p *producer, doc string, pdf []byte, cf, loinc string) {
	t.Helper()
	_, local, _ := strings.Cut(doc, "^")
	p.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, cf, loinc, "CREATE")
	p.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication(p.node.code, local, "REF"), pdf, cf, loinc, "CREATE")
}

func idIn(t *testing.T, code int, b []byte, want int) string {
	t.Helper()
	var r struct{ ID string }
	if code != want || json.Unmarshal(b, &r) != nil || r.ID == "" {
		t.Fatalf("%d %.300s, want %d", code, b, want)
	}
	return r.ID
}

// TestProcessTelemedReports: on three running regions, a Puglia clinician
// books a Lombardia televisit; Lombardia's specialist holds it and writes
// the Referto di Televisita, which Lombardia's producer publishes through
// its gateway; it is in the patient's history read at Puglia. Then a
// Campania clinician asks Lombardia for a teleconsult through Campania's
// node, the two exchange a question and an answer, and the Relazione di
// Teleconsulto reaches the history read at Campania.
func TestProcessTelemedReports(t *testing.T) {
	_, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	pt := synth.NewPatient(rand.New(rand.NewPCG(16, 1)))
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	op := regionToken(t, lom, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	consult := strings.Replace(string(televisitService("030-tc-derma")), `"code":"televisita"`, `"code":"teleconsulto"`, 1)
	for _, body := range [][]byte{televisitService("030-tv-cardio"), []byte(consult)} {
		if code, b := call(t, http.MethodPost, lom.url()+"/fhir/HealthcareService", op, "application/fhir+json", body); code != http.StatusCreated {
			t.Fatalf("service: %d %s", code, b)
		}
	}
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Minute)
	code, b := call(t, http.MethodPost, lom.url()+"/fhir/Slot", op, "application/fhir+json", []byte(fmt.Sprintf(
		`{"resourceType":"Slot","schedule":{"reference":"Schedule/030-tv-cardio"},"start":%q,"end":%q}`, start.Format(time.RFC3339), start.Add(30*time.Minute).Format(time.RFC3339))))
	slot := idIn(t, code, b, http.StatusCreated)
	specialist := regionToken(t, lom, "--sub", "BNCLCU75A01H501Z", "--role", "AAS", "--purpose", "TREATMENT")
	pugDoc := regionToken(t, pug, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
	camDoc := regionToken(t, cam, "--sub", "DBRCRL70A41F205K", "--role", "AAS", "--purpose", "TREATMENT")

	var appt string
	waitFor(t, 30*time.Second, "the televisit booked from Puglia", func() bool {
		code, b := call(t, http.MethodPost, pug.url()+"/fhir/Appointment", pugDoc, "application/fhir+json", appointmentBody(slot, pt.CF, "report-visit-1"))
		if code == http.StatusCreated || code == http.StatusOK {
			appt = idIn(t, code, b, code)
		}
		return appt != ""
	})
	code, b = call(t, http.MethodPost, lom.url()+"/fhir/Encounter", specialist, "application/fhir+json",
		[]byte(`{"resourceType":"Encounter","status":"in-progress","class":{"code":"VR"},"appointment":[{"reference":"Appointment/`+appt+`"}]}`))
	enc := idIn(t, code, b, http.StatusCreated)
	doc, pdf := reportPDF(t, lom.url()+"/fhir/Encounter/"+enc+"/$referto", specialist, "referto", "Quadro stabile, prosegue la terapia.")
	publishReport(t, prod, doc, pdf, pt.CF, "75496-0")
	waitFor(t, 30*time.Second, "the Referto di Televisita in the history at Puglia", func() bool {
		_, ok := search(t, pug, pugDoc, pt.CF, "")[index.ResourceID(doc)]
		return ok
	})
	if code, b := call(t, http.MethodGet, pug.url()+"/fhir/Encounter/"+enc, pugDoc, "", nil); code != http.StatusOK || !strings.Contains(string(b), index.ResourceID(doc)) {
		t.Fatalf("the encounter read at Puglia: %d %s", code, b)
	}

	ask := `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/CF-` + pt.CF + `"},` +
		`"performer":[{"reference":"HealthcareService/030-tc-derma"}],"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"report-consult-1"}],` +
		`"note":[{"text":"Parere su lesione cutanea"}],"supportingInfo":[{"reference":"DocumentReference/` + index.ResourceID(doc) + `"}]}`
	code, b = call(t, http.MethodPost, cam.url()+"/fhir/ServiceRequest", camDoc, "application/fhir+json", []byte(ask))
	sr := idIn(t, code, b, http.StatusCreated)
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Task/"+sr+"/$accept", specialist, "application/fhir+json", []byte(`{"resourceType":"Parameters"}`)); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, b)
	}
	for _, m := range []struct {
		at    *proc
		token string
	}{{lom, specialist}, {cam, camDoc}} {
		msg := `{"resourceType":"Communication","status":"completed","basedOn":[{"reference":"ServiceRequest/` + sr + `"}],"payload":[{"contentString":"messaggio da ` + m.at.code + `"}]}`
		if code, b := call(t, http.MethodPost, m.at.url()+"/fhir/Communication", m.token, "application/fhir+json", []byte(msg)); code != http.StatusCreated {
			t.Fatalf("message from %s: %d %s", m.at.code, code, b)
		}
	}
	if code, b := call(t, http.MethodGet, cam.url()+"/fhir/Communication?based-on=ServiceRequest/"+sr, camDoc, "", nil); code != http.StatusOK || !strings.Contains(string(b), `"total":2`) {
		t.Fatalf("messages at Campania: %d %s", code, b)
	}
	doc, pdf = reportPDF(t, lom.url()+"/fhir/Task/"+sr+"/$relazione", specialist, "relazione", "Asportazione consigliata.")
	publishReport(t, prod, doc, pdf, pt.CF, "85208-7")
	waitFor(t, 30*time.Second, "the Relazione di Teleconsulto in the history at Campania", func() bool {
		_, ok := search(t, cam, camDoc, pt.CF, "")[index.ResourceID(doc)]
		return ok
	})
	if code, b := call(t, http.MethodGet, cam.url()+"/fhir/Task/"+sr, camDoc, "", nil); code != http.StatusOK || !strings.Contains(string(b), `"status":"completed"`) {
		t.Fatalf("the task at Campania: %d %s", code, b)
	}
}
