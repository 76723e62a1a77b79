package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/store"
)

// Node is one region's running node.
type Node struct {
	cfg Config
	log *slog.Logger

	trust   trust
	gater   *federation.Gater
	host    host.Host
	cons    *consensus.Node
	members *membership.Machine
	index   *index.Machine
	auditor *index.Auditor
	// fetchSlots bounds the documents fetched from other regions at once.
	fetchSlots chan struct{}
	corrupt    prometheus.Counter // stored content that does not match its hash
	scrubbed   prometheus.Gauge   // end of the last whole scrub
	spool      *index.Spool
	docs       *store.Store
	outbox     *repository.Outbox
	tokens     *federation.Verifier
	reg        *prometheus.Registry
	httpLn     net.Listener
	httpSrv    *http.Server
	pprofSrv   *http.Server
	httpErr    chan error

	// wakeRegister and wakeReconcile run those loops at once after a
	// membership change instead of at their next tick.
	wakeRegister, wakeReconcile chan struct{}
	followMu                    sync.Mutex

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
	return &Node{cfg: cfg, log: log.With("region", cfg.Region),
		wakeRegister: make(chan struct{}, 1), wakeReconcile: make(chan struct{}, 1),
		fetchSlots: make(chan struct{}, cfg.Repository.MaxFetches)}, nil
}

func (n *Node) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(n.cfg.DataDir, p)
}

// Start brings the parts up in order: trust material (checked before
// anything listens), host, replica, HTTP, then the background loops that
// register the node, publish its IdP keys and, on the leader, keep Raft's
// configuration in line with the certified membership. On failure, what
// was started is stopped again.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = n.Shutdown(context.Background())
		}
	}()
	if err := n.loadTrust(); err != nil {
		return err
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
	if d := time.Duration(n.cfg.Raft.SnapshotInterval); d > 0 {
		cc.SnapshotInterval = d
	}
	if v := n.cfg.Raft.SnapshotThreshold; v > 0 {
		cc.SnapshotThreshold = uint64(v)
	}
	if v := n.cfg.Raft.TrailingLogs; v > 0 {
		cc.TrailingLogs = uint64(v)
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
	n.index = index.New()
	if err := n.index.Register(n.cons); err != nil {
		return err
	}
	n.tokens = &federation.Verifier{Lookup: n.members.IssuerKeys}
	n.serveStatus()
	if err := n.cons.Start(); err != nil {
		return err
	}
	if n.cfg.Raft.Bootstrap {
		if err := n.found(ctx); err != nil {
			return err
		}
	}
	if n.spool, err = index.OpenSpool(n.path(n.cfg.Audit.SpoolDir), n.log.With("component", "audit-spool")); err != nil {
		return err
	}
	n.auditor, err = index.NewAuditor(index.AuditorConfig{
		Node:  n.cfg.Region,
		Apply: n.cons,
		Spool: n.spool,
		// A spool without numbers (new, or lost) continues after what the
		// trail holds, read through the leader: a replica restored from an
		// older snapshot would give a number already used.
		LastSeq:       index.TrailLastSeq(n.cons, n.cfg.Region),
		MaxBatchBytes: cc.BatchMaxBytes / 2,
		Log:           n.log.With("component", "audit"),
	})
	if err != nil {
		return err
	}
	n.auditor.Start()

	// The region's documents, and the outbox that indexes them.
	sc := store.DefaultConfig(n.path(n.cfg.Repository.Dir))
	sc.MaxDocumentBytes = int64(n.cfg.Repository.MaxDocumentMiB) << 20
	sc.Log = n.log.With("component", "repository")
	if n.docs, err = store.Open(sc); err != nil {
		return err
	}
	n.outbox, err = repository.NewOutbox(repository.OutboxConfig{
		Store: n.docs, Apply: n.cons.Apply, Lookup: n.lookupEntry,
		// Many in flight: the federation group-commits them.
		InFlight: 256, Timeout: 30 * time.Second, Retry: time.Second,
		Log: n.log.With("component", "outbox"),
	})
	if err != nil {
		return err
	}
	n.outbox.Start()

	// 3. The HTTP server.
	n.httpLn, err = net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	n.httpSrv = &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second}
	if addr := n.cfg.Debug.PprofListen; addr != "" {
		if err := n.servePprof(addr); err != nil {
			return fmt.Errorf("debug.pprof_listen: %w", err)
		}
	}
	n.httpErr = make(chan error, 1)
	go func() {
		err := n.httpSrv.Serve(n.httpLn)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
		n.httpErr <- err
	}()

	// 4. Background loops.
	stop := make(chan struct{})
	n.stop = stop
	n.wg.Add(3)
	go func() { defer n.wg.Done(); every(stop, n.wakeRegister, time.Second, n.register) }()
	go func() { defer n.wg.Done(); every(stop, n.wakeReconcile, time.Second, n.reconcile) }()
	go func() {
		defer n.wg.Done()
		every(stop, nil, 5*time.Second, func(ctx context.Context) {
			n.followMembership(n.members.View())
			n.connectMembers(ctx)
		})
	}()
	if d := time.Duration(n.cfg.Repository.ScrubInterval); d > 0 {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.scrubLoop(stop, d) }()
	}
	n.log.Info("node started", "http", n.HTTPAddr(), "peer", n.host.ID(), "certificate", n.trust.cert.ID, "role", n.trust.cert.Role)
	return nil
}

// scrubLoop reads every stored document whole every interval (counted
// from the last whole pass, which the store remembers across restarts),
// and reports the ones whose bytes no longer match their hash.
func (n *Node) scrubLoop(stop <-chan struct{}, interval time.Duration) {
	ctx, cancel := untilClosed(stop)
	defer cancel()
	for {
		// A store never scrubbed whole is scrubbed soon after the start
		// (a node restarted more often than the interval would otherwise
		// never get to it); then every interval after the last pass.
		wait := min(interval, time.Minute)
		if last, err := n.docs.LastScrub(); err == nil && !last.IsZero() {
			wait = time.Until(last.Add(interval))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, min(interval, time.Minute))):
		}
		start := time.Now()
		rep, err := n.docs.Scrub(ctx, int64(n.cfg.Repository.ScrubMiBPerSec)<<20, func(sha string, docs []string) {
			n.corrupt.Inc()
			n.log.Error("stored content does not match its hash: restore it from a backup or have it published again", "content", sha, "documents", docs)
		})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			n.log.Error("scrub of the stored documents failed; retrying at the next interval", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			continue
		}
		n.scrubbed.Set(float64(time.Now().Unix()))
		n.log.Info("scrubbed the stored documents", "contents", rep.Contents, "bytes", rep.Bytes, "corrupt", rep.Corrupt, "took", time.Since(start).Round(time.Millisecond))
	}
}

// untilClosed returns a context cancelled when stop is closed (or cancel
// is called).
func untilClosed(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// every runs fn now, then every period and whenever wake fires, until stop
// is closed; fn gets a context cancelled at stop.
func every(stop, wake <-chan struct{}, period time.Duration, fn func(context.Context)) {
	ctx, cancel := untilClosed(stop)
	defer cancel()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		fn(ctx)
		select {
		case <-stop:
			return
		case <-tick.C:
		case <-wake:
		}
	}
}

// wake nudges a loop without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// followMembership points the gater and the peerstore at the replicated
// membership: peers whose certificates are valid now are admitted. It also
// runs periodically, so that an expired certificate takes effect.
func (n *Node) followMembership(membership.View) {
	wake(n.wakeRegister)
	wake(n.wakeReconcile)
	// Called from the state machine and from a timer: one at a time, each
	// with the latest view, so an older view never overwrites a newer one
	// (a revocation must not be undone, even for a moment).
	n.followMu.Lock()
	defer n.followMu.Unlock()
	v := n.members.View()
	if v.Authority == nil || len(v.Regions) == 0 {
		return
	}
	n.gater.SetMembers(v.Members(time.Now()), v.RevokedPeers())
	for _, r := range v.Regions {
		n.addAddrs(r.Peer, r.Addrs)
	}
}

// connectMembers opens a connection to every member not connected. A
// restarted node dials out at once: the others' dials to it are held back
// by libp2p's dial backoff for seconds after it went away, while a
// connection it opens serves their Raft traffic immediately.
func (n *Node) connectMembers(ctx context.Context) {
	v := n.members.View()
	now := time.Now()
	var wg sync.WaitGroup
	for _, r := range v.Regions {
		if r.Peer == n.host.ID() || !r.ValidAt(now) || len(n.host.Network().ConnsToPeer(r.Peer)) > 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := n.host.Connect(cctx, peer.AddrInfo{ID: r.Peer}); err != nil {
				n.log.Debug("member not reachable", "member", r.Code, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (n *Node) addAddrs(p peer.ID, addrs []string) {
	if p == n.host.ID() {
		return
	}
	for _, a := range addrs {
		if m, err := ma.NewMultiaddr(a); err == nil {
			n.host.Peerstore().AddAddrs(p, []ma.Multiaddr{m}, peerstore.PermanentAddrTTL)
		}
	}
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
	n.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.pprofSrv.Serve(ln) }()
	n.log.Warn("profiler listening; no authentication", "addr", ln.Addr().String())
	return nil
}

// fetchDocument fetches a document's content from the region that keeps
// it, on a caller's behalf.
func (n *Node) fetchDocument(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error) {
	r, ok := n.members.View().Region(region)
	if !ok {
		return nil, fmt.Errorf("region %s is not a member of the federation", region)
	}
	select {
	case n.fetchSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (all %d fetch slots stayed busy)", fetch.ErrBusy, cap(n.fetchSlots))
	}
	rc, err := fetch.Fetch(ctx, n.host, r.Peer, doc, token, want)
	if err != nil {
		<-n.fetchSlots
		return nil, err
	}
	return &slotReader{ReadCloser: rc, release: func() { <-n.fetchSlots }}, nil
}

// slotReader gives its fetch slot back when closed (once).
type slotReader struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (s *slotReader) Close() error {
	err := s.ReadCloser.Close()
	s.once.Do(s.release)
	return err
}

// tellAttempt tells a region's node of a read of its document that this
// node refused (fetch.Attempt).
func (n *Node) tellAttempt(ctx context.Context, region, doc, token string) error {
	r, ok := n.members.View().Region(region)
	if !ok {
		return fmt.Errorf("region %s is not a member of the federation", region)
	}
	return fetch.Attempt(ctx, n.host, r.Peer, doc, token)
}

// lookupEntry reads an index entry from the local replica.
func (n *Node) lookupEntry(ctx context.Context, id string) (index.Entry, bool, error) {
	var e index.Entry
	var ok bool
	_, err := n.cons.Read(ctx, consensus.Local, func(r consensus.Reader) error {
		var err error
		e, ok, err = index.GetEntry(r, id)
		return err
	})
	return e, ok, err
}

// lookupPatient reads the registry from the local replica.
func (n *Node) lookupPatient(ctx context.Context, id string) (index.Patient, bool, error) {
	var p index.Patient
	var ok bool
	_, err := n.cons.Read(ctx, consensus.Local, func(r consensus.Reader) error {
		var err error
		p, ok, err = index.GetPatient(r, id)
		return err
	})
	return p, ok, err
}

// Shutdown stops the parts in reverse order: the background loops, HTTP
// (no new requests), the outbox and the document store, then the replica (a leader hands over leadership),
// then the host.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	if n.stop != nil {
		close(n.stop)
		n.wg.Wait()
		n.stop = nil
	}
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
	} else if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
	if n.host != nil {
		// Other regions' fetches are not served by a store about to close.
		n.host.RemoveStreamHandler(fetch.Protocol)
	}
	if n.outbox != nil {
		n.outbox.Stop() // what is not committed stays in the outbox
		n.outbox = nil
	}
	if n.docs != nil {
		if err := n.docs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("document store: %w", err))
		}
		n.docs = nil
	}
	if n.auditor != nil {
		n.auditor.Stop() // ships what it can while the replica still runs
		n.auditor = nil
	}
	if n.spool != nil {
		if err := n.spool.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit spool: %w", err))
		}
		n.spool = nil
	}
	if n.host != nil {
		// Peers' questions are not answered by a replica shutting down.
		n.host.RemoveStreamHandler(statusProtocol)
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
// knows to be committed, and finds itself and its IdP keys in the
// replicated membership.
func (n *Node) Ready() (bool, string) {
	st := n.cons.Status()
	switch {
	case st.LeaderID == "":
		return false, "no leader known"
	case st.AppliedIndex+1 < st.CommitIndex:
		return false, fmt.Sprintf("catching up: applied %d of %d", st.AppliedIndex, st.CommitIndex)
	}
	v := n.members.View()
	if r, ok := v.Region(n.cfg.Region); !ok || r.Peer != n.trust.peer {
		return false, "not yet recorded as a member"
	}
	if _, ok := v.IdP(n.cfg.Region); n.cfg.IdP.PublicKeysFile != "" && !ok {
		return false, "the region's IdP keys are not yet published"
	}
	return true, "ready"
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
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_libp2p_connections", Help: "Open libp2p connections (a peer may hold several).", ConstLabels: labels},
		func() float64 {
			if n.host == nil {
				return 0
			}
			return float64(len(n.host.Network().Conns()))
		}))
	spool := func(name, help string, f func(*index.Spool) int) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 {
				if n.spool == nil {
					return 0
				}
				return float64(f(n.spool))
			}))
	}
	spool("fsenet_audit_spooled_events", "Audit events of this node durable in its spool and not yet in the replicated trail.", (*index.Spool).Len)
	spool("fsenet_audit_quarantined_events", "Audit events the trail refused for good, set aside in this node's spool.", (*index.Spool).Quarantined)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_repository_outbox_pending",
		Help: "Index commands of this region's documents stored and not yet committed by the federation.", ConstLabels: labels},
		func() float64 {
			if n.docs == nil {
				return 0
			}
			k, err := n.docs.OutboxLen()
			if err != nil {
				return 0
			}
			return float64(k)
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
