package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership/admission"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/index/indexsvc"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/repository/reposvc"
	"github.com/fsenet/fsenet/telemed"

	"github.com/fsenet/fsenet/repository/pades"
)

// Node is one region's running node: the composition root that reads the
// configuration and trust material, builds the host, the replica and the
// domain modules, serves HTTP, and stops everything in reverse.
type Node struct {
	cfg Config
	log *slog.Logger
	// readings is telemedicine's search of telemonitoring readings, which
	// the repository's Observation search hands over.
	readings http.HandlerFunc

	trust   trust
	gater   *federation.Gater
	dups    *federation.DuplicateGuard
	host    host.Host
	cons    *consensus.Node
	tokens  *federation.Verifier
	reg     *prometheus.Registry
	routes  *httpapi.Mux
	caps    *fhirres.Capabilities
	protos  *module.Protocols
	members *admission.Module
	modules module.Set

	httpLn   net.Listener
	httpSrv  *http.Server
	pprofSrv *http.Server
	httpErr  chan error
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

// trustListPath is the repository's trust list, under data_dir when
// relative ("" when none is set).
func (n *Node) trustListPath() string {
	if n.cfg.Repository.TrustList == "" {
		return ""
	}
	return n.path(n.cfg.Repository.TrustList)
}

func (n *Node) path(p string) string { return dataPath(n.cfg, p) }

// dataPath is p as the node resolves a configured path: a relative one
// is under data_dir.
func dataPath(cfg Config, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(cfg.DataDir, p)
}

// Start brings the parts up in order: trust material (checked before
// anything listens), the libp2p host, the replica, the domain modules
// (each registers its commands, routes, protocols and metrics before the
// replica starts, then starts in order: admission, index, repository,
// telemed),
// their protocols, then HTTP. On failure, what was started is stopped
// again and the error names the part that failed.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = n.Shutdown(context.Background())
		}
	}()
	if err := n.loadTrust(); err != nil {
		return fmt.Errorf("trust material: %w", err)
	}
	if err := n.startHost(); err != nil {
		return fmt.Errorf("libp2p host: %w", err)
	}
	if err := n.newReplica(); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if err := n.buildModules(); err != nil {
		return err
	}
	if err := n.cons.Start(); err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	if err := n.modules.Start(ctx); err != nil {
		return err
	}
	n.protos.Install(n.host)
	if err := n.serveHTTP(); err != nil {
		return err
	}
	n.log.Info("node started", "http", n.HTTPAddr(), "peer", n.host.ID(), "certificate", n.trust.cert.ID, "role", n.trust.cert.Role)
	return nil
}

// startHost starts the libp2p host, guarded by the allowlist gater that
// admits the configured founding peers until the membership is known.
func (n *Node) startHost() error {
	founders, err := parsePeers(n.cfg.P2P.Peers)
	if err != nil {
		return err
	}
	var bootIDs []peer.ID
	for _, f := range founders {
		bootIDs = append(bootIDs, f.ID)
	}
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
	n.dups = federation.GuardDuplicates(n.host, n.log)
	return nil
}

// newReplica builds (does not start) the replica of the federation's
// state, with its metrics.
func (n *Node) newReplica() error {
	cc := n.consensusConfig()
	n.reg = n.metrics()
	applyLatency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "fsenet_apply_duration_seconds",
		Help:        "Time from a write submitted on this node to its result (replicated and applied), by outcome.",
		ConstLabels: prometheus.Labels{"region": n.cfg.Region},
		Buckets:     []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
	}, []string{"outcome"})
	n.reg.MustRegister(applyLatency)
	refusedRPC := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "fsenet_raft_rpc_refused_total",
		Help:        "Raft RPCs from other nodes refused because they named a sender other than the peer of their stream, by reason.",
		ConstLabels: prometheus.Labels{"region": n.cfg.Region},
	}, []string{"reason"})
	for _, r := range []string{consensus.RefusedNoIdentity, consensus.RefusedAddress, consensus.RefusedServerID} {
		refusedRPC.WithLabelValues(r)
	}
	n.reg.MustRegister(refusedRPC)
	var err error
	n.cons, err = consensus.New(cc, consensus.Deps{Host: n.host, Log: n.log, Metrics: n.registerer(), ObserveApply: func(d time.Duration, outcome string) {
		applyLatency.WithLabelValues(outcome).Observe(d.Seconds())
	}, RegionPeer: n.regionPeer, ObserveRefusedRPC: func(reason string) { refusedRPC.WithLabelValues(reason).Inc() }})
	return err
}

// regionPeer is the peer the replicated membership records for a region.
// The Raft transport asks it about servers not yet in Raft's
// configuration; the membership is built before the replica starts.
func (n *Node) regionPeer(code string) (peer.ID, bool) {
	if n.members == nil {
		return "", false
	}
	return n.members.RegionPeer(code)
}

func (n *Node) consensusConfig() consensus.Config {
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
	if d := time.Duration(n.cfg.Raft.SnapshotInterval); d > 0 {
		cc.SnapshotInterval = d
	}
	if v := n.cfg.Raft.SnapshotThreshold; v > 0 {
		cc.SnapshotThreshold = uint64(v)
	}
	if v := n.cfg.Raft.TrailingLogs; v > 0 {
		cc.TrailingLogs = uint64(v)
	}
	cc.ScrubInterval = time.Duration(n.cfg.Raft.ScrubInterval)
	if v := n.cfg.Raft.ScrubMiBPerSec; v > 0 {
		cc.ScrubBytesPerSec = int64(v) << 20
	}
	return cc
}

// buildModules builds the domain modules in the order they start and
// registers what each serves. Each gets what it needs of the others
// through its own Deps.
func (n *Node) buildModules() error {
	var err error
	n.members, err = admission.New(admission.Config{Region: n.cfg.Region, Bootstrap: n.cfg.Raft.Bootstrap, Join: n.cfg.P2P.Join,
		IdPIssuer: n.cfg.IdP.Issuer, IdPKeysFile: n.path(n.cfg.IdP.PublicKeysFile)},
		admission.Deps{Identity: n.trust.identity(), Replica: n.cons, Host: n.host, Gater: n.gater, Caller: callerOf,
			Revocations: n.trust.revoked, Log: n.log.With("component", "admission")})
	if err != nil {
		return fmt.Errorf("admission: %w", err)
	}
	// A client presents its token on every request: verified once, then
	// answered from the cache while valid.
	n.tokens = &federation.Verifier{Lookup: n.members.IssuerKeys, Cache: federation.NewTokenCache(1 << 14), Refused: n.tokenRefusals()}
	idx, err := indexsvc.New(indexsvc.Config{Region: n.cfg.Region, SpoolDir: n.path(n.cfg.Audit.SpoolDir), PublicURL: n.cfg.HTTP.PublicURL,
		MaxBatchBytes: n.consensusConfig().BatchMaxBytes / 2},
		indexsvc.Deps{Replica: n.cons, Caller: callerOf, Regions: n.members.Regions, Log: n.log})
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	n.modules = module.Set{n.members, idx} // built ones are stopped by Shutdown, started or not
	repo, err := reposvc.New(reposvc.Config{Region: n.cfg.Region, Dir: n.path(n.cfg.Repository.Dir),
		MaxDocumentBytes: int64(n.cfg.Repository.MaxDocumentMiB) << 20, ValidationMaxAge: time.Duration(n.cfg.Repository.ValidationMaxAge),
		WaitCommit: time.Duration(n.cfg.Repository.WaitCommit), MaxFetches: n.cfg.Repository.MaxFetches,
		MaxFetchesPerRegion: n.cfg.Repository.MaxFetchesPerRegion, FetchFirstByte: time.Duration(n.cfg.Repository.FetchFirstByteTimeout),
		ScrubInterval: time.Duration(n.cfg.Repository.ScrubInterval), ScrubBytesPerSec: int64(n.cfg.Repository.ScrubMiBPerSec) << 20,
		PublicURL: n.cfg.HTTP.PublicURL, Signature: pades.Policy(n.cfg.Repository.Signature), TrustList: n.trustListPath(),
		PopulationMinK: n.cfg.Repository.PopulationMinK},
		reposvc.Deps{Replica: n.cons, Audit: idx, Caller: callerOf, Bearer: bearerClaims, Verify: n.tokens.Verify,
			Host: n.host, RegionPeer: n.members.RegionPeer, Regions: n.members.Regions, Extract: extractDocument, ExtractVersion: extractVersion,
			Readings: func(w http.ResponseWriter, r *http.Request) { n.readings(w, r) }, Log: n.log})
	if err != nil {
		return fmt.Errorf("repository: %w", err)
	}
	n.modules = append(n.modules, repo)
	signKey, err := n.trust.ed25519()
	if err != nil {
		return fmt.Errorf("telemed: %w", err)
	}
	stores := StoreDirs(n.cfg)
	tm, err := telemed.New(telemed.Config{Region: n.cfg.Region, PublicURL: n.cfg.HTTP.PublicURL, Dir: stores[telemed.ScheduleBackupFile],
		MonitorDir: stores[telemed.MonitoringBackupFile], EscalateAfter: time.Duration(n.cfg.Telemed.EscalateAfter)},
		telemed.Deps{Replica: n.cons, Caller: callerOf, Verify: n.tokens.Verify, Audit: idx, Host: n.host, RegionPeer: n.members.RegionPeer,
			SignKey: signKey, KeyID: n.trust.peer.String(), Log: n.log.With("component", "telemed")})
	if err != nil {
		return fmt.Errorf("telemed: %w", err)
	}
	n.modules = append(n.modules, tm)
	n.readings = tm.SearchReadings
	n.routes, n.caps, n.protos = httpapi.NewMux(), &fhirres.Capabilities{}, &module.Protocols{}
	n.routeNode()
	return n.modules.Register(&module.Registrar{Commands: n.cons, Routes: n.routes, Protocols: n.protos,
		Metrics: prometheus.WrapRegistererWith(prometheus.Labels{"region": n.cfg.Region}, n.reg), Capabilities: n.caps})
}

// serveHTTP starts the API's listener (and the profiler's, if asked).
func (n *Node) serveHTTP() error {
	var err error
	n.httpLn, err = net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	n.httpSrv = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: httpapi.Handler(n.routes, httpapi.Config{Log: n.log, Metrics: n.registerer(), ProblemPaths: gatewayPath,
			Inner: func(h http.Handler) http.Handler { return n.unlessRevoked(n.authenticate(h)) }})}
	if addr := n.cfg.Debug.PprofListen; addr != "" {
		if err := n.servePprof(addr); err != nil {
			return fmt.Errorf("debug.pprof_listen: %w", err)
		}
	}
	n.httpErr = make(chan error, 1)
	// The goroutine serves what it was given: Shutdown clears the fields,
	// maybe before it runs.
	srv, ln := n.httpSrv, n.httpLn
	go func() {
		err := srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
		n.httpErr <- err
	}()
	return nil
}

// servePprof serves Go's profiler on its own loopback listener.
func (n *Node) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.pprofSrv = srv
	go func() { _ = srv.Serve(ln) }()
	n.log.Warn("profiler listening; no authentication", "addr", ln.Addr().String())
	return nil
}

// Shutdown stops the parts in reverse order: HTTP (no new requests), the
// modules' protocols (no peer reaches a module that stops), the modules
// in reverse (the repository's outbox and store, then the index's audit
// shipper, which ships what it can while the replica still runs, then
// admission's loops), the replica (a leader hands over leadership), then
// the host.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.pprofSrv != nil {
		_ = n.pprofSrv.Close()
		n.pprofSrv = nil
	}
	if n.httpSrv != nil {
		if err := n.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
			_ = n.httpSrv.Close() // requests still running are cut off
		}
		n.httpSrv = nil
	}
	if n.httpLn != nil {
		_ = n.httpLn.Close() // already closed if it served; not if a later start step failed
		n.httpLn = nil
	}
	if n.protos != nil {
		n.protos.Uninstall()
	}
	if n.modules != nil {
		errs = append(errs, n.modules.Stop(ctx))
		n.modules = nil
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

// Ready reports whether the node knows a leader, has applied what it
// knows to be committed, knows of no damage in its stored state, and
// finds itself and its IdP keys in the replicated membership.
func (n *Node) Ready() (bool, string) {
	if _, revoked := n.members.Revoked(); revoked {
		return n.members.Ready() // says why, whatever else holds
	}
	if why := n.dups.Copy(); why != "" {
		return false, "refused as a copy of another node's identity: " + why
	}
	st := n.cons.Status()
	switch {
	case st.LeaderID == "":
		return false, "no leader known"
	case st.AppliedIndex+1 < st.CommitIndex:
		return false, fmt.Sprintf("catching up: applied %d of %d", st.AppliedIndex, st.CommitIndex)
	}
	if ok, why := n.integrityReady(); !ok {
		return false, why
	}
	return n.members.Ready()
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
