package consensus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// ErrUncertain: the command was handed to a leader that was lost before it
// answered, so it may or may not have been applied. Retrying with the same
// idempotency key is safe; without one, the caller must check.
var ErrUncertain = errors.New("consensus: outcome unknown")

// batcher group-commits concurrent writes. Commands queue while up to
// `inflight` log entries are being replicated; each time a slot frees, every
// queued command (up to the limits) goes into one entry. On a follower the
// same batches are forwarded to the leader in one request each.
type batcher struct {
	n        *Node
	in       chan *pending
	maxCmds  int
	maxBytes int
	slots    chan struct{}
}

type pending struct {
	ctx       context.Context
	cmd       Command
	size      int
	localOnly bool // forwarded to us: propose only if we lead, never forward again
	done      chan outcome
}

type outcome struct {
	res Result
	err error
}

func newBatcher(n *Node, maxCmds, maxBytes, inflight int) *batcher {
	return &batcher{n: n, in: make(chan *pending, 4*maxCmds), maxCmds: maxCmds, maxBytes: maxBytes, slots: make(chan struct{}, inflight)}
}

func (b *batcher) submit(ctx context.Context, cmd Command) (Result, error) {
	return b.enqueue(ctx, cmd, false)
}

func (b *batcher) enqueue(ctx context.Context, cmd Command, localOnly bool) (Result, error) {
	p := &pending{ctx: ctx, cmd: cmd, size: cmd.encodedSize(), localOnly: localOnly, done: make(chan outcome, 1)}
	select {
	case b.in <- p:
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	case <-b.n.stop:
		return Result{}, ErrShutdown
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", ErrUncertain, context.Cause(ctx))
	}
}

func (b *batcher) run(stop <-chan struct{}) {
	var carry *pending
	for {
		select {
		case b.slots <- struct{}{}:
		case <-stop:
			b.failQueued(carry)
			return
		}
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.in:
			case <-stop:
				b.failQueued(nil)
				return
			}
		}
		batch := []*pending{first}
		size := first.size
	drain:
		for len(batch) < b.maxCmds {
			select {
			case p := <-b.in:
				if size+p.size > b.maxBytes {
					carry = p
					break drain
				}
				batch = append(batch, p)
				size += p.size
			default:
				break drain
			}
		}
		go func() {
			defer func() { <-b.slots }()
			b.flush(batch)
		}()
	}
}

func (b *batcher) failQueued(carry *pending) {
	if carry != nil {
		carry.done <- outcome{err: ErrShutdown}
	}
	for {
		select {
		case p := <-b.in:
			p.done <- outcome{err: ErrShutdown}
		default:
			return
		}
	}
}

// flush proposes one batch: as a log entry when this node leads, otherwise
// as one forwarded request to the leader.
func (b *batcher) flush(batch []*pending) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- outcome{err: context.Cause(p.ctx)} // gave up before proposal
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	leaderAddr, leaderID := b.n.raft.LeaderWithID()
	if string(leaderID) == b.n.cfg.ID && b.n.raft.State() == raft.Leader {
		b.propose(live)
		return
	}
	var remote []*pending
	for _, p := range live {
		if p.localOnly {
			p.done <- outcome{err: ErrNotLeader}
			continue
		}
		remote = append(remote, p)
	}
	if len(remote) == 0 {
		return
	}
	if leaderID == "" {
		failAll(remote, ErrNoLeader)
		return
	}
	pid, err := peer.Decode(string(leaderAddr))
	if err != nil {
		failAll(remote, fmt.Errorf("%w: leader address %q: %v", ErrNoLeader, leaderAddr, err))
		return
	}
	b.forward(pid, remote)
}

func failAll(ps []*pending, err error) {
	for _, p := range ps {
		p.done <- outcome{err: err}
	}
}

func (b *batcher) propose(ps []*pending) {
	cmds := make([]Command, len(ps))
	for i, p := range ps {
		cmds[i] = p.cmd
	}
	start := time.Now()
	f := b.n.raft.Apply(EncodeBatch(cmds), b.n.cfg.ApplyTimeout)
	if err := f.Error(); err != nil {
		failAll(ps, mapApplyError(err))
		return
	}
	b.n.metrics.observeCommit(time.Since(start))
	results, ok := f.Response().([]Result)
	if !ok || len(results) != len(ps) {
		failAll(ps, fmt.Errorf("consensus: entry %d: unexpected apply response %T", f.Index(), f.Response()))
		return
	}
	for i, p := range ps {
		p.done <- outcome{res: results[i]}
	}
}

func mapApplyError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
		// Not appended to the log: safe to retry anywhere.
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return fmt.Errorf("%w: %v", ErrUncertain, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	default:
		return fmt.Errorf("%w: %v", ErrUncertain, err)
	}
}

// Remote error codes of the forwarding and read-index protocols.
const (
	codeNotLeader      = "not_leader"
	codeNoLeader       = "no_leader"
	codeUncertain      = "uncertain"
	codeInvalidCommand = "invalid_command"
	codeShutdown       = "shutdown"
)

func (b *batcher) forward(leader peer.ID, ps []*pending) {
	cmds := make([]Command, len(ps))
	for i, p := range ps {
		cmds[i] = p.cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.n.cfg.RPCTimeout)
	defer cancel()
	resp, err := federation.Call(ctx, b.n.h, leader, forwardProtocol, EncodeBatch(cmds), b.n.rpcOptions())
	if err != nil {
		failAll(ps, fromRemote(err))
		return
	}
	results, err := decodeResults(resp)
	if err != nil || len(results) != len(ps) {
		failAll(ps, fmt.Errorf("%w: leader's answer: %v", ErrUncertain, err))
		return
	}
	for i, p := range ps {
		p.done <- outcome{res: results[i]}
	}
}

// fromRemote maps a forwarding failure to this package's errors. Only a
// failure to reach the leader at all, or the leader's own word that it did
// not propose, is certain; anything after the request left is uncertain.
func fromRemote(err error) error {
	var re *federation.RemoteError
	switch {
	case errors.As(err, &re):
		switch re.Code {
		case codeNotLeader, codeShutdown:
			return fmt.Errorf("%w: %s", ErrNotLeader, re.Message)
		case codeNoLeader:
			return fmt.Errorf("%w: %s", ErrNoLeader, re.Message)
		case codeInvalidCommand, federation.CodeBadRequest:
			return fmt.Errorf("%w: %s", ErrInvalidCommand, re.Message)
		default:
			return fmt.Errorf("%w: %v", ErrUncertain, err)
		}
	case errors.Is(err, federation.ErrUnreachable):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	default:
		return fmt.Errorf("%w: %v", ErrUncertain, err)
	}
}
