package federation

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater is an allowlist connection gater: it admits a connection only when the
// remote peer is a member of the federation. Membership has two sources:
//
//   - the bootstrap list, trusted only until the node knows the replicated
//     membership (so a brand-new node can reach the federation to learn it):
//     the peers of the node's configuration, and the peers whose
//     certificates the node verified when it asked to join (AddBootstrap),
//   - the replicated membership, pushed with SetMembers whenever it changes:
//     the peers whose certificates are valid and unexpired.
//
// A revoked peer is refused whatever either list says. Peers that stop being
// members have their open connections closed, so a change takes effect at once
// and not only at the next dial.
//
// The decision is made at InterceptSecured, the first point where the remote
// peer ID is authenticated by the security handshake; outbound dials to
// non-members are refused earlier, at InterceptPeerDial.
type Gater struct {
	log *slog.Logger

	mu        sync.RWMutex
	self      peer.ID
	bootstrap map[peer.ID]struct{}
	members   map[peer.ID]struct{}
	known     bool // members holds the replicated membership
	revoked   map[peer.ID]struct{}
	pinned    map[peer.ID]struct{} // revoked for good, whatever SetMembers says
	net       network.Network

	// refusedSeen holds the peers whose refusal was logged: a refused peer
	// that keeps dialling is logged once, not at every attempt.
	refusedSeen map[peer.ID]struct{}
	// refusedRevoked and refusedOther count the refused connections.
	refusedRevoked, refusedOther atomic.Uint64
}

// maxRefusedSeen bounds the peers remembered as already logged.
const maxRefusedSeen = 1024

var _ interface {
	InterceptPeerDial(peer.ID) bool
	InterceptAddrDial(peer.ID, ma.Multiaddr) bool
	InterceptAccept(network.ConnMultiaddrs) bool
	InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool
	InterceptUpgraded(network.Conn) (bool, control.DisconnectReason)
} = (*Gater)(nil)

// NewGater returns a gater that admits the bootstrap peers until SetMembers
// is first called.
func NewGater(bootstrap []peer.ID, log *slog.Logger) *Gater {
	if log == nil {
		log = slog.Default()
	}
	g := &Gater{
		log:       log,
		bootstrap: make(map[peer.ID]struct{}, len(bootstrap)),
		members:   map[peer.ID]struct{}{},
		revoked:   map[peer.ID]struct{}{},
		pinned:    map[peer.ID]struct{}{},

		refusedSeen: map[peer.ID]struct{}{},
	}
	for _, p := range bootstrap {
		g.bootstrap[p] = struct{}{}
	}
	return g
}

// Attach tells the gater which host it guards, so that it can close the
// connections of peers that lose their membership. Call it once the host
// exists (the gater must be built before the host).
func (g *Gater) Attach(self peer.ID, n network.Network) {
	g.mu.Lock()
	g.self, g.net = self, n
	g.mu.Unlock()
}

// SetMembers replaces the replicated membership: members are admitted,
// revoked peers are refused even if listed as members or bootstrap peers.
// Connections to peers no longer allowed are closed.
func (g *Gater) SetMembers(members, revoked []peer.ID) {
	next := make(map[peer.ID]struct{}, len(members))
	for _, p := range members {
		next[p] = struct{}{}
	}
	rev := make(map[peer.ID]struct{}, len(revoked))
	for _, p := range revoked {
		rev[p] = struct{}{}
	}

	g.mu.Lock()
	g.members, g.revoked, g.known = next, rev, true
	g.mu.Unlock()
	g.closeDisallowed()
}

// Revoke refuses peers for good: unlike the revoked peers of SetMembers,
// which follow the replicated state, a later SetMembers does not lift
// them (the node's own revocation list, which a restored state from before
// a revocation must not undo). Their open connections are closed.
func (g *Gater) Revoke(peers ...peer.ID) {
	g.mu.Lock()
	for _, p := range peers {
		g.pinned[p] = struct{}{}
	}
	g.mu.Unlock()
	g.closeDisallowed()
}

// AddBootstrap adds peers to the bootstrap list. The caller must have
// verified their membership certificates; like the configured bootstrap
// peers they are admitted only until the replicated membership is known.
func (g *Gater) AddBootstrap(peers []peer.ID) {
	g.mu.Lock()
	for _, p := range peers {
		g.bootstrap[p] = struct{}{}
	}
	g.mu.Unlock()
}

func (g *Gater) closeDisallowed() {
	g.mu.RLock()
	n := g.net
	g.mu.RUnlock()
	if n == nil {
		return
	}
	for _, p := range n.Peers() {
		if !g.Allowed(p) {
			g.log.Warn("closing connection to peer that is no longer a member", "peer", p)
			_ = n.ClosePeer(p)
		}
	}
}

// Allowed reports whether p may hold a connection with this node.
func (g *Gater) Allowed(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if p == g.self && p != "" {
		return true
	}
	if g.isRevoked(p) {
		return false
	}
	if _, ok := g.members[p]; ok {
		return true
	}
	if !g.known {
		_, ok := g.bootstrap[p]
		return ok
	}
	return false
}

func (g *Gater) isRevoked(p peer.ID) bool {
	_, rev := g.revoked[p]
	_, pin := g.pinned[p]
	return rev || pin
}

// InterceptPeerDial refuses to dial peers that are not members.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return g.Allowed(p) }

// InterceptAddrDial allows every address of a peer already admitted by
// InterceptPeerDial.
func (g *Gater) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept allows the raw connection: the remote peer is not known
// before the security handshake.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured admits the authenticated remote peer only if it is a member.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	if g.Allowed(p) {
		return true
	}
	g.mu.Lock()
	revoked := g.isRevoked(p)
	// A joining node does not know the members before the join's answer,
	// and the leader adds it, then dials it, before it answers: info, and
	// not counted as logged.
	joining := !revoked && !g.known
	_, seen := g.refusedSeen[p]
	if !seen && !joining && len(g.refusedSeen) < maxRefusedSeen {
		g.refusedSeen[p] = struct{}{}
	}
	g.mu.Unlock()
	level, msg := slog.LevelWarn, "refused connection from non-member peer"
	if revoked {
		msg = "refused connection from revoked peer"
		g.refusedRevoked.Add(1)
	} else {
		g.refusedOther.Add(1)
	}
	switch {
	case seen:
		level = slog.LevelDebug // logged at WARN once already
	case joining:
		level = slog.LevelInfo
	}
	g.log.Log(context.Background(), level, msg, "peer", p, "direction", dir.String(), "remote", addrs.RemoteMultiaddr().String())
	return false
}

// Refused counts the connections refused since the gater was made: those
// of revoked peers, and those of other non-members.
func (g *Gater) Refused() (revoked, other uint64) {
	return g.refusedRevoked.Load(), g.refusedOther.Load()
}

// InterceptUpgraded allows the connection: the decision was taken at
// InterceptSecured.
func (g *Gater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }
