package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the handler that every request of a node passes.
type Config struct {
	// Log is the node's logger; each request's lines carry its id.
	Log *slog.Logger
	// Metrics, if set, gets the request counter by route and status and
	// the request duration histogram by route and status class. Routes
	// are the registered patterns (a bounded set), never the paths.
	Metrics prometheus.Registerer
	// ProblemPaths reports the paths whose errors are problem+json (the
	// producer gateway's); every other error is an OperationOutcome.
	ProblemPaths func(path string) bool
	// Inner wraps the routes after the request id is set and before they
	// are served: the node's authentication.
	Inner func(http.Handler) http.Handler
}

// Routes are the routes Handler serves: an http.ServeMux or a Mux.
type Routes interface {
	http.Handler
	Handler(r *http.Request) (h http.Handler, pattern string)
}

// request is what the middleware knows of a request, shared with the
// handlers through its context.
type request struct {
	id, span string
	log      *slog.Logger
	subject  string // hash of the caller's issuer and subject, once authenticated
}

type requestKey struct{}

func from(r *http.Request) *request {
	if q, ok := r.Context().Value(requestKey{}).(*request); ok {
		return q
	}
	return nil
}

// RequestID is the request's id: the one the client sent (X-Request-Id,
// or a W3C traceparent's trace id), or one made for it.
func RequestID(r *http.Request) string {
	if q := from(r); q != nil {
		return q.id
	}
	return newID(16)
}

// SpanID is this node's span of the request, for the problem+json
// answers that name one.
func SpanID(r *http.Request) string {
	if q := from(r); q != nil {
		return q.span
	}
	return newID(8)
}

// Log is the request's logger: the node's, with the request's id.
func Log(r *http.Request) *slog.Logger {
	if q := from(r); q != nil {
		return q.log
	}
	return slog.Default()
}

// With is base with the request's id, for a module's own logger.
func With(r *http.Request, base *slog.Logger) *slog.Logger {
	return base.With("request_id", RequestID(r))
}

// SetCaller names the authenticated caller in the access log, by a hash
// of their token's issuer and subject (never the token or the subject).
func SetCaller(ctx context.Context, issuer, subject string) {
	if q, ok := ctx.Value(requestKey{}).(*request); ok {
		h := sha256.Sum256([]byte(issuer + "\x00" + subject))
		q.subject = hex.EncodeToString(h[:6])
	}
}

// Handler serves mux's routes: it gives every request an id (answered in
// X-Request-Id), runs cfg.Inner, answers what no route matches with an
// OperationOutcome (or a problem) whose 404 or 405 — with Allow — comes
// from the patterns registered on mux, counts every request by route
// pattern and status, times it by route pattern and status class, and
// logs one line per request.
func Handler(mux Routes, cfg Config) http.Handler {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	var requests *prometheus.CounterVec
	var durations *prometheus.HistogramVec
	if cfg.Metrics != nil {
		requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsenet_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"})
		durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fsenet_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request (until the handler returns: a streamed answer is timed whole), by route pattern and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "class"})
		cfg.Metrics.MustRegister(requests, durations)
	}
	var routes http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			w = &unmatched{ResponseWriter: w, r: r, problem: cfg.ProblemPaths != nil && cfg.ProblemPaths(r.URL.Path)}
		}
		mux.ServeHTTP(w, r)
	})
	if cfg.Inner != nil {
		routes = cfg.Inner(routes)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		q := &request{id: incomingID(r), span: newID(8)}
		q.log = log.With("request_id", q.id)
		w.Header().Set("X-Request-Id", q.id)
		r = r.WithContext(context.WithValue(r.Context(), requestKey{}, q))
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		routes.ServeHTTP(rec, r)
		_, route := mux.Handler(r)
		if route == "" {
			route = "other"
		}
		took := time.Since(start)
		if requests != nil {
			requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			durations.WithLabelValues(route, statusClass(rec.code)).Observe(took.Seconds())
		}
		q.log.Info("http", "method", r.Method, "route", route, "status", rec.code,
			"duration_s", took.Round(time.Microsecond).Seconds(), "caller", q.subject)
	})
}

// statusClass is a status code's class: "2xx", "4xx", ...
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// incomingID is the client's request id if it is a sane one: X-Request-Id
// (at most 64 letters, digits, '-', '_', '.'), else the trace id of a
// W3C traceparent; otherwise a new one.
func incomingID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && strings.IndexFunc(id, notIDRune) < 0 {
		return id
	}
	// traceparent: version "-" trace-id (32 hex) "-" parent-id "-" flags
	if parts := strings.Split(r.Header.Get("traceparent"), "-"); len(parts) == 4 && len(parts[1]) == 32 &&
		strings.IndexFunc(parts[1], notHex) < 0 && parts[1] != strings.Repeat("0", 32) {
		return parts[1]
	}
	return newID(16)
}

func notIDRune(c rune) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
}

func notHex(c rune) bool { return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') }

func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// recorder keeps the status a handler answered.
type recorder struct {
	http.ResponseWriter
	code int
}

func (s *recorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Flush lets streamed answers through.
func (s *recorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer underneath.
func (s *recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// unmatched turns the mux's own plain-text 404 and 405 (with the Allow
// header it derives from the registered patterns) into this API's error
// format.
type unmatched struct {
	http.ResponseWriter
	r       *http.Request
	problem bool
	done    bool
	pass    bool // an answer other than 404 or 405 (a redirect to a clean path) goes out as it is
}

func (u *unmatched) WriteHeader(code int) {
	if u.done {
		return
	}
	u.done = true
	if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		u.pass = true
		u.ResponseWriter.WriteHeader(code)
		return
	}
	u.Header().Del("Content-Type")
	u.Header().Del("X-Content-Type-Options")
	kind, msg := ErrNotFound, "no such endpoint"
	if code == http.StatusMethodNotAllowed {
		kind, msg = ErrNotSupported, u.r.Method+" is not supported here"
	}
	if u.problem {
		FailProblem(u.ResponseWriter, u.r, E(kind, msg))
	} else {
		Fail(u.ResponseWriter, u.r, E(kind, msg))
	}
}

func (u *unmatched) Write(b []byte) (int, error) {
	if !u.done {
		u.WriteHeader(http.StatusOK)
	}
	if u.pass {
		return u.ResponseWriter.Write(b)
	}
	return len(b), nil // the mux's plain text is replaced
}
