package federation

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func authority(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func sampleCert(t *testing.T) Certificate {
	return Certificate{
		Region: "030", Name: "Lombardia", Peer: randomPeer(t), Role: RoleVoter,
		Addrs:  []string{"/ip4/127.0.0.1/tcp/4001"},
		Expiry: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second),
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	pub, priv := authority(t)
	want := sampleCert(t)
	tok, issued, err := IssueCertificate(priv, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyCertificateFor(tok, pub, want.Peer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Region != "030" || got.Name != "Lombardia" || got.Peer != want.Peer || got.Role != RoleVoter ||
		len(got.Addrs) != 1 || !got.Expiry.Equal(want.Expiry) || got.ID != issued.ID || got.ID == "" {
		t.Fatalf("verified %+v, issued %+v", got, issued)
	}
}

// b64 is the unpadded URL-safe base64 of JWS segments.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCertificateAttacksAreRefused(t *testing.T) {
	pub, priv := authority(t)
	_, otherPriv := authority(t)
	c := sampleCert(t)
	good, _, err := IssueCertificate(priv, c)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])

	signedByOther, _, _ := IssueCertificate(otherPriv, c)
	expired := c
	expired.IssuedAt = time.Now().Add(-48 * time.Hour)
	expired.Expiry = time.Now().Add(-24 * time.Hour)
	expiredTok, _, _ := IssueCertificate(priv, expired)
	future := c
	future.IssuedAt = time.Now()
	future.NotBefore = time.Now().Add(time.Hour)
	future.Expiry = time.Now().Add(48 * time.Hour)
	futureTok, _, _ := IssueCertificate(priv, future)
	revTok, _, _ := IssueRevocation(priv, Revocation{Region: "030", Peer: c.Peer, Reason: "x"})

	// HS256 with the authority's public key as the HMAC secret.
	hsHeader := b64(`{"alg":"HS256","typ":"JWT"}`)
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hsTok := hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	tampered := strings.Replace(string(payload), `"role":"voter"`, `"role":"nonvoter"`, 1)
	if tampered == string(payload) {
		t.Fatal("test setup: role claim not found in payload")
	}

	cases := map[string]string{
		"alg none":                    b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".",
		"HS256 with public key":       hsTok,
		"signed by another authority": signedByOther,
		"expired":                     expiredTok,
		"not yet valid":               futureTok,
		"tampered claims":             parts[0] + "." + b64(tampered) + "." + parts[2],
		"revocation as certificate":   revTok,
		"garbage":                     "not.a.jwt",
		"empty":                       "",
		"huge":                        strings.Repeat("a", 20000),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifyCertificate(tok, pub, time.Now()); !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
		})
	}
	t.Run("another peer presents it", func(t *testing.T) {
		if _, err := VerifyCertificateFor(good, pub, randomPeer(t), time.Now()); !errors.Is(err, ErrInvalidCertificate) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestIssueRefusesBadCertificates(t *testing.T) {
	_, priv := authority(t)
	for name, mutate := range map[string]func(*Certificate){
		"region":  func(c *Certificate) { c.Region = "Lombardia" },
		"role":    func(c *Certificate) { c.Role = "admin" },
		"expiry":  func(c *Certificate) { c.Expiry = time.Time{} },
		"address": func(c *Certificate) { c.Addrs = []string{"127.0.0.1:4001"} },
		"peer":    func(c *Certificate) { c.Peer = "nope" },
	} {
		t.Run(name, func(t *testing.T) {
			c := sampleCert(t)
			mutate(&c)
			if _, _, err := IssueCertificate(priv, c); err == nil {
				t.Fatal("bad certificate issued")
			}
		})
	}
}

func TestRevocationRoundTrip(t *testing.T) {
	pub, priv := authority(t)
	p := randomPeer(t)
	tok, _, err := IssueRevocation(priv, Revocation{Region: "150", Peer: p, Reason: "key compromised"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyRevocation(tok, pub)
	if err != nil || r.Peer != p || r.Region != "150" || r.Reason != "key compromised" {
		t.Fatalf("%+v %v", r, err)
	}
	cert, _, _ := IssueCertificate(priv, sampleCert(t))
	if _, err := VerifyRevocation(cert, pub); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("certificate accepted as revocation: %v", err)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, err := GenerateKeyFile(filepath.Join(dir, "authority.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateKeyFile(filepath.Join(dir, "authority.key")); err == nil {
		t.Fatal("existing key overwritten")
	}
	back, err := LoadPrivateKeyFile(filepath.Join(dir, "authority.key"))
	if err != nil || !back.Equal(priv) {
		t.Fatalf("reload: %v", err)
	}
	pubPath := filepath.Join(dir, "authority.pub")
	if err := WritePublicKeyFile(pubPath, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKeyFile(pubPath)
	if err != nil || !pub.Equal(priv.Public()) {
		t.Fatalf("public key: %v", err)
	}
	if _, err := LoadPrivateKeyFile(pubPath); err == nil {
		t.Fatal("public key accepted as private")
	}
}

func FuzzVerifyCertificate(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	good, _, err := IssueCertificate(priv, Certificate{
		Region: "030", Name: "Lombardia", Peer: "12D3KooWSyLcmXW5hXujtRMurUXdoGgSHEgGH8qxhNdkSN5u1yvf",
		Role: RoleVoter, Expiry: time.Now().Add(time.Hour),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := VerifyCertificate(tok, pub, time.Now())
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error %v does not wrap ErrInvalidCertificate", err)
			}
			return
		}
		// Only the authority's own certificate can pass.
		if tok != good || c.Region != "030" {
			t.Fatalf("forged certificate accepted: %+v", c)
		}
	})
}

// A revocation's verdict does not depend on the verifier's clock: a
// replica whose clock is behind the authority's must accept it too.
func TestRevocationIgnoresClocks(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := randomPeer(t)
	tok, _, err := IssueRevocation(priv, Revocation{Region: "030", Peer: p, Reason: "test", IssuedAt: time.Now().Add(time.Hour).Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := VerifyRevocation(tok, pub); err != nil || r.Peer != p {
		t.Fatalf("revocation issued by a clock an hour ahead: %+v %v", r, err)
	}
	// A membership certificate is not a revocation.
	cert, _, err := IssueCertificate(priv, Certificate{Region: "030", Name: "Lombardia", Peer: p, Role: RoleVoter, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyRevocation(cert, pub); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("certificate accepted as a revocation: %v", err)
	}
}
