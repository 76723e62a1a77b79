package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err   error
		code  int
		issue fhir.IssueType
	}{
		{E(ErrInvalid, "x"), 400, fhir.IssueTypeInvalid},
		{consensus.Errorf(consensus.CodeInvalid, "bad"), 400, fhir.IssueTypeInvalid},
		{consensus.Errorf(consensus.CodeNotFound, "gone"), 404, fhir.IssueTypeNotFound},
		{fmt.Errorf("wrapped: %w", consensus.Errorf(consensus.CodeNotFound, "gone")), 404, fhir.IssueTypeNotFound},
		{consensus.Errorf(consensus.CodeConflict, "moved"), 409, fhir.IssueTypeConflict},
		{consensus.Errorf(consensus.CodeAlreadyExists, "dup"), 409, fhir.IssueTypeDuplicate},
		{consensus.Errorf(consensus.CodeForbidden, "no"), 403, fhir.IssueTypeForbidden},
		{E(ErrMisdirected, "there"), 421, fhir.IssueTypeNotSupported},
		{&http.MaxBytesError{Limit: 1}, 413, fhir.IssueTypeTooCostly},
		{Wrap(ErrTimeout, "later", context.DeadlineExceeded), 504, fhir.IssueTypeTimeout},
		{context.DeadlineExceeded, 503, fhir.IssueTypeTransient},
		{errors.New("disk on fire"), 503, fhir.IssueTypeTransient},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			st := StatusOf(tt.err)
			if st.Code != tt.code || st.Issue != tt.issue {
				t.Fatalf("StatusOf = %d %s, want %d %s", st.Code, st.Issue, tt.code, tt.issue)
			}
		})
	}
}

// What the caller is told never includes an unknown cause's text.
func TestFailHidesCauses(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/fhir/x", nil)
	Fail(w, r, Wrap(ErrUnavailable, "the index could not be read; retry", errors.New("badger: /data/secret path")))
	Fail(httptest.NewRecorder(), r, errors.New("internal detail"))
	if strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), "could not be read") || w.Code != 503 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	Fail(w, r, errors.New("internal detail"))
	if strings.Contains(w.Body.String(), "internal detail") {
		t.Fatalf("cause answered: %s", w.Body)
	}
}

func serve(t *testing.T, log *bytes.Buffer) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		Log(r).Info("handler line")
		JSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("POST /v1/documents", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	return Handler(mux, Config{
		Log:          slog.New(slog.NewJSONHandler(log, nil)),
		ProblemPaths: func(p string) bool { return strings.HasPrefix(p, "/v1/documents") },
	})
}

func TestUnmatchedRoutes(t *testing.T) {
	var log bytes.Buffer
	h := serve(t, &log)
	tests := []struct {
		method, path string
		code         int
		ctype, allow string
	}{
		{"GET", "/fhir/Nothing", 404, "application/fhir+json", ""},
		{"DELETE", "/fhir/Patient/CF-X", 405, "application/fhir+json", "GET, HEAD"},
		{"GET", "/v1/documents", 405, "application/problem+json", "POST"},
		{"GET", "/v1/documents/x/y/z", 404, "application/problem+json", ""},
		{"GET", "/fhir/Patient/CF-X", 200, "application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.code || w.Header().Get("Content-Type") != tt.ctype || w.Header().Get("Allow") != tt.allow {
				t.Fatalf("%d %q allow %q: %s", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Allow"), w.Body)
			}
			if tt.code >= 400 {
				var v map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
					t.Fatalf("not JSON: %q", w.Body)
				}
				if tt.ctype == "application/fhir+json" && v["resourceType"] != "OperationOutcome" {
					t.Fatalf("not an OperationOutcome: %s", w.Body)
				}
				if tt.ctype == "application/problem+json" && (v["status"] != float64(tt.code) || v["traceID"] == "") {
					t.Fatalf("not a problem: %s", w.Body)
				}
			}
		})
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string // "" = a new one
	}{
		{"made", http.Header{}, ""},
		{"X-Request-Id", http.Header{"X-Request-Id": {"abc-123"}}, "abc-123"},
		{"traceparent", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"unsafe X-Request-Id", http.Header{"X-Request-Id": {"a\nb"}}, ""},
		{"all-zero traceparent", http.Header{"Traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			h := serve(t, &log)
			r := httptest.NewRequest("GET", "/fhir/Patient/CF-RSSMRA80A01H501U?secret=1", nil)
			r.Header = tt.header.Clone()
			r.Header.Set("Authorization", "Bearer eyJtoken")
			SetCaller(r.Context(), "iss", "sub") // no request yet: ignored
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			id := w.Header().Get("X-Request-Id")
			if id == "" || (tt.want != "" && id != tt.want) || (tt.want == "" && len(id) != 32) {
				t.Fatalf("request id %q, want %q", id, tt.want)
			}
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("want the handler's line and one access line, got %q", log.String())
			}
			for _, l := range lines {
				if !strings.Contains(l, `"request_id":"`+id+`"`) {
					t.Fatalf("line without the request id: %s", l)
				}
			}
			var access map[string]any
			if err := json.Unmarshal([]byte(lines[1]), &access); err != nil {
				t.Fatal(err)
			}
			if access["route"] != "GET /fhir/Patient/{id}" || access["status"] != float64(200) || access["method"] != "GET" {
				t.Fatalf("access line %s", lines[1])
			}
			for _, leak := range []string{"RSSMRA80A01H501U", "eyJtoken", "secret"} {
				if strings.Contains(log.String(), leak) {
					t.Fatalf("the log holds %q: %s", leak, log.String())
				}
			}
		})
	}
}

func TestCallerHashInAccessLog(t *testing.T) {
	var log bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := Handler(mux, Config{Log: slog.New(slog.NewJSONHandler(&log, nil)), Inner: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			SetCaller(r.Context(), "https://idp.030", "RSSMRA80A01H501U")
			next.ServeHTTP(w, r)
		})
	}})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	var access map[string]any
	if err := json.Unmarshal(log.Bytes(), &access); err != nil {
		t.Fatal(err)
	}
	if c, _ := access["caller"].(string); len(c) != 12 || strings.Contains(log.String(), "RSSMRA80A01H501U") {
		t.Fatalf("caller %q in %s", c, log.String())
	}
}
