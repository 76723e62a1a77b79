package consensus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// kvHandler is a test state machine: "kv.put" sets key=value and returns
// the previous value; "kv.fail" always refuses after writing (the write must
// be discarded).
type kvHandler struct{}

func (kvHandler) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	switch cmd.Type {
	case "kv.put":
		k, v, ok := strings.Cut(string(cmd.Payload), "=")
		if !ok {
			return nil, consensus.Errorf(consensus.CodeInvalid, "want key=value")
		}
		prev, _, err := tx.Get([]byte("kv/" + k))
		if err != nil {
			return nil, err
		}
		tx.Set([]byte("kv/"+k), []byte(v))
		return prev, nil
	case "kv.nop":
		return nil, nil
	case "kv.origin": // records who proposed it under the payload's name
		tx.Set([]byte("kv/"+string(cmd.Payload)), []byte(tx.Origin()))
		return []byte(tx.Origin()), nil
	case "kv.fail":
		tx.Set([]byte("kv/"+string(cmd.Payload)), []byte("must-not-exist"))
		return nil, consensus.Errorf(consensus.CodeConflict, "refused")
	}
	return nil, consensus.Errorf(consensus.CodeInvalid, "unknown")
}

// Register routes the kv command types to the handler.
func (h kvHandler) Register(r interface {
	Register(typ string, h consensus.Handler) error
}) error {
	for _, typ := range []string{"kv.put", "kv.fail", "kv.nop", "kv.origin"} {
		if err := r.Register(typ, h); err != nil {
			return err
		}
	}
	return nil
}

func kv() consensustest.Registrar { return kvHandler{} }

// newCluster starts voters voting members and nonvoters non-voting ones
// running kvHandler, bootstraps the voters and waits for a leader; tune,
// if not nil, adjusts each node's configuration.
func newCluster(t testing.TB, voters, nonvoters int, tune func(*consensus.Config)) *consensustest.Cluster {
	t.Helper()
	return consensustest.NewCluster(t, consensustest.Options{
		Voters: voters, Nonvoters: nonvoters, Config: tune,
		Machines: []func() consensustest.Registrar{kv},
	})
}

func put(k, v string) consensus.Command {
	return consensus.Command{Type: "kv.put", Payload: []byte(k + "=" + v)}
}

func readKey(r consensus.Reader, k string) (string, error) {
	v, ok, err := r.Get([]byte("kv/" + k))
	if err != nil || !ok {
		return "", err
	}
	return string(v), nil
}

// mustApply applies cmd through n as a client of the replica must: with
// an idempotency key (its own, when cmd has none), retrying while there
// is no leader or leadership was lost before the outcome was known (on
// a loaded machine an election can come at any time); the key makes the
// command apply once however often it is sent. Any other error fails t.
func mustApply(t testing.TB, n *consensustest.Node, cmd consensus.Command) consensus.Result {
	t.Helper()
	if cmd.Key == "" {
		cmd.Key = fmt.Sprintf("test-%d", applyKeys.Add(1))
	}
	var res consensus.Result
	consensustest.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := n.Replica().Apply(ctx, cmd)
		switch {
		case errors.Is(err, consensus.ErrNotLeader), errors.Is(err, consensus.ErrUncertain):
			return err
		case err != nil:
			t.Fatalf("apply %s on %s: %v", cmd.Type, n.ID, err)
		}
		res = r
		return nil
	}, "apply %s on %s", cmd.Type, n.ID)
	return res
}

// applyKeys numbers the idempotency keys mustApply gives commands.
var applyKeys atomic.Uint64

func mustRead(t testing.TB, n *consensustest.Node, c consensus.Consistency, key string) (string, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var v string
	idx, err := n.Replica().Read(ctx, c, func(r consensus.Reader) (err error) {
		v, err = readKey(r, key)
		return err
	})
	if err != nil {
		t.Fatalf("read %s on %s: %v", key, n.ID, err)
	}
	return v, idx
}
