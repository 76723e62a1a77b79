package federation

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Issuers of the token tests.
const (
	issLombardia = "https://idp.lombardia.example"
	issCampania  = "https://idp.campania.example"
	issRevoked   = "https://idp.revoked.example"
)

// newIdPKey makes a region's IdP key in a temporary file.
func newIdPKey(t testing.TB) jwk.Key {
	t.Helper()
	k, err := GenerateIdPKey(filepath.Join(t.TempDir(), "idp.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJWKS(t testing.TB, keys ...jwk.Key) jwk.Set {
	t.Helper()
	s, err := PublicJWKS(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// staticLookup serves a fixed registry of issuers.
func staticLookup(reg map[string]IssuerKeys) KeyLookup {
	return func(iss string) (IssuerKeys, bool) {
		k, ok := reg[iss]
		return k, ok
	}
}

// tokenClaims are valid claims of an operator of region 030.
func tokenClaims() Claims {
	now := time.Now().UTC().Truncate(time.Second)
	return Claims{
		Issuer: issLombardia, Subject: "RSSMRA80A01F205X",
		IssuedAt: now, Expiry: now.Add(time.Hour),
		SubjectRole: "AAS", OrganizationID: "030", Organization: "ASST Milano",
		PurposeOfUse: "TREATMENT", PersonID: "VRDLGU75C12H501Y", PatientConsent: true,
		ActionID: "READ",
	}
}

func mustIssue(t testing.TB, key jwk.Key, c Claims) string {
	t.Helper()
	tok, err := IssueToken(key, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenParts decodes a compact token's header and claims.
func tokenParts(t testing.TB, tok string) (hdr, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, claims
}

// signJSON signs claims as a compact JWS with key, under the key's alg and
// with the given extra protected headers; a nil value removes a header. The
// key's kid goes into the header unless hdr sets "kid".
func signJSON(t testing.TB, key jwk.Key, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	alg, err := keyAlgorithm(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := key.Clone()
	if err != nil {
		t.Fatal(err)
	}
	_ = signer.Remove(jwk.KeyIDKey)
	h := jws.NewHeaders()
	kid, _ := key.KeyID()
	base := map[string]any{"typ": "JWT", "kid": kid}
	for k, v := range hdr {
		base[k] = v
	}
	for k, v := range base {
		if v == nil {
			continue
		}
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(alg, signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// resign issues c, lets mutate change its claims, and signs the result
// with key.
func resign(t testing.TB, key jwk.Key, c Claims, mutate func(map[string]any)) string {
	t.Helper()
	_, claims := tokenParts(t, mustIssue(t, key, c))
	mutate(claims)
	return signJSON(t, key, claims, nil)
}

func hs256(header, payload string, secret []byte) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(header))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(h + "." + payload))
	return h + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestTokenRoundTrip(t *testing.T) {
	key := newIdPKey(t)
	v := &Verifier{Lookup: staticLookup(map[string]IssuerKeys{
		issLombardia: {Region: "030", Keys: mustJWKS(t, key)},
	})}
	want := tokenClaims()
	want.NotBefore = want.IssuedAt
	want.ID = "5f1c0d2e-token"
	want.Audience = []string{TokenAudience, "https://fse.lombardia.example"}
	want.AttachmentHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	want.ResourceHL7Type = "('11502-2^^2.16.840.1.113883.6.1')"
	want.Locality, want.ApplicationID, want.ApplicationVendor, want.ApplicationVersion = "Milano", "LIS", "Fornitore", "4.2"
	tok := mustIssue(t, key, want)

	got, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("verified\n%+v\nissued\n%+v", got, want)
	}
	hdr, _ := tokenParts(t, tok)
	kid, _ := key.KeyID()
	if hdr["alg"] != "EdDSA" || hdr["kid"] != kid || hdr["typ"] != "JWT" || len(hdr) != 3 {
		t.Fatalf("header %v", hdr)
	}
}

func TestIssueTokenDefaults(t *testing.T) {
	key := newIdPKey(t)
	v := &Verifier{Lookup: staticLookup(map[string]IssuerKeys{
		issLombardia: {Region: "030", Keys: mustJWKS(t, key)},
	})}
	c := tokenClaims()
	c.IssuedAt, c.ID, c.Audience = time.Time{}, "", nil
	c.Expiry = time.Now().Add(time.Hour)
	c.PersonID, c.ActionID, c.Organization, c.PatientConsent = "", "", "", false
	a, b := mustIssue(t, key, c), mustIssue(t, key, c)
	ca, err := v.Verify(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := v.Verify(b)
	if err != nil {
		t.Fatal(err)
	}
	if ca.ID == "" || ca.ID == cb.ID {
		t.Errorf("token IDs %q and %q: want random", ca.ID, cb.ID)
	}
	if time.Since(ca.IssuedAt) > time.Minute || ca.IssuedAt.After(time.Now()) {
		t.Errorf("issued at %v, want now", ca.IssuedAt)
	}
	if !reflect.DeepEqual(ca.Audience, []string{TokenAudience}) {
		t.Errorf("audience %q", ca.Audience)
	}
	if ca.PersonID != "" || ca.ActionID != "" || ca.PatientConsent || !ca.NotBefore.IsZero() {
		t.Errorf("optional claims %+v", ca)
	}
}

func TestIssueTokenRefusesBadClaims(t *testing.T) {
	key := newIdPKey(t)
	for name, mutate := range map[string]func(*Claims){
		"empty issuer":     func(c *Claims) { c.Issuer = "" },
		"empty subject":    func(c *Claims) { c.Subject = "" },
		"missing expiry":   func(c *Claims) { c.Expiry = time.Time{} },
		"expiry before":    func(c *Claims) { c.Expiry = c.IssuedAt.Add(-time.Second) },
		"lifetime":         func(c *Claims) { c.Expiry = c.IssuedAt.Add(26 * time.Hour) },
		"nbf after expiry": func(c *Claims) { c.NotBefore = c.Expiry.Add(time.Second) },
		"unknown role":     func(c *Claims) { c.SubjectRole = "ADMIN" },
		"lowercase role":   func(c *Claims) { c.SubjectRole = "aas" },
		"unknown purpose":  func(c *Claims) { c.PurposeOfUse = "CURIOSITY" },
		"unknown action":   func(c *Claims) { c.ActionID = "PURGE" },
		"org id name":      func(c *Claims) { c.OrganizationID = "Lombardia" },
		"org id 2 digits":  func(c *Claims) { c.OrganizationID = "30" },
		"empty audience":   func(c *Claims) { c.Audience = []string{""} },
	} {
		t.Run(name, func(t *testing.T) {
			c := tokenClaims()
			mutate(&c)
			if tok, err := IssueToken(key, c); err == nil {
				t.Fatalf("issued %s", tok)
			}
		})
	}

	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	noKid, _ := key.Clone()
	_ = noKid.Remove(jwk.KeyIDKey)
	noAlg, _ := key.Clone()
	_ = noAlg.Remove(jwk.AlgorithmKey)
	wrongAlg, _ := key.Clone()
	_ = wrongAlg.Set(jwk.AlgorithmKey, jwa.ES256())
	oct, err := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	_ = oct.Set(jwk.KeyIDKey, "hmac")
	_ = oct.Set(jwk.AlgorithmKey, jwa.HS256())
	for name, k := range map[string]jwk.Key{
		"nil key": nil, "public key": pub, "no kid": noKid, "no alg": noAlg,
		"alg of another key type": wrongAlg, "HMAC key": oct,
	} {
		t.Run(name, func(t *testing.T) {
			if tok, err := IssueToken(k, tokenClaims()); err == nil {
				t.Fatalf("issued %s", tok)
			}
		})
	}
}

func TestTokenAttacksAreRefused(t *testing.T) {
	keyA, keyB, keyRevoked := newIdPKey(t), newIdPKey(t), newIdPKey(t)
	setA := mustJWKS(t, keyA)
	reg := map[string]IssuerKeys{
		issLombardia: {Region: "030", Keys: setA},
		issCampania:  {Region: "150", Keys: mustJWKS(t, keyB)},
	}
	revoked := map[string]bool{issRevoked: true}
	lookup := func(iss string) (IssuerKeys, bool) {
		if revoked[iss] {
			return IssuerKeys{Region: "090", Keys: mustJWKS(t, keyRevoked)}, false
		}
		return staticLookup(reg)(iss)
	}
	v := &Verifier{Lookup: lookup}

	now := time.Now().UTC().Truncate(time.Second)
	good := mustIssue(t, keyA, tokenClaims())
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("test setup: good token refused: %v", err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	kidA, _ := keyA.KeyID()
	kidB, _ := keyB.KeyID()

	// HMAC secrets an attacker can know: the raw public key and the JWKS.
	var rawPub ed25519.PublicKey
	pubA, _ := keyA.PublicKey()
	if err := jwk.Export(pubA, &rawPub); err != nil {
		t.Fatal(err)
	}
	jwksJSON, _ := json.Marshal(setA)
	jwkJSON, _ := json.Marshal(pubA)
	hsHeader := `{"alg":"HS256","typ":"JWT","kid":"` + kidA + `"}`

	tampered := strings.Replace(string(payload), `"subject_role":"AAS"`, `"subject_role":"DSA"`, 1)
	if tampered == string(payload) {
		t.Fatal("test setup: role claim not found in payload")
	}

	with := func(mutate func(*Claims)) Claims {
		c := tokenClaims()
		mutate(&c)
		return c
	}
	random := make([]byte, 512)
	_, _ = rand.Read(random)
	jsonJWS, err := jws.Sign([]byte(tokenPayload(t, good)), jws.WithJSON(), jws.WithKey(jwa.EdDSA(), keyA))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		tok  string
		v    *Verifier // nil: v
	}{
		{name: "alg none", tok: b64(`{"alg":"none","typ":"JWT","kid":"`+kidA+`"}`) + "." + parts[1] + "."},
		{name: "alg none without kid", tok: b64(`{"alg":"none"}`) + "." + parts[1] + "."},
		{name: "HS256 keyed with the public key", tok: hs256(hsHeader, parts[1], rawPub)},
		{name: "HS256 keyed with the JWKS", tok: hs256(hsHeader, parts[1], jwksJSON)},
		{name: "HS256 keyed with the JWK", tok: hs256(hsHeader, parts[1], jwkJSON)},
		{name: "expired", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.IssuedAt, c.Expiry = now.Add(-2*time.Hour), now.Add(-time.Hour)
		}))},
		{name: "expired beyond skew", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.IssuedAt, c.Expiry = now.Add(-2*time.Hour), now.Add(-31*time.Second)
		}))},
		{name: "not yet valid", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.NotBefore, c.Expiry = now.Add(time.Hour), now.Add(2*time.Hour)
		}))},
		{name: "issued in the future", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.IssuedAt, c.Expiry = now.Add(time.Hour), now.Add(2*time.Hour)
		}))},
		{name: "wrong audience", tok: mustIssue(t, keyA, with(func(c *Claims) { c.Audience = []string{"other"} }))},
		{name: "missing audience", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { delete(m, "aud") })},
		{name: "audience for another verifier", tok: good, v: &Verifier{Lookup: lookup, Audience: "fsenet-test"}},
		{name: "unknown issuer", tok: mustIssue(t, keyA, with(func(c *Claims) { c.Issuer = "https://idp.unknown.example" }))},
		{name: "revoked region's IdP", tok: mustIssue(t, keyRevoked, with(func(c *Claims) {
			c.Issuer, c.OrganizationID = issRevoked, "090"
		}))},
		{name: "tampered claims", tok: parts[0] + "." + b64(tampered) + "." + parts[2]},
		{name: "tampered header", tok: b64(`{"alg":"EdDSA","kid":"`+kidA+`","typ":"JWT","x":1}`) + "." + parts[1] + "." + parts[2]},
		{name: "signature of another token", tok: parts[0] + "." + parts[1] + "." + strings.Split(mustIssue(t, keyA, tokenClaims()), ".")[2]},
		{name: "region A's key claims region B", tok: mustIssue(t, keyA, with(func(c *Claims) { c.OrganizationID = "150" }))},
		{name: "issuer B signed with A's key", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.Issuer, c.OrganizationID = issCampania, "150"
		}))},
		{name: "issuer B signed with A's key under B's kid", tok: signJSON(t, keyA, map[string]any{
			"iss": issCampania, "sub": "RSSMRA80A01F205X", "aud": TokenAudience, "jti": "x",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"subject_role": "AAS", "subject_organization_id": "150", "purpose_of_use": "TREATMENT",
		}, map[string]any{"kid": kidB})},
		{name: "missing kid", tok: signJSON(t, keyA, claimsMap(t, good), map[string]any{"kid": nil})},
		{name: "unknown kid", tok: signJSON(t, keyA, claimsMap(t, good), map[string]any{"kid": "old-key"})},
		{name: "wrong typ", tok: signJSON(t, keyA, claimsMap(t, good), map[string]any{"typ": "at+jwt"})},
		{name: "critical extension", tok: signJSON(t, keyA, claimsMap(t, good), map[string]any{"crit": []string{"fsenet"}, "fsenet": true})},
		{name: "JSON serialization", tok: string(jsonJWS)},
		{name: "empty", tok: ""},
		{name: "three dots", tok: "a.b.c"},
		{name: "two dots only", tok: ".."},
		{name: "header only", tok: parts[0]},
		{name: "random bytes", tok: string(random)},
		{name: "huge but validly signed", tok: mustIssue(t, keyA, with(func(c *Claims) { c.Organization = strings.Repeat("x", 9<<10) }))},
		{name: "huge", tok: parts[0] + "." + strings.Repeat("A", 9<<10) + "." + parts[2]},
		{name: "lifetime beyond MaxLifetime", tok: mustIssue(t, keyA, with(func(c *Claims) {
			c.Expiry = c.IssuedAt.Add(2 * time.Hour)
		})), v: &Verifier{Lookup: lookup, MaxLifetime: time.Hour}},
		{name: "lifetime beyond default", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) {
			m["exp"] = now.Add(48 * time.Hour).Unix()
		})},
		{name: "unknown subject_role", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["subject_role"] = "ROOT" })},
		{name: "unknown purpose_of_use", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["purpose_of_use"] = "MARKETING" })},
		{name: "unknown action_id", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["action_id"] = "PURGE" })},
		{name: "subject_role not a string", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["subject_role"] = 7 })},
		{name: "patient_consent not a bool", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["patient_consent"] = "true" })},
		{name: "issuer not a string", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["iss"] = []string{issLombardia} })},
		{name: "issuer under another case", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["ISS"] = m["iss"]; delete(m, "iss") })},
		{name: "empty subject", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["sub"] = "" })},
		{name: "null subject", tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { m["sub"] = nil })},
		{name: "no lookup", tok: good, v: &Verifier{}},
		{name: "HMAC key in the registry", tok: hs256(`{"alg":"HS256","typ":"JWT","kid":"hmac"}`, parts[1], []byte("shared secret")),
			v: &Verifier{Lookup: staticLookup(map[string]IssuerKeys{issLombardia: {Region: "030", Keys: hmacSet(t, []byte("shared secret"))}})}},
	}
	for _, name := range requiredClaims {
		cases = append(cases, struct {
			name string
			tok  string
			v    *Verifier
		}{name: "missing " + name, tok: resign(t, keyA, tokenClaims(), func(m map[string]any) { delete(m, name) })})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vv := v
			if tc.v != nil {
				vv = tc.v
			}
			c, err := vv.Verify(tc.tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf("claims returned with an error: %+v", c)
			}
			t.Log(err)
		})
	}
}

// claimsMap returns the claims of a token as a map.
func claimsMap(t testing.TB, tok string) map[string]any {
	t.Helper()
	_, c := tokenParts(t, tok)
	return c
}

// tokenPayload returns the decoded payload of a compact token.
func tokenPayload(t testing.TB, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTokenSkew(t *testing.T) {
	key := newIdPKey(t)
	lookup := staticLookup(map[string]IssuerKeys{issLombardia: {Region: "030", Keys: mustJWKS(t, key)}})
	now := time.Now().UTC().Truncate(time.Second)
	c := tokenClaims()
	c.IssuedAt, c.Expiry = now.Add(-time.Hour), now.Add(-10*time.Second)
	justExpired := mustIssue(t, key, c)
	c = tokenClaims()
	c.IssuedAt, c.Expiry = now.Add(10*time.Second), now.Add(time.Hour)
	justIssued := mustIssue(t, key, c)

	for _, tc := range []struct {
		name string
		skew time.Duration
		ok   bool
	}{
		{"default skew", 0, true},
		{"one minute", time.Minute, true},
		{"no skew", -1, false},
		{"one second", time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Lookup: lookup, Skew: tc.skew, Now: func() time.Time { return now }}
			for _, tok := range []string{justExpired, justIssued} {
				_, err := v.Verify(tok)
				if (err == nil) != tc.ok {
					t.Fatalf("err = %v, want ok=%v", err, tc.ok)
				}
			}
		})
	}
}

func TestTokenKeyRotation(t *testing.T) {
	oldKey, newKey := newIdPKey(t), newIdPKey(t)
	c := tokenClaims()
	oldTok, newTok := mustIssue(t, oldKey, c), mustIssue(t, newKey, c)
	for _, tc := range []struct {
		name         string
		keys         []jwk.Key
		oldOK, newOK bool
	}{
		{"before rotation", []jwk.Key{oldKey}, true, false},
		{"both keys during rotation", []jwk.Key{oldKey, newKey}, true, true},
		{"old key removed", []jwk.Key{newKey}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Lookup: staticLookup(map[string]IssuerKeys{
				issLombardia: {Region: "030", Keys: mustJWKS(t, tc.keys...)},
			})}
			for _, x := range []struct {
				name string
				tok  string
				ok   bool
			}{{"old", oldTok, tc.oldOK}, {"new", newTok, tc.newOK}} {
				_, err := v.Verify(x.tok)
				if x.ok && err != nil {
					t.Errorf("%s key's token refused: %v", x.name, err)
				}
				if !x.ok && !errors.Is(err, ErrInvalidToken) {
					t.Errorf("%s key's token: err = %v, want ErrInvalidToken", x.name, err)
				}
			}
		})
	}
}

func TestAuthorityTokens(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := AuthorityJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	verifying, err := AuthorityJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := verifying.KeyID(); kid != AuthorityIssuer {
		t.Fatalf("kid %q", kid)
	}
	v := &Verifier{Lookup: staticLookup(map[string]IssuerKeys{
		AuthorityIssuer: {Region: "950", Keys: mustJWKS(t, verifying)},
	})}
	c := tokenClaims()
	c.Issuer, c.OrganizationID, c.SubjectRole, c.PurposeOfUse = AuthorityIssuer, "950", "GTW", "SYSADMIN"

	t.Run("authority token verifies", func(t *testing.T) {
		got, err := v.Verify(mustIssue(t, signer, c))
		if err != nil || got.Issuer != AuthorityIssuer || got.OrganizationID != "950" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("membership certificate is not a token", func(t *testing.T) {
		cert, _, err := IssueCertificate(priv, Certificate{
			Region: "030", Name: "Lombardia", Peer: randomPeer(t), Role: RoleVoter,
			Expiry: time.Now().Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(cert); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("public key cannot sign", func(t *testing.T) {
		if _, err := IssueToken(verifying, c); err == nil {
			t.Fatal("token signed with a public key")
		}
	})
	for name, k := range map[string]any{
		"nil": nil, "short key": ed25519.PublicKey(pub[:16]), "bytes": []byte(pub), "pointer": &pub,
	} {
		t.Run("AuthorityJWK refuses "+name, func(t *testing.T) {
			if _, err := AuthorityJWK(k); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// hmacSet is a key set holding a symmetric key, as a misconfigured registry
// might.
func hmacSet(t testing.TB, secret []byte) jwk.Set {
	t.Helper()
	k, err := jwk.Import(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(k.Set(jwk.KeyIDKey, "hmac"), k.Set(jwk.AlgorithmKey, jwa.HS256())); err != nil {
		t.Fatal(err)
	}
	s := jwk.NewSet()
	if err := s.AddKey(k); err != nil {
		t.Fatal(err)
	}
	return s
}
