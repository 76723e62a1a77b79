package federation

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTokenRefusalReasons checks that each kind of refused token is
// counted under its own reason, one of the fixed set.
func TestTokenRefusalReasons(t *testing.T) {
	keyA, keyB := newIdPKey(t), newIdPKey(t)
	reg := map[string]IssuerKeys{
		issLombardia: {Region: "030", Keys: mustJWKS(t, keyA)},
		issCampania:  {Region: "150", Keys: mustJWKS(t, keyB)},
	}
	var got []string
	v := &Verifier{Lookup: staticLookup(reg), Refused: func(r string) { got = append(got, r) }}
	good := mustIssue(t, keyA, tokenClaims())
	parts := strings.Split(good, ".")
	past := tokenClaims()
	past.IssuedAt, past.Expiry = past.IssuedAt.Add(-3*time.Hour), past.IssuedAt.Add(-2*time.Hour)
	future := tokenClaims()
	future.NotBefore = future.IssuedAt.Add(30 * time.Minute)
	unknown := tokenClaims()
	unknown.Issuer = "https://idp.unknown.example"
	otherRegion := tokenClaims()
	otherRegion.OrganizationID = "150"

	tests := []struct {
		name, token, want string
	}{
		{"garbage", "not-a-token", RefusedMalformed},
		{"too large", strings.Repeat("a", maxTokenSize+1), RefusedMalformed},
		{"signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), RefusedSignature},
		{"signed by another issuer's key", signJSON(t, keyB, claimsMap(t, good), nil), RefusedUnknownKey},
		{"unknown issuer", mustIssue(t, keyA, unknown), RefusedUnknownIssuer},
		{"expired", mustIssue(t, keyA, past), RefusedExpired},
		{"not yet valid", mustIssue(t, keyA, future), RefusedNotYetValid},
		{"audience", resign(t, keyA, tokenClaims(), func(c map[string]any) { c["aud"] = []string{"someone-else"} }), RefusedAudience},
		{"missing claim", resign(t, keyA, tokenClaims(), func(c map[string]any) { delete(c, "subject_role") }), RefusedClaims},
		{"unknown role", resign(t, keyA, tokenClaims(), func(c map[string]any) { c["subject_role"] = "KING" }), RefusedClaims},
		{"region", mustIssue(t, keyA, otherRegion), RefusedRegion},
		{"algorithm", hs256(`{"alg":"HS256","typ":"JWT","kid":"x"}`, parts[1], []byte("secret")), RefusedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			_, err := v.Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
			if r := RefusalReason(err); r != tt.want {
				t.Fatalf("RefusalReason(%v) = %q, want %q", err, r, tt.want)
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("Refused told %q, want [%s]", got, tt.want)
			}
			if !slices.Contains(TokenRefusalReasons, got[0]) {
				t.Fatalf("reason %q is not in TokenRefusalReasons", got[0])
			}
		})
	}
	got = nil
	if _, err := v.Verify(good); err != nil || len(got) != 0 {
		t.Fatalf("a good token: %v, Refused told %q", err, got)
	}
}
