package consensus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"

	"github.com/fsenet/fsenet/federation"
)

// raftProtocol carries Raft's own RPCs (AppendEntries, RequestVote,
// InstallSnapshot, TimeoutNow) between regions.
var raftProtocol = federation.ProtocolID("raft", "1.0.0")

// streamLayer is a raft.StreamLayer over libp2p streams: a Raft server
// address is a peer ID, and each Raft connection is one libp2p stream.
// Connections inherit libp2p's authentication and the federation's gater.
type streamLayer struct {
	h  host.Host
	ln net.Listener
	// accept, once set, says whether a peer may open Raft connections
	// here; before it is set (while Raft starts) every member may.
	accept atomic.Pointer[func(peer.ID) bool]
	log    *slog.Logger
}

func newStreamLayer(h host.Host, log *slog.Logger) (*streamLayer, error) {
	ln, err := gostream.Listen(h, raftProtocol)
	if err != nil {
		return nil, fmt.Errorf("listen for raft streams: %w", err)
	}
	return &streamLayer{h: h, ln: ln, log: log}, nil
}

// Accept returns the next Raft connection from a peer allowed to open
// one; others are closed at once.
func (s *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		allow := s.accept.Load()
		if allow == nil {
			return c, nil
		}
		p, err := peer.Decode(c.RemoteAddr().String())
		if err == nil && (*allow)(p) {
			return c, nil
		}
		s.log.Warn("refused a Raft connection from a peer that is not a voter", "peer", c.RemoteAddr().String())
		_ = c.Close()
	}
}

func (s *streamLayer) Close() error { return s.ln.Close() }

// votersOnly allows Raft connections from the voters of the replica's
// latest configuration, or from anyone while it has none (a new replica
// waiting to be added). Only voters send Raft requests — leaders
// (AppendEntries, InstallSnapshot, TimeoutNow) and candidates
// (RequestVote) — and a Raft request names its sender in its own header,
// which the transport cannot check against the stream: refusing
// everyone else's connections keeps a non-voter from passing itself off
// as a voter to win an election.
func votersOnly(r *raft.Raft) func(peer.ID) bool {
	return func(p peer.ID) bool {
		f := r.GetConfiguration()
		if err := f.Error(); err != nil {
			return false
		}
		servers := f.Configuration().Servers
		if len(servers) == 0 {
			return true
		}
		for _, s := range servers {
			if s.Address == raft.ServerAddress(p.String()) {
				return s.Suffrage == raft.Voter
			}
		}
		return false
	}
}

// Addr returns this node's peer ID: the address other nodes dial.
func (s *streamLayer) Addr() net.Addr { return s.ln.Addr() }

// Dial opens a Raft stream to the peer whose ID is address.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft address %q is not a peer ID: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gostream.Dial(ctx, s.h, id, raftProtocol)
}
