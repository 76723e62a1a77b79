package federation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// jwkJSON is the JSON object of a key, as a map to edit.
func jwkJSON(t testing.TB, k jwk.Key) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// jwksOf marshals key objects as a JWKS document.
func jwksOf(t testing.TB, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rsaJWK is the public JWK object of an RSA modulus of the given bits
// (built by hand: the modulus need not be a real key to be refused).
func rsaJWK(bits int, kid string) map[string]any {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1))
	return map[string]any{
		"kty": "RSA", "kid": kid, "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(n.Bytes()), "e": "AQAB",
	}
}

// importJWK wraps a raw key as a JWK with kid and alg.
func importJWK(t testing.TB, raw any, kid string, alg jwa.SignatureAlgorithm) jwk.Key {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseJWKS(t *testing.T) {
	ed := newIdPKey(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := func(k jwk.Key) map[string]any {
		p, err := k.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		return jwkJSON(t, p)
	}
	edPub := pub(ed)
	ecPub := pub(importJWK(t, &ecKey.PublicKey, "ec-1", jwa.ES256()))
	ec384Pub := pub(importJWK(t, &ec384.PublicKey, "ec-384", jwa.ES384()))
	rsaPub := pub(importJWK(t, &rsaKey.PublicKey, "rsa-1", jwa.PS256()))
	with := func(m map[string]any, kv ...any) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	many := make([]map[string]any, 17)
	for i := range many {
		many[i] = with(edPub, "kid", strings.Repeat("k", i+1))
	}

	t.Run("accepts a good set", func(t *testing.T) {
		set, err := ParseJWKS(jwksOf(t, edPub, ecPub, ec384Pub, rsaPub, with(edPub, "kid", "ed-2", "use", "sig", "alg", "Ed25519")))
		if err != nil {
			t.Fatal(err)
		}
		if set.Len() != 5 {
			t.Fatalf("%d keys", set.Len())
		}
		kid, _ := ed.KeyID()
		k, ok := set.LookupKeyID(kid)
		if !ok {
			t.Fatal("Ed25519 key missing")
		}
		if alg, _ := k.Algorithm(); alg != jwa.EdDSA() {
			t.Fatalf("alg %v", alg)
		}
	})

	for _, tc := range []struct {
		name string
		doc  []byte
	}{
		{"private Ed25519 key", jwksOf(t, jwkJSON(t, ed))},
		{"private EC key", jwksOf(t, jwkJSON(t, importJWK(t, ecKey, "ec-priv", jwa.ES256())))},
		{"private RSA key", jwksOf(t, jwkJSON(t, importJWK(t, rsaKey, "rsa-priv", jwa.RS256())))},
		{"private member only", jwksOf(t, with(edPub, "d", "AAAA"))},
		{"RSA factor", jwksOf(t, with(rsaPub, "p", "AAAA"))},
		{"oct key", jwksOf(t, map[string]any{"kty": "oct", "kid": "h", "alg": "HS256", "k": "c2VjcmV0"})},
		{"oct key without k", jwksOf(t, map[string]any{"kty": "oct", "kid": "h", "alg": "HS256"})},
		{"missing kid", jwksOf(t, with(edPub, "kid", nil))},
		{"empty kid", jwksOf(t, with(edPub, "kid", ""))},
		{"duplicate kid", jwksOf(t, edPub, with(ecPub, "kid", edPub["kid"]))},
		{"missing alg", jwksOf(t, with(edPub, "alg", nil))},
		{"HMAC alg on Ed25519 key", jwksOf(t, with(edPub, "alg", "HS256"))},
		{"alg none", jwksOf(t, with(edPub, "alg", "none"))},
		{"ES256 on Ed25519 key", jwksOf(t, with(edPub, "alg", "ES256"))},
		{"ES384 on P-256 key", jwksOf(t, with(ecPub, "alg", "ES384"))},
		{"P-521 curve", jwksOf(t, pub(importJWK(t, &ec521.PublicKey, "ec-521", jwa.ES512())))},
		{"EC point off the curve", jwksOf(t, with(ecPub, "y", ecPub["x"]))},
		{"encryption key", jwksOf(t, with(edPub, "use", "enc"))},
		{"key_ops without verify", jwksOf(t, with(edPub, "key_ops", []string{"encrypt"}))},
		{"RSA 1024", jwksOf(t, rsaJWK(1024, "rsa-1024"))},
		{"RSA 16384", jwksOf(t, rsaJWK(16384, "rsa-16384"))},
		{"X25519 key", jwksOf(t, with(edPub, "crv", "X25519"))},
		{"unknown kty", jwksOf(t, with(edPub, "kty", "PQC"))},
		{"too many keys", jwksOf(t, many...)},
		{"no keys", []byte(`{"keys":[]}`)},
		{"no keys member", []byte(`{}`)},
		{"single key, not a set", mustJSON(t, edPub)},
		{"too big", append(jwksOf(t, edPub), []byte(strings.Repeat(" ", 64<<10))...)},
		{"not JSON", []byte("-----BEGIN PUBLIC KEY-----")},
		{"empty", nil},
		{"keys not an array", []byte(`{"keys":{}}`)},
		{"key not an object", []byte(`{"keys":["x"]}`)},
		{"trailing data", append(jwksOf(t, edPub), []byte(`{"keys":[]}`)...)},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			set, err := ParseJWKS(tc.doc)
			if !errors.Is(err, ErrInvalidJWKS) || set != nil {
				t.Fatalf("set %v, err = %v, want ErrInvalidJWKS", set, err)
			}
			t.Log(err)
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPublicJWKS(t *testing.T) {
	a, b := newIdPKey(t), newIdPKey(t)
	bPub, err := b.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set, err := PublicJWKS(a, bPub)
	if err != nil {
		t.Fatal(err)
	}
	doc := mustJSON(t, set)
	if strings.Contains(string(doc), `"d"`) {
		t.Fatalf("private material published: %s", doc)
	}
	back, err := ParseJWKS(doc)
	if err != nil {
		t.Fatalf("published set refused: %v", err)
	}
	for _, k := range []jwk.Key{a, b} {
		kid, _ := k.KeyID()
		got, ok := back.LookupKeyID(kid)
		if !ok {
			t.Fatalf("kid %q lost", kid)
		}
		if alg, _ := got.Algorithm(); alg != jwa.EdDSA() {
			t.Fatalf("kid %q: alg %v", kid, alg)
		}
	}

	noKid, _ := a.Clone()
	_ = noKid.Remove(jwk.KeyIDKey)
	oct := importJWK(t, []byte("0123456789abcdef0123456789abcdef"), "hmac", jwa.HS256())
	for name, keys := range map[string][]jwk.Key{
		"no kid":        {noKid},
		"duplicate kid": {a, a},
		"oct key":       {oct},
		"nil key":       {nil},
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := PublicJWKS(keys...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestIdPKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "idp.jwk")
	key, err := GenerateIdPKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("mode %o, want 600", mode)
	}
	kid, _ := key.KeyID()
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if kid != base64.RawURLEncoding.EncodeToString(tp) {
		t.Fatalf("kid %q is not the RFC 7638 thumbprint", kid)
	}
	if alg, _ := key.Algorithm(); alg != jwa.EdDSA() {
		t.Fatalf("alg %v", alg)
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		if _, err := GenerateIdPKey(path); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("err = %v, want fs.ErrExist", err)
		}
		after, _ := os.ReadFile(path)
		if string(before) != string(after) {
			t.Fatal("key file changed")
		}
	})
	t.Run("written whole, nothing left beside it", func(t *testing.T) {
		// The key is written to a temporary file and linked into place,
		// so a process killed while writing never leaves a truncated key.
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "idp.jwk" {
			t.Fatalf("the key's directory holds %v, want the key alone", entries)
		}
	})
	t.Run("loads back", func(t *testing.T) {
		back, err := LoadIdPKey(path)
		if err != nil {
			t.Fatal(err)
		}
		if !jwk.Equal(back, key) {
			t.Fatal("loaded key differs")
		}
		if k, _ := back.KeyID(); k != kid {
			t.Fatalf("kid %q", k)
		}
		if _, err := IssueToken(back, tokenClaims()); err != nil {
			t.Fatalf("loaded key cannot sign: %v", err)
		}
	})

	pub, _ := key.PublicKey()
	noKid := jwkJSON(t, key)
	delete(noKid, "kid")
	noAlg := jwkJSON(t, key)
	delete(noAlg, "alg")
	files := map[string][]byte{
		"empty":      {},
		"not JSON":   []byte("-----BEGIN PRIVATE KEY-----\n"),
		"truncated":  mustJSON(t, jwkJSON(t, key))[:20],
		"JSON array": []byte(`[1,2]`),
		"not a JWK":  []byte(`{"hello":"world"}`),
		"public key": mustJSON(t, pub),
		"no kid":     mustJSON(t, noKid),
		"no alg":     mustJSON(t, noAlg),
		"key set":    mustJSON(t, map[string]any{"keys": []any{jwkJSON(t, key)}}),
		"oct key":    []byte(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h","alg":"HS256"}`),
		"huge":       []byte(`{"kty":"OKP","x":"` + strings.Repeat("A", 70<<10) + `"}`),
	}
	for name, data := range files {
		t.Run("refuses "+name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".jwk")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if k, err := LoadIdPKey(p); err == nil {
				t.Fatalf("loaded %v", k)
			} else {
				t.Log(err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadIdPKey(filepath.Join(dir, "nope.jwk")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
}
