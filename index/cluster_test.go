package index

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index/indextest"
)

// On three voters: entries written through a follower are found on every
// replica; a merge is all-or-nothing on every replica under concurrent
// searches; a move of home region changes nothing in the index.
func TestIndexOnThreeReplicas(t *testing.T) {
	nodes := indextest.NewCluster(t, 3, func() indextest.Registrar { return New() })
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
	// Every write goes through a follower (forwarded to the leader).
	through(nodes[1])(PutPatient(patient(mario, "030")))
	through(nodes[2])(PutPatient(patient(teo, "030")))
	// Documents of region 030 are published by 030's node (nodes[2]), and
	// by no other region's.
	for i := 0; i < 30; i++ {
		through(nodes[2])(Publish(doc(fmt.Sprintf("t-%d", i), teo, "11502-2", "REF")))
	}
	through(nodes[2])(Publish(doc("m-0", mario, "11502-2", "REF")))
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
	waitFor := func(what string, ok func(n *consensus.Node) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for _, n := range nodes {
			for !ok(n) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not on every replica", what)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	waitFor("31 entries", func(n *consensus.Node) bool { return len(entries(n, teo)) == 30 && len(entries(n, mario)) == 1 })

	// Moving Teo to Puglia is one registry update: every replica's index
	// is the same as before.
	before := entries(nodes[0], teo)
	moved := patient(teo, "160")
	through(nodes[2])(PutPatient(moved))
	waitFor("the move", func(n *consensus.Node) bool {
		var p Patient
		_, _ = n.Read(ctx, consensus.Local, func(rd Reader) error { p, _, _ = GetPatient(rd, teo); return nil })
		return p.HomeRegion == "160"
	})
	for i, n := range nodes {
		if got := entries(n, teo); !slices.Equal(got, before) {
			t.Fatalf("replica %d: the move changed the index:\n%v\n%v", i, before, got)
		}
	}

	// Searches on every replica while the merge is applied.
	stop := make(chan struct{})
	type seen struct {
		replica int
		counts  [2]int
	}
	out := make(chan seen, 1<<16)
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
				if err != nil {
					t.Error(err)
					return
				}
				select {
				case out <- seen{i, c}:
				default:
				}
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)
	through(nodes[1])(Merge(MergeRequest{Survivor: mario, Merged: teo}))
	waitFor("the merge", func(n *consensus.Node) bool { return len(entries(n, mario)) == 31 })
	time.Sleep(30 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(out)
	var beforeN, afterN [3]int
	for s := range out {
		switch s.counts {
		case [2]int{1, 30}:
			beforeN[s.replica]++
		case [2]int{31, 0}:
			afterN[s.replica]++
		default:
			t.Fatalf("replica %d: a search saw a partial merge: survivor %d, merged %d", s.replica, s.counts[0], s.counts[1])
		}
	}
	for i := range nodes {
		if beforeN[i] == 0 || afterN[i] == 0 {
			t.Fatalf("replica %d: the searches did not straddle the merge (%d before, %d after)", i, beforeN[i], afterN[i])
		}
	}
	// The replicas agree on the whole state at the same index.
	st := nodes[0].Status()
	for i, n := range nodes[1:] {
		if err := n.WaitApplied(ctx, st.AppliedIndex); err != nil {
			t.Fatal(err)
		}
		if d, ok := n.DigestAt(st.AppliedIndex); !ok || d != st.Digest {
			t.Fatalf("replica %d: state digest at index %d differs from the leader's", i+1, st.AppliedIndex)
		}
	}
}

// Time ranges seek to their first key: a region's versions and a
// patient's, bounded both ways.
func TestTimeRanges(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		d := doc(fmt.Sprintf("day-%d", i), mario, "11502-2", "REF")
		d.Created = t0.Add(time.Duration(i) * 24 * time.Hour)
		r.must(Publish(d))
	}
	rg := Range{From: t0.Add(3 * 24 * time.Hour), To: t0.Add(6 * 24 * time.Hour)} // days 3, 4, 5
	tests := []struct {
		name string
		scan func(Reader, func(Entry) bool) error
	}{
		{"custodian", func(rd Reader, fn func(Entry) bool) error { return ByCustodian(rd, "030", rg, fn) }},
		{"patient", func(rd Reader, fn func(Entry) bool) error { return ByPatient(rd, mario, rg, nil, fn) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			r.read(func(rd Reader) error {
				return tt.scan(rd, func(e Entry) bool { got = append(got, e.ID); return true })
			})
			want := []string{DocumentID("030", "day-3"), DocumentID("030", "day-4"), DocumentID("030", "day-5")}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
