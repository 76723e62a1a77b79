package population

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// RegionAnswer is one region's part of a merge: its answer, or, in Err,
// why it has none (unreachable, timed out, refused the question).
type RegionAnswer struct {
	Region string
	Answer Answer
	Err    string
}

// Failure names a region whose answer is missing from a combined result,
// and why.
type Failure struct {
	Region string `json:"region"`
	Error  string `json:"error"`
}

// Combined is the answer the authority receives: the regions' answers
// added cell by cell. Cells are sorted by their group values.
type Combined struct {
	// Question is the Key of the question answered.
	Question string      `json:"question"`
	Measure  Measure     `json:"measure"`
	GroupBy  []Attribute `json:"group_by,omitempty"`
	Bounds   []float64   `json:"bounds,omitempty"`
	// Answered lists the regions whose answers are added, sorted.
	Answered []string `json:"answered"`
	// Failed lists the regions that did not answer, or whose answer was
	// refused, sorted by region.
	Failed []Failure      `json:"failed,omitempty"`
	Cells  []CombinedCell `json:"cells"`
}

// CombinedCell is one group of a combined result: the numbers are the sums
// of the regions' published parts; Incomplete names the regions whose part
// was suppressed, which are never estimated. When every part was
// suppressed the cell is Suppressed and carries no numbers.
type CombinedCell struct {
	Group      []string `json:"group"`
	Suppressed bool     `json:"suppressed,omitzero"`
	Count      int64    `json:"count,omitzero"`
	Patients   int64    `json:"patients,omitzero"`
	Sum        float64  `json:"sum,omitzero"`
	Histogram  []int64  `json:"histogram,omitempty"`
	Incomplete []string `json:"incomplete_regions,omitempty"`
}

// ErrMismatch is wrapped when a region's answer is not an answer to the
// question merged (another key, measure, group-by or bounds, a k below
// the question's, cells of another region).
var ErrMismatch = errors.New("population: answer to another question")

// Check reports whether a is a valid answer to q from region: it keeps
// the rules (Validate), answers q, with a k no lower than q.K, and, when
// q groups by region, holds only cells of that region.
func (a Answer) Check(q Question, region string) error {
	if err := a.Validate(); err != nil {
		return err
	}
	switch {
	case a.Question != q.Key():
		return fmt.Errorf("%w: question key %s", ErrMismatch, a.Question)
	case a.Measure != q.Measure || !slices.Equal(a.GroupBy, q.GroupBy) || !slices.Equal(a.Bounds, q.Bounds):
		return fmt.Errorf("%w: measure, group_by or bounds differ", ErrMismatch)
	case a.K < q.K:
		return fmt.Errorf("%w: k %d below the question's %d", ErrMismatch, a.K, q.K)
	}
	if i := slices.Index(q.GroupBy, ByRegion); i >= 0 {
		for _, c := range a.Cells {
			if c.Group[i] != region {
				return fmt.Errorf("%w: a cell of region %q in the answer of region %q", ErrMismatch, c.Group[i], region)
			}
		}
	}
	return nil
}

// Merge combines the regions' answers to q. A part with Err set, or whose
// answer fails Check, or a second part of the same region, is listed in
// Failed and adds nothing. Cells of the same group are added; a part
// suppressed in one region leaves the cell incomplete and names that
// region, never un-suppressed. The patients measure adds the regions'
// distinct counts: a patient with data in two regions counts in each.
func Merge(q Question, parts ...RegionAnswer) Combined {
	out := Combined{
		Question: q.Key(), Measure: q.Measure, GroupBy: q.GroupBy, Bounds: q.Bounds,
		Answered: []string{}, Cells: []CombinedCell{},
	}
	seen := make(map[string]bool, len(parts))
	cells := make(map[string]*CombinedCell)
	published := make(map[string]bool)
	// Regions in a fixed order, so that sums add in the same order
	// whatever order the answers arrived in.
	parts = slices.Clone(parts)
	slices.SortStableFunc(parts, func(a, b RegionAnswer) int { return strings.Compare(a.Region, b.Region) })
	for _, p := range parts {
		fail := func(msg string) { out.Failed = append(out.Failed, Failure{Region: p.Region, Error: msg}) }
		switch {
		case p.Region == "":
			fail("no region named")
			continue
		case seen[p.Region]:
			fail("answered twice: the second answer is not merged")
			continue
		}
		seen[p.Region] = true
		if p.Err != "" {
			fail(p.Err)
			continue
		}
		if err := p.Answer.Check(q, p.Region); err != nil {
			fail("answer refused: " + err.Error())
			continue
		}
		out.Answered = append(out.Answered, p.Region)
		for _, c := range p.Answer.Cells {
			key := strings.Join(c.Group, "\x00")
			m := cells[key]
			if m == nil {
				m = &CombinedCell{Group: slices.Clone(c.Group)}
				cells[key] = m
			}
			if c.Suppressed {
				m.Incomplete = append(m.Incomplete, p.Region)
				continue
			}
			published[key] = true
			m.Count += c.Count
			m.Patients += c.Patients
			m.Sum += c.Sum
			if c.Histogram != nil {
				if m.Histogram == nil {
					m.Histogram = make([]int64, len(c.Histogram))
				}
				for i, n := range c.Histogram {
					m.Histogram[i] += n
				}
			}
		}
	}
	for key, m := range cells {
		m.Suppressed = !published[key]
		slices.Sort(m.Incomplete)
		out.Cells = append(out.Cells, *m)
	}
	sortCells(out.Cells, func(c CombinedCell) []string { return c.Group })
	return out
}
