package clinical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/population"
	"github.com/fsenet/fsenet/repository/store"
)

// Protocol is the facts protocol: one request (a caller's token, a
// patient, a query), one answer (the facts the caller may have).
var Protocol = federation.ProtocolID("facts", "1.0.0")

// protocolVersion is the request's version.
const protocolVersion = 1

// Limits of the protocol.
const (
	maxRequest = 64 << 10
	maxAnswer  = 16 << 20
	// maxFacts bounds the facts one region answers one search with: the
	// newest ones. An answer cut there says so (Truncated) and the asking
	// node names the region in its answer.
	maxFacts = 5000
	// maxScanned bounds the facts a region reads to choose the newest
	// maxFacts; past it the answer holds the newest of those read.
	maxScanned = 4 * maxFacts
)

// request asks a region for a patient's facts.
type request struct {
	V       int    `json:"v"`
	Token   string `json:"token"`
	Patient string `json:"patient"` // the registry id
	Query   Query  `json:"query"`
}

// answer is a region's answer.
type answer struct {
	Facts     []wireFact `json:"facts"`
	Truncated bool       `json:"truncated,omitempty"`
}

// wireFact is one fact and the version it comes from.
type wireFact struct {
	Doc  string     `json:"doc"`
	Fact facts.Fact `json:"fact"`
}

// Error codes of the protocol.
const (
	codeBadRequest = "bad-request"
	codeUnauth     = "unauthenticated"
	codeBusy       = "unavailable"
)

var rpcOptions = federation.RPCOptions{MaxRequest: maxRequest, MaxResponse: maxAnswer, Timeout: 30 * time.Second}

// Serve serves the protocol on h: the custodian's side.
func (a *API) Serve(h federation.StreamHost) {
	federation.Serve(h, Protocol, rpcOptions, a.d.Log.With("protocol", "facts"), a.serve)
}

func (a *API) serve(ctx context.Context, from peer.ID, b []byte) ([]byte, error) {
	req, err := decodeRequest(b)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeBadRequest, Message: err.Error()}
	}
	c, err := a.d.Verify(req.Token)
	if err != nil {
		return nil, &federation.RemoteError{Code: codeUnauth, Message: "the caller's token is not valid here"}
	}
	ans, err := a.answer(ctx, c, req.Patient, req.Query)
	if err != nil {
		a.d.Log.Warn("a region's search of its facts failed", "peer", from, "err", err)
		return nil, &federation.RemoteError{Code: codeBusy, Message: "the facts could not be read or the access audited; retry"}
	}
	return json.Marshal(ans)
}

// decodeRequest reads and checks a request.
func decodeRequest(b []byte) (request, error) {
	var req request
	if err := json.Unmarshal(b, &req); err != nil {
		return req, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case req.V != protocolVersion:
		return req, fmt.Errorf("%w: version %d (this node speaks %d)", ErrInvalid, req.V, protocolVersion)
	case req.Token == "" || req.Patient == "":
		return req, fmt.Errorf("%w: a request names its caller's token and its patient", ErrInvalid)
	}
	return req, req.Query.Validate()
}

// answer is the custodian's side of a search: the facts of the patient
// (and the identities merged into it) that the caller may have by the
// policy on this node's replica, the newest maxFacts of them, audited
// before they are answered. A patient the caller may not see is answered
// as one without facts.
func (a *API) answer(ctx context.Context, c index.Caller, patient string, q Query) (answer, error) {
	ans := answer{Facts: []wireFact{}}
	var p index.Patient
	overrides := map[string]bool{} // the versions allowed, and whether by an override
	// One view of the replica judges the patient and every version: the
	// consent and the versions' states the caller is judged on are of one
	// moment.
	err := a.d.Read(ctx, func(r index.Reader) error {
		var found bool
		var err error
		// An identity merged into another is no patient of its own: its
		// consent is frozen and its versions are the survivor's, judged
		// as the survivor's.
		if p, found, err = index.GetPatient(r, patient); err != nil || !found || p.MergedInto != "" || !index.PatientAccess(c, p) {
			return err
		}
		ids := append([]string{p.ID}, p.Merged...)
		allowed := map[string]bool{}
		return a.d.Facts.PatientFacts(ids, q.Type, func(sf store.StoredFact) error {
			if q.Doc != "" && q.Doc != sf.Doc || !q.Matches(&sf.Fact) {
				return nil
			}
			ok, seen := allowed[sf.Doc]
			if !seen {
				e, found, err := index.GetEntry(r, sf.Doc)
				if err != nil {
					return err
				}
				acc := index.FactAccess(c, p, e)
				ok = found && e.Custodian == a.d.Region && slices.Contains(ids, e.Patient) && acc.Content
				allowed[sf.Doc] = ok
				if ok {
					overrides[sf.Doc] = acc.Override
				}
			}
			switch {
			case !ok:
			case len(ans.Facts) == maxScanned:
				ans.Truncated = true
				return errStop
			default:
				ans.Facts = append(ans.Facts, wireFact{Doc: sf.Doc, Fact: sf.Fact})
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil || len(ans.Facts) == 0 {
		return ans, err
	}
	if len(ans.Facts) > maxFacts {
		ans.Facts, ans.Truncated = newest(ans.Facts, maxFacts), true
	}
	// Only the versions whose facts are answered are audited as read.
	var docs []string
	answered := map[string]bool{}
	override := false
	for _, f := range ans.Facts {
		if !answered[f.Doc] {
			answered[f.Doc] = true
			docs = append(docs, f.Doc)
			override = override || overrides[f.Doc]
		}
	}
	return ans, a.audit(ctx, c, p.ID, auditWhat(q)+".custodian", docs, override)
}

// newest is the n facts of fs that hold latest (a fact without a date
// last), in the order they came.
func newest(fs []wireFact, n int) []wireFact {
	order := make([]int, len(fs))
	start := make([]time.Time, len(fs))
	for i := range fs {
		order[i] = i
		start[i], _, _ = factRange(&fs[i].Fact)
	}
	slices.SortStableFunc(order, func(x, y int) int { return start[y].Compare(start[x]) })
	keep := order[:n]
	slices.Sort(keep)
	out := make([]wireFact, 0, n)
	for _, i := range keep {
		out = append(out, fs[i])
	}
	return out
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// auditWhat names a search in the audit trail: "<type>.search", or
// "Patient.summary" for the summary's search of every type.
func auditWhat(q Query) string {
	if q.Type == "" {
		return "Patient.summary"
	}
	return q.Type + ".search"
}

// audit records the disclosure of the facts of docs, in events of at
// most the trail's bound of documents each.
func (a *API) audit(ctx context.Context, c index.Caller, patient, what string, docs []string, override bool) error {
	slices.Sort(docs)
	docs = slices.Compact(docs)
	var events []index.Event
	for chunk := range slices.Chunk(docs, 1000) {
		events = append(events, index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
			Action: index.ActionRead, What: what, Patient: patient, Documents: chunk, Outcome: index.OutcomeSuccess, Override: override})
	}
	if len(events) == 0 {
		events = append(events, index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
			Action: index.ActionRead, What: what, Patient: patient, Outcome: index.OutcomeSuccess})
	}
	return a.d.Audit.Record(ctx, events...)
}

// ask asks a region's node for a patient's facts on behalf of the caller
// whose token is tok.
func (a *API) ask(ctx context.Context, region, tok, patient string, q Query) (answer, error) {
	var ans answer
	p, ok := a.d.RegionPeer(region)
	if !ok {
		return ans, fmt.Errorf("region %s is not a member of the federation", region)
	}
	b, err := json.Marshal(request{V: protocolVersion, Token: tok, Patient: patient, Query: q})
	if err != nil {
		return ans, err
	}
	resp, err := federation.Call(ctx, a.d.Host, p, Protocol, b, rpcOptions)
	if err != nil {
		return ans, err
	}
	if err := json.Unmarshal(resp, &ans); err != nil {
		return ans, fmt.Errorf("%w: %v", errMalformedAnswer, err)
	}
	return ans, nil
}

var errMalformedAnswer = errors.New("malformed answer")

// reason says why a region's facts are missing, for the answer's
// OperationOutcome: never a token or clinical content.
func reason(err error) string {
	var re *federation.RemoteError
	switch {
	case errors.As(err, &re):
		return "it refused: " + re.Message
	case errors.Is(err, errBusy):
		return "it was answering other questions until the deadline"
	case errors.Is(err, context.DeadlineExceeded):
		return "it did not answer in time"
	case errors.Is(err, federation.ErrUnreachable):
		return "it could not be reached"
	case errors.Is(err, errMalformedAnswer):
		return "its answer was malformed"
	case errors.Is(err, population.ErrTooBroad):
		return "it refused: " + err.Error()
	}
	return "it could not be asked"
}
