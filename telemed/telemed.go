package telemed

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/catalog"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// Replica is the node's replica of the federation's state.
type Replica interface {
	Read(ctx context.Context, c consensus.Consistency, fn func(consensus.Reader) error) (uint64, error)
	Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

// Config configures the module.
type Config struct {
	Region    string // this node's region
	PublicURL string // the node's public base URL (http.public_url)
	// Dir holds the region's schedule (absolute); empty: this node keeps
	// none (it still serves the catalogue and forwards bookings).
	Dir string
	// MonitorDir holds the telemonitoring of the region's patients
	// (absolute); empty: this node keeps none.
	MonitorDir string
	// EscalateAfter is how long an alert waits for its assignee's
	// acknowledgement before it goes to the team's next member (default
	// 15 minutes).
	EscalateAfter time.Duration
	// ProviderDeadline bounds a call to another region's node (default 5 s).
	ProviderDeadline time.Duration
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	if federation.RegionNames[c.Region] == "" {
		return fmt.Errorf("region %q is not a region code", c.Region)
	}
	return nil
}

// Deps are what the module needs from the node.
type Deps struct {
	Replica Replica
	// Caller is the policy's view of a request's authenticated caller;
	// Verify checks a token another region's node forwards.
	Caller func(*http.Request) (index.Caller, bool)
	Verify func(token string) (federation.Claims, error)
	// Audit records accesses to patients' appointments before they are
	// answered (the index module).
	Audit Recorder
	// Host calls other regions' nodes; RegionPeer finds a member's node.
	Host       host.Host
	RegionPeer func(code string) (peer.ID, bool)
	// SignKey signs video-session tokens: the node's own key, whose public
	// half is its certified peer ID (KeyID).
	SignKey ed25519.PrivateKey
	KeyID   string
	Log     *slog.Logger
}

// Recorder makes audit events durable (the index module).
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Module is a node's part of national telemedicine.
type Module struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	catalog *catalog.Machine
	// store is the region's schedule (nil: none here, or closed). mu is
	// held for reading while a request uses it, and for writing by Stop,
	// which so waits for requests in flight before closing it.
	mu      sync.RWMutex
	store   *booking.Store
	monitor *monitor.Store
	// The alert dispatcher: kicked when readings raise alerts, stopped
	// (cancel, then done closes) before the stores close.
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

var _ module.Module = (*Module)(nil)

// New prepares the module.
func New(cfg Config, d Deps) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Replica == nil || d.Caller == nil {
		return nil, errors.New("replica and caller are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if cfg.ProviderDeadline <= 0 {
		cfg.ProviderDeadline = 5 * time.Second
	}
	if cfg.EscalateAfter <= 0 {
		cfg.EscalateAfter = defaultEscalateAfter
	}
	m := &Module{cfg: cfg, d: d, log: d.Log, catalog: catalog.New(), kick: make(chan struct{}, 1)}
	if cfg.Dir != "" {
		if d.Verify == nil || d.Audit == nil || d.Host == nil || d.RegionPeer == nil {
			return nil, errors.New("a schedule needs token verification, audit, a host and the members' peers")
		}
		var err error
		if m.store, err = booking.Open(cfg.Dir, cfg.Region, d.Log.With("subsystem", "schedule")); err != nil {
			return nil, err
		}
		if cfg.MonitorDir != "" {
			if m.monitor, err = monitor.Open(cfg.MonitorDir, d.Log.With("subsystem", "telemonitoring")); err != nil {
				_ = m.store.Close()
				return nil, err
			}
		}
	}
	return m, nil
}

// Name implements module.Module.
func (m *Module) Name() string { return "telemed" }

// The files of the module's stores in a region's backup.
const (
	ScheduleBackupFile   = "telemed-schedule.badger"
	MonitoringBackupFile = "telemed-monitoring.badger"
)

// BackupStores are the module's stores in a region's backup, by the name
// of their file: each writes a consistent copy of its whole store. A
// store this node does not keep is not listed.
func (m *Module) BackupStores() map[string]func(io.Writer) error {
	out := map[string]func(io.Writer) error{}
	if m.store != nil {
		out[ScheduleBackupFile] = m.store.Backup
	}
	if m.monitor != nil {
		out[MonitoringBackupFile] = m.monitor.Backup
	}
	return out
}

// Register declares the catalogue's commands and routes.
func (m *Module) Register(r *module.Registrar) error {
	if err := m.catalog.Register(r.Commands); err != nil {
		return err
	}
	r.Routes.HandleFunc("GET /fhir/HealthcareService/{id}", m.readService)
	r.Routes.HandleFunc("GET /fhir/HealthcareService", m.searchServices)
	r.Routes.HandleFunc("POST /fhir/HealthcareService", m.createService)
	r.Routes.HandleFunc("PUT /fhir/HealthcareService/{id}", m.updateService)
	r.Routes.HandleFunc("POST /fhir/HealthcareService/{id}/$adopt", m.adoptService)
	r.Routes.HandleFunc("GET /v1/authority/telemed/reuse", m.reuse)
	r.Capabilities.Interactions(fhir.ResourceTypeHealthcareService, []fhir.TypeRestfulInteraction{
		fhir.TypeRestfulInteractionRead, fhir.TypeRestfulInteractionSearchType, fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionUpdate},
		fhirres.SearchParam{Name: "service-type", Type: fhir.SearchParamTypeToken}, fhirres.SearchParam{Name: "specialty", Type: fhir.SearchParamTypeToken},
		fhirres.SearchParam{Name: "characteristic", Type: fhir.SearchParamTypeToken}, fhirres.SearchParam{Name: "organization", Type: fhir.SearchParamTypeToken},
		fhirres.SearchParam{Name: "communication", Type: fhir.SearchParamTypeToken}, fhirres.SearchParam{Name: "active", Type: fhir.SearchParamTypeToken})
	r.Capabilities.Operation(fhir.ResourceTypeHealthcareService, "adopt")
	m.registerTemplates(r.Routes, r.Capabilities)
	m.registerPractitioners(r.Routes, r.Capabilities)
	if m.store != nil {
		m.registerVisits(r.Routes, r.Capabilities)
		m.registerCare(r.Routes, r.Capabilities)
		m.serveProtocol(r.Protocols)
	}
	if m.monitor != nil {
		m.registerMonitoring(r.Routes, r.Capabilities)
		m.registerMonitoringDocs(r.Routes, r.Capabilities)
		m.registerAlerts(r.Routes, r.Capabilities)
		m.serveAlerts(r.Protocols)
		m.serveMoves(r.Protocols)
	}
	return nil
}

// Start starts the alert dispatcher (the stores were opened by New).
func (m *Module) Start(context.Context) error {
	if m.monitor != nil {
		var ctx context.Context
		ctx, m.cancel = context.WithCancel(context.Background())
		m.done = make(chan struct{})
		go func() {
			defer close(m.done)
			m.dispatch(ctx)
		}()
	}
	return nil
}

// Stop stops the dispatcher and closes the stores.
func (m *Module) Stop(context.Context) error {
	if m.cancel != nil {
		m.cancel()
		<-m.done
		m.cancel = nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	if m.monitor != nil {
		errs = append(errs, m.monitor.Close())
		m.monitor = nil
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
		m.store = nil
	}
	return errors.Join(errs...)
}

// decide asks the access policy; a refusal is answered.
func (m *Module) decide(w http.ResponseWriter, r *http.Request, act index.Action, t index.Target) (index.Caller, bool) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return c, false
	}
	if err := index.Authorize(c, act, t).Err("HealthcareService"); err != nil {
		httpapi.Fail(w, r, err)
		return c, false
	}
	return c, true
}

// read runs fn on the local replica (strongly when the client asks, or
// when a write decides on what it reads).
func (m *Module) read(r *http.Request, strong bool, fn func(consensus.Reader) error) (uint64, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	c := consensus.Local
	if strong || strings.EqualFold(r.Header.Get("Fsenet-Consistency"), "strong") {
		c = consensus.Strong
	}
	applied, err := m.d.Replica.Read(ctx, c, fn)
	if err != nil {
		return 0, httpapi.Wrap(httpapi.ErrUnavailable, "the catalogue could not be read; retry", err)
	}
	return applied, nil
}

func (m *Module) base(r *http.Request) string { return fhirres.Base(r, m.cfg.PublicURL) }

func writeFHIR(w http.ResponseWriter, status int, applied uint64, v any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	if applied > 0 {
		w.Header().Set("Fsenet-Applied-Index", strconv.FormatUint(applied, 10))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads a FHIR body of at most 64 KiB.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return readBodyMax(w, r, 64<<10)
}

// readBodyMax reads a body of at most max bytes.
func readBodyMax(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, httpapi.Wrap(httpapi.ErrTooLarge, fmt.Sprintf("the body exceeds %d KiB", max>>10), err)
		}
		return nil, httpapi.Wrap(httpapi.ErrInvalid, "the body could not be read", err)
	}
	return b, nil
}

func newLocalID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func itoa(v int) string { return strconv.Itoa(v) }

// jsonRaw passes a replicated answer through as JSON.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return j, nil }

func decodeService(b []byte) (catalog.Service, error) {
	var s catalog.Service
	err := json.Unmarshal(b, &s)
	return s, err
}
