package federation

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The fuzz targets use fixed keys and a fixed clock, so that a valid seed
// stays valid across runs and any crasher replays exactly.

var fuzzNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// fuzzEd25519 derives a fixed Ed25519 key from a label.
func fuzzEd25519(label string) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, label)
	return ed25519.NewKeyFromSeed(seed)
}

// fuzzIdPKey is a fixed IdP key (kid its thumbprint, alg EdDSA).
func fuzzIdPKey(t testing.TB, label string) jwk.Key {
	t.Helper()
	k, err := jwk.Import(fuzzEd25519(label))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(
		k.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp)),
		k.Set(jwk.AlgorithmKey, jwa.EdDSA()),
	); err != nil {
		t.Fatal(err)
	}
	return k
}

func FuzzVerifyToken(f *testing.F) {
	key := fuzzIdPKey(f, "fsenet fuzz idp 030")
	other := fuzzIdPKey(f, "fsenet fuzz idp 150")
	v := &Verifier{
		Lookup: staticLookup(map[string]IssuerKeys{
			issLombardia: {Region: "030", Keys: mustJWKS(f, key)},
			issCampania:  {Region: "150", Keys: mustJWKS(f, other)},
		}),
		Now: func() time.Time { return fuzzNow },
	}
	want := Claims{
		Issuer: issLombardia, Subject: "RSSMRA80A01F205X", Audience: []string{TokenAudience},
		IssuedAt: fuzzNow.Add(-time.Minute), NotBefore: fuzzNow.Add(-time.Minute), Expiry: fuzzNow.Add(time.Hour),
		ID: "fuzz-1", SubjectRole: "AAS", OrganizationID: "030", Organization: "ASST Milano",
		PurposeOfUse: "TREATMENT", PersonID: "VRDLGU75C12H501Y", PatientConsent: true, ActionID: "READ",
	}
	good := mustIssue(f, key, want)
	if got, err := v.Verify(good); err != nil || !reflect.DeepEqual(got, want) {
		f.Fatalf("seed token: %+v %v", got, err)
	}
	parts := strings.Split(good, ".")
	kid, _ := key.KeyID()
	crossRegion := want
	crossRegion.OrganizationID = "150"

	f.Add(good)
	f.Add(mustIssue(f, key, crossRegion))
	f.Add(mustIssue(f, other, want))
	f.Add(b64(`{"alg":"none","typ":"JWT","kid":"`+kid+`"}`) + "." + parts[1] + ".")
	f.Add(hs256(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`, parts[1], fuzzEd25519("fsenet fuzz idp 030").Public().(ed25519.PublicKey)))
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(b64(`{"alg":"EdDSA","kid":"`+kid+`"}`) + "." + b64(`{"iss":"`+issLombardia+`"}`) + "." + parts[2])
	f.Add("\x00\xff" + strings.Repeat(".", 5))

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf("claims returned with an error: %+v", c)
			}
			return
		}
		// Only the seed's signed claims exist, so an accepted token can
		// carry nothing else; check the required claims all the same.
		if c.Issuer == "" || c.Subject == "" || c.ID == "" || c.IssuedAt.IsZero() || c.Expiry.IsZero() ||
			!slices.Contains(c.Audience, TokenAudience) || !slices.Contains(subjectRoles, c.SubjectRole) ||
			!slices.Contains(purposesOfUse, c.PurposeOfUse) || c.OrganizationID != "030" {
			t.Fatalf("accepted token lacks required claims: %+v", c)
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("forged claims accepted: %+v", c)
		}
	})
}

func FuzzParseJWKS(f *testing.F) {
	ed := fuzzIdPKey(f, "fsenet fuzz jwks")
	pub, err := ed.PublicKey()
	if err != nil {
		f.Fatal(err)
	}
	good := mustJSON(f, mustJWKS(f, ed))
	f.Add(good)
	f.Add(mustJSON(f, map[string]any{"keys": []any{ed}}))
	f.Add(mustJSON(f, pub))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"e","alg":"ES256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","alg":"RS256","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := ParseJWKS(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidJWKS) || set != nil {
				t.Fatalf("set %v, err %v", set, err)
			}
			return
		}
		if n := set.Len(); n < 1 || n > maxJWKSKeys {
			t.Fatalf("accepted %d keys", n)
		}
		kids := map[string]bool{}
		for i := range set.Len() {
			k, _ := set.Key(i)
			kid, _ := k.KeyID()
			if kid == "" || kids[kid] {
				t.Fatalf("key #%d: kid %q empty or repeated", i, kid)
			}
			kids[kid] = true
			if private, err := jwk.IsPrivateKey(k); err != nil || private {
				t.Fatalf("key %q: private or symmetric (%v)", kid, err)
			}
			if _, err := keyAlgorithm(k); err != nil {
				t.Fatalf("key %q accepted: %v", kid, err)
			}
		}
		// What was accepted must survive being published again.
		again, err := ParseJWKS(mustJSON(t, set))
		if err != nil || again.Len() != set.Len() {
			t.Fatalf("re-published set refused: %v", err)
		}
	})
}

// FuzzCertificateFixedKey fuzzes VerifyCertificate with a fixed authority
// key and clock, so that the valid seed keeps verifying and a crash found
// past the signature check replays.
func FuzzCertificateFixedKey(f *testing.F) {
	priv := fuzzEd25519("fsenet fuzz authority")
	pub := priv.Public().(ed25519.PublicKey)
	p, err := peer.Decode("12D3KooWSyLcmXW5hXujtRMurUXdoGgSHEgGH8qxhNdkSN5u1yvf")
	if err != nil {
		f.Fatal(err)
	}
	want := Certificate{
		ID: "fuzz-cert", Region: "030", Name: "Lombardia", Peer: p, Role: RoleVoter,
		Addrs:    []string{"/ip4/127.0.0.1/udp/4001/quic-v1"},
		IssuedAt: fuzzNow.Add(-time.Minute), NotBefore: fuzzNow.Add(-time.Minute), Expiry: fuzzNow.Add(time.Hour),
	}
	good, _, err := IssueCertificate(priv, want)
	if err != nil {
		f.Fatal(err)
	}
	if got, err := VerifyCertificate(good, pub, fuzzNow); err != nil || !reflect.DeepEqual(got, want) {
		f.Fatalf("seed certificate: %+v %v", got, err)
	}
	rev, _, err := IssueRevocation(priv, Revocation{ID: "fuzz-rev", Region: "030", Peer: p, IssuedAt: fuzzNow})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(rev)
	f.Add(b64(`{"alg":"none"}`) + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("a.b.c")
	f.Add("")
	f.Add(strings.Repeat("A", 17<<10))

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := VerifyCertificate(tok, pub, fuzzNow)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error %v does not wrap ErrInvalidCertificate", err)
			}
			return
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("forged certificate accepted: %+v", c)
		}
	})
}
