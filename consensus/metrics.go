package consensus

import (
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// replicaMetrics are the replica's own series: how often the leader
// changes, how long the leader takes to commit an entry, and how long ago
// a follower last heard from the leader. The node's registerer adds the
// region label.
type replicaMetrics struct {
	leaderChanges prometheus.Counter
	commit        prometheus.Histogram
	started       atomic.Int64 // unix nanoseconds when Raft started; 0 before
}

func newReplicaMetrics() *replicaMetrics {
	return &replicaMetrics{
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsenet_raft_leader_changes_total",
			Help: "Times this replica learned of a new leader (one after none, or a different one) since it started.",
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fsenet_raft_commit_duration_seconds",
			Help:    "On the leader, time from a batch of commands proposed to its log entry committed by a quorum and applied.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
		}),
	}
}

// register adds the series to reg; the last-contact gauge reads n at
// scrape time.
func (m *replicaMetrics) register(reg prometheus.Registerer, n *Node) error {
	if reg == nil {
		return nil
	}
	lastContact := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fsenet_raft_last_contact_seconds",
		Help: "Seconds since this replica last heard from the leader (since Raft started, if never); 0 on the leader.",
	}, n.lastContactSeconds)
	for _, c := range []prometheus.Collector{m.leaderChanges, m.commit, lastContact} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observer counts leader changes. It is Raft's filter, called in Raft's
// goroutine for each observation; it passes nothing on.
func (m *replicaMetrics) observer() *raft.Observer {
	return raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if l, ok := o.Data.(raft.LeaderObservation); ok && l.LeaderID != "" {
			m.leaderChanges.Inc()
		}
		return false
	})
}

// observeCommit records the time a leader's proposal took to commit.
func (m *replicaMetrics) observeCommit(d time.Duration) { m.commit.Observe(d.Seconds()) }

// lastContactSeconds is how long ago this replica heard from the leader:
// 0 on the leader, the time since Raft started when never, 0 before.
func (n *Node) lastContactSeconds() float64 {
	started := n.metrics.started.Load()
	if started == 0 {
		return 0
	}
	if n.raft.State() == raft.Leader {
		return 0
	}
	last := n.raft.LastContact()
	if last.IsZero() {
		last = time.Unix(0, started)
	}
	return time.Since(last).Seconds()
}
