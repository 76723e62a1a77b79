package fhirapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A search parameter's type decides how its values parse.
type paramType int

const (
	pToken paramType = iota
	pString
	pDate
	pReference
	pNumber
)

// search is a parsed FHIR search: the values of each known parameter, and
// the parameters ignored under lenient handling.
type search struct {
	tokens  map[string][]token  // token and reference values, OR within one parameter
	strings map[string][]string // string values
	dates   map[string][]dateCond
	count   int
	offset  int
	sort    string
	ignored []string
}

type token struct{ system, code string }

type dateCond struct {
	prefix string // eq, ne, lt, gt, le, ge, sa, eb
	from   time.Time
	to     time.Time // exclusive end of the value's precision
}

// matches reports whether t satisfies the condition.
func (c dateCond) matches(t time.Time) bool {
	switch c.prefix {
	case "eq":
		return !t.Before(c.from) && t.Before(c.to)
	case "ne":
		return t.Before(c.from) || !t.Before(c.to)
	case "lt", "eb":
		return t.Before(c.from)
	case "le":
		return t.Before(c.to)
	case "gt", "sa":
		return !t.Before(c.to)
	case "ge":
		return !t.Before(c.from)
	}
	return false
}

// interval returns the times every condition accepts, as one half-open
// range [from, to) (zero: open); exact is false when a condition (ne) is
// not an interval, and the range is then only a bound to check each time
// against.
func interval(conds []dateCond) (from, to time.Time, exact bool) {
	exact = true
	lower := func(t time.Time) {
		if from.IsZero() || t.After(from) {
			from = t
		}
	}
	upper := func(t time.Time) {
		if to.IsZero() || t.Before(to) {
			to = t
		}
	}
	for _, c := range conds {
		switch c.prefix {
		case "eq":
			lower(c.from)
			upper(c.to)
		case "lt", "eb":
			upper(c.from)
		case "le":
			upper(c.to)
		case "gt", "sa":
			lower(c.to)
		case "ge":
			lower(c.from)
		default:
			exact = false
		}
	}
	return from, to, exact
}

var errParam = errors.New("bad search parameter")

const (
	defaultCount = 20
	maxCount     = 100
	maxValues    = 20
)

// parseSearch parses query parameters against the known ones. Unknown
// parameters are an error under strict handling and ignored (and
// reported) under lenient handling, the FHIR default.
func parseSearch(q url.Values, known map[string]paramType, sorts []string, strict bool) (*search, error) {
	s := &search{tokens: map[string][]token{}, strings: map[string][]string{}, dates: map[string][]dateCond{}, count: defaultCount}
	for name, values := range q {
		base, modifier, _ := strings.Cut(name, ":")
		switch base {
		case "_count":
			n, err := strconv.Atoi(last(values))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%w: _count %q: want a whole number", errParam, last(values))
			}
			s.count = min(n, maxCount)
			continue
		case "_offset":
			n, err := strconv.Atoi(last(values))
			if err != nil || n < 0 || n > 1_000_000 {
				return nil, fmt.Errorf("%w: _offset %q: want a whole number", errParam, last(values))
			}
			s.offset = n
			continue
		case "_sort":
			v := last(values)
			if !contains(sorts, v) {
				return nil, fmt.Errorf("%w: _sort %q: supported: %s", errParam, v, strings.Join(sorts, ", "))
			}
			s.sort = v
			continue
		case "_format":
			if v := last(values); v != "json" && v != "application/fhir+json" && v != "application/json" {
				return nil, fmt.Errorf("%w: _format %q: only JSON is served", errParam, v)
			}
			continue
		}
		typ, ok := known[base]
		if !ok || (modifier != "" && !(typ == pString && (modifier == "exact" || modifier == "contains"))) {
			if strict {
				return nil, fmt.Errorf("%w: %q is not supported here", errParam, name)
			}
			s.ignored = append(s.ignored, name)
			continue
		}
		if len(values) > maxValues {
			return nil, fmt.Errorf("%w: %s given %d times", errParam, name, len(values))
		}
		for _, v := range values {
			if v == "" {
				return nil, fmt.Errorf("%w: %s is empty", errParam, name)
			}
			switch typ {
			case pToken, pReference:
				for _, part := range strings.Split(v, ",") {
					var t token
					if typ == pToken && strings.Contains(part, "|") {
						t.system, t.code, _ = strings.Cut(part, "|")
					} else {
						t.code = part
					}
					if t.code == "" {
						return nil, fmt.Errorf("%w: %s=%q: empty code", errParam, name, v)
					}
					s.tokens[base] = append(s.tokens[base], t)
				}
			case pString:
				s.strings[base] = append(s.strings[base], v)
			case pDate:
				c, err := parseDate(v)
				if err != nil {
					return nil, fmt.Errorf("%w: %s=%q: %v", errParam, name, v, err)
				}
				s.dates[base] = append(s.dates[base], c)
			}
		}
	}
	return s, nil
}

// parseDate parses a FHIR date search value: an optional prefix and a
// date or dateTime of year, month, day or second precision.
func parseDate(v string) (dateCond, error) {
	c := dateCond{prefix: "eq"}
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		c.prefix, v = v[:2], v[2:]
		switch c.prefix {
		case "eq", "ne", "lt", "gt", "le", "ge", "sa", "eb":
		default:
			return c, fmt.Errorf("prefix %q: want eq, ne, lt, gt, le, ge, sa or eb", c.prefix)
		}
	}
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339, func(t time.Time) time.Time { return t.Add(time.Second) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Nanosecond) }},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, v); err == nil && len(v) >= 4 {
			c.from, c.to = t.UTC(), l.step(t).UTC()
			return c, nil
		}
	}
	return c, errors.New("want YYYY, YYYY-MM, YYYY-MM-DD or an RFC 3339 date-time")
}

func last(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
