package fhirres

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Base is the absolute FHIR base URL of the server answering r (ending in
// "/fhir", no slash after): public, the node's configured public URL
// (http.public_url, for a node behind a reverse proxy), when set;
// otherwise the scheme and host the request came to.
func Base(r *http.Request, public string) string {
	if public != "" {
		return strings.TrimRight(public, "/") + "/fhir"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// FullURL is the absolute URL of a resource: Bundle.entry.fullUrl.
func FullURL(base, typ, id string) string { return base + "/" + typ + "/" + id }

// Incomplete is the OperationOutcome entry of a partial answer: a
// warning that names what is missing and why.
func Incomplete(diagnostics string) fhir.OperationOutcome {
	return fhir.OperationOutcome{Issue: []fhir.OperationOutcomeIssue{{Severity: fhir.IssueSeverityWarning,
		Code: fhir.IssueTypeIncomplete, Diagnostics: &diagnostics}}}
}

// WriteBinary writes a FHIR Binary resource whose data is content, read
// and base64-encoded as it is written (never whole in memory).
func WriteBinary(w io.Writer, id, contentType string, content io.Reader) error {
	ct, _ := json.Marshal(contentType)
	rid, _ := json.Marshal(id)
	if _, err := fmt.Fprintf(w, `{"resourceType":"Binary","id":%s,"contentType":%s,"data":"`, rid, ct); err != nil {
		return err
	}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	if _, err := io.Copy(enc, content); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, `"}`)
	return err
}
