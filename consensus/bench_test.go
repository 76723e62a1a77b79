package consensus_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// benchConfig keeps the production timeouts of DefaultConfig.
func benchConfig(cfg *consensus.Config) {
	d := consensus.DefaultConfig()
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = d.HeartbeatTimeout, d.ElectionTimeout, d.LeaderLeaseTimeout
	cfg.MemTableSize, cfg.BlockCacheSize = 64<<20, 64<<20
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// runWriters applies total commands from `writers` goroutines against node
// and reports throughput and latency percentiles.
func runWriters(b *testing.B, n *consensustest.Node, writers, total int, mk func(i int) consensus.Command) {
	var next atomic.Int64
	lats := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := n.Replica().Apply(ctx, mk(i))
				cancel()
				if err != nil {
					b.Errorf("apply %d: %v", i, err)
					return
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "cmds/s")
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkReplicatedWrites: 3 voters on loopback TCP, fsync on, 1 KiB
// commands, from 1 or 100 concurrent writers, at the leader or at a
// follower (forwarded).
//
//	go test ./consensus -run '^$' -bench ReplicatedWrites -benchtime 20000x
func BenchmarkReplicatedWrites(b *testing.B) {
	value := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		writers int
		via     string
	}{{1, "leader"}, {100, "leader"}, {100, "follower"}, {400, "leader"}} {
		b.Run(fmt.Sprintf("writers=%d/via=%s", tc.writers, tc.via), func(b *testing.B) {
			c := newCluster(b, 3, 0, benchConfig)
			n := c.WaitLeader()
			if tc.via == "follower" {
				n = c.Followers()[0]
			}
			total := b.N
			if tc.writers == 1 {
				total = min(b.N, 5000)
			}
			runWriters(b, n, tc.writers, total, func(i int) consensus.Command {
				return put(fmt.Sprintf("k%08d", i), value)
			})
		})
	}
}

// BenchmarkFailover kills the leader and measures the time until the first
// write started after the kill commits on the new leader; 10 trials.
//
//	go test ./consensus -run '^$' -bench Failover -benchtime 1x
func BenchmarkFailover(b *testing.B) {
	c := newCluster(b, 3, 0, benchConfig)
	var times []time.Duration
	for trial := 0; trial < 10; trial++ {
		leader := c.WaitLeader()
		var survivor *consensustest.Node
		for _, n := range c.Running() {
			if n != leader {
				survivor = n
				break
			}
		}
		mustApply(b, survivor, put("warm", fmt.Sprint(trial)))
		t0 := time.Now()
		c.Kill(leader)
		for i := 0; ; i++ {
			cmd := put("failover", fmt.Sprint(trial))
			cmd.Key = fmt.Sprintf("failover-%d-%d", trial, i)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := survivor.Replica().Apply(ctx, cmd)
			cancel()
			if err == nil {
				break
			}
			if time.Since(t0) > 30*time.Second {
				b.Fatalf("trial %d: no write committed 30s after the kill: %v", trial, err)
			}
		}
		times = append(times, time.Since(t0))
		c.Restart(leader)
		c.WaitConverged()
	}
	b.Logf("failover times: %v", times)
	b.ReportMetric(float64(percentile(slices.Clone(times), 0.5).Milliseconds()), "median-ms")
	b.ReportMetric(float64(slices.Max(times).Milliseconds()), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkNonvoterCatchUp loads 1M commands of ~200 B (each its own key,
// so the state holds 1M records), then adds a non-voter and measures the
// time until it has applied the leader's last index. It must catch up with
// exactly one snapshot (no snapshot loop).
//
//	go test ./consensus -run '^$' -bench NonvoterCatchUp -benchtime 1x -timeout 30m
func BenchmarkNonvoterCatchUp(b *testing.B) {
	const records = 1_000_000
	c := newCluster(b, 3, 0, func(cfg *consensus.Config) {
		benchConfig(cfg)
		cfg.SnapshotThreshold = 8192
		cfg.TrailingLogs = 10240
	})
	leader := c.WaitLeader()
	value := strings.Repeat("v", 185)
	loadStart := time.Now()
	runWriters(b, leader, 200, records, func(i int) consensus.Command {
		return put(fmt.Sprintf("r%07d", i), value)
	})
	b.Logf("loaded %d commands in %v; leader last index %d", records, time.Since(loadStart), leader.Replica().Status().LastIndex)
	if err := leader.Replica().Snapshot(); err != nil {
		b.Fatal(err)
	}
	late := c.Add("900")
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leader.Replica().AddNonvoter(ctx, late.ID, late.Peer()); err != nil {
		b.Fatal(err)
	}
	target := leader.Replica().Status().CommitIndex
	for late.Replica().Status().AppliedIndex < target {
		if time.Since(t0) > 5*time.Minute {
			b.Fatalf("non-voter at %d of %d after 5 minutes", late.Replica().Status().AppliedIndex, target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(t0)
	restores := late.Replica().Status().SnapshotRestores
	if v, _ := mustRead(b, late, consensus.Local, fmt.Sprintf("r%07d", records)); v != value {
		b.Fatalf("non-voter lacks the last record")
	}
	b.Logf("non-voter caught up to index %d in %v with %d snapshot restore(s)", target, took, restores)
	if restores != 1 {
		b.Fatalf("non-voter restored %d snapshots, want exactly 1", restores)
	}
	b.ReportMetric(took.Seconds(), "catchup-s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRestartOnLargeState loads 1M commands of ~200 B, stops a
// follower and measures the time from its restart until it knows the leader
// and has applied everything committed: the state is reopened from disk,
// not rebuilt from the log.
//
//	go test ./consensus -run '^$' -bench RestartOnLargeState -benchtime 1x -timeout 30m
func BenchmarkRestartOnLargeState(b *testing.B) {
	const records = 1_000_000
	c := newCluster(b, 3, 0, benchConfig)
	leader := c.WaitLeader()
	value := strings.Repeat("v", 185)
	runWriters(b, leader, 200, records, func(i int) consensus.Command {
		return put(fmt.Sprintf("r%07d", i), value)
	})
	f := c.Followers()[0]
	c.WaitConverged()
	c.Stop(f)
	t0 := time.Now()
	c.Restart(f)
	startTook := time.Since(t0)
	for {
		st := f.Replica().Status()
		if st.LeaderID != "" && st.AppliedIndex+1 >= st.CommitIndex && st.CommitIndex > 0 {
			break
		}
		if time.Since(t0) > 2*time.Minute {
			b.Fatalf("restarted follower not ready after 2 minutes: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(t0)
	if v, _ := mustRead(b, f, consensus.Local, fmt.Sprintf("r%07d", records)); v != value {
		b.Fatal("restarted follower lacks the last record")
	}
	b.Logf("restart on %d records: Start returned in %v, ready in %v, snapshot restores %d", records, startTook, ready, f.Replica().Status().SnapshotRestores)
	b.ReportMetric(ready.Seconds(), "ready-s")
	b.ReportMetric(0, "ns/op")
}
