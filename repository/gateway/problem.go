package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Problem is an RFC 7807 error as the FSE gateway answers it
// (ErrorResponseDTO, ValidationErrorResponseDTO).
type Problem struct {
	TraceID            string `json:"traceID"`
	SpanID             string `json:"spanID"`
	Type               string `json:"type"`
	Title              string `json:"title"`
	Detail             string `json:"detail,omitempty"`
	Status             int    `json:"status"`
	Instance           string `json:"instance,omitempty"`
	WorkflowInstanceID string `json:"workflowInstanceId,omitempty"`
	// Errors lists the header rules a CDA failed, each with the
	// schematron's id where it names one (an fsenet extension member, as
	// RFC 7807 allows).
	Errors []RuleFailure `json:"errors,omitempty"`
}

// RuleFailure is one failed validation rule.
type RuleFailure struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// problemBase prefixes the type URIs of fsenet's problems.
const problemBase = "https://fsenet.example/problems/"

// Problem types.
const (
	ptBadRequest    = "bad-request"
	ptUnauthorized  = "unauthorized"
	ptForbidden     = "forbidden"
	ptNotFound      = "not-found"
	ptConflict      = "conflict"
	ptTooLarge      = "payload-too-large"
	ptMediaType     = "unsupported-media-type"
	ptInvalidCDA    = "cda-validation"
	ptNotValidated  = "not-validated"
	ptUnavailable   = "unavailable"
	ptInternal      = "internal"
	ptClaimMismatch = "jwt-claims"
)

// newTraceID returns a fresh trace id (W3C trace-context size).
func newTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newSpanID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type != "" {
		p.Type = problemBase + p.Type
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serves reports whether path is one of the gateway's, whose errors are
// problem+json rather than FHIR OperationOutcomes.
func Serves(path string) bool {
	for _, p := range []string{"/v1/documents", "/v1/status/", "/v1/producers"} {
		if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// Unauthorized answers a request to the gateway without a valid bearer
// token.
func Unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="fsenet"`)
	writeProblem(w, Problem{TraceID: newTraceID(), SpanID: newSpanID(), Type: ptUnauthorized, Title: "Unauthorized",
		Detail: "a valid bearer token is required", Status: http.StatusUnauthorized, Instance: r.URL.Path})
}
