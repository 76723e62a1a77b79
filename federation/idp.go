package federation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// A region's identity provider signs the tokens of its operators with a
// private JWK; the region publishes the public half as a JWKS, which the
// federation registers under the IdP's issuer name. Only asymmetric keys
// are ever accepted: a symmetric (HMAC) key would let anyone who can verify
// a token also forge one.

// AuthorityKeyID is the kid of the national authority's key when it signs
// tokens (see AuthorityJWK).
const AuthorityKeyID = AuthorityIssuer

// Limits of a published JWKS.
const (
	maxJWKSSize  = 64 << 10
	maxJWKSKeys  = 16
	maxIdPKeyLen = 64 << 10
	minRSABits   = 2048
	maxRSABits   = 8192
)

// ErrInvalidJWKS is returned (wrapped) by ParseJWKS for a key set it
// refuses.
var ErrInvalidJWKS = errors.New("federation: invalid JWKS")

// privateMembers are the JWK members that carry secret material (RFC 7518
// §6.2.2, §6.3.2, §6.4; RFC 8037 "d").
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// GenerateIdPKey creates an Ed25519 private JWK (alg EdDSA, kid the
// base64url RFC 7638 SHA-256 thumbprint) and writes it as JSON to path with
// mode 0600. An existing file is never overwritten.
func GenerateIdPKey(path string) (jwk.Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.EdDSA()); err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("idp key: thumbprint: %w", err)
	}
	if err := key.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(tp)); err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	data, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	if err := writeNew(path, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("idp key %s: %w", path, err)
	}
	return key, nil
}

// writeNew writes a file that must not exist yet, whole or not at all: a
// process killed while writing leaves no file, or a half-written
// temporary one beside it, never a truncated key at path. The data goes
// to a temporary file, made durable, then linked to path, which fails if
// path exists.
func writeNew(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		defer d.Close()
		return d.Sync()
	}
	return nil
}

// LoadIdPKey reads a private JWK written by GenerateIdPKey (or any private
// asymmetric JWK with a kid and a matching alg). A missing file keeps its
// fs.ErrNotExist.
func LoadIdPKey(path string) (jwk.Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idp key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdPKeyLen+1))
	if err != nil {
		return nil, fmt.Errorf("idp key %s: %w", path, err)
	}
	if len(data) > maxIdPKeyLen {
		return nil, fmt.Errorf("idp key %s: larger than %d bytes", path, maxIdPKeyLen)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("idp key %s: not JSON", path)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("idp key %s: not a JWK: %w", path, err)
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || !private {
		return nil, fmt.Errorf("idp key %s: not an asymmetric private key (kty %s)", path, key.KeyType())
	}
	if kid, _ := key.KeyID(); kid == "" {
		return nil, fmt.Errorf("idp key %s: no kid", path)
	}
	if _, err := keyAlgorithm(key); err != nil {
		return nil, fmt.Errorf("idp key %s: %w", path, err)
	}
	return key, nil
}

// PublicJWKS returns the public JWK set of the given private or public
// keys, each keeping its kid and alg. Every key must be asymmetric with a
// kid and an alg that suits it; kids must be unique.
func PublicJWKS(keys ...jwk.Key) (jwk.Set, error) {
	set := jwk.NewSet()
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("jwks: key #%d is nil", i)
		}
		kid, _ := k.KeyID()
		if kid == "" {
			return nil, fmt.Errorf("jwks: key #%d has no kid", i)
		}
		if seen[kid] {
			return nil, fmt.Errorf("jwks: duplicate kid %q", kid)
		}
		seen[kid] = true
		if _, err := keyAlgorithm(k); err != nil {
			return nil, fmt.Errorf("jwks: key %q: %w", kid, err)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("jwks: key %q: %w", kid, err)
		}
		for _, m := range privateMembers {
			if pub.Has(m) {
				return nil, fmt.Errorf("jwks: key %q: public form still has %q", kid, m)
			}
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("jwks: key %q: %w", kid, err)
		}
	}
	return set, nil
}

// ParseJWKS parses and validates a JWKS as published by a region: at most
// 64 KiB, 1 to 16 keys, each public only, asymmetric (OKP Ed25519, EC
// P-256/P-384, RSA of 2048 to 8192 bits; never "oct"), with a non-empty
// unique kid, an alg suited to the key type and, when present, use "sig".
// Every refusal wraps ErrInvalidJWKS.
func ParseJWKS(b []byte) (jwk.Set, error) {
	set, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJWKS, err)
	}
	return set, nil
}

func parseJWKS(b []byte) (jwk.Set, error) {
	if len(b) > maxJWKSSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(b), maxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JSON key set: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the key set")
	}
	switch n := len(doc.Keys); {
	case n == 0:
		return nil, errors.New("no keys")
	case n > maxJWKSKeys:
		return nil, fmt.Errorf("%d keys, limit %d", n, maxJWKSKeys)
	}
	set := jwk.NewSet()
	seen := make(map[string]bool, len(doc.Keys))
	for i, raw := range doc.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, fmt.Errorf("key #%d: not a JSON object: %w", i, err)
		}
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, fmt.Errorf("key #%d: has private member %q", i, m)
			}
		}
		key, err := jwk.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("key #%d: %w", i, err)
		}
		if private, err := jwk.IsPrivateKey(key); err != nil || private {
			return nil, fmt.Errorf("key #%d: kty %s is not an asymmetric public key", i, key.KeyType())
		}
		kid, _ := key.KeyID()
		if kid == "" {
			return nil, fmt.Errorf("key #%d: no kid", i)
		}
		if seen[kid] {
			return nil, fmt.Errorf("key #%d: duplicate kid %q", i, kid)
		}
		seen[kid] = true
		if use, ok := key.KeyUsage(); ok && use != jwk.ForSignature.String() {
			return nil, fmt.Errorf("key %q: use %q, want sig", kid, use)
		}
		if ops, ok := key.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
			return nil, fmt.Errorf("key %q: key_ops %v lack verify", kid, ops)
		}
		if _, err := keyAlgorithm(key); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if err := set.AddKey(key); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
	}
	return set, nil
}

// AuthorityJWK wraps the authority's Ed25519 key (ed25519.PrivateKey or
// ed25519.PublicKey) as a jwk.Key with kid AuthorityKeyID and alg EdDSA, so
// that IssueToken and Verifier treat the authority as one more issuer
// (AuthorityIssuer).
func AuthorityJWK(key any) (jwk.Key, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("authority key: %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("authority key: %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	default:
		return nil, fmt.Errorf("authority key: %T, want an Ed25519 key", key)
	}
	jk, err := jwk.Import(key)
	if err != nil {
		return nil, fmt.Errorf("authority key: %w", err)
	}
	if err := errors.Join(
		jk.Set(jwk.KeyIDKey, AuthorityKeyID),
		jk.Set(jwk.AlgorithmKey, jwa.EdDSA()),
	); err != nil {
		return nil, fmt.Errorf("authority key: %w", err)
	}
	return jk, nil
}

// acceptedAlgorithms are the only signature algorithms of tokens: all
// asymmetric, never "none" nor HMAC.
func acceptedAlgorithms() []jwa.SignatureAlgorithm {
	return []jwa.SignatureAlgorithm{
		jwa.EdDSA(), jwa.EdDSAEd25519(), jwa.ES256(), jwa.ES384(),
		jwa.RS256(), jwa.RS384(), jwa.RS512(), jwa.PS256(), jwa.PS384(), jwa.PS512(),
	}
}

// keyAlgorithm returns the key's alg after checking that the key is of a
// kind the federation accepts and that the alg suits it.
func keyAlgorithm(k jwk.Key) (jwa.SignatureAlgorithm, error) {
	v, ok := k.Algorithm()
	if !ok {
		return jwa.SignatureAlgorithm{}, errors.New("no alg")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(v.String())
	if !ok {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("alg %q is not a signature algorithm", v)
	}
	allowed, err := algorithmsFor(k)
	if err != nil {
		return jwa.SignatureAlgorithm{}, err
	}
	if !slices.Contains(allowed, alg) {
		return jwa.SignatureAlgorithm{}, fmt.Errorf("alg %s does not suit the key (kty %s)", alg, k.KeyType())
	}
	return alg, nil
}

// algorithmsFor lists the signature algorithms accepted for k, after
// checking its curve or modulus size. It refuses symmetric keys.
func algorithmsFor(k jwk.Key) ([]jwa.SignatureAlgorithm, error) {
	if k.KeyType() == jwa.OctetSeq() {
		return nil, errors.New("symmetric (oct) keys are never accepted")
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	var raw any
	if err := jwk.Export(pub, &raw); err != nil {
		return nil, fmt.Errorf("key material: %w", err)
	}
	switch r := raw.(type) {
	case ed25519.PublicKey:
		if len(r) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(r))
		}
		return []jwa.SignatureAlgorithm{jwa.EdDSA(), jwa.EdDSAEd25519()}, nil
	case *ecdsa.PublicKey:
		if _, err := r.ECDH(); err != nil {
			return nil, fmt.Errorf("EC key: %w", err)
		}
		switch r.Curve {
		case elliptic.P256():
			return []jwa.SignatureAlgorithm{jwa.ES256()}, nil
		case elliptic.P384():
			return []jwa.SignatureAlgorithm{jwa.ES384()}, nil
		}
		return nil, fmt.Errorf("EC curve %s is not accepted", r.Curve.Params().Name)
	case *rsa.PublicKey:
		if bits := r.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, want %d to %d", bits, minRSABits, maxRSABits)
		}
		return []jwa.SignatureAlgorithm{
			jwa.RS256(), jwa.RS384(), jwa.RS512(), jwa.PS256(), jwa.PS384(), jwa.PS512(),
		}, nil
	}
	return nil, fmt.Errorf("key type %s (%T) is not accepted", k.KeyType(), raw)
}
