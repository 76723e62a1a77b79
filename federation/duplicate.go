package federation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"
)

// A node's identity is its key: a copy of a node's files (key and
// certificate) started elsewhere would authenticate as the same peer. Each
// running node therefore has an instance, a random nonce drawn at start,
// and asks every new connection which instance it reaches. Two live
// connections of one peer reaching different instances are two nodes with
// one identity: the one that started later is the copy. It is told (it
// logs an error and becomes unready) and its connections are closed, now
// and whenever it connects again.

// instanceProtocol answers which instance of a peer a connection reaches.
var instanceProtocol = ProtocolID("instance", "1.0.0")

// instanceProbeTimeout bounds one question on one connection.
const instanceProbeTimeout = 3 * time.Second

// Instance is one run of a node.
type Instance struct {
	Nonce   string    `json:"nonce"`
	Started time.Time `json:"started"`
}

type instanceRequest struct {
	// Refuse, when set, tells the instance it is a copy and why.
	Refuse string `json:"refuse,omitempty"`
}

// DuplicateGuard detects and refuses copies of a peer's identity, and
// learns when this node is the refused copy.
type DuplicateGuard struct {
	h    host.Host
	self Instance
	log  *slog.Logger

	mu      sync.Mutex
	seen    map[peer.ID]seenInstance
	refused map[peer.ID]string // the copy's nonce
	copyOf  string             // set when this node was told it is a copy
}

type seenInstance struct {
	Instance
	conn network.Conn
	addr ma.Multiaddr
}

// GuardDuplicates answers the instance protocol on h and checks every new
// connection's instance.
func GuardDuplicates(h host.Host, log *slog.Logger) *DuplicateGuard {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	g := &DuplicateGuard{h: h, log: log, self: Instance{Nonce: hex.EncodeToString(b), Started: time.Now().UTC()},
		seen: map[peer.ID]seenInstance{}, refused: map[peer.ID]string{}}
	h.SetStreamHandler(instanceProtocol, g.serve)
	h.Network().Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) { go g.check(c) }})
	return g
}

// Copy reports why this node was refused as a copy of another node's
// identity ("" if it was not).
func (g *DuplicateGuard) Copy() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.copyOf
}

func (g *DuplicateGuard) serve(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(instanceProbeTimeout))
	var req instanceRequest
	if err := json.NewDecoder(io.LimitReader(s, 4096)).Decode(&req); err != nil {
		_ = s.Reset()
		return
	}
	if req.Refuse != "" {
		g.mu.Lock()
		first := g.copyOf == ""
		if first {
			g.copyOf = req.Refuse
		}
		g.mu.Unlock()
		if first {
			g.log.Error("this node is a copy of another node's identity (same node key and certificate): the federation refuses it; stop it and give this node its own key and certificate",
				"told_by", s.Conn().RemotePeer(), "reason", req.Refuse)
		}
	}
	_ = json.NewEncoder(s).Encode(g.self)
}

// probe asks which instance c reaches, optionally telling it it is refused.
func (g *DuplicateGuard) probe(c network.Conn, refuse string) (Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), instanceProbeTimeout)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		return Instance{}, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(instanceProbeTimeout))
	if err := msmux.SelectProtoOrFail(instanceProtocol, s); err != nil {
		_ = s.Reset()
		return Instance{}, err
	}
	if err := json.NewEncoder(s).Encode(instanceRequest{Refuse: refuse}); err != nil {
		_ = s.Reset()
		return Instance{}, err
	}
	var in Instance
	if err := json.NewDecoder(io.LimitReader(s, 4096)).Decode(&in); err != nil || in.Nonce == "" {
		_ = s.Reset()
		return Instance{}, fmt.Errorf("instance answer: %w", err)
	}
	return in, nil
}

// check asks a new connection's instance and refuses it if it is a copy
// of a peer already connected from another live instance.
func (g *DuplicateGuard) check(c network.Conn) {
	p := c.RemotePeer()
	in, err := g.probe(c, "")
	if err != nil {
		g.log.Debug("instance probe failed", "peer", p, "err", err)
		return // closed already, or not a node of this federation's version
	}
	g.mu.Lock()
	if g.refused[p] == in.Nonce {
		g.mu.Unlock()
		_ = c.Close()
		return
	}
	g.log.Debug("instance probed", "peer", p, "nonce", in.Nonce)
	cur, ok := g.seen[p]
	if !ok || cur.Nonce == in.Nonce || cur.conn.IsClosed() {
		g.seen[p] = seenInstance{Instance: in, conn: c, addr: c.RemoteMultiaddr()}
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	// Another instance answered before: is it still there?
	if again, err := g.probe(cur.conn, ""); err != nil || again.Nonce != cur.Nonce {
		g.mu.Lock()
		g.seen[p] = seenInstance{Instance: in, conn: c, addr: c.RemoteMultiaddr()}
		g.mu.Unlock()
		return // the earlier run is gone: a restart, not a copy
	}
	orig, copyConn, copyInst := cur, c, in
	if in.Started.Before(cur.Started) {
		orig, copyConn, copyInst = seenInstance{Instance: in, conn: c, addr: c.RemoteMultiaddr()}, cur.conn, cur.Instance
	}
	g.mu.Lock()
	first := g.refused[p] != copyInst.Nonce
	g.refused[p] = copyInst.Nonce
	g.seen[p] = orig
	g.mu.Unlock()
	if first {
		g.log.Error("two nodes hold the identity of one peer (same node key): refusing the one started later",
			"peer", p, "original_started", orig.Started.Format(time.RFC3339Nano), "original_remote", orig.addr.String(),
			"copy_started", copyInst.Started.Format(time.RFC3339Nano), "copy_remote", copyConn.RemoteMultiaddr().String())
	}
	_, _ = g.probe(copyConn, fmt.Sprintf("peer %s is already live (started %s); this copy started %s",
		p, orig.Started.Format(time.RFC3339), copyInst.Started.Format(time.RFC3339)))
	_ = copyConn.Close()
}
