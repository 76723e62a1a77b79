package consensus_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

type kvInput struct {
	write bool
	key   string
	value string
}

type kvOutput struct {
	value string
}

// kvModel is a register per key; reads return the last written value.
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(kvInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(kvOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, output.(kvOutput).value)
	},
}

// TestLinearizableUnderFaults records concurrent writes and strong reads
// from every node while the leader is killed and restarted and a minority is
// partitioned and healed, then checks the history with porcupine. Each
// phase of the fault schedule lasts until the clients have made progress in
// it, not for a fixed time.
func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault schedule takes ~10s")
	}
	c := newCluster(t, 5, 1, nil)
	c.WaitLeader()
	nodes := c.Nodes()

	var mu sync.Mutex
	var history []porcupine.Operation
	record := func(op porcupine.Operation) {
		mu.Lock()
		history = append(history, op)
		mu.Unlock()
	}
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	keys := []string{"x", "y", "z"}
	// completed and failed count the clients' operations that returned,
	// with an answer or with an error.
	var completed, failed atomic.Int64

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for client := 0; client < 8; client++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			for i := 0; ctx.Err() == nil; i++ {
				node := nodes[rng.IntN(len(nodes))].Replica()
				if node == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				key := keys[rng.IntN(len(keys))]
				opctx, opcancel := context.WithTimeout(ctx, 3*time.Second)
				if rng.IntN(2) == 0 {
					val := fmt.Sprintf("c%d-%d", client, i)
					cmd := put(key, val)
					cmd.Key = val
					call := now()
					_, err := node.Apply(opctx, cmd)
					ret := now()
					if err != nil {
						// Unknown outcome: it may take effect at any
						// time after the call.
						ret = math.MaxInt64
						failed.Add(1)
					} else {
						completed.Add(1)
					}
					record(porcupine.Operation{ClientId: client, Input: kvInput{write: true, key: key, value: val}, Call: call, Output: kvOutput{}, Return: ret})
				} else {
					var got string
					call := now()
					_, err := node.Read(opctx, consensus.Strong, func(r consensus.Reader) (err error) {
						got, err = readKey(r, key)
						return err
					})
					ret := now()
					if err == nil {
						record(porcupine.Operation{ClientId: client, Input: kvInput{key: key}, Call: call, Output: kvOutput{value: got}, Return: ret})
						completed.Add(1)
					} else {
						failed.Add(1)
					}
				}
				opcancel()
			}
		}()
	}

	// progress waits until the clients have completed ops more
	// operations, and, if failures is set, seen one more fail.
	progress := func(ops int64, failures bool, phase string) {
		t.Helper()
		ok0, failed0, t0 := completed.Load(), failed.Load(), time.Now()
		consensustest.Eventually(t, 30*time.Second, func() bool {
			return completed.Load() >= ok0+ops && (!failures || failed.Load() > failed0)
		}, "progress %s (%d operations completed, %d failed so far)", phase, ok0, failed0)
		t.Logf("%s: %d operations completed, %d failed in %v", phase, completed.Load()-ok0, failed.Load()-failed0, time.Since(t0).Round(time.Millisecond))
	}
	progress(100, false, "before any fault")
	leader := c.WaitLeader()
	c.Kill(leader)
	c.WaitLeader()
	progress(100, false, "with the leader killed")
	c.Restart(leader)
	// The restarted node catches up with what was committed when it came
	// back.
	target := c.WaitLeader().Replica().Status().CommitIndex
	consensustest.Eventually(t, 30*time.Second, func() bool { return leader.Replica().Status().AppliedIndex >= target },
		"the restarted node to apply index %d", target)
	progress(100, false, "after the restart")
	minority := []*consensustest.Node{c.WaitLeader(), c.Followers()[0]}
	c.Partition(minority...)
	// The majority goes on while operations on the minority fail.
	progress(30, true, "with a minority partitioned")
	c.Heal()
	c.WaitLeader()
	progress(100, false, "after the partition healed")
	cancel()
	wg.Wait()

	completedWrites, reads := 0, 0
	for _, op := range history {
		if op.Input.(kvInput).write && op.Return != math.MaxInt64 {
			completedWrites++
		} else if !op.Input.(kvInput).write {
			reads++
		}
	}
	if completedWrites < 20 || reads < 20 {
		t.Fatalf("history too thin to mean anything: %d writes, %d reads", completedWrites, reads)
	}
	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(kvModel, history, 60*time.Second)
	t.Logf("%d operations (%d acknowledged writes, %d strong reads): %s, checked in %v", len(history), completedWrites, reads, res, time.Since(checkStart).Round(time.Millisecond))
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), "fsenet-linearizability.html")
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("visualisation: %s", path)
		}
		t.Fatalf("history is not linearizable (%s)", res)
	}
}
