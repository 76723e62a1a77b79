package index

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// On three voters: entries written through a follower are found on every
// replica; a merge is all-or-nothing on every replica under concurrent
// searches; a move of home region changes nothing in the index.
func TestIndexOnThreeReplicas(t *testing.T) {
	c := consensustest.NewCluster(t, consensustest.Options{
		Voters:   3,
		Config:   consensustest.Production,
		Machines: []func() consensustest.Registrar{func() consensustest.Registrar { return New() }},
	})
	// Regions 010, 020 and 030, in that order.
	var nodes []*consensus.Node
	for _, n := range c.Nodes() {
		nodes = append(nodes, n.Replica())
	}
	lom := nodes[2]
	follower := c.Followers()[0].Replica()
	ctx := context.Background()
	through := func(n *consensus.Node) func(consensus.Command, error) {
		return func(cmd consensus.Command, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := n.Apply(ctx, cmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The registry is written through a follower (forwarded to the leader).
	through(follower)(PutPatient(patient(mario, "030")))
	through(follower)(PutPatient(patient(teo, "030")))
	// Documents of region 030 are published by 030's node, and by no other
	// region's.
	for i := 0; i < 30; i++ {
		through(lom)(Publish(doc(fmt.Sprintf("t-%d", i), teo, "11502-2", "REF")))
	}
	through(lom)(Publish(doc("m-0", mario, "11502-2", "REF")))
	if cmd, err := Publish(doc("forged", mario, "11502-2", "REF")); err != nil {
		t.Fatal(err)
	} else if _, err := nodes[1].Apply(ctx, cmd); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("region 020 publishing a document of region 030: %v, want forbidden", err)
	}
	if cmd, err := Withdraw(DocumentID("030", "m-0")); err != nil {
		t.Fatal(err)
	} else if _, err := nodes[0].Apply(ctx, cmd); !errors.Is(err, consensus.ErrForbidden) {
		t.Fatalf("region 010 withdrawing a document of region 030: %v, want forbidden", err)
	}

	// entries reads a patient's entry ids on one replica, at its own pace.
	entries := func(n *consensus.Node, pid string) []string {
		var ids []string
		if _, err := n.Read(ctx, consensus.Local, func(rd Reader) error {
			es, err := PatientEntries(rd, pid)
			for _, e := range es {
				ids = append(ids, e.ID+"|"+e.Patient+"|"+e.Custodian+"|"+e.Status)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// everywhere is a condition that holds when ok holds on every replica.
	everywhere := func(ok func(n *consensus.Node) bool) func() bool {
		return func() bool {
			for _, n := range nodes {
				if !ok(n) {
					return false
				}
			}
			return true
		}
	}
	consensustest.Eventually(t, 15*time.Second, everywhere(func(n *consensus.Node) bool {
		return len(entries(n, teo)) == 30 && len(entries(n, mario)) == 1
	}), "31 entries on every replica")

	// Moving Teo to Puglia is one registry update: every replica's index
	// is the same as before.
	before := entries(nodes[0], teo)
	moved := patient(teo, "160")
	through(lom)(PutPatient(moved))
	consensustest.Eventually(t, 15*time.Second, everywhere(func(n *consensus.Node) bool {
		var p Patient
		_, _ = n.Read(ctx, consensus.Local, func(rd Reader) error { p, _, _ = GetPatient(rd, teo); return nil })
		return p.HomeRegion == "160"
	}), "the move on every replica")
	for i, n := range nodes {
		if got := entries(n, teo); !slices.Equal(got, before) {
			t.Fatalf("replica %d: the move changed the index:\n%v\n%v", i, before, got)
		}
	}

	// Searches on every replica while the merge is applied: each replica's
	// searches are seen before the merge, then after it, and never half
	// of it.
	stop := make(chan struct{})
	var beforeN, afterN [3]atomic.Int64
	var mu sync.Mutex
	var problem error // the first partial merge or failed search
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return problem != nil
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var c [2]int
				_, err := n.Read(ctx, consensus.Local, func(rd Reader) error {
					a, err := PatientEntries(rd, mario)
					if err != nil {
						return err
					}
					b, err := PatientEntries(rd, teo)
					c = [2]int{len(a), len(b)}
					return err
				})
				switch {
				case err == nil && c == [2]int{1, 30}:
					beforeN[i].Add(1)
					continue
				case err == nil && c == [2]int{31, 0}:
					afterN[i].Add(1)
					continue
				case err == nil:
					err = fmt.Errorf("replica %d: a search saw a partial merge: survivor %d, merged %d", i, c[0], c[1])
				}
				mu.Lock()
				if problem == nil {
					problem = err
				}
				mu.Unlock()
				return
			}
		}()
	}
	seenOnEvery := func(counts *[3]atomic.Int64) func() bool {
		return func() bool {
			for i := range counts {
				if counts[i].Load() == 0 && !failed() {
					return false
				}
			}
			return true
		}
	}
	consensustest.Eventually(t, 15*time.Second, seenOnEvery(&beforeN), "searches on every replica before the merge")
	through(follower)(Merge(MergeRequest{Survivor: mario, Merged: teo}))
	consensustest.Eventually(t, 15*time.Second, seenOnEvery(&afterN), "searches on every replica after the merge")
	close(stop)
	wg.Wait()
	if problem != nil {
		t.Fatal(problem)
	}
	// The replicas agree on the whole state at the same index.
	st := nodes[0].Status()
	for i, n := range nodes[1:] {
		if err := n.WaitApplied(ctx, st.AppliedIndex); err != nil {
			t.Fatal(err)
		}
		if d, ok := n.DigestAt(st.AppliedIndex); !ok || d != st.Digest {
			t.Fatalf("replica %d: state digest at index %d differs from the first replica's", i+1, st.AppliedIndex)
		}
	}
}
