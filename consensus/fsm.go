package consensus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Handler applies the commands of the types it was registered for.
//
// Apply must be deterministic: the same state and command give the same
// writes and the same answer on every replica, so it must not read clocks,
// random numbers, the environment or anything outside tx. A refusal is
// returned as a *Error (a domain error): its writes are discarded and it
// becomes the command's result. Any other error means the replica cannot go
// on (for example, the disk failed) and stops the node.
type Handler interface {
	Apply(tx *Tx, cmd Command) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(tx *Tx, cmd Command) ([]byte, error)

// Apply calls f.
func (f HandlerFunc) Apply(tx *Tx, cmd Command) ([]byte, error) { return f(tx, cmd) }

// Reloader is implemented by handlers that keep something derived from the
// state outside it (a cache, a connection gater). Reload is called when the
// node opens its state and after every snapshot restore.
type Reloader interface {
	Reload(r Reader) error
}

// VersionedHandler is a Handler that says which versions of its command
// types it understands. A node proposes (and accepts forwarded) commands
// only in those versions, so an entry in a version a replica does not
// understand can only come from a newer leader: the handler then returns a
// plain (non-domain) error and the replica stops rather than diverge.
type VersionedHandler interface {
	Handler
	SupportsVersion(typ string, version uint16) bool
}

// Reader reads replicated state.
type Reader interface {
	// Get returns the value of key, or ok=false if it does not exist.
	Get(key []byte) (value []byte, ok bool, err error)
	// Iterate calls fn for every key with the prefix, in key order. The
	// slices are valid only during the call.
	Iterate(prefix []byte, fn func(key, value []byte) error) error
	// IterateFrom is Iterate starting at the first key >= start (a seek,
	// not a scan of the keys before it).
	IterateFrom(prefix, start []byte, fn func(key, value []byte) error) error
}

// System keys live under a 0x00 prefix that handlers may not write.
var (
	sysPrefix   = []byte{0}
	keyApplied  = []byte("\x00meta/applied")
	idemPrefix  = []byte("\x00idem/")
	idemxPrefix = []byte("\x00idemx/")
)

// idempotencyWindow is how many log entries an idempotency key is
// remembered for. It is a constant, not configuration, because every replica
// must forget keys at the same index.
const idempotencyWindow = 1 << 20

// appliedMeta is stored at keyApplied in the same transaction as the writes
// of the entries it describes.
type appliedMeta struct {
	Index  uint64
	Term   uint64
	Digest [32]byte
}

func (m appliedMeta) encode() []byte {
	b := make([]byte, 16+32)
	binary.BigEndian.PutUint64(b, m.Index)
	binary.BigEndian.PutUint64(b[8:], m.Term)
	copy(b[16:], m.Digest[:])
	return b
}

func decodeAppliedMeta(b []byte) (appliedMeta, error) {
	var m appliedMeta
	if len(b) != 48 {
		return m, fmt.Errorf("%w: applied index record of %d bytes", ErrMalformed, len(b))
	}
	m.Index = binary.BigEndian.Uint64(b)
	m.Term = binary.BigEndian.Uint64(b[8:])
	copy(m.Digest[:], b[16:])
	return m, nil
}

// nextDigest chains one applied entry into the state digest.
func nextDigest(prev [32]byte, l *raft.Log) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	var hdr [17]byte
	binary.BigEndian.PutUint64(hdr[:], l.Index)
	binary.BigEndian.PutUint64(hdr[8:], l.Term)
	hdr[16] = byte(l.Type)
	h.Write(hdr[:])
	h.Write(l.Data)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// FSM is the replicated state machine: it implements raft.BatchingFSM over a
// badger database and dispatches commands to registered handlers.
type FSM struct {
	log      *slog.Logger
	state    *stateDir
	handlers map[string]Handler

	mu      sync.Mutex
	meta    appliedMeta
	advance chan struct{} // closed and replaced whenever meta.Index grows
	recent  [digestHistory]appliedMeta

	restores atomic.Uint64 // snapshots restored since start

	// applyMu is held while entries are applied and while the state is
	// replaced (a restore, a repair), so that neither sees the other half
	// done.
	applyMu sync.Mutex
	// integ is what the replica knows of its stored state's soundness;
	// scans hands the scrubber a view of the state at each scrub marker.
	integ *integrity
	scans scanQueue
}

// digestHistory is how many recent (index, digest) pairs a replica
// remembers, so that replicas can be compared at the same index while
// writes go on.
const digestHistory = 4096

var _ raft.BatchingFSM = (*FSM)(nil)

func newFSM(state *stateDir, log *slog.Logger) (*FSM, error) {
	f := &FSM{log: log, state: state, handlers: map[string]Handler{}, advance: make(chan struct{}), integ: newIntegrity()}
	if err := f.loadMeta(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FSM) loadMeta() error {
	h, err := f.state.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	return h.db.View(func(txn *badger.Txn) error {
		m, err := readAppliedMeta(txn)
		if err != nil {
			return err
		}
		f.setMeta(m, nil)
		return nil
	})
}

// readAppliedMeta reads the applied index record; a new state has none.
func readAppliedMeta(txn *badger.Txn) (appliedMeta, error) {
	item, err := txn.Get(keyApplied)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return appliedMeta{}, nil
	}
	if err != nil {
		return appliedMeta{}, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return appliedMeta{}, err
	}
	if v, err = unseal(keyApplied, v); err != nil {
		return appliedMeta{}, fmt.Errorf("applied index record: %w", err)
	}
	return decodeAppliedMeta(v)
}

func (f *FSM) setMeta(m appliedMeta, history []appliedMeta) {
	f.mu.Lock()
	grew := m.Index != f.meta.Index
	f.meta = m
	f.recent[m.Index%digestHistory] = m
	for _, h := range history {
		f.recent[h.Index%digestHistory] = h
	}
	if grew {
		close(f.advance)
		f.advance = make(chan struct{})
	}
	f.mu.Unlock()
}

// register adds a handler for a command type. Types are registered before
// the node starts; registering one twice is a programming error.
func (f *FSM) register(typ string, h Handler) error {
	if typ == "" || len(typ) > MaxTypeLen {
		return fmt.Errorf("consensus: register %q: bad command type", typ)
	}
	if _, dup := f.handlers[typ]; dup {
		return fmt.Errorf("consensus: command type %q registered twice", typ)
	}
	f.handlers[typ] = h
	return nil
}

func (f *FSM) reloadHandlers() error {
	seen := map[Handler]bool{}
	for typ, h := range f.handlers {
		r, ok := h.(Reloader)
		if !ok || seen[h] {
			continue
		}
		seen[h] = true
		if err := f.view(func(rd Reader) error { return r.Reload(rd) }); err != nil {
			return fmt.Errorf("reload handler of %s: %w", typ, err)
		}
	}
	return nil
}

// Applied returns the index of the last entry applied to the state and the
// state digest at that index.
func (f *FSM) Applied() (index uint64, digest [32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.meta.Index, f.meta.Digest
}

// digestAt returns the digest after index, if it is among the recent ones.
func (f *FSM) digestAt(index uint64) ([32]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.recent[index%digestHistory]
	if m.Index != index || index == 0 {
		return [32]byte{}, false
	}
	return m.Digest, true
}

// waitApplied blocks until the state includes index, or ctx ends.
func (f *FSM) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		cur, ch := f.meta.Index, f.advance
		f.mu.Unlock()
		if cur >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d (applied %d): %w", index, cur, context.Cause(ctx))
		}
	}
}

// view runs fn on a consistent read-only view of the state, even a
// damaged one (the framework's own reads: reloading handlers).
func (f *FSM) view(fn func(Reader) error) error {
	_, err := f.read(false, fn)
	return err
}

// viewAt runs fn on a consistent read-only view of the state and returns
// the applied index that view reflects. While the replica knows its state
// is damaged it refuses with ErrDamaged rather than answer from it.
func (f *FSM) viewAt(fn func(Reader) error) (uint64, error) {
	return f.read(true, fn)
}

func (f *FSM) read(guard bool, fn func(Reader) error) (uint64, error) {
	if guard {
		if err := f.integ.refusal(); err != nil {
			return 0, err
		}
	}
	h, err := f.state.acquire()
	if err != nil {
		return 0, err
	}
	defer h.release()
	var index uint64
	var damaged error
	err = h.db.View(func(txn *badger.Txn) error {
		m, err := readAppliedMeta(txn)
		if err != nil {
			return err
		}
		index = m.Index
		return fn(txnReader{txn: txn, seen: &damaged})
	})
	if damaged != nil {
		// Whatever fn made of it, the answer was read from damaged
		// state: it is not given.
		f.noticeDamage(damaged)
		return index, damaged
	}
	f.noticeDamage(err)
	return index, err
}

// Apply applies a single entry. Raft calls ApplyBatch instead; Apply exists
// to satisfy raft.FSM.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in one badger transaction, together
// with the new applied index and digest. Entries at or below the stored
// applied index were applied before a restart and are skipped. The response
// for a command entry is a []Result, one per command in the entry.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for start := 0; start < len(logs); {
		n := f.applyRange(logs[start:], out[start:])
		start += n
	}
	return out
}

// applyRange applies as many of logs as fit in one badger transaction
// (always at least one) and commits them. It returns how many it applied.
func (f *FSM) applyRange(logs []*raft.Log, out []any) int {
	for {
		n, err := f.tryApplyRange(logs, out)
		if err == nil {
			return n
		}
		// A value read back did not match its seal: the entries are not
		// applied to a damaged state. They are applied once the state
		// is repaired, to what the repair left (entries the restored
		// state already holds are skipped).
		f.log.Error("an entry read a damaged value of the state; applying waits for the repair",
			"index", logs[0].Index, "error", err)
		if !f.integ.waitRepaired() {
			// The node is stopping: the entries stay unapplied here
			// and are applied from the log at the next start.
			for i := range out {
				out[i] = fmt.Errorf("consensus: entry %d not applied: %w", logs[i].Index, ErrDamaged)
			}
			return len(logs)
		}
	}
}

// tryApplyRange applies as many of logs as fit in one transaction, or
// returns an ErrDamaged error having applied none.
func (f *FSM) tryApplyRange(logs []*raft.Log, out []any) (int, error) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.mu.Lock()
	meta := f.meta
	f.mu.Unlock()

	h, err := f.state.acquire()
	if err != nil {
		// Raft stops applying before the state is closed; reaching this
		// means the node is being torn down under the FSM.
		panic(fmt.Sprintf("consensus: applying entry %d after the state was closed", logs[0].Index))
	}
	defer h.release()

	// Try all entries; if the transaction overflows, retry with the
	// entries before the one that did not fit. A scrub marker ends the
	// transaction, so that the state right after it can be scanned.
	limit := len(logs)
	if i := scrubMarkerIn(logs, meta.Index); i >= 0 {
		limit = i + 1
	}
	for {
		txn := h.db.NewTransaction(true)
		metas, hooks, applied, err := f.applyEntries(txn, meta, logs[:limit], out)
		if errors.Is(err, ErrDamaged) {
			txn.Discard()
			f.noticeDamage(err)
			return 0, err
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			txn.Discard()
			if applied == 0 {
				panic(fmt.Sprintf("consensus: log entry %d alone exceeds the state database's transaction limit", logs[0].Index))
			}
			limit = applied
			continue
		}
		if err != nil {
			txn.Discard()
			panic(fmt.Sprintf("consensus: applying log entries %d..%d: %v", logs[0].Index, logs[limit-1].Index, err))
		}
		next := meta
		if len(metas) > 0 {
			next = metas[len(metas)-1]
		}
		if next.Index != meta.Index {
			if err := txn.Set(keyApplied, seal(keyApplied, next.encode())); err != nil {
				txn.Discard()
				if errors.Is(err, badger.ErrTxnTooBig) && limit > 1 {
					limit--
					continue
				}
				panic(fmt.Sprintf("consensus: recording applied index %d: %v", next.Index, err))
			}
		}
		if err := txn.Commit(); err != nil {
			panic(fmt.Sprintf("consensus: committing log entries %d..%d: %v", logs[0].Index, logs[limit-1].Index, err))
		}
		// The view at a scrub marker is offered before the index is
		// published, so that whoever waits for the marker's index finds
		// the scan pending.
		if last := logs[limit-1]; isScrubMarker(last) && last.Index == next.Index {
			f.scans.offer(h, next)
		}
		f.setMeta(next, metas)
		for _, hook := range hooks {
			hook()
		}
		return limit, nil
	}
}

// applyEntries applies logs into txn. It returns the meta after each applied
// entry, the after-commit hooks, and how many entries were fully applied
// before an error.
func (f *FSM) applyEntries(txn *badger.Txn, meta appliedMeta, logs []*raft.Log, out []any) ([]appliedMeta, []func(), int, error) {
	var hooks []func()
	var metas []appliedMeta
	for i, l := range logs {
		if l.Index <= meta.Index {
			out[i] = nil // applied before a restart
			continue
		}
		switch l.Type {
		case raft.LogCommand:
			res, entryHooks, err := f.applyCommandEntry(txn, l)
			if err != nil {
				return nil, nil, i, err
			}
			out[i] = res
			hooks = append(hooks, entryHooks...)
		default:
			out[i] = nil
		}
		if err := pruneIdempotency(txn, l.Index); err != nil {
			return nil, nil, i, err
		}
		meta = appliedMeta{Index: l.Index, Term: l.Term, Digest: nextDigest(meta.Digest, l)}
		metas = append(metas, meta)
	}
	return metas, hooks, len(logs), nil
}

func (f *FSM) applyCommandEntry(txn *badger.Txn, l *raft.Log) ([]Result, []func(), error) {
	cmds, err := DecodeBatch(l.Data)
	if err != nil {
		panic(fmt.Sprintf("consensus: log entry %d (term %d, %d bytes) cannot be decoded: %v", l.Index, l.Term, len(l.Data), err))
	}
	results := make([]Result, len(cmds))
	var hooks []func()
	for i, c := range cmds {
		key := scopedKey(c)
		if key != "" {
			prev, ok, err := getIdempotent(txn, key)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				prev.Duplicate = true
				results[i] = prev
				continue
			}
		}
		h, ok := f.handlers[c.Type]
		if !ok {
			panic(fmt.Sprintf("consensus: log entry %d holds command type %q that this node does not know: is it running an older version than the leader?", l.Index, c.Type))
		}
		tx := &Tx{txn: txn, index: l.Index, appendedAt: l.AppendedAt, origin: c.Origin, writes: map[string]*[]byte{}}
		value, err := h.Apply(tx, c)
		if tx.damaged != nil {
			// Whatever the handler made of it, its answer came from
			// damaged state.
			return nil, nil, tx.damaged
		}
		res := Result{Index: l.Index}
		var derr *Error
		switch {
		case err == nil:
			if err := tx.flush(); err != nil {
				return nil, nil, err
			}
			res.Value = value
			hooks = append(hooks, tx.hooks...)
		case errors.As(err, &derr):
			res.Err = derr
		default:
			return nil, nil, fmt.Errorf("command %s: %w", c.Type, err)
		}
		if key != "" {
			if err := putIdempotent(txn, key, res); err != nil {
				return nil, nil, err
			}
		}
		results[i] = res
	}
	return results, hooks, nil
}

// scopedKey is the stored form of a command's idempotency key: scoped by
// the member that proposed it, so one member's keys can neither collide
// with nor replay another's results. Entries of format 1 carry no origin
// and keep their keys unscoped.
func scopedKey(c Command) string {
	if c.Key == "" || c.Origin == "" {
		return c.Key
	}
	return c.Origin + "\x00" + c.Key
}

func getIdempotent(txn *badger.Txn, key string) (Result, bool, error) {
	item, err := txn.Get(append(bytes.Clone(idemPrefix), key...))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return Result{}, false, err
	}
	if v, err = unseal(item.Key(), v); err != nil {
		return Result{}, false, fmt.Errorf("stored result of idempotency key: %w", err)
	}
	d := &decoder{b: v}
	r := d.result()
	if d.err != nil {
		return Result{}, false, fmt.Errorf("stored result of idempotency key: %w", d.err)
	}
	return r, true, nil
}

func putIdempotent(txn *badger.Txn, key string, r Result) error {
	k := append(bytes.Clone(idemPrefix), key...)
	if err := txn.Set(k, seal(k, appendResult(nil, r))); err != nil {
		return err
	}
	x := idemxKey(r.Index, key)
	return txn.Set(x, seal(x, nil))
}

func idemxKey(index uint64, key string) []byte {
	k := make([]byte, 0, len(idemxPrefix)+8+len(key))
	k = append(k, idemxPrefix...)
	k = binary.BigEndian.AppendUint64(k, index)
	return append(k, key...)
}

// pruneIdempotency forgets keys older than the window. It runs every 4096
// entries so that its scan is amortised; it is deterministic because it
// depends only on the index.
func pruneIdempotency(txn *badger.Txn, index uint64) error {
	if index%4096 != 0 || index <= idempotencyWindow {
		return nil
	}
	bound := idemxKey(index-idempotencyWindow, "")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: idemxPrefix})
	var dead [][]byte
	for it.Rewind(); it.Valid() && bytes.Compare(it.Item().Key(), bound) < 0; it.Next() {
		dead = append(dead, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range dead {
		key := k[len(idemxPrefix)+8:]
		if err := txn.Delete(append(bytes.Clone(idemPrefix), key...)); err != nil {
			return err
		}
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Tx is a handler's view of the state while it applies one command. Reads
// see the state as of the command, including earlier commands of the same
// Raft batch; writes are buffered and reach the state only if the handler
// returns without error. Iterate does not see the command's own buffered
// writes.
type Tx struct {
	txn        *badger.Txn
	index      uint64
	appendedAt time.Time
	origin     string
	writes     map[string]*[]byte // nil value: delete
	order      []string
	hooks      []func()
	damaged    error // the first value read that did not match its seal
}

// Index returns the Raft log index of the entry being applied. It is the
// same on every replica and may be used as a deterministic sequence number.
func (t *Tx) Index() uint64 { return t.index }

// Time returns when the leader appended the entry to its log, by the
// leader's clock. It is stored in the entry, so it is the same on every
// replica; zero for entries written before Raft recorded it.
func (t *Tx) Time() time.Time { return t.appendedAt }

// Now is the entry's time in UTC: the leader's clock when it appended
// the entry (the Unix epoch for an entry without one), the same on every
// replica.
func (t *Tx) Now() time.Time {
	if t.appendedAt.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.appendedAt.UTC()
}

// Origin returns the region whose node proposed the command (see
// Command.Origin); empty for entries written before commands carried it.
func (t *Tx) Origin() string { return t.origin }

// Get reads key, seeing this command's own writes first.
func (t *Tx) Get(key []byte) ([]byte, bool, error) {
	if v, ok := t.writes[string(key)]; ok {
		if v == nil {
			return nil, false, nil
		}
		return *v, true, nil
	}
	return txnReader{txn: t.txn, seen: &t.damaged}.Get(key)
}

// Iterate reads the state under prefix as it was before this command.
func (t *Tx) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	return txnReader{txn: t.txn, seen: &t.damaged}.Iterate(prefix, fn)
}

// IterateFrom is Iterate from the first key >= start.
func (t *Tx) IterateFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	return txnReader{txn: t.txn, seen: &t.damaged}.IterateFrom(prefix, start, fn)
}

// Set writes key. Keys starting with 0x00 are reserved for the framework.
func (t *Tx) Set(key, value []byte) {
	t.write(key, bytes.Clone(value), false)
}

// Delete removes key.
func (t *Tx) Delete(key []byte) { t.write(key, nil, true) }

func (t *Tx) write(key, value []byte, del bool) {
	if len(key) == 0 || bytes.HasPrefix(key, sysPrefix) {
		panic(fmt.Sprintf("consensus: handler wrote reserved or empty key %q", key))
	}
	k := string(key)
	if _, seen := t.writes[k]; !seen {
		t.order = append(t.order, k)
	}
	if del {
		t.writes[k] = nil
		return
	}
	t.writes[k] = &value
}

// AfterCommit registers fn to run once the entry's transaction is durable
// in the local state. Hooks run on the FSM goroutine, in order, and must not
// block; they are the only place for side effects outside the state.
func (t *Tx) AfterCommit(fn func()) { t.hooks = append(t.hooks, fn) }

func (t *Tx) flush() error {
	for _, k := range t.order {
		v := t.writes[k]
		var err error
		if v == nil {
			err = t.txn.Delete([]byte(k))
		} else {
			err = t.txn.Set([]byte(k), seal([]byte(k), *v))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// txnReader reads sealed values from a badger transaction; a value that
// does not match its seal is an ErrDamaged error, never a value. The
// first such error is also kept in *seen, if set, so that the caller
// learns of it even if the reader's user drops the error.
type txnReader struct {
	txn  *badger.Txn
	seen *error
}

func (r txnReader) unseal(key, stored []byte) ([]byte, error) {
	v, err := unseal(key, stored)
	if err != nil && r.seen != nil && *r.seen == nil {
		*r.seen = err
	}
	return v, err
}

func (r txnReader) Get(key []byte) ([]byte, bool, error) {
	item, err := r.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, false, err
	}
	if v, err = r.unseal(key, v); err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (r txnReader) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	return r.IterateFrom(prefix, prefix, fn)
}

func (r txnReader) IterateFrom(prefix, start []byte, fn func(key, value []byte) error) error {
	it := r.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	if bytes.Compare(start, prefix) < 0 {
		start = prefix
	}
	for it.Seek(start); it.Valid(); it.Next() {
		item := it.Item()
		if len(prefix) == 0 && bytes.HasPrefix(item.Key(), sysPrefix) {
			continue
		}
		err := item.Value(func(stored []byte) error {
			v, err := r.unseal(item.Key(), stored)
			if err != nil {
				return err
			}
			return fn(item.Key(), v)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
