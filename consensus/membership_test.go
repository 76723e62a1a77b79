package consensus_test

import (
	"context"
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

func region(n *testNode, name string, role membership.Role) membership.Region {
	var addrs []string
	for _, a := range n.host.Addrs() {
		addrs = append(addrs, a.String())
	}
	return membership.Region{Code: n.id, Name: name, Peer: n.host.ID(), Addrs: addrs, Role: role}
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

func TestMembershipStateMachine(t *testing.T) {
	cl := newCluster(t, 3, 0)
	n := cl.nodes[1]
	r := region(cl.nodes[0], "Lombardia", membership.Voter)
	cmd, err := membership.PutRegion(r)
	if err := applyMembership(t, n, cmd, err); err != nil {
		t.Fatal(err)
	}
	cl.waitSame()
	for _, node := range cl.nodes {
		got, ok := node.members.View().Region("010")
		if !ok || got.Name != "Lombardia" || got.Peer != r.Peer {
			t.Fatalf("%s sees %+v", node.id, got)
		}
	}

	// The same peer cannot belong to two regions.
	dup := r
	dup.Code = "150"
	cmd, err = membership.PutRegion(dup)
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("same peer twice: %v", err)
	}
	// Removing an unknown region is a domain error.
	if err := applyMembership(t, n, membership.RemoveRegion("999"), nil); !errors.Is(err, consensus.ErrNotFound) {
		t.Fatalf("remove unknown: %v", err)
	}
	// Bad records never reach the log.
	if _, err := membership.PutRegion(membership.Region{Code: "Lombardia"}); err == nil {
		t.Fatal("invalid region accepted")
	}
	// A revoked peer is removed and cannot come back.
	rv, err := membership.Revoke(membership.Revocation{Peer: r.Peer, Code: r.Code, Reason: "test", At: time.Unix(1, 0).UTC()})
	if err := applyMembership(t, n, rv, err); err != nil {
		t.Fatal(err)
	}
	cmd, err = membership.PutRegion(r)
	if err := applyMembership(t, n, cmd, err); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("revoked peer re-added: %v", err)
	}
	cl.waitSame()
	for _, node := range cl.nodes {
		v := node.members.View()
		if _, ok := v.Region("010"); ok || len(v.Revoked) != 1 {
			t.Fatalf("%s: view after revocation %+v", node.id, v)
		}
	}
	// The view survives a restart (reloaded from the state).
	f := cl.nodes[2]
	cl.stop(f)
	cl.restart(f)
	if v := f.members.View(); len(v.Revoked) != 1 {
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
	var founders []membership.Region
	for _, n := range c.nodes {
		founders = append(founders, region(n, "R"+n.id, membership.Voter))
	}
	cmd, err := membership.PutRegion(founders...)
	if err := applyMembership(t, leader, cmd, err); err != nil {
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
	rv, err := membership.Revoke(membership.Revocation{Peer: victim.host.ID(), Code: victim.id, Reason: "test", At: time.Unix(1, 0).UTC()})
	rv.Key = "revoke-" + victim.id
	if err := applyMembership(t, leader, rv, err); err != nil {
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
