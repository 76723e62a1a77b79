package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestRequestDurationByRoute checks the request histogram: one series per
// route pattern and status class, never a path, and the access line's
// duration in seconds.
func TestRequestDurationByRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	var log bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "CF-MISSING" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /v1/documents", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	h := Handler(mux, Config{Log: slog.New(slog.NewJSONHandler(&log, nil)), Metrics: reg})
	for _, req := range []struct{ method, path string }{
		{"GET", "/fhir/Patient/CF-RSSMRA80A01H501U"},
		{"GET", "/fhir/Patient/CF-VRDLGU75C12H501Y"},
		{"GET", "/fhir/Patient/CF-MISSING"},
		{"POST", "/v1/documents"},
		{"GET", "/no/such/path/RSSMRA80A01H501U"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "fsenet_http_request_duration_seconds" {
			continue
		}
		if f.GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("%s is a %s, want a histogram", f.GetName(), f.GetType())
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels["route"]+" "+labels["class"]] = m.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{
		"GET /fhir/Patient/{id} 2xx": 2,
		"GET /fhir/Patient/{id} 4xx": 1,
		"POST /v1/documents 5xx":     1,
		"other 4xx":                  1,
	}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d observations, want %d (all: %v)", k, got[k], n, got)
		}
	}

	dec := json.NewDecoder(&log)
	for {
		var line map[string]any
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if _, ok := line["duration"]; ok {
			t.Errorf("access line with a duration in nanoseconds: %v", line)
		}
		if d, ok := line["duration_s"].(float64); !ok || d < 0 || d > 60 {
			t.Errorf("access line without its duration in seconds: %v", line)
		}
	}
}

func TestStatusClass(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{200, "2xx"}, {204, "2xx"}, {301, "3xx"}, {401, "4xx"}, {499, "4xx"}, {500, "5xx"}, {504, "5xx"}, {0, "other"}, {600, "other"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.want, "x", "")+"/"+http.StatusText(tt.code), func(t *testing.T) {
			if got := statusClass(tt.code); got != tt.want {
				t.Fatalf("statusClass(%d) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}
