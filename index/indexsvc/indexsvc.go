// Package indexsvc is the national index as a module of a node: the
// registry and document index state machine (replicated commands), the
// audit spool and the shipper that replicates it, the FHIR API that
// serves them (IHE PDQm, MHD ITI-67, AuditEvent), the audit trail's
// verification and the authority's feeding statistics. It decides every
// access through the index's one policy and never serves document
// content (the repository does).
package indexsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirapi"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
)

// Replica is the node's replica of the federation's state.
type Replica interface {
	Read(ctx context.Context, c consensus.Consistency, fn func(consensus.Reader) error) (uint64, error)
	Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

// Config configures the module.
type Config struct {
	Region string // this node's region
	// SpoolDir holds the audit events not yet replicated (absolute).
	SpoolDir string
	// PublicURL is the node's public base URL (http.public_url).
	PublicURL string
	// MaxBatchBytes bounds one shipped audit batch (0: the default).
	MaxBatchBytes int
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	var errs []error
	if federation.RegionNames[c.Region] == "" {
		errs = append(errs, fmt.Errorf("region %q is not a region code", c.Region))
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("no audit spool directory"))
	}
	return errors.Join(errs...)
}

// Deps are what the module needs from the node.
type Deps struct {
	Replica Replica
	// Caller is the authenticated caller of a request.
	Caller func(*http.Request) (index.Caller, bool)
	// Regions lists the member regions (the feeding statistics' default).
	Regions func() []string
	Log     *slog.Logger
}

// Module is the national index of one node.
type Module struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	machine *index.Machine
	api     *fhirapi.API
	spool   atomic.Pointer[index.Spool]
	auditor atomic.Pointer[index.Auditor]
	// shipDelay is the audit events' delay to the trail.
	shipDelay prometheus.Histogram
}

var _ module.Module = (*Module)(nil)

// New prepares the module; Start runs it.
func New(cfg Config, d Deps) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	m := &Module{cfg: cfg, d: d, log: d.Log, machine: index.New(), shipDelay: index.ShipDelayHistogram()}
	m.api = fhirapi.New(fhirapi.Deps{
		Read: func(ctx context.Context, strong bool, fn func(index.Reader) error) (uint64, error) {
			c := consensus.Local
			if strong {
				c = consensus.Strong
			}
			return d.Replica.Read(ctx, c, fn)
		},
		Apply:     d.Replica.Apply,
		Audit:     m,
		Caller:    d.Caller,
		Region:    cfg.Region,
		PublicURL: cfg.PublicURL,
		Log:       d.Log.With("component", "fhir"),
	})
	return m, nil
}

// Name implements module.Module.
func (m *Module) Name() string { return "index" }

// Register declares the index's commands, its FHIR API, the audit
// verification and feeding statistics, and the audit spool's gauges.
func (m *Module) Register(r *module.Registrar) error {
	if err := m.machine.Register(r.Commands); err != nil {
		return err
	}
	m.api.Register(r.Routes)
	m.api.Capabilities(r.Capabilities)
	r.Routes.HandleFunc("GET /v1/audit/verify", m.handleAuditVerify)
	r.Routes.HandleFunc("GET /v1/authority/feeding", m.handleFeeding)
	spool := func(name, help string, f func(*index.Spool) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if s := m.spool.Load(); s != nil {
				return float64(f(s))
			}
			return 0
		})
	}
	for _, c := range []prometheus.Collector{
		spool("fsenet_audit_spooled_events", "Audit events of this node durable in its spool and not yet in the replicated trail.", (*index.Spool).Len),
		spool("fsenet_audit_quarantined_events", "Audit events the trail refused for good, set aside in this node's spool.", (*index.Spool).Quarantined),
		m.shipDelay,
	} {
		if err := r.Metrics.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Start opens the audit spool and starts shipping it. A spool without
// numbers (new, or lost) continues after what the trail holds, read
// through the leader: a replica restored from an older snapshot would
// give a number already used.
func (m *Module) Start(context.Context) error {
	spool, err := index.OpenSpool(m.cfg.SpoolDir, m.log.With("component", "audit-spool"))
	if err != nil {
		return fmt.Errorf("audit.spool_dir: %w", err)
	}
	a, err := index.NewAuditor(index.AuditorConfig{
		Node: m.cfg.Region, Apply: m.d.Replica, Spool: spool,
		LastSeq:       index.TrailLastSeq(m.d.Replica, m.cfg.Region),
		MaxBatchBytes: m.cfg.MaxBatchBytes,
		ShipDelay:     m.shipDelay,
		Log:           m.log.With("component", "audit"),
	})
	if err != nil {
		_ = spool.Close()
		return err
	}
	m.spool.Store(spool)
	a.Start()
	m.auditor.Store(a)
	return nil
}

// Stop ships what it can while the replica still runs, then closes the
// spool.
func (m *Module) Stop(context.Context) error {
	if a := m.auditor.Swap(nil); a != nil {
		a.Stop()
	}
	if s := m.spool.Swap(nil); s != nil {
		if err := s.Close(); err != nil {
			return fmt.Errorf("audit spool: %w", err)
		}
	}
	return nil
}

// Record makes audit events durable before a disclosure: the recorder
// every module audits through. Before Start and after Stop it refuses
// (index.ErrAuditUnavailable), so nothing is disclosed.
func (m *Module) Record(ctx context.Context, events ...index.Event) error {
	a := m.auditor.Load()
	if a == nil {
		return index.ErrAuditUnavailable
	}
	return a.Record(ctx, events...)
}

// may asks the access policy and answers a refusal.
func (m *Module) may(w http.ResponseWriter, r *http.Request, act index.Action) bool {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return false
	}
	if err := index.Authorize(c, act, index.Target{Region: m.cfg.Region}).Err("resource"); err != nil {
		httpapi.Fail(w, r, err)
		return false
	}
	return true
}

// handleAuditVerify recomputes the audit trail's hash chain on this
// node's replica.
func (m *Module) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	if !m.may(w, r, index.ActVerifyAudit) {
		return
	}
	out := index.AuditVerification{Region: m.cfg.Region}
	var verr error
	applied, err := m.d.Replica.Read(r.Context(), consensus.Local, func(rd consensus.Reader) error {
		var rep index.AuditReport
		rep, verr = index.VerifyAudit(rd)
		out.Batches, out.Events, out.Head, out.Missing = rep.Batches, rep.Events, rep.Head, rep.Missing
		return nil
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	out.AppliedIndex = applied
	if s := m.spool.Load(); s != nil {
		out.Spooled, out.Quarantined = s.Len(), s.Quarantined()
	}
	if err := out.Verdict(verr); err != nil {
		httpapi.Log(r).Error("audit trail verification failed", "err", err)
	}
	httpapi.JSON(w, http.StatusOK, out)
}

// handleFeeding serves the authority the regions' feeding statistics:
// versions indexed per type and month, patients with a document, and the
// share of them with a patient summary. ?region=CODE picks one region
// (default: every member); ?from=YYYY-MM&to=YYYY-MM bound the months.
func (m *Module) handleFeeding(w http.ResponseWriter, r *http.Request) {
	if !m.may(w, r, index.ActFeeding) {
		return
	}
	regions, from, to, err := feedingQuery(r, m.d.Regions)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var out []index.Feeding
	applied, err := m.d.Replica.Read(r.Context(), consensus.Local, func(rd consensus.Reader) error {
		out = out[:0]
		for _, code := range regions {
			f, err := index.FeedingOf(rd, code, from, to)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set(fhirapi.HeaderAppliedIndex, strconv.FormatUint(applied, 10))
	httpapi.JSON(w, http.StatusOK, map[string]any{"regions": out})
}

// feedingQuery reads the feeding statistics' parameters.
func feedingQuery(r *http.Request, members func() []string) (regions []string, from, to string, err error) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		v    *string
	}{{"from", &from}, {"to", &to}} {
		*p.v = q.Get(p.name)
		if *p.v == "" {
			continue
		}
		if _, perr := time.Parse("2006-01", *p.v); perr != nil {
			return nil, "", "", httpapi.E(httpapi.ErrInvalid, p.name+": want YYYY-MM")
		}
	}
	if code := q.Get("region"); code != "" {
		if federation.RegionNames[code] == "" {
			return nil, "", "", httpapi.E(httpapi.ErrInvalid, "region: want a region code")
		}
		return []string{code}, from, to, nil
	}
	return members(), from, to, nil
}
