package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Outcome is the one writer of FHIR OperationOutcomes: one issue of
// severity error.
func Outcome(w http.ResponseWriter, status int, code fhir.IssueType, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{{
		Severity: fhir.IssueSeverityError, Code: code, Diagnostics: &diagnostics,
	}}})
}

// Information answers 200 with an OperationOutcome of one informational
// issue: what an operation that returns no resource did.
func Information(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{{
		Severity: fhir.IssueSeverityInformation, Code: fhir.IssueTypeInformational, Diagnostics: &message,
	}}})
}

// Fail answers a FHIR request with the OperationOutcome its error
// deserves (StatusOf). A failure of the node (5xx) is logged with the
// request's id and the cause; a refusal (4xx) is left to the access log.
func Fail(w http.ResponseWriter, r *http.Request, err error) {
	st := StatusOf(err)
	logFailure(r, st, err)
	Outcome(w, st.Code, st.Issue, Message(err))
}

func logFailure(r *http.Request, st Status, err error) {
	if st.Code >= 500 {
		Log(r).Error("request failed", "status", st.Code, "err", err)
	}
}

// ProblemBase prefixes the type URIs of fsenet's problems.
const ProblemBase = "https://fsenet.example/problems/"

// Problem is an RFC 7807 error as the FSE national gateway answers it
// (ErrorResponseDTO, ValidationErrorResponseDTO). TraceID is the
// request's id.
type Problem struct {
	TraceID            string `json:"traceID"`
	SpanID             string `json:"spanID"`
	Type               string `json:"type"`
	Title              string `json:"title"`
	Detail             string `json:"detail,omitempty"`
	Status             int    `json:"status"`
	Instance           string `json:"instance,omitempty"`
	WorkflowInstanceID string `json:"workflowInstanceId,omitempty"`
	// Errors lists the rules a document failed, each with the
	// schematron's id where it names one (an fsenet extension member, as
	// RFC 7807 allows).
	Errors []RuleFailure `json:"errors,omitempty"`
}

// RuleFailure is one failed validation rule.
type RuleFailure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// WriteProblem is the one writer of problem+json, for the producer
// gateway's paths only. Empty TraceID, SpanID and Instance are filled
// from the request; Type is given without ProblemBase.
func WriteProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Type != "" {
		p.Type = ProblemBase + p.Type
	}
	if p.TraceID == "" {
		p.TraceID = RequestID(r)
	}
	if p.SpanID == "" {
		p.SpanID = SpanID(r)
	}
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// FailProblem answers a gateway request with the problem its error
// deserves (StatusOf).
func FailProblem(w http.ResponseWriter, r *http.Request, err error) {
	st := StatusOf(err)
	logFailure(r, st, err)
	WriteProblem(w, r, Problem{Type: st.Problem, Title: st.Title, Detail: Message(err), Status: st.Code})
}

// JSON answers a JSON value (the node's own /v1 resources).
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
