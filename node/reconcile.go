package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// reconcile runs on the leader: it makes Raft's configuration follow the
// certified membership. A certified region not in Raft is added as a
// non-voter; one whose certificate says voter is promoted once it has
// caught up; one whose certificate says non-voter is demoted; a server
// whose region is revoked or unknown is removed. A region whose
// certificate expired is not added, but is not removed either: the gaters
// already refuse its connections, and a renewed certificate lets it back.
func (n *Node) reconcile(ctx context.Context) {
	if !n.cons.IsLeader() {
		return
	}
	v := n.members.View()
	if v.Authority == nil {
		return
	}
	servers, err := n.cons.Servers()
	if err != nil {
		return
	}
	inRaft := map[string]consensus.Server{}
	for _, s := range servers {
		inRaft[s.ID] = s
	}
	revoked := map[peer.ID]bool{}
	for _, p := range v.RevokedPeers() {
		revoked[p] = true
	}
	now := time.Now()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, s := range servers {
		_, member := v.Region(s.ID)
		if revoked[s.Peer] || (!member && s.ID != n.cfg.Region) {
			n.change("remove server", s.ID, n.cons.RemoveServer(actx, s.ID))
			return // one change per round: the configuration must settle
		}
	}
	for _, r := range v.Regions {
		s, in := inRaft[r.Code]
		switch {
		case in && s.Peer != r.Peer:
			// The region's node has a new key: the old server goes first.
			n.change("replace server", r.Code, n.cons.RemoveServer(actx, r.Code))
			return
		case !in && r.ValidAt(now):
			n.change("add non-voter", r.Code, n.cons.AddNonvoter(actx, r.Code, r.Peer))
			return
		case in && r.Role == membership.Voter && !s.Voter && r.ValidAt(now):
			if err := n.caughtUp(actx, r.Peer); err != nil {
				n.log.Debug("not promoting yet", "to", r.Code, "why", err)
				continue
			}
			n.change("promote to voter", r.Code, n.cons.AddVoter(actx, r.Code, r.Peer))
			return
		case in && r.Role == membership.Nonvoter && s.Voter:
			n.change("demote to non-voter", r.Code, n.cons.DemoteVoter(actx, r.Code))
			return
		}
	}
}

func (n *Node) change(what, code string, err error) {
	if err != nil {
		n.log.Warn("raft configuration change failed", "change", what, "server", code, "err", err)
		return
	}
	n.log.Info("raft configuration changed", "change", what, "server", code)
	wake(n.wakeReconcile) // the next change, if any, without waiting a tick
}

// catchUpSlack is how far behind the leader's commit index a non-voter may
// be and still be promoted.
const catchUpSlack = 256

// caughtUp asks a peer how far it has applied.
func (n *Node) caughtUp(ctx context.Context, p peer.ID) error {
	st, err := n.peerStatus(ctx, p, 0)
	if err != nil {
		return err
	}
	commit := n.cons.Status().CommitIndex
	if st.AppliedIndex+catchUpSlack < commit {
		return fmt.Errorf("applied %d of %d", st.AppliedIndex, commit)
	}
	return nil
}

// statusProtocol answers a peer's question about this replica.
var statusProtocol = federation.ProtocolID("status", "1.0.0")

type statusRequest struct {
	// DigestIndex asks for the state digest after that entry; the replica
	// waits briefly to apply it.
	DigestIndex uint64 `json:"digest_index,omitempty"`
}

type peerStatus struct {
	Region       string `json:"region"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	Leader       string `json:"leader"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Digest       string `json:"digest,omitempty"` // hex, at DigestIndex
	DigestError  string `json:"digest_error,omitempty"`
}

func (n *Node) localStatus(ctx context.Context, digestIndex uint64) peerStatus {
	st := n.cons.Status()
	ps := peerStatus{Region: n.cfg.Region, State: st.State, Term: st.Term, Leader: st.LeaderID, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}
	if digestIndex > 0 {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := n.cons.WaitApplied(wctx, digestIndex); err != nil {
			ps.DigestError = fmt.Sprintf("entry %d not applied here yet (applied %d)", digestIndex, n.cons.Status().AppliedIndex)
		} else if d, ok := n.cons.DigestAt(digestIndex); ok {
			ps.Digest = fmt.Sprintf("%x", d)
		} else {
			ps.DigestError = fmt.Sprintf("entry %d is too old to have its digest remembered", digestIndex)
		}
		ps.AppliedIndex = n.cons.Status().AppliedIndex
	}
	return ps
}

func (n *Node) serveStatus() {
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse = 4096, 4096
	federation.Serve(n.host, statusProtocol, opts, n.log, func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
		var r statusRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, &federation.RemoteError{Code: "invalid", Message: "status request: not JSON"}
		}
		return json.Marshal(n.localStatus(ctx, r.DigestIndex))
	})
}

func (n *Node) peerStatus(ctx context.Context, p peer.ID, digestIndex uint64) (peerStatus, error) {
	var ps peerStatus
	req, _ := json.Marshal(statusRequest{DigestIndex: digestIndex})
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse = 4096, 4096
	opts.Timeout = 5 * time.Second
	b, err := federation.Call(ctx, n.host, p, statusProtocol, req, opts)
	if err != nil {
		return ps, err
	}
	if err := json.Unmarshal(b, &ps); err != nil {
		return ps, fmt.Errorf("status answer: %w", err)
	}
	return ps, nil
}
