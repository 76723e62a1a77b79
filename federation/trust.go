package federation

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Trust in the federation starts from the national authority's Ed25519
// key. The authority signs a membership certificate for each region's node
// and signs revocations; both are JWTs (alg EdDSA) that any node verifies
// with the authority's public key alone.

// Issuer and audience of every authority-signed token.
const (
	AuthorityIssuer = "fsenet-authority"
	FederationAud   = "fsenet"
)

// Claim names of the certificates and revocations.
const (
	claimKind   = "fsenet_kind" // "membership" or "revocation"
	claimRegion = "region"
	claimName   = "region_name"
	claimPeer   = "peer_id"
	claimRole   = "role"
	claimAddrs  = "addrs"
	claimReason = "reason"

	kindMembership = "membership"
	kindRevocation = "revocation"
)

// Roles a certificate grants.
const (
	RoleVoter    = "voter"
	RoleNonvoter = "nonvoter"
)

var (
	// ErrInvalidCertificate is returned for a certificate or revocation
	// that is malformed, not signed by the authority, of the wrong kind,
	// expired or not yet valid, or bound to another peer.
	ErrInvalidCertificate = errors.New("federation: invalid certificate")
)

// Certificate is a region's membership in the federation, as signed by the
// authority.
type Certificate struct {
	ID        string // jti, unique per certificate
	Region    string // ISTAT code
	Name      string
	Peer      peer.ID
	Role      string // RoleVoter or RoleNonvoter
	Addrs     []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
}

// Revocation withdraws a peer's membership for good.
type Revocation struct {
	ID       string
	Region   string
	Peer     peer.ID
	Reason   string
	IssuedAt time.Time
}

func (c Certificate) validate() error {
	switch {
	case !ValidRegionCode(c.Region):
		return fmt.Errorf("region code %q: want three digits", c.Region)
	case c.Name == "":
		return errors.New("region name is empty")
	case c.Peer == "":
		return errors.New("peer ID is empty")
	case c.Role != RoleVoter && c.Role != RoleNonvoter:
		return fmt.Errorf("role %q: want voter or nonvoter", c.Role)
	case !c.Expiry.After(c.NotBefore):
		return errors.New("expiry must be after the start of validity")
	}
	if _, err := peer.IDFromBytes([]byte(c.Peer)); err != nil {
		return fmt.Errorf("peer ID: %w", err)
	}
	for _, a := range c.Addrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("address %q: %w", a, err)
		}
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// IssueCertificate signs c with the authority's key. Empty ID and IssuedAt
// are filled in; NotBefore defaults to IssuedAt.
func IssueCertificate(authority ed25519.PrivateKey, c Certificate) (string, Certificate, error) {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now().UTC().Truncate(time.Second)
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if err := c.validate(); err != nil {
		return "", c, fmt.Errorf("certificate: %w", err)
	}
	addrs := c.Addrs
	if addrs == nil {
		addrs = []string{}
	}
	t, err := jwt.NewBuilder().
		Issuer(AuthorityIssuer).Audience([]string{FederationAud}).
		Subject(c.Region).JwtID(c.ID).
		IssuedAt(c.IssuedAt).NotBefore(c.NotBefore).Expiration(c.Expiry).
		Claim(claimKind, kindMembership).
		Claim(claimRegion, c.Region).Claim(claimName, c.Name).
		Claim(claimPeer, c.Peer.String()).Claim(claimRole, c.Role).
		Claim(claimAddrs, addrs).
		Build()
	if err != nil {
		return "", c, fmt.Errorf("certificate: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.EdDSA(), authority))
	if err != nil {
		return "", c, fmt.Errorf("certificate: sign: %w", err)
	}
	return string(signed), c, nil
}

// VerifyCertificate checks a certificate's signature against the
// authority's public key, its kind, issuer, audience and validity at now,
// and returns its content. Any failure wraps ErrInvalidCertificate.
func VerifyCertificate(token string, authority ed25519.PublicKey, now time.Time) (Certificate, error) {
	t, err := parseAuthorityToken(token, authority, now, kindMembership, true)
	if err != nil {
		return Certificate{}, err
	}
	var c Certificate
	var p string
	var addrs []any
	errs := []error{
		t.Get(claimRegion, &c.Region), t.Get(claimName, &c.Name), t.Get(claimPeer, &p),
		t.Get(claimRole, &c.Role), t.Get(claimAddrs, &addrs),
	}
	if err := errors.Join(errs...); err != nil {
		return Certificate{}, fmt.Errorf("%w: claims: %v", ErrInvalidCertificate, err)
	}
	if c.Peer, err = peer.Decode(p); err != nil {
		return Certificate{}, fmt.Errorf("%w: peer ID: %v", ErrInvalidCertificate, err)
	}
	for _, a := range addrs {
		s, ok := a.(string)
		if !ok {
			return Certificate{}, fmt.Errorf("%w: address %v is not a string", ErrInvalidCertificate, a)
		}
		c.Addrs = append(c.Addrs, s)
	}
	c.ID, _ = t.JwtID()
	c.IssuedAt, _ = t.IssuedAt()
	c.NotBefore, _ = t.NotBefore()
	c.Expiry, _ = t.Expiration()
	if sub, _ := t.Subject(); sub != c.Region {
		return Certificate{}, fmt.Errorf("%w: subject %q differs from region %q", ErrInvalidCertificate, sub, c.Region)
	}
	if err := c.validate(); err != nil {
		return Certificate{}, fmt.Errorf("%w: %v", ErrInvalidCertificate, err)
	}
	return c, nil
}

// VerifyCertificateFor verifies the certificate and that it was issued to
// peer p: a certificate presented by any other peer is refused.
func VerifyCertificateFor(token string, authority ed25519.PublicKey, p peer.ID, now time.Time) (Certificate, error) {
	c, err := VerifyCertificate(token, authority, now)
	if err != nil {
		return c, err
	}
	if c.Peer != p {
		return Certificate{}, fmt.Errorf("%w: issued to peer %s, presented by %s", ErrInvalidCertificate, c.Peer, p)
	}
	return c, nil
}

// IssueRevocation signs a revocation with the authority's key.
func IssueRevocation(authority ed25519.PrivateKey, r Revocation) (string, Revocation, error) {
	if r.ID == "" {
		r.ID = newID()
	}
	if r.IssuedAt.IsZero() {
		r.IssuedAt = time.Now().UTC().Truncate(time.Second)
	}
	if !ValidRegionCode(r.Region) {
		return "", r, fmt.Errorf("revocation: region code %q: want three digits", r.Region)
	}
	if _, err := peer.IDFromBytes([]byte(r.Peer)); err != nil {
		return "", r, fmt.Errorf("revocation: peer ID: %w", err)
	}
	t, err := jwt.NewBuilder().
		Issuer(AuthorityIssuer).Audience([]string{FederationAud}).
		Subject(r.Region).JwtID(r.ID).IssuedAt(r.IssuedAt).
		Claim(claimKind, kindRevocation).Claim(claimRegion, r.Region).
		Claim(claimPeer, r.Peer.String()).Claim(claimReason, r.Reason).
		Build()
	if err != nil {
		return "", r, fmt.Errorf("revocation: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.EdDSA(), authority))
	if err != nil {
		return "", r, fmt.Errorf("revocation: sign: %w", err)
	}
	return string(signed), r, nil
}

// VerifyRevocation checks a revocation's signature, issuer, audience and
// kind. A revocation does not expire and its check does not read the clock:
// every replica must reach the same verdict, whatever its clock says.
func VerifyRevocation(token string, authority ed25519.PublicKey) (Revocation, error) {
	t, err := parseAuthorityToken(token, authority, time.Time{}, kindRevocation, false)
	if err != nil {
		return Revocation{}, err
	}
	var r Revocation
	var p string
	if err := errors.Join(t.Get(claimRegion, &r.Region), t.Get(claimPeer, &p)); err != nil {
		return Revocation{}, fmt.Errorf("%w: claims: %v", ErrInvalidCertificate, err)
	}
	_ = t.Get(claimReason, &r.Reason)
	if r.Peer, err = peer.Decode(p); err != nil {
		return Revocation{}, fmt.Errorf("%w: peer ID: %v", ErrInvalidCertificate, err)
	}
	if !ValidRegionCode(r.Region) {
		return Revocation{}, fmt.Errorf("%w: region code %q", ErrInvalidCertificate, r.Region)
	}
	r.ID, _ = t.JwtID()
	r.IssuedAt, _ = t.IssuedAt()
	return r, nil
}

// parseAuthorityToken verifies the EdDSA signature with the authority key
// (no other algorithm is accepted, "none" included), the issuer, the
// audience and the kind claim, and the time claims when timed.
func parseAuthorityToken(token string, authority ed25519.PublicKey, now time.Time, kind string, timed bool) (jwt.Token, error) {
	if len(authority) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: no authority key", ErrInvalidCertificate)
	}
	if len(token) > 16<<10 {
		return nil, fmt.Errorf("%w: token of %d bytes", ErrInvalidCertificate, len(token))
	}
	opts := []jwt.ParseOption{jwt.WithKey(jwa.EdDSA(), authority)}
	if timed {
		opts = append(opts,
			jwt.WithValidate(true),
			jwt.WithIssuer(AuthorityIssuer),
			jwt.WithAudience(FederationAud),
			jwt.WithClaimValue(claimKind, kind),
			jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
			jwt.WithAcceptableSkew(30*time.Second),
			jwt.WithRequiredClaim("exp"), jwt.WithRequiredClaim("nbf"))
	} else {
		// Signature only; the claims that matter are checked below,
		// without any time validation.
		opts = append(opts, jwt.WithValidate(false))
	}
	t, err := jwt.ParseString(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCertificate, err)
	}
	if !timed {
		iss, _ := t.Issuer()
		aud, _ := t.Audience()
		var k string
		_ = t.Get(claimKind, &k)
		if iss != AuthorityIssuer || !slices.Contains(aud, FederationAud) || k != kind {
			return nil, fmt.Errorf("%w: issuer %q, audience %q, kind %q", ErrInvalidCertificate, iss, aud, k)
		}
	}
	return t, nil
}

// GenerateKeyFile creates an Ed25519 private key at path (PKCS #8 PEM, mode
// 0600) and returns it. An existing file is never overwritten.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return priv, f.Close()
}

// LoadPrivateKeyFile reads an Ed25519 private key written by
// GenerateKeyFile.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key file %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key file %s: %T, want an Ed25519 key", path, k)
	}
	return priv, nil
}

// WritePublicKeyFile writes pub as a PKIX PEM file (mode 0644).
func WritePublicKeyFile(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

// LoadPublicKeyFile reads an Ed25519 public key written by
// WritePublicKeyFile.
func LoadPublicKeyFile(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("public key file %s: not a PEM public key", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key file %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key file %s: %T, want an Ed25519 key", path, k)
	}
	return pub, nil
}
