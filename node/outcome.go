package node

import (
	"encoding/json"
	"net/http"
)

// operationOutcome is the FHIR R4 OperationOutcome every HTTP error of the
// node is written as.
type operationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Issue        []outcomeIssue `json:"issue"`
}

type outcomeIssue struct {
	Severity    string `json:"severity"` // fatal | error | warning | information
	Code        string `json:"code"`     // FHIR issue-type, e.g. not-found, invalid
	Diagnostics string `json:"diagnostics,omitempty"`
}

// writeOutcome answers with an OperationOutcome of one error issue.
func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(operationOutcome{
		ResourceType: "OperationOutcome",
		Issue:        []outcomeIssue{{Severity: "error", Code: code, Diagnostics: diagnostics}},
	})
}
