package federation

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// An operator reaches a node with a token signed by the identity provider
// of the operator's region (or by the national authority). The token says
// who the operator is, for which organisation, in which role and for which
// purpose; the node checks it against the keys the federation registered
// for that issuer, and against the region that issuer speaks for.

// TokenAudience is the audience every fsenet token must carry.
const TokenAudience = "fsenet"

// Verifier defaults and limits.
const (
	maxTokenSize       = 8 << 10
	defaultTokenSkew   = 30 * time.Second
	defaultMaxLifetime = 25 * time.Hour
)

// Claim names of IHE IUA and of the FSE 2.0 gateway.
const (
	claimSubjectRole  = "subject_role"
	claimOrgID        = "subject_organization_id"
	claimOrganization = "subject_organization"
	claimPurpose      = "purpose_of_use"
	claimPersonID     = "person_id"
	claimConsent      = "patient_consent"
	claimAction       = "action_id"
	claimHash         = "attachment_hash"
	claimHL7Type      = "resource_hl7_type"
	claimLocality     = "locality"
	claimAppID        = "subject_application_id"
	claimAppVendor    = "subject_application_vendor"
	claimAppVersion   = "subject_application_version"
)

// requiredClaims must be present in every token.
var requiredClaims = []string{
	jwt.IssuerKey, jwt.SubjectKey, jwt.AudienceKey, jwt.ExpirationKey, jwt.IssuedAtKey,
	jwt.JwtIDKey, claimSubjectRole, claimOrgID, claimPurpose,
}

// subjectRoles are the values of subject_role the FSE 2.0 gateway defines.
var subjectRoles = []string{
	"AAS", "APR", "PSS", "INF", "FAR", "DSA", "DAM", "OAM", "ASS", "TUT", "ING",
	"GEN", "NOR", "DRS", "RSA", "MRP", "INI", "OGC", "OPI", "MDS", "GTW", "DAP",
}

// purposesOfUse are the values of purpose_of_use the FSE 2.0 gateway
// defines ("ACCESS UPDATE" changes a document's blinding).
var purposesOfUse = []string{
	"TREATMENT", "EMERGENCY", "PUBLICHEALTH", "SYSADMIN", "PERSONAL", "UPDATE", "ACCESS UPDATE",
}

// actionIDs are the values of action_id.
var actionIDs = []string{"CREATE", "READ", "UPDATE", "DELETE"}

// ErrInvalidToken is wrapped by every refusal of Verifier.Verify. The
// wrapped text says why, for the logs; a client is told only that its
// token is invalid.
var ErrInvalidToken = errors.New("federation: invalid token")

// Why a token is refused: a short, fixed set, for the node's count of
// refused tokens (RefusalReason).
const (
	RefusedMalformed     = "malformed"      // not a compact JWS with a JWT claims set, or too large
	RefusedAlgorithm     = "algorithm"      // an algorithm not accepted, or not the key's
	RefusedUnknownIssuer = "unknown_issuer" // an issuer the federation has no keys for
	RefusedUnknownKey    = "unknown_key"    // a kid the issuer has no key for
	RefusedSignature     = "signature"      // the signature does not verify
	RefusedExpired       = "expired"        // past exp
	RefusedNotYetValid   = "not_yet_valid"  // before nbf, or issued in the future
	RefusedAudience      = "audience"       // not for fsenet
	RefusedClaims        = "claims"         // a required claim missing, or a value the gateway does not define
	RefusedRegion        = "region"         // a region the issuer does not speak for
	RefusedOther         = "other"
)

// TokenRefusalReasons lists every reason RefusalReason returns.
var TokenRefusalReasons = []string{RefusedMalformed, RefusedAlgorithm, RefusedUnknownIssuer, RefusedUnknownKey,
	RefusedSignature, RefusedExpired, RefusedNotYetValid, RefusedAudience, RefusedClaims, RefusedRegion, RefusedOther}

// refusal is a refused token's error with its reason.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(reason string, err error) error { return &refusal{reason: reason, err: err} }

// RefusalReason is why Verify refused a token: one of TokenRefusalReasons.
func RefusalReason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return RefusedOther
}

// Claims are a token's claims, with the claim names of IHE IUA and the FSE
// 2.0 gateway. subject_organization is a name, which authorship never
// rests on; what identifies the subject's organisation is the region
// (subject_organization_id, bound to the issuer by Verifier) and the
// locality: the code of the structure or ASL (e.g. the Ministry's code of
// a hospital or of an ASL) as the region's identity provider asserts it.
type Claims struct {
	Issuer         string    // iss: the region's IdP (or AuthorityIssuer)
	Subject        string    // sub: the person's codice fiscale
	Audience       []string  // aud
	IssuedAt       time.Time // iat
	NotBefore      time.Time // nbf (optional)
	Expiry         time.Time // exp
	ID             string    // jti
	SubjectRole    string    // subject_role (AAS, APR, PSS, INF, FAR, ...)
	OrganizationID string    // subject_organization_id: region code
	Organization   string    // subject_organization: the organisation's name
	Locality       string    // locality: the code of the subject's structure or ASL (optional; ValidLocality)
	PurposeOfUse   string    // purpose_of_use: TREATMENT, EMERGENCY, ...
	PersonID       string    // person_id: the patient (optional)
	PatientConsent bool      // patient_consent
	ActionID       string    // action_id: CREATE, READ, UPDATE, DELETE (optional)

	// The claims that bind a producer's request to its content (the FSE
	// gateway's FSE-JWT-Signature token); all optional here, required by
	// the gateway.
	AttachmentHash     string // attachment_hash: SHA-256 of the file, hex
	ResourceHL7Type    string // resource_hl7_type: the document type
	ApplicationID      string // subject_application_id
	ApplicationVendor  string // subject_application_vendor
	ApplicationVersion string // subject_application_version
}

// validate checks the shape of the claims: what every token must carry and
// the values the gateway defines. Times against the clock are not its
// business.
func (c Claims) validate(maxLifetime time.Duration) error {
	switch {
	case c.Issuer == "":
		return errors.New("issuer is empty")
	case c.Subject == "":
		return errors.New("subject is empty")
	case len(c.Audience) == 0 || slices.Contains(c.Audience, ""):
		return fmt.Errorf("audience %q: want non-empty values", c.Audience)
	case c.ID == "":
		return errors.New("token ID is empty")
	case c.IssuedAt.IsZero():
		return errors.New("issued-at is missing")
	case c.Expiry.IsZero():
		return errors.New("expiry is missing")
	case !c.Expiry.After(c.IssuedAt):
		return errors.New("expiry must be after issued-at")
	case c.Expiry.Sub(c.IssuedAt) > maxLifetime:
		return fmt.Errorf("lifetime %s exceeds %s", c.Expiry.Sub(c.IssuedAt), maxLifetime)
	case !c.NotBefore.IsZero() && !c.Expiry.After(c.NotBefore):
		return errors.New("expiry must be after not-before")
	case !slices.Contains(subjectRoles, c.SubjectRole):
		return fmt.Errorf("subject_role %q is unknown", c.SubjectRole)
	case !ValidRegionCode(c.OrganizationID):
		return fmt.Errorf("subject_organization_id %q: want three digits", c.OrganizationID)
	case !slices.Contains(purposesOfUse, c.PurposeOfUse):
		return fmt.Errorf("purpose_of_use %q is unknown", c.PurposeOfUse)
	case c.ActionID != "" && !slices.Contains(actionIDs, c.ActionID):
		return fmt.Errorf("action_id %q is unknown", c.ActionID)
	case c.Locality != "" && !ValidLocality(c.Locality):
		return fmt.Errorf("locality %q: want a structure or ASL code of 1 to %d letters, digits, '.', '-' or '_'", clip(c.Locality), MaxLocalityLen)
	}
	return nil
}

// MaxLocalityLen bounds the locality claim.
const MaxLocalityLen = 64

// ValidLocality reports whether s is a well-formed locality: a structure
// or ASL code of 1 to MaxLocalityLen ASCII letters, digits, '.', '-' or
// '_', starting with a letter or a digit. No spaces: a name is never a
// locality.
func ValidLocality(s string) bool {
	if s == "" || len(s) > MaxLocalityLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= '0' && b <= '9', b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z':
		case i > 0 && (b == '.' || b == '-' || b == '_'):
		default:
			return false
		}
	}
	return true
}

// clip shortens a refused claim value for the error that names it.
func clip(s string) string {
	if len(s) > MaxLocalityLen+8 {
		return s[:MaxLocalityLen+8] + "..."
	}
	return s
}

// IssueToken signs c with an IdP private key (a jwk.Key with kid and alg
// set, as made by GenerateIdPKey, or AuthorityJWK of the authority's
// private key). Empty IssuedAt (now) and ID (random) are filled in;
// Audience defaults to TokenAudience. The protected header carries the
// key's alg, its kid and typ "JWT". Claims that Verifier would refuse for
// their shape are refused here.
func IssueToken(key jwk.Key, c Claims) (string, error) {
	if key == nil {
		return "", errors.New("token: no key")
	}
	kid, _ := key.KeyID()
	if kid == "" {
		return "", errors.New("token: key has no kid")
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || !private {
		return "", fmt.Errorf("token: key %q is not an asymmetric private key", kid)
	}
	alg, err := keyAlgorithm(key)
	if err != nil {
		return "", fmt.Errorf("token: key %q: %w", kid, err)
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now().UTC().Truncate(time.Second)
	}
	if c.ID == "" {
		c.ID = newID()
	}
	if len(c.Audience) == 0 {
		c.Audience = []string{TokenAudience}
	}
	if err := c.validate(defaultMaxLifetime); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	b := jwt.NewBuilder().
		Issuer(c.Issuer).Subject(c.Subject).Audience(c.Audience).
		IssuedAt(c.IssuedAt).Expiration(c.Expiry).JwtID(c.ID).
		Claim(claimSubjectRole, c.SubjectRole).Claim(claimOrgID, c.OrganizationID).
		Claim(claimPurpose, c.PurposeOfUse).Claim(claimConsent, c.PatientConsent)
	if !c.NotBefore.IsZero() {
		b = b.NotBefore(c.NotBefore)
	}
	if c.Organization != "" {
		b = b.Claim(claimOrganization, c.Organization)
	}
	if c.PersonID != "" {
		b = b.Claim(claimPersonID, c.PersonID)
	}
	if c.ActionID != "" {
		b = b.Claim(claimAction, c.ActionID)
	}
	for name, v := range map[string]string{claimHash: c.AttachmentHash, claimHL7Type: c.ResourceHL7Type,
		claimLocality: c.Locality, claimAppID: c.ApplicationID, claimAppVendor: c.ApplicationVendor, claimAppVersion: c.ApplicationVersion} {
		if v != "" {
			b = b.Claim(name, v)
		}
	}
	t, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := errors.Join(hdr.Set(jws.TypeKey, "JWT"), hdr.Set(jws.KeyIDKey, kid)); err != nil {
		return "", fmt.Errorf("token: header: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return string(signed), nil
}

// IssuerKeys are the keys registered for a token issuer and the region code
// the issuer speaks for.
type IssuerKeys struct {
	Region string
	Keys   jwk.Set
}

// KeyLookup returns the keys of an issuer; ok is false for an unknown (or
// revoked) issuer.
type KeyLookup func(issuer string) (IssuerKeys, bool)

// Verifier checks tokens against the keys of their issuers. Zero fields
// take their defaults; a Verifier is safe for concurrent use when its
// Lookup is.
type Verifier struct {
	Lookup      KeyLookup
	Audience    string           // default TokenAudience
	Skew        time.Duration    // allowed clock skew; zero means 30s, negative none
	Now         func() time.Time // default time.Now
	MaxLifetime time.Duration    // default 25h: a longer exp - iat is refused
	// Cache, when set, keeps the tokens verified: one presented again is
	// answered from it while unexpired and while its issuer still holds
	// the very key that signed it (no signature check again).
	Cache *TokenCache
	// Refused, if set, is told why each token was refused (one of
	// TokenRefusalReasons). For metrics.
	Refused func(reason string)
}

// TokenCache holds verified tokens by their SHA-256, at most about Max
// of them (two generations: when the newer is full, the older is
// dropped).
type TokenCache struct {
	mu       sync.Mutex
	max      int
	cur, old map[[32]byte]verifiedToken
}

type verifiedToken struct {
	claims Claims
	kid    string
	thumb  string // of the key that verified it
}

// NewTokenCache returns a cache of about max tokens.
func NewTokenCache(max int) *TokenCache {
	return &TokenCache{max: max, cur: map[[32]byte]verifiedToken{}}
}

func (tc *TokenCache) get(h [32]byte) (verifiedToken, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if t, ok := tc.cur[h]; ok {
		return t, true
	}
	t, ok := tc.old[h]
	return t, ok
}

func (tc *TokenCache) put(h [32]byte, t verifiedToken) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.cur) >= max(tc.max/2, 1) {
		tc.old, tc.cur = tc.cur, make(map[[32]byte]verifiedToken, len(tc.cur))
	}
	tc.cur[h] = t
}

// Verify checks a compact JWS token and returns its claims. In order: the
// size (8 KiB at most); the issuer, read from the unverified payload only
// to choose the keys; the signature, with the key of the header's kid in
// that issuer's set, under the key's own alg, which must be asymmetric and
// equal the header's alg; exp, nbf and iat against the clock with the
// allowed skew; the audience; the required claims and their values; and
// that subject_organization_id is the region the issuer speaks for. Every
// refusal wraps ErrInvalidToken.
func (v *Verifier) Verify(token string) (Claims, error) {
	var h [32]byte
	if v.Cache != nil {
		h = sha256Of(token)
		if t, ok := v.Cache.get(h); ok && v.stillValid(t) {
			return t.claims, nil
		}
	}
	c, vt, err := v.verify(token)
	if err != nil {
		if v.Refused != nil {
			v.Refused(RefusalReason(err))
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if v.Cache != nil {
		v.Cache.put(h, vt)
	}
	return c, nil
}

// stillValid reports whether a token verified before is valid now: in
// its lifetime by the clock, and its issuer still holding the key that
// verified it for the same region.
func (v *Verifier) stillValid(t verifiedToken) bool {
	now, skew := v.now(), v.skew()
	c := t.claims
	if now.After(c.Expiry.Add(skew)) || !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore) {
		return false
	}
	ik, ok := v.Lookup(c.Issuer)
	if !ok || ik.Keys == nil || ik.Region != c.OrganizationID {
		return false
	}
	key, ok := ik.Keys.LookupKeyID(t.kid)
	return ok && thumbprint(key) == t.thumb
}

func thumbprint(k jwk.Key) string {
	b, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return string(b)
}

func (v *Verifier) verify(token string) (Claims, verifiedToken, error) {
	c, kid, key, err := v.verifyToken(token)
	if err != nil {
		return Claims{}, verifiedToken{}, err
	}
	return c, verifiedToken{claims: c, kid: kid, thumb: thumbprint(key)}, nil
}

func (v *Verifier) verifyToken(token string) (Claims, string, jwk.Key, error) {
	if v.Lookup == nil {
		return Claims{}, "", nil, errors.New("verifier has no key lookup")
	}
	if len(token) == 0 || len(token) > maxTokenSize {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("token of %d bytes, limit %d", len(token), maxTokenSize))
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("not a compact JWS: %w", err))
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 || sigs[0].ProtectedHeaders() == nil {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("%d signatures, want one", len(sigs)))
	}
	hdr := sigs[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	if !ok {
		return Claims{}, "", nil, refuse(RefusedMalformed, errors.New("no alg in the protected header"))
	}
	if !slices.Contains(acceptedAlgorithms(), alg) {
		return Claims{}, "", nil, refuse(RefusedAlgorithm, fmt.Errorf("alg %q is not accepted", alg))
	}
	kid, _ := hdr.KeyID()
	if kid == "" {
		return Claims{}, "", nil, refuse(RefusedMalformed, errors.New("no kid in the protected header"))
	}
	if typ, ok := hdr.Type(); ok && !strings.EqualFold(typ, "JWT") {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("typ %q, want JWT", typ))
	}

	// The issuer chooses the keys; nothing else of the payload is read
	// before the signature is verified. A map, not a struct: encoding/json
	// matches struct fields regardless of case, and only "iss" names the
	// issuer.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(msg.Payload(), &members); err != nil {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("payload: %w", err))
	}
	var issuer string
	if raw, ok := members[jwt.IssuerKey]; !ok || json.Unmarshal(raw, &issuer) != nil || issuer == "" {
		return Claims{}, "", nil, refuse(RefusedMalformed, errors.New("no issuer"))
	}
	ik, ok := v.Lookup(issuer)
	if !ok || ik.Keys == nil {
		return Claims{}, "", nil, refuse(RefusedUnknownIssuer, fmt.Errorf("unknown issuer %q", issuer))
	}
	if !ValidRegionCode(ik.Region) {
		return Claims{}, "", nil, refuse(RefusedUnknownIssuer, fmt.Errorf("issuer %q is registered for region %q", issuer, ik.Region))
	}
	key, ok := ik.Keys.LookupKeyID(kid)
	if !ok {
		return Claims{}, "", nil, refuse(RefusedUnknownKey, fmt.Errorf("issuer %q has no key %q", issuer, kid))
	}
	keyAlg, err := keyAlgorithm(key)
	if err != nil {
		return Claims{}, "", nil, refuse(RefusedAlgorithm, fmt.Errorf("issuer %q key %q: %w", issuer, kid, err))
	}
	if keyAlg != alg {
		return Claims{}, "", nil, refuse(RefusedAlgorithm, fmt.Errorf("alg %s, but key %q is %s", alg, kid, keyAlg))
	}
	payload, err := jws.Verify([]byte(token),
		jws.WithCompact(),
		jws.WithKeySet(ik.Keys, jws.WithRequireKid(true), jws.WithUseDefault(false), jws.WithInferAlgorithmFromKey(false)),
		jws.WithAlgorithmMatch(true),
		jws.WithCritValidation(true),
	)
	if err != nil {
		return Claims{}, "", nil, refuse(RefusedSignature, fmt.Errorf("signature: %w", err))
	}

	payload = bytes.TrimSpace(payload)
	if jwx.GuessFormat(payload) != jwx.JWT {
		// jwx reads a JSON object as a claims set only when it has "aud".
		return Claims{}, "", nil, refuse(RefusedMalformed, errors.New("payload is not a JWT claims set with an audience"))
	}
	t, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false), jwt.WithStrictStringClaims(true))
	if err != nil {
		return Claims{}, "", nil, refuse(RefusedMalformed, fmt.Errorf("claims: %w", err))
	}
	opts := []jwt.ValidateOption{
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(v.skew()),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(v.audience()),
	}
	for _, name := range requiredClaims {
		opts = append(opts, jwt.WithRequiredClaim(name))
	}
	if err := jwt.Validate(t, opts...); err != nil {
		return Claims{}, "", nil, refuse(validateReason(err), err)
	}
	c, err := claimsOf(t)
	if err != nil {
		return Claims{}, "", nil, refuse(RefusedClaims, err)
	}
	if err := c.validate(v.maxLifetime()); err != nil {
		return Claims{}, "", nil, refuse(RefusedClaims, err)
	}
	if c.OrganizationID != ik.Region {
		return Claims{}, "", nil, refuse(RefusedRegion, fmt.Errorf("issuer %q speaks for region %s, token claims region %s", c.Issuer, ik.Region, c.OrganizationID))
	}
	return c, kid, key, nil
}

// validateReason is the reason of a refusal by jwt.Validate.
func validateReason(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return RefusedExpired
	case errors.Is(err, jwt.TokenNotYetValidError()), errors.Is(err, jwt.InvalidIssuedAtError()):
		return RefusedNotYetValid
	case errors.Is(err, jwt.InvalidAudienceError()):
		return RefusedAudience
	}
	return RefusedClaims
}

// claimsOf reads the claims of a parsed token. A claim of the wrong JSON
// type is an error.
func claimsOf(t jwt.Token) (Claims, error) {
	var c Claims
	c.Issuer, _ = t.Issuer()
	c.Subject, _ = t.Subject()
	c.Audience, _ = t.Audience()
	c.IssuedAt, _ = t.IssuedAt()
	c.NotBefore, _ = t.NotBefore()
	c.Expiry, _ = t.Expiration()
	c.ID, _ = t.JwtID()
	errs := []error{
		t.Get(claimSubjectRole, &c.SubjectRole),
		t.Get(claimOrgID, &c.OrganizationID),
		t.Get(claimPurpose, &c.PurposeOfUse),
	}
	optional := []struct {
		name string
		dst  any
	}{
		{claimOrganization, &c.Organization},
		{claimPersonID, &c.PersonID},
		{claimConsent, &c.PatientConsent},
		{claimAction, &c.ActionID},
		{claimHash, &c.AttachmentHash},
		{claimHL7Type, &c.ResourceHL7Type},
		{claimLocality, &c.Locality},
		{claimAppID, &c.ApplicationID},
		{claimAppVendor, &c.ApplicationVendor},
		{claimAppVersion, &c.ApplicationVersion},
	}
	for _, o := range optional {
		if t.Has(o.name) {
			errs = append(errs, t.Get(o.name, o.dst))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Claims{}, fmt.Errorf("claims: %w", err)
	}
	return c, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	switch {
	case v.Skew == 0:
		return defaultTokenSkew
	case v.Skew < 0:
		return 0
	}
	return v.Skew
}

func (v *Verifier) audience() string {
	if v.Audience == "" {
		return TokenAudience
	}
	return v.Audience
}

func (v *Verifier) maxLifetime() time.Duration {
	if v.MaxLifetime <= 0 {
		return defaultMaxLifetime
	}
	return v.MaxLifetime
}

func sha256Of(token string) [32]byte { return sha256.Sum256([]byte(token)) }
