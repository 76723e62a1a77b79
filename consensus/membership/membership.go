// Package membership is the replicated record of who belongs to the
// federation: the national authority's public key, each region's
// membership certificate (code, name, libp2p peer ID, addresses, Raft role,
// expiry), the revocations of peers that must never be admitted again, and
// each region's identity-provider keys (JWKS).
//
// It is a state machine on the consensus log and it trusts no proposer:
// every region record is an authority-signed certificate, verified on every
// replica at the time the proposer stamped on the command; every revocation
// is authority-signed; every JWKS is signed by the region's own node key.
// The authority key is set once, when the federation is founded. The
// machine does not change the Raft configuration itself; its subscribers
// (the connection gater, the peerstore, the leader's reconciler) learn
// every change after it is committed locally.
package membership

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

// Role is a region's place in Raft.
type Role string

// Roles.
const (
	Voter    Role = federation.RoleVoter
	Nonvoter Role = federation.RoleNonvoter
)

// AuthorityRegion is the organisation code of tokens the authority signs
// (950, the Ministry, as in FSE).
const AuthorityRegion = "950"

// Region is one member of the federation, as its certificate says.
type Region struct {
	Code        string    `json:"code"`  // ISTAT code, e.g. "030"
	Name        string    `json:"name"`  // e.g. "Lombardia"
	Peer        peer.ID   `json:"peer"`  // libp2p peer ID of the region's node
	Addrs       []string  `json:"addrs"` // multiaddrs where the node listens
	Role        Role      `json:"role"`
	CertID      string    `json:"cert_id"`
	IssuedAt    time.Time `json:"issued_at"`
	NotBefore   time.Time `json:"not_before"`
	Expiry      time.Time `json:"expiry"`
	Certificate string    `json:"certificate"` // the authority-signed JWT
}

// ValidAt reports whether the region's certificate is valid at t.
func (r Region) ValidAt(t time.Time) bool { return !t.Before(r.NotBefore) && t.Before(r.Expiry) }

// Revocation removes a peer from the federation for good.
type Revocation struct {
	Peer   peer.ID   `json:"peer"`
	Code   string    `json:"code"`   // region the peer belonged to
	Reason string    `json:"reason"` // for the audit trail
	At     time.Time `json:"at"`     // when the authority signed it
	Token  string    `json:"token"`  // the authority-signed JWT
}

// IdP is a region's identity provider: the issuer its tokens carry and its
// public keys. Keys stay valid until a newer record leaves them out.
type IdP struct {
	Region  string          `json:"region"`
	Issuer  string          `json:"issuer"`
	JWKS    json.RawMessage `json:"jwks"`
	Version time.Time       `json:"version"` // a record older than the stored one is refused
}

// Command types.
const (
	TypeSetAuthority = "membership.authority.set"
	TypePutRegion    = "membership.region.put"
	TypeRevoke       = "membership.revoke"
	TypePutIdP       = "membership.idp.put"
)

const version1 uint16 = 1

var (
	authorityKey  = []byte("membership/authority")
	regionPrefix  = []byte("membership/region/")
	revokedPrefix = []byte("membership/revoked/")
	idpPrefix     = []byte("membership/idp/")
	issuedPrefix  = []byte("membership/issued/") // region -> newest certificate's issue time
)

// Errors of the command builders.
var (
	ErrNoCertificate = errors.New("membership: no certificate")
)

// SetAuthority returns the command that records the authority's public
// key. It succeeds once per federation; repeating it with the same key is
// a no-op and with another key a conflict.
func SetAuthority(pub ed25519.PublicKey) (consensus.Command, error) {
	if len(pub) != ed25519.PublicKeySize {
		return consensus.Command{}, fmt.Errorf("authority key: %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return consensus.Command{Type: TypeSetAuthority, Version: version1, Payload: append([]byte(nil), pub...)}, nil
}

type putRegion struct {
	At           time.Time `json:"at"`
	Certificates []string  `json:"certificates"`
}

// PutRegion returns the command that adds or updates regions from their
// certificates, verified on every replica at time at (the proposer's
// clock). A certificate older than the one stored for its region is
// refused, so an old certificate cannot be replayed.
func PutRegion(at time.Time, certificates ...string) (consensus.Command, error) {
	if len(certificates) == 0 {
		return consensus.Command{}, ErrNoCertificate
	}
	b, err := json.Marshal(putRegion{At: at.UTC(), Certificates: certificates})
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: TypePutRegion, Version: version1, Payload: b}, nil
}

// Revoke returns the command that applies an authority-signed revocation:
// the peer's region record and IdP keys are removed in the same command.
func Revoke(token string) consensus.Command {
	return consensus.Command{Type: TypeRevoke, Version: version1, Payload: []byte(token)}
}

// signedIdP is the payload of TypePutIdP: the record and the signature of
// the region's node over it.
type signedIdP struct {
	Record    json.RawMessage `json:"record"`
	Signature []byte          `json:"signature"`
}

const idpSigContext = "fsenet-idp-v1\n"

// Signer signs with a node's libp2p private key.
type Signer interface {
	Sign([]byte) ([]byte, error)
}

// PutIdP returns the command that registers a region's IdP keys, signed
// with the region's node key: replicas accept it only from the node whose
// peer ID the region's certificate names.
func PutIdP(node Signer, rec IdP) (consensus.Command, error) {
	if _, err := federation.ParseJWKS(rec.JWKS); err != nil {
		return consensus.Command{}, err
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return consensus.Command{}, err
	}
	sig, err := node.Sign(append([]byte(idpSigContext), body...))
	if err != nil {
		return consensus.Command{}, fmt.Errorf("sign IdP record: %w", err)
	}
	b, err := json.Marshal(signedIdP{Record: body, Signature: sig})
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: TypePutIdP, Version: version1, Payload: b}, nil
}

// View is a consistent picture of the membership.
type View struct {
	Authority ed25519.PublicKey // nil until the federation is founded
	Regions   []Region          // sorted by code
	Revoked   []Revocation      // sorted by peer
	IdPs      []IdP             // sorted by region
}

// Members returns the peer IDs of the regions whose certificate is valid
// at now.
func (v View) Members(now time.Time) []peer.ID {
	out := make([]peer.ID, 0, len(v.Regions))
	for _, r := range v.Regions {
		if r.ValidAt(now) {
			out = append(out, r.Peer)
		}
	}
	return out
}

// RevokedPeers returns the revoked peer IDs.
func (v View) RevokedPeers() []peer.ID {
	out := make([]peer.ID, 0, len(v.Revoked))
	for _, r := range v.Revoked {
		out = append(out, r.Peer)
	}
	return out
}

// Region returns the record of a region code.
func (v View) Region(code string) (Region, bool) {
	for _, r := range v.Regions {
		if r.Code == code {
			return r, true
		}
	}
	return Region{}, false
}

// IdP returns the identity provider of a region.
func (v View) IdP(code string) (IdP, bool) {
	for _, r := range v.IdPs {
		if r.Region == code {
			return r, true
		}
	}
	return IdP{}, false
}

// Subscriber is told the whole membership after every committed change,
// at start and after a snapshot restore. It runs on the state machine's
// goroutine and must not block.
type Subscriber func(View)

// Machine is the membership state machine. Register it with Register.
type Machine struct {
	mu        sync.Mutex
	authority ed25519.PublicKey
	regions   map[string]Region
	revoked   map[peer.ID]Revocation
	idps      map[string]IdP
	issuers   map[string]federation.IssuerKeys // issuer -> parsed keys
	subs      []Subscriber
}

// New returns an empty machine; its state is loaded by the consensus node's
// reload at start.
func New() *Machine {
	return &Machine{regions: map[string]Region{}, revoked: map[peer.ID]Revocation{}, idps: map[string]IdP{}, issuers: map[string]federation.IssuerKeys{}}
}

// Subscribe adds fn to the subscribers. Call before the node starts.
func (m *Machine) Subscribe(fn Subscriber) {
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	m.mu.Unlock()
}

// Registrar is what the machine needs from the consensus node.
type Registrar interface {
	Register(typ string, h consensus.Handler) error
}

// Register routes the membership command types to m.
func (m *Machine) Register(r Registrar) error {
	for _, t := range []string{TypeSetAuthority, TypePutRegion, TypeRevoke, TypePutIdP} {
		if err := r.Register(t, m); err != nil {
			return err
		}
	}
	return nil
}

// View returns the membership as last applied on this replica.
func (m *Machine) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewLocked()
}

// Authority returns the authority's public key, nil before the federation
// is founded.
func (m *Machine) Authority() ed25519.PublicKey {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.authority
}

// IssuerKeys returns the keys of a token issuer: a member region's IdP or
// the authority. It is a federation.KeyLookup. A revoked region's issuer
// is unknown, and so is the issuer of a region whose certificate expired.
func (m *Machine) IssuerKeys(issuer string) (federation.IssuerKeys, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if issuer == federation.AuthorityIssuer {
		if m.authority == nil {
			return federation.IssuerKeys{}, false
		}
		k, err := federation.AuthorityJWK(m.authority)
		if err != nil {
			return federation.IssuerKeys{}, false
		}
		set, err := federation.PublicJWKS(k)
		if err != nil {
			return federation.IssuerKeys{}, false
		}
		return federation.IssuerKeys{Region: AuthorityRegion, Keys: set}, true
	}
	ik, ok := m.issuers[issuer]
	if !ok {
		return federation.IssuerKeys{}, false
	}
	if r, member := m.regions[ik.Region]; !member || !r.ValidAt(time.Now()) {
		return federation.IssuerKeys{}, false
	}
	return ik, true
}

func (m *Machine) viewLocked() View {
	v := View{Authority: m.authority}
	for _, r := range m.regions {
		v.Regions = append(v.Regions, r)
	}
	for _, r := range m.revoked {
		v.Revoked = append(v.Revoked, r)
	}
	for _, r := range m.idps {
		v.IdPs = append(v.IdPs, r)
	}
	sort.Slice(v.Regions, func(i, j int) bool { return v.Regions[i].Code < v.Regions[j].Code })
	sort.Slice(v.Revoked, func(i, j int) bool { return v.Revoked[i].Peer < v.Revoked[j].Peer })
	sort.Slice(v.IdPs, func(i, j int) bool { return v.IdPs[i].Region < v.IdPs[j].Region })
	return v
}

func (m *Machine) publish() {
	m.mu.Lock()
	v := m.viewLocked()
	subs := append([]Subscriber(nil), m.subs...)
	m.mu.Unlock()
	for _, s := range subs {
		s(v)
	}
}

func key(prefix []byte, s string) []byte { return append(append([]byte{}, prefix...), s...) }

// getJSON reads a JSON record; ok is false when the key is absent.
func getJSON(tx *consensus.Tx, k []byte, v any) (bool, error) {
	b, ok, err := tx.Get(k)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("stored record %q: %w", k, err)
	}
	return true, nil
}

// SupportsVersion implements consensus.VersionedHandler.
func (m *Machine) SupportsVersion(_ string, v uint16) bool { return v == version1 }

// Apply implements consensus.Handler.
func (m *Machine) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	if cmd.Version != version1 {
		// Only a newer leader proposes it: stop rather than diverge.
		return nil, fmt.Errorf("%s version %d is not supported by this node: upgrade it", cmd.Type, cmd.Version)
	}
	switch cmd.Type {
	case TypeSetAuthority:
		return m.applySetAuthority(tx, cmd.Payload)
	case TypePutRegion:
		return m.applyPutRegion(tx, cmd.Payload)
	case TypeRevoke:
		return m.applyRevoke(tx, cmd.Payload)
	case TypePutIdP:
		return m.applyPutIdP(tx, cmd.Payload)
	}
	return nil, consensus.Errorf(consensus.CodeInvalid, "unknown membership command %q", cmd.Type)
}

func (m *Machine) storedAuthority(tx *consensus.Tx) (ed25519.PublicKey, error) {
	b, ok, err := tx.Get(authorityKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, consensus.Errorf(consensus.CodeForbidden, "the federation has no authority key yet")
	}
	return ed25519.PublicKey(b), nil
}

func (m *Machine) applySetAuthority(tx *consensus.Tx, payload []byte) ([]byte, error) {
	if len(payload) != ed25519.PublicKeySize {
		return nil, consensus.Errorf(consensus.CodeInvalid, "authority key of %d bytes", len(payload))
	}
	b, ok, err := tx.Get(authorityKey)
	if err != nil {
		return nil, err
	}
	if ok {
		if string(b) == string(payload) {
			return nil, nil
		}
		return nil, consensus.Errorf(consensus.CodeConflict, "the federation already has another authority key")
	}
	pub := ed25519.PublicKey(append([]byte(nil), payload...))
	tx.Set(authorityKey, pub)
	tx.AfterCommit(func() {
		m.mu.Lock()
		m.authority = pub
		m.mu.Unlock()
		m.publish()
	})
	return nil, nil
}

func (m *Machine) applyPutRegion(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var p putRegion
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, consensus.Errorf(consensus.CodeInvalid, "region certificates: %v", err)
	}
	if len(p.Certificates) == 0 || len(p.Certificates) > 64 {
		return nil, consensus.Errorf(consensus.CodeInvalid, "want 1 to 64 certificates, got %d", len(p.Certificates))
	}
	auth, err := m.storedAuthority(tx)
	if err != nil {
		return nil, err
	}
	owner := map[peer.ID]string{} // peer -> region, after this command
	err = tx.Iterate(regionPrefix, func(_, v []byte) error {
		var o Region
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("stored region record: %w", err)
		}
		owner[o.Peer] = o.Code
		return nil
	})
	if err != nil {
		return nil, err
	}
	var rs []Region
	// Certificates are checked at the time the leader appended the entry,
	// the same on every replica and not the proposer's to choose; the
	// proposer's stamp serves only entries from before Raft recorded it.
	at := tx.Time()
	if at.IsZero() {
		at = p.At
	}
	for _, tok := range p.Certificates {
		c, err := federation.VerifyCertificate(tok, auth, at)
		if err != nil {
			return nil, consensus.Errorf(consensus.CodeForbidden, "%v", err)
		}
		r := Region{Code: c.Region, Name: c.Name, Peer: c.Peer, Addrs: c.Addrs, Role: Role(c.Role),
			CertID: c.ID, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, Expiry: c.Expiry, Certificate: tok}
		if _, revoked, err := tx.Get(key(revokedPrefix, string(r.Peer))); err != nil {
			return nil, err
		} else if revoked {
			return nil, consensus.Errorf(consensus.CodeForbidden, "peer %s was revoked", r.Peer)
		}
		if b, ok, err := tx.Get(key(issuedPrefix, r.Code)); err != nil {
			return nil, err
		} else if ok {
			var last time.Time
			if err := last.UnmarshalText(b); err == nil && r.IssuedAt.Before(last) {
				return nil, consensus.Errorf(consensus.CodeConflict, "region %s had a newer certificate (issued %s)", r.Code, last.Format(time.RFC3339))
			}
		}
		var old Region
		if ok, err := getJSON(tx, key(regionPrefix, r.Code), &old); err != nil {
			return nil, err
		} else if ok && old.CertID != r.CertID && r.IssuedAt.Before(old.IssuedAt) {
			return nil, consensus.Errorf(consensus.CodeConflict, "region %s has a newer certificate (issued %s)", r.Code, old.IssuedAt.Format(time.RFC3339))
		} else if ok && old.Peer != r.Peer {
			delete(owner, old.Peer) // the region moved to a new node key
		}
		if code, ok := owner[r.Peer]; ok && code != r.Code {
			return nil, consensus.Errorf(consensus.CodeConflict, "peer %s already belongs to region %s", r.Peer, code)
		}
		owner[r.Peer] = r.Code
		rs = append(rs, r)
	}
	for _, r := range rs {
		b, _ := json.Marshal(r)
		tx.Set(key(regionPrefix, r.Code), b)
		// The newest issue time outlives the record (a revocation removes
		// it), so an older certificate of the region is never taken back.
		t, _ := r.IssuedAt.UTC().MarshalText()
		tx.Set(key(issuedPrefix, r.Code), t)
	}
	tx.AfterCommit(func() {
		m.mu.Lock()
		for _, r := range rs {
			m.regions[r.Code] = r
		}
		m.mu.Unlock()
		m.publish()
	})
	out, _ := json.Marshal(rs)
	return out, nil
}

func (m *Machine) applyRevoke(tx *consensus.Tx, payload []byte) ([]byte, error) {
	auth, err := m.storedAuthority(tx)
	if err != nil {
		return nil, err
	}
	v, err := federation.VerifyRevocation(string(payload), auth)
	if err != nil {
		return nil, consensus.Errorf(consensus.CodeForbidden, "%v", err)
	}
	rv := Revocation{Peer: v.Peer, Code: v.Region, Reason: v.Reason, At: v.IssuedAt, Token: string(payload)}
	b, _ := json.Marshal(rv)
	tx.Set(key(revokedPrefix, string(rv.Peer)), b)
	var removed []string
	err = tx.Iterate(regionPrefix, func(k, v []byte) error {
		var o Region
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("stored region record: %w", err)
		}
		if o.Peer == rv.Peer {
			removed = append(removed, o.Code)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, code := range removed {
		tx.Delete(key(regionPrefix, code))
		tx.Delete(key(idpPrefix, code))
	}
	tx.AfterCommit(func() {
		m.mu.Lock()
		m.revoked[rv.Peer] = rv
		for _, code := range removed {
			delete(m.regions, code)
			m.dropIdPLocked(code)
		}
		m.mu.Unlock()
		m.publish()
	})
	return nil, nil
}

func (m *Machine) applyPutIdP(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var s signedIdP
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, consensus.Errorf(consensus.CodeInvalid, "IdP record: %v", err)
	}
	var rec IdP
	if err := json.Unmarshal(s.Record, &rec); err != nil {
		return nil, consensus.Errorf(consensus.CodeInvalid, "IdP record: %v", err)
	}
	if rec.Issuer == "" || len(rec.Issuer) > 256 || rec.Issuer == federation.AuthorityIssuer {
		return nil, consensus.Errorf(consensus.CodeInvalid, "IdP issuer %q: want 1 to 256 characters, not the authority's", rec.Issuer)
	}
	var region Region
	if ok, err := getJSON(tx, key(regionPrefix, rec.Region), &region); err != nil {
		return nil, err
	} else if !ok {
		return nil, consensus.Errorf(consensus.CodeForbidden, "region %q is not a member", rec.Region)
	}
	pub, err := region.Peer.ExtractPublicKey()
	if err != nil {
		return nil, consensus.Errorf(consensus.CodeForbidden, "region %s: node key: %v", rec.Region, err)
	}
	if ok, err := pub.Verify(append([]byte(idpSigContext), s.Record...), s.Signature); err != nil || !ok {
		return nil, consensus.Errorf(consensus.CodeForbidden, "IdP record for region %s is not signed by its node", rec.Region)
	}
	set, err := federation.ParseJWKS(rec.JWKS)
	if err != nil {
		return nil, consensus.Errorf(consensus.CodeInvalid, "%v", err)
	}
	var old IdP
	if ok, err := getJSON(tx, key(idpPrefix, rec.Region), &old); err != nil {
		return nil, err
	} else if ok && !rec.Version.After(old.Version) {
		return nil, consensus.Errorf(consensus.CodeConflict, "region %s has a newer IdP record", rec.Region)
	}
	clash := ""
	err = tx.Iterate(idpPrefix, func(_, v []byte) error {
		var o IdP
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("stored IdP record: %w", err)
		}
		if o.Issuer == rec.Issuer && o.Region != rec.Region {
			clash = o.Region
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if clash != "" {
		return nil, consensus.Errorf(consensus.CodeConflict, "issuer %q belongs to region %s", rec.Issuer, clash)
	}
	b, _ := json.Marshal(rec)
	tx.Set(key(idpPrefix, rec.Region), b)
	tx.AfterCommit(func() {
		m.mu.Lock()
		m.dropIdPLocked(rec.Region)
		m.idps[rec.Region] = rec
		m.issuers[rec.Issuer] = federation.IssuerKeys{Region: rec.Region, Keys: set}
		m.mu.Unlock()
		m.publish()
	})
	return nil, nil
}

func (m *Machine) dropIdPLocked(code string) {
	if old, ok := m.idps[code]; ok {
		delete(m.issuers, old.Issuer)
		delete(m.idps, code)
	}
}

// Reload implements consensus.Reloader: it rebuilds the in-memory view
// from the state and tells the subscribers.
func (m *Machine) Reload(r consensus.Reader) error {
	regions := map[string]Region{}
	revoked := map[peer.ID]Revocation{}
	idps := map[string]IdP{}
	issuers := map[string]federation.IssuerKeys{}
	var auth ed25519.PublicKey
	each := func(prefix []byte, fn func([]byte) error) error {
		return r.Iterate(prefix, func(k, v []byte) error {
			if err := fn(v); err != nil {
				return fmt.Errorf("stored record %q: %w", k, err)
			}
			return nil
		})
	}
	err := errors.Join(
		func() error {
			b, ok, err := r.Get(authorityKey)
			if ok {
				auth = append(ed25519.PublicKey(nil), b...)
			}
			return err
		}(),
		each(regionPrefix, func(v []byte) error {
			var o Region
			err := json.Unmarshal(v, &o)
			regions[o.Code] = o
			return err
		}),
		each(revokedPrefix, func(v []byte) error {
			var o Revocation
			err := json.Unmarshal(v, &o)
			revoked[o.Peer] = o
			return err
		}),
		each(idpPrefix, func(v []byte) error {
			var o IdP
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			set, err := federation.ParseJWKS(o.JWKS)
			if err != nil {
				return err
			}
			idps[o.Region] = o
			issuers[o.Issuer] = federation.IssuerKeys{Region: o.Region, Keys: set}
			return nil
		}),
	)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.authority, m.regions, m.revoked, m.idps, m.issuers = auth, regions, revoked, idps, issuers
	m.mu.Unlock()
	m.publish()
	return nil
}

var _ federation.KeyLookup = (*Machine)(nil).IssuerKeys
