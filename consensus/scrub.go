package consensus

// Scrubbing the stored state. The state digest (Status.Digest) chains the
// entries a replica applied; it says nothing of what the replica's files
// hold now. A byte altered on disk, a table file replaced by an older copy,
// a write lost: the digest still agrees, and the replica answers from what
// it stores. So every replica also hashes what it stores, as it reads it
// back, and the replicas compare those hashes at the same log index:
//
//   - A scrub marker (the leader marker command with a scrub payload, so
//     that a replica of an older version applies it as the no-op it always
//     was) is committed by the leader every ScrubInterval, and by each
//     replica once after it starts. The FSM ends its transaction at the
//     marker and opens a read view of the state right after it: every
//     replica scans exactly the same logical state.
//   - The scan reads every key and value at a bounded pace
//     (ScrubBytesPerSec), checks each value's seal (see seal), and hashes
//     the keys and values into scrubRanges ranges by a hash of the key,
//     then a root over the ranges.
//   - Each replica then asks the others for their hashes at that index and
//     finds the root most of them hold (the leader's side wins a tie). A
//     replica whose root differs from it, or that found a value not
//     matching its seal, is damaged: it logs one ERROR naming the ranges,
//     refuses reads (ErrDamaged) and reports not ready, hands leadership
//     over if it leads, fetches a snapshot from a replica of the majority
//     and restores it, then commits a marker to verify the result.
//
// A value that fails its seal when a request reads it is damage too: the
// read fails and the same repair starts, without waiting for a scrub.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// ErrDamaged is returned by reads while the replica knows its stored state
// is damaged, and by a read that met a value not matching its seal.
var ErrDamaged = errors.New("consensus: the replica's stored state is damaged")

// DamageError is a value read back that is not the value written.
type DamageError struct {
	Range int    // the scrub range of its key
	What  string // what was found
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("consensus: the replica's stored state is damaged: %s (range %d)", e.What, e.Range)
}

// Is makes a DamageError an ErrDamaged.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// scrubRanges is how many parts a scan hashes the keyspace into. A replica
// that differs is told which ranges differ, which says how much is wrong
// (one range: a few keys; all of them: a wholly different state).
const scrubRanges = 256

// rangeOf is the scrub range of a key.
func rangeOf(key []byte) int { return int(crc32.Checksum(key, castagnoli) >> 24) }

// scrubPayload marks a leader marker command as a scrub marker.
var scrubPayload = []byte("fsenet/scrub-marker/1")

func scrubMarker() Command { return Command{Type: leaderMarker, Payload: scrubPayload} }

// isScrubMarker reports whether a log entry carries a scrub marker (alone
// or group-committed with other commands).
func isScrubMarker(l *raft.Log) bool {
	if l.Type != raft.LogCommand || !bytes.Contains(l.Data, scrubPayload) {
		return false
	}
	cmds, err := DecodeBatch(l.Data)
	if err != nil {
		return false
	}
	for _, c := range cmds {
		if c.Type == leaderMarker && bytes.Equal(c.Payload, scrubPayload) {
			return true
		}
	}
	return false
}

// scrubMarkerIn returns the position of the first scrub marker among the
// entries not yet applied, or -1.
func scrubMarkerIn(logs []*raft.Log, applied uint64) int {
	for i, l := range logs {
		if l.Index > applied && isScrubMarker(l) {
			return i
		}
	}
	return -1
}

// Damage is what a replica found wrong with its stored state.
type Damage struct {
	Index  uint64    `json:"index,omitempty"` // the scrub's index; 0 when a read found it
	Ranges []int     `json:"ranges"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

func (d *Damage) String() string {
	var b strings.Builder
	b.WriteString(d.Reason)
	if len(d.Ranges) > 0 {
		fmt.Fprintf(&b, " in %s", rangesText(d.Ranges))
	}
	if d.Index > 0 {
		fmt.Fprintf(&b, " at index %d", d.Index)
	}
	return b.String()
}

// rangesText names ranges for people: "ranges 3, 17 and 200".
func rangesText(rs []int) string {
	if len(rs) == 1 {
		return fmt.Sprintf("range %d", rs[0])
	}
	const show = 16
	parts := make([]string, 0, min(len(rs), show))
	for _, r := range rs[:min(len(rs), show)] {
		parts = append(parts, fmt.Sprint(r))
	}
	if len(rs) > show {
		return fmt.Sprintf("%d ranges (%s, …)", len(rs), strings.Join(parts, ", "))
	}
	return "ranges " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// integrity is what the FSM knows of its stored state's soundness.
type integrity struct {
	mu       sync.Mutex
	damage   *Damage
	repaired chan struct{} // closed when the damage is cleared
	kick     chan struct{} // wakes the repair loop
	stop     <-chan struct{}
	episodes int // damage found since start
}

func newIntegrity() *integrity {
	return &integrity{repaired: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// refusal is the error a read gets while the state is damaged.
func (i *integrity) refusal() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.damage == nil {
		return nil
	}
	return fmt.Errorf("%w: %s; reads are refused until it is repaired", ErrDamaged, i.damage)
}

// mark records damage; it reports whether the state was thought sound
// until now.
func (i *integrity) mark(d Damage) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.damage != nil {
		merged := append(slices.Clone(i.damage.Ranges), d.Ranges...)
		slices.Sort(merged)
		i.damage.Ranges = slices.Compact(merged)
		if d.Index > i.damage.Index {
			i.damage.Index, i.damage.Reason = d.Index, d.Reason
		}
		return false
	}
	d.Ranges = slices.Compact(slices.Sorted(slices.Values(d.Ranges)))
	if d.Since.IsZero() {
		d.Since = time.Now()
	}
	i.damage = &d
	i.repaired = make(chan struct{})
	i.episodes++
	select {
	case i.kick <- struct{}{}:
	default:
	}
	return true
}

// restored clears the damage: the whole state was replaced.
func (i *integrity) restored(index uint64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.damage != nil {
		i.damage = nil
		close(i.repaired)
	}
}

// current returns a copy of the damage, nil when the state is sound.
func (i *integrity) current() *Damage {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.damage == nil {
		return nil
	}
	d := *i.damage
	d.Ranges = slices.Clone(d.Ranges)
	return &d
}

// waitRepaired blocks until the damage is cleared; false if the node
// stops first, or no node runs the repair.
func (i *integrity) waitRepaired() bool {
	i.mu.Lock()
	if i.damage == nil {
		i.mu.Unlock()
		return true
	}
	ch, stop := i.repaired, i.stop
	i.mu.Unlock()
	if stop == nil {
		return false
	}
	select {
	case <-ch:
		return true
	case <-stop:
		return false
	}
}

// noticeDamage records damage that a read or an apply met, if err is one.
func (f *FSM) noticeDamage(err error) {
	var de *DamageError
	if err == nil || !errors.As(err, &de) {
		return
	}
	f.damaged(Damage{Ranges: []int{de.Range}, Reason: de.What})
}

// damaged records damage and says so once per episode.
func (f *FSM) damaged(d Damage) {
	if f.integ.mark(d) {
		cur := f.integ.current()
		f.log.Error("the replica's stored state is damaged: it refuses reads and repairs itself from another replica",
			"damage", cur.String(), "ranges", cur.Ranges, "index", cur.Index)
	}
}

// scanJob is a read view of the state right after a scrub marker.
type scanJob struct {
	h    *dbHandle
	txn  *badger.Txn
	meta appliedMeta
}

func (j *scanJob) release() {
	j.txn.Discard()
	j.h.release()
}

// scanQueue hands the scrubber a view at each scrub marker: at most one
// waits while a scan runs; a marker applied while one waits is not
// scanned here (the replicas compare only indexes they all scanned).
type scanQueue struct {
	mu         sync.Mutex
	open       bool
	waiting    *scanJob
	ready      chan struct{} // signalled when waiting is set
	lastMarker time.Time     // when the last marker was applied here
}

func (q *scanQueue) init() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ready == nil {
		q.ready = make(chan struct{}, 1)
	}
	q.open = true
}

// offer is called by the FSM right after committing a scrub marker; h is
// the live database, meta the state's applied record.
func (q *scanQueue) offer(h *dbHandle, meta appliedMeta) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lastMarker = time.Now()
	if !q.open || q.waiting != nil {
		return
	}
	h.refs.Add(1)
	q.waiting = &scanJob{h: h, txn: h.db.NewTransaction(false), meta: meta}
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *scanQueue) take() *scanJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	j := q.waiting
	q.waiting = nil
	return j
}

// waitingIndex is the index of the view waiting to be scanned, or 0.
func (q *scanQueue) waitingIndex() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting == nil {
		return 0
	}
	return q.waiting.meta.Index
}

func (q *scanQueue) last() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.lastMarker
}

// close stops taking views and drops the one waiting.
func (q *scanQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.open = false
	if q.waiting != nil {
		q.waiting.release()
		q.waiting = nil
	}
}

// scanResult is one replica's hashes of its state at a scrub marker.
type scanResult struct {
	Index      uint64
	Root       [32]byte
	Ranges     [scrubRanges][32]byte
	Keys       uint64
	Bytes      uint64
	Unreadable []int // ranges holding values that do not match their seals
	Took       time.Duration
	At         time.Time
}

// errStopped ends a scan when the node stops.
var errStopped = errors.New("consensus: stopping")

// scanState hashes every key and value of the view, at most bytesPerSec
// (0: unpaced).
func scanState(txn *badger.Txn, bytesPerSec int64, stop <-chan struct{}) (*scanResult, error) {
	start := time.Now()
	var hs [scrubRanges]hash.Hash
	for i := range hs {
		hs[i] = sha256.New()
	}
	unreadable := map[int]bool{}
	res := &scanResult{}
	p := pacer{rate: float64(bytesPerSec), start: start}
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var hdr []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if bytes.Equal(k, keyFormat) {
			continue
		}
		r := rangeOf(k)
		h := hs[r]
		hdr = binary.AppendUvarint(hdr[:0], uint64(len(k)))
		h.Write(hdr)
		h.Write(k)
		n := len(k)
		err := item.Value(func(stored []byte) error {
			v, err := unseal(k, stored)
			if err != nil {
				// The raw bytes: they differ from every sound replica's.
				unreadable[r] = true
				v = stored
			}
			hdr = binary.AppendUvarint(hdr[:0], uint64(len(v)))
			h.Write(hdr)
			h.Write(v)
			n += len(v)
			return nil
		})
		if err != nil {
			// Badger could not read the value at all.
			unreadable[r] = true
			h.Write([]byte{0xff})
		}
		res.Keys++
		res.Bytes += uint64(n)
		if err := p.wait(n, stop); err != nil {
			return nil, err
		}
	}
	root := sha256.New()
	for i, h := range hs {
		h.Sum(res.Ranges[i][:0])
		root.Write(res.Ranges[i][:])
	}
	root.Sum(res.Root[:0])
	for r := range unreadable {
		res.Unreadable = append(res.Unreadable, r)
	}
	sort.Ints(res.Unreadable)
	res.Took = time.Since(start)
	res.At = time.Now()
	return res, nil
}

// pacer keeps a scan under its rate by sleeping when it is ahead.
type pacer struct {
	rate  float64 // bytes per second; 0: unpaced
	start time.Time
	done  float64
}

func (p *pacer) wait(n int, stop <-chan struct{}) error {
	p.done += float64(n)
	if p.rate > 0 {
		ahead := time.Duration(p.done/p.rate*float64(time.Second)) - time.Since(p.start)
		if ahead >= 20*time.Millisecond {
			t := time.NewTimer(ahead)
			defer t.Stop()
			select {
			case <-stop:
				return errStopped
			case <-t.C:
			}
			return nil
		}
	}
	select {
	case <-stop:
		return errStopped
	default:
		return nil
	}
}

// rootHex is a root or range hash as reported.
func rootHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// stopContext is a context that ends when the node stops.
func (n *Node) stopContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
