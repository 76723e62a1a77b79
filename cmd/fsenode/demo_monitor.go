package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
	"github.com/fsenet/fsenet/telemed/tmdoc"
)

// monitoringScenario: the migrant patient, at home in her new region, is
// telemonitored by a care team in the first region. Her region writes a
// telemonitoring template and enrols her; a simulated scale sends a day
// of weights, the last ones over the threshold; the alert reaches the
// care team's node in the first region, where a member acknowledges it.
func monitoringScenario(ctx context.Context, w io.Writer, team, home *demoProducer, pt synth.Patient) error {
	clinician, err := demoClinician(home)
	if err != nil {
		return err
	}
	member, err := demoClinician(team) // the same person as demo.env's FSENET_<team>_TOKEN
	if err != nil {
		return err
	}
	tid := home.region.Code + "-tm-scompenso"
	tmpl := `{"resourceType":"PlanDefinition","id":"` + tid + `","status":"active","title":"Scompenso cardiaco: peso quotidiano",` +
		`"type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"telemonitoraggio"}]},` +
		`"action":[{"description":"Peso ogni mattina","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"infermiere"}]}],` +
		`"timingTiming":{"repeat":{"count":90,"period":1,"periodUnit":"d"}}}]}`
	if code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/PlanDefinition", home.operator, "application/fhir+json", []byte(tmpl)); err != nil ||
		code != http.StatusCreated && code != http.StatusConflict {
		return fmt.Errorf("the telemonitoring template: %d %v %s", code, err, b)
	}
	plan := `{"resourceType":"CarePlan","status":"active","intent":"plan",` +
		`"category":[{"coding":[{"system":"http://hl7.it/fhir/telemonitoraggio/CodeSystem/csTipologiaPiano","code":"01"}]},{"coding":[{"system":"urn:fsenet:telemonitoraggio:tipo","code":"II"}]}],` +
		`"instantiatesCanonical":["PlanDefinition/` + tid + `|1"],"subject":{"reference":"Patient/CF-` + pt.CF + `"},` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"demo-monitor-` + pt.CF + `"}],` +
		`"contained":[{"resourceType":"ObservationDefinition","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},` +
		`"qualifiedInterval":[{"range":{"high":{"value":80,"system":"http://unitsofmeasure.org","code":"kg"}}}],` +
		`"extension":[{"url":"urn:fsenet:telemonitoraggio:letture-consecutive","valueInteger":2}]},` +
		`{"resourceType":"CareTeam","managingOrganization":[{"identifier":{"system":"urn:fsenet:region","value":"` + team.region.Code + `"}}],` +
		`"participant":[{"member":{"identifier":{"system":"http://hl7.it/sid/codiceFiscale","value":"RSSMRA80A01H501U"}}}]}],` +
		`"activity":[{"detail":{"status":"in-progress","performer":[{"reference":"Device/bilancia-demo"}]}}]}`
	var enrolled struct{ ID string }
	if err := demoEventually(ctx, func() error {
		code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/CarePlan", clinician, "application/fhir+json", []byte(plan))
		if err != nil || code != http.StatusCreated && code != http.StatusOK || json.Unmarshal(b, &enrolled) != nil {
			return fmt.Errorf("enrol: %d %v %s", code, err, b)
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, " 14. %s enrols her in telemonitoring (weight over 80 kg twice in a row alerts), her care team in %s:\n", home.region.Code, team.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/CarePlan/%s\"\n", team.region.Code, team.region.Code, enrolled.ID)
	if err := demoKit(ctx, home, clinician, enrolled.ID, pt.CF); err != nil {
		return err
	}
	fmt.Fprintf(w, "     the scale is registered at delivery; %s's producer publishes the Piano di telemonitoraggio and the Tesserino\n", home.region.Code)
	fmt.Fprintf(w, "     dispositivi (FHIR documents) through its gateway; the Piano as the node makes it for a %s clinician:\n", home.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/CarePlan/%s/\\$piano\"\n", home.region.Code, home.region.Code, enrolled.ID)
	if err := demoScale(ctx, home, pt.CF); err != nil {
		return err
	}
	fmt.Fprintf(w, " 15. a simulated scale sends a day of weights to %s's node (kept there only), the last ones over the threshold:\n", home.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Observation/\\$daily?patient=Patient/CF-%s&code=29463-7\"\n", team.region.Code, team.region.Code, pt.CF)
	var flag string
	if err := demoEventually(ctx, func() error {
		code, b, err := demoCall(ctx, http.MethodGet, team.url+"/fhir/Flag", member, "", nil)
		var bundle struct {
			Entry []struct {
				Resource struct{ ID string } `json:"resource"`
			} `json:"entry"`
		}
		if err != nil || code != http.StatusOK || json.Unmarshal(b, &bundle) != nil || len(bundle.Entry) == 0 {
			return fmt.Errorf("the alert at %s: %d %v", team.region.Code, code, err)
		}
		flag = bundle.Entry[len(bundle.Entry)-1].Resource.ID
		return nil
	}); err != nil {
		return err
	}
	if code, b, err := demoCall(ctx, http.MethodPost, team.url+"/fhir/Flag/"+flag+"/$acknowledge", member, "", nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("acknowledge the alert: %d %v %s", code, err, b)
	}
	fmt.Fprintf(w, " 16. the alert reaches the care team's node in %s, where a member acknowledges it:\n", team.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Flag\"\n", team.region.Code, team.region.Code)
	return nil
}

// demoKit registers the plan's scale and publishes the Piano and the
// Tesserino through the home region's gateway.
func demoKit(ctx context.Context, home *demoProducer, clinician, plan, cf string) error {
	device := `{"resourceType":"Device","id":"bilancia-demo","identifier":[{"system":"urn:oid:2.16.840.1.113883.2.9.4.3.99","value":"DEMO-` + cf + `"}],` +
		`"udiCarrier":[{"deviceIdentifier":"08012345678901","carrierHRF":"(01)08012345678901(21)DEMO-` + cf + `"}],` +
		`"deviceName":[{"name":"Bilancia pesapersone","type":"user-friendly-name"}],"type":{"coding":[{"system":"http://snomed.info/sct","code":"39857003","display":"Weighing patient"}]}}`
	planURL := home.url + "/fhir/CarePlan/" + plan
	if code, b, err := demoCall(ctx, http.MethodPost, planURL+"/$register-device", clinician, "application/fhir+json", []byte(device)); err != nil ||
		code != http.StatusCreated && code != http.StatusOK {
		return fmt.Errorf("register the scale: %d %v %s", code, err, b)
	}
	for _, d := range []struct{ op, loinc, class string }{{"piano", tmdoc.TypePiano, "TAC"}, {"tesserino", tmdoc.TypeTesserino, "REF"}} {
		code, doc, err := demoCall(ctx, http.MethodGet, planURL+"/$"+d.op, clinician, "", nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("the %s: %d %v %s", d.op, code, err, doc)
		}
		if err := home.publishFHIR(ctx, doc, "tm-"+d.op+"-"+plan, d.loinc, d.class, cf); err != nil {
			return err
		}
	}
	return nil
}

// demoScale sends a day of hourly weights, the last two over the
// threshold, as a device gateway would: one batch Bundle.
func demoScale(ctx context.Context, home *demoProducer, cf string) error {
	start := time.Now().UTC().Add(-20 * time.Hour).Truncate(time.Hour)
	var sb strings.Builder
	sb.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	for i := range 20 {
		kg := 76 + float64(i%3)/2
		if i >= 18 {
			kg = 81.5
		}
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},`+
			`"subject":{"reference":"Patient/CF-%s"},"device":{"reference":"Device/bilancia-demo"},"effectiveDateTime":"%s",`+
			`"valueQuantity":{"value":%g,"system":"http://unitsofmeasure.org","code":"kg"}}}`, cf, start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), kg)
	}
	sb.WriteString(`]}`)
	code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/Observation", home.operator, "application/fhir+json", []byte(sb.String()))
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("the scale's readings: %d %v %s", code, err, b)
	}
	return nil
}
