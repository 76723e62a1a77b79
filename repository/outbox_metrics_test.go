package repository

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// TestOutboxOldestAge checks the outbox age: how long the oldest
// operation has waited while the federation does not commit, and 0 once
// it has.
func TestOutboxOldestAge(t *testing.T) {
	e := newOutboxEnv(t)
	var down atomic.Bool
	down.Store(true)
	o := e.start(func(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
		if down.Load() {
			return consensus.Result{}, consensus.ErrNoLeader
		}
		return e.apply(ctx, cmd)
	})
	gauge := o.AgeGauge()
	if age, err := o.OldestAge(); err != nil || age != 0 {
		t.Fatalf("empty outbox: age %v, %v; want 0", age, err)
	}
	before := time.Now()
	op := e.submit("late", mario)
	e.submit("later", mario)
	consensustest.Eventually(t, 10*time.Second, func() bool {
		age, err := o.OldestAge()
		return err == nil && age > 0
	}, "the outbox aging")
	age, err := o.OldestAge()
	if err != nil || age <= 0 || age > time.Since(before) {
		t.Fatalf("age %v, %v; want in (0, %v]", age, err, time.Since(before))
	}
	if v := gaugeValue(t, gauge); v <= 0 || v > time.Since(before).Seconds() {
		t.Fatalf("gauge %v, want in (0, %v]", v, time.Since(before).Seconds())
	}
	down.Store(false)
	if out := wait(t, o, op); out.Err != nil {
		t.Fatal(out.Err)
	}
	consensustest.Eventually(t, 10*time.Second, func() bool {
		age, err := o.OldestAge()
		return err == nil && age == 0
	}, "the outbox empty")
	if v := gaugeValue(t, gauge); v != 0 {
		t.Fatalf("gauge %v once the outbox is empty, want 0", v)
	}
}

// gaugeValue reads a gauge as a scrape would.
func gaugeValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
