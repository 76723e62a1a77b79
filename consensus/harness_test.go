package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
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

func (g *partitionGater) setBlocked(ps []peer.ID, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		g.blocked[p] = on
	}
}

// kvHandler is a test state machine: "kv.put" sets key=value and returns
// the previous value; "kv.fail" always refuses after writing (the write must
// be discarded).
type kvHandler struct{}

func (kvHandler) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	switch cmd.Type {
	case "kv.put":
		k, v, ok := strings.Cut(string(cmd.Payload), "=")
		if !ok {
			return nil, consensus.Errorf(consensus.CodeInvalid, "want key=value")
		}
		prev, _, err := tx.Get([]byte("kv/" + k))
		if err != nil {
			return nil, err
		}
		tx.Set([]byte("kv/"+k), []byte(v))
		return prev, nil
	case "kv.nop":
		return nil, nil
	case "kv.origin": // records who proposed it under the payload's name
		tx.Set([]byte("kv/"+string(cmd.Payload)), []byte(tx.Origin()))
		return []byte(tx.Origin()), nil
	case "kv.fail":
		tx.Set([]byte("kv/"+string(cmd.Payload)), []byte("must-not-exist"))
		return nil, consensus.Errorf(consensus.CodeConflict, "refused")
	}
	return nil, consensus.Errorf(consensus.CodeInvalid, "unknown")
}

func put(k, v string) consensus.Command {
	return consensus.Command{Type: "kv.put", Payload: []byte(k + "=" + v)}
}

func readKey(r consensus.Reader, k string) (string, error) {
	v, ok, err := r.Get([]byte("kv/" + k))
	if err != nil || !ok {
		return "", err
	}
	return string(v), nil
}

type testNode struct {
	id      string
	dir     string
	keyFile string
	host    host.Host
	gater   *partitionGater
	node    *consensus.Node
	members *membership.Machine
	running bool

	// live is what concurrent clients read: the current replica, or nil
	// while the node is down.
	live atomic.Pointer[consensus.Node]
}

// current returns the running replica, or nil when the node is down; safe
// to call from client goroutines while the test kills and restarts nodes.
func (n *testNode) current() *consensus.Node { return n.live.Load() }

type cluster struct {
	// membershipGates makes each node's gater follow its replicated
	// membership instead of the harness's list of running nodes.
	membershipGates bool

	t     testing.TB
	base  string // created before the cluster's cleanup, so removed after it
	cfg   func(id string) consensus.Config
	nodes []*testNode
	log   *slog.Logger
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("FSENET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is tuned for fast elections on a loaded 2-core machine.
func testConfig(id, dir string) consensus.Config {
	c := consensus.DefaultConfig()
	c.ID = id
	c.DataDir = dir
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.ApplyTimeout = 15 * time.Second
	c.RPCTimeout = 5 * time.Second
	c.MemTableSize = 8 << 20
	c.BatchMaxBytes = 512 << 10
	c.BlockCacheSize = 8 << 20
	return c
}

// newCluster starts voters voting members and nonvoters non-voting ones,
// bootstraps the voters and waits for a leader.
func newCluster(t testing.TB, voters, nonvoters int) *cluster {
	t.Helper()
	return newClusterWith(t, voters, nonvoters, nil)
}

func newClusterWith(t testing.TB, voters, nonvoters int, tune func(*consensus.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, log: testLogger(t), base: t.TempDir()}
	c.cfg = func(id string) consensus.Config {
		cfg := testConfig(id, filepath.Join(c.base, id))
		if tune != nil {
			tune(&cfg)
		}
		return cfg
	}
	for i := 0; i < voters+nonvoters; i++ {
		c.add(fmt.Sprintf("%03d", (i+1)*10))
	}
	c.connectAll()
	var servers []consensus.Server
	for _, n := range c.nodes[:voters] {
		servers = append(servers, consensus.Server{ID: n.id, Peer: n.host.ID(), Voter: true})
	}
	if err := c.nodes[0].node.Bootstrap(servers); err != nil {
		t.Fatal(err)
	}
	leader := c.waitLeaderAmong(c.nodes[:voters])
	for _, n := range c.nodes[voters:] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := leader.node.AddNonvoter(ctx, n.id, n.host.ID()); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	t.Cleanup(c.shutdown)
	return c
}

// add creates a node (host, gater, replica) and starts it.
func (c *cluster) add(id string) *testNode {
	c.t.Helper()
	cfg := c.cfg(id)
	n := &testNode{id: id, dir: cfg.DataDir, keyFile: filepath.Join(cfg.DataDir, "node.key")}
	c.nodes = append(c.nodes, n)
	c.start(n)
	return n
}

func (c *cluster) start(n *testNode) {
	c.t.Helper()
	var bootstrap []peer.ID
	for _, o := range c.nodes {
		if o.host != nil {
			bootstrap = append(bootstrap, o.host.ID())
		}
	}
	n.gater = &partitionGater{Gater: federation.NewGater(nil, c.log), blocked: map[peer.ID]bool{}}
	// Everyone in the test cluster is a member: admit all by listing the
	// peers as they appear (allowAll below).
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile:     n.keyFile,
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		DialTimeout: 2 * time.Second,
	}, n.gater)
	if err != nil {
		c.t.Fatal(err)
	}
	n.host = h
	cfg := c.cfg(n.id)
	cfg.DataDir = n.dir
	node, err := consensus.New(cfg, consensus.Deps{Host: h, Log: c.log.With("region", n.id)})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, typ := range []string{"kv.put", "kv.fail", "kv.nop", "kv.origin"} {
		if err := node.Register(typ, kvHandler{}); err != nil {
			c.t.Fatal(err)
		}
	}
	n.members = membership.New()
	if c.membershipGates {
		g := n.gater
		n.members.Subscribe(func(v membership.View) {
			if len(v.Regions) > 0 {
				g.SetMembers(v.Members(time.Now()), v.RevokedPeers())
			}
		})
	}
	if err := n.members.Register(node); err != nil {
		c.t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.node = node
	n.running = true
	n.live.Store(node)
	c.connectAll()
}

// connectAll makes every running node a member for every other one and
// tells each the others' addresses.
func (c *cluster) connectAll() {
	var ids []peer.ID
	for _, n := range c.nodes {
		if n.running {
			ids = append(ids, n.host.ID())
		}
	}
	for _, n := range c.nodes {
		if !n.running {
			continue
		}
		if !c.membershipGates || len(n.members.View().Regions) == 0 {
			n.gater.SetMembers(ids, nil)
		}
		for _, o := range c.nodes {
			if o != n && o.running {
				n.host.Peerstore().AddAddrs(o.host.ID(), o.host.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
}

// stop shuts a node down cleanly (a leader hands over leadership).
func (c *cluster) stop(n *testNode) {
	c.t.Helper()
	if !n.running {
		return
	}
	n.live.Store(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.node.Shutdown(ctx); err != nil {
		c.t.Errorf("shutdown %s: %v", n.id, err)
	}
	_ = n.host.Close()
	n.running = false
}

// kill cuts a node off the network first, so it cannot hand over anything,
// then stops it.
func (c *cluster) kill(n *testNode) {
	c.t.Helper()
	if !n.running {
		return
	}
	n.live.Store(nil)
	_ = n.host.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.node.Shutdown(ctx)
	n.running = false
}

func (c *cluster) restart(n *testNode) {
	c.t.Helper()
	c.start(n)
}

func (c *cluster) shutdown() {
	for _, n := range c.nodes {
		c.stop(n)
	}
}

// partition cuts the given nodes off from all others (both directions).
func (c *cluster) partition(side []*testNode) {
	in := map[*testNode]bool{}
	for _, n := range side {
		in[n] = true
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if in[a] != in[b] && a.running && b.running {
				a.gater.setBlocked([]peer.ID{b.host.ID()}, true)
				_ = a.host.Network().ClosePeer(b.host.ID())
			}
		}
	}
}

func (c *cluster) heal() {
	for _, a := range c.nodes {
		if !a.running {
			continue
		}
		a.gater.mu.Lock()
		a.gater.blocked = map[peer.ID]bool{}
		a.gater.mu.Unlock()
	}
}

func (c *cluster) running() []*testNode {
	var out []*testNode
	for _, n := range c.nodes {
		if n.running {
			out = append(out, n)
		}
	}
	return out
}

// waitLeader waits until the running nodes agree on one leader.
func (c *cluster) waitLeader() *testNode {
	c.t.Helper()
	return c.waitLeaderAmong(c.nodes)
}

func (c *cluster) waitLeaderAmong(nodes []*testNode) *testNode {
	c.t.Helper()
	var leader *testNode
	poll(c.t, 20*time.Second, func() error {
		leader = nil
		var seen string
		for _, n := range nodes {
			if !n.running {
				continue
			}
			st := n.node.Status()
			if st.State == "Leader" {
				leader = n
			}
			if st.LeaderID == "" {
				return fmt.Errorf("%s knows no leader", n.id)
			}
			if seen != "" && st.LeaderID != seen {
				return fmt.Errorf("%s follows %s, others %s", n.id, st.LeaderID, seen)
			}
			seen = st.LeaderID
		}
		if leader == nil {
			return errors.New("no leader among running nodes")
		}
		return nil
	})
	return leader
}

func (c *cluster) followers() []*testNode {
	var out []*testNode
	for _, n := range c.running() {
		if !n.node.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// waitSame waits until all running nodes have applied the same index with
// the same digest.
func (c *cluster) waitSame() (uint64, [32]byte) {
	c.t.Helper()
	var idx uint64
	var dig [32]byte
	poll(c.t, 30*time.Second, func() error {
		nodes := c.running()
		st0 := nodes[0].node.Status()
		for _, n := range nodes[1:] {
			st := n.node.Status()
			if st.AppliedIndex != st0.AppliedIndex || st.Digest != st0.Digest {
				return fmt.Errorf("%s applied %d digest %x; %s applied %d digest %x",
					nodes[0].id, st0.AppliedIndex, st0.Digest[:4], n.id, st.AppliedIndex, st.Digest[:4])
			}
		}
		idx, dig = st0.AppliedIndex, st0.Digest
		return nil
	})
	return idx, dig
}

// poll retries cond until it returns nil or the time runs out.
func poll(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func mustApply(t testing.TB, n *testNode, cmd consensus.Command) consensus.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := n.node.Apply(ctx, cmd)
	if err != nil {
		t.Fatalf("apply %s on %s: %v", cmd.Type, n.id, err)
	}
	return res
}

func mustRead(t testing.TB, n *testNode, c consensus.Consistency, key string) (string, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var v string
	idx, err := n.node.Read(ctx, c, func(r consensus.Reader) (err error) {
		v, err = readKey(r, key)
		return err
	})
	if err != nil {
		t.Fatalf("read %s on %s: %v", key, n.id, err)
	}
	return v, idx
}
