package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

func TestClusterElectsAndReplicates(t *testing.T) {
	for _, size := range []struct{ voters, nonvoters int }{{3, 1}, {5, 2}} {
		t.Run(fmt.Sprintf("%dvoters+%dnonvoters", size.voters, size.nonvoters), func(t *testing.T) {
			c := newCluster(t, size.voters, size.nonvoters, nil)
			leader := c.WaitLeader()
			mustApply(t, leader, put("a", "1"))
			// Writes from any node, voter or not, reach the leader.
			for i, n := range c.Nodes() {
				mustApply(t, n, put(fmt.Sprintf("from-%s", n.ID), fmt.Sprint(i)))
			}
			c.WaitConverged()
			for _, n := range c.Nodes() {
				for _, o := range c.Nodes() {
					if v, _ := mustRead(t, n, consensus.Local, "from-"+o.ID); v == "" {
						t.Errorf("%s does not see the write from %s", n.ID, o.ID)
					}
				}
			}
			servers, err := leader.Replica().Servers()
			if err != nil {
				t.Fatal(err)
			}
			voters := 0
			for _, s := range servers {
				if s.Voter {
					voters++
				}
			}
			if voters != size.voters || len(servers) != size.voters+size.nonvoters {
				t.Fatalf("configuration has %d servers, %d voters; want %d and %d", len(servers), voters, size.voters+size.nonvoters, size.voters)
			}
		})
	}
}

func TestDomainErrorDiscardsWritesAndTravelsBack(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	f := c.Followers()[0]
	res, err := f.Replica().Apply(context.Background(), consensus.Command{Type: "kv.fail", Payload: []byte("x")})
	if !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("err = %v, want a conflict domain error", err)
	}
	if res.Index == 0 {
		t.Fatal("a refused command still has the index of its entry")
	}
	c.WaitConverged()
	for _, n := range c.Nodes() {
		if v, _ := mustRead(t, n, consensus.Local, "x"); v != "" {
			t.Fatalf("%s holds %q written by a refused command", n.ID, v)
		}
	}
	if _, err := f.Replica().Apply(context.Background(), consensus.Command{Type: "nope"}); !errors.Is(err, consensus.ErrInvalidCommand) {
		t.Fatalf("unknown type: err = %v, want ErrInvalidCommand", err)
	}
}

func TestIdempotencyKeyAppliesOnce(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	f := c.Followers()[0]
	cmd := put("counter", "1")
	cmd.Key = "req-42"
	first := mustApply(t, f, cmd)
	if first.Duplicate {
		t.Fatal("first application marked duplicate")
	}
	cmd.Payload = []byte("counter=2") // a retry must not apply, whatever it carries
	second := mustApply(t, f, cmd)
	if !second.Duplicate || second.Index != first.Index {
		t.Fatalf("retry = %+v, want the first result (index %d) marked duplicate", second, first.Index)
	}
	if v, _ := mustRead(t, f, consensus.Strong, "counter"); v != "1" {
		t.Fatalf("counter = %q after a retried command, want 1", v)
	}

	// Keys are scoped by the proposing member: the same key from the
	// leader is another command.
	other := put("other", "1")
	other.Key = cmd.Key
	if res := mustApply(t, c.WaitLeader(), other); res.Duplicate {
		t.Fatalf("another member's command with the same key = %+v, want applied", res)
	}

	// Across a leader change: the key is part of the replicated state, so
	// the new leader recognises the retry too.
	c.Kill(c.WaitLeader())
	third := mustApply(t, f, cmd)
	if !third.Duplicate || third.Index != first.Index {
		t.Fatalf("retry after a leader change = %+v, want the first result (index %d)", third, first.Index)
	}
	if v, _ := mustRead(t, f, consensus.Strong, "counter"); v != "1" {
		t.Fatalf("counter = %q after a retry across a leader change, want 1", v)
	}
}

func TestLeaderKilledNoAcknowledgedWriteLost(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	var mu sync.Mutex
	acked := map[string]string{}
	// ackedIn counts acknowledged writes by phase: started before the
	// leader was killed (0), or after (1).
	var phase atomic.Int32
	var ackedIn [2]atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				node := c.Node((w + i) % len(c.Nodes())).Replica()
				if node == nil {
					continue
				}
				k, v := fmt.Sprintf("w%d-%d", w, i), fmt.Sprint(i)
				cmd := put(k, v)
				cmd.Key = k
				p := phase.Load()
				actx, acancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := node.Apply(actx, cmd)
				acancel()
				if err == nil {
					mu.Lock()
					acked[k] = v
					mu.Unlock()
					ackedIn[p].Add(1)
				}
			}
		}()
	}
	consensustest.Eventually(t, 20*time.Second, func() bool { return ackedIn[0].Load() >= 20 }, "writes acknowledged before the kill")
	phase.Store(1)
	c.Kill(leader)
	newLeader := c.WaitLeader()
	if newLeader == leader {
		t.Fatal("killed leader still leads")
	}
	consensustest.Eventually(t, 20*time.Second, func() bool { return ackedIn[1].Load() >= 20 }, "writes acknowledged after the kill")
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, n := range c.Running() {
		for k, v := range acked {
			if got, _ := mustRead(t, n, consensus.Strong, k); got != v {
				t.Fatalf("%s: acknowledged write %s=%s reads %q", n.ID, k, v, got)
			}
		}
	}
	c.Restart(leader)
	c.WaitConverged()
}

func TestMinorityPartitionCannotCommit(t *testing.T) {
	c := newCluster(t, 5, 0, nil)
	leader := c.WaitLeader()
	mustApply(t, leader, put("before", "1"))
	// Put the leader and one follower in the minority.
	minority := []*consensustest.Node{leader, c.Followers()[0]}
	c.Partition(minority...)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := minority[1].Replica().Apply(ctx, put("minority", "x"))
	cancel()
	if err == nil {
		t.Fatal("a minority committed a write")
	}
	var majority []*consensustest.Node
	for _, n := range c.Nodes() {
		if n != minority[0] && n != minority[1] {
			majority = append(majority, n)
		}
	}
	consensustest.Eventually(t, 20*time.Second, func() bool {
		for _, n := range majority {
			if n.Replica().IsLeader() {
				return true
			}
		}
		return false
	}, "a leader in the majority")
	for i := 0; i < 20; i++ {
		mustApply(t, majority[i%len(majority)], put(fmt.Sprintf("majority-%d", i), "y"))
	}
	c.Heal()
	c.WaitLeader()
	mustApply(t, minority[0], put("after", "1"))
	c.WaitConverged()
	for _, n := range c.Nodes() {
		if v, _ := mustRead(t, n, consensus.Local, "minority"); v != "" {
			t.Fatalf("%s holds the minority's uncommitted write", n.ID)
		}
		if v, _ := mustRead(t, n, consensus.Local, "majority-19"); v != "y" {
			t.Fatalf("%s misses the majority's writes", n.ID)
		}
	}
}

func TestNonvoterJoinsLateBySnapshot(t *testing.T) {
	c := newCluster(t, 3, 0, func(cfg *consensus.Config) { cfg.TrailingLogs = 10 })
	leader := c.WaitLeader()
	for i := 0; i < 300; i++ {
		mustApply(t, leader, put(fmt.Sprintf("k%d", i), fmt.Sprint(i)))
	}
	// Snapshot and compact on every voter so the log no longer starts at 1.
	for _, n := range c.Nodes() {
		if err := n.Replica().Snapshot(); err != nil {
			t.Fatalf("snapshot on %s: %v", n.ID, err)
		}
	}
	late := c.Add("900")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader = c.WaitLeader(c.Nodes()[:3]...)
	if err := leader.Replica().AddNonvoter(ctx, late.ID, late.Peer()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, leader, put("after-join", "1"))
	c.WaitConverged()
	if v, _ := mustRead(t, late, consensus.Local, "k299"); v != "299" {
		t.Fatalf("late non-voter reads k299 = %q", v)
	}
	if v, _ := mustRead(t, late, consensus.Strong, "after-join"); v != "1" {
		t.Fatalf("late non-voter strong read = %q", v)
	}
	if n := late.Replica().Status().SnapshotRestores; n != 1 {
		t.Fatalf("late non-voter restored %d snapshots, want exactly 1", n)
	}
}

func TestRestartResumesWithoutReapplying(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	for i := 0; i < 50; i++ {
		mustApply(t, leader, put(fmt.Sprintf("k%d", i), "v"))
	}
	idx, dig := c.WaitConverged()
	f := c.Followers()[0]
	c.Restart(f) // stopped cleanly, then started again
	// Right after start, before any new entry, the replica already holds
	// the state and digest it had: nothing was re-applied or lost.
	st := f.Replica().Status()
	if st.AppliedIndex != idx || st.Digest != dig {
		t.Fatalf("after restart applied %d digest %x, want %d %x", st.AppliedIndex, st.Digest[:4], idx, dig[:4])
	}
	mustApply(t, f, put("after", "1"))
	c.WaitConverged()
}

func TestStrongReadSeesEarlierWrites(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	leader := c.WaitLeader()
	nonvoter := c.Nodes()[3]
	for i := 0; i < 20; i++ {
		mustApply(t, leader, put("x", fmt.Sprint(i)))
		if v, _ := mustRead(t, nonvoter, consensus.Strong, "x"); v != fmt.Sprint(i) {
			t.Fatalf("strong read on the non-voter after write %d = %q", i, v)
		}
	}
}

func TestGracefulLeaderShutdownTransfersLeadership(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	term := leader.Replica().Status().Term
	start := time.Now()
	c.Stop(leader)
	next := c.WaitLeader()
	if next == leader {
		t.Fatal("stopped node still leads")
	}
	if st := next.Replica().Status(); st.Term <= term {
		t.Fatalf("term did not advance: %d", st.Term)
	}
	t.Logf("leadership moved in %v", time.Since(start))
	mustApply(t, next, put("after", "1"))
}

func TestMembershipOperations(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	leader := c.WaitLeader()
	nv := c.Nodes()[3]
	ctx := context.Background()
	if err := c.Followers()[0].Replica().AddVoter(ctx, nv.ID, nv.Peer()); !errors.Is(err, consensus.ErrNotLeader) {
		t.Fatalf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}
	if err := leader.Replica().AddVoter(ctx, nv.ID, nv.Peer()); err != nil {
		t.Fatalf("promote: %v", err)
	}
	assertVoter(t, leader, nv.ID, true)
	if err := leader.Replica().DemoteVoter(ctx, nv.ID); err != nil {
		t.Fatalf("demote: %v", err)
	}
	assertVoter(t, leader, nv.ID, false)
	if err := leader.Replica().RemoveServer(ctx, nv.ID); err != nil {
		t.Fatalf("remove: %v", err)
	}
	servers, _ := leader.Replica().Servers()
	for _, s := range servers {
		if s.ID == nv.ID {
			t.Fatal("removed server still in configuration")
		}
	}
	c.Stop(nv)
	if err := leader.Replica().TransferLeadership(ctx); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if c.WaitLeader() == leader {
		t.Fatal("leadership did not move")
	}
}

func assertVoter(t *testing.T, n *consensustest.Node, id string, voter bool) {
	t.Helper()
	servers, err := n.Replica().Servers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if s.ID == id {
			if s.Voter != voter {
				t.Fatalf("%s voter = %v, want %v", id, s.Voter, voter)
			}
			return
		}
	}
	t.Fatalf("%s not in configuration", id)
}

// Garbage on the node-to-node protocols gets a clean error answer and the
// node keeps serving.
func TestPeerProtocolsSurviveGarbage(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	from := c.Followers()[0]
	opts := federation.DefaultRPCOptions()
	opts.Timeout = 3 * time.Second
	ctx := context.Background()
	cases := []struct {
		name  string
		proto protocol.ID
		req   []byte
		code  string
	}{
		{"forward garbage", "/fsenet/forward/1.0.0", []byte("garbage"), "invalid_command"},
		{"forward empty", "/fsenet/forward/1.0.0", nil, "invalid_command"},
		{"forward unknown type", "/fsenet/forward/1.0.0", consensus.EncodeBatch([]consensus.Command{{Type: "from.the.future"}}), "invalid_command"},
		{"readindex with body", "/fsenet/readindex/1.0.0", []byte{1, 2, 3}, federation.CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := federation.Call(ctx, from.Host(), leader.Peer(), tc.proto, tc.req, opts)
			var re *federation.RemoteError
			if !errors.As(err, &re) || re.Code != tc.code {
				t.Fatalf("err = %v, want remote error %q", err, tc.code)
			}
		})
	}
	// Raw bytes that are not even a frame.
	s, err := from.Host().NewStream(ctx, leader.Peer(), "/fsenet/forward/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte{0xff, 0xff, 0xff, 0xff, 0})
	_ = s.CloseWrite()
	_ = s.SetDeadline(time.Now().Add(3 * time.Second))
	_, _ = io.ReadAll(s)
	s.Close()

	// A well-formed forwarded batch still works, and the state is intact.
	resp, err := federation.Call(ctx, from.Host(), leader.Peer(), "/fsenet/forward/1.0.0",
		consensus.EncodeBatch([]consensus.Command{put("ok", "1")}), opts)
	if err != nil || len(resp) == 0 {
		t.Fatalf("valid forward after garbage: %v", err)
	}
	mustApply(t, from, put("after", "1"))
	c.WaitConverged()
}

// A command's origin is the member that proposed it, whatever the command
// claims: set by Node.Apply, and by the leader from the authenticated
// stream of a forwarded batch.
func TestOriginIsTheProposingMember(t *testing.T) {
	c := newCluster(t, 3, 0, nil)
	leader := c.WaitLeader()
	from := c.Followers()[0]
	forged := consensus.Command{Type: "kv.origin", Payload: []byte("via-apply"), Origin: "999"}
	if res := mustApply(t, from, forged); string(res.Value) != from.ID {
		t.Fatalf("through a follower: origin %q, want %q", res.Value, from.ID)
	}
	forged.Payload = []byte("on-leader")
	if res := mustApply(t, leader, forged); string(res.Value) != leader.ID {
		t.Fatalf("on the leader: origin %q, want %q", res.Value, leader.ID)
	}
	// A member speaking the forward protocol itself cannot claim another
	// region's name.
	opts := federation.DefaultRPCOptions()
	opts.Timeout = 3 * time.Second
	forged.Payload = []byte("raw-forward")
	if _, err := federation.Call(context.Background(), from.Host(), leader.Peer(), "/fsenet/forward/1.0.0",
		consensus.EncodeBatch([]consensus.Command{forged}), opts); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	for key, want := range map[string]string{"via-apply": from.ID, "on-leader": leader.ID, "raw-forward": from.ID} {
		if got, _ := mustRead(t, leader, consensus.Strong, key); got != want {
			t.Errorf("%s: origin %q, want %q", key, got, want)
		}
	}
}
