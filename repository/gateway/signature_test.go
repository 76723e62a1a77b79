package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/pades"
)

// The region's signature policy: under "required" an unsigned PDF is
// refused with FIRMA-1 at validation and at publication, and nothing is
// kept; under "optional" (the default) it goes through. The signatures
// themselves are verified by repository/pades, whose tests sign PDFs.
func TestSignaturePolicy(t *testing.T) {
	e := newEnv(t)
	pdf := lab(t, "unsigned")
	e.gw.cfg.Signature.Policy = pades.Required
	for _, c := range []call{
		{method: http.MethodPost, path: "/v1/documents/validation", body: map[string]string{"activity": "VALIDATION"}, pdf: pdf},
		{method: http.MethodPost, path: "/v1/documents", body: pubBody("unsigned-1", "REF"), pdf: pdf},
	} {
		resp, b := e.do(c)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"rule":"FIRMA-1"`) {
			t.Fatalf("%s of an unsigned PDF under the required policy: %d %s", c.path, resp.StatusCode, b)
		}
	}
	if st, err := e.store.Stats(); err != nil || st.Documents != 0 {
		t.Fatalf("store after refusals: %+v %v", st, err)
	}
	e.gw.cfg.Signature.Policy = pades.Optional
	e.validate(pdf)
	resp, b := e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("unsigned-1", "REF"), pdf: pdf})
	e.mustStatus(resp, b, http.StatusCreated)
}
