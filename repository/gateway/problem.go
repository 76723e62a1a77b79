package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/fsenet/fsenet/node/httpapi"
)

// Problem is an RFC 7807 error as the FSE gateway answers it.
type Problem = httpapi.Problem

// RuleFailure is one failed validation rule.
type RuleFailure = httpapi.RuleFailure

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

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
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
