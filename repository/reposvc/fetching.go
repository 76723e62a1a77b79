package reposvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/repository/fetch"
)

// Defaults of the fetch limits.
const (
	// DefaultFetchFirstByte is how long a fetch waits for a free slot, and
	// then for the custodian's first answer.
	DefaultFetchFirstByte = 5 * time.Second
)

// perRegionDefault is a region's share of maxFetches when the
// configuration does not set one: a quarter, at least one.
func perRegionDefault(maxFetches int) int { return max(1, maxFetches/4) }

// fetchSlots bounds the documents this node fetches at once: in all, and
// from each custodian region (its share), so that a region that does not
// answer holds only its own share and the other regions' documents are
// still fetched.
type fetchSlots struct {
	all   chan struct{}
	share int

	mu      sync.Mutex
	regions map[string]chan struct{} // member regions only: bounded
}

func newFetchSlots(all, share int) *fetchSlots {
	return &fetchSlots{all: make(chan struct{}, all), share: share, regions: map[string]chan struct{}{}}
}

func (s *fetchSlots) of(region string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.regions[region]
	if !ok {
		c = make(chan struct{}, s.share)
		s.regions[region] = c
	}
	return c
}

// take waits, until ctx ends, for one of region's slots and then for one
// of all; release gives both back (once). A wait that ends is
// fetch.ErrBusy, saying which bound stayed full. The region's slot comes
// first: reads waiting on a region that does not answer never hold a
// slot the others need.
func (s *fetchSlots) take(ctx context.Context, region string) (release func(), err error) {
	rs := s.of(region)
	select {
	case rs <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: all %d fetches from region %s stayed in flight", fetch.ErrBusy, cap(rs), region)
	}
	select {
	case s.all <- struct{}{}:
	case <-ctx.Done():
		<-rs
		return nil, fmt.Errorf("%w: all %d fetch slots stayed busy", fetch.ErrBusy, cap(s.all))
	}
	var once sync.Once
	return func() { once.Do(func() { <-s.all; <-rs }) }, nil
}

// Outcomes of a fetch, the outcome label of fsenet_repository_fetches_total.
const (
	outcomeOK       = "ok"       // the content, whole and matching the index
	outcomeRefused  = "refused"  // the custodian refused (for this caller, or cannot serve now)
	outcomeBusy     = "busy"     // no slot free in time: the custodian was not asked
	outcomeTimeout  = "timeout"  // no answer within the first-byte limit, or silence mid-content
	outcomeMismatch = "mismatch" // content that does not match the index
	outcomeCanceled = "canceled" // the caller went away, or stopped reading
	outcomeFailed   = "failed"   // unreachable, outside the protocol, or cut
)

// fetchMetrics are the fetches from other regions, by custodian region.
type fetchMetrics struct {
	total     *prometheus.CounterVec   // custodian, outcome
	bytes     *prometheus.CounterVec   // custodian
	firstByte *prometheus.HistogramVec // custodian
	inFlight  *prometheus.GaugeVec     // custodian
}

func newFetchMetrics() *fetchMetrics {
	return &fetchMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fsenet_repository_fetches_total",
			Help: "Documents fetched from other regions, by custodian region and outcome (ok, refused, busy, timeout, mismatch, canceled, failed)."},
			[]string{"custodian", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fsenet_repository_fetch_bytes_total",
			Help: "Content bytes fetched from other regions (uncompressed, checked against the index), by custodian region."},
			[]string{"custodian"}),
		firstByte: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fsenet_repository_fetch_first_byte_seconds",
			Help:    "Time from asking another region for a document to its answer (content or refusal), by custodian region.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)},
			[]string{"custodian"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fsenet_repository_fetches_in_flight",
			Help: "Fetches holding one of this node's slots, by custodian region: waiting for its answer or streaming its content."},
			[]string{"custodian"}),
	}
}

func (f *fetchMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{f.total, f.bytes, f.firstByte, f.inFlight}
}

// outcome classifies a fetch's failure, ctx being the caller's.
func outcome(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, fetch.ErrMismatch):
		return outcomeMismatch
	case errors.Is(err, fetch.ErrRefused):
		return outcomeRefused
	case errors.Is(err, fetch.ErrNoAnswer), errors.Is(err, context.DeadlineExceeded):
		return outcomeTimeout
	case errors.Is(ctx.Err(), context.Canceled), errors.Is(err, context.Canceled):
		return outcomeCanceled
	case errors.Is(err, fetch.ErrBusy):
		return outcomeBusy
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return outcomeTimeout // the caller's time ran out in the middle of the content
	}
	return outcomeFailed
}

// fetchDocument fetches a document's content from the region that keeps
// it, on a caller's behalf. It waits at most FetchFirstByte for one of
// the region's slots and one of the node's (fetch.ErrBusy past it), then
// at most as long for the custodian's answer (fetch.ErrNoAnswer past it,
// the stream reset), and holds both slots until the content is closed;
// the content may then take as long as ctx allows, the custodian never
// falling silent longer than FetchFirstByte.
func (m *Module) fetchDocument(ctx context.Context, region, doc, token string, want fetch.Want) (io.ReadCloser, error) {
	p, ok := m.d.RegionPeer(region)
	if !ok {
		m.fetches.total.WithLabelValues(region, outcomeFailed).Inc()
		return nil, fmt.Errorf("region %s is not a member of the federation", region)
	}
	wait, cancel := context.WithTimeout(ctx, m.cfg.FetchFirstByte)
	release, err := m.slots.take(wait, region)
	cancel()
	if err != nil {
		m.fetches.total.WithLabelValues(region, outcome(ctx, err)).Inc()
		return nil, err
	}
	inFlight := m.fetches.inFlight.WithLabelValues(region)
	inFlight.Inc()
	done := func(outcome string) {
		release()
		inFlight.Dec()
		m.fetches.total.WithLabelValues(region, outcome).Inc()
	}
	start := time.Now()
	q := fetch.Requester{Host: m.d.Host, FirstByte: m.cfg.FetchFirstByte, Idle: m.cfg.FetchFirstByte}
	rc, err := q.Fetch(ctx, p, doc, token, want)
	if err == nil || errors.Is(err, fetch.ErrRefused) {
		m.fetches.firstByte.WithLabelValues(region).Observe(time.Since(start).Seconds())
	}
	if err != nil {
		done(outcome(ctx, err))
		return nil, err
	}
	return &fetchedContent{ReadCloser: rc, ctx: ctx, bytes: m.fetches.bytes.WithLabelValues(region), done: done}, nil
}

// fetchedContent is a fetch's content as the caller reads it: it counts
// the bytes, and its close gives the slots back and counts the fetch's
// outcome (once).
type fetchedContent struct {
	io.ReadCloser
	ctx   context.Context
	bytes prometheus.Counter
	done  func(outcome string)

	whole bool  // read to its end, matching the index
	err   error // the read that failed
	once  sync.Once
}

func (c *fetchedContent) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.bytes.Add(float64(n))
	switch {
	case err == io.EOF:
		c.whole = true
	case err != nil && c.err == nil:
		c.err = err
	}
	return n, err
}

func (c *fetchedContent) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() {
		switch {
		case c.whole:
			c.done(outcomeOK)
		case c.err != nil:
			c.done(outcome(c.ctx, c.err))
		default:
			c.done(outcomeCanceled) // closed before its end
		}
	})
	return err
}
