package consensus

import (
	"context"
	"fmt"
	"net"
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
}

func newStreamLayer(h host.Host) (*streamLayer, error) {
	ln, err := gostream.Listen(h, raftProtocol)
	if err != nil {
		return nil, fmt.Errorf("listen for raft streams: %w", err)
	}
	return &streamLayer{h: h, ln: ln}, nil
}

func (s *streamLayer) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *streamLayer) Close() error              { return s.ln.Close() }

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
