package admission

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
// certificate expired is not added, and a voter's is demoted (unless it is
// the last voter), but it is not removed: the gaters already refuse its
// connections, and a renewed certificate lets it back.
func (m *Module) reconcile(ctx context.Context) {
	if !m.d.Replica.IsLeader() {
		return
	}
	v := m.members.View()
	if v.Authority == nil {
		return
	}
	servers, err := m.d.Replica.Servers()
	if err != nil {
		return
	}
	inRaft := map[string]consensus.Server{}
	for _, s := range servers {
		inRaft[s.ID] = s
	}
	revoked := m.revokedPeers(v)
	now := time.Now()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, s := range servers {
		_, member := v.Region(s.ID)
		if revoked[s.Peer] || (!member && s.ID != m.cfg.Region) {
			m.change("remove server", s.ID, m.d.Replica.RemoveServer(actx, s.ID))
			return // one change per round: the configuration must settle
		}
	}
	for _, r := range v.Regions {
		if revoked[r.Peer] {
			continue // the state may not know yet (restored from before it); the list does
		}
		s, in := inRaft[r.Code]
		switch {
		case in && s.Peer != r.Peer:
			// The region's node has a new key: the old server goes first.
			m.change("replace server", r.Code, m.d.Replica.RemoveServer(actx, r.Code))
			return
		case !in && r.ValidAt(now):
			m.change("add non-voter", r.Code, m.d.Replica.AddNonvoter(actx, r.Code, r.Peer))
			return
		case in && s.Voter && !r.ValidAt(now) && voters(servers) > 1:
			// An expired certificate keeps no vote: the region stays a
			// non-voter until the authority renews it.
			m.change("demote to non-voter (certificate expired)", r.Code, m.d.Replica.DemoteVoter(actx, r.Code))
			return
		case in && r.Role == membership.Voter && !s.Voter && r.ValidAt(now):
			if err := m.caughtUp(actx, r.Peer); err != nil {
				m.log.Debug("not promoting yet", "to", r.Code, "why", err)
				continue
			}
			m.change("promote to voter", r.Code, m.d.Replica.AddVoter(actx, r.Code, r.Peer))
			return
		case in && r.Role == membership.Nonvoter && s.Voter:
			m.change("demote to non-voter", r.Code, m.d.Replica.DemoteVoter(actx, r.Code))
			return
		}
	}
}

func voters(servers []consensus.Server) int {
	n := 0
	for _, s := range servers {
		if s.Voter {
			n++
		}
	}
	return n
}

func (m *Module) change(what, code string, err error) {
	if err != nil {
		m.log.Warn("raft configuration change failed", "change", what, "server", code, "err", err)
		return
	}
	m.log.Info("raft configuration changed", "change", what, "server", code)
	wake(m.wakeReconcile) // the next change, if any, without waiting a tick
}

// catchUpSlack is how far behind the leader's commit index a non-voter may
// be and still be promoted.
const catchUpSlack = 256

// caughtUp asks a peer how far it has applied.
func (m *Module) caughtUp(ctx context.Context, p peer.ID) error {
	st, err := m.peerStatus(ctx, p, 0)
	if err != nil {
		return err
	}
	commit := m.d.Replica.Status().CommitIndex
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
	Version      string `json:"version,omitempty"` // the node's build (federation.BuildInfo)
}

func (m *Module) localStatus(ctx context.Context, digestIndex uint64) peerStatus {
	st := m.d.Replica.Status()
	ps := peerStatus{Region: m.cfg.Region, State: st.State, Term: st.Term, Leader: st.LeaderID, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex,
		Version: federation.BuildInfo().String()}
	if digestIndex > 0 {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := m.d.Replica.WaitApplied(wctx, digestIndex); err != nil {
			ps.DigestError = fmt.Sprintf("entry %d not applied here yet (applied %d)", digestIndex, m.d.Replica.Status().AppliedIndex)
		} else if d, ok := m.d.Replica.DigestAt(digestIndex); ok {
			ps.Digest = fmt.Sprintf("%x", d)
		} else {
			ps.DigestError = fmt.Sprintf("entry %d is too old to have its digest remembered", digestIndex)
		}
		ps.AppliedIndex = m.d.Replica.Status().AppliedIndex
	}
	return ps
}

func (m *Module) serveStatus(h federation.StreamHost) {
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse = 4096, 4096
	federation.Serve(h, statusProtocol, opts, m.log, func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
		var r statusRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, &federation.RemoteError{Code: "invalid", Message: "status request: not JSON"}
		}
		return json.Marshal(m.localStatus(ctx, r.DigestIndex))
	})
}

func (m *Module) peerStatus(ctx context.Context, p peer.ID, digestIndex uint64) (peerStatus, error) {
	var ps peerStatus
	req, _ := json.Marshal(statusRequest{DigestIndex: digestIndex})
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse = 4096, 4096
	opts.Timeout = 5 * time.Second
	b, err := federation.Call(ctx, m.d.Host, p, statusProtocol, req, opts)
	if err != nil {
		return ps, err
	}
	if err := json.Unmarshal(b, &ps); err != nil {
		return ps, fmt.Errorf("status answer: %w", err)
	}
	return ps, nil
}
