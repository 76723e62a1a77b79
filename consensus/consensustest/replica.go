package consensustest

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

// NewReplica starts a one-voter replica of region 030 with the machines
// registered, fast timeouts and a small state database, waits until it
// leads, and stops it when the test ends.
func NewReplica(t testing.TB, machines ...Registrar) *consensus.Node {
	t.Helper()
	n, _ := NewReplicaDir(t, machines...)
	return n
}

// NewReplicaDir is NewReplica, also returning the replica's directory (its
// node key and, under consensus/, its data).
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
		_ = h.Close()
		t.Fatal(err)
	}
	for _, m := range machines {
		if err := m.Register(n); err != nil {
			_ = h.Close()
			t.Fatal(err)
		}
	}
	if err := n.Start(); err != nil {
		_ = h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.Shutdown(context.Background())
		_ = h.Close()
	})
	if err := n.Bootstrap([]consensus.Server{{ID: "030", Peer: h.ID(), Voter: true}}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, n.IsLeader, "the one-voter replica to lead")
	return n, dir
}
