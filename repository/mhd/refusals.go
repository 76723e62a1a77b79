package mhd

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fsenet/fsenet/index"
)

// Refused reads are audited off the answer's path: the answer to a
// document the caller may not open must cost what the answer to an absent
// one costs, and making an audit record durable (an fsync of the spool)
// costs more than the whole answer. A refusal discloses nothing, so its
// record may follow the answer; it is made durable by a worker that takes
// every refusal waiting, in one record, and then tells the custodians of
// the attempts on their documents. The worker starts refusalDelay after
// the first refusal it finds waiting: its work then neither delays that
// answer nor follows it closely enough to be told from the load of the
// node's other requests.
const (
	// maxRefusalsQueued bounds the refusals waiting for their record;
	// past it a refusal is recorded on its answer's path, as before the
	// answer, and logged.
	maxRefusalsQueued = 4096
	// refusalRecordTimeout bounds one record of queued refusals.
	refusalRecordTimeout = 30 * time.Second
	// refusalDelay is how long refusals wait for the worker.
	refusalDelay = 20 * time.Millisecond
)

// refusal is a refused read's audit event and, for a document another
// region keeps, what tells that region (nil: nobody to tell).
type refusal struct {
	ev   index.Event
	tell func()
}

// refusals queues refused reads for a worker that records them and tells
// their custodians.
type refusals struct {
	audit Recorder
	log   *slog.Logger

	mu      sync.Mutex
	queue   []refusal
	running bool // a worker is recording
	idle    *sync.Cond
}

func newRefusals(audit Recorder, log *slog.Logger) *refusals {
	q := &refusals{audit: audit, log: log}
	q.idle = sync.NewCond(&q.mu)
	return q
}

// add queues r and returns at once; with the queue full it records r
// itself (on ctx), returning once it is durable, and tells its custodian.
func (q *refusals) add(ctx context.Context, r refusal) {
	q.mu.Lock()
	if len(q.queue) >= maxRefusalsQueued {
		q.mu.Unlock()
		q.log.Warn("too many refused reads waiting for their audit record; this one is recorded before its answer")
		if err := q.audit.Record(ctx, r.ev); err != nil {
			q.log.Error("audit record of a refused read failed", "err", err)
		}
		if r.tell != nil {
			r.tell()
		}
		return
	}
	q.queue = append(q.queue, r)
	if !q.running {
		q.running = true
		time.AfterFunc(refusalDelay, q.work)
	}
	q.mu.Unlock()
}

// work records what is queued, all of it at a time, and tells the
// custodians, until the queue is empty.
func (q *refusals) work() {
	for {
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		if len(batch) == 0 {
			q.running = false
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		events := make([]index.Event, len(batch))
		for i, r := range batch {
			events[i] = r.ev
		}
		ctx, cancel := context.WithTimeout(context.Background(), refusalRecordTimeout)
		if err := q.audit.Record(ctx, events...); err != nil {
			q.log.Error("audit record of refused reads failed", "events", len(events), "err", err)
		}
		cancel()
		for _, r := range batch {
			if r.tell != nil {
				r.tell()
			}
		}
	}
}

// wait returns once nothing is queued or being recorded.
func (q *refusals) wait() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.running {
		q.idle.Wait()
	}
}
