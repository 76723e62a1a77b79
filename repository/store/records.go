package store

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/index"
)

// Document states in the region's store.
const (
	// StatePending: stored, its index command in the outbox.
	StatePending = "pending"
	// StateIndexed: the index committed it; served to authorised callers.
	StateIndexed = "indexed"
	// StateWithdrawn: entered-in-error. The content is kept for the legal
	// record and no longer served.
	StateWithdrawn = "withdrawn"
)

// Document is one document version the region keeps.
type Document struct {
	ID string `json:"id"`
	// Entry is the index entry: as submitted while pending, as the index
	// committed it afterwards. Entry.Hash addresses the content.
	Entry    index.Entry `json:"entry"`
	State    string      `json:"state"`
	Workflow string      `json:"workflow"` // the workflow that created it
	Stored   time.Time   `json:"stored"`
	// Busy: an operation on this version is in the outbox; another waits
	// until it is done, so a document's operations reach the index in the
	// order they were accepted.
	Busy bool `json:"busy,omitempty"`
}

// target is the existing version an operation acts on: the document
// itself for an update or a withdrawal, the replaced version for a
// replace; "" for a first publication.
func (op *Op) target() string {
	switch {
	case op.Kind != OpPublish:
		return op.Doc
	case op.Entry != nil:
		return op.Entry.Replaces
	}
	return ""
}

// Operation kinds in the outbox.
const (
	OpPublish  = "publish" // a new document, or a replacing version (Entry.Replaces)
	OpUpdate   = "update"  // metadata update (blinding, confidentiality)
	OpWithdraw = "withdraw"
)

// Op is one index command waiting in the outbox for the federation.
type Op struct {
	Seq       uint64             `json:"seq"`
	Kind      string             `json:"kind"`
	Doc       string             `json:"doc"`
	Workflow  string             `json:"workflow"`  // workflowInstanceId
	Operation string             `json:"operation"` // the workflow's operation
	Entry     *index.Entry       `json:"entry,omitempty"`
	Update    *index.EntryUpdate `json:"update,omitempty"`
	Queued    time.Time          `json:"queued"`
}

// Key is the operation's idempotency key in the federation: its
// workflow and operation.
func (op *Op) Key() string { return op.Workflow + "|" + op.Operation }

func wfKey(id, operation string) []byte { return cat(pWorkflow, []byte(id), []byte(operation)) }

// Workflow statuses, as the FSE gateway's status service names them.
const (
	WorkflowPending = "PENDING"
	WorkflowSuccess = "SUCCESS"
	WorkflowError   = "ERROR"
)

// Workflow is the record of one operation of a gateway workflow (a
// validation, then a publication, ...), found by its workflowInstanceId
// and operation.
type Workflow struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"` // VALIDATION, PUBLICATION, REPLACE, UPDATE, DELETE
	Doc       string    `json:"doc,omitempty"`
	Status    string    `json:"status"`
	Code      string    `json:"code,omitempty"` // why it failed: the index's error code
	Message   string    `json:"message,omitempty"`
	Issuer    string    `json:"issuer,omitempty"` // organisation that started it
	TraceID   string    `json:"trace_id,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

// Validation records that a CDA (by the SHA-256 of its bytes) passed
// validation, and when.
type Validation struct {
	Workflow string    `json:"workflow"`
	At       time.Time `json:"at"`
}

// Submission is what one gateway request makes durable at once.
type Submission struct {
	Blob     *Blob     // new content (publish, replace); nil otherwise
	Doc      *Document // the new document record (publish, replace); nil otherwise
	Op       *Op       // the index command; nil for a validation
	Workflow Workflow
	// Validation, when set, records the validated CDA hash (validation
	// requests and publications that validate on the way).
	Validation string
}

// Submit makes a submission durable in one transaction: the content's
// manifest and reference, the document record, the outbox operation and
// the workflow. The workflow id must be new (ErrExists otherwise), as
// must a new document's id. It returns the operation with its sequence
// number.
func (s *Store) Submit(sub Submission) (Op, error) {
	var op Op
	if sub.Op != nil {
		op = *sub.Op
		seq, err := s.opSeq.Next()
		if err != nil {
			return op, err
		}
		op.Seq, op.Queued = seq, time.Now().UTC()
	}
	if sub.Blob != nil && (sub.Doc == nil || sub.Blob.SHA256 != sub.Doc.Entry.Hash) {
		return op, errors.New("store: submitted content must belong to the submitted document")
	}
	var dup bool
	s.submits.RLock()
	err := s.db.Update(func(tx *badger.Txn) error {
		if _, err := tx.Get(wfKey(sub.Workflow.ID, sub.Workflow.Operation)); err == nil {
			return fmt.Errorf("%w: workflow %s %s", ErrExists, sub.Workflow.ID, sub.Workflow.Operation)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if sub.Op != nil {
			if t := op.target(); t != "" {
				if err := s.claim(tx, t); err != nil {
					return err
				}
			}
		}
		if sub.Doc != nil {
			if _, err := tx.Get(cat(pDoc, []byte(sub.Doc.ID))); err == nil {
				return fmt.Errorf("%w: document %s", ErrExists, sub.Doc.ID)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			if sub.Blob != nil {
				var err error
				if dup, err = sub.Blob.commitBlob(tx, sub.Doc.ID); err != nil {
					return err
				}
			}
			if err := setJSON(tx, cat(pDoc, []byte(sub.Doc.ID)), sub.Doc); err != nil {
				return err
			}
		}
		if sub.Op != nil {
			if err := setJSON(tx, cat(pOutbox, u64(op.Seq)), op); err != nil {
				return err
			}
		}
		if sub.Validation != "" {
			if err := setJSON(tx, cat(pValid, []byte(sub.Validation)), Validation{Workflow: sub.Workflow.ID, At: sub.Workflow.Created}); err != nil {
				return err
			}
		}
		return setJSON(tx, wfKey(sub.Workflow.ID, sub.Workflow.Operation), sub.Workflow)
	})
	s.submits.RUnlock()
	if errors.Is(err, badger.ErrConflict) {
		err = fmt.Errorf("%w: workflow %s (concurrent request)", ErrExists, sub.Workflow.ID)
	}
	if err != nil {
		return op, err
	}
	if sub.Blob != nil {
		sub.Blob.done = true
		if dup {
			// The same content was already stored: its chunks serve both.
			if err := s.dropBlob(sub.Blob.id); err != nil {
				s.log.Warn("drop duplicate content", "err", err)
			}
		}
	}
	return op, nil
}

// claim marks an indexed, idle version busy for an operation.
func (s *Store) claim(tx *badger.Txn, id string) error {
	var d Document
	ok, err := getJSON(tx, cat(pDoc, []byte(id)), &d)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: document %s", ErrNotFound, id)
	case d.Busy:
		return fmt.Errorf("%w: document %s", ErrBusy, id)
	case d.State != StateIndexed:
		return fmt.Errorf("%w: document %s is %s", ErrState, id, d.State)
	}
	d.Busy = true
	return setJSON(tx, cat(pDoc, []byte(id)), d)
}

// release clears a version's busy mark, setting its status if given.
func (s *Store) release(tx *badger.Txn, id, status string) error {
	var d Document
	ok, err := getJSON(tx, cat(pDoc, []byte(id)), &d)
	if err != nil || !ok {
		return err
	}
	d.Busy = false
	if status != "" {
		d.Entry.Status = status
	}
	if err := setJSON(tx, cat(pDoc, []byte(id)), d); err != nil {
		return err
	}
	return syncCounted(tx, d)
}

// Outbox returns up to max operations waiting for the federation, oldest
// first, skipping those for which skip returns true.
func (s *Store) Outbox(max int, skip func(seq uint64) bool) ([]Op, error) {
	var ops []Op
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pOutbox, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(ops) < max; it.Next() {
			var op Op
			ok, err := getJSON(tx, it.Item().KeyCopy(nil), &op)
			if err != nil {
				return err
			}
			if ok && (skip == nil || !skip(op.Seq)) {
				ops = append(ops, op)
			}
		}
		return nil
	})
	return ops, err
}

// OutboxLen counts the operations waiting.
func (s *Store) OutboxLen() (int, error) {
	n := 0
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pOutbox})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Complete records that the index committed op: the operation leaves the
// outbox, the document takes the committed entry and state, and the
// workflow succeeds — in one transaction.
func (s *Store) Complete(op Op, committed index.Entry) error {
	return s.db.Update(func(tx *badger.Txn) error {
		if _, err := tx.Get(cat(pOutbox, u64(op.Seq))); errors.Is(err, badger.ErrKeyNotFound) {
			return nil // completed already
		} else if err != nil {
			return err
		}
		var d Document
		ok, err := getJSON(tx, cat(pDoc, []byte(op.Doc)), &d)
		if err != nil {
			return err
		}
		if ok {
			// Withdrawing the current version makes the one it replaced
			// current again, as in the index.
			if op.Kind == OpWithdraw && d.Entry.Status == index.StatusCurrent && committed.Replaces != "" {
				if err := s.release(tx, committed.Replaces, index.StatusCurrent); err != nil {
					return err
				}
			}
			d.Entry = committed
			d.State = StateIndexed
			d.Busy = false
			if op.Kind == OpWithdraw {
				d.State = StateWithdrawn
			}
			if err := setJSON(tx, cat(pDoc, []byte(op.Doc)), d); err != nil {
				return err
			}
			if err := syncCounted(tx, d); err != nil {
				return err
			}
			// A new version's facts are extracted once it is indexed.
			if op.Kind == OpPublish {
				if err := tx.Set(cat(pExtract, []byte(op.Doc)), nil); err != nil {
					return err
				}
			}
		}
		// A replacing version supersedes the one it replaces.
		if op.Kind == OpPublish && committed.Replaces != "" {
			if err := s.release(tx, committed.Replaces, index.StatusSuperseded); err != nil {
				return err
			}
		}
		if err := s.finish(tx, op.Workflow, op.Operation, WorkflowSuccess, "", ""); err != nil {
			return err
		}
		return tx.Delete(cat(pOutbox, u64(op.Seq)))
	})
}

func (s *Store) finish(tx *badger.Txn, wf, operation, status, code, msg string) error {
	var w Workflow
	ok, err := getJSON(tx, wfKey(wf, operation), &w)
	if err != nil || !ok {
		return err
	}
	w.Status, w.Code, w.Message, w.Updated = status, code, msg, time.Now().UTC()
	return setJSON(tx, wfKey(wf, operation), w)
}

// Rollback records that the index refused op for good: the operation
// leaves the outbox and the workflow fails with the reason; a refused
// publication's document record goes, and its content with it unless
// another document holds the same bytes.
func (s *Store) Rollback(op Op, code, reason string) error {
	var orphan *Manifest
	err := s.db.Update(func(tx *badger.Txn) error {
		orphan = nil
		if _, err := tx.Get(cat(pOutbox, u64(op.Seq))); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if op.Kind == OpPublish {
			var d Document
			ok, err := getJSON(tx, cat(pDoc, []byte(op.Doc)), &d)
			if err != nil {
				return err
			}
			if ok && d.State == StatePending {
				if err := tx.Delete(cat(pDoc, []byte(op.Doc))); err != nil {
					return err
				}
				if orphan, err = s.unref(tx, d.Entry.Hash, op.Doc); err != nil {
					return err
				}
			}
		}
		if t := op.target(); t != "" {
			if err := s.release(tx, t, ""); err != nil {
				return err
			}
		}
		if err := s.finish(tx, op.Workflow, op.Operation, WorkflowError, code, reason); err != nil {
			return err
		}
		return tx.Delete(cat(pOutbox, u64(op.Seq)))
	})
	if err == nil && orphan != nil {
		if err := s.dropBlob(orphan.Blob); err != nil {
			s.log.Warn("remove refused content", "err", err)
		}
	}
	return err
}

// unref removes doc's reference to the content sha; when no document
// refers to it any more it removes the manifest, marks the blob for the
// sweep (so a crash before its chunks go leaves nothing behind for good)
// and returns the manifest.
func (s *Store) unref(tx *badger.Txn, sha, doc string) (*Manifest, error) {
	if err := tx.Delete(cat(pRef, []byte(sha), []byte(doc))); err != nil {
		return nil, err
	}
	it := tx.NewIterator(badger.IteratorOptions{Prefix: cat(pRef, []byte(sha), nil)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if string(it.Item().Key()) != string(cat(pRef, []byte(sha), []byte(doc))) {
			return nil, nil // still referenced
		}
	}
	var m Manifest
	ok, err := getJSON(tx, cat(pHash, []byte(sha)), &m)
	if err != nil || !ok {
		return nil, err
	}
	if err := tx.Delete(cat(pHash, []byte(sha))); err != nil {
		return nil, err
	}
	if err := tx.Set(cat(pUpload, u64(m.Blob)), u64(uint64(time.Now().Unix()))); err != nil {
		return nil, err
	}
	return &m, nil
}

// Document returns a document record.
func (s *Store) Document(id string) (Document, error) {
	var d Document
	err := s.db.View(func(tx *badger.Txn) error {
		ok, err := getJSON(tx, cat(pDoc, []byte(id)), &d)
		if err == nil && !ok {
			err = fmt.Errorf("%w: document %s", ErrNotFound, id)
		}
		return err
	})
	return d, err
}

// Workflow returns the record of one operation of a workflow.
func (s *Store) Workflow(id, operation string) (Workflow, error) {
	var w Workflow
	err := s.db.View(func(tx *badger.Txn) error {
		ok, err := getJSON(tx, wfKey(id, operation), &w)
		if err == nil && !ok {
			err = fmt.Errorf("%w: workflow %s %s", ErrNotFound, id, operation)
		}
		return err
	})
	return w, err
}

// Workflows returns every operation recorded for a workflow, oldest
// first.
func (s *Store) Workflows(id string) ([]Workflow, error) {
	var ws []Workflow
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: append(cat(pWorkflow, []byte(id)), 0), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var w Workflow
			if _, err := getJSON(tx, it.Item().KeyCopy(nil), &w); err != nil {
				return err
			}
			ws = append(ws, w)
		}
		return nil
	})
	slices.SortFunc(ws, func(a, b Workflow) int { return a.Created.Compare(b.Created) })
	return ws, err
}

// Validated returns when a CDA with this SHA-256 last passed validation.
func (s *Store) Validated(sha string) (Validation, bool, error) {
	var v Validation
	var ok bool
	err := s.db.View(func(tx *badger.Txn) error {
		var err error
		ok, err = getJSON(tx, cat(pValid, []byte(sha)), &v)
		return err
	})
	return v, ok, err
}

// Stats counts what the store holds, for metrics and benchmarks.
type Stats struct {
	Documents     int   `json:"documents"`
	Contents      int   `json:"contents"`
	OriginalBytes int64 `json:"original_bytes"`
	StoredBytes   int64 `json:"stored_bytes"`
	Outbox        int   `json:"outbox"`
}

// Stats walks the store's records (not the chunks).
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *badger.Txn) error {
		for _, p := range [][]byte{pDoc, pOutbox} {
			it := tx.NewIterator(badger.IteratorOptions{Prefix: p})
			for it.Rewind(); it.Valid(); it.Next() {
				if p[0] == 'd' {
					st.Documents++
				} else {
					st.Outbox++
				}
			}
			it.Close()
		}
		it := tx.NewIterator(badger.IteratorOptions{Prefix: pHash, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m Manifest
			if _, err := getJSON(tx, it.Item().KeyCopy(nil), &m); err != nil {
				return err
			}
			st.Contents++
			st.OriginalBytes += m.Size
			st.StoredBytes += m.Stored
		}
		return nil
	})
	return st, err
}

// Producer is an organisation the region lets publish: its gateway
// tokens (FSE-JWT-Signature) and document signatures are verified with
// its keys.
type Producer struct {
	Issuer       string    `json:"issuer"`       // the iss of its tokens
	Organization string    `json:"organization"` // its organisation id
	Name         string    `json:"name,omitempty"`
	Keys         []byte    `json:"keys"` // public JWKS
	Registered   time.Time `json:"registered"`
}

var pProducer = []byte("k/")

// PutProducer registers or replaces a producer.
func (s *Store) PutProducer(p Producer) error {
	return s.db.Update(func(tx *badger.Txn) error { return setJSON(tx, cat(pProducer, []byte(p.Issuer)), p) })
}

// Producer returns a registered producer.
func (s *Store) Producer(issuer string) (Producer, error) {
	var p Producer
	err := s.db.View(func(tx *badger.Txn) error {
		ok, err := getJSON(tx, cat(pProducer, []byte(issuer)), &p)
		if err == nil && !ok {
			err = fmt.Errorf("%w: producer %s", ErrNotFound, issuer)
		}
		return err
	})
	return p, err
}

// DeleteProducer removes a producer: its tokens are refused from then on.
func (s *Store) DeleteProducer(issuer string) error {
	return s.db.Update(func(tx *badger.Txn) error { return tx.Delete(cat(pProducer, []byte(issuer))) })
}
