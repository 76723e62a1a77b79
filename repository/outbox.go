package repository

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/store"
)

// Outcome is how the federation answered one outbox operation.
type Outcome struct {
	Entry index.Entry // the committed entry, on success
	// Err is the index's refusal (a *consensus.Error), nil on success.
	Err error
}

// OutboxConfig configures the outbox worker.
type OutboxConfig struct {
	Store *store.Store
	// Apply replicates an index command (the node's consensus Apply).
	Apply func(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
	// Lookup reads an entry from the local index replica. It settles an
	// operation whose idempotency key the federation no longer remembers.
	Lookup func(ctx context.Context, id string) (index.Entry, bool, error)
	// InFlight bounds the operations sent to the federation at once; they
	// are group-committed there.
	InFlight int
	// Timeout bounds one attempt; Retry is the pause after a failed one.
	Timeout, Retry time.Duration
	// WaitApplied, when set, waits until the local replica has applied
	// a log index (read-your-writes for what the outbox committed).
	WaitApplied func(ctx context.Context, index uint64) error
	// Committed, when set, is told of every operation the index committed
	// once the store recorded it.
	Committed func(op store.Op)
	Log       *slog.Logger
}

// Validate refuses an unusable configuration.
func (c OutboxConfig) Validate() error {
	var errs []error
	if c.Store == nil || c.Apply == nil || c.Lookup == nil {
		errs = append(errs, errors.New("outbox: store, apply and lookup are required"))
	}
	if c.InFlight < 1 {
		errs = append(errs, errors.New("outbox: in-flight bound must be at least 1"))
	}
	if c.Timeout <= 0 || c.Retry <= 0 {
		errs = append(errs, errors.New("outbox: timeout and retry must be positive"))
	}
	return errors.Join(errs...)
}

// Outbox sends the store's outbox to the federation: each operation as
// an index command whose idempotency key is its workflow id, so one sent
// twice (a crash after the commit, before the store heard of it) is
// applied once. A commit completes the operation in the store; a refusal
// rolls it back; anything else is retried until it is one or the other.
type Outbox struct {
	cfg OutboxConfig
	log *slog.Logger

	mu       sync.Mutex
	inflight map[uint64]bool
	waiters  map[uint64][]chan Outcome
	retryAt  map[uint64]time.Time

	sem  chan struct{}
	wake chan struct{}
	stop chan struct{}
	// ctx ends at Stop: attempts in flight are cut rather than waited for
	// (their operations stay in the outbox).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewOutbox returns a stopped worker.
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Outbox{cfg: cfg, log: cfg.Log, inflight: map[uint64]bool{}, waiters: map[uint64][]chan Outcome{},
		retryAt: map[uint64]time.Time{}, sem: make(chan struct{}, cfg.InFlight),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), ctx: ctx, cancel: cancel}, nil
}

// Start runs the worker; what the outbox held at start is sent first.
func (o *Outbox) Start() {
	o.wg.Add(1)
	go o.loop()
}

// Stop cuts the operations in flight and stops. Those not answered stay
// in the outbox for the next start (the federation recognises a command
// it already applied by its idempotency key).
func (o *Outbox) Stop() {
	close(o.stop)
	o.cancel()
	o.wg.Wait()
}

// Kick tells the worker a new operation is waiting.
func (o *Outbox) Kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Wait returns the outcome of an operation, waiting for it if need be.
// The error is ctx's if it ends first: the operation stays queued and
// its workflow tells the rest.
func (o *Outbox) Wait(ctx context.Context, op store.Op) (Outcome, error) {
	ch := make(chan Outcome, 1)
	o.mu.Lock()
	o.waiters[op.Seq] = append(o.waiters[op.Seq], ch)
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		ws := o.waiters[op.Seq]
		for i, w := range ws {
			if w == ch {
				o.waiters[op.Seq] = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(o.waiters[op.Seq]) == 0 {
			delete(o.waiters, op.Seq)
		}
		o.mu.Unlock()
	}()
	o.Kick()
	// It may have ended before the waiter was registered.
	if out, done, err := o.settled(op); err != nil || done {
		return out, err
	}
	select {
	case out := <-ch:
		return out, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

// settled reads an operation's outcome from the store, if it has one.
func (o *Outbox) settled(op store.Op) (Outcome, bool, error) {
	w, err := o.cfg.Store.Workflow(op.Workflow, op.Operation)
	if err != nil {
		return Outcome{}, false, err
	}
	switch w.Status {
	case store.WorkflowSuccess:
		d, err := o.cfg.Store.Document(op.Doc)
		if err != nil {
			return Outcome{}, false, err
		}
		return Outcome{Entry: d.Entry}, true, nil
	case store.WorkflowError:
		return Outcome{Err: &consensus.Error{Code: consensus.Code(w.Code), Message: w.Message}}, true, nil
	}
	return Outcome{}, false, nil
}

// outboxIdleCheck is how often an idle worker reads the outbox anyway. New
// operations and ended attempts wake it at once (Kick); this only bounds
// how long a wake-up that never came could leave an operation waiting.
const outboxIdleCheck = time.Minute

func (o *Outbox) loop() {
	defer o.wg.Done()
	t := time.NewTimer(outboxIdleCheck)
	defer t.Stop()
	for {
		// A worker with nothing to retry sleeps until kicked: an idle
		// node does not poll its outbox.
		if o.dispatch() {
			t.Reset(o.cfg.Retry)
		} else {
			t.Reset(outboxIdleCheck)
		}
		select {
		case <-o.stop:
			// Let the attempts in flight end: their outcomes reach the store.
			for range cap(o.sem) {
				o.sem <- struct{}{}
			}
			return
		case <-o.wake:
		case <-t.C:
		}
	}
}

// dispatch sends every waiting operation not already in flight or
// pausing after a failure. It reports whether an operation pauses after a
// failure, or could not be read: then the outbox must be read again after
// Retry.
func (o *Outbox) dispatch() (again bool) {
	now := time.Now()
	limit := 4 * cap(o.sem)
	ops, err := o.cfg.Store.Outbox(limit, func(seq uint64) bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.inflight[seq] || now.Before(o.retryAt[seq])
	})
	if err != nil {
		o.log.Error("read the outbox", "err", err)
		return true
	}
	full := len(ops) == limit
	o.mu.Lock()
	if !full {
		// A pause that has ended for an operation the read did not return
		// belongs to one no longer in the outbox.
		read := make(map[uint64]bool, len(ops))
		for _, op := range ops {
			read[op.Seq] = true
		}
		for seq, at := range o.retryAt {
			if !now.Before(at) && !read[seq] && !o.inflight[seq] {
				delete(o.retryAt, seq)
			}
		}
	}
	again = len(o.retryAt) > 0
	o.mu.Unlock()
	for _, op := range ops {
		select {
		case o.sem <- struct{}{}:
		case <-o.stop:
			return
		}
		o.mu.Lock()
		o.inflight[op.Seq] = true
		o.mu.Unlock()
		go func() {
			final := o.send(op)
			<-o.sem
			// A failed attempt must be retried; after a full read, more
			// operations wait for the slot this one freed.
			if !final || full {
				o.Kick()
			}
		}()
	}
	return again
}

// send attempts one operation and reports whether it is settled.
func (o *Outbox) send(op store.Op) (final bool) {
	out, final := o.attempt(op)
	o.mu.Lock()
	delete(o.inflight, op.Seq)
	if !final {
		o.retryAt[op.Seq] = time.Now().Add(o.cfg.Retry)
		o.mu.Unlock()
		return false
	}
	delete(o.retryAt, op.Seq)
	ws := o.waiters[op.Seq]
	delete(o.waiters, op.Seq)
	o.mu.Unlock()
	for _, w := range ws {
		w <- out
	}
	return true
}

// command builds the index command of an operation.
func command(op store.Op) (consensus.Command, error) {
	var cmd consensus.Command
	var err error
	switch {
	case op.Kind == store.OpPublish && op.Entry != nil:
		cmd, err = index.Publish(*op.Entry)
	case op.Kind == store.OpUpdate && op.Update != nil:
		cmd, err = index.UpdateEntry(*op.Update)
	case op.Kind == store.OpWithdraw:
		cmd, err = index.Withdraw(op.Doc)
	default:
		err = fmt.Errorf("outbox operation %d: kind %q without its arguments", op.Seq, op.Kind)
	}
	cmd.Key = op.Key()
	return cmd, err
}

// attempt sends op once and records a final outcome in the store; it
// reports false when the attempt must be repeated.
func (o *Outbox) attempt(op store.Op) (Outcome, bool) {
	log := o.log.With("doc", op.Doc, "op", op.Kind, "seq", op.Seq)
	cmd, err := command(op)
	if err != nil {
		return o.refuse(op, log, &consensus.Error{Code: consensus.CodeInvalid, Message: err.Error()})
	}
	ctx, cancel := context.WithTimeout(o.ctx, o.cfg.Timeout)
	defer cancel()
	res, err := o.cfg.Apply(ctx, cmd)
	var de *consensus.Error
	switch {
	case err == nil:
		e, derr := index.DecodeEntry(res.Value)
		if derr != nil {
			log.Error("the index answered with an undecodable entry", "err", derr)
			return Outcome{}, false
		}
		// The change is answered once this replica has it too: a
		// document blinded at its custodian is hidden by the custodian's
		// next read, whichever node leads.
		if o.cfg.WaitApplied != nil {
			if werr := o.cfg.WaitApplied(ctx, res.Index); werr != nil {
				log.Warn("the committed change is not applied on this replica yet", "err", werr)
			}
		}
		return o.complete(op, log, e)
	case errors.As(err, &de):
		if de.Code == consensus.CodeAlreadyExists && op.Kind == store.OpPublish {
			// Applied long ago, its idempotency key forgotten since: the
			// entry itself says whether it is this document.
			if e, ok, lerr := o.cfg.Lookup(ctx, op.Doc); lerr == nil && ok && e.Hash == op.Entry.Hash && e.Custodian == op.Entry.Custodian {
				return o.complete(op, log, e)
			}
		}
		return o.refuse(op, log, de)
	case errors.Is(err, consensus.ErrInvalidCommand):
		return o.refuse(op, log, &consensus.Error{Code: consensus.CodeInvalid, Message: err.Error()})
	default:
		log.Warn("index command not committed; will retry", "err", err)
		return Outcome{}, false
	}
}

func (o *Outbox) complete(op store.Op, log *slog.Logger, e index.Entry) (Outcome, bool) {
	if err := o.cfg.Store.Complete(op, e); err != nil {
		log.Error("record a committed operation", "err", err)
		return Outcome{}, false
	}
	if o.cfg.Committed != nil {
		o.cfg.Committed(op)
	}
	return Outcome{Entry: e}, true
}

func (o *Outbox) refuse(op store.Op, log *slog.Logger, de *consensus.Error) (Outcome, bool) {
	if err := o.cfg.Store.Rollback(op, string(de.Code), de.Message); err != nil {
		log.Error("roll back a refused operation", "err", err)
		return Outcome{}, false
	}
	log.Info("index refused the operation; rolled back", "code", string(de.Code))
	return Outcome{Err: de}, true
}

// Pending counts the operations waiting, for metrics.
func (o *Outbox) Pending() (int, error) { return o.cfg.Store.OutboxLen() }

// OldestAge is how long the oldest operation in the outbox has waited
// for the federation's commit (0 when the outbox is empty), for metrics.
func (o *Outbox) OldestAge() (time.Duration, error) {
	ops, err := o.cfg.Store.Outbox(1, nil)
	if err != nil || len(ops) == 0 || ops[0].Queued.IsZero() {
		return 0, err
	}
	return max(time.Since(ops[0].Queued), 0), nil
}

// AgeGauge is the gauge of OldestAge, read at scrape time.
func (o *Outbox) AgeGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_repository_outbox_oldest_seconds",
		Help: "Seconds the oldest index command of this region's documents has waited in the outbox for the federation's commit (0: none waits)."},
		func() float64 {
			d, err := o.OldestAge()
			if err != nil {
				return 0
			}
			return d.Seconds()
		})
}
