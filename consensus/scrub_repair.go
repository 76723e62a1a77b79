package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// repairProtocol streams a replica's state to a damaged member: one
// request frame {"min_index": n}, one answer frame {"index": n} or
// {"error": "..."}, then the snapshot stream (the format of Raft
// snapshots) until the stream ends.
var repairProtocol = federation.ProtocolID("state-repair", "1.0.0")

type repairRequest struct {
	MinIndex uint64 `json:"min_index"`
}

type repairAnswer struct {
	Index uint64 `json:"index,omitempty"`
	Error string `json:"error,omitempty"`
}

// repairStreamTime bounds one repair transfer.
const repairStreamTime = 30 * time.Minute

// handleRepair streams this replica's state to a member that asks, once
// this replica has applied at least what the member has (a restore must
// not take the member's state back in time).
func (s *scrubber) handleRepair(st network.Stream) {
	defer st.Close()
	n := s.n
	from := st.Conn().RemotePeer()
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	fail := func(msg string) {
		b, _ := json.Marshal(repairAnswer{Error: msg})
		_ = federation.WriteFrame(st, b, 4096)
	}
	id, err := n.serverOf(from)
	if err != nil {
		fail(err.Error())
		return
	}
	b, err := federation.ReadFrame(st, 1024)
	var req repairRequest
	if err != nil || json.Unmarshal(b, &req) != nil {
		fail("want {\"min_index\": n}")
		return
	}
	if d := n.fsm.integ.current(); d != nil {
		fail("this replica's own state is damaged")
		return
	}
	ctx, cancel := n.stopContext()
	defer cancel()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	err = n.fsm.waitApplied(wctx, req.MinIndex)
	wcancel()
	if err != nil {
		fail(fmt.Sprintf("this replica has not applied index %d yet", req.MinIndex))
		return
	}
	h, err := n.fsm.state.acquire()
	if err != nil {
		fail("this replica is stopping")
		return
	}
	txn := h.db.NewTransaction(false)
	meta, err := readAppliedMeta(txn)
	if err != nil {
		txn.Discard()
		h.release()
		n.fsm.noticeDamage(err)
		fail("this replica could not read its state")
		return
	}
	snap := &fsmSnapshot{h: h, txn: txn, meta: meta, f: n.fsm}
	defer snap.Release()
	_ = st.SetDeadline(time.Now().Add(repairStreamTime))
	ans, _ := json.Marshal(repairAnswer{Index: meta.Index})
	if err := federation.WriteFrame(st, ans, 4096); err != nil {
		return
	}
	if err := snap.write(st); err != nil {
		n.log.Warn("state sent for repair was cut short", "to", id, "index", meta.Index, "error", err)
		_ = st.Reset()
		return
	}
	n.log.Info("state sent to a replica repairing itself", "to", id, "index", meta.Index)
}

// repairLoop repairs the state whenever it is found damaged.
func (s *scrubber) repairLoop() {
	n := s.n
	for {
		select {
		case <-n.stop:
			return
		case <-n.fsm.integ.kick:
		}
		wait := time.Second
		for n.fsm.integ.current() != nil {
			err := s.repairOnce()
			if err == nil {
				break
			}
			n.log.Warn("repair of the stored state failed; trying again", "error", err, "in", wait.String())
			select {
			case <-n.stop:
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
		}
	}
}

// repairOnce restores the state from a sound replica, trying each in
// turn.
func (s *scrubber) repairOnce() error {
	n := s.n
	sources := s.repairSources()
	if len(sources) == 0 {
		return errors.New("no other replica to repair from: restore the node from a backup (fsenode restore)")
	}
	if n.IsLeader() && n.otherVoters() > 0 {
		// A damaged leader would answer writes from damaged state.
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("could not hand leadership over before repairing", "error", err)
		}
	}
	var errs []error
	for _, src := range sources {
		err := s.repairFrom(src)
		if err == nil {
			s.mu.Lock()
			s.repairs++
			s.mu.Unlock()
			s.propose("verify a repair")
			return nil
		}
		errs = append(errs, fmt.Errorf("from %s: %w", src.ID, err))
	}
	return errors.Join(errs...)
}

// repairSources are the replicas to repair from: those that agreed with
// the majority at the last comparison, the leader first; without one,
// the leader and then every other member.
func (s *scrubber) repairSources() []Server {
	n := s.n
	servers, err := n.Servers()
	if err != nil {
		return nil
	}
	_, leader := n.raft.LeaderWithID()
	good := map[string]bool{}
	if rep := n.ScrubReport(); rep != nil && n.fsm.integ.current() != nil && rep.Index >= n.fsm.integ.current().Index {
		for _, r := range rep.Regions {
			if r.State == ScrubAgrees {
				good[r.ID] = true
			}
		}
	}
	var first, rest []Server
	for _, srv := range servers {
		if srv.ID == n.cfg.ID || (len(good) > 0 && !good[srv.ID]) {
			continue
		}
		if srv.ID == string(leader) {
			first = append(first, srv)
		} else {
			rest = append(rest, srv)
		}
	}
	return append(first, rest...)
}

// repairFrom fetches src's state into a file beside the state, checks it
// end to end, and restores it, unless this replica has applied more
// meanwhile.
func (s *scrubber) repairFrom(src Server) error {
	n := s.n
	tmp, err := os.CreateTemp(n.cfg.DataDir, "repair-*.snap")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	applied, _ := n.fsm.Applied()
	ctx, cancel := n.stopContext()
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, repairStreamTime)
	defer cancel2()
	index, err := s.fetchState(ctx, src.Peer, applied, tmp)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	meta, err := loadSnapshot(tmp, nil)
	if err != nil {
		return err
	}
	if meta.Index != index {
		return fmt.Errorf("%w: announced index %d, holds %d", ErrBadSnapshot, index, meta.Index)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	n.fsm.applyMu.Lock()
	defer n.fsm.applyMu.Unlock()
	if cur, _ := n.fsm.Applied(); meta.Index < cur {
		return fmt.Errorf("the state of %s is at index %d, behind this replica's %d", src.ID, meta.Index, cur)
	}
	if err := n.fsm.restoreLocked(tmp, "region "+src.ID); err != nil {
		return err
	}
	n.log.Info("stored state repaired from another replica", "from", src.ID, "index", meta.Index)
	return nil
}

// fetchState asks p for its state at minIndex or later and writes the
// snapshot stream to w; it returns the index p announced.
func (s *scrubber) fetchState(ctx context.Context, p peer.ID, minIndex uint64, w io.Writer) (uint64, error) {
	st, err := s.n.h.NewStream(ctx, p, repairProtocol)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", federation.ErrUnreachable, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	req, _ := json.Marshal(repairRequest{MinIndex: minIndex})
	if err := federation.WriteFrame(st, req, 1024); err != nil {
		return 0, err
	}
	if err := st.CloseWrite(); err != nil {
		return 0, err
	}
	b, err := federation.ReadFrame(st, 4096)
	if err != nil {
		return 0, err
	}
	var ans repairAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return 0, fmt.Errorf("repair answer: %w", err)
	}
	if ans.Error != "" {
		return 0, errors.New(ans.Error)
	}
	if _, err := io.Copy(w, st); err != nil {
		return 0, err
	}
	return ans.Index, nil
}
