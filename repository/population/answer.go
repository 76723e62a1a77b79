package population

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fsenet/fsenet/repository/facts"
)

// Limits of an answer a requester accepts from a peer.
const (
	// MaxAnswerBytes bounds an encoded answer: a region refuses a
	// question whose answer would be larger, as too broad.
	MaxAnswerBytes = 16 << 20
	// MaxCells bounds the cells of one answer (and the memory a region
	// spends on one): a region stops counting at the first group past it
	// and refuses the question as too broad.
	MaxCells = 1 << 16
	// MaxGroupValueLen bounds one group value.
	MaxGroupValueLen = 128
)

// Answer is one region's answer to a question: what leaves the region.
// Cells are sorted by their group values; a cell with Suppressed set
// carries no numbers.
type Answer struct {
	// Question is the Key of the question answered.
	Question string      `json:"question"`
	Measure  Measure     `json:"measure"`
	GroupBy  []Attribute `json:"group_by,omitempty"`
	Bounds   []float64   `json:"bounds,omitempty"`
	// K is the minimum cell size the region applied.
	K     int    `json:"k"`
	Cells []Cell `json:"cells"`
}

// Cell is one group of an answer. Group holds one value per GroupBy
// attribute, in its order. Of the numbers, only those of the measure are
// set: Count (count), Patients (patients), Count and Sum (sum), Histogram
// (histogram: len(Bounds)+1 row counts).
type Cell struct {
	Group      []string `json:"group"`
	Suppressed bool     `json:"suppressed,omitzero"`
	Count      int64    `json:"count,omitzero"`
	Patients   int64    `json:"patients,omitzero"`
	Sum        float64  `json:"sum,omitzero"`
	Histogram  []int64  `json:"histogram,omitempty"`
}

// Aggregator computes one region's answer to a question over the rows
// the store feeds it. It is not safe for concurrent use.
type Aggregator struct {
	q     Question
	key   string
	k     int
	cells map[groupKey]*acc
	// months caches the year and month group values by year*12+month.
	months map[int]string
}

// groupKey holds a row's group values (MaxGroupBy of them).
type groupKey [MaxGroupBy]string

// acc accumulates one cell. Patient pseudonyms are appended and counted
// distinct when the answer is made (sorting a slice is cheaper than a set
// per cell).
type acc struct {
	count int64
	sum   float64
	pids  []uint64
	hist  []int64
	// bucketPids holds each histogram bucket's patients.
	bucketPids [][]uint64
}

// NewAggregator prepares the answer to q of a region whose configured
// minimum cell size is minK (0: DefaultMinK). The effective k is the
// larger of q.K and minK.
func NewAggregator(q Question, minK int) (*Aggregator, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if minK == 0 {
		minK = DefaultMinK
	}
	if minK < 1 || minK > MaxK {
		return nil, fmt.Errorf("%w: region minimum k %d is out of range 1..%d", ErrInvalid, minK, MaxK)
	}
	return &Aggregator{q: q, key: q.Key(), k: max(q.K, minK), cells: make(map[groupKey]*acc), months: make(map[int]string)}, nil
}

// K is the effective minimum cell size.
func (a *Aggregator) K() int { return a.k }

// ErrTooBroad: a question whose answer would be too large to compute or
// to send; a narrower one (fewer groups, a shorter window) is answered.
var ErrTooBroad = errors.New("population: question too broad")

// Add counts the row if the question matches it. Past MaxCells groups it
// counts nothing more and returns ErrTooBroad.
func (a *Aggregator) Add(r facts.Row) error {
	if !a.q.Matches(r) {
		return nil
	}
	var key groupKey
	for i, g := range a.q.GroupBy {
		key[i] = a.groupValue(g, r)
	}
	c := a.cells[key]
	if c == nil {
		if len(a.cells) == MaxCells {
			return fmt.Errorf("%w: more than %d groups; group by fewer attributes or ask a shorter window", ErrTooBroad, MaxCells)
		}
		c = &acc{}
		if a.q.Measure == Histogram {
			c.hist = make([]int64, len(a.q.Bounds)+1)
			c.bucketPids = make([][]uint64, len(a.q.Bounds)+1)
		}
		a.cells[key] = c
	}
	c.count++
	c.pids = append(c.pids, r.Patient)
	switch a.q.Measure {
	case Sum:
		c.sum += r.Value
	case Histogram:
		b, _ := slices.BinarySearch(a.q.Bounds, r.Value)
		if b < len(a.q.Bounds) && a.q.Bounds[b] == r.Value {
			b++ // a bound opens its bucket: [b_i, b_i+1)
		}
		c.hist[b]++
		c.bucketPids[b] = append(c.bucketPids[b], r.Patient)
	}
	return nil
}

func (a *Aggregator) groupValue(g Attribute, r facts.Row) string {
	switch g {
	case ByRegion:
		return orUnknown(r.Region)
	case ByProvince:
		return orUnknown(r.Province)
	case ByAgeBand:
		return ageBand(r.Age)
	case ByGender:
		return orUnknown(r.Gender)
	case ByYear, ByMonth:
		d := r.Date.UTC()
		n := d.Year()*12 + int(d.Month()) - 1
		if g == ByYear {
			n = -1 - d.Year() // its own key space
		}
		s, ok := a.months[n]
		if !ok {
			s = fmt.Sprintf("%04d", d.Year())
			if g == ByMonth {
				s = fmt.Sprintf("%04d-%02d", d.Year(), int(d.Month()))
			}
			a.months[n] = s
		}
		return s
	case ByFacility:
		return orUnknown(r.Facility)
	case ByCode:
		return orUnknown(r.Code)
	}
	return Unknown
}

// distinct counts the distinct values of ids, which it sorts and compacts
// in place (the set is unchanged).
func distinct(ids *[]uint64) int {
	slices.Sort(*ids)
	*ids = slices.Compact(*ids)
	return len(*ids)
}

// Result is the region's answer so far, suppressed: a cell of fewer than
// k distinct patients carries only Suppressed, and so does a histogram
// cell any non-empty bucket of which has fewer than k distinct patients.
// It may be called more than once.
func (a *Aggregator) Result() Answer {
	ans := Answer{
		Question: a.key, Measure: a.q.Measure, GroupBy: a.q.GroupBy, Bounds: a.q.Bounds,
		K: a.k, Cells: make([]Cell, 0, len(a.cells)),
	}
	n := len(a.q.GroupBy)
	for key, c := range a.cells {
		cell := Cell{Group: make([]string, n)}
		copy(cell.Group, key[:n])
		suppressed := distinct(&c.pids) < a.k
		if !suppressed && a.q.Measure == Histogram {
			for i := range c.bucketPids {
				if m := distinct(&c.bucketPids[i]); m > 0 && m < a.k {
					suppressed = true
				}
			}
		}
		switch {
		case suppressed:
			cell.Suppressed = true
		case a.q.Measure == Count:
			cell.Count = c.count
		case a.q.Measure == Patients:
			cell.Patients = int64(len(c.pids))
		case a.q.Measure == Sum:
			cell.Count, cell.Sum = c.count, c.sum
		case a.q.Measure == Histogram:
			cell.Histogram = slices.Clone(c.hist)
		}
		ans.Cells = append(ans.Cells, cell)
	}
	sortCells(ans.Cells, func(c Cell) []string { return c.Group })
	return ans
}

// Compute answers q over rows for a region whose minimum cell size is
// minK (0: DefaultMinK).
func Compute(q Question, minK int, rows []facts.Row) (Answer, error) {
	a, err := NewAggregator(q, minK)
	if err != nil {
		return Answer{}, err
	}
	for _, r := range rows {
		if err := a.Add(r); err != nil {
			return Answer{}, err
		}
	}
	return a.Result(), nil
}

func sortCells[C any](cells []C, group func(C) []string) {
	slices.SortFunc(cells, func(x, y C) int { return slices.Compare(group(x), group(y)) })
}

// DecodeAnswer reads a peer's answer strictly (unknown fields, trailing
// data and wrong types refused) and checks it with Validate: a peer that
// breaks the rules is refused, with an error wrapping ErrInvalid.
func DecodeAnswer(b []byte) (Answer, error) {
	if len(b) > MaxAnswerBytes {
		return Answer{}, fmt.Errorf("%w: answer of %d bytes, more than %d", ErrInvalid, len(b), MaxAnswerBytes)
	}
	var a Answer
	if err := decodeStrict(b, &a); err != nil {
		return Answer{}, err
	}
	if len(a.GroupBy) == 0 {
		a.GroupBy = nil
	}
	if len(a.Bounds) == 0 {
		a.Bounds = nil
	}
	for i := range a.Cells {
		if len(a.Cells[i].Histogram) == 0 {
			a.Cells[i].Histogram = nil
		}
	}
	if err := a.Validate(); err != nil {
		return Answer{}, err
	}
	return a, nil
}

// Validate checks that the answer keeps the rules: a question key, a
// known measure and group-by, cells sorted without duplicates whose group
// values fit their attributes, no negative numbers, suppressed cells
// without numbers, only the measure's numbers in the others, and no
// published cell that shows fewer than k rows or patients.
func (a Answer) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	if len(a.Question) != 64 || strings.ToLower(a.Question) != a.Question {
		bad("question", "not a question key (64 lowercase hex digits)")
	} else if _, err := hex.DecodeString(a.Question); err != nil {
		bad("question", "not a question key (64 lowercase hex digits)")
	}
	if !a.Measure.valid() {
		bad("measure", "%q is not one of count, patients, sum, histogram", a.Measure)
	}
	if len(a.GroupBy) > MaxGroupBy {
		bad("group_by", "%d attributes, at most %d", len(a.GroupBy), MaxGroupBy)
	}
	for i, g := range a.GroupBy {
		if !slices.Contains(Attributes, g) || slices.Contains(a.GroupBy[:i], g) {
			bad(fmt.Sprintf("group_by[%d]", i), "%q is not a group-by attribute or is repeated", g)
		}
	}
	if a.Measure == Histogram {
		errs = append(errs, validBounds("bounds", a.Bounds)...)
	} else if len(a.Bounds) > 0 {
		bad("bounds", "only with measure histogram")
	}
	if a.K < 1 || a.K > MaxK {
		bad("k", "%d is out of range 1..%d", a.K, MaxK)
	}
	if a.Cells == nil {
		bad("cells", "required")
	}
	if len(a.Cells) > MaxCells {
		bad("cells", "%d cells, at most %d", len(a.Cells), MaxCells)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	k := int64(a.K)
	for i, c := range a.Cells {
		field := fmt.Sprintf("cells[%d]", i)
		if err := validGroup(field, a.GroupBy, c.Group); err != nil {
			errs = append(errs, err)
			continue
		}
		if i > 0 && slices.Compare(a.Cells[i-1].Group, c.Group) >= 0 {
			bad(field, "cells are not sorted by group, or a group is repeated")
		}
		if c.Count < 0 || c.Patients < 0 || slices.ContainsFunc(c.Histogram, func(n int64) bool { return n < 0 }) {
			bad(field, "negative number")
			continue
		}
		if math.IsNaN(c.Sum) || math.IsInf(c.Sum, 0) {
			bad(field+".sum", "not a finite number")
		}
		if c.Suppressed {
			if c.Count != 0 || c.Patients != 0 || c.Sum != 0 || c.Histogram != nil {
				bad(field, "a suppressed cell carries numbers")
			}
			continue
		}
		switch a.Measure {
		case Count:
			if c.Patients != 0 || c.Sum != 0 || c.Histogram != nil {
				bad(field, "numbers of another measure than count")
			}
			if c.Count < k {
				bad(field+".count", "%d rows, fewer than k=%d, and not suppressed", c.Count, k)
			}
		case Patients:
			if c.Count != 0 || c.Sum != 0 || c.Histogram != nil {
				bad(field, "numbers of another measure than patients")
			}
			if c.Patients < k {
				bad(field+".patients", "%d patients, fewer than k=%d, and not suppressed", c.Patients, k)
			}
		case Sum:
			if c.Patients != 0 || c.Histogram != nil {
				bad(field, "numbers of another measure than sum")
			}
			if c.Count < k {
				bad(field+".count", "%d rows, fewer than k=%d, and not suppressed", c.Count, k)
			}
		case Histogram:
			if c.Count != 0 || c.Patients != 0 || c.Sum != 0 {
				bad(field, "numbers of another measure than histogram")
			}
			if len(c.Histogram) != len(a.Bounds)+1 {
				bad(field+".histogram", "%d buckets for %d bounds", len(c.Histogram), len(a.Bounds))
				continue
			}
			var total int64
			for j, n := range c.Histogram {
				if n > 0 && n < k {
					bad(fmt.Sprintf("%s.histogram[%d]", field, j), "%d rows, fewer than k=%d, and not suppressed", n, k)
				}
				total += n
			}
			if total < k {
				bad(field+".histogram", "%d rows in all, fewer than k=%d, and not suppressed", total, k)
			}
		}
	}
	return errors.Join(errs...)
}

// validGroup checks a cell's group values against the attributes.
func validGroup(field string, attrs []Attribute, group []string) error {
	if len(group) != len(attrs) {
		return fmt.Errorf("%w: %s.group: %d values for %d group-by attributes", ErrInvalid, field, len(group), len(attrs))
	}
	for i, v := range group {
		ok := v != "" && len(v) <= MaxGroupValueLen && utf8.ValidString(v) && printable(v)
		if ok {
			switch attrs[i] {
			case ByAgeBand:
				ok = v == Unknown || slices.Contains(AgeBands, v)
			case ByGender:
				ok = slices.Contains(Genders, v)
			case ByYear:
				ok = v == Unknown || (len(v) == 4 && allDigits(v))
			case ByMonth:
				ok = v == Unknown || (len(v) == 7 && allDigits(v[:4]) && v[4] == '-' && validMonth(v[5:]))
			}
		}
		if !ok {
			return fmt.Errorf("%w: %s.group[%d]: %q is not a %s value", ErrInvalid, field, i, v, attrs[i])
		}
	}
	return nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validMonth(s string) bool {
	m, err := strconv.Atoi(s)
	return err == nil && len(s) == 2 && m >= 1 && m <= 12
}
