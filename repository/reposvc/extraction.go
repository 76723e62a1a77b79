package reposvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/pdfcda"
	"github.com/fsenet/fsenet/repository/store"
)

// Extractor derives a document's facts from its content: a CDA (XML), a
// PDF carrying one, or a FHIR document Bundle. It returns an error
// wrapping ErrUnsupported for a type or format it does not map.
type Extractor func(content []byte, mime string) (facts.Extraction, error)

// ErrUnsupported: the extraction maps nothing of this document.
var ErrUnsupported = errors.New("no extraction for this document")

// extractBatch is how many marked versions the worker reads at once.
const extractBatch = 64

// extractor is the worker that derives the facts of every version the
// index commits, one at a time, so extraction never competes with
// publication for more than one core. Marks are durable: a version
// committed while the node stops is extracted when it starts again.
type extractor struct {
	docs    *store.Store
	extract Extractor
	version int
	log     *slog.Logger
	wake    chan struct{}

	outcomes *prometheus.CounterVec
	count    prometheus.Counter
	seconds  prometheus.Histogram
	pending  prometheus.GaugeFunc

	stop context.CancelFunc
	wg   sync.WaitGroup
}

func newExtractor(docs *store.Store, extract Extractor, version int, log *slog.Logger) *extractor {
	x := &extractor{docs: docs, extract: extract, version: version, log: log, wake: make(chan struct{}, 1),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fsenet_facts_extractions_total",
			Help: "Document versions whose structured data was extracted, by outcome (ok, unsupported, failed)."}, []string{"outcome"}),
		count: prometheus.NewCounter(prometheus.CounterOpts{Name: "fsenet_facts_extracted_total",
			Help: "FHIR resources extracted from this region's documents."}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fsenet_facts_extraction_seconds",
			Help: "Time to extract and store one document version's structured data.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	x.pending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fsenet_facts_extraction_pending",
		Help: "Committed document versions of this region whose structured data is not extracted yet."},
		func() float64 {
			n, err := docs.PendingCount()
			if err != nil {
				return 0
			}
			return float64(n)
		})
	for _, o := range []string{store.ExtractOK, store.ExtractUnsupported, store.ExtractFailed} {
		x.outcomes.WithLabelValues(o)
	}
	return x
}

func (x *extractor) collectors() []prometheus.Collector {
	return []prometheus.Collector{x.outcomes, x.count, x.seconds, x.pending}
}

// start marks what an older extraction left behind, then drains the marks.
func (x *extractor) start() {
	if n, err := x.docs.MarkExtraction(true, x.version); err != nil {
		x.log.Error("marking documents for extraction failed; their structured data is extracted when they are published again", "err", err)
	} else if n > 0 {
		x.log.Info("extracting the structured data of stored documents", "documents", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x.stop = cancel
	x.wg.Add(1)
	go func() { defer x.wg.Done(); x.run(ctx) }()
}

func (x *extractor) close() {
	if x.stop != nil {
		x.stop()
		x.wg.Wait()
		x.stop = nil
	}
}

// poke tells the worker there may be new marks.
func (x *extractor) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *extractor) run(ctx context.Context) {
	for {
		docs, err := x.docs.PendingExtractions(extractBatch)
		if err != nil && !errors.Is(err, store.ErrClosed) {
			x.log.Error("reading the documents to extract", "err", err)
		}
		done := 0
		for _, id := range docs {
			if ctx.Err() != nil {
				return
			}
			if x.one(id) {
				done++
			}
		}
		// A full batch that made progress: on to the next at once. One
		// that made none (the store failing) waits like an empty one.
		if len(docs) == extractBatch && done > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		case <-time.After(time.Minute): // marks made by a restore, or a retry
		}
	}
}

// one extracts a version and stores the outcome; it reports whether
// the mark is gone. A failure is recorded as the version's outcome (and
// counted), never retried in a loop: the document is kept and served
// whatever its extraction says.
func (x *extractor) one(id string) bool {
	start := time.Now()
	d, err := x.docs.Document(id)
	if errors.Is(err, store.ErrNotFound) {
		// Marked, then rolled back: nothing to extract.
		return x.docs.DropExtractionMark(id) == nil
	}
	if err != nil {
		x.log.Error("a document marked for extraction cannot be read", "doc", id, "err", err)
		return false
	}
	res := store.ExtractionResult{Record: store.Extracted{Doc: id, Patient: d.Entry.Patient, Version: x.version, At: time.Now().UTC()}}
	ex, err := x.content(d)
	switch {
	case errors.Is(err, ErrUnsupported):
		res.Record.Outcome, res.Record.Reason = store.ExtractUnsupported, err.Error()
	case err != nil:
		res.Record.Outcome, res.Record.Reason = store.ExtractFailed, err.Error()
		x.log.Warn("structured data could not be extracted from a document; it is served as a document only", "doc", id, "err", err)
	default:
		res.Record.Outcome, res.Record.Facts, res.Record.Skipped = store.ExtractOK, len(ex.Facts), ex.Skipped
		res.Facts = ex.Facts
	}
	// Every version is counted as a document in population questions,
	// whatever its facts.
	res.Rows = rowsOf(d, ex)
	if err := x.docs.PutExtraction(res); err != nil {
		if !errors.Is(err, store.ErrClosed) {
			x.log.Error("storing a document's structured data failed", "doc", id, "err", err)
		}
		return false
	}
	x.outcomes.WithLabelValues(res.Record.Outcome).Inc()
	x.count.Add(float64(len(res.Facts)))
	x.seconds.Observe(time.Since(start).Seconds())
	return true
}

// content reads the version's content and extracts it.
func (x *extractor) content(d store.Document) (facts.Extraction, error) {
	b, err := x.docs.ReadAll(d.Entry.Hash)
	if err != nil {
		return facts.Extraction{}, fmt.Errorf("reading the content: %w", err)
	}
	mime := strings.ToLower(d.Entry.MIME)
	if mime == "application/pdf" {
		cda, err := pdfcda.Extract(bytes.NewReader(b))
		switch {
		case errors.Is(err, pdfcda.ErrNoCDA):
			return facts.Extraction{}, fmt.Errorf("%w: a PDF without a CDA", ErrUnsupported)
		case err != nil:
			return facts.Extraction{}, fmt.Errorf("the PDF's CDA: %w", err)
		}
		b, mime = cda, "text/xml"
	}
	return x.extract(b, mime)
}

// rowsOf makes the version's population rows: one for the document
// itself, one for each fact.
func rowsOf(d store.Document, ex facts.Extraction) []facts.Row {
	e := d.Entry
	base := facts.Row{Gender: ex.Subject.Gender, Province: ex.Subject.Province, Facility: e.AuthorOrgID, Age: -1}
	when := e.ServiceStart
	if when.IsZero() {
		when = e.Created
	}
	doc := base
	doc.Resource, doc.System, doc.Code = facts.DocumentReference, facts.SystemLOINC, e.Type
	doc.Date = dayUTC(when)
	doc.Age = ageOn(ex.Subject.BirthDate, doc.Date)
	doc.Status = e.Status
	rows := []facts.Row{doc}
	for _, f := range ex.Facts {
		if len(f.Code) == 0 {
			continue
		}
		r := base
		r.Resource, r.System, r.Code, r.Status = f.Type, f.Code[0].System, f.Code[0].Code, f.Status
		r.Date = dateOf(f.Effective)
		if r.Date.IsZero() {
			r.Date = doc.Date
		}
		r.Age = ageOn(ex.Subject.BirthDate, r.Date)
		if f.Value != nil {
			r.Value, r.HasValue, r.Unit = f.Value.Value, true, f.Value.Unit
		} else if f.ValueCode != nil {
			r.Unit = "" // a coded value counts, it does not sum
		}
		rows = append(rows, r)
	}
	return rows
}

// dayUTC is t's calendar day in Italy, as a UTC midnight.
func dayUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	y, m, d := t.In(facts.Rome).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dateOf is the day a FHIR date or dateTime names (its own calendar
// date, as written), zero when it names none.
func dateOf(s string) time.Time {
	if len(s) >= 10 {
		if t, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return t
		}
	}
	for _, layout := range []string{"2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// ageOn is the age in whole years on day of someone born on birth
// (YYYY-MM-DD, YYYY-MM or YYYY); -1 when either is unknown.
func ageOn(birth string, day time.Time) int {
	b := dateOf(birth)
	if b.IsZero() || day.IsZero() || day.Before(b) {
		return -1
	}
	age := day.Year() - b.Year()
	if day.Month() < b.Month() || day.Month() == b.Month() && day.Day() < b.Day() {
		age--
	}
	return age
}

// maxListedFailures bounds the failed extractions the status lists.
const maxListedFailures = 100

// extractionStatus is GET /v1/facts/extraction: for the region's
// operators, how many of its document versions were extracted by
// outcome, how many wait, and the failures (document and reason; never
// content).
func (m *Module) extractionStatus(w http.ResponseWriter, r *http.Request) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.FailProblem(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return
	}
	if err := index.Authorize(c, index.ActExtractionStatus, index.Target{Region: m.cfg.Region}).Err("extraction status"); err != nil {
		httpapi.FailProblem(w, r, err)
		return
	}
	counts, pending, err := m.docs.ExtractionCounts()
	var failures []store.Extracted
	if err == nil {
		failures, err = m.docs.ExtractionFailures(maxListedFailures)
	}
	if err != nil {
		httpapi.FailProblem(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the store could not be read; retry", err))
		return
	}
	if failures == nil {
		failures = []store.Extracted{}
	}
	httpapi.JSON(w, http.StatusOK, map[string]any{"region": m.cfg.Region, "outcomes": counts, "pending": pending,
		"enabled": m.extractor != nil, "failures": failures})
}
