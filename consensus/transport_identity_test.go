package consensus_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/p2p/net/gostream"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// The kinds of Raft RPC, as the first byte of each on a Raft stream
// (hashicorp/raft's NetworkTransport framing, which the federation speaks).
const (
	wireAppendEntries  uint8 = 0
	wireRequestVote    uint8 = 1
	wireTimeoutNow     uint8 = 3
	wireRequestPreVote uint8 = 4
)

// rawRaftStream is a Raft stream a test writes by hand, as a member that
// misbehaves would.
type rawRaftStream struct {
	conn net.Conn
	w    *bufio.Writer
	enc  *codec.Encoder
	dec  *codec.Decoder
}

func dialRaft(t *testing.T, from, to *consensustest.Node) *rawRaftStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := gostream.Dial(ctx, from.Host(), to.Peer(), federation.ProtocolID("raft", "1.0.0"))
	if err != nil {
		t.Fatalf("raft stream from %s to %s: %v", from.ID, to.ID, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	w := bufio.NewWriter(conn)
	mp := &codec.MsgpackHandle{}
	mp.TimeNotBuiltin = true
	return &rawRaftStream{conn: conn, w: w, enc: codec.NewEncoder(w, mp), dec: codec.NewDecoder(bufio.NewReader(conn), &codec.MsgpackHandle{})}
}

// call sends one RPC and returns the error string of the answer.
func (s *rawRaftStream) call(typ uint8, req, resp any) (string, error) {
	_ = s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := s.w.WriteByte(typ); err != nil {
		return "", err
	}
	if err := s.enc.Encode(req); err != nil {
		return "", err
	}
	if err := s.w.Flush(); err != nil {
		return "", err
	}
	var msg string
	if err := s.dec.Decode(&msg); err != nil {
		return "", fmt.Errorf("reading the answer's error: %w", err)
	}
	if err := s.dec.Decode(resp); err != nil {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return msg, nil
}

// closed reports whether the other side closed the stream.
func (s *rawRaftStream) closed() error {
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, err := s.conn.Read(b[:])
	var ne net.Error
	switch {
	case err == nil:
		return errors.New("the stream is still open: it sent more")
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errors.New("the stream is still open after 10s")
	}
	return nil
}

// TestRaftRPCNamingAnotherServerIsRefused: a member of the federation (a
// non-voter, authenticated by libp2p) sends Raft RPCs in the name of
// another server. Each is answered with an error that names both
// identities, its stream is closed, and the target's election state is
// untouched: its term does not move, no vote is granted, no election is
// started. An RPC that names its own sender truthfully goes through.
func TestRaftRPCNamingAnotherServerIsRefused(t *testing.T) {
	// Production timeouts: the target must not hold an election of its own
	// while the test looks at its term.
	c := newCluster(t, 3, 1, consensustest.Production)
	member := c.Node(3) // the non-voter 040
	// The RPCs go to target, a follower, in the name of the leader or of
	// voter, the other follower; roles picks them again as leadership
	// moves.
	var leader, target, voter *consensustest.Node
	roles := func() {
		leader, target, voter = c.WaitLeader(), nil, nil
		for _, n := range c.Nodes()[:3] {
			switch {
			case n == leader:
			case target == nil:
				target = n
			default:
				voter = n
			}
		}
	}
	roles()
	c.WaitConverged()
	self := member.Peer().String()
	header := func(id string, addr string) raft.RPCHeader {
		return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte(addr)}
	}
	const far = 1 << 40 // a log longer than anyone's, so a vote would be granted

	for _, tc := range []struct {
		name string
		typ  uint8
		// req builds the request for the target's current term.
		req  func(term uint64) any
		resp any
	}{
		{"vote request naming another voter", wireRequestVote, func(term uint64) any {
			return &raft.RequestVoteRequest{RPCHeader: header(voter.ID, self), Term: term + 100, Candidate: []byte(self),
				LastLogIndex: far, LastLogTerm: term + 100, LeadershipTransfer: true}
		}, &raft.RequestVoteResponse{}},
		{"vote request naming another voter at its address", wireRequestVote, func(term uint64) any {
			a := voter.Peer().String()
			return &raft.RequestVoteRequest{RPCHeader: header(voter.ID, a), Term: term + 100, Candidate: []byte(a),
				LastLogIndex: far, LastLogTerm: term + 100, LeadershipTransfer: true}
		}, &raft.RequestVoteResponse{}},
		{"vote request naming its own server at another voter's address", wireRequestVote, func(term uint64) any {
			a := voter.Peer().String()
			return &raft.RequestVoteRequest{RPCHeader: header(member.ID, a), Term: term + 100, Candidate: []byte(a),
				LastLogIndex: far, LastLogTerm: term + 100, LeadershipTransfer: true}
		}, &raft.RequestVoteResponse{}},
		{"vote request naming no server", wireRequestVote, func(term uint64) any {
			return &raft.RequestVoteRequest{RPCHeader: header("", self), Term: term + 100, Candidate: []byte(self),
				LastLogIndex: far, LastLogTerm: term + 100, LeadershipTransfer: true}
		}, &raft.RequestVoteResponse{}},
		{"pre-vote request naming another voter", wireRequestPreVote, func(term uint64) any {
			return &raft.RequestPreVoteRequest{RPCHeader: header(voter.ID, self), Term: term + 100, LastLogIndex: far, LastLogTerm: term + 100}
		}, &raft.RequestPreVoteResponse{}},
		{"heartbeat naming the leader", wireAppendEntries, func(term uint64) any {
			return &raft.AppendEntriesRequest{RPCHeader: header(leader.ID, self), Term: term + 100, Leader: []byte(self)}
		}, &raft.AppendEntriesResponse{}},
		{"leadership transfer naming the leader", wireTimeoutNow, func(uint64) any {
			return &raft.TimeoutNowRequest{RPCHeader: header(leader.ID, self)}
		}, &raft.TimeoutNowResponse{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A spurious election on a loaded machine also moves the term:
			// an attempt that saw one is repeated; the refused RPC's own
			// effect would show in every attempt.
			var lastErr error
			for attempt := 0; attempt < 3; attempt++ {
				if attempt > 0 {
					t.Logf("attempt %d: %v", attempt, lastErr)
				}
				roles()
				before := target.Replica().Status()
				s := dialRaft(t, member, target)
				msg, err := s.call(tc.typ, tc.req(before.Term), tc.resp)
				if err != nil {
					t.Fatalf("no answer to the RPC: %v", err)
				}
				if v, ok := tc.resp.(*raft.RequestVoteResponse); ok && v.Granted {
					t.Fatalf("vote granted (answer error %q)", msg)
				}
				if v, ok := tc.resp.(*raft.RequestPreVoteResponse); ok && v.Granted {
					t.Fatalf("pre-vote granted (answer error %q)", msg)
				}
				after := target.Replica().Status()
				if after.Term >= before.Term+100 {
					t.Fatalf("the target took the RPC's term: %d, was %d (answer error %q)", after.Term, before.Term, msg)
				}
				if !strings.Contains(msg, "stream is from peer "+self) {
					t.Fatalf("answer error %q: want a refusal naming the stream's peer %s", msg, self)
				}
				if err := s.closed(); err != nil {
					t.Fatalf("after a refused RPC: %v", err)
				}
				if after.Term == before.Term && after.State == "Follower" && after.LeaderID == before.LeaderID {
					return
				}
				lastErr = fmt.Errorf("target moved from term %d (%s, leader %s) to %d (%s, leader %s)",
					before.Term, before.State, before.LeaderID, after.Term, after.State, after.LeaderID)
			}
			t.Fatalf("the refused RPC changed the target's election state in 3 attempts; last: %v", lastErr)
		})
	}

	t.Run("an RPC naming its sender truthfully goes through", func(t *testing.T) {
		before := target.Replica().Status()
		s := dialRaft(t, member, target)
		var resp raft.RequestVoteResponse
		// The member's own term: no election is disturbed, and a non-voter
		// gets no vote anyway.
		msg, err := s.call(wireRequestVote, &raft.RequestVoteRequest{RPCHeader: header(member.ID, self), Term: before.Term, Candidate: []byte(self)}, &resp)
		if err != nil || msg != "" {
			t.Fatalf("truthful RPC: error %q, %v; want an answer from Raft", msg, err)
		}
		if resp.Granted {
			t.Fatal("a non-voter was granted a vote")
		}
		if resp.Term != before.Term && resp.Term != target.Replica().Status().Term {
			t.Fatalf("answer term %d, target at %d", resp.Term, before.Term)
		}
	})

	// The federation still works: a write commits everywhere.
	mustApply(t, member, put("after", "refusals"))
	c.WaitConverged()
	if v, _ := mustRead(t, target, consensus.Local, "after"); v != "refusals" {
		t.Fatalf("target has %q", v)
	}
}
