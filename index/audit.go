package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// The audit trail: every read and write of clinical data is an event,
// appended through consensus in batches. Each batch records the hash of
// the one before, so a batch removed or changed anywhere breaks the chain
// on every replica. Each node numbers its events (they wait in its Spool
// until replicated): the trail appends a number once, whatever the
// retries, and verification reports any number missing from a node's
// sequence.

// TypeAudit is the command that appends a batch of audit events.
const TypeAudit = "index.audit.append"

// Event is one access to clinical data (the FHIR AuditEvent shape).
// AuditAction is what an audited access did (FHIR AuditEvent.action).
type AuditAction string

// The audit actions.
const (
	ActionCreate  AuditAction = "C"
	ActionRead    AuditAction = "R"
	ActionUpdate  AuditAction = "U"
	ActionDelete  AuditAction = "D"
	ActionExecute AuditAction = "E" // a search, a validation, an operation
)

// AuditOutcome is how an audited access ended (FHIR AuditEvent.outcome).
type AuditOutcome string

// The audit outcomes.
const (
	OutcomeSuccess        AuditOutcome = "0"
	OutcomeRefused        AuditOutcome = "4" // minor failure: the access was refused
	OutcomeSeriousFailure AuditOutcome = "8" // e.g. content that did not match the index
)

type Event struct {
	Time      time.Time    `json:"time"`                // when the node served it
	Actor     string       `json:"actor"`               // sub: codice fiscale of the person
	Role      string       `json:"role"`                // subject_role
	Org       string       `json:"org,omitempty"`       // subject_organization
	Region    string       `json:"region"`              // subject_organization_id
	Purpose   string       `json:"purpose"`             // purpose_of_use
	Action    AuditAction  `json:"action"`              // FHIR AuditEvent.action
	What      string       `json:"what"`                // e.g. "DocumentReference.search", "Patient.read"
	Patient   string       `json:"patient,omitempty"`   // patient id
	Documents []string     `json:"documents,omitempty"` // document versions disclosed or changed
	Outcome   AuditOutcome `json:"outcome"`             // FHIR AuditEvent.outcome
	Override  bool         `json:"override,omitempty"`  // emergency access without consent: flagged for the patient
	Node      string       `json:"node"`                // region whose node served it
	NodeSeq   uint64       `json:"node_seq"`            // the node's number for it, from 1, without holes
}

// maxEventDocuments bounds the document versions one event names.
const maxEventDocuments = 1000

// check reports an event the trail would refuse.
func (e *Event) check() error {
	switch {
	case e.Actor == "" || e.What == "":
		return errors.New("audit event without actor or what")
	case len(e.Documents) > maxEventDocuments:
		return fmt.Errorf("audit event naming %d documents (at most %d)", len(e.Documents), maxEventDocuments)
	}
	return nil
}

// Batch is one link of the chain.
type Batch struct {
	Seq    uint64    `json:"seq"`
	Prev   string    `json:"prev"` // hash of the previous batch, hex; "" for the first
	Node   string    `json:"node"` // region whose node appended it
	Time   time.Time `json:"time"` // leader's append time
	Events []Event   `json:"events"`
	Hash   string    `json:"hash"` // sha256 over the fields above
}

var (
	auditHead       = []byte("ix/a/head")
	auditNodeSeq    = "ix/a/n/" // + node: last event number appended, 8 bytes
	auditBatch      = []byte("ix/a/b/")
	auditByPatient  = "apat"
	auditByActor    = "aact"
	maxAuditBatch   = 4096
	errAuditInvalid = errors.New("audit batch")
)

func batchKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(auditBatch), seq)
}

func auditIndexKey(name, value string, seq uint64, i int) []byte {
	k := []byte("ix/a/x/" + name + "/" + value)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, seq)
	return binary.BigEndian.AppendUint32(k, uint32(i))
}

// hashBatch is the batch's hash: SHA-256 of its JSON without the hash.
func hashBatch(b Batch) string {
	b.Hash = ""
	j, _ := json.Marshal(b)
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}

// AuditBatch returns the command appending events recorded by node.
func AuditBatch(node string, events []Event) (consensus.Command, error) {
	if len(events) == 0 || len(events) > maxAuditBatch {
		return consensus.Command{}, fmt.Errorf("%w: want 1 to %d events", errAuditInvalid, maxAuditBatch)
	}
	return command(TypeAudit, Batch{Node: node, Events: events})
}

func (m *Machine) applyAudit(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var in Batch
	if err := consensus.DecodeJSON(payload, &in); err != nil {
		return nil, err
	}
	if len(in.Events) == 0 || len(in.Events) > maxAuditBatch {
		return nil, invalid("audit batch of %d events", len(in.Events))
	}
	// A node appends only its own events: the origin is the member whose
	// authenticated stream the leader received the batch on.
	if in.Node != tx.Origin() {
		return nil, consensus.Errorf(consensus.CodeForbidden, "audit events of region %q proposed by region %q", in.Node, tx.Origin())
	}
	for i, e := range in.Events {
		if err := e.check(); err != nil {
			return nil, invalid("%v", err)
		}
		if e.Node != in.Node || e.NodeSeq == 0 || (i > 0 && e.NodeSeq <= in.Events[i-1].NodeSeq) {
			return nil, invalid("audit events must be the proposing node's, numbered from 1 in increasing order")
		}
	}
	// Events the trail already holds (a retried batch) are skipped.
	seqKey := []byte(auditNodeSeq + in.Node)
	var last uint64
	if b, ok, err := tx.Get(seqKey); err != nil {
		return nil, err
	} else if ok && len(b) == 8 {
		last = binary.BigEndian.Uint64(b)
	}
	skip := 0
	for skip < len(in.Events) && in.Events[skip].NodeSeq <= last {
		skip++
	}
	if skip == len(in.Events) {
		return json.Marshal(map[string]any{"duplicate": true})
	}
	in.Events = in.Events[skip:]
	tx.Set(seqKey, binary.BigEndian.AppendUint64(nil, in.Events[len(in.Events)-1].NodeSeq))
	var head Batch
	if b, ok, err := tx.Get(auditHead); err != nil {
		return nil, err
	} else if ok {
		if err := json.Unmarshal(b, &head); err != nil {
			return nil, fmt.Errorf("stored audit head: %w", err)
		}
	}
	out := Batch{Node: in.Node, Time: tx.Now(), Events: in.Events}
	if head.Hash != "" {
		out.Seq, out.Prev = head.Seq+1, head.Hash
	}
	out.Hash = hashBatch(out)
	put(tx, batchKey(out.Seq), out)
	put(tx, auditHead, Batch{Seq: out.Seq, Hash: out.Hash})
	for i, e := range out.Events {
		if e.Patient != "" {
			tx.Set(auditIndexKey(auditByPatient, e.Patient, out.Seq, i), nil)
		}
		tx.Set(auditIndexKey(auditByActor, e.Actor, out.Seq, i), nil)
	}
	return json.Marshal(map[string]any{"seq": out.Seq, "hash": out.Hash})
}

// AuditReport is what verifying the trail found.
type AuditReport struct {
	Batches int    `json:"batches"`
	Events  int    `json:"events"`
	Head    string `json:"head"`
	// Missing counts, per node, event numbers absent from its sequence:
	// events recorded before a disclosure that never reached the trail
	// (a spool lost with its disk, or dropped).
	Missing map[string]uint64 `json:"missing,omitempty"`
}

// VerifyAudit recomputes the whole chain; any break is an error naming the
// batch. Holes in a node's numbering are reported, not errors: the chain
// is intact, but events are missing.
func VerifyAudit(r Reader) (rep AuditReport, err error) {
	prev := ""
	want := uint64(0)
	lastSeq := map[string]uint64{}
	defer func() { rep.Head = prev }()
	err = r.Iterate(auditBatch, func(k, v []byte) error {
		var b Batch
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("batch at key %x: %w", k, err)
		}
		if b.Seq != want {
			return fmt.Errorf("batch %d missing (found %d next)", want, b.Seq)
		}
		if b.Prev != prev {
			return fmt.Errorf("batch %d: previous hash %q, the chain says %q", b.Seq, b.Prev, prev)
		}
		if h := hashBatch(b); h != b.Hash {
			return fmt.Errorf("batch %d: content does not match its hash", b.Seq)
		}
		for _, e := range b.Events {
			if hole := e.NodeSeq - lastSeq[b.Node] - 1; e.NodeSeq > lastSeq[b.Node] && hole > 0 {
				if rep.Missing == nil {
					rep.Missing = map[string]uint64{}
				}
				rep.Missing[b.Node] += hole
			}
			lastSeq[b.Node] = max(lastSeq[b.Node], e.NodeSeq)
		}
		prev, want = b.Hash, want+1
		rep.Batches++
		rep.Events += len(b.Events)
		return nil
	})
	if err != nil {
		return rep, err
	}
	var h Batch
	if b, ok, gerr := r.Get(auditHead); gerr != nil {
		return rep, gerr
	} else if ok {
		if err := json.Unmarshal(b, &h); err != nil {
			return rep, err
		}
	}
	if h.Hash != prev {
		return rep, fmt.Errorf("the chain ends at %q but the head says %q", prev, h.Hash)
	}
	return rep, nil
}

// LastAuditSeq returns the last event number the trail holds for node:
// a node numbers its next events after it.
func LastAuditSeq(r Reader, node string) (uint64, error) {
	b, ok, err := r.Get([]byte(auditNodeSeq + node))
	if err != nil || !ok || len(b) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// AuditQuery selects events by patient or by actor, oldest first.
type AuditQuery struct {
	Patient string
	Actor   string
	From    time.Time // inclusive; zero: open
	To      time.Time // exclusive; zero: open
	Offset  int       // matching events to skip
	Limit   int       // at most this many; zero: no limit
}

// AuditHit is one event a search found, with what checking its batch
// against the hash chain found. An event is never given as if intact when
// its batch is not: a patient or the authority reading the log must be
// able to tell a record that was altered on a replica's disk.
type AuditHit struct {
	Event
	Batch uint64 // the sequence number of the batch holding it
	// Broken says why the batch fails verification (its content does not
	// match its hash, or the chain does not lead through it); "" when it
	// is intact.
	Broken string
	// Withheld: the batch could not be read at all (or lacks the event
	// the index names), so there is no event to show, only Broken.
	Withheld bool
}

// batchLink is what the chain check needs of a neighbouring batch.
type batchLink struct {
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// checkBatch verifies batch seq as the chain holds it: its content
// matches its hash, it follows the batch before it, and the batch after it
// (or the head) follows it. It returns "" when intact, else why not.
func checkBatch(r Reader, seq uint64, b Batch) (string, error) {
	if b.Seq != seq {
		return fmt.Sprintf("batch %d is stored as batch %d", seq, b.Seq), nil
	}
	if hashBatch(b) != b.Hash {
		return fmt.Sprintf("batch %d: its content does not match its hash", seq), nil
	}
	link := func(k []byte) (batchLink, bool, error) {
		var l batchLink
		v, ok, err := r.Get(k)
		if err != nil || !ok {
			return l, ok, err
		}
		if err := json.Unmarshal(v, &l); err != nil {
			return l, true, fmt.Errorf("audit batch link at %x: %w", k, err)
		}
		return l, true, nil
	}
	if seq == 0 {
		if b.Prev != "" {
			return "batch 0 names a batch before it", nil
		}
	} else if prev, ok, err := link(batchKey(seq - 1)); err != nil {
		return fmt.Sprintf("batch %d: the batch before it cannot be read", seq), nil
	} else if !ok || prev.Hash != b.Prev {
		return fmt.Sprintf("batch %d: it does not follow batch %d", seq, seq-1), nil
	}
	next, ok, err := link(batchKey(seq + 1))
	if err != nil {
		return fmt.Sprintf("batch %d: the batch after it cannot be read", seq), nil
	}
	if ok {
		if next.Prev != b.Hash {
			return fmt.Sprintf("batch %d: batch %d does not follow it", seq, seq+1), nil
		}
		return "", nil
	}
	head, ok, err := link(auditHead)
	switch {
	case err != nil:
		return fmt.Sprintf("batch %d: the chain's head cannot be read", seq), nil
	case ok && head.Seq > seq:
		return fmt.Sprintf("batch %d: batch %d after it is missing", seq, seq+1), nil
	case !ok || head.Seq != seq || head.Hash != b.Hash:
		return fmt.Sprintf("batch %d: the chain's head does not end at it", seq), nil
	}
	return "", nil
}

// SearchAudit returns the events a query selects, each with the result of
// checking its batch against the hash chain (see AuditHit).
func SearchAudit(r Reader, q AuditQuery) ([]AuditHit, error) {
	name, value := auditByActor, q.Actor
	if q.Patient != "" {
		name, value = auditByPatient, q.Patient
	}
	if value == "" {
		return nil, errors.New("audit search needs a patient or an actor")
	}
	prefix := append([]byte("ix/a/x/"+name+"/"+value), 0)
	var out []AuditHit
	skipped := 0
	type checked struct {
		b      Batch
		broken string
		read   bool // the batch could be read
	}
	cache := map[uint64]*checked{}
	stop := errors.New("stop")
	err := r.Iterate(prefix, func(k, _ []byte) error {
		rest := k[len(prefix):]
		if len(rest) != 12 {
			return fmt.Errorf("malformed audit index key %x", k)
		}
		seq, i := binary.BigEndian.Uint64(rest), int(binary.BigEndian.Uint32(rest[8:]))
		c, ok := cache[seq]
		if !ok {
			c = &checked{}
			v, found, err := r.Get(batchKey(seq))
			switch {
			case err != nil:
				return fmt.Errorf("audit batch %d: %w", seq, err)
			case !found:
				c.broken = fmt.Sprintf("batch %d is missing from the chain", seq)
			case json.Unmarshal(v, &c.b) != nil:
				c.broken = fmt.Sprintf("batch %d cannot be read", seq)
			default:
				c.read = true
				if c.broken, err = checkBatch(r, seq, c.b); err != nil {
					return err
				}
			}
			cache[seq] = c
		}
		hit := AuditHit{Batch: seq, Broken: c.broken}
		switch {
		case !c.read:
			hit.Withheld = true
		case i >= len(c.b.Events):
			hit.Withheld = true
			if hit.Broken == "" {
				hit.Broken = fmt.Sprintf("batch %d has no event %d", seq, i)
			}
		default:
			hit.Event = c.b.Events[i]
			e := hit.Event
			if (!q.From.IsZero() && e.Time.Before(q.From)) || (!q.To.IsZero() && !e.Time.Before(q.To)) {
				return nil
			}
		}
		if skipped < q.Offset {
			skipped++
			return nil
		}
		out = append(out, hit)
		if q.Limit > 0 && len(out) >= q.Limit {
			return stop
		}
		return nil
	})
	if errors.Is(err, stop) {
		err = nil
	}
	return out, err
}
