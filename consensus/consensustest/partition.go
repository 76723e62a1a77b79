package consensustest

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// partitionGater wraps the federation's allowlist gater with a set of peers
// the test has cut off, to simulate network partitions on real connections.
type partitionGater struct {
	*federation.Gater
	mu      sync.Mutex
	blocked map[peer.ID]bool
}

var _ connmgr.ConnectionGater = (*partitionGater)(nil)

func newPartitionGater(g *federation.Gater) *partitionGater {
	return &partitionGater{Gater: g, blocked: map[peer.ID]bool{}}
}

func (g *partitionGater) cut(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked[p]
}

func (g *partitionGater) InterceptPeerDial(p peer.ID) bool {
	return !g.cut(p) && g.Gater.InterceptPeerDial(p)
}

func (g *partitionGater) InterceptSecured(d network.Direction, p peer.ID, a network.ConnMultiaddrs) bool {
	return !g.cut(p) && g.Gater.InterceptSecured(d, p, a)
}

func (g *partitionGater) block(p peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked[p] = true
}

func (g *partitionGater) unblockAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked = map[peer.ID]bool{}
}
