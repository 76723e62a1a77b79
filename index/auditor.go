package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	node  string
	apply Applier
	spool *Spool
	log   *slog.Logger

	mu       sync.Mutex
	pending  []auditReq
	stopping bool
	wake     chan struct{}
	ship     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

type auditReq struct {
	events []Event
	done   chan error
}

// shipRetry is how often shipping is retried after a failure.
const shipRetry = time.Second

// NewAuditor returns an auditor for the node of region node, spooling to
// spool and shipping through apply; Start runs it.
func NewAuditor(node string, apply Applier, spool *Spool, log *slog.Logger) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	return &Auditor{node: node, apply: apply, spool: spool, log: log,
		wake: make(chan struct{}, 1), ship: make(chan struct{}, 1), stop: make(chan struct{})}
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
		events[i].Node = a.node
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
	err := a.spool.append(events)
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

func (a *Auditor) shipper() {
	defer a.wg.Done()
	t := time.NewTicker(shipRetry)
	defer t.Stop()
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
		a.shipAll(context.Background())
	}
}

// shipAll ships the spool in batches until it is empty or a batch fails
// (retried on the next tick).
func (a *Auditor) shipAll(ctx context.Context) {
	for {
		events, err := a.spool.pending(maxAuditBatch)
		if err != nil {
			a.log.Error("reading the audit spool", "err", err)
			return
		}
		if len(events) == 0 {
			return
		}
		if err := a.commit(ctx, events); err != nil {
			a.log.Warn("audit batch not replicated yet; kept in the spool", "events", len(events), "err", err)
			return
		}
		if err := a.spool.ack(events[len(events)-1].NodeSeq); err != nil {
			a.log.Error("removing replicated events from the audit spool", "err", err)
			return
		}
	}
}

func (a *Auditor) commit(ctx context.Context, events []Event) error {
	cmd, err := AuditBatch(a.node, events)
	if err != nil {
		return err
	}
	// The trail skips numbers it holds, so a retry of a batch whose answer
	// was lost appends nothing twice; the key makes the retry cheap.
	cmd.Key = fmt.Sprintf("audit-%s-%d-%d", a.node, events[0].NodeSeq, events[len(events)-1].NodeSeq)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err = a.apply.Apply(ctx, cmd)
	return err
}
