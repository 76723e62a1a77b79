package clinical

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
)

// ErrInvalid: a search parameter the API cannot read. Its message names
// the parameter; it is answered 400.
var ErrInvalid = errors.New("invalid search")

// Limits of a search.
const (
	defaultCount = 50
	maxCount     = 1000
	maxTokens    = 32  // codes or categories in one search
	maxOffset    = 1e5 // how deep paging goes
)

// Token is one code a search asks for: System "" with AnySystem matches
// any system; Code "" matches any code of System.
type Token struct {
	System    string `json:"system,omitempty"`
	Code      string `json:"code,omitempty"`
	AnySystem bool   `json:"any_system,omitempty"`
}

func (t Token) matches(c facts.Coding) bool {
	return (t.AnySystem || t.System == c.System) && (t.Code == "" || t.Code == c.Code)
}

// DateBound is one date parameter: a comparator and the range the value
// names (its precision's whole range).
type DateBound struct {
	Prefix string    `json:"prefix"` // eq, ne, lt, le, gt, ge
	From   time.Time `json:"from"`
	To     time.Time `json:"to"` // exclusive
}

// Query is what a search asks of each region: the filters, not the
// paging (the node that asks pages the merged answer).
type Query struct {
	Type     string      `json:"type"` // a FHIR resource type, one of facts.Types; "" all of them (a summary)
	Codes    []Token     `json:"codes,omitempty"`
	Category []Token     `json:"category,omitempty"`
	Status   []string    `json:"status,omitempty"`
	Dates    []DateBound `json:"dates,omitempty"`
	// Doc, when set, narrows the search to one version's facts (a read).
	Doc string `json:"doc,omitempty"`
}

// Page is how the merged answer is paged and sorted.
type Page struct {
	Count, Offset int
	Ascending     bool // _sort=date; the default is the newest first
}

// searchParams are the parameters a search reads; any other is ignored,
// or refused under Prefer: handling=strict.
var searchParams = []string{"patient", "subject", "code", "date", "category", "status", "clinical-status", "_count", "_offset", "_sort"}

// parseSearch reads a search's parameters: the patient's resource id,
// the query and the paging.
func parseSearch(typ string, v url.Values, strict bool) (patient string, q Query, pg Page, err error) {
	q.Type = typ
	pg.Count = defaultCount
	for k := range v {
		if !slices.Contains(searchParams, k) && strict {
			return "", q, pg, fmt.Errorf("%w: unknown parameter %s", ErrInvalid, k)
		}
	}
	pats := append(slices.Clone(v["patient"]), v["subject"]...)
	if len(pats) != 1 {
		return "", q, pg, fmt.Errorf("%w: patient: give exactly one patient (patient=Patient/<id>)", ErrInvalid)
	}
	patient = strings.TrimPrefix(pats[0], "Patient/")
	if patient == "" || strings.ContainsAny(patient, "/,|") {
		return "", q, pg, fmt.Errorf("%w: patient: want Patient/<id>", ErrInvalid)
	}
	if q.Codes, err = tokens("code", v["code"]); err != nil {
		return "", q, pg, err
	}
	if q.Category, err = tokens("category", v["category"]); err != nil {
		return "", q, pg, err
	}
	for _, s := range append(slices.Clone(v["status"]), v["clinical-status"]...) {
		for _, one := range strings.Split(s, ",") {
			if one == "" || len(one) > 64 || strings.ContainsAny(one, "|") {
				return "", q, pg, fmt.Errorf("%w: status: want a status code", ErrInvalid)
			}
			q.Status = append(q.Status, one)
		}
	}
	// The same bounds Validate holds a peer's query to: a search read
	// here is one every region answers.
	if len(q.Status) > maxTokens {
		return "", q, pg, fmt.Errorf("%w: status: at most %d statuses", ErrInvalid, maxTokens)
	}
	if len(v["date"]) > maxTokens {
		return "", q, pg, fmt.Errorf("%w: date: at most %d date parameters", ErrInvalid, maxTokens)
	}
	for _, d := range v["date"] {
		b, err := parseDate(d)
		if err != nil {
			return "", q, pg, err
		}
		q.Dates = append(q.Dates, b)
	}
	if pg, err = parsePage(v); err != nil {
		return "", q, pg, err
	}
	return patient, q, pg, nil
}

func parsePage(v url.Values) (Page, error) {
	pg := Page{Count: defaultCount}
	for _, p := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"_count", &pg.Count, 0, maxCount}, {"_offset", &pg.Offset, 0, maxOffset}} {
		vs := v[p.name]
		if len(vs) == 0 {
			continue
		}
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < p.min || n > p.max {
			return pg, fmt.Errorf("%w: %s: want one integer from %d to %d", ErrInvalid, p.name, p.min, p.max)
		}
		*p.dst = n
	}
	switch s := v.Get("_sort"); s {
	case "", "-date":
	case "date":
		pg.Ascending = true
	default:
		return pg, fmt.Errorf("%w: _sort: want date or -date", ErrInvalid)
	}
	return pg, nil
}

// tokens reads token parameters: each a comma-separated list of
// system|code, code, |code (no system) or system| (any code of it); the
// lists of repeated parameters are ANDed, which a single-valued code
// cannot satisfy twice, so they are refused.
func tokens(name string, vs []string) ([]Token, error) {
	if len(vs) > 1 {
		return nil, fmt.Errorf("%w: %s: give one %s parameter, its codes separated by commas", ErrInvalid, name, name)
	}
	var out []Token
	for _, v := range vs {
		for _, one := range strings.Split(v, ",") {
			var t Token
			system, code, bar := strings.Cut(one, "|")
			switch {
			case !bar:
				t = Token{Code: one, AnySystem: true}
			default:
				t = Token{System: system, Code: code}
			}
			if t.Code == "" && t.System == "" || len(one) > 256 || strings.ContainsAny(one, "\x00\n") || strings.Contains(code, "|") {
				return nil, fmt.Errorf("%w: %s: want system|code, code or system|", ErrInvalid, name)
			}
			out = append(out, t)
		}
	}
	if len(out) > maxTokens {
		return nil, fmt.Errorf("%w: %s: at most %d codes", ErrInvalid, name, maxTokens)
	}
	return out, nil
}

// prefixes are the date comparators searched (sa, eb and ap are not).
var prefixes = []string{"eq", "ne", "lt", "le", "gt", "ge"}

// parseDate reads a date parameter: an optional prefix and a FHIR date
// or dateTime; the value's precision gives its range.
func parseDate(v string) (DateBound, error) {
	b := DateBound{Prefix: "eq"}
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		b.Prefix, v = v[:2], v[2:]
		if !slices.Contains(prefixes, b.Prefix) {
			return b, fmt.Errorf("%w: date: the prefix %s is not supported (eq, ne, lt, le, gt, ge)", ErrInvalid, b.Prefix)
		}
	}
	from, to, ok := dateRange(v)
	if !ok {
		return b, fmt.Errorf("%w: date: want YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with its zone", ErrInvalid)
	}
	// In UTC: the instants are what a region compares, and an offset with
	// seconds (Italian local mean time, before 1893) would not survive the
	// RFC 3339 text of the protocol's request, which has room for the
	// years 0000 to 9999 only.
	b.From, b.To = from.UTC(), to.UTC()
	if b.From.Year() < 1 || b.To.Year() > 9999 {
		return b, fmt.Errorf("%w: date: want a year from 0001 to 9999", ErrInvalid)
	}
	return b, nil
}

// dateRange is the range of times a FHIR date or dateTime names: a day,
// a month or a year are taken in Italian time; a dateTime with seconds
// is its second.
func dateRange(v string) (from, to time.Time, ok bool) {
	switch len(v) {
	case 4:
		t, err := time.ParseInLocation("2006", v, facts.Rome)
		return t, t.AddDate(1, 0, 0), err == nil
	case 7:
		t, err := time.ParseInLocation("2006-01", v, facts.Rome)
		return t, t.AddDate(0, 1, 0), err == nil
	case 10:
		t, err := time.ParseInLocation(time.DateOnly, v, facts.Rome)
		return t, t.AddDate(0, 0, 1), err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		// hh:mm without seconds is a FHIR dateTime too.
		if t, err = time.Parse("2006-01-02T15:04Z07:00", v); err != nil {
			return time.Time{}, time.Time{}, false
		}
		return t, t.Add(time.Minute), true
	}
	return t, t.Add(time.Second), true
}

// factRange is the range of times a fact holds: its effective time's
// precision, to its end when it has one.
func factRange(f *facts.Fact) (from, to time.Time, ok bool) {
	from, to, ok = dateRange(f.Effective)
	if !ok {
		return from, to, false
	}
	if f.End != "" {
		if _, end, ok := dateRange(f.End); ok && end.After(to) {
			to = end
		}
	}
	return from, to, true
}

// Matches reports whether a fact satisfies the query.
func (q *Query) Matches(f *facts.Fact) bool {
	if q.Type != "" && f.Type != q.Type {
		return false
	}
	if len(q.Codes) > 0 && !slices.ContainsFunc(q.Codes, func(t Token) bool { return slices.ContainsFunc(f.Code, t.matches) }) {
		return false
	}
	if len(q.Category) > 0 && !slices.ContainsFunc(q.Category, func(t Token) bool { return t.Code == f.Category || t.Code == "" }) {
		return false
	}
	if len(q.Status) > 0 && !slices.Contains(q.Status, f.Status) {
		return false
	}
	if len(q.Dates) == 0 {
		return true
	}
	from, to, ok := factRange(f)
	if !ok {
		return false // a date filter never matches a fact without a date
	}
	for _, b := range q.Dates {
		if !b.matches(from, to) {
			return false
		}
	}
	return true
}

// matches applies FHIR's date comparison: the value's range against the
// fact's [from, to).
func (b DateBound) matches(from, to time.Time) bool {
	in := !from.Before(b.From) && !to.After(b.To)
	switch b.Prefix {
	case "eq":
		return in
	case "ne":
		return !in
	case "gt":
		return to.After(b.To)
	case "ge":
		return to.After(b.From)
	case "lt":
		return from.Before(b.From)
	case "le":
		return from.Before(b.To)
	}
	return false
}

// Validate refuses a query a peer sends that no search would make.
func (q *Query) Validate() error {
	switch {
	case q.Type != "" && !slices.Contains(facts.Types, q.Type):
		return fmt.Errorf("%w: type %q", ErrInvalid, q.Type)
	case len(q.Codes) > maxTokens || len(q.Category) > maxTokens || len(q.Status) > maxTokens || len(q.Dates) > maxTokens:
		return fmt.Errorf("%w: too many filters", ErrInvalid)
	}
	for _, d := range q.Dates {
		if !slices.Contains(prefixes, d.Prefix) || !d.From.Before(d.To) {
			return fmt.Errorf("%w: date %s", ErrInvalid, d.Prefix)
		}
	}
	return nil
}
