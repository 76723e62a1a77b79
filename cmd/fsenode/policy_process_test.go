package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

func patientBody(pt synth.Patient, home string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Patient","identifier":[{"system":"http://hl7.it/sid/codiceFiscale","value":"%s"}],`+
		`"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%s",`+
		`"managingOrganization":{"identifier":{"system":"urn:fsenet:region","value":"%s"}}}`,
		pt.CF, pt.Family, pt.Given, pt.FHIRGender(), pt.BirthDate.Format(time.DateOnly), home)
}

func mergeBody(source, target string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/CF-%s"}},`+
		`{"name":"target-patient","valueReference":{"reference":"Patient/CF-%s"}}]}`, source, target)
}

// homeOf reads a patient's home region on a node, strongly, as the
// authority.
func homeOf(t *testing.T, r *proc, auth, cf string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.url()+"/fhir/Patient/CF-"+cf, nil)
	req.Header.Set("Authorization", "Bearer "+auth)
	req.Header.Set("Fsenet-Consistency", "strong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Link []struct {
			Type string `json:"type"`
		} `json:"link"`
		ManagingOrganization struct {
			Identifier struct {
				Value string `json:"value"`
			} `json:"identifier"`
		} `json:"managingOrganization"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read %s on %s: %d %v", cf, r.code, resp.StatusCode, err)
	}
	for _, l := range p.Link {
		if l.Type == "replaced-by" {
			return "merged"
		}
	}
	return p.ManagingOrganization.Identifier.Value
}

// TestProcessRegistryTakeoverRefused: on a running federation, Campania's
// operator can neither re-home nor merge away a Lombardia patient; the
// refusals leave the replicated registry as it was on every node;
// Lombardia moves its own patient to Puglia; the authority may merge.
func TestProcessRegistryTakeoverRefused(t *testing.T) {
	a, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	rng := rand.New(rand.NewPCG(14, 1))
	migrant, campano := synth.NewPatient(rng), synth.NewPatient(rng)
	registerPatient(t, lom, migrant)
	registerPatient(t, cam, campano)
	auth := a.token()
	op := func(r *proc) string {
		return regionToken(t, r, "--sub", operatorSub, "--role", "DSA", "--purpose", "SYSADMIN")
	}
	for _, tt := range []struct {
		name         string
		node         *proc
		method, path string
		body         []byte
	}{
		{"Campania re-homes Lombardia's patient", cam, http.MethodPut, "/fhir/Patient/CF-" + migrant.CF, patientBody(migrant, "150")},
		{"Campania re-homes it through Lombardia's node", lom, http.MethodPut, "/fhir/Patient/CF-" + migrant.CF, patientBody(migrant, "150")},
		{"Campania merges Lombardia's patient into its own", cam, http.MethodPost, "/fhir/Patient/$merge", mergeBody(migrant.CF, campano.CF)},
		{"Campania merges its patient into Lombardia's", cam, http.MethodPost, "/fhir/Patient/$merge", mergeBody(campano.CF, migrant.CF)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, b := call(t, tt.method, tt.node.url()+tt.path, op(cam), "application/fhir+json", tt.body)
			if code != http.StatusForbidden || !strings.Contains(string(b), "OperationOutcome") {
				t.Fatalf("%d %s, want 403", code, b)
			}
		})
	}
	for _, r := range regions {
		if h := homeOf(t, r, auth, migrant.CF); h != "030" {
			t.Fatalf("on %s the Lombardia patient's home is %q after the refused requests", r.code, h)
		}
		if h := homeOf(t, r, auth, campano.CF); h != "150" {
			t.Fatalf("on %s the Campania patient's home is %q after the refused merges", r.code, h)
		}
	}
	// Lombardia moves its patient to Puglia (through Puglia's node); from
	// then on Puglia, not Lombardia, writes the record.
	if code, b := call(t, http.MethodPut, pug.url()+"/fhir/Patient/CF-"+migrant.CF, op(lom), "application/fhir+json", patientBody(migrant, "160")); code != http.StatusOK {
		t.Fatalf("Lombardia moves its patient: %d %s", code, b)
	}
	if code, b := call(t, http.MethodPut, lom.url()+"/fhir/Patient/CF-"+migrant.CF, op(lom), "application/fhir+json", patientBody(migrant, "030")); code != http.StatusForbidden {
		t.Fatalf("Lombardia after the move: %d %s", code, b)
	}
	// The authority merges across regions.
	if code, b := call(t, http.MethodPost, lom.url()+"/fhir/Patient/$merge", auth, "application/fhir+json", mergeBody(campano.CF, migrant.CF)); code != http.StatusOK {
		t.Fatalf("the authority merges: %d %s", code, b)
	}
	for _, r := range regions {
		if h := homeOf(t, r, auth, migrant.CF); h != "160" {
			t.Fatalf("on %s the moved patient's home is %q", r.code, h)
		}
		if h := homeOf(t, r, auth, campano.CF); h != "merged" {
			t.Fatalf("on %s the merged identity reads %q", r.code, h)
		}
	}
}
