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

// Auditor records audit events through consensus with group commit: the
// events of every Record waiting while a batch is in flight go out
// together in the next batch. Record returns only once its events are
// committed, so no clinical data leaves a node without its audit record
// being replicated first.
type Auditor struct {
	node  string
	apply Applier
	log   *slog.Logger

	mu      sync.Mutex
	pending []auditReq
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

type auditReq struct {
	events []Event
	done   chan error
}

// NewAuditor returns an auditor for the node of region node; Start runs it.
func NewAuditor(node string, apply Applier, log *slog.Logger) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	return &Auditor{node: node, apply: apply, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the commit loop.
func (a *Auditor) Start() { go a.run() }

// Stop commits what is pending and ends the loop.
func (a *Auditor) Stop() {
	close(a.stop)
	<-a.done
}

// Record appends events to the trail and waits until they are committed.
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
	select {
	case <-a.stop:
		a.mu.Unlock()
		return fmt.Errorf("%w: shutting down", ErrAuditUnavailable)
	default:
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
		// The events may still be committed; the caller discloses nothing.
		return fmt.Errorf("%w: %v", ErrAuditUnavailable, ctx.Err())
	}
}

func (a *Auditor) run() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
		case <-a.stop:
			a.flush()
			return
		}
		a.flush()
	}
}

// flush commits everything pending, in batches of at most maxAuditBatch
// events.
func (a *Auditor) flush() {
	for {
		a.mu.Lock()
		var batch []auditReq
		n := 0
		for len(a.pending) > 0 && (n == 0 || n+len(a.pending[0].events) <= maxAuditBatch) {
			batch = append(batch, a.pending[0])
			n += len(a.pending[0].events)
			a.pending = a.pending[1:]
		}
		a.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		var events []Event
		for _, r := range batch {
			events = append(events, r.events...)
		}
		err := a.commit(events)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (a *Auditor) commit(events []Event) error {
	cmd, err := AuditBatch(a.node, events)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	cmd.Key = fmt.Sprintf("audit-%s-%d", a.node, time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := a.apply.Apply(ctx, cmd); err != nil {
		a.log.Error("audit batch not committed", "events", len(events), "err", err)
		return fmt.Errorf("%w: %v", ErrAuditUnavailable, err)
	}
	return nil
}
