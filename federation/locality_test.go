package federation

import (
	"errors"
	"strings"
	"testing"
)

// locality is the code of the subject's structure or ASL: issued, verified
// and read back when well formed; refused by IssueToken and by Verify
// when not.
func TestLocalityClaim(t *testing.T) {
	key := newIdPKey(t)
	v := &Verifier{Lookup: staticLookup(map[string]IssuerKeys{issLombardia: {Region: "030", Keys: mustJWKS(t, key)}})}
	tests := []struct {
		locality string
		ok       bool
	}{
		{"030901", true},
		{"120148", true},
		{"030-ASST-PROVA", true},
		{"2.16.840.1.113883.2.9.4.1.2", true},
		{"asl_1", true},
		{strings.Repeat("9", MaxLocalityLen), true},
		{strings.Repeat("9", MaxLocalityLen+1), false},
		{"ASST Santi Paolo e Carlo", false}, // a name, not a code
		{"-030901", false},
		{".", false},
		{"030901\n", false},
		{"030^901", false},
		{"ÀSL", false},
		{"030901\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.locality, func(t *testing.T) {
			if got := ValidLocality(tt.locality); got != tt.ok {
				t.Fatalf("ValidLocality = %v, want %v", got, tt.ok)
			}
			c := tokenClaims()
			c.Locality = tt.locality
			tok, err := IssueToken(key, c)
			if !tt.ok {
				if err == nil {
					t.Fatal("issued")
				}
				// Signed by the issuer all the same: the verifier refuses it.
				bad := resign(t, key, tokenClaims(), func(m map[string]any) { m["locality"] = tt.locality })
				if _, err := v.Verify(bad); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("verified: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok)
			if err != nil || got.Locality != tt.locality {
				t.Fatalf("verified %q, %v", got.Locality, err)
			}
		})
	}
	// A token without locality is valid: it only names no structure.
	got, err := v.Verify(mustIssue(t, key, tokenClaims()))
	if err != nil || got.Locality != "" {
		t.Fatalf("no locality: %q, %v", got.Locality, err)
	}
	// A locality that is not a string is refused.
	bad := resign(t, key, tokenClaims(), func(m map[string]any) { m["locality"] = 30901 })
	if _, err := v.Verify(bad); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("numeric locality verified: %v", err)
	}
}
