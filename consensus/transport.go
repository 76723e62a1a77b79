package consensus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"

	"github.com/fsenet/fsenet/federation"
)

// raftProtocol carries Raft's own RPCs (AppendEntries, RequestVote,
// InstallSnapshot, TimeoutNow) between regions.
var raftProtocol = federation.ProtocolID("raft", "1.0.0")

// The first byte of every RPC on a Raft stream names its kind. The values
// and the framing that follows (the msgpack-encoded request, then the
// error string and the response) are those of hashicorp/raft's
// NetworkTransport, so nodes of either kind understand each other.
const (
	rpcAppendEntries uint8 = iota
	rpcRequestVote
	rpcInstallSnapshot
	rpcTimeoutNow
	rpcRequestPreVote
)

const (
	// transportTimeout bounds one outbound RPC (scaled up for snapshots).
	transportTimeout = 10 * time.Second
	// transportMaxPool is how many idle outbound streams are kept per peer.
	transportMaxPool = 4
	// inboundBufferSize is the read buffer of an inbound stream: large, as
	// AppendEntries requests carry batches of entries.
	inboundBufferSize = 256 << 10
)

// transportDeps are what the transport's sender check consults besides
// Raft's configuration (all optional).
type transportDeps struct {
	Log *slog.Logger
	// RegionPeer returns the peer the replicated membership records for a
	// region (a Raft server ID). It is asked only about servers Raft's
	// configuration does not know.
	RegionPeer func(code string) (peer.ID, bool)
	// Refused is told the reason of every refused RPC, for metrics.
	Refused func(reason string)
}

// transport is Raft's transport over libp2p streams: a Raft server's
// address is its node's peer ID, and every stream is authenticated by
// libp2p and admitted by the federation's gater.
//
// Outbound RPCs (with pipelining) go through hashicorp/raft's
// NetworkTransport. Inbound streams are served here instead, because Raft
// believes the sender an RPC names: a member could otherwise ask for votes,
// or start an election (TimeoutNow), or send entries, in the name of
// another server. Each inbound RPC is decoded here and checked against
// the peer that opened its stream (checkSender) before Raft sees it; one
// that names another server is answered with an error and its stream is
// closed.
type transport struct {
	out  *raft.NetworkTransport
	dial *dialLayer
	ln   net.Listener
	log  *slog.Logger
	deps transportDeps

	consumeCh chan raft.RPC
	heartbeat atomic.Pointer[func(raft.RPC)]
	// config returns Raft's latest configuration; set by serve.
	config func() raft.Configuration

	shutdown  chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // inbound streams being served
	warned map[peer.ID]struct{}  // peers whose refusal was logged at WARN
	closed bool
}

// newTransport listens for Raft streams on h. Inbound streams wait until
// serve is called with Raft's configuration.
func newTransport(h host.Host, deps transportDeps) (*transport, error) {
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	ln, err := gostream.Listen(h, raftProtocol)
	if err != nil {
		return nil, fmt.Errorf("listen for raft streams: %w", err)
	}
	t := &transport{
		dial:      &dialLayer{h: h, addr: ln.Addr(), closed: make(chan struct{})},
		ln:        ln,
		log:       deps.Log,
		deps:      deps,
		consumeCh: make(chan raft.RPC),
		shutdown:  make(chan struct{}),
		conns:     map[net.Conn]struct{}{},
		warned:    map[peer.ID]struct{}{},
	}
	t.out = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  t.dial,
		MaxPool: transportMaxPool,
		Timeout: transportTimeout,
		Logger:  newHclog(deps.Log, "raft-net"),
	})
	return t, nil
}

// serve starts answering inbound Raft streams; config returns Raft's
// latest configuration, which the sender check consults. Call it once,
// after Raft is built on the transport.
func (t *transport) serve(config func() raft.Configuration) {
	t.config = config
	go t.acceptLoop()
}

// Close stops the transport: no more streams are accepted, those being
// served are closed, and RPCs waiting for Raft are abandoned. Outbound
// streams are closed as NetworkTransport closes them.
func (t *transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.shutdown)
		_ = t.ln.Close()
		_ = t.out.Close()
		t.mu.Lock()
		t.closed = true
		for c := range t.conns {
			_ = c.Close()
		}
		t.mu.Unlock()
	})
	return nil
}

func (t *transport) acceptLoop() {
	const maxDelay = time.Second
	delay := time.Duration(0)
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.shutdown:
				return
			default:
			}
			delay = min(max(2*delay, 5*time.Millisecond), maxDelay)
			t.log.Error("accepting a raft stream failed", "error", err)
			select {
			case <-t.shutdown:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		if !t.track(conn) {
			_ = conn.Close()
			return
		}
		go t.serveConn(conn)
	}
}

func (t *transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	_ = c.Close()
}

// inbound is one inbound Raft stream and the peer libp2p authenticated
// for it.
type inbound struct {
	remote    peer.ID
	remoteStr string // its string form, as Raft addresses are written
	r         *bufio.Reader
	w         *bufio.Writer
	dec       *codec.Decoder
	enc       *codec.Encoder
}

// serveConn answers the RPCs of one inbound stream, one at a time and in
// order (a pipelining sender has several in flight), until the stream
// ends, an RPC is refused or the transport closes.
func (t *transport) serveConn(conn net.Conn) {
	defer t.untrack(conn)
	remote, err := peer.Decode(conn.RemoteAddr().String())
	if err != nil {
		t.log.Warn("raft stream from an address that is not a peer ID", "address", conn.RemoteAddr().String(), "error", err)
		return
	}
	in := &inbound{remote: remote, remoteStr: remote.String(), r: bufio.NewReaderSize(conn, inboundBufferSize), w: bufio.NewWriter(conn)}
	in.dec = codec.NewDecoder(in.r, &codec.MsgpackHandle{})
	// Responses are encoded as NetworkTransport encodes them.
	mp := &codec.MsgpackHandle{}
	mp.TimeNotBuiltin = true
	in.enc = codec.NewEncoder(in.w, mp)
	for {
		err := t.serveRPC(in)
		if ferr := in.w.Flush(); err == nil && ferr != nil {
			err = ferr
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, raft.ErrTransportShutdown), errors.Is(err, errRPCRefused):
		default:
			select {
			case <-t.shutdown:
			default:
				t.log.Debug("raft stream ended", "peer", remote, "error", err)
			}
		}
		return
	}
}

// serveRPC reads one RPC, checks its sender, hands it to Raft and writes
// Raft's answer.
func (t *transport) serveRPC(in *inbound) error {
	typ, err := in.r.ReadByte()
	if err != nil {
		return err
	}
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{RespChan: respCh}
	var (
		header    raft.RPCHeader
		legacy    []byte // the deprecated Candidate or Leader address
		empty     any    // the response sent with a refusal
		heartbeat bool
	)
	switch typ {
	case rpcAppendEntries:
		req := &raft.AppendEntriesRequest{}
		if err := in.dec.Decode(req); err != nil {
			return err
		}
		rpc.Command, header, legacy, empty = req, req.RPCHeader, req.Leader, &raft.AppendEntriesResponse{}
		heartbeat = isHeartbeat(req)
	case rpcRequestVote:
		req := &raft.RequestVoteRequest{}
		if err := in.dec.Decode(req); err != nil {
			return err
		}
		rpc.Command, header, legacy, empty = req, req.RPCHeader, req.Candidate, &raft.RequestVoteResponse{}
	case rpcRequestPreVote:
		req := &raft.RequestPreVoteRequest{}
		if err := in.dec.Decode(req); err != nil {
			return err
		}
		rpc.Command, header, empty = req, req.RPCHeader, &raft.RequestPreVoteResponse{}
	case rpcInstallSnapshot:
		req := &raft.InstallSnapshotRequest{}
		if err := in.dec.Decode(req); err != nil {
			return err
		}
		rpc.Command, header, legacy, empty = req, req.RPCHeader, req.Leader, &raft.InstallSnapshotResponse{}
		rpc.Reader = io.LimitReader(in.r, req.Size)
	case rpcTimeoutNow:
		req := &raft.TimeoutNowRequest{}
		if err := in.dec.Decode(req); err != nil {
			return err
		}
		rpc.Command, header, empty = req, req.RPCHeader, &raft.TimeoutNowResponse{}
	default:
		return fmt.Errorf("unknown raft rpc type %d", typ)
	}

	if ref := t.checkSender(in.remote, in.remoteStr, header, legacy); ref != nil {
		t.refused(in.remote, rpcName(typ), header, ref)
		if err := in.enc.Encode(ref.Error()); err != nil {
			return err
		}
		if err := in.enc.Encode(empty); err != nil {
			return err
		}
		return fmt.Errorf("%w: %w", errRPCRefused, ref)
	}

	// Heartbeats skip the queue, so a follower busy writing entries to disk
	// still hears from its leader in time.
	if fn := t.heartbeat.Load(); heartbeat && fn != nil {
		(*fn)(rpc)
	} else {
		select {
		case t.consumeCh <- rpc:
		case <-t.shutdown:
			return raft.ErrTransportShutdown
		}
	}

	select {
	case resp := <-respCh:
		msg := ""
		if resp.Error != nil {
			msg = resp.Error.Error()
		}
		if err := in.enc.Encode(msg); err != nil {
			return err
		}
		return in.enc.Encode(resp.Response)
	case <-t.shutdown:
		return raft.ErrTransportShutdown
	}
}

// isHeartbeat reports whether an AppendEntries request is a heartbeat, as
// NetworkTransport decides it.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	leader := req.Addr
	if len(leader) == 0 {
		leader = req.Leader
	}
	return req.Term != 0 && leader != nil && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

func rpcName(typ uint8) string {
	switch typ {
	case rpcAppendEntries:
		return "AppendEntries"
	case rpcRequestVote:
		return "RequestVote"
	case rpcRequestPreVote:
		return "RequestPreVote"
	case rpcInstallSnapshot:
		return "InstallSnapshot"
	case rpcTimeoutNow:
		return "TimeoutNow"
	}
	return fmt.Sprintf("rpc-%d", typ)
}

// The raft.Transport interface (with WithPreVote and WithClose): inbound
// RPCs come from this transport, outbound ones go through
// NetworkTransport.

func (t *transport) Consumer() <-chan raft.RPC { return t.consumeCh }

func (t *transport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.heartbeat.Store(nil)
		return
	}
	t.heartbeat.Store(&cb)
}

func (t *transport) LocalAddr() raft.ServerAddress { return t.out.LocalAddr() }

func (t *transport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	return t.out.AppendEntriesPipeline(id, target)
}

func (t *transport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return t.out.AppendEntries(id, target, args, resp)
}

func (t *transport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.out.RequestVote(id, target, args, resp)
}

func (t *transport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.out.RequestPreVote(id, target, args, resp)
}

func (t *transport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	return t.out.InstallSnapshot(id, target, args, resp, data)
}

func (t *transport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.out.TimeoutNow(id, target, args, resp)
}

func (t *transport) EncodePeer(id raft.ServerID, addr raft.ServerAddress) []byte {
	return t.out.EncodePeer(id, addr)
}

func (t *transport) DecodePeer(b []byte) raft.ServerAddress { return t.out.DecodePeer(b) }

var (
	_ raft.Transport   = (*transport)(nil)
	_ raft.WithPreVote = (*transport)(nil)
	_ raft.WithClose   = (*transport)(nil)
)

// dialLayer is the raft.StreamLayer of the outbound NetworkTransport: it
// opens Raft streams to peers and accepts none (inbound streams are the
// transport's), until it is closed.
type dialLayer struct {
	h      host.Host
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func (d *dialLayer) Accept() (net.Conn, error) {
	<-d.closed
	return nil, net.ErrClosed
}

func (d *dialLayer) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

// Addr returns this node's peer ID: the address other nodes dial.
func (d *dialLayer) Addr() net.Addr { return d.addr }

// Dial opens a Raft stream to the peer whose ID is address.
func (d *dialLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft address %q is not a peer ID: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gostream.Dial(ctx, d.h, id, raftProtocol)
}
