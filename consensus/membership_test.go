package consensus_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// authority signs the test federation's certificates.
type authority struct {
	t    *testing.T
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newAuthority(t *testing.T) authority {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return authority{t: t, priv: priv, pub: pub}
}

func (a authority) cert(code string, p peer.ID, role string, issued time.Time, addrs ...string) string {
	a.t.Helper()
	tok, _, err := federation.IssueCertificate(a.priv, federation.Certificate{
		Region: code, Name: "R" + code, Peer: p, Role: role, Addrs: addrs,
		IssuedAt: issued, Expiry: issued.Add(24 * time.Hour),
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func (a authority) certOf(n *consensustest.Node, role string) string {
	var addrs []string
	for _, m := range n.Host().Addrs() {
		addrs = append(addrs, m.String())
	}
	return a.cert(n.ID, n.Peer(), role, time.Now().Add(-time.Minute).Truncate(time.Second), addrs...)
}

func (a authority) revoke(code string, p peer.ID) string {
	a.t.Helper()
	tok, _, err := federation.IssueRevocation(a.priv, federation.Revocation{Region: code, Peer: p, Reason: "test"})
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func applyMembership(t *testing.T, n *consensustest.Node, cmd consensus.Command, err error) error {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = n.Replica().Apply(ctx, cmd)
	return err
}

func putCerts(t *testing.T, n *consensustest.Node, at time.Time, certs ...string) error {
	t.Helper()
	cmd, err := membership.PutRegion(at, certs...)
	return applyMembership(t, n, cmd, err)
}

func idpRecord(t *testing.T, code, issuer string, version time.Time) membership.IdP {
	t.Helper()
	k, err := federation.GenerateIdPKey(filepath.Join(t.TempDir(), "idp.key"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := federation.PublicJWKS(k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(set)
	return membership.IdP{Region: code, Issuer: issuer, JWKS: b, Version: version}
}

func TestMembershipStateMachine(t *testing.T) {
	cl := newCluster(t, 3, 0, nil)
	a := newAuthority(t)
	n := cl.Nodes()[1]
	now := time.Now()
	lom := cl.Nodes()[0]

	// Nothing is accepted before the authority key is set, once.
	if err := putCerts(t, n, now, a.certOf(lom, "voter")); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("certificate before the authority key: %v", err)
	}
	cmd, err := membership.SetAuthority(a.pub)
	if err := applyMembership(t, n, cmd, err); err != nil {
		t.Fatal(err)
	}
	if err := applyMembership(t, n, cmd, nil); err != nil {
		t.Fatalf("setting the same key again: %v", err)
	}
	other := newAuthority(t)
	cmd, err = membership.SetAuthority(other.pub)
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("replacing the authority key: %v", err)
	}
	// A version this node does not know never reaches the log.
	cmd, err = membership.SetAuthority(a.pub)
	cmd.Version = 2
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrInvalidCommand) {
		t.Fatalf("unknown version: %v", err)
	}
	if _, err := membership.SetAuthority([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}

	// Certificates are verified on every replica.
	cert := a.certOf(lom, "voter")
	if err := putCerts(t, n, now, cert); err != nil {
		t.Fatal(err)
	}
	cl.WaitConverged()
	for _, node := range cl.Nodes() {
		got, ok := node.Members().View().Region(lom.ID)
		if !ok || got.Name != "R"+lom.ID || got.Peer != lom.Peer() || got.Certificate != cert {
			t.Fatalf("%s sees %+v", node.ID, got)
		}
	}
	tests := []struct {
		name string
		at   time.Time
		cert string
		want error
	}{
		{"another authority", now, other.certOf(cl.Nodes()[2], "voter"), consensus.ErrForbidden},
		{"expired when the leader appended it", now, a.cert(cl.Nodes()[2].ID, cl.Nodes()[2].Peer(), "voter", now.Add(-48*time.Hour)), consensus.ErrForbidden},
		{"expired, with a proposer's time that says otherwise", now.Add(-47 * time.Hour), a.cert(cl.Nodes()[2].ID, cl.Nodes()[2].Peer(), "voter", now.Add(-48*time.Hour)), consensus.ErrForbidden},
		{"garbage", now, "garbage", consensus.ErrForbidden},
		{"same peer, another region", now, a.cert("150", lom.Peer(), "voter", now.Add(-time.Minute)), consensus.ErrConflict},
		{"older than the stored one", now, a.cert(lom.ID, lom.Peer(), "nonvoter", now.Add(-time.Hour)), consensus.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := putCerts(t, n, tt.at, tt.cert); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := membership.PutRegion(now); !errors.Is(err, membership.ErrNoCertificate) {
		t.Fatalf("empty put: %v", err)
	}

	// IdP keys: signed by the region's own node only, newer versions only,
	// one issuer per region.
	key := lom.Host().Peerstore().PrivKey(lom.Peer())
	rec := idpRecord(t, lom.ID, "urn:idp:"+lom.ID, now)
	cmd, err = membership.PutIdP(key, rec)
	if err := applyMembership(t, n, cmd, err); err != nil {
		t.Fatal(err)
	}
	cl.WaitConverged()
	for _, node := range cl.Nodes() {
		if ik, ok := node.Members().IssuerKeys("urn:idp:" + lom.ID); !ok || ik.Region != lom.ID || ik.Keys.Len() != 1 {
			t.Fatalf("%s: issuer not known after its keys were registered", node.ID)
		}
	}
	stranger := cl.Nodes()[2].Host().Peerstore().PrivKey(cl.Nodes()[2].Peer())
	cmd, err = membership.PutIdP(stranger, idpRecord(t, lom.ID, "urn:idp:evil", now.Add(time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("IdP keys signed by another node: %v", err)
	}
	cmd, err = membership.PutIdP(key, idpRecord(t, lom.ID, "urn:idp:"+lom.ID, now.Add(-time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("older IdP record: %v", err)
	}
	cmd, err = membership.PutIdP(key, idpRecord(t, lom.ID, federation.AuthorityIssuer, now.Add(time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("IdP claiming the authority's issuer: %v", err)
	}

	// A revocation must be the authority's; then the peer is removed, its
	// IdP forgotten, and it cannot come back.
	if err := applyMembership(t, n, membership.Revoke(other.revoke(lom.ID, lom.Peer())), nil); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("revocation by another key: %v", err)
	}
	if err := applyMembership(t, n, membership.Revoke(a.revoke(lom.ID, lom.Peer())), nil); err != nil {
		t.Fatal(err)
	}
	if err := putCerts(t, n, now, a.cert(lom.ID, lom.Peer(), "voter", now)); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("revoked peer re-added: %v", err)
	}
	cl.WaitConverged()
	for _, node := range cl.Nodes() {
		v := node.Members().View()
		if _, ok := v.Region(lom.ID); ok || len(v.Revoked) != 1 || len(v.IdPs) != 0 {
			t.Fatalf("%s: view after revocation %+v", node.ID, v)
		}
		if _, ok := node.Members().IssuerKeys("urn:idp:" + lom.ID); ok {
			t.Fatalf("%s still knows a revoked region's issuer", node.ID)
		}
	}
	// The view survives a restart (reloaded from the state).
	f := cl.Nodes()[2]
	cl.Restart(f)
	if v := f.Members().View(); len(v.Revoked) != 1 || !v.Authority.Equal(a.pub) {
		t.Fatalf("after restart: %+v", v)
	}
}

// The gater follows the replicated membership: a peer outside it cannot open
// any stream (Raft, forwarding, read index), and a revoked region is cut off
// at runtime while the others go on.
func TestAllowlistFollowsReplicatedMembership(t *testing.T) {
	c := consensustest.NewCluster(t, consensustest.Options{MembershipGates: true, Machines: []func() consensustest.Registrar{kv}})
	for _, id := range []string{"010", "020", "030"} {
		c.Add(id)
	}
	c.Bootstrap(c.Nodes()...)
	leader := c.WaitLeader()
	a := newAuthority(t)
	cmd, err := membership.SetAuthority(a.pub)
	if err := applyMembership(t, leader, cmd, err); err != nil {
		t.Fatal(err)
	}
	var certs []string
	for _, n := range c.Nodes() {
		certs = append(certs, a.certOf(n, "voter"))
	}
	if err := putCerts(t, leader, time.Now(), certs...); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()

	// A stranger whose own gater lets everything through.
	sg := federation.NewGater(nil, c.Logger())
	stranger, err := federation.NewHost(federation.HostConfig{
		KeyFile: filepath.Join(t.TempDir(), "stranger.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: 2 * time.Second,
	}, sg)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	var all []peer.ID
	for _, n := range c.Nodes() {
		all = append(all, n.Peer())
	}
	sg.SetMembers(all, nil)
	for _, n := range c.Nodes() {
		stranger.Peerstore().AddAddrs(n.Peer(), n.Host().Addrs(), peerstore.PermanentAddrTTL)
		for _, proto := range []protocol.ID{"/fsenet/raft/1.0.0", "/fsenet/forward/1.0.0", "/fsenet/readindex/1.0.0"} {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			s, err := stranger.NewStream(ctx, n.Peer(), proto)
			cancel()
			if err == nil {
				s.Reset()
				t.Fatalf("stranger opened %s to %s", proto, n.ID)
			}
		}
	}

	// Revoke a follower: every node closes its connections and refuses
	// it; then the leader removes it from Raft.
	victim := c.Followers()[0]
	rv := membership.Revoke(a.revoke(victim.ID, victim.Peer()))
	rv.Key = "revoke-" + victim.ID
	if err := applyMembership(t, leader, rv, nil); err != nil {
		t.Fatal(err)
	}
	leader = c.WaitLeader()
	if err := leader.Replica().RemoveServer(context.Background(), victim.ID); err != nil {
		t.Fatal(err)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		for _, n := range c.Nodes() {
			if n == victim {
				continue
			}
			if len(n.Host().Network().ConnsToPeer(victim.Peer())) > 0 {
				return errors.New(n.ID + " still connected to the revoked peer")
			}
		}
		return nil
	}, "the others to close their connections to the revoked peer")
	mustApply(t, leader, put("after-revocation", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := victim.Host().NewStream(ctx, leader.Peer(), "/fsenet/forward/1.0.0"); err == nil {
		t.Fatal("revoked peer opened a stream")
	}
	c.Stop(victim)
}
