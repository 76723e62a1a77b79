package repository

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/repository/store"
)

// An operation whose attempt failed is retried after Retry by the worker
// itself: nothing kicks it again.
func TestOutboxRetriesWithoutAKick(t *testing.T) {
	e := newOutboxEnv(t)
	var down atomic.Bool
	var attempts atomic.Int32
	down.Store(true)
	flaky := func(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
		attempts.Add(1)
		if down.Load() {
			return consensus.Result{}, consensus.ErrNoLeader
		}
		return e.apply(ctx, cmd)
	}
	op := e.submit("unkicked", mario)
	e.start(flaky) // reads what the outbox holds at start, then is never kicked
	consensustest.Eventually(t, 10*time.Second, func() error {
		if n := attempts.Load(); n < 3 {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	}, "attempts repeated while the federation is down")
	down.Store(false)
	consensustest.Eventually(t, 10*time.Second, func() error {
		w, err := e.store.Workflow(op.Workflow, op.Operation)
		if err != nil || w.Status != store.WorkflowSuccess {
			return fmt.Errorf("workflow %s, %v", w.Status, err)
		}
		return nil
	}, "the operation committed once the federation answers")
}

// dispatch tells the loop whether it must read the outbox again after
// Retry: only while an operation pauses after a failure. An outbox with
// nothing to retry is left asleep until kicked.
func TestOutboxDispatchAsksForATimerOnlyForRetries(t *testing.T) {
	e := newOutboxEnv(t)
	var down atomic.Bool
	down.Store(true)
	o, err := NewOutbox(OutboxConfig{Store: e.store, Lookup: e.lookup, InFlight: 8, Timeout: 5 * time.Second, Retry: time.Hour,
		Apply: func(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
			if down.Load() {
				return consensus.Result{}, consensus.ErrNoLeader
			}
			return e.apply(ctx, cmd)
		}})
	if err != nil {
		t.Fatal(err)
	}
	// Not started: the test drives dispatch itself.
	if o.dispatch() {
		t.Fatal("an empty outbox asks to be read again")
	}
	op := e.submit("paused", mario)
	o.dispatch()
	consensustest.Eventually(t, 10*time.Second, func() error {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.retryAt[op.Seq].IsZero() {
			return fmt.Errorf("no pause yet")
		}
		return nil
	}, "the failed attempt pauses")
	if !o.dispatch() {
		t.Fatal("an operation pauses after a failure, yet dispatch asks for no timer")
	}
	// The pause ends; the operation is sent again and commits.
	down.Store(false)
	o.mu.Lock()
	o.retryAt[op.Seq] = time.Now().Add(-time.Second)
	o.mu.Unlock()
	o.dispatch()
	consensustest.Eventually(t, 10*time.Second, func() error {
		w, err := e.store.Workflow(op.Workflow, op.Operation)
		if err != nil || w.Status != store.WorkflowSuccess {
			return fmt.Errorf("workflow %s, %v", w.Status, err)
		}
		return nil
	}, "the retried operation committed")
	consensustest.Eventually(t, 10*time.Second, func() error {
		if o.dispatch() {
			return fmt.Errorf("dispatch still asks for a timer")
		}
		return nil
	}, "the settled outbox asks for no timer")
}
