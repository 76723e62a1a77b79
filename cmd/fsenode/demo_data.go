package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// demoLoaded is what the demo published, for its closing lines.
type demoLoaded struct {
	Region    string
	PatientCF string
	Documents int
}

// demoProducer is a region's producer, as the demo drives it.
type demoProducer struct {
	region   *demoRegion
	url      string
	client   *gateway.Client
	org      string
	operator string
	// structure is the hospital's structure code: the locality of its
	// tokens and the author organisation its documents name.
	structure string
}

// loadDemoData gives each region a producer (a hospital's software with
// its own signing key), two synthetic patients with consent, and a few
// synthetic documents published through the region's gateway: validated,
// published, each acknowledged only once the federation committed it.
// Running the demo again on the same directory publishes nothing twice.
func loadDemoData(ctx context.Context, regions []*demoRegion) ([]demoLoaded, []*demoProducer, error) {
	var out []demoLoaded
	var producers []*demoProducer
	kinds := []string{"11502-2", "34105-7", "60591-5"}
	for ri, r := range regions {
		url := "http://127.0.0.1:" + strconv.Itoa(r.HTTPPort)
		idp, err := federation.LoadIdPKey(filepath.Join(r.dir, "idp.key"))
		if err != nil {
			return nil, nil, err
		}
		org, structure := "ASST demo "+r.Code, r.Code+"901"
		token := func(role, purpose string) (string, error) {
			return federation.IssueToken(idp, federation.Claims{Issuer: defaultIssuer(r.Code), Subject: "VRDGPP70A01F205X",
				Expiry: time.Now().Add(time.Hour), SubjectRole: role, OrganizationID: r.Code, Organization: org, Locality: structure,
				PurposeOfUse: purpose})
		}
		operator, err := token("DSA", index.PurposeSysadmin)
		if err != nil {
			return nil, nil, err
		}
		key, err := demoProducerKey(filepath.Join(r.dir, "producer.jwk"))
		if err != nil {
			return nil, nil, err
		}
		pub, err := federation.PublicJWKS(key)
		if err != nil {
			return nil, nil, err
		}
		issuer := "demo-lis." + r.Code
		reg, _ := json.Marshal(map[string]any{"issuer": issuer, "organization": org, "name": "Laboratorio demo", "keys": pub})
		if code, b, err := demoCall(ctx, http.MethodPost, url+"/v1/producers", operator, "application/json", reg); err != nil || code != http.StatusOK {
			return nil, nil, fmt.Errorf("region %s: register the producer: %d %s %v", r.Code, code, b, err)
		}
		bearer, err := token("PSS", "TREATMENT")
		if err != nil {
			return nil, nil, err
		}
		client := &gateway.Client{BaseURL: url, Bearer: bearer, Key: key, Issuer: issuer, Subject: "VRDGPP70A01F205X",
			Role: "PSS", Region: r.Code, Organization: org, Locality: structure}
		producers = append(producers, &demoProducer{region: r, url: url, client: client, org: org, structure: structure, operator: operator})
		rng := rand.New(rand.NewPCG(uint64(ri)+1, 2026))
		for p := range 2 {
			pt := synth.NewPatient(rng)
			if err := demoPatient(ctx, http.MethodPost, url, operator, r.Code, pt); err != nil {
				return nil, nil, err
			}
			for d, loinc := range kinds {
				if err := producers[ri].publish(ctx, pt, fmt.Sprintf("demo-%d-%d", p, d), loinc, time.Date(2026, time.Month(1+d*3), 10+p, 9, 30, 0, 0, time.UTC)); err != nil {
					return nil, nil, err
				}
			}
			out = append(out, demoLoaded{Region: r.Code, PatientCF: pt.CF, Documents: len(kinds)})
		}
	}
	return out, producers, nil
}

// publish validates and publishes one synthetic document of the patient
// through the producer's gateway. A document an earlier run on the same
// directory published is left as it is.
func (p *demoProducer) publish(ctx context.Context, pt synth.Patient, local, loinc string, at time.Time) error {
	kind, _ := synth.KindOf(loinc)
	doc := synth.Document{Kind: kind, Region: p.region.Code, LocalID: local, Patient: pt, AuthorCF: "VRDGPP70A01F205X", Org: p.structure, Time: at}
	pdf, err := synth.PDF(doc)
	if err != nil {
		return err
	}
	b := gateway.Request{Action: "CREATE", LOINC: loinc, PatientCF: pt.CF}
	if a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, b); err != nil || !a.OK() {
		return fmt.Errorf("region %s: validate %s: %v %v", p.region.Code, local, a, err)
	}
	a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents", gateway.Publication(p.region.Code, local, kind.Class), pdf, b)
	switch {
	case err != nil:
		return fmt.Errorf("region %s: publish %s: %w", p.region.Code, local, err)
	case a.Status == http.StatusConflict:
		// Published by an earlier run on this directory (the PDF's dates
		// differ, so the bytes do too).
	case !a.OK():
		return fmt.Errorf("region %s: publish %s: %v", p.region.Code, local, a)
	}
	return nil
}

// publishPDF validates and publishes a PDF a node made (a telemedicine
// report) under its FSE id, through the producer's gateway; one already
// published is left as it is.
func (p *demoProducer) publishPDF(ctx context.Context, pdf []byte, docID, loinc, class, patientCF string) error {
	_, local, ok := strings.Cut(docID, "^")
	if !ok {
		return fmt.Errorf("region %s: %q is not an FSE document id", p.region.Code, docID)
	}
	b := gateway.Request{Action: "CREATE", LOINC: loinc, PatientCF: patientCF}
	if a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, b); err != nil || !a.OK() {
		return fmt.Errorf("region %s: validate %s: %v %v", p.region.Code, local, a, err)
	}
	a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents", gateway.Publication(p.region.Code, local, class), pdf, b)
	switch {
	case err != nil:
		return fmt.Errorf("region %s: publish %s: %w", p.region.Code, local, err)
	case a.Status == http.StatusConflict:
	case !a.OK():
		return fmt.Errorf("region %s: publish %s: %v", p.region.Code, local, a)
	}
	return nil
}

// publishFHIR signs a FHIR document and provides it through the
// producer's gateway (ITI-65); a document published before is kept.
func (p *demoProducer) publishFHIR(ctx context.Context, doc []byte, local, loinc, class, patientCF string) error {
	sig, err := gateway.SignDocument(p.client.Key, doc)
	if err != nil {
		return err
	}
	d := synth.Document{Kind: synth.Kind{LOINC: loinc, Class: class}, Region: p.region.Code, LocalID: local, Patient: synth.Patient{CF: patientCF}}
	a, err := p.client.ProvideFHIR(ctx, synth.ProvideBundle(d, doc, sig), doc, loinc, patientCF)
	switch {
	case err != nil:
		return fmt.Errorf("region %s: publish %s: %w", p.region.Code, local, err)
	case a.Status == http.StatusConflict:
	case !a.OK():
		return fmt.Errorf("region %s: publish %s: %v", p.region.Code, local, a)
	}
	return nil
}

// demoProducerKey loads the demo producer's key, making it on first use.
func demoProducerKey(path string) (jwk.Key, error) {
	if _, err := os.Stat(path); err == nil {
		return federation.LoadIdPKey(path)
	}
	return federation.GenerateIdPKey(path)
}

// demoPatient registers a synthetic patient and records consent to
// consultation (POST), or moves the patient to another home region (PUT).
// A rerun on the same directory finds what an earlier run made: a patient
// already registered keeps the record, and consent is recorded again
// while the patient's home is still this region (giving it again is not
// an error; an earlier run may have stopped before it). A patient who
// moved away since is left to her new region.
func demoPatient(ctx context.Context, method, url, operator, region string, pt synth.Patient) error {
	body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}],`+
		`"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s",`+
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"%s"}}}`,
		pt.CF, pt.Family, pt.Given, pt.FHIRGender(), pt.BirthDate.Format(time.DateOnly), region)
	path := url + "/fhir/Patient"
	if method == http.MethodPut {
		path += "/CF-" + pt.CF
	}
	code, b, err := demoCall(ctx, method, path, operator, "application/fhir+json", []byte(body))
	if err != nil || (code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict) {
		return fmt.Errorf("register patient: %d %s %v", code, b, err)
	}
	if method == http.MethodPut {
		return nil
	}
	if code == http.StatusConflict {
		home, err := demoHome(ctx, url, operator, pt.CF)
		if err != nil {
			return err
		}
		if home != region {
			return nil
		}
	}
	consent := []byte(`{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":true}]}`)
	return demoEventually(ctx, func() error {
		if code, b, err := demoCall(ctx, http.MethodPost, url+"/fhir/Patient/CF-"+pt.CF+"/$consent", operator, "application/fhir+json", consent); err != nil || code != http.StatusOK {
			return fmt.Errorf("consent: %d %s %v", code, b, err)
		}
		return nil
	})
}

// demoHome is the home region of a registered patient, as the registry
// at url says.
func demoHome(ctx context.Context, url, operator, cf string) (string, error) {
	code, b, err := demoCall(ctx, http.MethodGet, url+"/fhir/Patient/CF-"+cf, operator, "", nil)
	var p struct {
		ManagingOrganization struct {
			Identifier struct{ Value string } `json:"identifier"`
		} `json:"managingOrganization"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(b, &p) != nil {
		return "", fmt.Errorf("read patient: %d %.300s %v", code, b, err)
	}
	return p.ManagingOrganization.Identifier.Value, nil
}

// demoHomeIs reports whether the patient's home region is p's, as p's
// operator reads the registry.
func demoHomeIs(ctx context.Context, p *demoProducer, cf string) bool {
	code, b, err := demoCall(ctx, http.MethodGet, p.url+"/fhir/Patient/CF-"+cf, p.operator, "", nil)
	return err == nil && code == http.StatusOK && bytes.Contains(b, []byte(`"value":"`+p.region.Code+`"`))
}

func demoCall(ctx context.Context, method, url, token, ct string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	return resp.StatusCode, b, nil
}

// migrantScenario is the mission in one story: a patient of the first
// region, treated there and in the second, moves her home region to the
// last one with one registry update (no index transfer), and a clinician
// of her new region reads her whole history, contents included, fetched
// from the regions that keep them. Each step is printed with a command a
// user can repeat.
func migrantScenario(ctx context.Context, w io.Writer, regions []*demoRegion, producers []*demoProducer) (synth.Patient, error) {
	if len(regions) < 3 {
		return synth.Patient{}, nil
	}
	from, treated, to := producers[0], producers[1], producers[len(producers)-1]
	name := func(r *demoRegion) string { return federation.RegionNames[r.Code] + " (" + r.Code + ")" }
	rng := rand.New(rand.NewPCG(77, 2026))
	pt := synth.NewPatient(rng)
	fmt.Fprintf(w, "\nThe migrant patient: %s %s, codice fiscale %s\n", pt.Given, pt.Family, pt.CF)
	if err := demoPatient(ctx, http.MethodPost, from.url, from.operator, from.region.Code, pt); err != nil {
		return pt, err
	}
	fmt.Fprintf(w, "  1. registered in %s with consent to consultation:\n", name(from.region))
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Patient/CF-%s\"\n", from.region.Code, from.region.Code, pt.CF)
	for i, loinc := range []string{"11502-2", "34105-7"} {
		if err := from.publish(ctx, pt, fmt.Sprintf("migrant-%d", i), loinc, time.Date(2025, time.Month(3+i*4), 12, 10, 0, 0, 0, time.UTC)); err != nil {
			return pt, err
		}
	}
	if err := treated.publish(ctx, pt, "migrant-0", "59258-4", time.Date(2026, 2, 20, 22, 15, 0, 0, time.UTC)); err != nil {
		return pt, err
	}
	fmt.Fprintf(w, "  2. treated: a lab report and a discharge letter published by %s, an emergency report by %s,\n", name(from.region), name(treated.region))
	fmt.Fprintf(w, "     each through its region's gateway, each kept by the region that wrote it\n")
	moved := pt
	if err := demoPatient(ctx, http.MethodPut, from.url, from.operator, to.region.Code, moved); err != nil && !demoHomeIs(ctx, to, pt.CF) {
		// (An earlier run on this directory moved her already.)
		return pt, fmt.Errorf("move the patient: %w", err)
	}
	fmt.Fprintf(w, "  3. she moves to %s: one registry update of her home region, nothing in the index moves:\n", name(to.region))
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Patient/CF-%s\"\n", to.region.Code, to.region.Code, pt.CF)
	idp, err := federation.LoadIdPKey(filepath.Join(to.region.dir, "idp.key"))
	if err != nil {
		return pt, err
	}
	clinician, err := federation.IssueToken(idp, federation.Claims{Issuer: defaultIssuer(to.region.Code), Subject: "RSSMRA80A01H501U",
		Expiry: time.Now().Add(time.Hour), SubjectRole: "AAS", OrganizationID: to.region.Code, Organization: "ASL demo " + federation.RegionNames[to.region.Code], PurposeOfUse: "TREATMENT"})
	if err != nil {
		return pt, err
	}
	var code int
	var b []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b, err = demoCall(ctx, http.MethodGet, to.url+"/fhir/Patient/CF-"+pt.CF+"/$everything?_content=true", clinician, "", nil)
		// At least her three documents (a rerun finds those of the
		// telemedicine scenario too).
		if err == nil && code == http.StatusOK && bytes.Count(b, []byte(`"resourceType":"Binary"`)) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || code != http.StatusOK {
		return pt, fmt.Errorf("the history from %s: %d %v", to.region.Code, code, err)
	}
	fmt.Fprintf(w, "  4. a clinician of %s reads her history: %d documents from %s and %s, contents fetched from them, %d bytes in one answer:\n",
		name(to.region), bytes.Count(b, []byte(`"resourceType":"DocumentReference"`)), from.region.Code, treated.region.Code, len(b))
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Patient/CF-%s/\\$everything?_content=true\"\n", to.region.Code, to.region.Code, pt.CF)
	fmt.Fprintf(w, "       go run ./cmd/fsectl --node $FSENET_%s_URL --token $FSENET_%s_TOKEN history %s --out migrant-history\n", to.region.Code, to.region.Code, pt.CF)
	fmt.Fprintf(w, "  5. every access is in her log:\n")
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_AUTHORITY_TOKEN\" \"$FSENET_%s_URL/fhir/AuditEvent?patient=Patient/CF-%s\"\n", to.region.Code, pt.CF)
	return pt, nil
}
