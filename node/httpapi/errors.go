package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
)

// Kinds of failure a handler reports. A module wraps its own errors in
// one of them (E, Wrap) where the cause alone does not say how the
// request failed; consensus's codes, an oversized body and a cancelled
// request are recognised as they are.
var (
	ErrInvalid      = errors.New("invalid request")
	ErrUnauthorized = errors.New("not authenticated")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrDuplicate    = errors.New("already exists")
	ErrTooLarge     = errors.New("too large")
	ErrMediaType    = errors.New("unsupported media type")
	ErrNotSupported = errors.New("not supported")
	ErrMisdirected  = errors.New("misdirected")
	ErrUnavailable  = errors.New("unavailable")
	ErrTimeout      = errors.New("timed out")
)

// Error is a failure with the message the caller is told. The message
// must not carry clinical content or tokens: it is answered and logged.
type Error struct {
	Kind    error  // one of the kinds above, or a consensus error
	Message string // what the caller is told
	Cause   error  // what happened, for the log (never answered)
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

// Unwrap lets errors.Is see both the kind and the cause.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Cause} }

// E is an error of a kind with the message the caller is told.
func E(kind error, message string) *Error { return &Error{Kind: kind, Message: message} }

// Wrap is E with the cause kept for the log.
func Wrap(kind error, message string, cause error) *Error {
	return &Error{Kind: kind, Message: message, Cause: cause}
}

// Status is how an error is answered.
type Status struct {
	Code    int            // HTTP status
	Issue   fhir.IssueType // OperationOutcome.issue.code
	Problem string         // problem+json type (after ProblemBase)
	Title   string         // problem+json title
}

// statusTable is the one mapping from errors to answers, checked in
// order: the first kind the error is (errors.Is) decides.
var statusTable = []struct {
	kind error
	Status
}{
	{ErrInvalid, Status{http.StatusBadRequest, fhir.IssueTypeInvalid, "bad-request", "Bad request"}},
	{consensus.ErrInvalid, Status{http.StatusBadRequest, fhir.IssueTypeInvalid, "bad-request", "Bad request"}},
	{ErrUnauthorized, Status{http.StatusUnauthorized, fhir.IssueTypeLogin, "unauthorized", "Unauthorized"}},
	{ErrForbidden, Status{http.StatusForbidden, fhir.IssueTypeForbidden, "forbidden", "Forbidden"}},
	{consensus.ErrForbidden, Status{http.StatusForbidden, fhir.IssueTypeForbidden, "forbidden", "Forbidden"}},
	{ErrNotFound, Status{http.StatusNotFound, fhir.IssueTypeNotFound, "not-found", "Not found"}},
	{consensus.ErrNotFound, Status{http.StatusNotFound, fhir.IssueTypeNotFound, "not-found", "Not found"}},
	{ErrDuplicate, Status{http.StatusConflict, fhir.IssueTypeDuplicate, "conflict", "Conflict"}},
	{consensus.ErrAlreadyExists, Status{http.StatusConflict, fhir.IssueTypeDuplicate, "conflict", "Conflict"}},
	{ErrConflict, Status{http.StatusConflict, fhir.IssueTypeConflict, "conflict", "Conflict"}},
	{consensus.ErrConflict, Status{http.StatusConflict, fhir.IssueTypeConflict, "conflict", "Conflict"}},
	{ErrTooLarge, Status{http.StatusRequestEntityTooLarge, fhir.IssueTypeTooCostly, "payload-too-large", "Payload too large"}},
	{ErrMediaType, Status{http.StatusUnsupportedMediaType, fhir.IssueTypeNotSupported, "unsupported-media-type", "Unsupported media type"}},
	{ErrNotSupported, Status{http.StatusMethodNotAllowed, fhir.IssueTypeNotSupported, "method-not-allowed", "Method not allowed"}},
	{ErrMisdirected, Status{http.StatusMisdirectedRequest, fhir.IssueTypeNotSupported, "misdirected", "Misdirected request"}},
	{ErrTimeout, Status{http.StatusGatewayTimeout, fhir.IssueTypeTimeout, "timeout", "Gateway timeout"}},
	{context.DeadlineExceeded, Status{http.StatusServiceUnavailable, fhir.IssueTypeTransient, "unavailable", "Service unavailable"}},
	{ErrUnavailable, Status{http.StatusServiceUnavailable, fhir.IssueTypeTransient, "unavailable", "Service unavailable"}},
}

// unknown is the answer to an error of no known kind: the node could not
// do it now, and a retry may succeed.
var unknown = Status{http.StatusServiceUnavailable, fhir.IssueTypeTransient, "unavailable", "Service unavailable"}

// StatusOf is the answer an error gets.
func StatusOf(err error) Status {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return statusTable[indexOf(ErrTooLarge)].Status
	}
	for _, row := range statusTable {
		if errors.Is(err, row.kind) {
			return row.Status
		}
	}
	return unknown
}

func indexOf(kind error) int {
	for i, row := range statusTable {
		if row.kind == kind {
			return i
		}
	}
	panic("httpapi: kind not in the table")
}

// Message is what the caller is told of err: its Error's message, a
// consensus refusal's message, or a generic sentence for the rest (whose
// text may name internals).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	var ce *consensus.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return "the body is too large"
	}
	return "the request could not be served now; retry"
}

// StatusFor is the table's row for an HTTP status, for a handler that
// answers a status directly (the producer gateway's refusals, each with
// the national gateway's problem type).
func StatusFor(code int) Status {
	for _, row := range statusTable {
		if row.Code == code {
			return row.Status
		}
	}
	if code >= 500 {
		return unknown
	}
	return Status{code, fhir.IssueTypeInvalid, "bad-request", http.StatusText(code)}
}
