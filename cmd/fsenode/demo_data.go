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
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// demoLoaded is what the demo published, for its closing lines.
type demoLoaded struct {
	Region    string
	PatientCF string
	Documents int
}

// loadDemoData gives each region a producer (a hospital's software with
// its own signing key), two synthetic patients with consent, and a few
// synthetic documents published through the region's gateway: validated,
// published, each acknowledged only once the federation committed it.
// Running the demo again on the same directory publishes nothing twice.
func loadDemoData(ctx context.Context, regions []*demoRegion) ([]demoLoaded, error) {
	var out []demoLoaded
	kinds := []string{"11502-2", "34105-7", "60591-5"}
	for ri, r := range regions {
		url := "http://127.0.0.1:" + strconv.Itoa(r.HTTPPort)
		idp, err := federation.LoadIdPKey(filepath.Join(r.dir, "idp.key"))
		if err != nil {
			return nil, err
		}
		org := "ASST demo " + r.Code
		token := func(role, purpose string) (string, error) {
			return federation.IssueToken(idp, federation.Claims{Issuer: defaultIssuer(r.Code), Subject: "VRDGPP70A01F205X",
				Expiry: time.Now().Add(time.Hour), SubjectRole: role, OrganizationID: r.Code, Organization: org, PurposeOfUse: purpose})
		}
		operator, err := token("DSA", "SYSADMIN")
		if err != nil {
			return nil, err
		}
		key, err := demoProducerKey(filepath.Join(r.dir, "producer.jwk"))
		if err != nil {
			return nil, err
		}
		pub, err := federation.PublicJWKS(key)
		if err != nil {
			return nil, err
		}
		issuer := "demo-lis." + r.Code
		reg, _ := json.Marshal(map[string]any{"issuer": issuer, "organization": org, "name": "Laboratorio demo", "keys": pub})
		if code, b, err := demoCall(ctx, http.MethodPost, url+"/v1/producers", operator, "application/json", reg); err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("region %s: register the producer: %d %s %v", r.Code, code, b, err)
		}
		bearer, err := token("PSS", "TREATMENT")
		if err != nil {
			return nil, err
		}
		client := &gateway.Client{BaseURL: url, Bearer: bearer, Key: key, Issuer: issuer, Subject: "VRDGPP70A01F205X",
			Role: "PSS", Region: r.Code, Organization: org}
		rng := rand.New(rand.NewPCG(uint64(ri)+1, 2026))
		for p := range 2 {
			pt := synth.NewPatient(rng)
			if err := demoPatient(ctx, url, operator, r.Code, pt); err != nil {
				return nil, err
			}
			n := 0
			for d, loinc := range kinds {
				kind, _ := synth.KindOf(loinc)
				local := fmt.Sprintf("demo-%d-%d", p, d)
				doc := synth.Document{Kind: kind, Region: r.Code, LocalID: local, Patient: pt, AuthorCF: "VRDGPP70A01F205X", Org: org,
					Time: time.Date(2026, time.Month(1+d*3), 10+p, 9, 30, 0, 0, time.UTC)}
				pdf, err := synth.PDF(doc)
				if err != nil {
					return nil, err
				}
				b := gateway.Request{Action: "CREATE", LOINC: loinc, PatientCF: pt.CF}
				if a, err := client.Do(ctx, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, b); err != nil || !a.OK() {
					return nil, fmt.Errorf("region %s: validate %s: %v %v", r.Code, local, a, err)
				}
				a, err := client.Do(ctx, http.MethodPost, "/v1/documents", gateway.Publication(r.Code, local, kind.Class), pdf, b)
				switch {
				case err != nil:
					return nil, fmt.Errorf("region %s: publish %s: %w", r.Code, local, err)
				case a.Status == http.StatusConflict:
					// Published by an earlier run on this directory (the
					// PDF's dates differ, so the bytes do too).
				case !a.OK():
					return nil, fmt.Errorf("region %s: publish %s: %v", r.Code, local, a)
				}
				n++
			}
			out = append(out, demoLoaded{Region: r.Code, PatientCF: pt.CF, Documents: n})
		}
	}
	return out, nil
}

// demoProducerKey loads the demo producer's key, making it on first use.
func demoProducerKey(path string) (jwk.Key, error) {
	if _, err := os.Stat(path); err == nil {
		return federation.LoadIdPKey(path)
	}
	return federation.GenerateIdPKey(path)
}

// demoPatient registers a synthetic patient (an existing one is kept)
// and records consent to consultation.
func demoPatient(ctx context.Context, url, operator, region string, pt synth.Patient) error {
	body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}],`+
		`"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s",`+
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"%s"}}}`,
		pt.CF, pt.Family, pt.Given, pt.FHIRGender(), pt.BirthDate.Format(time.DateOnly), region)
	code, b, err := demoCall(ctx, http.MethodPost, url+"/fhir/Patient", operator, "application/fhir+json", []byte(body))
	if err != nil || (code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict) {
		return fmt.Errorf("register patient: %d %s %v", code, b, err)
	}
	consent := []byte(`{"resourceType":"Parameters","parameter":[{"name":"given","valueBoolean":true}]}`)
	if code, b, err := demoCall(ctx, http.MethodPost, url+"/fhir/Patient/CF-"+pt.CF+"/$consent", operator, "application/fhir+json", consent); err != nil || code != http.StatusOK {
		return fmt.Errorf("consent: %d %s %v", code, b, err)
	}
	return nil
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
