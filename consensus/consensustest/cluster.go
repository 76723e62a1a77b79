package consensustest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// Timeouts of the harness's waits, generous for a loaded 2-core machine.
const (
	LeaderTimeout   = 20 * time.Second // WaitLeader
	ConvergeTimeout = 30 * time.Second // WaitConverged
	stopTimeout     = 30 * time.Second // Stop, Kill
)

// Options describe a cluster.
type Options struct {
	// Voters and Nonvoters are the founding members: regions 010, 020, …
	// in that order, the voters first. With no voters, NewCluster returns
	// an empty cluster; the test adds nodes (Add) and bootstraps them
	// (Bootstrap) itself.
	Voters, Nonvoters int
	// Machines make the state machines registered on every node, called
	// again at each start. The membership machine is always registered
	// (Node.Members).
	Machines []func() Registrar
	// Config adjusts each node's configuration after the harness's
	// defaults (TestConfig).
	Config func(*consensus.Config)
	// MembershipGates makes each node's connection gater follow its
	// replicated membership, as a real node's does, once that holds a
	// region; until then, and without it, every node of the cluster
	// admits every other.
	MembershipGates bool
	// Log receives the replicas' logs; nil is Logger().
	Log *slog.Logger
}

// TestConfig is the harness's configuration: fast elections that still
// hold on a loaded 2-core machine, and a small state database.
func TestConfig(id, dir string) consensus.Config {
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

// Production is an Options.Config that gives every node DefaultConfig's
// settings (timeouts, batching, memory), for tests and benchmarks that
// measure with them.
func Production(cfg *consensus.Config) { *cfg = consensus.DefaultConfig() }

// Cluster is a set of replicas on loopback. Its methods must be called
// from the test's goroutine, except Node.Replica.
type Cluster struct {
	t     testing.TB
	opts  Options
	base  string
	log   *slog.Logger
	nodes []*Node
	// isolated is the side of the current partition (nil when healed).
	isolated map[*Node]bool
}

// Node is one member of a Cluster; it keeps its data directory and key
// across restarts.
type Node struct {
	// ID is the region code and Raft server ID.
	ID string
	// Dir is the data directory; the node key is in it.
	Dir string

	peer    peer.ID
	running atomic.Bool
	cur     atomic.Pointer[incarnation]
}

// incarnation is one run of a node, from start to stop.
type incarnation struct {
	replica  *consensus.Node
	host     host.Host
	gater    *partitionGater
	members  *membership.Machine
	machines []Registrar
}

// Replica returns the running replica, or nil while the node is down. It
// is safe to call from client goroutines while the test kills and
// restarts nodes.
func (n *Node) Replica() *consensus.Node {
	if !n.running.Load() {
		return nil
	}
	return n.cur.Load().replica
}

// Host returns the node's libp2p host (closed while the node is down).
func (n *Node) Host() host.Host { return n.cur.Load().host }

// Peer returns the node's peer ID, the same across restarts.
func (n *Node) Peer() peer.ID { return n.peer }

// Members returns the node's membership machine.
func (n *Node) Members() *membership.Machine { return n.cur.Load().members }

// Machines returns the machines Options.Machines made for the node's
// current run, in order.
func (n *Node) Machines() []Registrar { return n.cur.Load().machines }

// Running reports whether the node is up.
func (n *Node) Running() bool { return n.running.Load() }

func (n *Node) String() string { return n.ID }

// NewCluster starts the cluster o describes, bootstraps the voters, waits
// for a leader, adds the non-voters, and stops every node when the test
// ends.
func NewCluster(t testing.TB, o Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, opts: o, log: o.Log, base: t.TempDir()}
	if c.log == nil {
		c.log = Logger()
	}
	// Registered after TempDir, so it runs before the directory goes.
	t.Cleanup(c.shutdown)
	for i := 0; i < o.Voters+o.Nonvoters; i++ {
		c.Add(fmt.Sprintf("%03d", (i+1)*10))
	}
	if o.Voters == 0 {
		return c
	}
	c.Bootstrap(c.nodes[:o.Voters]...)
	leader := c.WaitLeader(c.nodes[:o.Voters]...)
	for _, n := range c.nodes[o.Voters:] {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := leader.Replica().AddNonvoter(ctx, n.ID, n.peer)
		cancel()
		if err != nil {
			t.Fatalf("adding non-voter %s: %v", n.ID, err)
		}
	}
	return c
}

// Logger returns the logger the replicas log to.
func (c *Cluster) Logger() *slog.Logger { return c.log }

// Nodes returns every node, running or not, in the order added.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// Node returns the i-th node added.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Add creates a node with the given region code and starts it, outside
// the Raft configuration: add it with AddVoter or AddNonvoter on the
// leader, or Bootstrap.
func (c *Cluster) Add(id string) *Node {
	c.t.Helper()
	n := &Node{ID: id, Dir: filepath.Join(c.base, id)}
	c.nodes = append(c.nodes, n)
	c.start(n)
	return n
}

// Bootstrap makes voters the first configuration, through the first one.
func (c *Cluster) Bootstrap(voters ...*Node) {
	c.t.Helper()
	var servers []consensus.Server
	for _, n := range voters {
		servers = append(servers, consensus.Server{ID: n.ID, Peer: n.peer, Voter: true})
	}
	if err := voters[0].Replica().Bootstrap(servers); err != nil {
		c.t.Fatalf("bootstrap: %v", err)
	}
}

func (c *Cluster) config(id, dir string) consensus.Config {
	cfg := TestConfig(id, dir)
	if c.opts.Config != nil {
		c.opts.Config(&cfg)
	}
	cfg.ID, cfg.DataDir = id, dir
	return cfg
}

func (c *Cluster) start(n *Node) {
	c.t.Helper()
	inc := &incarnation{gater: newPartitionGater(federation.NewGater(nil, c.log))}
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile:     filepath.Join(n.Dir, "node.key"),
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		DialTimeout: 2 * time.Second,
	}, inc.gater)
	if err != nil {
		c.t.Fatalf("host of %s: %v", n.ID, err)
	}
	inc.host = h
	n.peer = h.ID()
	replica, err := consensus.New(c.config(n.ID, n.Dir), consensus.Deps{Host: h, Log: c.log.With("region", n.ID)})
	if err != nil {
		_ = h.Close()
		c.t.Fatalf("replica %s: %v", n.ID, err)
	}
	inc.replica = replica
	inc.members = membership.New()
	if c.opts.MembershipGates {
		g := inc.gater
		inc.members.Subscribe(func(v membership.View) {
			if len(v.Regions) > 0 {
				g.SetMembers(v.Members(time.Now()), v.RevokedPeers())
			}
		})
	}
	if err := inc.members.Register(replica); err != nil {
		_ = h.Close()
		c.t.Fatal(err)
	}
	for _, mk := range c.opts.Machines {
		m := mk()
		if err := m.Register(replica); err != nil {
			_ = h.Close()
			c.t.Fatalf("registering a machine on %s: %v", n.ID, err)
		}
		inc.machines = append(inc.machines, m)
	}
	if err := replica.Start(); err != nil {
		_ = h.Close()
		c.t.Fatalf("starting %s: %v", n.ID, err)
	}
	n.cur.Store(inc)
	n.running.Store(true)
	// A node that comes back during a partition stays on its side.
	if c.isolated != nil {
		for _, o := range c.Running() {
			if c.isolated[o] != c.isolated[n] {
				inc.gater.block(o.peer)
				o.cur.Load().gater.block(n.peer)
			}
		}
	}
	c.connectAll()
}

// connectAll makes every node a member for every running one (unless the
// replicated membership decides) and tells each the others' addresses.
func (c *Cluster) connectAll() {
	var ids []peer.ID
	for _, n := range c.nodes {
		if n.peer != "" {
			ids = append(ids, n.peer)
		}
	}
	for _, n := range c.Running() {
		inc := n.cur.Load()
		if !c.opts.MembershipGates || len(inc.members.View().Regions) == 0 {
			inc.gater.SetMembers(ids, nil)
		}
		for _, o := range c.Running() {
			if o != n {
				inc.host.Peerstore().AddAddrs(o.peer, o.Host().Addrs(), peerstore.PermanentAddrTTL)
			}
		}
	}
}

// Stop shuts a node down cleanly: a leader hands over leadership.
func (c *Cluster) Stop(n *Node) {
	c.t.Helper()
	if !n.running.Swap(false) {
		return
	}
	inc := n.cur.Load()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := inc.replica.Shutdown(ctx); err != nil {
		c.t.Errorf("shutdown of %s: %v", n.ID, err)
	}
	_ = inc.host.Close()
}

// Kill cuts a node off the network first, so it cannot hand anything
// over, then shuts it down.
func (c *Cluster) Kill(n *Node) {
	c.t.Helper()
	if !n.running.Swap(false) {
		return
	}
	inc := n.cur.Load()
	_ = inc.host.Close()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_ = inc.replica.Shutdown(ctx)
}

// Restart starts a stopped or killed node again, from the same data
// directory and key; a running node is stopped first. It returns when
// the replica has started, not when it has caught up.
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	c.Stop(n)
	c.start(n)
}

func (c *Cluster) shutdown() {
	for _, n := range c.nodes {
		c.Stop(n)
	}
}

// Partition cuts the given nodes off from all the others, both ways, until
// Heal; nodes restarted meanwhile stay on their side.
func (c *Cluster) Partition(side ...*Node) {
	c.t.Helper()
	c.isolated = map[*Node]bool{}
	for _, n := range side {
		c.isolated[n] = true
	}
	for _, a := range c.Running() {
		for _, b := range c.Running() {
			if c.isolated[a] != c.isolated[b] {
				inc := a.cur.Load()
				inc.gater.block(b.peer)
				_ = inc.host.Network().ClosePeer(b.peer)
			}
		}
	}
}

// Heal ends the partition: every node may reach every other again.
func (c *Cluster) Heal() {
	c.isolated = nil
	for _, n := range c.Running() {
		n.cur.Load().gater.unblockAll()
	}
	c.connectAll()
}

// Running returns the nodes that are up.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.running.Load() {
			out = append(out, n)
		}
	}
	return out
}

// Leader returns the running node that is leader now, or nil; it does not
// wait.
func (c *Cluster) Leader() *Node {
	for _, n := range c.Running() {
		if n.Replica().IsLeader() {
			return n
		}
	}
	return nil
}

// Followers returns the running nodes that are not leader now.
func (c *Cluster) Followers() []*Node {
	var out []*Node
	for _, n := range c.Running() {
		if !n.Replica().IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// WaitLeader waits until the running nodes among the given ones (all when
// none is given) know the same leader, one of them, and returns it.
func (c *Cluster) WaitLeader(among ...*Node) *Node {
	c.t.Helper()
	if len(among) == 0 {
		among = c.nodes
	}
	var leader *Node
	Eventually(c.t, LeaderTimeout, func() error {
		leader = nil
		var seen string
		for _, n := range among {
			if !n.running.Load() {
				continue
			}
			st := n.Replica().Status()
			if st.State == "Leader" {
				leader = n
			}
			if st.LeaderID == "" {
				return fmt.Errorf("%s knows no leader", n.ID)
			}
			if seen != "" && st.LeaderID != seen {
				return fmt.Errorf("%s follows %s, another node %s", n.ID, st.LeaderID, seen)
			}
			seen = st.LeaderID
		}
		if leader == nil {
			return errors.New("no leader among the running nodes")
		}
		return nil
	}, "an agreed leader")
	return leader
}

// WaitConverged waits until every running node has applied the same index
// with the same state digest, and returns them.
func (c *Cluster) WaitConverged() (uint64, [32]byte) {
	c.t.Helper()
	var idx uint64
	var dig [32]byte
	Eventually(c.t, ConvergeTimeout, func() error {
		nodes := c.Running()
		st0 := nodes[0].Replica().Status()
		for _, n := range nodes[1:] {
			st := n.Replica().Status()
			if st.AppliedIndex != st0.AppliedIndex || st.Digest != st0.Digest {
				return fmt.Errorf("%s applied %d digest %x; %s applied %d digest %x",
					nodes[0].ID, st0.AppliedIndex, st0.Digest[:4], n.ID, st.AppliedIndex, st.Digest[:4])
			}
		}
		idx, dig = st0.AppliedIndex, st0.Digest
		return nil
	}, "the running nodes to converge")
	return idx, dig
}
