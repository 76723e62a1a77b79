package main

import (
	"bytes"
	"encoding/base64"
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

// TestProcessBinaryNegotiation: a FHIR client asking for a document with
// Accept: application/fhir+json gets a FHIR Binary holding exactly the
// bytes a plain client gets — from the custodian's node and through
// another region's node, which fetches it.
func TestProcessBinaryNegotiation(t *testing.T) {
	_, regions := threeVoters(t)
	lom, pug := regions[0], regions[2]
	rng := rand.New(rand.NewPCG(14, 2))
	pt := synth.NewPatient(rng)
	registerPatient(t, lom, pt)
	prod := newProducer(t, lom)
	kind, _ := synth.KindOf("11502-2")
	d := synth.Document{Kind: kind, Region: "030", LocalID: "negotiate-1", Patient: pt, AuthorCF: operatorSub, Org: producerOrg}
	pdf, err := synth.PDF(d)
	if err != nil {
		t.Fatal(err)
	}
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, pt.CF, "11502-2", "CREATE")
	prod.must(http.StatusCreated, http.MethodPost, "/v1/documents", publication("030", "negotiate-1", "REF"), pdf, pt.CF, "11502-2", "CREATE")
	for _, node := range []*proc{lom, pug} {
		tok := regionToken(t, node, "--sub", "VRDLGU75C12H501Y", "--role", "AAS", "--purpose", "TREATMENT")
		for _, accept := range []string{"", "application/fhir+json"} {
			t.Run(node.code+"/"+accept, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, node.url()+"/fhir/Binary/"+index.ResourceID(d.ID()), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("%d %v", resp.StatusCode, err)
				}
				got := body
				if accept != "" {
					var b struct {
						ResourceType, ContentType, Data string
						ID                              string `json:"id"`
					}
					if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Binary" || b.ContentType != "application/pdf" ||
						b.ID != index.ResourceID(d.ID()) || resp.Header.Get("Content-Type") != "application/fhir+json" {
						t.Fatalf("not a FHIR Binary: %v %.200s", err, body)
					}
					if got, err = base64.StdEncoding.DecodeString(b.Data); err != nil {
						t.Fatal(err)
					}
				} else if resp.Header.Get("Content-Type") != "application/pdf" {
					t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
				}
				if !bytes.Equal(got, pdf) {
					t.Fatalf("%d bytes, not the %d published", len(got), len(pdf))
				}
			})
		}
	}
}
