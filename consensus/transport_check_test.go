package consensus

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"

	"github.com/fsenet/fsenet/federation"
)

func newPeerID(t *testing.T) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCheckSender(t *testing.T) {
	sender, voter, joining, stranger := newPeerID(t), newPeerID(t), newPeerID(t), newPeerID(t)
	servers := []raft.Server{
		{ID: "010", Address: raft.ServerAddress(voter.String()), Suffrage: raft.Voter},
		{ID: "040", Address: raft.ServerAddress(sender.String()), Suffrage: raft.Nonvoter},
	}
	// The membership knows the regions of Raft's configuration and 090,
	// certified but not yet added to Raft.
	members := map[string]peer.ID{"010": voter, "040": sender, "090": joining}
	regionPeer := func(code string) (peer.ID, bool) { p, ok := members[code]; return p, ok }
	hdr := func(id string, addr peer.ID) raft.RPCHeader {
		h := raft.RPCHeader{ID: []byte(id)}
		if addr != "" {
			h.Addr = []byte(addr.String())
		}
		return h
	}
	for _, tc := range []struct {
		name    string
		from    peer.ID
		header  raft.RPCHeader
		legacy  peer.ID
		servers []raft.Server
		reason  string // "" when accepted
	}{
		{name: "truthful member", from: sender, header: hdr("040", sender), legacy: sender, servers: servers},
		{name: "truthful without the deprecated address", from: sender, header: hdr("040", sender), servers: servers},
		{name: "no server id", from: sender, header: hdr("", sender), servers: servers, reason: RefusedNoIdentity},
		{name: "no address", from: sender, header: hdr("040", ""), servers: servers, reason: RefusedNoIdentity},
		{name: "another peer's address", from: sender, header: hdr("040", voter), servers: servers, reason: RefusedAddress},
		{name: "another peer's deprecated address", from: sender, header: hdr("040", sender), legacy: voter, servers: servers, reason: RefusedAddress},
		{name: "a voter's server id", from: sender, header: hdr("010", sender), servers: servers, reason: RefusedServerID},
		{name: "an unknown server id from a known peer", from: sender, header: hdr("077", sender), servers: servers, reason: RefusedServerID},
		{name: "a voter's server id from an unknown peer", from: stranger, header: hdr("010", stranger), servers: servers, reason: RefusedServerID},
		{name: "a joining region, truthful", from: joining, header: hdr("090", joining), servers: servers},
		{name: "a joining region's id from another peer", from: stranger, header: hdr("090", stranger), servers: servers, reason: RefusedServerID},
		{name: "an id nobody knows from a peer nobody knows", from: stranger, header: hdr("099", stranger), servers: servers},
		{name: "before any configuration, by the membership", from: stranger, header: hdr("010", stranger), reason: RefusedServerID},
		{name: "before any configuration, truthful", from: voter, header: hdr("010", voter)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var legacy []byte
			if tc.legacy != "" {
				legacy = []byte(tc.legacy.String())
			}
			err := checkSender(tc.from, tc.from.String(), tc.header, legacy, tc.servers, regionPeer)
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("refused (%s): %v", err.reason, err)
			case tc.reason != "" && err == nil:
				t.Fatalf("accepted, want refused for %s", tc.reason)
			case tc.reason != "" && err.reason != tc.reason:
				t.Fatalf("refused for %s (%v), want %s", err.reason, err, tc.reason)
			case err != nil && !strings.Contains(err.Error(), "stream is from peer "+tc.from.String()):
				t.Fatalf("refusal %q does not name the stream's peer", err)
			}
		})
	}
}

// recordingHandler keeps the log records at or above DEBUG.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// count returns how many records at level have a message starting with
// prefix.
func (h *recordingHandler) count(level slog.Level, prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.recs {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
	}
	return n
}

func testHost(t *testing.T) host.Host {
	t.Helper()
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile:     filepath.Join(t.TempDir(), "node.key"),
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		DialTimeout: 5 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// rpcClient writes Raft RPCs on one stream, as NetworkTransport does.
type rpcClient struct {
	conn net.Conn
	w    *bufio.Writer
	enc  *codec.Encoder
	dec  *codec.Decoder
}

func dialRPC(t *testing.T, from, to host.Host) *rpcClient {
	t.Helper()
	from.Peerstore().AddAddrs(to.ID(), to.Addrs(), peerstore.PermanentAddrTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := gostream.Dial(ctx, from, to.ID(), raftProtocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	w := bufio.NewWriter(conn)
	return &rpcClient{conn: conn, w: w, enc: codec.NewEncoder(w, &codec.MsgpackHandle{}), dec: codec.NewDecoder(bufio.NewReader(conn), &codec.MsgpackHandle{})}
}

func (c *rpcClient) send(t *testing.T, typ uint8, req any) {
	t.Helper()
	if err := c.w.WriteByte(typ); err != nil {
		t.Fatal(err)
	}
	if err := c.enc.Encode(req); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func (c *rpcClient) answer(t *testing.T, resp any) string {
	t.Helper()
	var msg string
	if err := c.dec.Decode(&msg); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if err := c.dec.Decode(resp); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return msg
}

// TestTransportRefusesAndCounts: over real libp2p streams, truthful RPCs
// reach Raft (a heartbeat by the fast path, the others by the consumer
// channel) and are answered with Raft's answer; one naming another server
// never reaches Raft, is counted by reason, logged at WARN once for its
// peer, and its stream is closed.
func TestTransportRefusesAndCounts(t *testing.T) {
	local, member := testHost(t), testHost(t)
	logs := &recordingHandler{}
	var mu sync.Mutex
	counted := map[string]int{}
	tr, err := newTransport(local, transportDeps{Log: slog.New(logs), Refused: func(reason string) {
		mu.Lock()
		counted[reason]++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	voter := newPeerID(t)
	tr.serve(func() raft.Configuration {
		return raft.Configuration{Servers: []raft.Server{
			{ID: "010", Address: raft.ServerAddress(voter.String()), Suffrage: raft.Voter},
			{ID: "020", Address: raft.ServerAddress(local.ID().String()), Suffrage: raft.Voter},
			{ID: "040", Address: raft.ServerAddress(member.ID().String()), Suffrage: raft.Nonvoter},
		}}
	})
	heartbeats := make(chan raft.RPC, 1)
	tr.SetHeartbeatHandler(func(rpc raft.RPC) { heartbeats <- rpc })
	self := []byte(member.ID().String())
	own := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("040"), Addr: self}

	// Raft's side: answer what arrives on the consumer channel.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			var rpc raft.RPC
			select {
			case rpc = <-tr.Consumer():
			case <-done:
				return
			}
			switch rpc.Command.(type) {
			case *raft.RequestVoteRequest:
				rpc.Respond(&raft.RequestVoteResponse{Term: 7}, nil)
			default:
				rpc.Respond(nil, errors.New("unexpected"))
			}
		}
	}()

	c := dialRPC(t, member, local)
	c.send(t, rpcRequestVote, &raft.RequestVoteRequest{RPCHeader: own, Term: 7, Candidate: self})
	var vote raft.RequestVoteResponse
	if msg := c.answer(t, &vote); msg != "" || vote.Term != 7 {
		t.Fatalf("truthful vote request: error %q, term %d; want Raft's answer", msg, vote.Term)
	}
	// The same stream carries on: a heartbeat, by the fast path.
	c.send(t, rpcAppendEntries, &raft.AppendEntriesRequest{RPCHeader: own, Term: 7, Leader: self})
	select {
	case rpc := <-heartbeats:
		rpc.Respond(&raft.AppendEntriesResponse{Term: 7, Success: true}, nil)
	case <-time.After(20 * time.Second):
		t.Fatal("the heartbeat did not reach the heartbeat handler")
	}
	var ae raft.AppendEntriesResponse
	if msg := c.answer(t, &ae); msg != "" || !ae.Success {
		t.Fatalf("heartbeat: error %q, success %v", msg, ae.Success)
	}

	const refusal = "raft rpc refused"
	for i := range 2 {
		c := dialRPC(t, member, local)
		c.send(t, rpcRequestVote, &raft.RequestVoteRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("010"), Addr: self},
			Term:      9, Candidate: self, LeadershipTransfer: true})
		var resp raft.RequestVoteResponse
		msg := c.answer(t, &resp)
		want := "rpc header names server 010, stream is from peer " + member.ID().String()
		if !strings.HasPrefix(msg, want) || resp.Granted {
			t.Fatalf("vote request naming 010: error %q, granted %v; want %q…", msg, resp.Granted, want)
		}
		var b [1]byte
		if _, err := c.conn.Read(b[:]); err == nil {
			t.Fatal("the stream of a refused RPC is still open")
		}
		mu.Lock()
		n := counted[RefusedServerID]
		mu.Unlock()
		if n != i+1 {
			t.Fatalf("after %d refusals, %d counted as %s (%v)", i+1, n, RefusedServerID, counted)
		}
	}
	if n := logs.count(slog.LevelWarn, refusal); n != 1 {
		t.Fatalf("%d WARN lines for two refusals from one peer, want 1", n)
	}
	if n := logs.count(slog.LevelDebug, refusal); n != 1 {
		t.Fatalf("%d DEBUG lines for the second refusal, want 1", n)
	}
	select {
	case rpc := <-heartbeats:
		t.Fatalf("a refused RPC reached Raft: %#v", rpc.Command)
	default:
	}
}
