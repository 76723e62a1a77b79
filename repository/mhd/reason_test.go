package mhd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/repository/fetch"
)

// What a partial history says of a region names the cause, whatever
// wraps it.
func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "did not answer within the deadline"},
		{fmt.Errorf("fetch: %w", context.DeadlineExceeded), "did not answer within the deadline"},
		{&fetch.Refusal{Code: fetch.CodeNotFound, Message: "no such document"}, "refused (not-found)"},
		{fmt.Errorf("x: %w", &fetch.Refusal{Code: fetch.CodeUnauth}), "refused (unauthenticated)"},
		{fmt.Errorf("%w: 3 bytes", fetch.ErrMismatch), "sent content that does not match the index (refused)"},
		{fmt.Errorf("%w (all 64 fetch slots stayed busy)", fetch.ErrBusy), "was not asked: this node is fetching as many documents as it may, from that region or in all (retry)"},
		{fmt.Errorf("%w: no answer within 5s", fetch.ErrNoAnswer), "did not answer within the deadline"},
		{fmt.Errorf("fetch: transfer cut: %w", fmt.Errorf("%w: nothing more of the content for 5s", fetch.ErrNoAnswer)), "did not answer within the deadline"},
		{errTooMuch, errTooMuch.Error()},
		{errors.New("dial backoff"), "could not be reached"},
	} {
		if got := reason(tc.err); got != tc.want {
			t.Errorf("reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestIssueFor(t *testing.T) {
	for status, want := range map[int]fhir.IssueType{
		http.StatusNotFound:            fhir.IssueTypeNotFound,
		http.StatusServiceUnavailable:  fhir.IssueTypeTransient,
		http.StatusBadGateway:          fhir.IssueTypeTransient,
		http.StatusGatewayTimeout:      fhir.IssueTypeTransient,
		http.StatusInternalServerError: fhir.IssueTypeException,
	} {
		if got := issueFor(status); got != want {
			t.Errorf("issueFor(%d) = %v, want %v", status, got, want)
		}
	}
}
