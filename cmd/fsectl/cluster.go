package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// clusterStatus is the answer of GET /v1/cluster: the Raft cluster as the
// asked node sees it, and every region's state as that region reported it.
type clusterStatus struct {
	Region       string         `json:"region"` // the asked node's region
	Leader       string         `json:"leader"` // the leader's region, "" if none
	Term         uint64         `json:"term"`
	CommitIndex  uint64         `json:"commit_index"`
	AppliedIndex uint64         `json:"applied_index"`
	DigestIndex  uint64         `json:"digest_index"` // the index every digest is taken at
	Agree        bool           `json:"agree"`        // the node's own verdict on the digests
	Regions      []regionStatus `json:"regions"`
}

type regionStatus struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	Peer         string `json:"peer"`
	Role         string `json:"role"` // from the certificate: voter or nonvoter
	Raft         string `json:"raft"` // in the Raft configuration: voter, nonvoter, or "" (absent)
	Leader       bool   `json:"leader"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Digest       string `json:"digest"` // hex SHA-256 of the store at digest_index
	Error        string `json:"error"`  // why the region could not be asked
	CertExpiry   string `json:"cert_expiry"`
	Version      string `json:"version"` // the region's node's build, as it reports it
}

// label names a region for messages: "150 (Campania)".
func (r *regionStatus) label() string {
	if r.Name == "" {
		return clean(r.Code)
	}
	return clean(r.Code) + " (" + clean(r.Name) + ")"
}

func (c *client) cluster(ctx context.Context) (*clusterStatus, []byte, error) {
	var st clusterStatus
	raw, err := c.getJSON(ctx, "/v1/cluster", &st)
	if err != nil {
		return nil, nil, err
	}
	if st.Region == "" && st.Regions == nil {
		return nil, nil, &requestError{Method: "GET", Path: "/v1/cluster", Status: 200,
			Msg: fmt.Sprintf("the node's answer is not a cluster status: %q", excerpt(raw, excerptLen))}
	}
	return &st, raw, nil
}

func clusterStatusCmd(ctx context.Context, a *app, _ []string) error {
	st, raw, err := a.client.cluster(ctx)
	if err != nil {
		return err
	}
	if a.opts.json {
		return printJSON(a.stdout, raw)
	}
	return printStatus(a.stdout, st, time.Now())
}

func printStatus(w io.Writer, st *clusterStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	agree := "replicas agree"
	if !st.Agree {
		agree = "replicas DO NOT agree"
	}
	leader := "none"
	if st.Leader != "" {
		leader = st.regionLabel(st.Leader)
	}
	fmt.Fprintf(tw, "node:\t%s\n", st.regionLabel(st.Region))
	fmt.Fprintf(tw, "leader:\t%s\n", leader)
	fmt.Fprintf(tw, "term:\t%d\n", st.Term)
	fmt.Fprintf(tw, "commit index:\t%d\n", st.CommitIndex)
	fmt.Fprintf(tw, "applied index:\t%d\n", st.AppliedIndex)
	fmt.Fprintf(tw, "digest index:\t%d (%s)\n", st.DigestIndex, agree)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tROLE\tRAFT\tSTATE\tLEADER\tTERM\tCOMMIT\tAPPLIED\tCERT EXPIRY\tVERSION\tPEER\tERROR")
	for i := range st.Regions {
		r := &st.Regions[i]
		lead := ""
		if r.Leader {
			lead = "*"
		}
		raft := r.Raft
		if raft == "" {
			raft = "absent" // not in the Raft configuration
		}
		term, commit, applied := "", "", ""
		if r.Error == "" {
			term = strconv.FormatUint(r.Term, 10)
			commit = strconv.FormatUint(r.CommitIndex, 10)
			applied = strconv.FormatUint(r.AppliedIndex, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			cell(r.Code), cell(r.Name), cell(r.Role), cell(raft), cell(r.State), cell(lead),
			cell(term), cell(commit), cell(applied), cell(expiry(r.CertExpiry, now)), cell(r.Version), cell(r.Peer), cell(r.Error))
	}
	return tw.Flush()
}

// regionLabel names the region with code as "030 (Lombardia)" when the
// status knows its name.
func (st *clusterStatus) regionLabel(code string) string {
	for i := range st.Regions {
		if st.Regions[i].Code == code {
			return st.Regions[i].label()
		}
	}
	return clean(code)
}

// cell prepares a table cell: clean, without tabs, "-" when empty.
func cell(s string) string {
	if s = clean(s); s == "" {
		return "-"
	}
	return s
}

// expiry shows a certificate's expiry as a date, marked when past.
func expiry(s string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	d := t.UTC().Format(time.DateOnly)
	if !t.After(now) {
		d += " EXPIRED"
	}
	return d
}

func clusterDigestCmd(ctx context.Context, a *app, _ []string) error {
	st, raw, err := a.client.cluster(ctx)
	if err != nil {
		return err
	}
	stored, storedRaw, err := a.client.storedState(ctx)
	if err != nil {
		return err
	}
	if a.opts.json {
		if storedRaw != nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) == nil {
				m["stored_state"] = storedRaw
				raw, _ = json.Marshal(m)
			}
		}
		if err := printJSON(a.stdout, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "digest index: %d (asked %s)\n\n", st.DigestIndex, st.regionLabel(st.Region))
		tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tNAME\tDIGEST")
		for i := range st.Regions {
			r := &st.Regions[i]
			d := r.Digest
			if r.Error != "" {
				d = "could not be asked: " + r.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", cell(r.Code), cell(r.Name), cell(d))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := printStoredState(a.stdout, st, stored); err != nil {
			return err
		}
	}
	if err := checkAgreement(st); err != nil {
		return err
	}
	if err := checkStoredState(st, stored); err != nil {
		return err
	}
	if !a.opts.json {
		fmt.Fprintf(a.stdout, "\nall %d regions agree at index %d\n", len(st.Regions), st.DigestIndex)
		if r := stored.report(); r != nil {
			fmt.Fprintf(a.stdout, "all %d regions' stored states agree at index %d\n", len(r.Regions), r.Index)
		}
	}
	return nil
}

// storedStatus is the answer of GET /v1/cluster/scrub: whether the asked
// node's stored state is sound as far as it knows, and its last
// comparison of every replica's stored state (hashed as read back from
// disk) at one log index.
type storedStatus struct {
	Region string `json:"region"`
	Sound  bool   `json:"sound"`
	Damage *struct {
		Index  uint64 `json:"index"`
		Ranges []int  `json:"ranges"`
		Reason string `json:"reason"`
	} `json:"damage"`
	Report *storedReport `json:"report"`
}

type storedReport struct {
	Index   uint64    `json:"index"`
	Checked time.Time `json:"checked"`
	Keys    uint64    `json:"keys"`
	Agree   bool      `json:"agree"`
	Regions []struct {
		ID     string `json:"id"`
		State  string `json:"state"` // agrees, differs, damaged, undecided, no-result, unreachable
		Root   string `json:"root"`
		Ranges []int  `json:"ranges"`
		Note   string `json:"note"`
	} `json:"regions"`
}

func (s *storedStatus) report() *storedReport {
	if s == nil {
		return nil
	}
	return s.Report
}

// storedState asks the node for its comparison of the stored states; a
// node that does not make one (an older version) answers nil.
func (c *client) storedState(ctx context.Context) (*storedStatus, []byte, error) {
	var s storedStatus
	raw, err := c.getJSON(ctx, "/v1/cluster/scrub", &s)
	var re *requestError
	if errors.As(err, &re) && re.Status == http.StatusNotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &s, raw, nil
}

// printStoredState prints the node's last comparison of the stored
// states.
func printStoredState(w io.Writer, st *clusterStatus, s *storedStatus) error {
	switch {
	case s == nil:
		fmt.Fprintf(w, "\nstored state: %s does not compare the replicas' stored states\n", st.regionLabel(st.Region))
		return nil
	case s.Report == nil:
		fmt.Fprintf(w, "\nstored state: %s has made no comparison yet\n", st.regionLabel(s.Region))
		return nil
	}
	r := s.Report
	fmt.Fprintf(w, "\nstored state index: %d (%d keys, compared by %s at %s)\n\n", r.Index, r.Keys,
		st.regionLabel(s.Region), r.Checked.UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tNAME\tSTORED STATE\tROOT\tRANGES\tNOTE")
	for _, g := range r.Regions {
		name := ""
		for i := range st.Regions {
			if st.Regions[i].Code == g.ID {
				name = st.Regions[i].Name
			}
		}
		root := g.Root
		if len(root) > 16 {
			root = root[:16]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(g.ID), cell(name), cell(g.State), cell(root), cell(rangeList(g.Ranges)), cell(g.Note))
	}
	return tw.Flush()
}

// rangeList is ranges as "3,17,200", at most 32 of them.
func rangeList(rs []int) string {
	var parts []string
	for i, r := range rs {
		if i == 32 {
			parts = append(parts, fmt.Sprintf("… (%d)", len(rs)))
			break
		}
		parts = append(parts, strconv.Itoa(r))
	}
	return strings.Join(parts, ",")
}

// checkStoredState fails when the asked node knows its stored state is
// damaged, or its last comparison found a region whose stored state
// differs, or one that could not be compared; the message names the
// region and the ranges.
func checkStoredState(st *clusterStatus, s *storedStatus) error {
	if s == nil {
		return nil
	}
	if !s.Sound && s.Damage != nil {
		return fmt.Errorf("region %s reports its stored state damaged (%s) in ranges %s; it refuses reads while it repairs itself",
			st.regionLabel(s.Region), clean(s.Damage.Reason), rangeList(s.Damage.Ranges))
	}
	r := s.Report
	if r == nil {
		return nil
	}
	for _, g := range r.Regions {
		switch g.State {
		case "agrees":
		case "differs", "damaged":
			return fmt.Errorf("region %s: stored state %s at index %d in ranges %s (%s)",
				st.regionLabel(g.ID), g.State, r.Index, rangeList(g.Ranges), clean(g.Note))
		default:
			return fmt.Errorf("region %s: stored state %s at index %d: %s", st.regionLabel(g.ID), g.State, r.Index, clean(g.Note))
		}
	}
	if !r.Agree {
		return fmt.Errorf("the node reports that the stored states do not agree at index %d", r.Index)
	}
	return nil
}

// checkAgreement decides whether the replicas agree: every region was
// asked, reported a digest, the same as every other region's, and the node
// agrees too. Otherwise it names the first region that differs.
func checkAgreement(st *clusterStatus) error {
	if len(st.Regions) == 0 {
		return errors.New("the node reported no regions")
	}
	var first *regionStatus
	for i := range st.Regions {
		r := &st.Regions[i]
		switch {
		case r.Error != "":
			return fmt.Errorf("region %s could not be asked: %s", r.label(), clean(r.Error))
		case r.Digest == "":
			return fmt.Errorf("region %s reported no digest at index %d", r.label(), st.DigestIndex)
		case first == nil:
			first = r
		case r.Digest != first.Digest:
			return fmt.Errorf("region %s differs at index %d: digest %s, region %s has %s",
				r.label(), st.DigestIndex, clean(r.Digest), first.label(), clean(first.Digest))
		}
	}
	if !st.Agree {
		return fmt.Errorf("the node reports that the replicas do not agree at index %d, although the digests it shows are equal", st.DigestIndex)
	}
	return nil
}
