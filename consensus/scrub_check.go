package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// scrubProtocol asks a replica for its hashes at a scrub marker.
var scrubProtocol = federation.ProtocolID("scrub", "1.0.0")

// keepScans is how many scans a replica remembers for its peers to
// compare with.
const keepScans = 8

// scrubber runs a replica's scans, its comparisons with the other
// replicas, and its repair.
type scrubber struct {
	n *Node

	mu       sync.Mutex
	results  []*scanResult // oldest first
	scanning uint64        // the index being scanned, 0 if none
	scanEnd  chan struct{} // closed and replaced when a scan ends
	report   *ScrubReport
	repairs  int
}

// ScrubReport is a replica's last comparison of the stored states.
type ScrubReport struct {
	Index   uint64        `json:"index"` // the scrub marker every state was hashed at
	Checked time.Time     `json:"checked"`
	Keys    uint64        `json:"keys"`  // keys this replica hashed
	Bytes   uint64        `json:"bytes"` // their bytes
	Took    time.Duration `json:"took_ns"`
	Agree   bool          `json:"agree"`
	Regions []ScrubRegion `json:"regions"`
}

// ScrubRegion is one replica in a ScrubReport.
type ScrubRegion struct {
	ID string `json:"id"` // region code (Raft server ID)
	// State: agrees, differs (its root is not the majority's), damaged (it
	// holds values that do not match their seals), undecided (the roots
	// differ and no majority holds one), no-result (it did not scan at
	// that index) or unreachable.
	State  string `json:"state"`
	Root   string `json:"root,omitempty"`
	Ranges []int  `json:"ranges,omitempty"` // ranges that differ from the majority's, or hold damaged values
	Note   string `json:"note,omitempty"`
}

// Scrub region states.
const (
	ScrubAgrees      = "agrees"
	ScrubDiffers     = "differs"
	ScrubDamaged     = "damaged"
	ScrubUndecided   = "undecided"
	ScrubNoResult    = "no-result"
	ScrubUnreachable = "unreachable"
)

// ScrubStatus is what a replica knows of its own stored state.
type ScrubStatus struct {
	Damage      *Damage // nil when sound as far as the replica knows
	LastIndex   uint64  // index of the last scan, 0 before the first
	LastKeys    uint64
	LastBytes   uint64
	LastTook    time.Duration
	DamageFound int // episodes of damage since start
	Repairs     int // repairs completed since start
}

// startScrub starts the scans, the checks and the repair; called by Start.
func (n *Node) startScrub() {
	s := &scrubber{n: n, scanEnd: make(chan struct{})}
	n.scrub = s
	n.fsm.integ.mu.Lock()
	n.fsm.integ.stop = n.stop
	n.fsm.integ.mu.Unlock()
	n.fsm.scans.init()
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse, opts.Timeout = 1024, 64<<10, scrubAskWait+5*time.Second
	federation.Serve(n.h, scrubProtocol, opts, n.log, s.handleAsk)
	n.h.SetStreamHandler(repairProtocol, s.handleRepair)
	n.wg.Add(3)
	go func() { defer n.wg.Done(); s.scanLoop() }()
	go func() { defer n.wg.Done(); s.markerLoop() }()
	go func() { defer n.wg.Done(); s.repairLoop() }()
}

// Integrity reports whether the replica's stored state is sound as far as
// it knows, and if not, what is wrong (for readiness).
func (n *Node) Integrity() (bool, string) {
	if d := n.fsm.integ.current(); d != nil {
		return false, "stored state damaged: " + d.String() + "; reads refused while it repairs itself"
	}
	return true, ""
}

// ScrubStatus returns what the replica knows of its stored state.
func (n *Node) ScrubStatus() ScrubStatus {
	st := ScrubStatus{Damage: n.fsm.integ.current()}
	n.fsm.integ.mu.Lock()
	st.DamageFound = n.fsm.integ.episodes
	n.fsm.integ.mu.Unlock()
	if s := n.scrub; s != nil {
		s.mu.Lock()
		if len(s.results) > 0 {
			r := s.results[len(s.results)-1]
			st.LastIndex, st.LastKeys, st.LastBytes, st.LastTook = r.Index, r.Keys, r.Bytes, r.Took
		}
		st.Repairs = s.repairs
		s.mu.Unlock()
	}
	return st
}

// ScrubReport returns the replica's last comparison of the stored states,
// or nil before its first.
func (n *Node) ScrubReport() *ScrubReport {
	s := n.scrub
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.report == nil {
		return nil
	}
	r := *s.report
	r.Regions = slices.Clone(r.Regions)
	return &r
}

// ProposeScrub commits a scrub marker: every replica scans its state at
// it and compares. It returns the marker's index.
func (n *Node) ProposeScrub(ctx context.Context) (uint64, error) {
	res, err := n.Apply(ctx, scrubMarker())
	return res.Index, err
}

func (s *scrubber) scanLoop() {
	n := s.n
	defer func() {
		n.fsm.scans.close()
		n.h.RemoveStreamHandler(scrubProtocol)
		n.h.RemoveStreamHandler(repairProtocol)
	}()
	for {
		select {
		case <-n.stop:
			return
		case <-n.fsm.scans.ready:
		}
		// Taken and marked as scanning at once: a peer asking meanwhile
		// finds it pending.
		s.mu.Lock()
		job := n.fsm.scans.take()
		if job != nil {
			s.scanning = job.meta.Index
		}
		s.mu.Unlock()
		if job == nil {
			continue
		}
		res, err := scanState(job.txn, n.cfg.ScrubBytesPerSec, n.stop)
		job.release()
		s.mu.Lock()
		s.scanning = 0
		if res != nil {
			res.Index = job.meta.Index
			s.results = append(s.results, res)
			if len(s.results) > keepScans {
				s.results = s.results[1:]
			}
		}
		close(s.scanEnd)
		s.scanEnd = make(chan struct{})
		s.mu.Unlock()
		if err != nil {
			return
		}
		n.log.Debug("stored state scanned", "index", res.Index, "keys", res.Keys, "bytes", res.Bytes,
			"took", res.Took.Round(time.Millisecond).String(), "root", rootHex(res.Root)[:16])
		if len(res.Unreadable) > 0 {
			n.fsm.damaged(Damage{Index: res.Index, Ranges: res.Unreadable, Reason: "values that do not match their seals"})
		}
		rep := s.compare(res)
		s.mu.Lock()
		s.report = rep
		s.mu.Unlock()
	}
}

// markerLoop commits a scrub marker once the replica has caught up after
// it starts, and then, while it leads, every ScrubInterval.
func (s *scrubber) markerLoop() {
	n := s.n
	every := n.cfg.ScrubInterval
	if every <= 0 {
		return
	}
	tick := time.NewTicker(min(max(every/4, 100*time.Millisecond), 10*time.Second))
	defer tick.Stop()
	started := false
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		st := n.Status()
		if !started {
			if st.LeaderID == "" || st.AppliedIndex < st.CommitIndex {
				continue
			}
			started = s.propose("check after start")
			continue
		}
		if n.IsLeader() && time.Since(n.fsm.scans.last()) >= every {
			s.propose("periodic check")
		}
	}
}

func (s *scrubber) propose(why string) bool {
	ctx, cancel := s.n.stopContext()
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, s.n.cfg.ApplyTimeout)
	defer cancel2()
	idx, err := s.n.ProposeScrub(ctx)
	if err != nil {
		s.n.log.Debug("scrub marker not committed", "why", why, "error", err)
		return false
	}
	s.n.log.Debug("scrub marker committed", "why", why, "index", idx)
	return true
}

// scrubAskWait is how long a replica holds a peer's question while the
// answer is pending (the marker not applied yet, or the scan running).
const scrubAskWait = 20 * time.Second

type scrubAsk struct {
	Index uint64 `json:"index"`
}

type scrubAnswer struct {
	Index      uint64 `json:"index"`
	State      string `json:"state"` // done, pending or none
	Root       []byte `json:"root,omitempty"`
	Ranges     []byte `json:"ranges,omitempty"` // scrubRanges hashes of 32 bytes
	Unreadable []int  `json:"unreadable,omitempty"`
	Note       string `json:"note,omitempty"`
}

const (
	answerDone    = "done"
	answerPending = "pending"
	answerNone    = "none"
)

func (r *scanResult) answer() scrubAnswer {
	a := scrubAnswer{Index: r.Index, State: answerDone, Root: r.Root[:], Unreadable: r.Unreadable}
	a.Ranges = make([]byte, 0, scrubRanges*32)
	for _, h := range r.Ranges {
		a.Ranges = append(a.Ranges, h[:]...)
	}
	return a
}

// resultAt returns the scan at index, if this replica made one.
func (s *scrubber) resultAt(index uint64) *scanResult {
	for _, r := range s.results {
		if r.Index == index {
			return r
		}
	}
	return nil
}

// localAnswer is this replica's answer for index, waiting while ctx
// allows for a scan to come.
func (s *scrubber) localAnswer(ctx context.Context, index uint64) scrubAnswer {
	n := s.n
	if err := n.fsm.waitApplied(ctx, index); err != nil {
		return scrubAnswer{Index: index, State: answerPending, Note: "the marker is not applied here yet"}
	}
	for {
		s.mu.Lock()
		if r := s.resultAt(index); r != nil {
			a := r.answer()
			s.mu.Unlock()
			return a
		}
		pending := s.scanning == index || n.fsm.scans.waitingIndex() == index
		scanning, end := s.scanning, s.scanEnd
		s.mu.Unlock()
		if !pending {
			note := "this replica did not scan at that index"
			if scanning != 0 {
				note = fmt.Sprintf("this replica was scanning index %d when the marker came", scanning)
			}
			return scrubAnswer{Index: index, State: answerNone, Note: note}
		}
		select {
		case <-end:
		case <-ctx.Done():
			return scrubAnswer{Index: index, State: answerPending, Note: "the scan is not finished"}
		}
	}
}

// handleAsk answers a member's question about this replica's scan.
func (s *scrubber) handleAsk(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	if _, err := s.n.serverOf(from); err != nil {
		return nil, &federation.RemoteError{Code: federation.CodeBadRequest, Message: err.Error()}
	}
	var q scrubAsk
	if err := json.Unmarshal(req, &q); err != nil || q.Index == 0 {
		return nil, &federation.RemoteError{Code: federation.CodeBadRequest, Message: "want {\"index\": n}"}
	}
	ctx, cancel := context.WithTimeout(ctx, scrubAskWait)
	defer cancel()
	return json.Marshal(s.localAnswer(ctx, q.Index))
}

// ask gets a peer's answer for index, asking again while it is pending
// until ctx ends.
func (s *scrubber) ask(ctx context.Context, p peer.ID, index uint64) (scrubAnswer, error) {
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse, opts.Timeout = 1024, 64<<10, scrubAskWait+5*time.Second
	req, _ := json.Marshal(scrubAsk{Index: index})
	for {
		b, err := federation.Call(ctx, s.n.h, p, scrubProtocol, req, opts)
		if err != nil {
			return scrubAnswer{}, err
		}
		var a scrubAnswer
		if err := json.Unmarshal(b, &a); err != nil {
			return scrubAnswer{}, fmt.Errorf("scrub answer: %w", err)
		}
		if a.State == answerDone && (len(a.Root) != 32 || len(a.Ranges) != scrubRanges*32) {
			return scrubAnswer{}, errors.New("scrub answer: malformed hashes")
		}
		if a.State != answerPending {
			return a, nil
		}
		select {
		case <-ctx.Done():
			return a, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// vote is one root and the replicas that hold it.
type vote struct {
	root   string
	ranges []byte
	ids    []string
	score  float64
}

// compare asks every other replica for its hashes at res.Index, decides
// which root is right, and marks this replica damaged if its is not.
func (s *scrubber) compare(res *scanResult) *ScrubReport {
	n := s.n
	rep := &ScrubReport{Index: res.Index, Keys: res.Keys, Bytes: res.Bytes, Took: res.Took}
	servers, err := n.Servers()
	if err != nil {
		servers = []Server{{ID: n.cfg.ID, Peer: n.h.ID()}}
	}
	_, leader := n.raft.LeaderWithID()
	answers := map[string]scrubAnswer{}
	notes := map[string]string{}
	self := res.answer()
	answers[n.cfg.ID] = self
	// Peers scan at the same pace, from about the same moment: wait
	// for them a good deal longer than this scan took.
	wait := min(3*res.Took+30*time.Second, 10*time.Minute)
	ctx, cancel := n.stopContext()
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, wait)
	defer cancel2()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, srv := range servers {
		if srv.ID == n.cfg.ID {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.ask(ctx, srv.Peer, res.Index)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				notes[srv.ID] = err.Error()
				return
			}
			answers[srv.ID] = a
		}()
	}
	wg.Wait()

	// The replicas that found no damage of their own vote with their
	// roots; the leader's vote breaks a tie.
	votes := map[string]*vote{}
	for id, a := range answers {
		if a.State != answerDone || len(a.Unreadable) > 0 {
			continue
		}
		k := string(a.Root)
		v := votes[k]
		if v == nil {
			v = &vote{root: k, ranges: a.Ranges}
			votes[k] = v
		}
		v.ids = append(v.ids, id)
		v.score++
		if id == string(leader) {
			v.score += 0.5
		}
	}
	var best *vote
	tie := false
	for _, v := range votes {
		switch {
		case best == nil || v.score > best.score:
			best, tie = v, false
		case v.score == best.score:
			tie = true
		}
	}
	if tie {
		best = nil
	}
	rep.Agree = true
	for _, srv := range servers {
		row := ScrubRegion{ID: srv.ID}
		a, ok := answers[srv.ID]
		switch {
		case !ok:
			row.State, row.Note = ScrubUnreachable, notes[srv.ID]
		case a.State != answerDone:
			row.State, row.Note = ScrubNoResult, a.Note
		default:
			row.Root = fmt.Sprintf("%x", a.Root)
			switch {
			case len(a.Unreadable) > 0:
				row.State = ScrubDamaged
				row.Ranges = a.Unreadable
				row.Note = "values that do not match their seals"
				if best != nil {
					row.Ranges = mergeRanges(a.Unreadable, differingRanges(a.Ranges, best.ranges))
				}
			case best == nil && len(votes) > 1:
				row.State = ScrubUndecided
				row.Note = "the replicas' roots differ and no majority holds one"
			case best == nil || string(a.Root) == best.root:
				row.State = ScrubAgrees
			default:
				row.State = ScrubDiffers
				row.Ranges = differingRanges(a.Ranges, best.ranges)
				row.Note = fmt.Sprintf("differs from the root of %d of %d replicas", len(best.ids), len(servers))
			}
		}
		if row.State != ScrubAgrees {
			rep.Agree = false
		}
		rep.Regions = append(rep.Regions, row)
	}
	sort.Slice(rep.Regions, func(i, j int) bool { return rep.Regions[i].ID < rep.Regions[j].ID })
	rep.Checked = time.Now()

	for _, row := range rep.Regions {
		switch {
		case row.ID == n.cfg.ID && row.State == ScrubDiffers:
			n.fsm.damaged(Damage{Index: res.Index, Ranges: row.Ranges, Reason: "the stored state differs from the majority of the replicas"})
		case row.ID != n.cfg.ID && (row.State == ScrubDiffers || row.State == ScrubDamaged):
			n.log.Warn("another replica's stored state is damaged; it repairs itself", "region", row.ID, "index", res.Index, "ranges", row.Ranges)
		case row.State == ScrubUndecided && row.ID == n.cfg.ID:
			n.log.Warn("the replicas' stored states differ and no majority holds one root", "index", res.Index)
		}
	}
	if rep.Agree {
		n.log.Info("stored state agrees with every replica", "index", res.Index, "replicas", len(rep.Regions),
			"keys", res.Keys, "bytes", res.Bytes, "took", res.Took.Round(time.Millisecond).String())
	}
	return rep
}

// differingRanges lists the ranges whose hashes differ.
func differingRanges(a, b []byte) []int {
	var out []int
	for i := 0; i < scrubRanges; i++ {
		if string(a[i*32:(i+1)*32]) != string(b[i*32:(i+1)*32]) {
			out = append(out, i)
		}
	}
	return out
}

func mergeRanges(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
