package consensus_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/fsenet/fsenet/consensus"
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
// partitioned and healed, then checks the history with porcupine.
func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault schedule takes ~15s")
	}
	c := newCluster(t, 5, 1)
	c.waitLeader()

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

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for client := 0; client < 8; client++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			for i := 0; ctx.Err() == nil; i++ {
				node := c.nodes[rng.IntN(len(c.nodes))].current()
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
					}
				}
				opcancel()
			}
		}()
	}

	time.Sleep(1500 * time.Millisecond)
	leader := c.waitLeader()
	c.kill(leader)
	time.Sleep(2 * time.Second)
	c.restart(leader)
	time.Sleep(1500 * time.Millisecond)
	minority := []*testNode{c.waitLeader(), c.followers()[0]}
	c.partition(minority)
	time.Sleep(2500 * time.Millisecond)
	c.heal()
	c.connectAll()
	time.Sleep(1500 * time.Millisecond)
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
	res, info := porcupine.CheckOperationsVerbose(kvModel, history, 60*time.Second)
	t.Logf("%d operations (%d acknowledged writes, %d strong reads): %s", len(history), completedWrites, reads, res)
	if res != porcupine.Ok {
		path := filepath.Join(os.TempDir(), "fsenet-linearizability.html")
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("visualisation: %s", path)
		}
		t.Fatalf("history is not linearizable (%s)", res)
	}
}
