package mhd

import (
	"net/http/httptest"
	"testing"
)

func TestWantsResource(t *testing.T) {
	tests := []struct {
		accept, query string
		want          bool
	}{
		{"", "", false},
		{"*/*", "", false},
		{"application/pdf", "", false},
		{"application/fhir+json", "", true},
		{"application/fhir+json; fhirVersion=4.0", "", true},
		{"text/html, APPLICATION/FHIR+JSON;q=0.9", "", true},
		{"application/json+fhir", "", true},
		{"application/json", "", false},
		{"", "_format=json", true},
		{"", "_format=application/fhir%2Bjson", true},
		{"", "_format=application/fhir+json", false}, // an unescaped + is a space
		{"", "_format=xml", false},
	}
	for _, tt := range tests {
		t.Run(tt.accept+"?"+tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/fhir/Binary/x?"+tt.query, nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			if got := wantsResource(r); got != tt.want {
				t.Fatalf("wantsResource = %v, want %v", got, tt.want)
			}
		})
	}
}
