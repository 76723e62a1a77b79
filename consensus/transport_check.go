package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
)

// errRPCRefused is the error of an inbound Raft RPC whose sender is not
// the peer of its stream.
var errRPCRefused = errors.New("raft rpc refused")

// Reasons an inbound Raft RPC is refused: the reason label of
// fsenet_raft_rpc_refused_total.
const (
	// RefusedNoIdentity: the RPC header names no server ID or no address
	// (every fsenet node's Raft writes both).
	RefusedNoIdentity = "no_identity"
	// RefusedAddress: the address in the RPC (header, or the deprecated
	// Candidate/Leader field) is not the stream's peer.
	RefusedAddress = "address"
	// RefusedServerID: the server ID in the header is another peer's, or
	// the stream's peer is another server, in Raft's configuration or, for
	// a server it does not know, in the replicated membership.
	RefusedServerID = "server_id"
)

// senderError says why an RPC's sender is not the peer of its stream.
type senderError struct {
	reason string // one of the Refused* reasons
	msg    string
}

func (e *senderError) Error() string { return e.msg }

func refuse(reason, format string, args ...any) *senderError {
	return &senderError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// checkSender decides whether an RPC on a stream from remote (remoteStr is
// its string form, the form of a Raft address) may name the sender it
// names: its header's address (and the deprecated legacy address, when
// set) must be remote, and its header's server ID must be the one remote
// holds. Raft's configuration decides who holds which ID; for an ID and a
// peer it does not know (a region joining), regionPeer, if set, says which
// peer the membership records for the ID. An ID nobody knows, from a peer
// nobody knows, is left to Raft (which grants no vote to a server outside
// its configuration).
func checkSender(remote peer.ID, remoteStr string, h raft.RPCHeader, legacy []byte, servers []raft.Server, regionPeer func(string) (peer.ID, bool)) *senderError {
	id, addr := string(h.ID), string(h.Addr)
	switch {
	case id == "" || addr == "":
		return refuse(RefusedNoIdentity, "rpc header names no server (id %q, address %q), stream is from peer %s", id, addr, remoteStr)
	case addr != remoteStr:
		return refuse(RefusedAddress, "rpc header names server %s at address %s, stream is from peer %s", id, addr, remoteStr)
	case len(legacy) > 0 && string(legacy) != remoteStr:
		return refuse(RefusedAddress, "rpc names server %s at address %s, stream is from peer %s", id, legacy, remoteStr)
	}
	known := false
	for _, s := range servers {
		sameID, samePeer := string(s.ID) == id, string(s.Address) == remoteStr
		switch {
		case sameID && !samePeer:
			return refuse(RefusedServerID, "rpc header names server %s, stream is from peer %s (server %s is peer %s)", id, remoteStr, id, s.Address)
		case samePeer && !sameID:
			return refuse(RefusedServerID, "rpc header names server %s, stream is from peer %s, which is server %s", id, remoteStr, s.ID)
		case sameID:
			known = true
		}
	}
	if !known && regionPeer != nil {
		if p, ok := regionPeer(id); ok && p != remote {
			return refuse(RefusedServerID, "rpc header names server %s, stream is from peer %s (the membership records peer %s for region %s)", id, remoteStr, p, id)
		}
	}
	return nil
}

// checkSender checks an inbound RPC's sender against Raft's latest
// configuration and the membership.
func (t *transport) checkSender(remote peer.ID, remoteStr string, h raft.RPCHeader, legacy []byte) *senderError {
	var servers []raft.Server
	if t.config != nil {
		servers = t.config().Servers
	}
	return checkSender(remote, remoteStr, h, legacy, servers, t.deps.RegionPeer)
}

// maxWarnedPeers bounds the set of peers whose refusals were logged at
// WARN; past it the set starts again.
const maxWarnedPeers = 1024

// refused counts a refused RPC and logs it: at WARN the first time for a
// peer, at DEBUG after that, so a misbehaving peer cannot flood the log.
func (t *transport) refused(remote peer.ID, rpc string, h raft.RPCHeader, e *senderError) {
	if t.deps.Refused != nil {
		t.deps.Refused(e.reason)
	}
	t.mu.Lock()
	_, seen := t.warned[remote]
	if !seen {
		if len(t.warned) >= maxWarnedPeers {
			clear(t.warned)
		}
		t.warned[remote] = struct{}{}
	}
	t.mu.Unlock()
	level := slog.LevelWarn
	if seen {
		level = slog.LevelDebug
	}
	t.log.Log(context.Background(), level, "raft rpc refused: it names a sender other than its stream's peer; the stream is closed",
		"peer", remote, "claimed_server", string(h.ID), "claimed_address", string(h.Addr),
		"rpc", rpc, "reason", e.reason, "detail", e.msg)
}
