package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// demoServices are the telemedicine services the demo's regions publish:
// the first region a national televisit and a regional teleconsult, the
// others a service each.
func demoServices(codes []string) map[string][]string {
	out := map[string][]string{
		codes[0]: {
			demoService(codes[0]+"-tv-cardio", "Televisita cardiologica", "televisita", "08", "NAZ", ""),
			demoService(codes[0]+"-tc-derma", "Teleconsulto dermatologico", "teleconsulto", "52", "REG", "SINC"),
		},
	}
	for _, c := range codes[1:] {
		out[c] = []string{demoService(c+"-ta-fisio", "Teleassistenza fisioterapica", "teleassistenza", "56", "REG", "")}
	}
	return out
}

func demoService(id, name, typ, specialty, scope, mode string) string {
	chars := `{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csRaggioErogazione","code":"` + scope + `"}]}`
	if mode != "" {
		chars += `,{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csModalitaTC","code":"` + mode + `"}]}`
	}
	return `{"resourceType":"HealthcareService","id":"` + id + `","active":true,"name":"` + name + `",` +
		`"type":[{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"` + typ + `"}]}],` +
		`"specialty":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csspecialityPractitionerRole","code":"` + specialty + `"}]}],` +
		`"characteristic":[` + chars + `],"communication":[{"coding":[{"system":"urn:ietf:bcp:47","code":"it"}]}]}`
}

// telemedScenario follows the migrant patient into telemedicine: every
// region publishes services in the national catalogue, the last region
// adopts the first region's teleconsult, the first region opens slots of
// its national televisit, and a clinician of the patient's new region
// books her a televisit with the first region from their own node, then
// gets the visit's video-session token. Each step prints the command that
// repeats it.
func telemedScenario(ctx context.Context, w io.Writer, producers []*demoProducer, pt synth.Patient) error {
	if len(producers) < 3 || pt.CF == "" {
		return nil
	}
	provider, home := producers[0], producers[len(producers)-1]
	var codes []string
	for _, p := range producers {
		codes = append(codes, p.region.Code)
	}
	fmt.Fprintf(w, "\nTelemedicine for the migrant patient\n")
	services := demoServices(codes)
	for _, p := range producers {
		for _, body := range services[p.region.Code] {
			// A demo kept with --dir published them on its first run (409).
			if code, b, err := demoCall(ctx, http.MethodPost, p.url+"/fhir/HealthcareService", p.operator, "application/fhir+json", []byte(body)); err != nil ||
				code != http.StatusCreated && code != http.StatusConflict {
				return fmt.Errorf("publish a service of %s: %d %v %s", p.region.Code, code, err, b)
			}
		}
	}
	fmt.Fprintf(w, "  6. each region publishes its services in the national catalogue, found on every node:\n")
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/HealthcareService?service-type=televisita\"\n", home.region.Code, home.region.Code)
	adopted := provider.region.Code + "-tc-derma"
	if err := demoEventually(ctx, func() error {
		code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/HealthcareService/"+adopted+"/$adopt", home.operator, "", nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("adopt %s: %d %v %s", adopted, code, err, b)
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, "  7. %s adopts %s's teleconsult; the authority sees the reuse:\n", home.region.Code, provider.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_AUTHORITY_TOKEN\" \"$FSENET_%s_URL/v1/authority/telemed/reuse\"\n", provider.region.Code)
	service := provider.region.Code + "-tv-cardio"
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2).Add(9 * time.Hour)
	var first string
	for i := range 3 {
		start := day.Add(time.Duration(i) * 30 * time.Minute)
		body := fmt.Sprintf(`{"resourceType":"Slot","schedule":{"reference":"Schedule/%s"},"status":"free","start":%q,"end":%q}`,
			service, start.Format(time.RFC3339), start.Add(30*time.Minute).Format(time.RFC3339))
		code, b, err := demoCall(ctx, http.MethodPost, provider.url+"/fhir/Slot", provider.operator, "application/fhir+json", []byte(body))
		var sl struct{ ID string }
		if err != nil || code != http.StatusCreated || json.Unmarshal(b, &sl) != nil {
			return fmt.Errorf("open a slot: %d %v %s", code, err, b)
		}
		if first == "" {
			first = sl.ID
		}
	}
	fmt.Fprintf(w, "  8. %s opens slots of its national televisit; a clinician of %s finds them from their own node (asked of %s's):\n",
		provider.region.Code, home.region.Code, provider.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Slot?schedule=Schedule/%s\"\n", home.region.Code, home.region.Code, service)
	clinician, err := demoClinician(home)
	if err != nil {
		return err
	}
	booking := `{"resourceType":"Appointment","status":"proposed","slot":[{"reference":"Slot/` + first + `"}],` +
		`"participant":[{"actor":{"reference":"Patient/CF-` + pt.CF + `"},"status":"needs-action"}],` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"demo-` + first + `"}],` +
		`"extension":[{"url":"urn:fsenet:telemedicina:verifica-eseguibilita","extension":[{"url":"clinicallySuitable","valueBoolean":true},` +
		`{"url":"consent","valueBoolean":true},{"url":"digitallyReady","valueBoolean":true}]}]}`
	var appt struct{ ID string }
	code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/Appointment", clinician, "application/fhir+json", []byte(booking))
	if err != nil || code != http.StatusCreated && code != http.StatusOK || json.Unmarshal(b, &appt) != nil {
		return fmt.Errorf("book the televisit: %d %v %s", code, err, b)
	}
	fmt.Fprintf(w, "  9. the %s clinician books her televisit with %s at %s, eligibility checked; the booking is kept by %s only:\n",
		home.region.Code, provider.region.Code, day.Format("2006-01-02 15:04 UTC"), provider.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Appointment/%s\"\n", home.region.Code, home.region.Code, appt.ID)
	if code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/Appointment/"+appt.ID+"/$video-session", clinician, "", nil); err != nil || code != http.StatusOK {
		return fmt.Errorf("the video session: %d %v %s", code, err, b)
	}
	fmt.Fprintf(w, " 10. the visit's video-session token for a Jitsi-compatible service, signed by %s's node:\n", provider.region.Code)
	fmt.Fprintf(w, "       curl -X POST -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Appointment/%s/\\$video-session\"\n", home.region.Code, home.region.Code, appt.ID)
	return careScenario(ctx, w, provider, home, pt, appt.ID)
}

// demoClinician is a token of a clinician of p's region: the same person
// as demo.env's FSENET_<code>_TOKEN, so its commands read what was booked.
func demoClinician(p *demoProducer) (string, error) {
	idp, err := federation.LoadIdPKey(filepath.Join(p.region.dir, "idp.key"))
	if err != nil {
		return "", err
	}
	return federation.IssueToken(idp, federation.Claims{Issuer: defaultIssuer(p.region.Code), Subject: "RSSMRA80A01H501U",
		Expiry: time.Now().Add(time.Hour), SubjectRole: "AAS", OrganizationID: p.region.Code,
		Organization: "ASL demo " + federation.RegionNames[p.region.Code], PurposeOfUse: index.PurposeTreatment})
}

// demoEventually retries fn for up to ten seconds (a write replicated a
// moment ago may not have reached the node asked yet).
func demoEventually(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
