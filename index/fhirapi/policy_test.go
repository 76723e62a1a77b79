package fhirapi

import (
	"net/http"
	"strings"
	"testing"
)

func mergeJSON(source, target string) string {
	return `{"resourceType":"Parameters","parameter":[{"name":"source-patient","valueReference":{"reference":"Patient/CF-` + source +
		`"}},{"name":"target-patient","valueReference":{"reference":"Patient/CF-` + target + `"}}]}`
}

// Another region's operator cannot take over a patient: a registry write
// is judged on the patient's current home region, a merge needs the right
// over both identities, and the caller's right is checked before the
// body. The registry is unchanged by every refused request.
func TestRegistryTakeoverRefused(t *testing.T) {
	e := newEnv(t, nil)
	const puglia = "GTWGWY82B42G920M" // a patient of 160
	if code, body := e.send("POST", "/fhir/Patient", "op160", patientJSON(puglia, "Verdi", "160")); code != http.StatusCreated {
		t.Fatalf("160 registers its patient: %d %s", code, body)
	}
	tests := []struct {
		name, method, path, who, body string
		want                          int
	}{
		{"160 re-homes a 030 patient to 160", "PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op160", patientJSON("RSSMRA80A01H501U", "Rossi", "160"), http.StatusForbidden},
		{"160 rewrites a 030 patient in place", "PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op160", patientJSON("RSSMRA80A01H501U", "Impostor", "030"), http.StatusForbidden},
		{"160 merges a 030 patient into its own", "POST", "/fhir/Patient/$merge", "op160", mergeJSON("RSSMRA80A01H501U", puglia), http.StatusForbidden},
		{"160 merges its own patient into a 030 one", "POST", "/fhir/Patient/$merge", "op160", mergeJSON(puglia, "RSSMRA80A01H501U"), http.StatusForbidden},
		{"030 merges a 160 patient into its own", "POST", "/fhir/Patient/$merge", "op030", mergeJSON(puglia, "RSSMRA80A01H501U"), http.StatusForbidden},
		{"a clinician's garbage is refused before it is read", "PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "clinician", "{garbage", http.StatusForbidden},
		{"a patient's garbage is refused before it is read", "POST", "/fhir/Patient", "mario", `{"resourceType":"Observation"}`, http.StatusForbidden},
		{"a clinician's merge is refused before it is read", "POST", "/fhir/Patient/$merge", "clinician", "{garbage", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.send(tt.method, tt.path, tt.who, tt.body)
			if code != tt.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("%d %s, want %d", code, body, tt.want)
			}
		})
	}
	code, body, _ := e.get("/fhir/Patient/CF-RSSMRA80A01H501U", "authority")
	if code != http.StatusOK || !strings.Contains(body, `"value":"030"`) || !strings.Contains(body, `"family":"Rossi"`) || strings.Contains(body, "replaced-by") {
		t.Fatalf("the 030 patient after the refused requests: %d %s", code, body)
	}
	code, body, _ = e.get("/fhir/Patient/CF-"+puglia, "authority")
	if code != http.StatusOK || strings.Contains(body, "replaces") || strings.Contains(body, "replaced-by") {
		t.Fatalf("the 160 patient after the refused merges: %d %s", code, body)
	}

	// The home region moves its patient; the authority may move and merge anyone's.
	allowed := []struct{ name, method, path, who, body string }{
		{"030 moves its patient to 160", "PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op030", patientJSON("RSSMRA80A01H501U", "Rossi", "160")},
		{"the authority moves a 030 patient to 150", "PUT", "/fhir/Patient/CF-TSTSMN63A01F205H", "authority", patientJSON("TSTSMN63A01F205H", "Rossi", "150")},
		{"the authority merges a 030 patient into a 160 one", "POST", "/fhir/Patient/$merge", "authority", mergeJSON("MRTMTT25D09F205Z", puglia)},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := e.send(tt.method, tt.path, tt.who, tt.body); code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
	// Once moved, the former home region has lost the record, and the new one has it.
	if code, body := e.send("PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op030", patientJSON("RSSMRA80A01H501U", "Rossi", "030")); code != http.StatusForbidden {
		t.Fatalf("030 after the move: %d %s", code, body)
	}
	if code, body := e.send("PUT", "/fhir/Patient/CF-RSSMRA80A01H501U", "op160", patientJSON("RSSMRA80A01H501U", "Rossi", "160")); code != http.StatusOK {
		t.Fatalf("160 after the move: %d %s", code, body)
	}
}
