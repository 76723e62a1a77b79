package federation

import (
	"errors"
	"testing"
	"time"
)

// A cached token is answered again without its signature being checked,
// but not once it has expired, nor once its issuer no longer holds the
// key that signed it; a token that fails verification is never cached.
func TestTokenCache(t *testing.T) {
	key, other := newIdPKey(t), newIdPKey(t)
	keys := map[string]IssuerKeys{issLombardia: {Region: "030", Keys: mustJWKS(t, key)}}
	now := time.Now()
	v := &Verifier{Lookup: staticLookup(keys), Cache: NewTokenCache(4), Now: func() time.Time { return now }}
	c := tokenClaims()
	tok := mustIssue(t, key, c)
	for i := range 3 {
		if got, err := v.Verify(tok); err != nil || got.Subject != c.Subject {
			t.Fatalf("verification %d: %v %v", i, got, err)
		}
	}
	if _, ok := v.Cache.get(sha256Of(tok)); !ok {
		t.Fatal("a verified token is not cached")
	}
	forged := tok[:len(tok)-4] + "AAAA"
	if _, err := v.Verify(forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a forged signature: %v", err)
	}
	if _, ok := v.Cache.get(sha256Of(forged)); ok {
		t.Fatal("a refused token is cached")
	}
	// The issuer rotates to another key: the cached token is no longer good.
	keys[issLombardia] = IssuerKeys{Region: "030", Keys: mustJWKS(t, other)}
	if _, err := v.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of a key the issuer dropped: %v", err)
	}
	keys[issLombardia] = IssuerKeys{Region: "030", Keys: mustJWKS(t, key)}
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	now = c.Expiry.Add(time.Minute)
	if _, err := v.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("an expired cached token: %v", err)
	}
	// Bounded: older tokens leave as new ones come.
	now = time.Now()
	for i := range 10 {
		c := tokenClaims()
		c.ID = string(rune('a' + i))
		if _, err := v.Verify(mustIssue(t, key, c)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.Cache.cur) + len(v.Cache.old); n > 4 {
		t.Fatalf("%d tokens cached, at most 4", n)
	}
}
