package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
)

// The integrity of the replica's stored state (consensus/scrub.go): its
// route, its metrics and its part of readiness.

// IntegrityStatus is the answer of GET /v1/cluster/scrub: whether this
// replica's stored state is sound as far as it knows, and its last
// comparison of every replica's stored state at one log index.
type IntegrityStatus struct {
	Region string                 `json:"region"`
	Sound  bool                   `json:"sound"`
	Damage *consensus.Damage      `json:"damage,omitempty"`
	Report *consensus.ScrubReport `json:"report,omitempty"` // nil before the first comparison
}

// routeIntegrity mounts the integrity route and registers its metrics.
func (n *Node) routeIntegrity() {
	n.routes.HandleFunc("GET /v1/cluster/scrub", n.handleIntegrity)
	labels := prometheus.Labels{"region": n.cfg.Region}
	status := func() consensus.ScrubStatus {
		if n.cons == nil {
			return consensus.ScrubStatus{}
		}
		return n.cons.ScrubStatus()
	}
	gauge := func(name, help string, f func(consensus.ScrubStatus) float64) {
		n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return f(status()) }))
	}
	counter := func(name, help string, f func(consensus.ScrubStatus) float64) {
		n.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return f(status()) }))
	}
	gauge("fsenet_state_damaged", "1 while this replica knows its stored state is damaged (it refuses reads and repairs itself), else 0.",
		func(s consensus.ScrubStatus) float64 {
			if s.Damage != nil {
				return 1
			}
			return 0
		})
	gauge("fsenet_state_damaged_ranges", "Scrub ranges (of 256) found damaged in this replica's stored state.",
		func(s consensus.ScrubStatus) float64 {
			if s.Damage == nil {
				return 0
			}
			return float64(len(s.Damage.Ranges))
		})
	counter("fsenet_state_damage_found_total", "Times this replica found its stored state damaged since it started.",
		func(s consensus.ScrubStatus) float64 { return float64(s.DamageFound) })
	counter("fsenet_state_repairs_total", "Repairs of this replica's stored state from another replica since it started.",
		func(s consensus.ScrubStatus) float64 { return float64(s.Repairs) })
	gauge("fsenet_state_scrub_index", "Log index of this replica's last scan of its stored state.",
		func(s consensus.ScrubStatus) float64 { return float64(s.LastIndex) })
	gauge("fsenet_state_scrub_keys", "Keys read by the last scan of the stored state.",
		func(s consensus.ScrubStatus) float64 { return float64(s.LastKeys) })
	gauge("fsenet_state_scrub_bytes", "Bytes of keys and values read by the last scan of the stored state.",
		func(s consensus.ScrubStatus) float64 { return float64(s.LastBytes) })
	gauge("fsenet_state_scrub_seconds", "How long the last scan of the stored state took, paced.",
		func(s consensus.ScrubStatus) float64 { return s.LastTook.Seconds() })
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_state_replicas_disagreeing",
		Help:        "Replicas whose stored state did not agree with the majority's (or could not be compared) at this replica's last comparison.",
		ConstLabels: labels},
		func() float64 {
			if n.cons == nil {
				return 0
			}
			rep := n.cons.ScrubReport()
			if rep == nil {
				return 0
			}
			c := 0
			for _, r := range rep.Regions {
				if r.State != consensus.ScrubAgrees {
					c++
				}
			}
			return float64(c)
		}))
}

// handleIntegrity reports the replica's knowledge of the stored states.
func (n *Node) handleIntegrity(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActClusterStatus, index.Target{Region: n.cfg.Region}) {
		return
	}
	st := n.cons.ScrubStatus()
	httpapi.JSON(w, http.StatusOK, IntegrityStatus{Region: n.cfg.Region, Sound: st.Damage == nil, Damage: st.Damage, Report: n.cons.ScrubReport()})
}

// integrityReady is the replica's stored state's part of readiness.
func (n *Node) integrityReady() (bool, string) {
	return n.cons.Integrity()
}
