package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

func serviceJSON(id, name, scope string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	return `{"resourceType":"HealthcareService",` + idPart + `"active":true,"name":"` + name + `",` +
		`"type":[{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"televisita"}]}],` +
		`"specialty":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csspecialityPractitionerRole","code":"08"}]}],` +
		`"characteristic":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csRaggioErogazione","code":"` + scope + `"}]}],` +
		`"communication":[{"coding":[{"system":"urn:ietf:bcp:47","code":"it"}]},{"coding":[{"system":"urn:ietf:bcp:47","code":"de"}]}]}`
}

// The telemedicine catalogue across two regions: Lombardia's operator
// publishes a service at its node, every node finds it, Campania's
// operator adopts it at Campania's node, the authority sees the reuse;
// writes by anyone else, at the wrong node or with garbage are refused.
func TestTelemedCatalogueAcrossRegions(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	lomURL, camURL := "http://"+lom.HTTPAddr()+"/fhir/HealthcareService", "http://"+cam.HTTPAddr()+"/fhir/HealthcareService"
	op030, op150 := f.token("030", "SYSADMIN"), f.token("150", "SYSADMIN")
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := cam.members.Members().View().IdP("150"); !ok {
			return errors.New("Campania's IdP keys not replicated yet")
		}
		return nil
	}, "Campania's IdP keys replicated")

	code, body := do(t, "POST", lomURL, op030, "application/fhir+json", serviceJSON("030-tv-cardio", "Televisita cardiologica", "REG"))
	if code != http.StatusCreated || !strings.Contains(body, `"versionId":"1"`) {
		t.Fatalf("create: %d %s", code, body)
	}
	refused := []struct {
		name, method, url, tok, body string
		ifMatch                      string
		want                         int
	}{
		{"a clinician creates", "POST", lomURL, f.token("030", "TREATMENT"), serviceJSON("", "x", "REG"), "", http.StatusForbidden},
		{"Campania creates a Lombardia service", "POST", camURL, op150, serviceJSON("030-tv-x", "x", "REG"), "", http.StatusBadRequest},
		{"Campania changes Lombardia's service", "PUT", camURL + "/030-tv-cardio", op150, serviceJSON("030-tv-cardio", "x", "NAZ"), "", http.StatusForbidden},
		{"Lombardia changes it at Campania's node", "PUT", camURL + "/030-tv-cardio", op030, serviceJSON("030-tv-cardio", "x", "NAZ"), "", http.StatusMisdirectedRequest},
		{"Lombardia adopts its own", "POST", lomURL + "/030-tv-cardio/$adopt", op030, "", "", http.StatusForbidden},
		{"garbage", "POST", lomURL, op030, "{garbage", "", http.StatusBadRequest},
		{"not a HealthcareService", "POST", lomURL, op030, `{"resourceType":"Patient"}`, "", http.StatusBadRequest},
		{"unknown scope", "POST", lomURL, op030, serviceJSON("", "x", "EU"), "", http.StatusBadRequest},
		{"a stale version", "PUT", lomURL + "/030-tv-cardio", op030, serviceJSON("030-tv-cardio", "x", "REG"), `W/"7"`, http.StatusConflict},
		{"an unknown service", "PUT", lomURL + "/030-nothing", op030, serviceJSON("030-nothing", "x", "REG"), "", http.StatusNotFound},
		{"too large", "POST", lomURL, op030, strings.Repeat(" ", 70<<10), "", http.StatusRequestEntityTooLarge},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			code, body := doHeader(t, tt.method, tt.url, tt.tok, tt.body, map[string]string{"If-Match": tt.ifMatch})
			if code != tt.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
		})
	}
	// Every node finds it in its own replica.
	clinician := f.token("150", "TREATMENT")
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", camURL+"?service-type=televisita&communication=de&characteristic=REG", clinician, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":1`) || !strings.Contains(body, `"fullUrl":"http://`+cam.HTTPAddr()+`/fhir/HealthcareService/030-tv-cardio"`) {
			return fmt.Errorf("search at Campania: %d %s", code, body)
		}
		return nil
	}, "the service found at Campania")
	if code, body := do(t, "GET", camURL+"?organization=150", clinician, "", ""); code != http.StatusOK || !strings.Contains(body, `"total":0`) {
		t.Fatalf("Campania's own services: %d %s", code, body)
	}
	if code, body := do(t, "GET", camURL+"?active=maybe", clinician, "", ""); code != http.StatusBadRequest {
		t.Fatalf("a bad parameter: %d %s", code, body)
	}
	// Campania adopts it at its node; the authority sees the reuse.
	if code, body := do(t, "POST", camURL+"/030-tv-cardio/$adopt", op150, "", ""); code != http.StatusOK || !strings.Contains(body, `"region":"150"`) {
		t.Fatalf("adopt: %d %s", code, body)
	}
	var reuse struct {
		Services []struct {
			ID        string `json:"id"`
			Adoptions []struct {
				Region  string `json:"region"`
				Version int    `json:"version"`
			} `json:"adoptions"`
		} `json:"services"`
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body = do(t, "GET", "http://"+lom.HTTPAddr()+"/v1/authority/telemed/reuse", f.authorityToken(), "", "")
		if err := json.Unmarshal([]byte(body), &reuse); err != nil || code != http.StatusOK || len(reuse.Services) != 1 || len(reuse.Services[0].Adoptions) != 1 {
			return fmt.Errorf("reuse: %d %s", code, body)
		}
		return nil
	}, "the adoption replicated to Lombardia")
	if a := reuse.Services[0].Adoptions[0]; a.Region != "150" || a.Version != 1 {
		t.Fatalf("adoption %+v", a)
	}
	if code, _ := do(t, "GET", "http://"+lom.HTTPAddr()+"/v1/authority/telemed/reuse", op030, "", ""); code != http.StatusForbidden {
		t.Fatalf("reuse for an operator: %d", code)
	}
	// Lombardia retires it (judged on version 1); it stays readable.
	retired := strings.Replace(serviceJSON("030-tv-cardio", "Televisita cardiologica", "REG"), `"active":true`, `"active":false`, 1)
	if code, body := doHeader(t, "PUT", lomURL+"/030-tv-cardio", op030, retired, map[string]string{"If-Match": `W/"1"`}); code != http.StatusOK || !strings.Contains(body, `"active":false`) {
		t.Fatalf("retire: %d %s", code, body)
	}
}

func doHeader(t *testing.T, method, url, tok, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/fhir+json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
