package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

func TestClusterElectsAndReplicates(t *testing.T) {
	for _, size := range []struct{ voters, nonvoters int }{{3, 1}, {5, 2}} {
		t.Run(fmt.Sprintf("%dvoters+%dnonvoters", size.voters, size.nonvoters), func(t *testing.T) {
			c := newCluster(t, size.voters, size.nonvoters)
			leader := c.waitLeader()
			mustApply(t, leader, put("a", "1"))
			// Writes from any node, voter or not, reach the leader.
			for i, n := range c.nodes {
				mustApply(t, n, put(fmt.Sprintf("from-%s", n.id), fmt.Sprint(i)))
			}
			c.waitSame()
			for _, n := range c.nodes {
				for _, o := range c.nodes {
					if v, _ := mustRead(t, n, consensus.Local, "from-"+o.id); v == "" {
						t.Errorf("%s does not see the write from %s", n.id, o.id)
					}
				}
			}
			servers, err := leader.node.Servers()
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
	c := newCluster(t, 3, 0)
	f := c.followers()[0]
	res, err := f.node.Apply(context.Background(), consensus.Command{Type: "kv.fail", Payload: []byte("x")})
	if !errors.Is(err, consensus.ErrConflict) {
		t.Fatalf("err = %v, want a conflict domain error", err)
	}
	if res.Index == 0 {
		t.Fatal("a refused command still has the index of its entry")
	}
	c.waitSame()
	for _, n := range c.nodes {
		if v, _ := mustRead(t, n, consensus.Local, "x"); v != "" {
			t.Fatalf("%s holds %q written by a refused command", n.id, v)
		}
	}
	if _, err := f.node.Apply(context.Background(), consensus.Command{Type: "nope"}); !errors.Is(err, consensus.ErrInvalidCommand) {
		t.Fatalf("unknown type: err = %v, want ErrInvalidCommand", err)
	}
}

func TestIdempotencyKeyAppliesOnce(t *testing.T) {
	c := newCluster(t, 3, 0)
	f := c.followers()[0]
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
	if res := mustApply(t, c.waitLeader(), other); res.Duplicate {
		t.Fatalf("another member's command with the same key = %+v, want applied", res)
	}

	// Across a leader change: the key is part of the replicated state, so
	// the new leader recognises the retry too.
	c.kill(c.waitLeader())
	third := mustApply(t, f, cmd)
	if !third.Duplicate || third.Index != first.Index {
		t.Fatalf("retry after a leader change = %+v, want the first result (index %d)", third, first.Index)
	}
	if v, _ := mustRead(t, f, consensus.Strong, "counter"); v != "1" {
		t.Fatalf("counter = %q after a retry across a leader change, want 1", v)
	}
}

func TestLeaderKilledNoAcknowledgedWriteLost(t *testing.T) {
	c := newCluster(t, 3, 0)
	leader := c.waitLeader()
	var mu sync.Mutex
	acked := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				node := c.nodes[(w+i)%len(c.nodes)].current()
				if node == nil {
					continue
				}
				k, v := fmt.Sprintf("w%d-%d", w, i), fmt.Sprint(i)
				cmd := put(k, v)
				cmd.Key = k
				actx, acancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := node.Apply(actx, cmd)
				acancel()
				if err == nil {
					mu.Lock()
					acked[k] = v
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	c.kill(leader)
	newLeader := c.waitLeader()
	if newLeader == leader {
		t.Fatal("killed leader still leads")
	}
	time.Sleep(700 * time.Millisecond)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for _, n := range c.running() {
		for k, v := range acked {
			if got, _ := mustRead(t, n, consensus.Strong, k); got != v {
				t.Fatalf("%s: acknowledged write %s=%s reads %q", n.id, k, v, got)
			}
		}
	}
	c.restart(leader)
	c.waitSame()
}

func TestMinorityPartitionCannotCommit(t *testing.T) {
	c := newCluster(t, 5, 0)
	leader := c.waitLeader()
	mustApply(t, leader, put("before", "1"))
	// Put the leader and one follower in the minority.
	minority := []*testNode{leader, c.followers()[0]}
	c.partition(minority)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err := minority[1].node.Apply(ctx, put("minority", "x"))
	cancel()
	if err == nil {
		t.Fatal("a minority committed a write")
	}
	var majority []*testNode
	for _, n := range c.nodes {
		if n != minority[0] && n != minority[1] {
			majority = append(majority, n)
		}
	}
	poll(t, 20*time.Second, func() error {
		for _, n := range majority {
			if n.node.IsLeader() {
				return nil
			}
		}
		return errors.New("majority has no leader yet")
	})
	for i := 0; i < 20; i++ {
		mustApply(t, majority[i%len(majority)], put(fmt.Sprintf("majority-%d", i), "y"))
	}
	c.heal()
	c.connectAll()
	c.waitLeader()
	mustApply(t, minority[0], put("after", "1"))
	c.waitSame()
	for _, n := range c.nodes {
		if v, _ := mustRead(t, n, consensus.Local, "minority"); v != "" {
			t.Fatalf("%s holds the minority's uncommitted write", n.id)
		}
		if v, _ := mustRead(t, n, consensus.Local, "majority-19"); v != "y" {
			t.Fatalf("%s misses the majority's writes", n.id)
		}
	}
}

func TestNonvoterJoinsLateBySnapshot(t *testing.T) {
	c := newClusterWith(t, 3, 0, func(cfg *consensus.Config) { cfg.TrailingLogs = 10 })
	leader := c.waitLeader()
	for i := 0; i < 300; i++ {
		mustApply(t, leader, put(fmt.Sprintf("k%d", i), fmt.Sprint(i)))
	}
	// Snapshot and compact on every voter so the log no longer starts at 1.
	for _, n := range c.nodes {
		if err := n.node.Snapshot(); err != nil {
			t.Fatalf("snapshot on %s: %v", n.id, err)
		}
	}
	late := c.add("900")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader = c.waitLeaderAmong(c.nodes[:3])
	if err := leader.node.AddNonvoter(ctx, late.id, late.host.ID()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, leader, put("after-join", "1"))
	c.waitSame()
	if v, _ := mustRead(t, late, consensus.Local, "k299"); v != "299" {
		t.Fatalf("late non-voter reads k299 = %q", v)
	}
	if v, _ := mustRead(t, late, consensus.Strong, "after-join"); v != "1" {
		t.Fatalf("late non-voter strong read = %q", v)
	}
	if n := late.node.Status().SnapshotRestores; n != 1 {
		t.Fatalf("late non-voter restored %d snapshots, want exactly 1", n)
	}
}

func TestRestartResumesWithoutReapplying(t *testing.T) {
	c := newCluster(t, 3, 0)
	leader := c.waitLeader()
	for i := 0; i < 50; i++ {
		mustApply(t, leader, put(fmt.Sprintf("k%d", i), "v"))
	}
	idx, dig := c.waitSame()
	f := c.followers()[0]
	c.stop(f)
	c.restart(f)
	// Right after start, before any new entry, the replica already holds
	// the state and digest it had: nothing was re-applied or lost.
	st := f.node.Status()
	if st.AppliedIndex != idx || st.Digest != dig {
		t.Fatalf("after restart applied %d digest %x, want %d %x", st.AppliedIndex, st.Digest[:4], idx, dig[:4])
	}
	mustApply(t, f, put("after", "1"))
	c.waitSame()
}

func TestStrongReadSeesEarlierWrites(t *testing.T) {
	c := newCluster(t, 3, 1)
	leader := c.waitLeader()
	nonvoter := c.nodes[3]
	for i := 0; i < 20; i++ {
		mustApply(t, leader, put("x", fmt.Sprint(i)))
		if v, _ := mustRead(t, nonvoter, consensus.Strong, "x"); v != fmt.Sprint(i) {
			t.Fatalf("strong read on the non-voter after write %d = %q", i, v)
		}
	}
}

func TestGracefulLeaderShutdownTransfersLeadership(t *testing.T) {
	c := newCluster(t, 3, 0)
	leader := c.waitLeader()
	term := leader.node.Status().Term
	start := time.Now()
	c.stop(leader)
	next := c.waitLeader()
	if next == leader {
		t.Fatal("stopped node still leads")
	}
	if st := next.node.Status(); st.Term <= term {
		t.Fatalf("term did not advance: %d", st.Term)
	}
	t.Logf("leadership moved in %v", time.Since(start))
	mustApply(t, next, put("after", "1"))
}

func TestMembershipOperations(t *testing.T) {
	c := newCluster(t, 3, 1)
	leader := c.waitLeader()
	nv := c.nodes[3]
	ctx := context.Background()
	if err := c.followers()[0].node.AddVoter(ctx, nv.id, nv.host.ID()); !errors.Is(err, consensus.ErrNotLeader) {
		t.Fatalf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}
	if err := leader.node.AddVoter(ctx, nv.id, nv.host.ID()); err != nil {
		t.Fatalf("promote: %v", err)
	}
	assertVoter(t, leader, nv.id, true)
	if err := leader.node.DemoteVoter(ctx, nv.id); err != nil {
		t.Fatalf("demote: %v", err)
	}
	assertVoter(t, leader, nv.id, false)
	if err := leader.node.RemoveServer(ctx, nv.id); err != nil {
		t.Fatalf("remove: %v", err)
	}
	servers, _ := leader.node.Servers()
	for _, s := range servers {
		if s.ID == nv.id {
			t.Fatal("removed server still in configuration")
		}
	}
	c.stop(nv)
	if err := leader.node.TransferLeadership(ctx); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if c.waitLeader() == leader {
		t.Fatal("leadership did not move")
	}
}

func assertVoter(t *testing.T, n *testNode, id string, voter bool) {
	t.Helper()
	servers, err := n.node.Servers()
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
	c := newCluster(t, 3, 0)
	leader := c.waitLeader()
	from := c.followers()[0]
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
			_, err := federation.Call(ctx, from.host, leader.host.ID(), tc.proto, tc.req, opts)
			var re *federation.RemoteError
			if !errors.As(err, &re) || re.Code != tc.code {
				t.Fatalf("err = %v, want remote error %q", err, tc.code)
			}
		})
	}
	// Raw bytes that are not even a frame.
	s, err := from.host.NewStream(ctx, leader.host.ID(), "/fsenet/forward/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Write([]byte{0xff, 0xff, 0xff, 0xff, 0})
	_ = s.CloseWrite()
	_ = s.SetDeadline(time.Now().Add(3 * time.Second))
	_, _ = io.ReadAll(s)
	s.Close()

	// A well-formed forwarded batch still works, and the state is intact.
	resp, err := federation.Call(ctx, from.host, leader.host.ID(), "/fsenet/forward/1.0.0",
		consensus.EncodeBatch([]consensus.Command{put("ok", "1")}), opts)
	if err != nil || len(resp) == 0 {
		t.Fatalf("valid forward after garbage: %v", err)
	}
	mustApply(t, from, put("after", "1"))
	c.waitSame()
}

// A command's origin is the member that proposed it, whatever the command
// claims: set by Node.Apply, and by the leader from the authenticated
// stream of a forwarded batch.
func TestOriginIsTheProposingMember(t *testing.T) {
	c := newCluster(t, 3, 0)
	leader := c.waitLeader()
	from := c.followers()[0]
	forged := consensus.Command{Type: "kv.origin", Payload: []byte("via-apply"), Origin: "999"}
	if res := mustApply(t, from, forged); string(res.Value) != from.id {
		t.Fatalf("through a follower: origin %q, want %q", res.Value, from.id)
	}
	forged.Payload = []byte("on-leader")
	if res := mustApply(t, leader, forged); string(res.Value) != leader.id {
		t.Fatalf("on the leader: origin %q, want %q", res.Value, leader.id)
	}
	// A member speaking the forward protocol itself cannot claim another
	// region's name.
	opts := federation.DefaultRPCOptions()
	opts.Timeout = 3 * time.Second
	forged.Payload = []byte("raw-forward")
	if _, err := federation.Call(context.Background(), from.host, leader.host.ID(), "/fsenet/forward/1.0.0",
		consensus.EncodeBatch([]consensus.Command{forged}), opts); err != nil {
		t.Fatal(err)
	}
	c.waitSame()
	for key, want := range map[string]string{"via-apply": from.id, "on-leader": leader.id, "raw-forward": from.id} {
		if got, _ := mustRead(t, leader, consensus.Strong, key); got != want {
			t.Errorf("%s: origin %q, want %q", key, got, want)
		}
	}
}
