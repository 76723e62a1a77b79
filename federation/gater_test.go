package federation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

func randomPeer(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGaterDecisions(t *testing.T) {
	boot, member, revoked, stranger := randomPeer(t), randomPeer(t), randomPeer(t), randomPeer(t)
	g := NewGater([]peer.ID{boot, revoked}, quiet())

	// Before the replicated membership is known: bootstrap peers only.
	for p, want := range map[peer.ID]bool{boot: true, revoked: true, member: false, stranger: false} {
		if got := g.Allowed(p); got != want {
			t.Errorf("before membership: Allowed(%s) = %v, want %v", p, got, want)
		}
	}
	g.SetMembers([]peer.ID{member, revoked}, []peer.ID{revoked})
	for p, want := range map[peer.ID]bool{boot: false, revoked: false, member: true, stranger: false} {
		if got := g.Allowed(p); got != want {
			t.Errorf("after membership: Allowed(%s) = %v, want %v", p, got, want)
		}
	}
	// Peers added to the bootstrap list after the membership is known
	// are not admitted: the replicated membership wins.
	late := randomPeer(t)
	g.AddBootstrap([]peer.ID{late})
	if g.Allowed(late) {
		t.Error("a bootstrap peer is admitted after the membership is known")
	}
	g2 := NewGater(nil, quiet())
	g2.AddBootstrap([]peer.ID{late, revoked})
	if !g2.Allowed(late) || g2.Allowed(stranger) {
		t.Errorf("AddBootstrap before membership: Allowed(late) = %v, Allowed(stranger) = %v", g2.Allowed(late), g2.Allowed(stranger))
	}
}

// connect returns whether a can open a stream to b on a protocol b serves.
func canStream(a, b host.Host) error {
	a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := a.NewStream(ctx, b.ID(), "/fsenet/test/1.0.0")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("x")); err != nil {
		return err
	}
	buf := make([]byte, 1)
	// A transport may return the last byte together with io.EOF.
	_, err = io.ReadFull(s, buf)
	return err
}

func serveTest(h host.Host) {
	h.SetStreamHandler("/fsenet/test/1.0.0", func(s network.Stream) {
		buf := make([]byte, 1)
		_, _ = s.Read(buf)
		_, _ = s.Write(buf)
		s.Close()
	})
}

func TestNonMemberCannotOpenStreams(t *testing.T) {
	gm, go2, gs := NewGater(nil, quiet()), NewGater(nil, quiet()), NewGater(nil, quiet())
	member, other, stranger := newTestHost(t, gm), newTestHost(t, go2), newTestHost(t, gs)
	for _, h := range []host.Host{member, other, stranger} {
		serveTest(h)
	}
	gm.SetMembers([]peer.ID{other.ID()}, nil)
	go2.SetMembers([]peer.ID{member.ID()}, nil)
	// The stranger admits everyone on its side; the member must still refuse.
	gs.SetMembers([]peer.ID{member.ID(), other.ID()}, nil)

	if err := canStream(other, member); err != nil {
		t.Fatalf("member to member: %v", err)
	}
	if err := canStream(stranger, member); err == nil {
		t.Fatal("a non-member opened a stream to a member")
	}
	if err := canStream(member, stranger); err == nil {
		t.Fatal("a member dialed a non-member")
	}
	if n := len(member.Network().ConnsToPeer(stranger.ID())); n != 0 {
		t.Fatalf("%d connections to the stranger survive", n)
	}

	// Revoking a connected member closes its connection and refuses it again.
	gm.SetMembers([]peer.ID{other.ID()}, []peer.ID{other.ID()})
	deadline := time.Now().Add(3 * time.Second)
	for len(member.Network().ConnsToPeer(other.ID())) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("connection of a revoked peer still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := canStream(other, member); err == nil {
		t.Fatal("revoked peer opened a stream")
	}
}

func TestIdentityPersistsAndRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "node.key")
	k1, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equals(k2) {
		t.Fatal("identity changed between loads")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(bad); err == nil {
		t.Fatal("garbage key file accepted")
	}
	if data, _ := os.ReadFile(bad); string(data) != "not a key" {
		t.Fatal("garbage key file was overwritten")
	}
}

func writePSK(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "swarm.key")
	content := "/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(key) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHostConfigValidate(t *testing.T) {
	ok := DefaultHostConfig()
	tests := []struct {
		name   string
		mutate func(*HostConfig)
		want   string
	}{
		{"default", func(*HostConfig) {}, ""},
		{"no key", func(c *HostConfig) { c.KeyFile = "" }, "KeyFile"},
		{"no listen", func(c *HostConfig) { c.ListenAddrs = nil }, "ListenAddrs"},
		{"bad addr", func(c *HostConfig) { c.ListenAddrs = []string{"tcp://x"} }, "not a multiaddr"},
		{"quic with psk", func(c *HostConfig) { c.PSKFile = "k" }, "QUIC"},
		{"tcp with psk", func(c *HostConfig) { c.PSKFile = "k"; c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if tt.want == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestPrivateNetworkSeparatesFederations(t *testing.T) {
	mk := func(psk string) (host.Host, *Gater) {
		g := NewGater(nil, quiet())
		h, err := NewHost(HostConfig{
			KeyFile: filepath.Join(t.TempDir(), "n.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
			PSKFile: psk, DialTimeout: 2 * time.Second,
		}, g)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		serveTest(h)
		return h, g
	}
	k1, k2 := writePSK(t), writePSK(t)
	a, ga := mk(k1)
	b, gb := mk(k1)
	c, gc := mk(k2)
	all := []peer.ID{a.ID(), b.ID(), c.ID()}
	for _, g := range []*Gater{ga, gb, gc} {
		g.SetMembers(all, nil)
	}
	if err := canStream(a, b); err != nil {
		t.Fatalf("same key: %v", err)
	}
	if err := canStream(a, c); err == nil {
		t.Fatal("hosts with different private-network keys connected")
	}
	if _, err := LoadPSK(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing key file accepted")
	}
}

func TestQUICTransport(t *testing.T) {
	mk := func() (host.Host, *Gater) {
		g := NewGater(nil, quiet())
		h, err := NewHost(HostConfig{
			KeyFile: filepath.Join(t.TempDir(), "n.key"), ListenAddrs: []string{"/ip4/127.0.0.1/udp/0/quic-v1"},
			DialTimeout: 2 * time.Second,
		}, g)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		serveTest(h)
		return h, g
	}
	a, ga := mk()
	b, gb := mk()
	ga.SetMembers([]peer.ID{b.ID()}, nil)
	gb.SetMembers([]peer.ID{a.ID()}, nil)
	if err := canStream(a, b); err != nil {
		t.Fatalf("QUIC: %v", err)
	}
	conns := a.Network().ConnsToPeer(b.ID())
	if len(conns) == 0 || !strings.Contains(conns[0].RemoteMultiaddr().String(), "quic-v1") {
		t.Fatalf("connection is not QUIC: %v", conns)
	}
}
