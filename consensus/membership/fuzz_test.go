package membership_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// fuzzFederation is a founded federation on a one-voter replica: the
// authority's key is set and region 160 is a member with its IdP keys.
type fuzzFederation struct {
	node      *consensus.Node
	members   *membership.Machine
	authPub   ed25519.PublicKey
	authPriv  ed25519.PrivateKey
	regionKey crypto.PrivKey
	region    peer.ID
	cert      string // region 160's certificate
	jwks      json.RawMessage
}

func newFuzzFederation(tb testing.TB) *fuzzFederation {
	tb.Helper()
	fed := &fuzzFederation{members: membership.New()}
	var err error
	if fed.authPub, fed.authPriv, err = ed25519.GenerateKey(rand.Reader); err != nil {
		tb.Fatal(err)
	}
	fed.regionKey, fed.region = fuzzPeer(tb)
	fed.cert = fed.certificate(tb, "160", fed.region)
	k, err := federation.GenerateIdPKey(filepath.Join(tb.TempDir(), "idp.key"))
	if err != nil {
		tb.Fatal(err)
	}
	set, err := federation.PublicJWKS(k)
	if err != nil {
		tb.Fatal(err)
	}
	if fed.jwks, err = json.Marshal(set); err != nil {
		tb.Fatal(err)
	}
	fed.node = consensustest.NewReplica(tb, registrar{fed.members})
	setAuth, err := membership.SetAuthority(fed.authPub)
	if err != nil {
		tb.Fatal(err)
	}
	put, err := membership.PutRegion(time.Now(), fed.cert)
	if err != nil {
		tb.Fatal(err)
	}
	for _, cmd := range []consensus.Command{setAuth, put, fed.idp(tb, time.Now())} {
		if _, err := fed.apply(cmd); err != nil {
			tb.Fatalf("founding the federation: %s: %v", cmd.Type, err)
		}
	}
	return fed
}

// registrar registers the machine with the harness's replica.
type registrar struct{ m *membership.Machine }

func (r registrar) Register(n interface {
	Register(string, consensus.Handler) error
}) error {
	return r.m.Register(n)
}

func fuzzPeer(tb testing.TB) (crypto.PrivKey, peer.ID) {
	tb.Helper()
	priv, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return priv, id
}

func (fed *fuzzFederation) certificate(tb testing.TB, code string, p peer.ID) string {
	tb.Helper()
	issued := time.Now().Add(-time.Minute).Truncate(time.Second)
	tok, _, err := federation.IssueCertificate(fed.authPriv, federation.Certificate{
		Region: code, Name: federation.RegionNames[code], Peer: p, Role: federation.RoleVoter,
		Addrs: []string{"/ip4/10.16.0.1/tcp/4001"}, IssuedAt: issued, Expiry: issued.Add(365 * 24 * time.Hour),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// idp is region 160's IdP record of the given version, signed by its node.
func (fed *fuzzFederation) idp(tb testing.TB, version time.Time) consensus.Command {
	tb.Helper()
	cmd, err := membership.PutIdP(fed.regionKey, membership.IdP{Region: "160", Issuer: "https://idp.regione.puglia.it", JWKS: fed.jwks, Version: version.UTC()})
	if err != nil {
		tb.Fatal(err)
	}
	return cmd
}

func (fed *fuzzFederation) apply(cmd consensus.Command) (consensus.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return fed.node.Apply(ctx, cmd)
}

// reloaded is the membership a fresh machine reads from the replica's
// state, as a restarted node or a snapshot restore would.
func (fed *fuzzFederation) reloaded(tb testing.TB) membership.View {
	tb.Helper()
	fresh := membership.New()
	if _, err := fed.node.Read(context.Background(), consensus.Local, fresh.Reload); err != nil {
		tb.Fatalf("the state does not reload: %v", err)
	}
	return fresh.View()
}

var fuzzTypes = []string{membership.TypeSetAuthority, membership.TypePutRegion, membership.TypeRevoke, membership.TypePutIdP}

// FuzzApply feeds the membership machine the payloads of its four command
// types as a proposer (any member, through the leader) could put them in
// the log. Every payload is answered with success or a refusal (a domain
// error); anything else would stop every replica. What is accepted is
// authenticated (signed by the authority, or the region's node for its IdP
// keys), and the in-memory membership always equals what a restarted node
// reads back from the state.
func FuzzApply(f *testing.F) {
	fed := newFuzzFederation(f)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	_, stranger := fuzzPeer(f)
	seed := func(cmd consensus.Command) {
		for i, t := range fuzzTypes {
			if t == cmd.Type {
				f.Add(uint8(i), cmd.Payload)
			}
		}
	}
	setAuth, _ := membership.SetAuthority(fed.authPub)
	seed(setAuth)
	setOther, _ := membership.SetAuthority(other)
	seed(setOther)
	put, _ := membership.PutRegion(time.Now(), fed.cert)
	seed(put)
	put, _ = membership.PutRegion(time.Now(), fed.cert, fed.certificate(f, "030", stranger))
	seed(put)
	outsider := fed.authPriv
	fed.authPriv = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	put, _ = membership.PutRegion(time.Now(), fed.certificate(f, "190", stranger))
	seed(put)
	fed.authPriv = outsider
	rv, _, err := federation.IssueRevocation(fed.authPriv, federation.Revocation{Region: "150", Peer: stranger, Reason: "key lost"})
	if err != nil {
		f.Fatal(err)
	}
	seed(membership.Revoke(rv))
	seed(membership.Revoke("eyJhbGciOiJFZERTQSJ9.e30."))
	seed(fed.idp(f, time.Now().Add(time.Hour)))
	seed(fed.idp(f, time.Now().Add(-time.Hour)))
	for i := range fuzzTypes {
		f.Add(uint8(i), []byte(`{"at":"2026-12-01T10:00:00Z","certificates":[]}`))
		f.Add(uint8(i), []byte(`{"record":{"region":"160"},"signature":"AAAA"}`))
		f.Add(uint8(i), []byte{})
	}

	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		typ := fuzzTypes[int(kind)%len(fuzzTypes)]
		before := fed.members.View()
		_, err := fed.apply(consensus.Command{Type: typ, Version: 1, Payload: payload})
		var refusal *consensus.Error
		if err != nil && !errors.As(err, &refusal) {
			t.Fatalf("%s: not a refusal but %v", typ, err)
		}
		if err == nil {
			checkAuthenticated(t, typ, payload, before)
		}
		after := fed.members.View()
		if got, want := viewJSON(t, fed.reloaded(t)), viewJSON(t, after); got != want {
			t.Fatalf("%s: the membership read back from the state differs from the applied one:\nstate  %s\nmemory %s", typ, got, want)
		}
		if !after.Authority.Equal(fed.authPub) {
			t.Fatalf("%s: the authority key changed", typ)
		}
	})
}

// checkAuthenticated verifies on its own what an accepted command's
// payload must carry.
func checkAuthenticated(t *testing.T, typ string, payload []byte, before membership.View) {
	t.Helper()
	switch typ {
	case membership.TypeSetAuthority:
		if !before.Authority.Equal(ed25519.PublicKey(payload)) {
			t.Fatalf("another authority key was accepted: %x", payload)
		}
	case membership.TypePutRegion:
		var p struct {
			Certificates []string `json:"certificates"`
		}
		if err := json.Unmarshal(payload, &p); err != nil || len(p.Certificates) == 0 {
			t.Fatalf("region certificates accepted from %q: %v", payload, err)
		}
		for _, c := range p.Certificates {
			if _, err := federation.VerifyCertificate(c, before.Authority, time.Now()); err != nil {
				t.Fatalf("a certificate the authority did not sign was accepted: %v", err)
			}
		}
	case membership.TypeRevoke:
		if _, err := federation.VerifyRevocation(string(payload), before.Authority); err != nil {
			t.Fatalf("a revocation the authority did not sign was accepted: %v", err)
		}
	case membership.TypePutIdP:
		var s struct {
			Record    json.RawMessage `json:"record"`
			Signature []byte          `json:"signature"`
		}
		var rec membership.IdP
		if err := json.Unmarshal(payload, &s); err != nil || json.Unmarshal(s.Record, &rec) != nil {
			t.Fatalf("IdP record accepted from %q: %v", payload, err)
		}
		r, ok := before.Region(rec.Region)
		if !ok {
			t.Fatalf("IdP record of region %q, not a member, accepted", rec.Region)
		}
		pub, err := r.Peer.ExtractPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := pub.Verify(append([]byte("fsenet-idp-v1\n"), s.Record...), s.Signature); err != nil || !ok {
			t.Fatalf("IdP record of region %s accepted without its node's signature", rec.Region)
		}
		if _, err := federation.ParseJWKS(rec.JWKS); err != nil {
			t.Fatalf("IdP record with unusable keys accepted: %v", err)
		}
	}
}

func viewJSON(t *testing.T, v membership.View) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// memState is replicated state held in memory, as a snapshot restore
// hands it to the machine.
type memState map[string][]byte

func (s memState) Get(k []byte) ([]byte, bool, error) {
	v, ok := s[string(k)]
	return v, ok, nil
}

func (s memState) Iterate(prefix []byte, fn func(k, v []byte) error) error {
	return s.IterateFrom(prefix, prefix, fn)
}

func (s memState) IterateFrom(prefix, start []byte, fn func(k, v []byte) error) error {
	keys := make([]string, 0, len(s))
	for k := range s {
		if len(k) >= len(prefix) && k[:len(prefix)] == string(prefix) && k >= string(start) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), s[k]); err != nil {
			return err
		}
	}
	return nil
}

// FuzzReload feeds the machine's reload stored records as a snapshot from
// the leader could carry them: it never panics, and a membership it
// accepts, written back as records, reloads as the same membership.
func FuzzReload(f *testing.F) {
	_, p := fuzzPeer(f)
	region, _ := json.Marshal(membership.Region{Code: "160", Name: "Puglia", Peer: p, Addrs: []string{"/ip4/10.16.0.1/tcp/4001"}, Role: membership.Voter,
		CertID: "c1", IssuedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC), Certificate: "a.b.c"})
	revoked, _ := json.Marshal(membership.Revocation{Peer: p, Code: "160", Reason: "key lost", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Token: "a.b.c"})
	k, err := federation.GenerateIdPKey(filepath.Join(f.TempDir(), "idp.key"))
	if err != nil {
		f.Fatal(err)
	}
	set, _ := federation.PublicJWKS(k)
	jwks, _ := json.Marshal(set)
	idp, _ := json.Marshal(membership.IdP{Region: "160", Issuer: "https://idp.regione.puglia.it", JWKS: jwks, Version: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.Add([]byte(pub), region, revoked, idp)
	f.Add([]byte{}, []byte(`{}`), []byte(`{"peer":""}`), []byte(`{"jwks":{"keys":[]}}`))
	f.Add([]byte(nil), []byte(`{"peer":"x"}`), []byte(`[]`), []byte(`{"jwks":null}`))

	f.Fuzz(func(t *testing.T, authority, region, revoked, idp []byte) {
		state := memState{
			"membership/region/160": region, "membership/revoked/p": revoked, "membership/idp/160": idp,
		}
		if authority != nil {
			state["membership/authority"] = authority
		}
		m := membership.New()
		if err := m.Reload(state); err != nil {
			return
		}
		v := m.View()
		again := memState{}
		if v.Authority != nil {
			again["membership/authority"] = v.Authority
		}
		for _, r := range v.Regions {
			again["membership/region/"+r.Code], _ = json.Marshal(r)
		}
		for _, r := range v.Revoked {
			again["membership/revoked/"+string(r.Peer)], _ = json.Marshal(r)
		}
		for _, r := range v.IdPs {
			again["membership/idp/"+r.Region], _ = json.Marshal(r)
		}
		m2 := membership.New()
		if err := m2.Reload(again); err != nil {
			t.Fatalf("an accepted membership, written back, does not reload: %v", err)
		}
		if got, want := viewJSON(t, m2.View()), viewJSON(t, v); got != want {
			t.Fatalf("the membership changes over a reload:\n%s\n%s", got, want)
		}
		// A stored IdP's issuer is known exactly while its region is a
		// member with a valid certificate.
		for _, r := range v.IdPs {
			if r.Issuer == federation.AuthorityIssuer {
				continue
			}
			if _, ok := m.IssuerKeys(r.Issuer); ok != isMember(v, r.Region) {
				t.Fatalf("issuer %q of region %q: known %v, member %v", r.Issuer, r.Region, ok, !ok)
			}
		}
	})
}

func isMember(v membership.View, code string) bool {
	r, ok := v.Region(code)
	return ok && r.ValidAt(time.Now())
}
