package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the parts a Node is built on.
type Deps struct {
	Host host.Host
	Log  *slog.Logger
	// RegionPeer, if set, returns the peer the replicated membership
	// records for a region. An inbound Raft RPC naming a server that
	// Raft's configuration does not know is refused when it comes from
	// another peer than this one.
	RegionPeer func(code string) (peer.ID, bool)
	// ObserveRefusedRPC, if set, is told the reason (Refused*) of each
	// inbound Raft RPC refused for naming a sender other than its
	// stream's peer. For metrics.
	ObserveRefusedRPC func(reason string)
	// ObserveApply, if set, is told how long each Apply took and how it
	// ended ("ok", "refused" for a domain error, "failed"). For metrics.
	ObserveApply func(d time.Duration, outcome string)
	// Metrics, if set, gets the replica's series (metrics.go).
	Metrics prometheus.Registerer
}

// Node is one replica of the federation's state: a Raft server, its FSM and
// the protocols that let any replica write and read consistently.
type Node struct {
	cfg     Config
	h       host.Host
	log     *slog.Logger
	fsm     *FSM
	st      *stateDir
	wal     *wal.WAL
	walMeta *metadb.BoltMetaDB
	snap    *raft.FileSnapshotStore
	tr      *transport
	trDeps  transportDeps
	raft    *raft.Raft

	batch   *batcher
	observe func(time.Duration, string)
	metrics *replicaMetrics

	notify    chan bool
	readyTerm atomic.Uint64 // term whose leader marker this node applied as leader
	readyCh   chan struct{}
	readyMu   sync.Mutex

	scrub *scrubber // scans, compares and repairs the stored state (scrub.go)

	started  atomic.Bool
	stopping atomic.Bool
	stopOnce sync.Once
	wg       sync.WaitGroup
	stop     chan struct{}
}

// leaderMarker is the command a new leader commits before serving strong
// reads: once it is applied, the commit index covers every entry of earlier
// terms and names an entry the FSM has seen.
const leaderMarker = "consensus.leader"

// New builds a replica. It opens the state and the log but does not join
// Raft until Start. Register handlers between New and Start.
func New(cfg Config, deps Deps) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Host == nil {
		return nil, errors.New("consensus: Deps.Host is nil")
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "consensus")
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("consensus: data directory: %w", err)
	}
	n := &Node{cfg: cfg, h: deps.Host, log: log, observe: deps.ObserveApply, metrics: newReplicaMetrics(), notify: make(chan bool, 16), readyCh: make(chan struct{}), stop: make(chan struct{})}
	if err := n.metrics.register(deps.Metrics, n); err != nil {
		return nil, fmt.Errorf("consensus: metrics: %w", err)
	}
	n.trDeps = transportDeps{Log: log, RegionPeer: deps.RegionPeer, Refused: deps.ObserveRefusedRPC}

	st, err := openStateDir(filepath.Join(cfg.DataDir, "state"), badgerOptions{MemTableSize: cfg.MemTableSize, MemTables: cfg.MemTables, BlockCacheSize: cfg.BlockCacheSize}, log)
	if err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	n.st = st
	n.fsm, err = newFSM(st, log)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("consensus: %w", err)
	}
	if err := n.fsm.register(leaderMarker, HandlerFunc(applyLeaderMarker)); err != nil {
		st.close()
		return nil, err
	}
	return n, nil
}

func applyLeaderMarker(*Tx, Command) ([]byte, error) { return nil, nil }

// Register routes commands of type typ to h. It must be called before Start.
func (n *Node) Register(typ string, h Handler) error {
	if n.started.Load() {
		return fmt.Errorf("consensus: register %q after start", typ)
	}
	return n.fsm.register(typ, h)
}

// Start reloads the handlers from the state, opens the Raft log and joins
// Raft. A node with no Raft state waits to be bootstrapped (Bootstrap) or
// added by a leader.
func (n *Node) Start() (err error) {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("consensus: already started")
	}
	// On failure, close what was opened, in reverse order.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			n.started.Store(false)
		}
	}()
	if err := n.fsm.reloadHandlers(); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	walDir := filepath.Join(n.cfg.DataDir, "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		return fmt.Errorf("consensus: raft log directory: %w", err)
	}
	// raft-wal's Close does not close its metadata database, so the node
	// owns it and closes it after the log (or a restart in the same process
	// would wait forever on its file lock).
	n.walMeta = &metadb.BoltMetaDB{}
	n.wal, err = wal.Open(walDir, wal.WithLogger(newHclog(n.log, "raft-wal")), wal.WithMetaStore(n.walMeta))
	if err != nil {
		_ = n.walMeta.Close()
		return fmt.Errorf("consensus: open raft log: %w", err)
	}
	undo = append(undo, func() { _ = n.wal.Close(); _ = n.walMeta.Close() })
	n.snap, err = raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, n.cfg.SnapshotsRetained, newHclog(n.log, "snapshots"))
	if err != nil {
		return fmt.Errorf("consensus: open snapshot store: %w", err)
	}
	n.tr, err = newTransport(n.h, n.trDeps)
	if err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	undo = append(undo, func() { _ = n.tr.Close() })

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ID)
	rc.Logger = newHclog(n.log, "raft")
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.MaxAppendEntries = n.cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.NotifyCh = n.notify
	rc.NoSnapshotRestoreOnStart = !n.stateBehindSnapshot()
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	// The cache serves fresh entries to replication without reading them
	// back from disk.
	logs, err := raft.NewLogCache(1024, walLogStore{n.wal})
	if err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.wal, n.snap, n.tr)
	if err != nil {
		return fmt.Errorf("consensus: start raft: %w", err)
	}
	n.raft.RegisterObserver(n.metrics.observer())
	n.metrics.started.Store(time.Now().UnixNano())
	r := n.raft
	n.tr.serve(func() raft.Configuration { return r.GetConfiguration().Configuration() })
	n.batch = newBatcher(n, n.cfg.BatchMaxCommands, n.cfg.BatchMaxBytes, n.cfg.BatchInflight)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.batch.run(n.stop) }()
	go func() { defer n.wg.Done(); n.watchLeadership() }()
	n.serveProtocols()
	n.startScrub()
	applied, digest := n.fsm.Applied()
	n.log.Info("replica started", "id", n.cfg.ID, "peer", n.h.ID(), "applied_index", applied, "digest", fmt.Sprintf("%x", digest[:8]))
	return nil
}

// stateBehindSnapshot reports whether the newest snapshot holds entries the
// state database lacks (it was deleted or replaced): then Raft must restore
// the snapshot on start instead of trusting the state.
func (n *Node) stateBehindSnapshot() bool {
	snaps, err := n.snap.List()
	if err != nil || len(snaps) == 0 {
		return false
	}
	applied, _ := n.fsm.Applied()
	if applied >= snaps[0].Index {
		return false
	}
	_, rc, err := n.snap.Open(snaps[0].ID)
	if err != nil {
		return true
	}
	defer rc.Close()
	idx, err := snapshotIndex(rc)
	if err != nil {
		return true
	}
	if idx > applied {
		n.log.Warn("state is older than the newest snapshot; restoring it", "applied_index", applied, "snapshot_index", idx)
		return true
	}
	return false
}

// Bootstrap makes this node the first member of a new federation with the
// given voters (it must be one of them). It is a no-op error
// (raft.ErrCantBootstrap) when Raft state already exists.
func (n *Node) Bootstrap(voters []Server) error {
	cfg := raft.Configuration{}
	for _, s := range voters {
		cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Peer.String()), Suffrage: raft.Voter})
	}
	if err := n.raft.BootstrapCluster(cfg).Error(); err != nil {
		return fmt.Errorf("consensus: bootstrap: %w", err)
	}
	return nil
}

// watchLeadership commits the leader marker each time this node becomes
// leader and records the term once it is applied.
func (n *Node) watchLeadership() {
	for {
		select {
		case <-n.stop:
			return
		case isLeader := <-n.notify:
			if !isLeader {
				continue
			}
			term := n.raft.CurrentTerm()
			n.log.Info("became leader", "term", term)
			go n.commitMarker(term)
		}
	}
}

func (n *Node) commitMarker(term uint64) {
	payload := binary.BigEndian.AppendUint64(nil, term)
	for n.raft.State() == raft.Leader && n.raft.CurrentTerm() == term {
		f := n.raft.Apply(EncodeBatch([]Command{{Type: leaderMarker, Payload: payload}}), n.cfg.ApplyTimeout)
		if err := f.Error(); err == nil {
			n.readyMu.Lock()
			n.readyTerm.Store(term)
			close(n.readyCh)
			n.readyCh = make(chan struct{})
			n.readyMu.Unlock()
			return
		}
		select {
		case <-n.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Shutdown leaves Raft cleanly: a leader first hands leadership to another
// voter, so the federation does not wait for an election timeout. Parts are
// stopped in the reverse order of Start.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	n.stopOnce.Do(func() {
		n.stopping.Store(true)
		if n.raft == nil {
			n.st.close()
			return
		}
		if n.raft.State() == raft.Leader && n.otherVoters() > 0 {
			if err := n.raft.LeadershipTransfer().Error(); err != nil {
				n.log.Warn("leadership transfer on shutdown failed", "error", err)
			} else {
				n.log.Info("handed over leadership before shutdown")
			}
		}
		n.h.RemoveStreamHandler(forwardProtocol)
		n.h.RemoveStreamHandler(readIndexProtocol)
		close(n.stop)
		trClosed, err := n.stopRaft(ctx)
		if err != nil {
			// Raft's goroutines have not all ended: its log and state stay
			// open rather than be closed under them.
			errs = append(errs, err)
			return
		}
		n.wg.Wait()
		if !trClosed {
			if err := n.tr.Close(); err != nil {
				errs = append(errs, fmt.Errorf("transport: %w", err))
			}
		}
		if err := n.wal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raft log: %w", err))
		}
		if err := n.walMeta.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raft log metadata: %w", err))
		}
		n.st.close()
	})
	return errors.Join(errs...)
}

// raftStopWait bounds the wait for Raft's goroutines when the caller's
// context has no deadline.
const raftStopWait = 30 * time.Second

// raftStopGrace is the most Raft's own shutdown is waited for before its
// transport is closed under it.
const raftStopGrace = 5 * time.Second

// stopRaft shuts Raft down and waits for its goroutines. One blocked in
// the transport would hold the shutdown forever: after half the caller's
// time (raftStopGrace at most) the transport is closed under it, which
// ends the blocked calls, and the wait goes on for the rest of the
// caller's time. It reports whether it closed the transport.
func (n *Node) stopRaft(ctx context.Context) (trClosed bool, err error) {
	done := make(chan error, 1)
	go func() { done <- n.raft.Shutdown().Error() }()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(raftStopWait)
	}
	// Raft's own shutdown is given a part of the time; goroutines blocked
	// on a peer's connection (a pipeline waiting for a stopped peer's
	// answer) then end when the transport is closed under them, within
	// the rest of it.
	first := min(time.Until(deadline)/2, raftStopGrace)
	wait := time.NewTimer(first)
	defer wait.Stop()
	select {
	case err := <-done:
		return false, raftStopErr(err)
	case <-wait.C:
	}
	n.log.Warn("raft did not stop in time: closing its transport to end blocked calls", "after", first.String())
	if err := n.tr.Close(); err != nil {
		n.log.Warn("close the raft transport", "error", err)
	}
	select {
	case err := <-done:
		return true, raftStopErr(err)
	case <-time.After(max(time.Until(deadline), 2*time.Second)):
		return true, errors.New("raft: its goroutines did not stop, even with the transport closed")
	}
}

func raftStopErr(err error) error {
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	return nil
}

func (n *Node) otherVoters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.ID {
			c++
		}
	}
	return c
}

// Apply replicates cmd and returns its result once it is applied on the
// leader. Any replica may be asked: a follower forwards the command to the
// leader. Errors that say the command was not proposed (no leader yet, the
// leader changed before proposing) are retried until ctx ends. A domain
// error is returned as *Error, with the Result still carrying the index.
//
// If the leader is lost after the command was proposed, the outcome is
// unknown (ErrUncertain); with an idempotency key (cmd.Key) Apply retries it,
// and the key guarantees it is applied once.
func (n *Node) Apply(ctx context.Context, cmd Command) (res Result, err error) {
	if n.observe != nil {
		start := time.Now()
		defer func() {
			outcome := "ok"
			var derr *Error
			switch {
			case errors.As(err, &derr):
				outcome = "refused"
			case err != nil:
				outcome = "failed"
			}
			n.observe(time.Since(start), outcome)
		}()
	}
	cmd.Origin = n.cfg.ID
	if err := n.checkCommand(cmd); err != nil {
		return Result{}, err
	}
	ctx, cancel := n.withDefaultTimeout(ctx)
	defer cancel()
	var b retryBackoff
	for {
		res, err := n.batch.submit(ctx, cmd)
		if err == nil {
			if res.Err != nil {
				return res, res.Err
			}
			return res, nil
		}
		retry := errors.Is(err, ErrNoLeader) || errors.Is(err, ErrNotLeader) ||
			(cmd.Key != "" && errors.Is(err, ErrUncertain))
		if !retry || n.stopping.Load() {
			return Result{}, err
		}
		if werr := b.wait(ctx); werr != nil {
			return Result{}, fmt.Errorf("%w (last error: %v)", werr, err)
		}
	}
}

func (n *Node) checkCommand(cmd Command) error {
	if err := cmd.validate(); err != nil {
		return err
	}
	h, ok := n.fsm.handlers[cmd.Type]
	if !ok {
		return fmt.Errorf("%w: no handler for command type %q", ErrInvalidCommand, cmd.Type)
	}
	if v, ok := h.(VersionedHandler); ok && !v.SupportsVersion(cmd.Type, cmd.Version) {
		return fmt.Errorf("%w: %s version %d is not supported by this node", ErrInvalidCommand, cmd.Type, cmd.Version)
	}
	if cmd.encodedSize()+16 > n.cfg.BatchMaxBytes {
		return fmt.Errorf("%w: command of %d bytes exceeds BatchMaxBytes %d", ErrInvalidCommand, cmd.encodedSize(), n.cfg.BatchMaxBytes)
	}
	if !n.started.Load() || n.stopping.Load() {
		return ErrShutdown
	}
	return nil
}

// withDefaultTimeout bounds ctx by ApplyTimeout when it has no deadline.
func (n *Node) withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, n.cfg.ApplyTimeout)
}

// retryBackoff waits 10 ms, doubling up to 200 ms, between retries.
type retryBackoff struct{ d time.Duration }

func (b *retryBackoff) wait(ctx context.Context) error {
	if b.d == 0 {
		b.d = 10 * time.Millisecond
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
	}
	b.d = min(2*b.d, 200*time.Millisecond)
	return nil
}

// Consistency is the freshness a read asks for.
type Consistency int

const (
	// Local reads this replica's state as it is. The returned index says
	// how fresh it is.
	Local Consistency = iota
	// Strong reads state that includes every write acknowledged before the
	// read began, anywhere in the federation (linearizable): the leader
	// confirms its leadership and a commit index, and this replica waits
	// until it has applied that far.
	Strong
)

// Read runs fn on a consistent view of the state and returns the applied
// index of that view.
func (n *Node) Read(ctx context.Context, c Consistency, fn func(Reader) error) (uint64, error) {
	if c == Strong {
		idx, err := n.readIndex(ctx)
		if err != nil {
			return 0, err
		}
		if err := n.fsm.waitApplied(ctx, idx); err != nil {
			return 0, err
		}
	}
	return n.fsm.viewAt(fn)
}

// WaitApplied blocks until this replica has applied index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitApplied(ctx, index)
}

// readIndex returns an index that covers every write acknowledged before the
// call, obtained from the leader.
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	ctx, cancel := n.withDefaultTimeout(ctx)
	defer cancel()
	var b retryBackoff
	for {
		var idx uint64
		var err error
		_, leaderID := n.raft.LeaderWithID()
		switch {
		case leaderID == "":
			err = ErrNoLeader
		case string(leaderID) == n.cfg.ID:
			idx, err = n.leaderReadIndex(ctx)
		default:
			idx, err = n.remoteReadIndex(ctx)
		}
		if err == nil {
			return idx, nil
		}
		if !errors.Is(err, ErrNoLeader) && !errors.Is(err, ErrNotLeader) {
			return 0, err
		}
		if werr := b.wait(ctx); werr != nil {
			return 0, fmt.Errorf("strong read: %w (last error: %v)", werr, err)
		}
	}
}

// leaderReadIndex: wait until this term's marker is applied, confirm
// leadership with a quorum, and return the commit index.
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	for {
		if n.raft.State() != raft.Leader {
			return 0, ErrNotLeader
		}
		n.readyMu.Lock()
		ready := n.readyTerm.Load() == n.raft.CurrentTerm()
		ch := n.readyCh
		n.readyMu.Unlock()
		if ready {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return idx, nil
}

// Server is one member of the Raft configuration.
type Server struct {
	ID    string  // region code
	Peer  peer.ID // libp2p peer ID (the Raft address)
	Voter bool
}

// Servers returns the current Raft configuration.
func (n *Node) Servers() ([]Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	var out []Server
	for _, s := range f.Configuration().Servers {
		p, err := peer.Decode(string(s.Address))
		if err != nil {
			return nil, fmt.Errorf("consensus: server %s has address %q: %w", s.ID, s.Address, err)
		}
		out = append(out, Server{ID: string(s.ID), Peer: p, Voter: s.Suffrage == raft.Voter})
	}
	return out, nil
}

func (n *Node) leaderOnly() error {
	if n.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	return nil
}

func timeoutOf(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return def
}

// AddNonvoter adds a region that receives the log but does not vote. Only the
// leader can do it (ErrNotLeader otherwise).
func (n *Node) AddNonvoter(ctx context.Context, id string, p peer.ID) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return wrapRaft(n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(p.String()), 0, timeoutOf(ctx, n.cfg.ApplyTimeout)).Error())
}

// AddVoter adds a region as a voter, or promotes a non-voter.
func (n *Node) AddVoter(ctx context.Context, id string, p peer.ID) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return wrapRaft(n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(p.String()), 0, timeoutOf(ctx, n.cfg.ApplyTimeout)).Error())
}

// DemoteVoter turns a voter into a non-voter.
func (n *Node) DemoteVoter(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return wrapRaft(n.raft.DemoteVoter(raft.ServerID(id), 0, timeoutOf(ctx, n.cfg.ApplyTimeout)).Error())
}

// RemoveServer removes a region from the Raft configuration.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return wrapRaft(n.raft.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx, n.cfg.ApplyTimeout)).Error())
}

// TransferLeadership hands leadership to another voter.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if err := n.leaderOnly(); err != nil {
		return err
	}
	return wrapRaft(n.raft.LeadershipTransfer().Error())
}

func wrapRaft(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	default:
		return fmt.Errorf("consensus: %w", err)
	}
}

// Status describes the replica for operators and health checks.
type Status struct {
	ID           string
	Peer         peer.ID
	State        string // Leader, Follower, Candidate, Shutdown
	Term         uint64
	LeaderID     string
	LeaderPeer   string
	LastIndex    uint64
	CommitIndex  uint64
	AppliedIndex uint64 // last entry applied to the state
	Digest       [32]byte
	LastContact  time.Time
	// SnapshotRestores counts the snapshots installed since start.
	SnapshotRestores uint64
}

// Status returns the replica's current view.
func (n *Node) Status() Status {
	applied, digest := n.fsm.Applied()
	s := Status{ID: n.cfg.ID, Peer: n.h.ID(), AppliedIndex: applied, Digest: digest, SnapshotRestores: n.fsm.restores.Load()}
	if n.raft == nil {
		s.State = "NotStarted"
		return s
	}
	addr, id := n.raft.LeaderWithID()
	s.State = n.raft.State().String()
	s.Term = n.raft.CurrentTerm()
	s.LeaderID, s.LeaderPeer = string(id), string(addr)
	s.LastIndex = n.raft.LastIndex()
	s.CommitIndex = n.raft.CommitIndex()
	s.LastContact = n.raft.LastContact()
	return s
}

// DigestAt returns the state digest after index, if this replica applied
// index recently enough to remember it (see FSM.digestAt).
func (n *Node) DigestAt(index uint64) ([32]byte, bool) { return n.fsm.digestAt(index) }

// Snapshot asks Raft for a snapshot now (for tests and operators).
func (n *Node) Snapshot() error {
	return wrapRaft(n.raft.Snapshot().Error())
}

// IsLeader reports whether this replica is the leader.
func (n *Node) IsLeader() bool { return n.raft != nil && n.raft.State() == raft.Leader }
