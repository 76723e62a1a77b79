// Package indextest runs the index on a one-voter consensus replica for
// tests: a real libp2p host on loopback and badger in a temporary
// directory.
package indextest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

// Registrar registers state machines on the replica.
type Registrar interface {
	Register(r interface {
		Register(typ string, h consensus.Handler) error
	}) error
}

// NewReplica starts a one-voter replica of region 030 with the machines
// registered, and stops it when the test ends.
func NewReplica(t testing.TB, machines ...Registrar) *consensus.Node {
	t.Helper()
	n, _ := NewReplicaDir(t, machines...)
	return n
}

// NewReplicaDir is NewReplica, also returning the replica's directory.
func NewReplicaDir(t testing.TB, machines ...Registrar) (*consensus.Node, string) {
	t.Helper()
	dir := t.TempDir()
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile: filepath.Join(dir, "node.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: time.Second,
	}, federation.NewGater(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := consensus.DefaultConfig()
	cfg.ID, cfg.DataDir = "030", filepath.Join(dir, "consensus")
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	cfg.MemTableSize, cfg.BlockCacheSize = 16<<20, 8<<20
	n, err := consensus.New(cfg, consensus.Deps{Host: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range machines {
		if err := m.Register(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.Shutdown(context.Background())
		_ = h.Close()
	})
	if err := n.Bootstrap([]consensus.Server{{ID: "030", Peer: h.ID(), Voter: true}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, dir
}

// NewCluster starts voters replicas on loopback (regions 010, 020, …) with
// the machines registered, bootstrapped together with production
// timeouts, and returns them with the leader first.
func NewCluster(t testing.TB, voters int, machines ...func() Registrar) []*consensus.Node {
	t.Helper()
	base := t.TempDir()
	var hosts []host.Host
	var gaters []*federation.Gater
	for i := 0; i < voters; i++ {
		g := federation.NewGater(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		h, err := federation.NewHost(federation.HostConfig{
			KeyFile: filepath.Join(base, fmt.Sprint(i), "node.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: 5 * time.Second,
		}, g)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		gaters = append(gaters, g)
	}
	var all []peer.ID
	for _, h := range hosts {
		all = append(all, h.ID())
	}
	for _, g := range gaters {
		g.SetMembers(all, nil)
	}
	for _, h := range hosts {
		for _, o := range hosts {
			if o != h {
				h.Peerstore().AddAddrs(o.ID(), o.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
	var nodes []*consensus.Node
	var servers []consensus.Server
	for i, h := range hosts {
		cfg := consensus.DefaultConfig()
		cfg.ID, cfg.DataDir = fmt.Sprintf("%03d", (i+1)*10), filepath.Join(base, fmt.Sprint(i), "consensus")
		n, err := consensus.New(cfg, consensus.Deps{Host: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range machines {
			if err := mk().Register(n); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		servers = append(servers, consensus.Server{ID: cfg.ID, Peer: h.ID(), Voter: true})
	}
	t.Cleanup(func() {
		for i, n := range nodes {
			_ = n.Shutdown(context.Background())
			_ = hosts[i].Close()
		}
	})
	if err := nodes[0].Bootstrap(servers); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for i, n := range nodes {
			if n.IsLeader() {
				nodes[0], nodes[i] = nodes[i], nodes[0]
				return nodes
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
