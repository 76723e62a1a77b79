package httpapi

import (
	"net/http"
	"slices"
)

// Mux is an http.ServeMux that remembers the patterns registered on it:
// the node's routes, whose list the 404/405 answers, the
// CapabilityStatement's test and the operator's documentation agree with.
type Mux struct {
	*http.ServeMux
	patterns []string
}

// NewMux returns an empty router.
func NewMux() *Mux { return &Mux{ServeMux: http.NewServeMux()} }

// HandleFunc registers handler for pattern.
func (m *Mux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	m.ServeMux.HandleFunc(pattern, handler)
	m.patterns = append(m.patterns, pattern)
}

// Handle registers handler for pattern.
func (m *Mux) Handle(pattern string, handler http.Handler) {
	m.ServeMux.Handle(pattern, handler)
	m.patterns = append(m.patterns, pattern)
}

// Patterns lists the registered patterns, sorted.
func (m *Mux) Patterns() []string { return slices.Sorted(slices.Values(m.patterns)) }
