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

func (a authority) certOf(n *testNode, role string) string {
	var addrs []string
	for _, m := range n.host.Addrs() {
		addrs = append(addrs, m.String())
	}
	return a.cert(n.id, n.host.ID(), role, time.Now().Add(-time.Minute).Truncate(time.Second), addrs...)
}

func (a authority) revoke(code string, p peer.ID) string {
	a.t.Helper()
	tok, _, err := federation.IssueRevocation(a.priv, federation.Revocation{Region: code, Peer: p, Reason: "test"})
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func applyMembership(t *testing.T, n *testNode, cmd consensus.Command, err error) error {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = n.node.Apply(ctx, cmd)
	return err
}

func putCerts(t *testing.T, n *testNode, at time.Time, certs ...string) error {
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
	cl := newCluster(t, 3, 0)
	a := newAuthority(t)
	n := cl.nodes[1]
	now := time.Now()
	lom := cl.nodes[0]

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
	cl.waitSame()
	for _, node := range cl.nodes {
		got, ok := node.members.View().Region(lom.id)
		if !ok || got.Name != "R"+lom.id || got.Peer != lom.host.ID() || got.Certificate != cert {
			t.Fatalf("%s sees %+v", node.id, got)
		}
	}
	tests := []struct {
		name string
		at   time.Time
		cert string
		want error
	}{
		{"another authority", now, other.certOf(cl.nodes[2], "voter"), consensus.ErrForbidden},
		{"expired when the leader appended it", now, a.cert(cl.nodes[2].id, cl.nodes[2].host.ID(), "voter", now.Add(-48*time.Hour)), consensus.ErrForbidden},
		{"expired, with a proposer's time that says otherwise", now.Add(-47 * time.Hour), a.cert(cl.nodes[2].id, cl.nodes[2].host.ID(), "voter", now.Add(-48*time.Hour)), consensus.ErrForbidden},
		{"garbage", now, "garbage", consensus.ErrForbidden},
		{"same peer, another region", now, a.cert("150", lom.host.ID(), "voter", now.Add(-time.Minute)), consensus.ErrConflict},
		{"older than the stored one", now, a.cert(lom.id, lom.host.ID(), "nonvoter", now.Add(-time.Hour)), consensus.ErrConflict},
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
	key := lom.host.Peerstore().PrivKey(lom.host.ID())
	rec := idpRecord(t, lom.id, "urn:idp:"+lom.id, now)
	cmd, err = membership.PutIdP(key, rec)
	if err := applyMembership(t, n, cmd, err); err != nil {
		t.Fatal(err)
	}
	cl.waitSame()
	for _, node := range cl.nodes {
		if ik, ok := node.members.IssuerKeys("urn:idp:" + lom.id); !ok || ik.Region != lom.id || ik.Keys.Len() != 1 {
			t.Fatalf("%s: issuer not known after its keys were registered", node.id)
		}
	}
	stranger := cl.nodes[2].host.Peerstore().PrivKey(cl.nodes[2].host.ID())
	cmd, err = membership.PutIdP(stranger, idpRecord(t, lom.id, "urn:idp:evil", now.Add(time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("IdP keys signed by another node: %v", err)
	}
	cmd, err = membership.PutIdP(key, idpRecord(t, lom.id, "urn:idp:"+lom.id, now.Add(-time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("older IdP record: %v", err)
	}
	cmd, err = membership.PutIdP(key, idpRecord(t, lom.id, federation.AuthorityIssuer, now.Add(time.Second)))
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrInvalid) {
		t.Fatalf("IdP claiming the authority's issuer: %v", err)
	}

	// A revocation must be the authority's; then the peer is removed, its
	// IdP forgotten, and it cannot come back.
	if err := applyMembership(t, n, membership.Revoke(other.revoke(lom.id, lom.host.ID())), nil); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("revocation by another key: %v", err)
	}
	if err := applyMembership(t, n, membership.Revoke(a.revoke(lom.id, lom.host.ID())), nil); err != nil {
		t.Fatal(err)
	}
	if err := putCerts(t, n, now, a.cert(lom.id, lom.host.ID(), "voter", now)); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("revoked peer re-added: %v", err)
	}
	cl.waitSame()
	for _, node := range cl.nodes {
		v := node.members.View()
		if _, ok := v.Region(lom.id); ok || len(v.Revoked) != 1 || len(v.IdPs) != 0 {
			t.Fatalf("%s: view after revocation %+v", node.id, v)
		}
		if _, ok := node.members.IssuerKeys("urn:idp:" + lom.id); ok {
			t.Fatalf("%s still knows a revoked region's issuer", node.id)
		}
	}
	// The view survives a restart (reloaded from the state).
	f := cl.nodes[2]
	cl.stop(f)
	cl.restart(f)
	if v := f.members.View(); len(v.Revoked) != 1 || !v.Authority.Equal(a.pub) {
		t.Fatalf("after restart: %+v", v)
	}
}

// The gater follows the replicated membership: a peer outside it cannot open
// any stream (Raft, forwarding, read index), and a revoked region is cut off
// at runtime while the others go on.
func TestAllowlistFollowsReplicatedMembership(t *testing.T) {
	c := newClusterDeferred(t)
	c.membershipGates = true
	for _, id := range []string{"010", "020", "030"} {
		c.add(id)
	}
	var servers []consensus.Server
	for _, n := range c.nodes {
		servers = append(servers, consensus.Server{ID: n.id, Peer: n.host.ID(), Voter: true})
	}
	if err := c.nodes[0].node.Bootstrap(servers); err != nil {
		t.Fatal(err)
	}
	leader := c.waitLeader()
	a := newAuthority(t)
	cmd, err := membership.SetAuthority(a.pub)
	if err := applyMembership(t, leader, cmd, err); err != nil {
		t.Fatal(err)
	}
	var certs []string
	for _, n := range c.nodes {
		certs = append(certs, a.certOf(n, "voter"))
	}
	if err := putCerts(t, leader, time.Now(), certs...); err != nil {
		t.Fatal(err)
	}
	c.waitSame()

	// A stranger whose own gater lets everything through.
	sg := federation.NewGater(nil, c.log)
	stranger, err := federation.NewHost(federation.HostConfig{
		KeyFile: filepath.Join(t.TempDir(), "stranger.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: 2 * time.Second,
	}, sg)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	var all []peer.ID
	for _, n := range c.nodes {
		all = append(all, n.host.ID())
	}
	sg.SetMembers(all, nil)
	for _, n := range c.nodes {
		stranger.Peerstore().AddAddrs(n.host.ID(), n.host.Addrs(), peerstore.PermanentAddrTTL)
		for _, proto := range []protocol.ID{"/fsenet/raft/1.0.0", "/fsenet/forward/1.0.0", "/fsenet/readindex/1.0.0"} {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			s, err := stranger.NewStream(ctx, n.host.ID(), proto)
			cancel()
			if err == nil {
				s.Reset()
				t.Fatalf("stranger opened %s to %s", proto, n.id)
			}
		}
	}

	// Revoke a follower: every node closes its connections and refuses
	// it; then the leader removes it from Raft.
	victim := c.followers()[0]
	rv := membership.Revoke(a.revoke(victim.id, victim.host.ID()))
	rv.Key = "revoke-" + victim.id
	if err := applyMembership(t, leader, rv, nil); err != nil {
		t.Fatal(err)
	}
	leader = c.waitLeaderAmong(c.nodes)
	if err := leader.node.RemoveServer(context.Background(), victim.id); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, func() error {
		for _, n := range c.nodes {
			if n == victim {
				continue
			}
			if len(n.host.Network().ConnsToPeer(victim.host.ID())) > 0 {
				return errors.New(n.id + " still connected to the revoked peer")
			}
		}
		return nil
	})
	mustApply(t, leader, put("after-revocation", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := victim.host.NewStream(ctx, leader.host.ID(), "/fsenet/forward/1.0.0"); err == nil {
		t.Fatal("revoked peer opened a stream")
	}
	c.stop(victim)
}

// newClusterDeferred returns an empty cluster whose nodes the test adds.
func newClusterDeferred(t *testing.T) *cluster {
	c := &cluster{t: t, log: testLogger(t), base: t.TempDir()}
	c.cfg = func(id string) consensus.Config { return testConfig(id, filepath.Join(c.base, id)) }
	t.Cleanup(c.shutdown)
	return c
}
