package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
)

// Applier replicates a command (a consensus.Node).
type Applier interface {
	Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

// ErrAuditUnavailable is returned by Record when the events could not be
// committed: the caller must not disclose what they describe.
var ErrAuditUnavailable = errors.New("index: audit trail unavailable")

// Auditor records audit events. Record returns once its events are
// durable in the node's Spool (group-committed: the events of every Record
// waiting while the spool writes go out in the next write); a second loop
// ships spooled events through consensus in batches, in order, and removes
// them from the spool once the trail holds them. No clinical data leaves a
// node before its audit record is on disk, and reads do not wait for a
// consensus round: a node cut off from the quorum keeps its events until
// it can ship them.
type Auditor struct {
	cfg AuditorConfig
	log *slog.Logger

	mu       sync.Mutex
	pending  []auditReq
	stopping bool
	wake     chan struct{}
	ship     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

// AuditorConfig configures an Auditor.
type AuditorConfig struct {
	// Node is the region whose node records the events.
	Node string
	// Apply replicates the batches (the node's consensus.Node).
	Apply Applier
	// Spool holds the events until the trail does.
	Spool *Spool
	// LastSeq reads, linearizably, the last event number the trail holds
	// for Node (LastAuditSeq under a strong read). A spool that has never
	// numbered an event numbers from the one after, so a lost spool
	// directory never makes numbers repeat. Until it can be read, Record
	// fails and nothing is disclosed.
	LastSeq func(ctx context.Context) (uint64, error)
	// MaxBatchBytes bounds the encoded events of one shipped batch. It
	// must leave room within the consensus BatchMaxBytes; zero means
	// DefaultAuditBatchBytes.
	MaxBatchBytes int
	// Log receives the auditor's errors; nil means slog.Default.
	Log *slog.Logger
	// ShipDelay, if set, observes for each event the trail took the
	// seconds from the event to its shipment (ShipDelayHistogram).
	ShipDelay prometheus.Observer
}

// ShipDelayHistogram is the histogram of AuditorConfig.ShipDelay: seconds
// from an audit event to its shipment into the replicated trail. It
// spans a normal shipment (milliseconds) and a node cut off from the
// quorum for an hour.
func ShipDelayHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "fsenet_audit_shipment_delay_seconds",
		Help:    "Seconds from an audit event on this node to its shipment into the replicated trail.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	})
}

// StateReader reads the replicated state (a consensus.Node).
type StateReader interface {
	Read(ctx context.Context, c consensus.Consistency, fn func(Reader) error) (uint64, error)
}

// TrailLastSeq returns the AuditorConfig.LastSeq of node: LastAuditSeq
// under a strong read of r.
func TrailLastSeq(r StateReader, node string) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (last uint64, err error) {
		_, rerr := r.Read(ctx, consensus.Strong, func(rd Reader) error {
			last, err = LastAuditSeq(rd, node)
			return err
		})
		return last, errors.Join(rerr, err)
	}
}

// DefaultAuditBatchBytes bounds a shipped batch when the configuration
// does not: half the consensus default BatchMaxBytes.
const DefaultAuditBatchBytes = 512 << 10

// Validate reports a configuration the auditor cannot run with.
func (c AuditorConfig) Validate() error {
	switch {
	case c.Node == "" || c.Apply == nil || c.Spool == nil || c.LastSeq == nil:
		return errors.New("index: auditor needs a node, an applier, a spool and LastSeq")
	case c.MaxBatchBytes < 0 || (c.MaxBatchBytes > 0 && c.MaxBatchBytes < 16<<10):
		return fmt.Errorf("index: audit MaxBatchBytes %d: want 0 or at least 16 KiB", c.MaxBatchBytes)
	}
	return nil
}

type auditReq struct {
	events []Event
	done   chan error
}

const (
	// shipRetry is how often shipping is retried after a failure.
	shipRetry = time.Second
	// floorTimeout bounds the read of the trail's last number.
	floorTimeout = 5 * time.Second
)

// NewAuditor returns an auditor; Start runs it.
func NewAuditor(cfg AuditorConfig) (*Auditor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBatchBytes == 0 {
		cfg.MaxBatchBytes = DefaultAuditBatchBytes
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Auditor{cfg: cfg, log: log,
		wake: make(chan struct{}, 1), ship: make(chan struct{}, 1), stop: make(chan struct{})}, nil
}

// Start runs the spool writer and the shipper.
func (a *Auditor) Start() {
	a.wg.Add(2)
	go a.writer()
	go a.shipper()
}

// Stop writes what is pending to the spool, makes one last attempt to ship
// the spool, and ends both loops. What is not shipped stays in the spool.
func (a *Auditor) Stop() {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	close(a.stop)
	a.wg.Wait()
}

// Record writes events to the spool and returns once they are durable;
// ErrAuditUnavailable means they are not, and nothing may be disclosed.
func (a *Auditor) Record(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	now := time.Now().UTC()
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = now
		}
		events[i].Node = a.cfg.Node
		if err := events[i].check(); err != nil {
			return fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
		}
	}
	r := auditReq{events: events, done: make(chan error, 1)}
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return fmt.Errorf("%w: shutting down", ErrAuditUnavailable)
	}
	a.pending = append(a.pending, r)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The events may still be spooled; the caller discloses nothing.
		return fmt.Errorf("%w: %v", ErrAuditUnavailable, ctx.Err())
	}
}

func (a *Auditor) writer() {
	defer a.wg.Done()
	for {
		select {
		case <-a.wake:
			a.write()
		case <-a.stop:
			a.write()
			return
		}
	}
}

// write spools everything pending in one durable write.
func (a *Auditor) write() {
	a.mu.Lock()
	batch := a.pending
	a.pending = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	var events []Event
	for _, r := range batch {
		events = append(events, r.events...)
	}
	err := a.number()
	if err == nil {
		err = a.cfg.Spool.append(events)
	}
	if err != nil {
		a.log.Error("audit events not spooled", "events", len(events), "err", err)
		err = fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	for _, r := range batch {
		r.done <- err
	}
	select {
	case a.ship <- struct{}{}:
	default:
	}
}

// number makes sure a spool that has never numbered an event starts after
// the trail's last number for this node.
func (a *Auditor) number() error {
	if a.cfg.Spool.Numbered() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), floorTimeout)
	defer cancel()
	last, err := a.cfg.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("numbering audit events: the trail's last number for %s cannot be read: %w", a.cfg.Node, err)
	}
	a.cfg.Spool.SetFloor(last + 1)
	return nil
}

func (a *Auditor) shipper() {
	defer a.wg.Done()
	// The first pass ships what an earlier run left in the spool; after
	// that the shipper sleeps until the writer spools events, unless a
	// shipment left some behind (retried after shipRetry).
	t := time.NewTimer(0)
	defer t.Stop()
	// A shipment in progress when Stop comes (a federation without a
	// quorum retries until its deadline) is cut at once: Stop makes its
	// own last, bounded attempt.
	running, cancelRunning := context.WithCancel(context.Background())
	defer cancelRunning()
	go func() {
		select {
		case <-a.stop:
			cancelRunning()
		case <-running.Done():
		}
	}()
	for {
		select {
		case <-a.ship:
		case <-t.C:
		case <-a.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.shipAll(ctx)
			cancel()
			return
		}
		a.shipAll(running)
		if a.cfg.Spool.Len() > 0 {
			t.Reset(shipRetry)
		}
	}
}

// shipAll ships the spool in batches until it is empty or a batch fails
// for a reason that may pass (retried on the next tick). A batch the trail
// refuses for good is halved until the refused event is alone; that event
// is quarantined (kept in the spool directory, out of the queue, its number
// reported missing by verification) so that it does not hold back the
// events after it.
func (a *Auditor) shipAll(ctx context.Context) {
	limit := maxAuditBatch
	for {
		events, err := a.cfg.Spool.pending(limit, a.cfg.MaxBatchBytes)
		if err != nil {
			a.log.Error("reading the audit spool", "err", err)
			return
		}
		if len(events) == 0 {
			return
		}
		err = a.commit(ctx, events)
		switch {
		case err == nil:
			a.observeShipped(events)
			if err := a.cfg.Spool.ack(events[len(events)-1].NodeSeq); err != nil {
				a.log.Error("removing replicated events from the audit spool", "err", err)
				return
			}
			limit = maxAuditBatch
		case refusedForGood(err) && len(events) > 1:
			limit = len(events) / 2
		case refusedForGood(err):
			seq := events[0].NodeSeq
			if qerr := a.cfg.Spool.quarantine(seq); qerr != nil {
				a.log.Error("quarantining a refused audit event", "node_seq", seq, "err", qerr)
				return
			}
			a.log.Error("the audit trail refused an event; it is quarantined in the spool and will show as missing", "node_seq", seq, "err", err)
			limit = maxAuditBatch
		case errors.Is(err, consensus.ErrForbidden):
			a.log.Error("the audit trail refuses this node's batches; kept in the spool", "events", len(events), "err", err)
			return
		default:
			a.log.Warn("audit batch not replicated yet; kept in the spool", "events", len(events), "err", err)
			return
		}
	}
}

// observeShipped observes the delay of each event the trail took.
func (a *Auditor) observeShipped(events []Event) {
	if a.cfg.ShipDelay == nil {
		return
	}
	now := time.Now()
	for _, e := range events {
		a.cfg.ShipDelay.Observe(max(now.Sub(e.Time), 0).Seconds())
	}
}

// refusedForGood reports an error that a retry of the same batch would
// meet again.
func refusedForGood(err error) bool {
	return errors.Is(err, consensus.ErrInvalidCommand) || errors.Is(err, consensus.ErrInvalid) || errors.Is(err, errAuditInvalid)
}

func (a *Auditor) commit(ctx context.Context, events []Event) error {
	cmd, err := AuditBatch(a.cfg.Node, events)
	if err != nil {
		return err
	}
	// The trail skips numbers it holds, so a retry of a batch whose answer
	// was lost appends nothing twice; the key makes the retry cheap.
	cmd.Key = fmt.Sprintf("audit-%s-%d-%d", a.cfg.Node, events[0].NodeSeq, events[len(events)-1].NodeSeq)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = a.cfg.Apply.Apply(ctx, cmd)
	return err
}
