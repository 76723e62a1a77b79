// Package reposvc is a region's document repository as a module of its
// node: the document store (badger), the outbox that indexes what it
// stores, the producer gateway (the national gateway's REST interface and
// IHE MHD ITI-65), content retrieval for any region's document (MHD
// ITI-68, $everything) and blinding, the fetch protocol other regions
// read this region's documents through, the bound on fetches this node
// makes at once, and the scrub that finds stored bytes that no longer
// match their hash. Clinical content never leaves it except to a caller
// the index's policy allows, audited first.
package reposvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/repository"
	"github.com/fsenet/fsenet/repository/clinical"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/mhd"
	"github.com/fsenet/fsenet/repository/store"

	"github.com/fsenet/fsenet/repository/pades"
)

// Config configures the module.
type Config struct {
	Region string
	// Dir is the document store's directory (absolute).
	Dir              string
	MaxDocumentBytes int64
	ValidationMaxAge time.Duration
	WaitCommit       time.Duration
	// MaxFetches bounds the documents this node fetches from other
	// regions at once, for all callers together; MaxFetchesPerRegion
	// those from any one region among them (0: a quarter of MaxFetches,
	// at least 1), so that a region that does not answer holds only its
	// share.
	MaxFetches          int
	MaxFetchesPerRegion int
	// FetchFirstByte bounds a fetch's wait for a free slot, then its wait
	// for the custodian's answer, and then any silence of the custodian
	// in the middle of the content (0: DefaultFetchFirstByte).
	FetchFirstByte time.Duration
	// ScrubInterval is how often every stored document is read whole and
	// checked against its hash (0: never), at ScrubBytesPerSec.
	ScrubInterval    time.Duration
	ScrubBytesPerSec int64
	// PublicURL is the node's public base URL (http.public_url).
	PublicURL string
	// Signature is the policy on producers' PDF signatures (default
	// optional); TrustList the PEM bundle of the CAs trusted ("" none).
	Signature pades.Policy
	TrustList string
	// PopulationMinK is the smallest cell of a population answer that
	// leaves the region unsuppressed (0: population.DefaultMinK).
	PopulationMinK int
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	var errs []error
	if !federation.ValidRegionCode(c.Region) {
		errs = append(errs, fmt.Errorf("region %q is not a region code", c.Region))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("no store directory"))
	}
	if c.MaxFetches < 1 {
		errs = append(errs, errors.New("max fetches must be at least 1"))
	}
	if c.MaxFetchesPerRegion < 0 || c.MaxFetchesPerRegion > c.MaxFetches {
		errs = append(errs, fmt.Errorf("max fetches per region %d: want 0 (a quarter of max fetches) to max fetches (%d)", c.MaxFetchesPerRegion, c.MaxFetches))
	}
	if c.FetchFirstByte < 0 {
		errs = append(errs, errors.New("the fetch first-byte timeout must not be negative"))
	}
	if c.ScrubInterval > 0 && c.ScrubBytesPerSec <= 0 {
		errs = append(errs, errors.New("a scrub needs a positive pace"))
	}
	return errors.Join(errs...)
}

// Replica is the node's replica of the federation's state.
type Replica interface {
	Read(ctx context.Context, c consensus.Consistency, fn func(consensus.Reader) error) (uint64, error)
	Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
	WaitApplied(ctx context.Context, index uint64) error
}

// Recorder makes audit events durable before a disclosure (the index
// module).
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Deps are what the module needs from the node and the other modules.
type Deps struct {
	Replica Replica
	Audit   Recorder
	// Caller is the policy's view of a request's authenticated caller;
	// Bearer its verified token (the gateway binds its claims).
	Caller func(*http.Request) (index.Caller, bool)
	Bearer func(*http.Request) (federation.Claims, bool)
	// Verify checks a token another region's node forwards with a fetch.
	Verify func(token string) (federation.Claims, error)
	// Host opens fetch streams to other regions' nodes; RegionPeer finds
	// the node of a member region.
	Host       host.Host
	RegionPeer func(code string) (peer.ID, bool)
	// Regions lists the member regions (population questions ask each).
	Regions func() []string
	// Extract derives the structured data of the region's documents
	// (nil: none is derived); ExtractVersion is its version: versions
	// extracted by an older one are extracted again at the start.
	Extract        Extractor
	ExtractVersion int
	// Readings serves the search of a patient's telemonitoring readings
	// (GET /fhir/Observation?category=telemonitoring), which shares its
	// route with the search of documents' Observations.
	Readings http.HandlerFunc
	Log      *slog.Logger
}

// Module is a region's repository.
type Module struct {
	cfg    Config
	d      Deps
	log    *slog.Logger
	docs   *store.Store
	outbox *repository.Outbox
	gw     *gateway.Gateway
	mhd    *mhd.API
	// clinical serves the structured data of every region's documents.
	clinical *clinical.API
	// slots bound the documents fetched from other regions at once, in
	// all and from each region.
	slots    *fetchSlots
	fetches  *fetchMetrics
	corrupt  prometheus.Counter // stored content that does not match its hash
	mismatch prometheus.Counter // fetched content that does not match the index
	scrubbed prometheus.Gauge   // end of the last whole scrub
	// extractor derives the facts of every version the index commits
	// (nil when the node derives none).
	extractor *extractor

	stop context.CancelFunc // ends the scrub
	wg   sync.WaitGroup
}

var _ module.Module = (*Module)(nil)

// New opens the region's document store and prepares the module; Stop
// closes the store.
func New(cfg Config, d Deps) (_ *Module, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if cfg.MaxFetchesPerRegion == 0 {
		cfg.MaxFetchesPerRegion = perRegionDefault(cfg.MaxFetches)
	}
	if cfg.FetchFirstByte == 0 {
		cfg.FetchFirstByte = DefaultFetchFirstByte
	}
	m := &Module{cfg: cfg, d: d, log: d.Log, slots: newFetchSlots(cfg.MaxFetches, cfg.MaxFetchesPerRegion), fetches: newFetchMetrics(),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Name: "fsenet_repository_corrupt_content_total",
			Help: "Reads (and scrubs) of this region's stored content that did not match its hash."}),
		mismatch: prometheus.NewCounter(prometheus.CounterOpts{Name: "fsenet_repository_fetch_mismatch_total",
			Help: "Documents fetched from another region whose content did not match the index (refused)."}),
		scrubbed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fsenet_repository_scrub_completed_timestamp_seconds",
			Help: "When the last whole scrub of this region's stored content ended (0: never)."}),
	}
	sc := store.DefaultConfig(cfg.Dir)
	if cfg.MaxDocumentBytes > 0 {
		sc.MaxDocumentBytes = cfg.MaxDocumentBytes
	}
	sc.Log = d.Log.With("component", "repository")
	if m.docs, err = store.Open(sc); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = m.docs.Close()
		}
	}()
	if last, err := m.docs.LastScrub(); err == nil && !last.IsZero() {
		m.scrubbed.Set(float64(last.Unix()))
	}
	if d.Extract != nil {
		m.extractor = newExtractor(m.docs, d.Extract, d.ExtractVersion, d.Log.With("component", "extraction"))
	}
	m.outbox, err = repository.NewOutbox(repository.OutboxConfig{
		Store: m.docs, Apply: d.Replica.Apply, Lookup: m.lookupEntry, Committed: m.committed, WaitApplied: d.Replica.WaitApplied,
		// Many in flight: the federation group-commits them.
		InFlight: 256, Timeout: 30 * time.Second, Retry: time.Second,
		Log: d.Log.With("component", "outbox"),
	})
	if err != nil {
		return nil, err
	}
	gcfg := gateway.DefaultConfig(cfg.Region)
	if cfg.MaxDocumentBytes > 0 {
		gcfg.MaxFileBytes = cfg.MaxDocumentBytes
	}
	if cfg.ValidationMaxAge > 0 {
		gcfg.ValidationMaxAge = cfg.ValidationMaxAge
	}
	if cfg.WaitCommit > 0 {
		gcfg.WaitCommit = cfg.WaitCommit
	}
	if cfg.Signature != "" {
		gcfg.Signature.Policy = cfg.Signature
	}
	if cfg.TrustList != "" {
		if gcfg.Signature.Roots, err = pades.LoadTrustList(cfg.TrustList); err != nil {
			return nil, fmt.Errorf("repository: the trust list: %w", err)
		}
	}
	m.gw, err = gateway.New(gcfg, gateway.Deps{Store: m.docs, Outbox: m.outbox, Patient: m.lookupPatient, Audit: d.Audit,
		Bearer: d.Bearer, Log: d.Log.With("component", "gateway")})
	if err != nil {
		return nil, err
	}
	m.mhd = mhd.New(mhd.Deps{Store: m.docs, Outbox: m.outbox, Caller: d.Caller, Audit: d.Audit, Region: cfg.Region, PublicURL: cfg.PublicURL,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := d.Replica.Read(ctx, consensus.Local, fn)
			return err
		},
		Fetch:    m.fetchDocument,
		Attempt:  m.tellAttempt,
		Corrupt:  m.corrupt.Inc,
		Mismatch: m.mismatch.Inc,
		Log:      d.Log.With("component", "documents")})
	m.clinical = clinical.New(clinical.Deps{Region: cfg.Region, PublicURL: cfg.PublicURL, Facts: m.docs,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := d.Replica.Read(ctx, consensus.Local, fn)
			return err
		},
		Caller: d.Caller,
		Verify: func(tok string) (index.Caller, error) {
			c, err := d.Verify(tok)
			return index.CallerFromClaims(c), err
		},
		Audit: d.Audit, Host: d.Host, RegionPeer: d.RegionPeer, Readings: d.Readings,
		Rows: m.docs, Regions: d.Regions, MinK: cfg.PopulationMinK,
		Log: d.Log.With("component", "clinical")})
	return m, nil
}

// Name implements module.Module.
func (m *Module) Name() string { return "repository" }

// Register declares the gateway's and MHD's routes, the fetch protocol
// and the repository's metrics.
func (m *Module) Register(r *module.Registrar) error {
	m.gw.Register(r.Routes)
	m.mhd.Register(r.Routes)
	m.mhd.Capabilities(r.Capabilities)
	m.clinical.Register(r.Routes)
	r.Routes.HandleFunc("GET /v1/facts/extraction", m.extractionStatus)
	m.clinical.Capabilities(r.Capabilities)
	m.clinical.Serve(r.Protocols)
	m.clinical.ServePopulation(r.Protocols)
	r.Capabilities.System(fhir.SystemRestfulInteractionTransaction) // ITI-65, served by the gateway
	fetch.Serve(fetch.ServerConfig{Host: r.Protocols, Log: m.log.With("component", "fetch"),
		Source: m.mhd.Source(func(tok string) (index.Caller, error) {
			c, err := m.d.Verify(tok)
			return index.CallerFromClaims(c), err
		})})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_repository_outbox_pending",
		Help: "Index commands of this region's documents stored and not yet committed by the federation."},
		func() float64 {
			k, err := m.docs.OutboxLen()
			if err != nil {
				return 0
			}
			return float64(k)
		})
	cs := append([]prometheus.Collector{m.corrupt, m.mismatch, m.scrubbed, pending, m.outbox.AgeGauge()}, m.fetches.collectors()...)
	if m.extractor != nil {
		cs = append(cs, m.extractor.collectors()...)
	}
	cs = append(cs, m.clinical.Collectors()...)
	for _, c := range cs {
		if err := r.Metrics.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Start sends what the outbox holds and starts the scrub.
func (m *Module) Start(context.Context) error {
	if m.extractor != nil {
		m.extractor.start()
	}
	m.outbox.Start()
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	if m.cfg.ScrubInterval > 0 {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.scrubLoop(ctx, m.cfg.ScrubInterval) }()
	}
	return nil
}

// Stop ends the scrub and the outbox (what is not committed stays in it)
// and closes the store. The refused reads' audit records are made first,
// while the audit still runs (it stops after this module).
func (m *Module) Stop(ctx context.Context) error {
	if err := m.mhd.Close(ctx); err != nil {
		m.log.Warn("stopping the document reads", "err", err)
	}
	if m.stop != nil {
		m.stop()
		m.wg.Wait()
		m.stop = nil
	}
	m.outbox.Stop()
	if m.extractor != nil {
		m.extractor.close()
	}
	if err := m.docs.Close(); err != nil {
		return fmt.Errorf("document store: %w", err)
	}
	return nil
}

// committed tells the extraction of an operation the index committed.
func (m *Module) committed(op store.Op) {
	if m.extractor != nil && op.Kind == store.OpPublish {
		m.extractor.poke()
	}
}

// lookupEntry reads an index entry from the local replica.
func (m *Module) lookupEntry(ctx context.Context, id string) (index.Entry, bool, error) {
	var e index.Entry
	var ok bool
	_, err := m.d.Replica.Read(ctx, consensus.Local, func(r consensus.Reader) error {
		var err error
		e, ok, err = index.GetEntry(r, id)
		return err
	})
	return e, ok, err
}

// lookupPatient reads the registry from the local replica.
func (m *Module) lookupPatient(ctx context.Context, id string) (index.Patient, bool, error) {
	var p index.Patient
	var ok bool
	_, err := m.d.Replica.Read(ctx, consensus.Local, func(r consensus.Reader) error {
		var err error
		p, ok, err = index.GetPatient(r, id)
		return err
	})
	return p, ok, err
}

// tellAttempt tells a region's node of a read of its document that this
// node refused (fetch.Attempt).
func (m *Module) tellAttempt(ctx context.Context, region, doc, token string) error {
	p, ok := m.d.RegionPeer(region)
	if !ok {
		return fmt.Errorf("region %s is not a member of the federation", region)
	}
	return fetch.Attempt(ctx, m.d.Host, p, doc, token)
}

// scrubLoop reads every stored document whole every interval (counted
// from the last whole pass, which the store remembers across restarts),
// and reports the ones whose bytes no longer match their hash.
func (m *Module) scrubLoop(ctx context.Context, interval time.Duration) {
	for {
		// A store never scrubbed whole is scrubbed soon after the start
		// (a node restarted more often than the interval would otherwise
		// never get to it); then every interval after the last pass.
		wait := min(interval, time.Minute)
		if last, err := m.docs.LastScrub(); err == nil && !last.IsZero() {
			wait = time.Until(last.Add(interval))
		}
		if !sleep(ctx, max(wait, min(interval, time.Minute))) {
			return
		}
		if !m.scrub(ctx) && !sleep(ctx, interval) {
			return
		}
	}
}

// scrub makes one pass; it reports whether the pass ended (whole, or
// cut short by the stop).
func (m *Module) scrub(ctx context.Context) bool {
	start := time.Now()
	rep, err := m.docs.Scrub(ctx, m.cfg.ScrubBytesPerSec, func(sha string, docs []string) {
		m.corrupt.Inc()
		m.log.Error("stored content does not match its hash: restore it from a backup or have it published again", "content", sha, "documents", docs)
	})
	switch {
	case ctx.Err() != nil:
		return true
	case err != nil:
		m.log.Error("scrub of the stored documents failed; retrying at the next interval", "err", err)
		return false
	}
	m.scrubbed.Set(float64(time.Now().Unix()))
	m.log.Info("scrubbed the stored documents", "contents", rep.Contents, "bytes", rep.Bytes, "corrupt", rep.Corrupt, "took", time.Since(start).Round(time.Millisecond).String())
	return true
}

// sleep waits d; it reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
