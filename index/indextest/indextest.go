// Package indextest runs the index on a one-voter consensus replica for
// tests: a real libp2p host on loopback and badger in a temporary
// directory.
package indextest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

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
	return n
}
