package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

var (
	// forwardProtocol carries a batch of commands from a follower to the
	// leader; the answer is one result per command.
	forwardProtocol = federation.ProtocolID("forward", "1.0.0")
	// readIndexProtocol asks the leader for a read index (strong reads).
	readIndexProtocol = federation.ProtocolID("readindex", "1.0.0")
)

func (n *Node) rpcOptions() federation.RPCOptions {
	o := federation.DefaultRPCOptions()
	o.MaxRequest = n.cfg.BatchMaxBytes + 4096
	o.MaxResponse = n.cfg.BatchMaxBytes + 4096
	o.Timeout = n.cfg.RPCTimeout
	return o
}

func (n *Node) serveProtocols() {
	opts := n.rpcOptions()
	federation.Serve(n.h, forwardProtocol, opts, n.log, n.handleForward)
	federation.Serve(n.h, readIndexProtocol, opts, n.log, n.handleReadIndex)
}

// serverOf returns the server ID of a member of the Raft configuration.
func (n *Node) serverOf(p peer.ID) (string, error) {
	servers, err := n.Servers()
	if err != nil {
		return "", err
	}
	for _, s := range servers {
		if s.Peer == p {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("peer %s is not a member of the Raft configuration", p)
}

// handleForward proposes a follower's batch through this node's own batcher,
// so forwarded and local commands share entries. It never forwards again:
// if this node is no longer the leader the follower is told so and retries.
func (n *Node) handleForward(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	if n.stopping.Load() {
		return nil, &federation.RemoteError{Code: codeShutdown, Message: "node is shutting down"}
	}
	cmds, err := DecodeBatch(req)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeInvalidCommand, Message: err.Error()}
	}
	// The commands are the sending member's, whatever they claim.
	origin, err := n.serverOf(from)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeInvalidCommand, Message: err.Error()}
	}
	for i := range cmds {
		cmds[i].Origin = origin
	}
	for _, c := range cmds {
		if err := n.checkCommand(c); err != nil {
			return nil, &federation.RemoteError{Code: codeInvalidCommand, Message: err.Error()}
		}
	}
	if !n.IsLeader() {
		return nil, &federation.RemoteError{Code: codeNotLeader, Message: "not the leader"}
	}
	results := make([]Result, len(cmds))
	errs := make([]error, len(cmds))
	done := make(chan int, len(cmds))
	for i, c := range cmds {
		go func() {
			results[i], errs[i] = n.batch.enqueue(ctx, c, true)
			done <- i
		}()
	}
	for range cmds {
		<-done
	}
	// The batch succeeds or fails as a whole for the follower; if some
	// commands were refused for leadership, report the most cautious error.
	var firstErr error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, ErrUncertain) || firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		switch {
		case errors.Is(firstErr, ErrUncertain):
			return nil, &federation.RemoteError{Code: codeUncertain, Message: firstErr.Error()}
		case errors.Is(firstErr, ErrNotLeader), errors.Is(firstErr, ErrNoLeader):
			if allNotProposed(errs) {
				return nil, &federation.RemoteError{Code: codeNotLeader, Message: firstErr.Error()}
			}
			return nil, &federation.RemoteError{Code: codeUncertain, Message: firstErr.Error()}
		case errors.Is(firstErr, ErrShutdown):
			return nil, &federation.RemoteError{Code: codeUncertain, Message: firstErr.Error()}
		default:
			return nil, &federation.RemoteError{Code: codeUncertain, Message: firstErr.Error()}
		}
	}
	return encodeResults(results), nil
}

// allNotProposed reports whether every command failed before proposal, so
// that the follower may safely retry the whole batch.
func allNotProposed(errs []error) bool {
	for _, err := range errs {
		if err == nil || !(errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader)) {
			return false
		}
	}
	return true
}

func (n *Node) handleReadIndex(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	if len(req) != 0 {
		return nil, &federation.RemoteError{Code: federation.CodeBadRequest, Message: "read-index request has a body"}
	}
	idx, err := n.leaderReadIndex(ctx)
	if err != nil {
		if errors.Is(err, ErrNotLeader) {
			return nil, &federation.RemoteError{Code: codeNotLeader, Message: "not the leader"}
		}
		return nil, &federation.RemoteError{Code: codeNoLeader, Message: err.Error()}
	}
	return binary.AppendUvarint(nil, idx), nil
}

func (n *Node) remoteReadIndex(ctx context.Context) (uint64, error) {
	addr, _ := n.raft.LeaderWithID()
	pid, err := peer.Decode(string(addr))
	if err != nil {
		return 0, fmt.Errorf("%w: leader address %q", ErrNoLeader, addr)
	}
	resp, err := federation.Call(ctx, n.h, pid, readIndexProtocol, nil, n.rpcOptions())
	if err != nil {
		var re *federation.RemoteError
		if errors.As(err, &re) && re.Code == codeNotLeader {
			return 0, ErrNotLeader
		}
		if errors.As(err, &re) || errors.Is(err, federation.ErrUnreachable) {
			return 0, fmt.Errorf("%w: %v", ErrNoLeader, err)
		}
		return 0, fmt.Errorf("%w: read index: %v", ErrNoLeader, err)
	}
	idx, k := binary.Uvarint(resp)
	if k <= 0 || k != len(resp) {
		return 0, fmt.Errorf("consensus: malformed read index from leader")
	}
	return idx, nil
}
