package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// careScenario goes on from the booked televisit: the provider's
// clinician holds it and writes the Referto di Televisita, which the
// provider's producer publishes through its gateway and the patient's new
// region reads in her history; then the new region's clinician asks the
// provider's adopted teleconsult, the two clinicians exchange a question
// and an answer, and the Relazione di Teleconsulto reaches her history
// the same way.
func careScenario(ctx context.Context, w io.Writer, provider, home *demoProducer, pt synth.Patient, appt string) error {
	specialist, err := demoSpecialist(provider)
	if err != nil {
		return err
	}
	asking, err := demoClinician(home)
	if err != nil {
		return err
	}
	code, b, err := demoCall(ctx, http.MethodPost, provider.url+"/fhir/Encounter", specialist, "application/fhir+json",
		[]byte(`{"resourceType":"Encounter","status":"in-progress","class":{"code":"VR"},"appointment":[{"reference":"Appointment/`+appt+`"}]}`))
	var enc struct{ ID string }
	if err != nil || code != http.StatusCreated || json.Unmarshal(b, &enc) != nil {
		return fmt.Errorf("open the visit: %d %v %s", code, err, b)
	}
	doc, err := demoReport(ctx, provider, specialist, provider.url+"/fhir/Encounter/"+enc.ID+"/$referto", "referto",
		"Visita in telemedicina: parametri nella norma, prosegue la terapia in corso.", "75496-0", pt.CF)
	if err != nil {
		return err
	}
	if err := demoInHistory(ctx, home, asking, pt.CF, doc); err != nil {
		return err
	}
	fmt.Fprintf(w, " 11. %s's specialist holds the visit and writes the Referto di Televisita (CDA 75496-0, made by %s's node),\n", provider.region.Code, provider.region.Code)
	fmt.Fprintf(w, "     published through %s's gateway; it is in her history at %s:\n", provider.region.Code, home.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Encounter/%s\"\n", home.region.Code, home.region.Code, enc.ID)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/DocumentReference?patient=Patient/CF-%s\"\n", home.region.Code, home.region.Code, pt.CF)
	consult, err := demoConsult(ctx, provider, home, specialist, asking, pt.CF)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, " 12. %s's clinician asks %s's teleconsult (adopted in step 7); %s accepts and asks a question, %s answers:\n",
		home.region.Code, provider.region.Code, provider.region.Code, home.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Communication?based-on=ServiceRequest/%s\"\n", home.region.Code, home.region.Code, consult)
	doc, err = demoReport(ctx, provider, specialist, provider.url+"/fhir/Task/"+consult+"/$relazione", "relazione",
		"Quadro compatibile con dermatite da contatto: terapia topica, controllo tra 4 settimane.", "85208-7", pt.CF)
	if err != nil {
		return err
	}
	if err := demoInHistory(ctx, home, asking, pt.CF, doc); err != nil {
		return err
	}
	fmt.Fprintf(w, " 13. the Relazione di Teleconsulto (CDA 85208-7) completes the task and is in her history:\n")
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Task/%s\"\n", home.region.Code, home.region.Code, consult)
	return monitoringScenario(ctx, w, provider, home, pt)
}

// demoReport asks a node for a report and publishes it through the
// producer's gateway, returning its FSE id.
func demoReport(ctx context.Context, p *demoProducer, tok, url, param, text, loinc, cf string) (string, error) {
	v, _ := json.Marshal(text)
	body := `{"resourceType":"Parameters","parameter":[{"name":"` + param + `","valueString":` + string(v) + `}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	pdf, err := io.ReadAll(resp.Body)
	doc := resp.Header.Get("Fsenet-Document-Id")
	if err != nil || resp.StatusCode != http.StatusOK || doc == "" {
		return "", fmt.Errorf("the report: %d %v %.300s", resp.StatusCode, err, pdf)
	}
	return doc, p.publishPDF(ctx, pdf, doc, loinc, "REF", cf)
}

// demoInHistory waits for a document in the patient's history, read at
// another region's node.
func demoInHistory(ctx context.Context, at *demoProducer, tok, cf, doc string) error {
	return demoEventually(ctx, func() error {
		code, b, err := demoCall(ctx, http.MethodGet, at.url+"/fhir/DocumentReference?patient=Patient/CF-"+cf+"&_count=100", tok, "", nil)
		if err != nil || code != http.StatusOK || !bytes.Contains(b, []byte(doc)) {
			return fmt.Errorf("document %s not in the history at %s: %d %v", doc, at.region.Code, code, err)
		}
		return nil
	})
}

// demoConsult asks the provider's teleconsult from home and exchanges a
// question and an answer; it returns the request's id.
func demoConsult(ctx context.Context, provider, home *demoProducer, specialist, asking, cf string) (string, error) {
	ask := `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/CF-` + cf + `"},` +
		`"performer":[{"reference":"HealthcareService/` + provider.region.Code + `-tc-derma"}],` +
		`"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"demo-consult-` + cf + `"}],` +
		`"note":[{"text":"Eritema pruriginoso agli avambracci da tre settimane: diagnosi differenziale?"}]}`
	code, b, err := demoCall(ctx, http.MethodPost, home.url+"/fhir/ServiceRequest", asking, "application/fhir+json", []byte(ask))
	var sr struct{ ID string }
	if err != nil || code != http.StatusCreated && code != http.StatusOK || json.Unmarshal(b, &sr) != nil {
		return "", fmt.Errorf("ask the teleconsult: %d %v %s", code, err, b)
	}
	// A demo kept with --dir answered it on its first run (409 below).
	if code, b, err := demoCall(ctx, http.MethodPost, provider.url+"/fhir/Task/"+sr.ID+"/$accept", specialist, "application/fhir+json",
		[]byte(`{"resourceType":"Parameters"}`)); err != nil || code != http.StatusOK && code != http.StatusConflict {
		return "", fmt.Errorf("accept the teleconsult: %d %v %s", code, err, b)
	}
	for _, m := range []struct {
		p         *demoProducer
		tok, text string
	}{
		{provider, specialist, "Esposizione a sostanze nuove (detersivi, lavoro)?"},
		{home, asking, "Sì: nuovo detergente al lavoro da un mese."},
	} {
		msg := `{"resourceType":"Communication","status":"completed","basedOn":[{"reference":"ServiceRequest/` + sr.ID + `"}],"payload":[{"contentString":"` + m.text + `"}]}`
		if code, b, err := demoCall(ctx, http.MethodPost, m.p.url+"/fhir/Communication", m.tok, "application/fhir+json", []byte(msg)); err != nil ||
			code != http.StatusCreated && code != http.StatusConflict {
			return "", fmt.Errorf("a teleconsult message: %d %v %s", code, err, b)
		}
	}
	return sr.ID, nil
}

// demoSpecialist is a token of the provider's specialist: another person
// than the clinician who asks (who does not answer their own request).
func demoSpecialist(p *demoProducer) (string, error) {
	idp, err := federation.LoadIdPKey(filepath.Join(p.region.dir, "idp.key"))
	if err != nil {
		return "", err
	}
	return federation.IssueToken(idp, federation.Claims{Issuer: defaultIssuer(p.region.Code), Subject: "BNCLCU75A01H501T",
		Expiry: time.Now().Add(time.Hour), SubjectRole: "AAS", OrganizationID: p.region.Code,
		Organization: "ASST demo " + federation.RegionNames[p.region.Code], PurposeOfUse: index.PurposeTreatment})
}
