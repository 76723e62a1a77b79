package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// A copy of a node (its key and certificate, started elsewhere) is not
// admitted beside the original: the members refuse it and it is told, so
// it says so and never becomes ready, while the original serves on.
func TestCopyOfANodeIsRefused(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter"})

	dir := filepath.Join(t.TempDir(), "copy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node.key", "region.cert", "idp.key", "idp.jwks"} {
		b, err := os.ReadFile(filepath.Join(f.dir, "150", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := cam.cfg
	cfg.DataDir = dir
	cfg.Audit.SpoolDir = filepath.Join(dir, "audit-spool")
	cfg.P2P.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)}
	cfg.Raft.Bootstrap = false
	cfg.P2P.Join = []string{"http://" + lom.HTTPAddr()}
	dup, err := New(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dup.Shutdown(context.Background()) })
	// A copy made of the whole data directory dials the members its state
	// names at once; this one, started from the node's files alone, is
	// pointed at Lombardia.
	lomAddr, err := ma.NewMultiaddr(f.addrs["030"])
	if err != nil {
		t.Fatal(err)
	}
	consensustest.Eventually(t, 30*time.Second, func() error {
		if ok, why := dup.Ready(); ok || !strings.Contains(why, "copy of another node's identity") {
			// The copy's own gater admits Lombardia only once its join
			// has been answered with the members: until then, and until
			// it is told, it dials again.
			if err := dup.host.Connect(ctx, peer.AddrInfo{ID: lom.PeerID(), Addrs: []ma.Multiaddr{lomAddr}}); err != nil {
				return fmt.Errorf("the copy: ready %v (%s); its connection to Lombardia: %v", ok, why, err)
			}
			return fmt.Errorf("the copy: ready %v (%s)", ok, why)
		}
		return nil
	}, "the copy told it is refused")
	if ok, why := cam.Ready(); !ok {
		t.Fatalf("the original is not ready: %s", why)
	}
	if why := cam.dups.Copy(); why != "" {
		t.Fatalf("the original was told it is the copy: %s", why)
	}
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter"})
	// The original still answers for its region across the federation.
	base := "http://" + lom.HTTPAddr()
	if c, b := do(t, "GET", base+"/v1/cluster", f.authorityToken(), "", ""); c != 200 || !strings.Contains(b, `"agree":true`) {
		t.Fatalf("/v1/cluster after the copy was refused: %d %s", c, b)
	}
}

// The revocation notice and the instance question are peer messages:
// garbage gets a refusal or a closed stream, and changes nothing — the
// node is neither revoked nor taken for a copy.
func TestTrustProtocolsRefuseGarbage(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := federation.DefaultRPCOptions()
	garbage := [][]byte{[]byte("not a token"), {0x00, 0xff, 0x13}, []byte(strings.Repeat("a.", 4000)), []byte("{}")}
	for _, g := range garbage {
		_, err := federation.Call(ctx, lom.host, cam.PeerID(), federation.ProtocolID("revoked", "1.0.0"), g, opts)
		var re *federation.RemoteError
		if !errors.As(err, &re) || re.Code != "invalid" {
			t.Fatalf("revocation notice %q: %v, want an invalid refusal", g[:min(len(g), 16)], err)
		}
		if string(g) == "{}" {
			continue // a well-formed question (without a refusal): answered
		}
		s, err := lom.host.NewStream(ctx, cam.PeerID(), federation.ProtocolID("instance", "1.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write(g)
		_ = s.CloseWrite()
		if b, _ := io.ReadAll(s); len(b) != 0 {
			t.Fatalf("instance question %q answered %q, want the stream closed", g[:min(len(g), 16)], b)
		}
		_ = s.Close()
	}
	if _, revoked := cam.members.Revoked(); revoked {
		t.Fatal("garbage revoked the node")
	}
	if why := cam.dups.Copy(); why != "" {
		t.Fatalf("garbage made the node a copy: %s", why)
	}
	if ok, why := cam.Ready(); !ok {
		t.Fatalf("the node is not ready after garbage: %s", why)
	}
}
