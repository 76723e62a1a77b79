package clinical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/population"
	"github.com/fsenet/fsenet/repository/store"
)

// PopulationProtocol carries a population question to a region and its
// answer back: only the region's suppressed aggregate leaves it.
var PopulationProtocol = federation.ProtocolID("population", "1.0.0")

// Limits of population questions.
const (
	maxQuestion = 64 << 10
	// DefaultQuestionDeadline bounds the wait for every region's answer
	// to a question (each computes it over all of its data).
	DefaultQuestionDeadline = 60 * time.Second
)

var popOptions = federation.RPCOptions{MaxRequest: maxQuestion + 16<<10, MaxResponse: population.MaxAnswerBytes, Timeout: 2 * DefaultQuestionDeadline}

// Rows is the region's store of population rows.
type Rows interface {
	ScanRows(scans []store.Scan, fn func(doc string, r *facts.Row) error) error
}

// popRequest asks a region a question on behalf of the caller whose
// token it carries.
type popRequest struct {
	V        int             `json:"v"`
	Token    string          `json:"token"`
	Question json.RawMessage `json:"question"`
}

// maxQuestionsAtOnce bounds the questions a region answers at once;
// the others wait their turn within their deadline.
const maxQuestionsAtOnce = 2

// errBusy: the region answered other questions until the deadline.
var errBusy = errors.New("busy")

// errForbidden: the caller may not ask population questions.
var errForbidden = errors.New("this token does not grant population questions")

// ServePopulation serves the population protocol on h.
func (a *API) ServePopulation(h federation.StreamHost) {
	federation.Serve(h, PopulationProtocol, popOptions, a.d.Log.With("protocol", "population"), a.servePopulation)
}

func (a *API) servePopulation(ctx context.Context, from peer.ID, b []byte) ([]byte, error) {
	var req popRequest
	if err := json.Unmarshal(b, &req); err != nil || req.V != protocolVersion || req.Token == "" {
		return nil, &federation.RemoteError{Code: codeBadRequest, Message: "a population request is {v: 1, token, question}"}
	}
	q, err := population.Decode(req.Question)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeBadRequest, Message: err.Error()}
	}
	c, err := a.d.Verify(req.Token)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeUnauth, Message: "the caller's token is not valid here"}
	}
	_, encoded, err := a.answerQuestion(ctx, c, q)
	switch {
	case errors.Is(err, errForbidden):
		return nil, &federation.RemoteError{Code: "forbidden", Message: err.Error()}
	case errors.Is(err, population.ErrTooBroad):
		return nil, &federation.RemoteError{Code: codeBadRequest, Message: err.Error()}
	case err != nil:
		a.d.Log.Warn("a population question could not be answered", "peer", from, "err", err)
		return nil, &federation.RemoteError{Code: codeBusy, Message: "the question could not be answered or audited; retry"}
	}
	return encoded, nil
}

// answerQuestion computes this region's answer to q over its own rows,
// cells below k suppressed, and audits the question and its answer (by
// their digests; the question's text goes to the log) before answering;
// it returns the answer and its JSON, which is what a peer is sent.
func (a *API) answerQuestion(ctx context.Context, c index.Caller, q population.Question) (population.Answer, []byte, error) {
	if index.Authorize(c, index.ActPopulationQuery, index.Target{Region: a.d.Region}) != index.Allow {
		return population.Answer{}, nil, errForbidden
	}
	// Questions read a region's whole window of rows: a few at a time,
	// so that a burst of them cannot take the node's cores from its
	// clinicians.
	select {
	case a.questions <- struct{}{}:
		defer func() { <-a.questions }()
	case <-ctx.Done():
		return population.Answer{}, nil, fmt.Errorf("%w: waiting for the questions being answered: %w", errBusy, ctx.Err())
	}
	start := time.Now()
	agg, err := population.NewAggregator(q, a.d.MinK)
	if err != nil {
		return population.Answer{}, nil, err
	}
	from, to := q.Range()
	rows := 0
	var scans []store.Scan
	for _, sc := range q.Scans() {
		scans = append(scans, store.Scan{Resource: sc.Resource, System: sc.System, Code: sc.Code, Prefix: sc.Prefix, From: from, To: to})
	}
	err = a.d.Rows.ScanRows(scans, func(_ string, r *facts.Row) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Region = a.d.Region
		if q.Matches(*r) {
			rows++
			return agg.Add(*r)
		}
		return nil
	})
	if err != nil {
		return population.Answer{}, nil, err
	}
	ans := agg.Result()
	encoded, err := json.Marshal(ans)
	if err != nil {
		return population.Answer{}, nil, err
	}
	if len(encoded) > population.MaxAnswerBytes {
		return population.Answer{}, nil, fmt.Errorf("%w: an answer of more than %d bytes; group by fewer attributes or ask a shorter window", population.ErrTooBroad, population.MaxAnswerBytes)
	}
	suppressed := 0
	for _, cell := range ans.Cells {
		if cell.Suppressed {
			suppressed++
		}
	}
	if err := a.d.Audit.Record(ctx, populationEvent(c, q, encoded, len(ans.Cells), suppressed)); err != nil {
		return population.Answer{}, nil, err
	}
	a.d.Log.Info("answered a population question", "question", q.String(), "key", q.Key(),
		"rows", rows, "cells", len(ans.Cells), "suppressed", suppressed, "took", time.Since(start).Round(time.Millisecond).String())
	return ans, encoded, nil
}

// maxAuditedQuestion bounds the question text an audit record carries;
// a longer question is recorded by its key alone (its text is in the
// log of every region that answered it).
const maxAuditedQuestion = 2048

// populationEvent is the audit record of a question and its answer: the
// question (its canonical JSON, or its key when long), and the answer by
// the digest of its JSON, its number of cells and of suppressed cells.
func populationEvent(c index.Caller, q population.Question, answerJSON []byte, cells, suppressed int) index.Event {
	sum := sha256.Sum256(answerJSON)
	question := q.String()
	if len(question) > maxAuditedQuestion {
		question = "key " + q.Key()
	}
	what := fmt.Sprintf("Population.query %s answer sha256:%s cells:%d suppressed:%d", question, hex.EncodeToString(sum[:8]), cells, suppressed)
	return index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
		Action: index.ActionExecute, What: what, Outcome: index.OutcomeSuccess}
}

// populationResult is what the endpoint answers: the question as every
// region read it, its key, and the regions' answers added up.
type populationResult struct {
	Key      string              `json:"key"`
	Question population.Question `json:"question"`
	Result   population.Combined `json:"result"`
}

// query is POST /v1/population/query: the authority's question (JSON,
// population.Question) asked of every member region at once, each
// within the question deadline, and their answers merged; a region that
// does not answer, or answers something that is not an answer to the
// question, is listed as failed.
func (a *API) query(w http.ResponseWriter, r *http.Request) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.FailProblem(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return
	}
	if index.Authorize(c, index.ActPopulationQuery, index.Target{Region: a.d.Region}) != index.Allow {
		httpapi.FailProblem(w, r, httpapi.E(httpapi.ErrForbidden, errForbidden.Error()))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQuestion))
	if err != nil {
		httpapi.FailProblem(w, r, httpapi.Wrap(httpapi.ErrTooLarge, fmt.Sprintf("a question is at most %d bytes", maxQuestion), err))
		return
	}
	q, err := population.Decode(body)
	if err != nil {
		httpapi.FailProblem(w, r, httpapi.Wrap(httpapi.ErrInvalid, err.Error(), err))
		return
	}
	_, tok, _ := bearerOf(r)
	parts := a.askAll(r.Context(), c, tok, q)
	res := populationResult{Key: q.Key(), Question: q, Result: population.Merge(q, parts...)}
	suppressed := 0
	for _, cell := range res.Result.Cells {
		if cell.Suppressed || len(cell.Incomplete) > 0 {
			suppressed++
		}
	}
	merged, _ := json.Marshal(res.Result)
	if err := a.d.Audit.Record(r.Context(), populationEvent(c, q, merged, len(res.Result.Cells), suppressed)); err != nil {
		httpapi.FailProblem(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the question could not be audited, so no answer is given; retry", err))
		return
	}
	httpapi.JSON(w, http.StatusOK, res)
}

// askAll asks every member region the question in parallel.
func (a *API) askAll(ctx context.Context, c index.Caller, tok string, q population.Question) []population.RegionAnswer {
	regions := slices.Sorted(slices.Values(a.d.Regions()))
	parts := make([]population.RegionAnswer, len(regions))
	raw, _ := json.Marshal(q)
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.d.QuestionDeadline)
			defer cancel()
			parts[i] = population.RegionAnswer{Region: region}
			var ans population.Answer
			var err error
			if region == a.d.Region {
				ans, _, err = a.answerQuestion(ctx, c, q)
			} else {
				ans, err = a.askQuestion(ctx, region, tok, raw)
			}
			a.count(region, "question", err)
			if err != nil {
				parts[i].Err = reason(err)
				return
			}
			parts[i].Answer = ans
		}()
	}
	wg.Wait()
	return parts
}

// askQuestion asks one region's node.
func (a *API) askQuestion(ctx context.Context, region, tok string, q json.RawMessage) (population.Answer, error) {
	p, ok := a.d.RegionPeer(region)
	if !ok {
		return population.Answer{}, fmt.Errorf("region %s is not a member of the federation", region)
	}
	b, err := json.Marshal(popRequest{V: protocolVersion, Token: tok, Question: q})
	if err != nil {
		return population.Answer{}, err
	}
	resp, err := federation.Call(ctx, a.d.Host, p, PopulationProtocol, b, popOptions)
	if err != nil {
		return population.Answer{}, err
	}
	ans, err := population.DecodeAnswer(resp)
	if err != nil {
		return ans, fmt.Errorf("%w: %v", errMalformedAnswer, err)
	}
	return ans, nil
}
