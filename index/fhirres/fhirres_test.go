package fhirres

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

func TestBase(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://node.example:8080/fhir/Patient", nil)
	proxied := httptest.NewRequest("GET", "http://10.0.0.1/fhir/Patient", nil)
	proxied.Header.Set("X-Forwarded-Proto", "https") // not trusted
	secure := httptest.NewRequest("GET", "https://node.example/fhir/Patient", nil)
	secure.TLS = &tls.ConnectionState{}
	tests := []struct {
		name   string
		public string
		r      *http.Request
		want   string
	}{
		{"from the request", "", plain, "http://node.example:8080/fhir"},
		{"a forwarded header is not trusted", "", proxied, "http://10.0.0.1/fhir"},
		{"TLS", "", secure, "https://node.example/fhir"},
		{"public URL", "https://fse.regione.example", proxied, "https://fse.regione.example/fhir"},
		{"public URL with a path and a slash", "https://gw.example/regione/", proxied, "https://gw.example/regione/fhir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Base(tt.r, tt.public); got != tt.want {
				t.Fatalf("Base = %q, want %q", got, tt.want)
			}
		})
	}
}

// WriteBinary's output is a FHIR Binary the models read back, holding
// exactly the content, whatever the content and however it is read.
func TestWriteBinary(t *testing.T) {
	tests := []struct {
		name, contentType string
		content           []byte
	}{
		{"empty", "application/pdf", nil},
		{"binary", "application/pdf", []byte{0, 1, 2, 0xff, '"', '\\'}},
		{"a content type that needs escaping", `text/plain; x="a\b"`, []byte("ciao")},
		{"larger than a buffer", "application/fhir+json", bytes.Repeat([]byte("0123456789"), 100_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteBinary(&out, "abc", tt.contentType, iotest.OneByteReader(bytes.NewReader(tt.content))); err != nil {
				t.Fatal(err)
			}
			b, err := fhir.UnmarshalBinary(out.Bytes())
			if err != nil || b.Id == nil || *b.Id != "abc" || b.ContentType != tt.contentType {
				t.Fatalf("not the Binary: %v %s", err, out.String()[:min(out.Len(), 200)])
			}
			var raw struct{ ResourceType string }
			_ = json.Unmarshal(out.Bytes(), &raw)
			got := []byte{}
			if b.Data != nil {
				got, err = base64.StdEncoding.DecodeString(*b.Data)
			}
			if err != nil || !bytes.Equal(got, tt.content) || raw.ResourceType != "Binary" {
				t.Fatalf("data %d bytes (%v), want %d; resourceType %q", len(got), err, len(tt.content), raw.ResourceType)
			}
		})
	}
	if err := WriteBinary(&bytes.Buffer{}, "x", "a/b", iotest.ErrReader(errBoom)); err != errBoom {
		t.Fatalf("a failing content: %v", err)
	}
}

var errBoom = errors.New("disk gone")

func TestCapabilitiesMergeByResource(t *testing.T) {
	var c Capabilities
	c.Interactions(fhir.ResourceTypePatient, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead},
		SearchParam{"identifier", fhir.SearchParamTypeToken}, SearchParam{"family", fhir.SearchParamTypeString})
	c.Operation(fhir.ResourceTypePatient, "everything") // declared by another API
	c.Interactions(fhir.ResourceTypeBinary, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead})
	c.System(fhir.SystemRestfulInteractionTransaction)
	cs := c.Statement("test", "2026-12-04")
	rest := cs.Rest[0]
	if len(rest.Resource) != 2 || rest.Resource[0].Type != fhir.ResourceTypeBinary || rest.Resource[1].Type != fhir.ResourceTypePatient {
		t.Fatalf("resources %+v", rest.Resource)
	}
	p := rest.Resource[1]
	if len(p.Operation) != 1 || p.Operation[0].Name != "everything" || len(p.SearchParam) != 2 || p.SearchParam[0].Name != "family" {
		t.Fatalf("Patient %+v", p)
	}
	if len(rest.Interaction) != 1 || rest.Interaction[0].Code != fhir.SystemRestfulInteractionTransaction {
		t.Fatalf("system %+v", rest.Interaction)
	}
}
