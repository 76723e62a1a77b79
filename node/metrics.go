package node

import (
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

// metrics makes the node's registry and registers the node's gauges, read
// from the replica at scrape time. Every series carries the region label:
// the node's own gauges set it, everything else registers through
// registerer, which adds it (the Go runtime and process collectors too).
func (n *Node) metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"region": n.cfg.Region}, reg).MustRegister(
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"region": n.cfg.Region}
	b := federation.BuildInfo()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_build_info",
		Help:        "The node's build: always 1, with the version, revision and Go version as labels.",
		ConstLabels: prometheus.Labels{"region": n.cfg.Region, "version": b.Version, "revision": b.Revision, "go_version": b.GoVersion}},
		func() float64 { return 1 }))
	gauge := func(name, help string, f func(consensus.Status) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				if n.cons == nil {
					return 0
				}
				return f(n.cons.Status())
			}))
	}
	gauge("fsenet_raft_state", "Raft state: 0 follower, 1 candidate, 2 leader, 3 shutdown.", func(s consensus.Status) float64 {
		switch s.State {
		case raft.Candidate.String():
			return 1
		case raft.Leader.String():
			return 2
		case raft.Shutdown.String():
			return 3
		}
		return 0
	})
	gauge("fsenet_raft_term", "Current Raft term.", func(s consensus.Status) float64 { return float64(s.Term) })
	gauge("fsenet_raft_last_index", "Index of the last entry in the local Raft log.", func(s consensus.Status) float64 { return float64(s.LastIndex) })
	gauge("fsenet_raft_commit_index", "Highest entry this replica knows to be committed.", func(s consensus.Status) float64 { return float64(s.CommitIndex) })
	gauge("fsenet_raft_applied_index", "Highest entry applied to this replica's state.", func(s consensus.Status) float64 { return float64(s.AppliedIndex) })
	gauge("fsenet_raft_snapshot_restores", "Snapshots installed since the node started.", func(s consensus.Status) float64 { return float64(s.SnapshotRestores) })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_raft_servers", Help: "Servers in the Raft configuration.", ConstLabels: labels},
		func() float64 {
			if n.cons == nil {
				return 0
			}
			s, err := n.cons.Servers()
			if err != nil {
				return 0
			}
			return float64(len(s))
		}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_libp2p_peers_connected", Help: "Peers with an open libp2p connection.", ConstLabels: labels},
		func() float64 {
			if n.host == nil {
				return 0
			}
			return float64(len(n.host.Network().Peers()))
		}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_libp2p_connections", Help: "Open libp2p connections (a peer may hold several).", ConstLabels: labels},
		func() float64 {
			if n.host == nil {
				return 0
			}
			return float64(len(n.host.Network().Conns()))
		}))
	return reg
}

// registerer is the node's registry with the region label added to every
// series registered through it.
func (n *Node) registerer() prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"region": n.cfg.Region}, n.reg)
}

// tokenRefusals counts the bearer tokens the node refused, by reason (a
// fixed set, each series present from the start), and returns the
// verifier's hook.
func (n *Node) tokenRefusals() func(reason string) {
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fsenet_tokens_refused_total",
		Help: "Bearer tokens refused by this node, by reason (malformed, algorithm, unknown_issuer, unknown_key, signature, expired, not_yet_valid, audience, claims, region, other).",
	}, []string{"reason"})
	for _, r := range federation.TokenRefusalReasons {
		refused.WithLabelValues(r)
	}
	n.registerer().MustRegister(refused)
	return func(reason string) { refused.WithLabelValues(reason).Inc() }
}
