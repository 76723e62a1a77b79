package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// Node is one region's running node.
type Node struct {
	cfg Config
	log *slog.Logger

	gater   *federation.Gater
	host    host.Host
	cons    *consensus.Node
	members *membership.Machine
	reg     *prometheus.Registry
	httpLn  net.Listener
	httpSrv *http.Server
	httpErr chan error

	stop chan struct{}
	wg   sync.WaitGroup
}

// New validates cfg and prepares a node; Start runs it.
func New(cfg Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	if federation.RegionNames[cfg.Region] == "" {
		return nil, fmt.Errorf("invalid configuration: region = %q is not a known region code", cfg.Region)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Node{cfg: cfg, log: log.With("region", cfg.Region)}, nil
}

func (n *Node) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(n.cfg.DataDir, p)
}

// Start brings the parts up in order: host, replica, HTTP. On failure,
// what was started is stopped again.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = n.Shutdown(context.Background())
		}
	}()
	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	founders, err := parsePeers(n.cfg.P2P.Peers)
	if err != nil {
		return err
	}
	var bootIDs []peer.ID
	for _, f := range founders {
		bootIDs = append(bootIDs, f.ID)
	}

	// 1. The libp2p host, guarded by the allowlist gater.
	n.gater = federation.NewGater(bootIDs, n.log)
	n.host, err = federation.NewHost(federation.HostConfig{
		KeyFile:     n.path(n.cfg.P2P.KeyFile),
		ListenAddrs: n.cfg.P2P.Listen,
		PSKFile:     n.path(n.cfg.P2P.PSKFile),
		DialTimeout: 10 * time.Second,
	}, n.gater)
	if err != nil {
		return err
	}
	for _, f := range founders {
		n.host.Peerstore().AddAddrs(f.ID, f.Addrs, peerstore.PermanentAddrTTL)
	}

	// 2. The replica of the federation's state.
	cc := consensus.DefaultConfig()
	cc.ID = n.cfg.Region
	cc.DataDir = filepath.Join(n.cfg.DataDir, "consensus")
	if d := time.Duration(n.cfg.Raft.HeartbeatTimeout); d > 0 {
		cc.HeartbeatTimeout = d
		cc.LeaderLeaseTimeout = min(cc.LeaderLeaseTimeout, d)
	}
	if d := time.Duration(n.cfg.Raft.ElectionTimeout); d > 0 {
		cc.ElectionTimeout = d
	}
	n.reg = n.metrics()
	applyLatency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "fsenet_apply_duration_seconds",
		Help:        "Time from a write submitted on this node to its result (replicated and applied), by outcome.",
		ConstLabels: prometheus.Labels{"region": n.cfg.Region},
		Buckets:     []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
	}, []string{"outcome"})
	n.reg.MustRegister(applyLatency)
	n.cons, err = consensus.New(cc, consensus.Deps{Host: n.host, Log: n.log, ObserveApply: func(d time.Duration, outcome string) {
		applyLatency.WithLabelValues(outcome).Observe(d.Seconds())
	}})
	if err != nil {
		return err
	}
	n.members = membership.New()
	n.members.Subscribe(n.followMembership)
	if err := n.members.Register(n.cons); err != nil {
		return err
	}
	if err := n.cons.Start(); err != nil {
		return err
	}
	n.stop = make(chan struct{})
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.watchServers() }()
	if n.cfg.Raft.Bootstrap {
		self := founder{Code: n.cfg.Region, AddrInfo: peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}}
		if err := n.bootstrap(ctx, append([]founder{self}, founders...)); err != nil {
			return err
		}
	}

	// 3. The HTTP server.
	n.httpLn, err = net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	n.httpSrv = &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second}
	n.httpErr = make(chan error, 1)
	go func() { n.httpErr <- n.httpSrv.Serve(n.httpLn) }()
	n.log.Info("node started", "http", n.HTTPAddr(), "peer", n.host.ID())
	return nil
}

// followMembership points the gater and the peerstore at the replicated
// membership.
func (n *Node) followMembership(v membership.View) {
	if len(v.Regions) == 0 {
		return
	}
	n.gater.SetMembers(v.Members(), v.RevokedPeers())
	for _, r := range v.Regions {
		for _, a := range r.Addrs {
			if ai, err := peer.AddrInfoFromString(a + "/p2p/" + r.Peer.String()); err == nil {
				n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
			}
		}
	}
}

// watchServers keeps the gater admitting the peers of the Raft
// configuration, which can change before the membership records do.
func (n *Node) watchServers() {
	var last string
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if servers, err := n.cons.Servers(); err == nil {
			ids := make([]peer.ID, 0, len(servers))
			var key strings.Builder
			for _, s := range servers {
				ids = append(ids, s.Peer)
				key.WriteString(s.Peer.String())
			}
			if key.String() != last {
				n.gater.SetServers(ids)
				last = key.String()
			}
		}
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
	}
}

// Shutdown stops the parts in reverse order: HTTP first (no new requests),
// then the replica (a leader hands over leadership), then the host.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.httpSrv != nil {
		if err := n.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
		n.httpSrv = nil
	} else if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
	if n.stop != nil {
		close(n.stop)
		n.wg.Wait()
		n.stop = nil
	}
	if n.cons != nil {
		if err := n.cons.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("consensus: %w", err))
		}
		n.cons = nil
	}
	if n.host != nil {
		if err := n.host.Close(); err != nil {
			errs = append(errs, fmt.Errorf("host: %w", err))
		}
		n.host = nil
	}
	return errors.Join(errs...)
}

// HTTPAddr is the address the HTTP server listens on.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// PeerID is the node's libp2p identity.
func (n *Node) PeerID() peer.ID { return n.host.ID() }

// Status is the replica's status.
func (n *Node) Status() consensus.Status { return n.cons.Status() }

// Ready reports whether the node knows a leader and has applied what it
// knows to be committed.
func (n *Node) Ready() (bool, string) {
	st := n.cons.Status()
	switch {
	case st.LeaderID == "":
		return false, "no leader known"
	case st.AppliedIndex+1 < st.CommitIndex:
		return false, fmt.Sprintf("catching up: applied %d of %d", st.AppliedIndex, st.CommitIndex)
	}
	return true, "ready"
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fsenet_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	n.reg.MustRegister(requests)
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, countRequests(requests, pattern, h))
	}
	handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	handle("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := n.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": ok, "reason": why})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	// Anything else, including a known path with another method, gets an
	// OperationOutcome rather than the mux's plain text.
	handle("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			w.Header().Set("Allow", "GET, HEAD")
			writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", r.Method+" is not supported here")
		default:
			writeOutcome(w, http.StatusNotFound, "not-found", "no such endpoint")
		}
	})
	return mux
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

func countRequests(c *prometheus.CounterVec, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		c.WithLabelValues(route, fmt.Sprint(rec.code)).Inc()
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// metrics registers the node's gauges, read from the replica at scrape time.
func (n *Node) metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"region": n.cfg.Region}
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
	return reg
}

// founder is a founding region from the configuration.
type founder struct {
	Code string
	peer.AddrInfo
}

func parsePeers(peers []string) ([]founder, error) {
	var out []founder
	for _, p := range peers {
		code, addr, _ := strings.Cut(p, "=")
		ai, err := peer.AddrInfoFromString(addr)
		if err != nil {
			return nil, fmt.Errorf("p2p.peers: %q: %w", p, err)
		}
		out = append(out, founder{Code: code, AddrInfo: *ai})
	}
	return out, nil
}

// bootstrap makes the founders the voters of a new federation and, once a
// leader exists, records them in the replicated membership in one command.
// On a node bootstrapped before it only completes what an interrupted
// bootstrap left undone.
func (n *Node) bootstrap(ctx context.Context, founders []founder) error {
	var servers []consensus.Server
	var regions []membership.Region
	for _, f := range founders {
		name := federation.RegionNames[f.Code]
		if name == "" {
			return fmt.Errorf("p2p.peers: %q is not a known region code", f.Code)
		}
		servers = append(servers, consensus.Server{ID: f.Code, Peer: f.ID, Voter: true})
		r := membership.Region{Code: f.Code, Name: name, Peer: f.ID, Role: membership.Voter}
		for _, a := range f.Addrs {
			r.Addrs = append(r.Addrs, a.String())
		}
		regions = append(regions, r)
	}
	err := n.cons.Bootstrap(servers)
	switch {
	case errors.Is(err, raft.ErrCantBootstrap):
		if len(n.members.View().Regions) > 0 {
			n.log.Info("federation already bootstrapped; resuming")
			return nil
		}
	case err != nil:
		return err
	}
	cmd, err := membership.PutRegion(regions...)
	if err != nil {
		return err
	}
	cmd.Key = "bootstrap-membership"
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := n.cons.Apply(actx, cmd); err != nil {
		return fmt.Errorf("record founding regions: %w", err)
	}
	n.log.Info("federation bootstrapped", "regions", len(regions))
	return nil
}
