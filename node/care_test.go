package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/telemed"
	"github.com/fsenet/fsenet/telemed/report"
)

// careFed is a federation of Lombardia (030, the provider) and Campania
// (150), with a patient of Lombardia and the tokens the tests use.
type careFed struct {
	f                  *fed
	lom, cam           *Node
	lomBase, camBase   string
	lomDoc, camDoc     string // a clinician of each region
	op030, op150       string
	patient            string
	televisit, consult string // services
}

const (
	careCF         = "RSSMRA80A01H501U"
	campaniaDoctor = "DBRCRL70A41F205E"
)

func newCareFed(t testing.TB) *careFed {
	f := newFed(t)
	c := &careFed{f: f, lom: f.add("030", federation.RoleVoter),
		cam: f.addWith("150", federation.RoleVoter, func(cfg *Config) { cfg.Telemed.EscalateAfter = Duration(2 * time.Second) })}
	c.lomBase, c.camBase = "http://"+c.lom.HTTPAddr()+"/fhir", "http://"+c.cam.HTTPAddr()+"/fhir"
	c.op030, c.op150 = f.token("030", "SYSADMIN"), f.token("150", "SYSADMIN")
	c.lomDoc = f.token("030", "TREATMENT")
	c.camDoc = f.token("150", "TREATMENT", func(cl *federation.Claims) { cl.Subject = campaniaDoctor })
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := c.cam.members.Members().View().IdP("150"); !ok {
			return fmt.Errorf("Campania's IdP keys not replicated yet")
		}
		return nil
	}, "Campania's IdP keys replicated")
	if code, body := do(t, "POST", c.lomBase+"/Patient", c.op030, "application/fhir+json", patientBody(careCF, "030")); code != http.StatusCreated {
		t.Fatalf("patient: %d %s", code, body)
	}
	c.televisit, c.consult = "030-tv-cardio", "030-tc-derma"
	for id, typ := range map[string]string{c.televisit: "televisita", c.consult: "teleconsulto"} {
		body := strings.Replace(serviceJSON(id, "Servizio "+typ, "NAZ"), `"code":"televisita"`, `"code":"`+typ+`"`, 1)
		if typ == "teleconsulto" { // synchronous: with a meeting
			body = strings.Replace(body, `"characteristic":[`, `"characteristic":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csModalitaTC","code":"SINC"}]},`, 1)
		}
		if code, out := do(t, "POST", c.lomBase+"/HealthcareService", c.op030, "application/fhir+json", body); code != http.StatusCreated {
			t.Fatalf("service %s: %d %s", id, code, out)
		}
	}
	return c
}

// reportOf posts a report operation and checks the answer: a PDF carrying
// a CDA that the project's rules for kind accept, and its FSE id.
func reportOf(t *testing.T, url, tok string, kind report.Kind, params string) (doc string, pdf []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(params))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pdf, _ = io.ReadAll(resp.Body)
	doc = resp.Header.Get("Fsenet-Document-Id")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(doc, "2.16.840.1.113883.2.9.2.") {
		t.Fatalf("%s: %d %s %.300s", url, resp.StatusCode, doc, pdf)
	}
	cda, err := pdfcda.Extract(bytes.NewReader(pdf))
	if err != nil {
		t.Fatalf("the report's PDF: %v", err)
	}
	fails, err := report.Check(kind, cda)
	if err != nil || len(fails) > 0 {
		t.Fatalf("the %s report breaks rules: %v %v", kind, fails, err)
	}
	if !bytes.Contains(cda, []byte(careCF)) {
		t.Fatalf("the report does not name its patient")
	}
	judgeBySchematron(t, kind, cda)
	return doc, pdf
}

// judgeBySchematron runs the national schematron of kind on a report the
// node made, as the national gateway runs it (../shared/tools/schematron;
// skipped with a message where it is absent): no ERRORE may fail.
func judgeBySchematron(t *testing.T, kind report.Kind, cda []byte) {
	t.Helper()
	tool, sch := "../../shared/tools/schematron/run", "../../shared/samples/fse-it/schematron/"+report.Schematron(kind)
	if v := os.Getenv("FSENET_SCHEMATRON_TOOL"); v != "" {
		tool = v
	}
	for _, f := range []string{tool, sch} {
		if _, err := os.Stat(f); err != nil {
			t.Logf("the national schematron is not judged here (%s absent)", f)
			return
		}
	}
	doc := filepath.Join(t.TempDir(), string(kind)+".xml")
	if err := os.WriteFile(doc, cda, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, sch, doc).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("ERRORE")) {
		t.Fatalf("the %s report fails the national schematron: %v\n%s", kind, err, out)
	}
}

func parameters(kv ...string) string {
	var ps []string
	for i := 0; i+1 < len(kv); i += 2 {
		v, _ := json.Marshal(kv[i+1])
		ps = append(ps, `{"name":"`+kv[i]+`","valueString":`+string(v)+`}`)
	}
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`
}

func idOf(t testing.TB, code int, body string, want int) string {
	t.Helper()
	var r struct{ ID string }
	if code != want || json.Unmarshal([]byte(body), &r) != nil || r.ID == "" {
		t.Fatalf("%d %.400s, want %d", code, body, want)
	}
	return r.ID
}

// A Campania clinician's televisit with Lombardia: Lombardia's clinician
// opens the encounter (class virtual) and writes the Referto di
// Televisita, made by Lombardia's node as a CDA its rules accept; asked
// again, the same report. Campania reads the encounter through its node;
// it cannot open or report a visit it does not hold.
func TestTelevisitEncounterAndReport(t *testing.T) {
	c := newCareFed(t)
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
	code, body := do(t, "POST", c.lomBase+"/Slot", c.op030, "application/fhir+json",
		`{"resourceType":"Slot","schedule":{"reference":"Schedule/`+c.televisit+`"},"start":"`+start.Format(time.RFC3339)+`","end":"`+start.Add(30*time.Minute).Format(time.RFC3339)+`"}`)
	slot := idOf(t, code, body, http.StatusCreated)
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "POST", c.camBase+"/Appointment", c.camDoc, "application/fhir+json", bookingJSON(slot, careCF, "visit-0001"))
		if code != http.StatusCreated && code != http.StatusOK {
			return fmt.Errorf("booking: %d %s", code, body)
		}
		return nil
	}, "the televisit booked from Campania")
	code, body = do(t, "POST", c.camBase+"/Appointment", c.camDoc, "application/fhir+json", bookingJSON(slot, careCF, "visit-0001"))
	appt := idOf(t, code, body, http.StatusOK)

	encounter := `{"resourceType":"Encounter","status":"in-progress","class":{"code":"VR"},"appointment":[{"reference":"Appointment/` + appt + `"}]}`
	if code, body := do(t, "POST", c.camBase+"/Encounter", c.camDoc, "application/fhir+json", encounter); code != http.StatusNotFound {
		t.Fatalf("Campania's clinician opened Lombardia's visit: %d %s", code, body)
	}
	code, body = do(t, "POST", c.lomBase+"/Encounter", c.lomDoc, "application/fhir+json", encounter)
	enc := idOf(t, code, body, http.StatusCreated)
	if !strings.Contains(body, `"code":"VR"`) || !strings.Contains(body, `"status":"in-progress"`) {
		t.Fatalf("encounter: %s", body)
	}
	if code, body := do(t, "POST", c.lomBase+"/Encounter", c.lomDoc, "application/fhir+json", encounter); idOf(t, code, body, http.StatusCreated) != enc {
		t.Fatalf("the visit opened twice: %s", body)
	}
	referto := parameters("referto", "Ritmo sinusale, nessuna alterazione. Controllo tra 6 mesi <& àè>", "quesito", "Palpitazioni")
	if code, body := do(t, "POST", c.camBase+"/Encounter/"+enc+"/$referto", c.camDoc, "application/fhir+json", referto); code != http.StatusNotFound {
		t.Fatalf("Campania's clinician reported on Lombardia's visit: %d %s", code, body)
	}
	doc, pdf := reportOf(t, c.lomBase+"/Encounter/"+enc+"/$referto", c.lomDoc, report.Televisita, referto)
	again, pdf2 := reportOf(t, c.lomBase+"/Encounter/"+enc+"/$referto", c.lomDoc, report.Televisita, parameters("referto", "altro"))
	if again != doc || !bytes.Equal(pdf, pdf2) {
		t.Fatalf("a second report: %s, first %s", again, doc)
	}
	code, body = do(t, "GET", c.camBase+"/Encounter/"+enc, c.camDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"status":"finished"`) || !strings.Contains(body, doc) {
		t.Fatalf("the encounter read through Campania: %d %s", code, body)
	}
	for _, bad := range []struct {
		name, method, url, body string
		want                    int
	}{
		{"garbage encounter", "POST", c.lomBase + "/Encounter", "{garbage", http.StatusBadRequest},
		{"encounter without appointment", "POST", c.lomBase + "/Encounter", `{"resourceType":"Encounter","status":"planned","class":{"code":"VR"}}`, http.StatusBadRequest},
		{"encounter of an unknown appointment", "POST", c.lomBase + "/Encounter", strings.Replace(encounter, appt, "030-nope", 1), http.StatusNotFound},
		{"unknown encounter", "GET", c.camBase + "/Encounter/030-nope", "", http.StatusNotFound},
		{"encounter id of no region", "GET", c.camBase + "/Encounter/nope", "", http.StatusNotFound},
		{"report without text", "POST", c.lomBase + "/Encounter/" + enc + "/$referto", parameters("quesito", "x"), http.StatusBadRequest},
		{"report with garbage", "POST", c.lomBase + "/Encounter/" + enc + "/$referto", "[1,2", http.StatusBadRequest},
		{"report of an unknown encounter", "POST", c.lomBase + "/Encounter/030-nope/$referto", referto, http.StatusNotFound},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, bad.method, bad.url, c.lomDoc, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", c.lomBase+"/AuditEvent?patient=Patient/CF-"+careCF+"&_count=200", c.f.authorityToken(), "", "")
		for _, what := range []string{"Encounter.create", "Report.televisita", "Encounter.read", "Encounter.read.request"} {
			if code != http.StatusOK || !strings.Contains(body, `"display":"`+what+`"`) {
				return fmt.Errorf("%s not in the access log: %d", what, code)
			}
		}
		return nil
	}, "the visit's accesses in the patient's log")
}

// A teleconsult from Campania to Lombardia: asked through Campania's node
// (retried safely), accepted by Lombardia, questions and answers both
// ways with an FSE document by reference, and the Relazione di
// Teleconsulto completing the task.
func TestTeleconsultRoundTrip(t *testing.T) {
	c := newCareFed(t)
	const sharedDoc = "0123456789abcdef0123456789abcdef"
	ask := `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/CF-` + careCF + `"},` +
		`"performer":[{"reference":"HealthcareService/` + c.consult + `"}],"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"consult-0001"}],` +
		`"note":[{"text":"Lesione cutanea pigmentata: parere sulla asportazione?"}],"supportingInfo":[{"reference":"DocumentReference/` + sharedDoc + `"}]}`
	var id string
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "POST", c.camBase+"/ServiceRequest", c.camDoc, "application/fhir+json", ask)
		if code != http.StatusCreated {
			return fmt.Errorf("ask: %d %s", code, body)
		}
		id = idOf(t, code, body, http.StatusCreated)
		return nil
	}, "the teleconsult asked from Campania")
	if code, body := do(t, "POST", c.camBase+"/ServiceRequest", c.camDoc, "application/fhir+json", ask); idOf(t, code, body, http.StatusOK) != id {
		t.Fatalf("a retried request: %s", body)
	}
	// Its meeting: a slot of the teleconsult's service booked for it.
	start := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Minute)
	code, body := do(t, "POST", c.lomBase+"/Slot", c.op030, "application/fhir+json",
		`{"resourceType":"Slot","schedule":{"reference":"Schedule/`+c.consult+`"},"start":"`+start.Format(time.RFC3339)+`","end":"`+start.Add(20*time.Minute).Format(time.RFC3339)+`"}`)
	slot := idOf(t, code, body, http.StatusCreated)
	meeting := strings.Replace(bookingJSON(slot, careCF, "meeting-0001"), `"status":"proposed",`, `"status":"proposed","basedOn":[{"reference":"ServiceRequest/`+id+`"}],`, 1)
	// Nobody else takes the teleconsult's meeting.
	stranger := c.f.token("150", "TREATMENT", func(cl *federation.Claims) { cl.Subject = "VRDGPP70A01F205V" })
	if code, body := do(t, "POST", c.camBase+"/Appointment", stranger, "application/fhir+json", strings.Replace(meeting, "meeting-0001", "meeting-9999", 1)); code != http.StatusNotFound {
		t.Fatalf("a stranger booked the teleconsult's meeting: %d %s", code, body)
	}
	code, body = do(t, "POST", c.camBase+"/Appointment", c.camDoc, "application/fhir+json", meeting)
	appt := idOf(t, code, body, http.StatusCreated)
	if code, body := do(t, "GET", c.camBase+"/ServiceRequest/"+id, c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, "Appointment/"+appt) {
		t.Fatalf("the teleconsult does not name its meeting: %d %s", code, body)
	}
	task := func(base, tok string) string {
		code, body := do(t, "GET", base+"/Task/"+id, tok, "", "")
		var tk struct{ Status string }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &tk) != nil {
			t.Fatalf("task: %d %s", code, body)
		}
		return tk.Status
	}
	if s := task(c.camBase, c.camDoc); s != "requested" {
		t.Fatalf("task %s", s)
	}
	if code, _ := do(t, "POST", c.camBase+"/Task/"+id+"/$accept", c.camDoc, "application/fhir+json", `{"resourceType":"Parameters"}`); code != http.StatusNotFound {
		t.Fatalf("the requester accepted its own teleconsult: %d", code)
	}
	// The requester, even with a token of the provider's region, does not
	// answer their own request.
	self := c.f.token("030", "TREATMENT", func(cl *federation.Claims) { cl.Subject = campaniaDoctor })
	if code, body := do(t, "POST", c.lomBase+"/Task/"+id+"/$accept", self, "application/fhir+json", `{"resourceType":"Parameters"}`); code != http.StatusForbidden {
		t.Fatalf("the requester accepted their own teleconsult: %d %s", code, body)
	}
	if code, body := do(t, "POST", c.lomBase+"/Task/"+id+"/$accept", c.lomDoc, "application/fhir+json", `{"resourceType":"Parameters"}`); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, body)
	}
	if s := task(c.camBase, c.camDoc); s != "accepted" {
		t.Fatalf("task after acceptance, from Campania: %s", s)
	}
	question := `{"resourceType":"Communication","status":"completed","basedOn":[{"reference":"ServiceRequest/` + id + `"}],"payload":[{"contentString":"Dimensioni e tempi di crescita?"}]}`
	code, body = do(t, "POST", c.lomBase+"/Communication", c.lomDoc, "application/fhir+json", question)
	q := idOf(t, code, body, http.StatusCreated)
	answer := `{"resourceType":"Communication","status":"completed","basedOn":[{"reference":"ServiceRequest/` + id + `"}],"inResponseTo":[{"reference":"Communication/` + q + `"}],` +
		`"payload":[{"contentString":"6 mm, cresciuta in 3 mesi; foto nel referto allegato"},{"contentReference":{"reference":"DocumentReference/` + sharedDoc + `"}}]}`
	answer = strings.Replace(answer, `"status":"completed",`, `"status":"completed","identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"answer-0001"}],`, 1)
	code, body = do(t, "POST", c.camBase+"/Communication", c.camDoc, "application/fhir+json", answer)
	a := idOf(t, code, body, http.StatusCreated)
	if code, body := do(t, "POST", c.camBase+"/Communication", c.camDoc, "application/fhir+json", answer); idOf(t, code, body, http.StatusOK) != a {
		t.Fatalf("a retried answer recorded twice: %s", body)
	}
	if code, _ := do(t, "GET", c.camBase+"/Communication?based-on=ServiceRequest/"+id, stranger, "", ""); code != http.StatusNotFound {
		t.Fatalf("a stranger read the messages: %d", code)
	}
	if strings.Contains(body, "valueAttachment") || strings.Contains(body, `"contentAttachment"`) {
		t.Fatalf("a payload with empty choices: %s", body)
	}
	code, body = do(t, "GET", c.camBase+"/Communication?based-on=ServiceRequest/"+id, c.camDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"total":2`) || !strings.Contains(body, "Communication/"+q) || !strings.Contains(body, "DocumentReference/"+sharedDoc) {
		t.Fatalf("messages: %d %s", code, body)
	}
	doc, _ := reportOf(t, c.lomBase+"/Task/"+id+"/$relazione", c.lomDoc, report.Teleconsulto, parameters("relazione", "Asportazione consigliata entro 30 giorni."))
	code, body = do(t, "GET", c.camBase+"/Task/"+id, c.camDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"status":"completed"`) || !strings.Contains(body, doc) || strings.Contains(body, "valueBase64Binary") {
		t.Fatalf("completed task: %d %s", code, body)
	}
	if code, _ := do(t, "POST", c.camBase+"/Communication", c.camDoc, "application/fhir+json", question); code != http.StatusConflict {
		t.Fatalf("a message into a completed teleconsult: %d", code)
	}
	for _, bad := range []struct {
		name, method, url, body string
		want                    int
	}{
		{"garbage request", "POST", c.camBase + "/ServiceRequest", "{", http.StatusBadRequest},
		{"request without question", "POST", c.camBase + "/ServiceRequest", strings.Replace(ask, `"note"`, `"nota"`, 1), http.StatusBadRequest},
		{"request of a televisit service", "POST", c.camBase + "/ServiceRequest", strings.NewReplacer(c.consult, c.televisit, "consult-0001", "consult-0002").Replace(ask), http.StatusBadRequest},
		{"request sharing a non-reference", "POST", c.camBase + "/ServiceRequest", strings.NewReplacer(sharedDoc, "../etc", "consult-0001", "consult-0003").Replace(ask), http.StatusBadRequest},
		{"request for an unregistered patient", "POST", c.camBase + "/ServiceRequest", strings.NewReplacer(careCF, "MRTMTT25D09F205Z", "consult-0001", "consult-0004").Replace(ask), http.StatusNotFound},
		{"request of an unknown service", "POST", c.camBase + "/ServiceRequest", strings.Replace(ask, c.consult, "030-tc-other", 1), http.StatusNotFound},
		{"garbage message", "POST", c.camBase + "/Communication", `{"resourceType":"Communication"}`, http.StatusBadRequest},
		{"message search without based-on", "GET", c.camBase + "/Communication", "", http.StatusBadRequest},
		{"unknown task", "GET", c.camBase + "/Task/030-nope", "", http.StatusNotFound},
		{"a completed task cancelled", "POST", c.camBase + "/Task/" + id + "/$cancel", `{"resourceType":"Parameters"}`, http.StatusConflict},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, bad.method, bad.url, c.camDoc, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
}

// Teleassistance: Lombardia writes a plan template; Campania may not use
// it until its operator adopts it, then a Campania clinician starts a plan
// at Campania's node, records sessions by the template's professions, and
// closes it with the Relazione finale di Teleassistenza. The template's
// next version leaves the plan on the version it was made from.
func TestTeleassistancePlanFromAdoptedTemplate(t *testing.T) {
	c := newCareFed(t)
	tmpl := `{"resourceType":"PlanDefinition","status":"active","title":"Riabilitazione motoria a domicilio",` +
		`"type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"teleassistenza"}]},` +
		`"action":[{"description":"Esercizi guidati","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"fisioterapista"}]}],` +
		`"timingTiming":{"repeat":{"count":10,"period":3,"periodUnit":"d"}}},` +
		`{"description":"Controllo della ferita","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"infermiere"}]}],"timingTiming":{"repeat":{"count":4}}}]}`
	code, body := do(t, "POST", c.lomBase+"/PlanDefinition", c.op030, "application/fhir+json", tmpl)
	tid := idOf(t, code, body, http.StatusCreated)
	plan := `{"resourceType":"CarePlan","status":"active","intent":"plan","instantiatesCanonical":["PlanDefinition/` + tid + `|1"],` +
		`"subject":{"reference":"Patient/CF-` + careCF + `"},"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"plan-0001"}]}`
	consensustest.Eventually(t, 10*time.Second, func() error {
		if code, body := do(t, "POST", c.camBase+"/CarePlan", c.camDoc, "application/fhir+json", plan); code != http.StatusForbidden {
			return fmt.Errorf("a plan from a template not adopted: %d %s", code, body)
		}
		return nil
	}, "a template not adopted refused at Campania")
	if code, body := do(t, "POST", c.camBase+"/PlanDefinition/"+tid+"/$adopt", c.op150, "", ""); code != http.StatusOK || !strings.Contains(body, `"version":1`) {
		t.Fatalf("adopt: %d %s", code, body)
	}
	if code, body := do(t, "GET", "http://"+c.lom.HTTPAddr()+"/v1/authority/telemed/reuse", c.f.authorityToken(), "", ""); code != http.StatusOK ||
		!strings.Contains(body, `"region":"150","by"`) || !strings.Contains(body, tid) {
		t.Fatalf("the template's reuse, as the authority sees it: %d %s", code, body)
	}
	var pid string
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "POST", c.camBase+"/CarePlan", c.camDoc, "application/fhir+json", plan)
		if code != http.StatusCreated {
			return fmt.Errorf("plan: %d %s", code, body)
		}
		pid = idOf(t, code, body, http.StatusCreated)
		return nil
	}, "a plan from the adopted template at Campania")
	if !strings.HasPrefix(pid, "150-") {
		t.Fatalf("the plan is not Campania's: %s", pid)
	}
	// Version 2 of the template; the plan keeps version 1.
	if code, body := do(t, "PUT", c.lomBase+"/PlanDefinition/"+tid, c.op030, "application/fhir+json",
		strings.Replace(strings.Replace(tmpl, `"resourceType":"PlanDefinition"`, `"resourceType":"PlanDefinition","id":"`+tid+`"`, 1), `"count":10`, `"count":12`, 1)); code != http.StatusOK {
		t.Fatalf("template v2: %d %s", code, body)
	}
	if code, body := do(t, "GET", c.camBase+"/PlanDefinition/"+tid+"/_history/1", c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, `"count":10`) {
		t.Fatalf("template v1: %d %s", code, body)
	}
	session := func(profession, note string) (int, string) {
		now := time.Now().UTC()
		return do(t, "POST", c.camBase+"/CarePlan/"+pid+"/$session", c.camDoc, "application/fhir+json",
			`{"resourceType":"Parameters","parameter":[{"name":"start","valueDateTime":"`+now.Add(-time.Hour).Format(time.RFC3339)+`"},`+
				`{"name":"end","valueDateTime":"`+now.Add(-30*time.Minute).Format(time.RFC3339)+`"},{"name":"profession","valueCode":"`+profession+`"},`+
				`{"name":"note","valueString":"`+note+`"}]}`)
	}
	for _, p := range []string{"fisioterapista", "infermiere"} {
		if code, body := session(p, "Seduta svolta, esercizi eseguiti"); code != http.StatusCreated || !strings.Contains(body, p) {
			t.Fatalf("session %s: %d %s", p, code, body)
		}
	}
	if code, _ := session("infermiere", strings.Repeat("lunga ", 400)); code != http.StatusBadRequest {
		t.Fatalf("a session note longer than a report's line: %d", code)
	}
	if code, _ := session("logopedista", "x"); code != http.StatusBadRequest {
		t.Fatalf("a session of a profession not in the plan: %d", code)
	}
	code, body = do(t, "GET", c.lomBase+"/CarePlan/"+pid, c.camDoc, "", "")
	if code != http.StatusOK || strings.Count(body, "outcomeReference") != 2 || !strings.Contains(body, tid+"|1") {
		t.Fatalf("the plan read by its author through Lombardia: %d %s", code, body)
	}
	if code, _ := do(t, "GET", c.lomBase+"/CarePlan/"+pid, c.lomDoc, "", ""); code != http.StatusNotFound {
		t.Fatalf("the plan read by a clinician of another region: %d", code)
	}
	doc, _ := reportOf(t, c.camBase+"/CarePlan/"+pid+"/$relazione-finale", c.camDoc, report.Teleassistenza, parameters("relazione", "Obiettivi raggiunti: deambulazione autonoma."))
	if !strings.Contains(doc, ".150.4.4^") {
		t.Fatalf("the final report is not Campania's: %s", doc)
	}
	if code, _ := session("infermiere", "dopo la chiusura"); code != http.StatusConflict {
		t.Fatalf("a session after closure: %d", code)
	}
	for _, bad := range []struct {
		name, method, url, body string
		want                    int
	}{
		{"garbage template", "POST", c.lomBase + "/PlanDefinition", "{", http.StatusBadRequest},
		{"template without actions", "POST", c.lomBase + "/PlanDefinition", `{"resourceType":"PlanDefinition","status":"active","title":"x","type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"teleassistenza"}]}}`, http.StatusBadRequest},
		{"unknown template", "GET", c.lomBase + "/PlanDefinition/030-nope", "", http.StatusNotFound},
		{"template version 0", "GET", c.lomBase + "/PlanDefinition/" + tid + "/_history/0", "", http.StatusNotFound},
		{"plan of an unknown template version", "POST", c.camBase + "/CarePlan", strings.NewReplacer("|1", "|9", "plan-0001", "plan-0002").Replace(plan), http.StatusNotFound},
		{"plan without a version", "POST", c.camBase + "/CarePlan", strings.Replace(plan, "|1", "", 1), http.StatusBadRequest},
		{"session with garbage", "POST", c.camBase + "/CarePlan/" + pid + "/$session", `{"resourceType":"Parameters","parameter":[{"name":"start","valueDateTime":"ieri"}]}`, http.StatusBadRequest},
		{"unknown plan", "GET", c.camBase + "/CarePlan/150-nope", "", http.StatusNotFound},
	} {
		t.Run(bad.name, func(t *testing.T) {
			tok := c.camDoc
			if strings.Contains(bad.url, "PlanDefinition") {
				tok = c.op030
			}
			if code, body := do(t, bad.method, bad.url, tok, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
}

// The professionals who deliver a service, as PractitionerRoles kept in
// the replicated catalogue by the provider's operator, found on every
// node; an update of the service keeps them; the providing region's
// Endpoint names its node.
func TestPractitionerRolesAndEndpoint(t *testing.T) {
	c := newCareFed(t)
	role := `{"resourceType":"PractitionerRole","practitioner":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"BNCLCU75A01H501T"},"display":"Luca Bianchi"},` +
		`"healthcareService":[{"reference":"HealthcareService/` + c.televisit + `"}],` +
		`"specialty":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csspecialityPractitionerRole","code":"08"}]}]}`
	code, body := do(t, "POST", c.lomBase+"/PractitionerRole", c.op030, "application/fhir+json", role)
	id := idOf(t, code, body, http.StatusCreated)
	if strings.Contains(id, "BNCLCU") {
		t.Fatalf("a role id carries the codice fiscale: %s", id)
	}
	for _, bad := range []struct {
		name, method, url, tok, body string
		want                         int
	}{
		{"another region's operator", "POST", c.camBase + "/PractitionerRole", c.op150, role, http.StatusForbidden},
		{"a clinician", "POST", c.lomBase + "/PractitionerRole", c.lomDoc, role, http.StatusForbidden},
		{"garbage", "POST", c.lomBase + "/PractitionerRole", c.op030, "{", http.StatusBadRequest},
		{"not a codice fiscale", "POST", c.lomBase + "/PractitionerRole", c.op030, strings.Replace(role, "BNCLCU75A01H501T", "12345", 1), http.StatusBadRequest},
		{"no specialty", "POST", c.lomBase + "/PractitionerRole", c.op030, strings.Replace(role, `"specialty"`, `"specialita"`, 1), http.StatusBadRequest},
		{"an unknown service", "POST", c.lomBase + "/PractitionerRole", c.op030, strings.Replace(role, c.televisit, "030-nope", 1), http.StatusNotFound},
		{"a search without a service", "GET", c.camBase + "/PractitionerRole", c.camDoc, "", http.StatusBadRequest},
		{"an unknown role", "GET", c.camBase + "/PractitionerRole/030-tv-cardio.000000000000", c.camDoc, "", http.StatusNotFound},
		{"the endpoint of no region", "GET", c.camBase + "/Endpoint/999", c.camDoc, "", http.StatusNotFound},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, bad.method, bad.url, bad.tok, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
	// A change of the service keeps its practitioners.
	if code, body := do(t, "PUT", c.lomBase+"/HealthcareService/"+c.televisit, c.op030, "application/fhir+json",
		strings.Replace(serviceJSON(c.televisit, "Televisita cardiologica (nuovo nome)", "NAZ"), `"code":"de"`, `"code":"en"`, 1)); code != http.StatusOK {
		t.Fatalf("update the service: %d %s", code, body)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", c.camBase+"/PractitionerRole?service=HealthcareService/"+c.televisit+"&specialty=08", c.camDoc, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":1`) || !strings.Contains(body, "Luca Bianchi") || !strings.Contains(body, "Endpoint/030") {
			return fmt.Errorf("roles at Campania: %d %.300s", code, body)
		}
		return nil
	}, "the practitioner found at Campania after the service changed")
	code, body = do(t, "GET", c.camBase+"/Endpoint/030", c.camDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, c.lom.host.ID().String()) || !strings.Contains(body, "/fsenet/telemed/1.0.0") {
		t.Fatalf("Lombardia's endpoint: %d %s", code, body)
	}
	if code, body := do(t, "DELETE", c.lomBase+"/PractitionerRole/"+id, c.op030, "", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := do(t, "GET", c.lomBase+"/PractitionerRole/"+id, c.lomDoc, "", ""); code != http.StatusNotFound {
		t.Fatalf("a deleted role: %d", code)
	}
}

// Telemonitoring at the patient's home node: a plan from Lombardia's
// template with a care team in Campania; readings from a device gateway
// (resent, in a Bundle, a blood pressure panel), refused when wrong;
// the series and the daily chart read from Campania's node by the care
// team, forwarded to Lombardia's; nobody else reads them.
// enrolMonitoring enrols the patient at Lombardia from a Lombardia
// template, with a care team in Campania (campaniaDoctor, then
// VRDGPP70A01F205V): weight high over 90 kg for 2 readings, systolic out
// of 90–160 at once. It returns the plan's id and the CarePlan sent.
func enrolMonitoring(t testing.TB, c *careFed) (string, string) {
	tmpl := `{"resourceType":"PlanDefinition","status":"active","title":"Scompenso cardiaco",` +
		`"type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"telemonitoraggio"}]},` +
		`"action":[{"description":"Peso e pressione ogni mattina","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"infermiere"}]}],` +
		`"timingTiming":{"repeat":{"count":90,"period":1,"periodUnit":"d"}}}]}`
	code, body := do(t, "POST", c.lomBase+"/PlanDefinition", c.op030, "application/fhir+json", tmpl)
	tid := idOf(t, code, body, http.StatusCreated)
	plan := `{"resourceType":"CarePlan","status":"active","intent":"plan",` +
		`"category":[{"coding":[{"system":"http://hl7.it/fhir/telemonitoraggio/CodeSystem/csTipologiaPiano","code":"01"}]},{"coding":[{"system":"urn:fsenet:telemonitoraggio:tipo","code":"II"}]}],` +
		`"instantiatesCanonical":["PlanDefinition/` + tid + `|1"],"subject":{"reference":"Patient/CF-` + careCF + `"},` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"monitor-0001"}],` +
		`"contained":[{"resourceType":"ObservationDefinition","id":"peso","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},` +
		`"qualifiedInterval":[{"range":{"high":{"value":90,"system":"http://unitsofmeasure.org","code":"kg"}}}],"extension":[{"url":"urn:fsenet:telemonitoraggio:letture-consecutive","valueInteger":2}]},` +
		`{"resourceType":"ObservationDefinition","id":"pas","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},` +
		`"qualifiedInterval":[{"range":{"low":{"value":90,"system":"http://unitsofmeasure.org","code":"mm[Hg]"},"high":{"value":160,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}}]},` +
		`{"resourceType":"ObservationDefinition","id":"pad","code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]}},` +
		`{"resourceType":"CareTeam","id":"team","managingOrganization":[{"identifier":{"system":"urn:fsenet:region","value":"150"}}],` +
		`"participant":[{"member":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"` + campaniaDoctor + `"}}},` +
		`{"member":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"VRDGPP70A01F205V"}}}]}],` +
		`"activity":[{"detail":{"status":"in-progress","performer":[{"reference":"Device/bilancia-1"},{"reference":"Device/sfigmo-1"}]}}]}`
	var pid string
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "POST", c.lomBase+"/CarePlan", c.lomDoc, "application/fhir+json", plan)
		if code != http.StatusCreated {
			return fmt.Errorf("enrol: %d %s", code, body)
		}
		pid = idOf(t, code, body, http.StatusCreated)
		return nil
	}, "the patient enrolled at Lombardia")
	return pid, plan
}

func TestTelemonitoringAtTheHomeNode(t *testing.T) {
	c := newCareFed(t)
	pid, plan := enrolMonitoring(t, c)
	if code, body := do(t, "POST", c.lomBase+"/CarePlan", c.lomDoc, "application/fhir+json", plan); idOf(t, code, body, http.StatusOK) != pid {
		t.Fatalf("a retried enrolment: %s", body)
	}
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	weight := func(i int, kg float64) string {
		return fmt.Sprintf(`{"resourceType":"Observation","status":"final","identifier":[{"value":"w-%d"}],"code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"%s",`+
			`"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"kg"}}`, i, careCF, now.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), kg)
	}
	bp := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/CF-` + careCF + `"},` +
		`"device":{"reference":"Device/sfigmo-1"},"effectiveDateTime":"` + now.Format(time.RFC3339) + `","component":[` +
		`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":170,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},` +
		`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":95,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"resource":` + weight(0, 88) + `},{"resource":` + weight(1, 91) + `},{"resource":` + weight(2, 92) + `},{"resource":` + bp + `}]}`
	code, body := do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", batch)
	if code != http.StatusOK || strings.Count(body, "201 Created") != 4 {
		t.Fatalf("readings: %d %s", code, body)
	}
	code, body = do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", batch)
	if code != http.StatusOK || strings.Count(body, "200 OK") != 4 {
		t.Fatalf("the resent readings: %d %s", code, body)
	}
	for _, bad := range []struct {
		name, url, tok, body string
		want                 int
	}{
		{"a wrong unit", c.lomBase + "/Observation", c.op030, strings.Replace(weight(5, 80), `"code":"kg"`, `"code":"mm[Hg]"`, 1), http.StatusBadRequest},
		{"a device not associated", c.lomBase + "/Observation", c.op030, strings.Replace(weight(5, 80), "bilancia-1", "bilancia-9", 1), http.StatusBadRequest},
		{"a future reading", c.lomBase + "/Observation", c.op030, strings.Replace(weight(5, 80), now.Add(5*time.Minute).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339), 1), http.StatusBadRequest},
		{"garbage", c.lomBase + "/Observation", c.op030, `{"resourceType":"Bundle","type":"batch","entry":[{}]}`, http.StatusBadRequest},
		{"another region's node", c.camBase + "/Observation", c.op030, weight(5, 80), http.StatusMisdirectedRequest},
		{"another region's node, by who may not send them", c.camBase + "/Observation", c.op150, weight(5, 80), http.StatusNotFound},
		{"a resend with another value", c.lomBase + "/Observation", c.op030, weight(1, 93), http.StatusBadRequest},
		{"another region's operator", c.lomBase + "/Observation", c.op150, weight(5, 80), http.StatusNotFound},
		{"a patient without a plan", c.lomBase + "/Observation", c.op030, strings.Replace(weight(5, 80), careCF, "MRTMTT25D09F205Z", 1), http.StatusNotFound},
	} {
		t.Run(bad.name, func(t *testing.T) {
			if code, body := do(t, "POST", bad.url, bad.tok, "application/fhir+json", bad.body); code != bad.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, bad.want)
			}
		})
	}
	// The care team in Campania reads through its own node.
	code, body = do(t, "GET", c.camBase+"/Observation?category=telemonitoring&patient=Patient/CF-"+careCF+"&code=29463-7&_count=2", c.camDoc, "", "")
	if code != http.StatusOK || strings.Count(body, `"resourceType":"Observation"`) != 2 || !strings.Contains(body, `"relation":"next"`) {
		t.Fatalf("series at Campania: %d %s", code, body)
	}
	code, body = do(t, "GET", c.camBase+"/Observation/$daily?patient=Patient/CF-"+careCF+"&code=8480-6", c.camDoc, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"value":170`) {
		t.Fatalf("daily at Campania: %d %s", code, body)
	}
	if code, body := do(t, "GET", c.camBase+"/CarePlan/"+pid, c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, "Device/sfigmo-1") {
		t.Fatalf("the plan at Campania: %d %s", code, body)
	}
	stranger := c.f.token("150", "TREATMENT", func(cl *federation.Claims) { cl.Subject = "BNCLCU75A01H501T" })
	if code, _ := do(t, "GET", c.camBase+"/Observation?category=telemonitoring&patient=Patient/CF-"+careCF+"&code=29463-7", stranger, "", ""); code != http.StatusNotFound {
		t.Fatalf("a clinician outside the team read the readings: %d", code)
	}
	// The breaches (two weights over 90 kg in a row, a systolic of 170)
	// reach the care team's node in Campania as Flags.
	type flags struct {
		Entry []struct {
			Resource struct {
				ID        string `json:"id"`
				Status    string `json:"status"`
				Extension []struct {
					URL             string                  `json:"url"`
					ValueIdentifier *struct{ Value string } `json:"valueIdentifier"`
				} `json:"extension"`
			} `json:"resource"`
		} `json:"entry"`
	}
	var open flags
	consensustest.Eventually(t, 15*time.Second, func() error {
		code, body := do(t, "GET", c.camBase+"/Flag?status=active", c.camDoc, "", "")
		open = flags{}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &open) != nil || len(open.Entry) != 2 {
			return fmt.Errorf("flags at Campania: %d %.300s", code, body)
		}
		return nil
	}, "the alerts at the care team's node")
	if code, _ := do(t, "GET", c.lomBase+"/Flag?status=active", c.lomDoc, "", ""); code != http.StatusOK {
		t.Fatalf("flags at Lombardia: %d", code)
	}
	if code, _ := do(t, "POST", c.camBase+"/Flag/"+open.Entry[0].Resource.ID+"/$acknowledge", stranger, "", ""); code != http.StatusNotFound {
		t.Fatalf("acknowledged by a clinician outside the team: %d", code)
	}
	if code, body := do(t, "POST", c.camBase+"/Flag/"+open.Entry[0].Resource.ID+"/$acknowledge", c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, `"status":"inactive"`) {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	// The other, left alone, goes to the team's second member.
	second := c.f.token("150", "TREATMENT", func(cl *federation.Claims) { cl.Subject = "VRDGPP70A01F205V" })
	consensustest.Eventually(t, 15*time.Second, func() error {
		code, body := do(t, "GET", c.camBase+"/Flag?status=active", second, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":1`) || !strings.Contains(body, `"value":"VRDGPP70A01F205V"`) {
			return fmt.Errorf("escalated flag: %d %.300s", code, body)
		}
		return nil
	}, "the unacknowledged alert escalated to the second member")
	for _, bad := range []string{c.camBase + "/Flag/150-nope/$acknowledge", c.camBase + "/Flag/nope/$acknowledge"} {
		if code, body := do(t, "POST", bad, c.camDoc, "", ""); code != http.StatusNotFound || !strings.Contains(body, "OperationOutcome") {
			t.Fatalf("%s: %d %s", bad, code, body)
		}
	}
	if code, _ := do(t, "GET", c.camBase+"/Flag?status=whatever", c.camDoc, "", ""); code != http.StatusBadRequest {
		t.Fatalf("a bad status: %d", code)
	}
	// Lombardia's node sends Campania garbage, and alerts it may not send:
	// each refused, Campania's inbox unchanged.
	opts := federation.DefaultRPCOptions()
	for _, bad := range []struct{ name, msg, code string }{
		{"garbage", `{"v":1,"alert":`, "invalid"},
		{"another version", `{"v":2,"alert":{}}`, "invalid"},
		{"a patient not of the sender's region", `{"v":1,"alert":{"seq":99,"home":"030","team":{"region":"150","members":["` + campaniaDoctor + `"]},"plan":"030-tm-x","patient":"CF:MRTMTT25D09F205Z","code":"29463-7","kind":"high","value":95}}`, "forbidden"},
		{"another region's alert", `{"v":1,"alert":{"seq":98,"home":"160","team":{"region":"150","members":["` + campaniaDoctor + `"]},"plan":"160-tm-x","patient":"CF:` + careCF + `","code":"29463-7","kind":"high","value":95}}`, "forbidden"},
		{"a team of another region", `{"v":1,"alert":{"seq":97,"home":"030","team":{"region":"030","members":["` + campaniaDoctor + `"]},"plan":"030-tm-x","patient":"CF:` + careCF + `","code":"29463-7","kind":"high","value":95}}`, "invalid"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, err := federation.Call(t.Context(), c.lom.host, c.cam.host.ID(), telemed.AlertProtocol, []byte(bad.msg), opts)
			var re *federation.RemoteError
			if !errors.As(err, &re) || re.Code != bad.code {
				t.Fatalf("answered %v, want a %s refusal", err, bad.code)
			}
		})
	}
	if code, body := do(t, "GET", c.camBase+"/Flag", c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, `"total":2`) {
		t.Fatalf("the inbox after the refused alerts: %d %s", code, body)
	}
	if code, _ := do(t, "GET", c.camBase+"/Observation?category=telemonitoring&patient=Patient/CF-"+careCF, c.camDoc, "", ""); code != http.StatusBadRequest {
		t.Fatalf("a search without a code: %d", code)
	}
}

// The plan follows its patient: re-homed from Lombardia to Campania (one
// registry update), her plan and every reading move to Campania's node,
// verified by count and digest; ingestion goes on there, Lombardia keeps
// nothing but a pointer, and the plan is still read by its id.
func TestTelemonitoringFollowsThePatient(t *testing.T) {
	c := newCareFed(t)
	pid, _ := enrolMonitoring(t, c)
	start := time.Now().UTC().Add(-10 * time.Hour).Truncate(time.Second)
	var entries []string
	for i := range 300 {
		entries = append(entries, fmt.Sprintf(`{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"%s",`+
			`"valueQuantity":{"value":%d,"system":"http://unitsofmeasure.org","code":"kg"}}}`, careCF, start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 70+i%10))
	}
	if code, body := do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json",
		`{"resourceType":"Bundle","type":"batch","entry":[`+strings.Join(entries, ",")+`]}`); code != http.StatusOK {
		t.Fatalf("readings: %d %s", code, body)
	}
	if code, body := do(t, "PUT", c.lomBase+"/Patient/CF-"+careCF, c.op030, "application/fhir+json", patientBody(careCF, "150")); code != http.StatusOK {
		t.Fatalf("re-home: %d %s", code, body)
	}
	series := func(base, tok string) (int, string) {
		code, body := do(t, "GET", base+"/Observation?category=telemonitoring&patient=Patient/CF-"+careCF+"&code=29463-7&_count=1000", tok, "", "")
		return strings.Count(body, `"resourceType":"Observation"`), fmt.Sprint(code)
	}
	more := strings.Replace(entries[0], start.Format(time.RFC3339), start.Add(9*time.Hour).Format(time.RFC3339), 1)
	consensustest.Eventually(t, 60*time.Second, func() error {
		// Refused (no plan at Campania yet) until the move is done.
		if code, body := do(t, "POST", c.camBase+"/Observation", c.op150, "application/fhir+json", `{"resourceType":"Bundle","type":"batch","entry":[`+more+`]}`); code != http.StatusOK {
			return fmt.Errorf("ingestion at the new home: %d %.200s", code, body)
		}
		return nil
	}, "the plan moved to Campania's node, taking readings there")
	if code, body := do(t, "GET", c.lomBase+"/CarePlan/"+pid, c.camDoc, "", ""); code != http.StatusOK || !strings.Contains(body, `"status":"active"`) {
		t.Fatalf("the plan by its id after the move: %d %s", code, body)
	}
	if code, _ := do(t, "POST", c.lomBase+"/Observation", c.op030, "application/fhir+json", `{"resourceType":"Bundle","type":"batch","entry":[`+more+`]}`); code != http.StatusNotFound {
		t.Fatalf("ingestion at the old home by its operator: %d", code)
	}
	if n, _ := series(c.camBase, c.camDoc); n != 301 {
		t.Fatalf("%d readings after the move, want 301", n)
	}
}
