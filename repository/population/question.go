package population

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/fsenet/fsenet/repository/facts"
)

// ErrInvalid is wrapped by every refusal of a question or an answer that
// breaks the form or the rules; the message names the field.
var ErrInvalid = errors.New("population: invalid")

// Limits of the question form.
const (
	// DefaultMinK is the minimum cell size a region applies when its
	// configuration names none.
	DefaultMinK = 10
	// MaxK bounds the k a question may ask for.
	MaxK = 1000
	// MaxCodes bounds the codes of one question.
	MaxCodes = 64
	// MaxCodeLen bounds one code (prefix mark included).
	MaxCodeLen = 64
	// MaxSystemLen bounds the code system URI.
	MaxSystemLen = 256
	// MaxUnitLen bounds the unit of a value range.
	MaxUnitLen = 64
	// MaxGroupBy bounds the group-by attributes.
	MaxGroupBy = 3
	// MaxBounds bounds the histogram's bucket limits.
	MaxBounds = 32
	// MaxWindowYears bounds the time window.
	MaxWindowYears = 10
	// MaxValue bounds the magnitude of values: range limits and histogram
	// bounds beyond it are refused, and rows whose value is beyond it (or
	// not a number) never match a question on values, so sums stay finite.
	MaxValue = 1e15
	// MaxAge is the largest age bound a question may name.
	MaxAge = 150
	// MaxQuestionBytes bounds an encoded question.
	MaxQuestionBytes = 16 << 10
)

// Measure is what a question counts in each cell.
type Measure string

// Measures.
const (
	// Count counts the matching rows (facts, or documents).
	Count Measure = "count"
	// Patients counts the distinct patients of the matching rows, within
	// one region (a patient with data in two regions counts in each).
	Patients Measure = "patients"
	// Sum gives the number of matching rows and the sum of their values
	// (mean = sum/count); the question must name the unit.
	Sum Measure = "sum"
	// Histogram counts the matching rows in the buckets the bounds
	// delimit: (-inf, b0), [b0, b1), ..., [bn-1, +inf); the question must
	// name the unit.
	Histogram Measure = "histogram"
)

func (m Measure) valid() bool {
	return m == Count || m == Patients || m == Sum || m == Histogram
}

// needsValue reports whether the measure is computed on row values.
func (m Measure) needsValue() bool { return m == Sum || m == Histogram }

// Attribute is a coarse attribute a question groups by.
type Attribute string

// Attributes a question may group by.
const (
	ByRegion   Attribute = "region"   // the custodian region's code
	ByProvince Attribute = "province" // sigla of the patient's province of residence
	ByAgeBand  Attribute = "age_band" // AgeBands
	ByGender   Attribute = "gender"   // male, female, other, unknown
	ByYear     Attribute = "year"     // YYYY of the row's date
	ByMonth    Attribute = "month"    // YYYY-MM of the row's date
	ByFacility Attribute = "facility" // the author organisation's code
	ByCode     Attribute = "code"     // the row's code
)

// Attributes lists the group-by attributes.
var Attributes = []Attribute{ByRegion, ByProvince, ByAgeBand, ByGender, ByYear, ByMonth, ByFacility, ByCode}

// Unknown is the group value of a row whose attribute is not known.
const Unknown = "unknown"

// AgeBands are the age_band group values, by age in whole years on the
// row's date: children, young adults, adults, young old, old (the bands of
// ISTAT's health indicators, coarsened). A row of unknown age falls in
// Unknown.
var AgeBands = []string{"0-17", "18-44", "45-64", "65-74", "75+"}

// Genders are the gender values of rows, filters and groups.
var Genders = []string{"male", "female", "other", Unknown}

// ageBand maps an age in years to its band.
func ageBand(age int) string {
	switch {
	case age < 0:
		return Unknown
	case age < 18:
		return AgeBands[0]
	case age < 45:
		return AgeBands[1]
	case age < 65:
		return AgeBands[2]
	case age < 75:
		return AgeBands[3]
	default:
		return AgeBands[4]
	}
}

// CodeFilter selects rows by code: Row.System equals System and Row.Code is
// one of Codes, where a code ending in "*" matches every code that begins
// with what precedes the star (ATC "J07BB*": influenza vaccines).
type CodeFilter struct {
	System string   `json:"system"`
	Codes  []string `json:"codes"`
}

// ValueRange selects rows by value: Min <= value < Max (either may be
// absent), and Row.Unit == Unit when Unit is given. Units are compared as
// strings: there is no unit conversion, so a question on a value that
// documents give in several units asks once per unit.
type ValueRange struct {
	Min  *float64 `json:"min,omitempty"`
	Max  *float64 `json:"max,omitempty"`
	Unit string   `json:"unit,omitempty"`
}

// AgeRange selects rows by the patient's age in whole years on the row's
// date: Min <= age < Max (either may be absent). A row of unknown age never
// matches an age range.
type AgeRange struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// Question is a population question: which rows (Resource, Code, Value,
// From/To, Age, Gender), how they are grouped (GroupBy) and what is
// counted (Measure, Bounds). Its JSON form is the one Decode reads and
// MarshalJSON writes; dates travel as YYYY-MM-DD.
type Question struct {
	// Resource is one of facts.Types, or facts.DocumentReference for the
	// documents themselves.
	Resource string
	Code     CodeFilter
	Value    *ValueRange
	// From and To delimit the time window on Row.Date: From <= date < To,
	// both UTC midnights on the first day of a month.
	From, To time.Time
	Age      *AgeRange
	// Gender, when not empty, keeps rows of that gender (Unknown keeps
	// rows whose gender is not known).
	Gender  string
	GroupBy []Attribute
	Measure Measure
	// Bounds are the histogram's bucket limits, strictly ascending; only
	// with Measure Histogram.
	Bounds []float64
	// K is the minimum cell size the asker wants; the region applies the
	// larger of K and its own minimum.
	K int
}

// wireQuestion is a question's JSON form.
type wireQuestion struct {
	Resource string      `json:"resource"`
	Code     CodeFilter  `json:"code"`
	Value    *ValueRange `json:"value,omitempty"`
	From     string      `json:"from"`
	To       string      `json:"to"`
	Age      *AgeRange   `json:"age,omitempty"`
	Gender   string      `json:"gender,omitempty"`
	GroupBy  []Attribute `json:"group_by,omitempty"`
	Measure  Measure     `json:"measure"`
	Bounds   []float64   `json:"bounds,omitempty"`
	K        int         `json:"k,omitempty"`
}

const dateLayout = "2006-01-02"

// MarshalJSON writes the question's JSON form (fields in a fixed order).
func (q Question) MarshalJSON() ([]byte, error) {
	w := wireQuestion{
		Resource: q.Resource, Code: q.Code, Value: q.Value, Age: q.Age, Gender: q.Gender,
		GroupBy: q.GroupBy, Measure: q.Measure, Bounds: q.Bounds, K: q.K,
	}
	if !q.From.IsZero() {
		w.From = q.From.UTC().Format(dateLayout)
	}
	if !q.To.IsZero() {
		w.To = q.To.UTC().Format(dateLayout)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a question strictly, as Decode does.
func (q *Question) UnmarshalJSON(b []byte) error {
	d, err := Decode(b)
	if err != nil {
		return err
	}
	*q = d
	return nil
}

// Decode reads a question's JSON form strictly: unknown fields, trailing
// data, wrong types and values out of range are refused with errors that
// wrap ErrInvalid and name the field. The question is returned normalised
// (codes sorted without duplicates), so that equal questions have equal
// keys.
func Decode(b []byte) (Question, error) {
	if len(b) > MaxQuestionBytes {
		return Question{}, fmt.Errorf("%w: question of %d bytes, more than %d", ErrInvalid, len(b), MaxQuestionBytes)
	}
	var w wireQuestion
	if err := decodeStrict(b, &w); err != nil {
		return Question{}, err
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	parseDate := func(field, s string) time.Time {
		if s == "" {
			bad(field, "required (YYYY-MM-DD)")
			return time.Time{}
		}
		t, err := time.Parse(dateLayout, s)
		if err != nil || len(s) != len(dateLayout) {
			bad(field, "%q is not a date YYYY-MM-DD", s)
			return time.Time{}
		}
		return t
	}
	q := Question{
		Resource: w.Resource, Code: w.Code, Value: w.Value, Age: w.Age, Gender: w.Gender,
		GroupBy: w.GroupBy, Measure: w.Measure, Bounds: w.Bounds, K: w.K,
		From: parseDate("from", w.From), To: parseDate("to", w.To),
	}
	if len(q.Code.Codes) > 0 {
		codes := slices.Clone(q.Code.Codes)
		slices.Sort(codes)
		q.Code.Codes = slices.Compact(codes)
	}
	if len(q.GroupBy) == 0 {
		q.GroupBy = nil
	}
	if len(q.Bounds) == 0 {
		q.Bounds = nil
	}
	if len(errs) > 0 {
		// The window is refused already; Validate would repeat it.
		return Question{}, errors.Join(append(errs, q.validate(false)...)...)
	}
	if err := q.Validate(); err != nil {
		return Question{}, err
	}
	return q, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data; type errors name the field.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return fmt.Errorf("%w: %s where an object is expected", ErrInvalid, te.Value)
		}
		if errors.As(err, &te) {
			return fmt.Errorf("%w: %s: %s where %s is expected", ErrInvalid, te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrInvalid)
	}
	return nil
}

// Validate reports every way the question breaks the form, each error
// wrapping ErrInvalid and naming its field.
func (q Question) Validate() error {
	return errors.Join(q.validate(true)...)
}

func (q Question) validate(window bool) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	docs := q.Resource == facts.DocumentReference
	if !docs && !slices.Contains(facts.Types, q.Resource) {
		bad("resource", "%q is not one of %s or %s", q.Resource, strings.Join(facts.Types, ", "), facts.DocumentReference)
	}
	switch {
	case q.Code.System == "":
		bad("code.system", "required")
	case len(q.Code.System) > MaxSystemLen || !printable(q.Code.System):
		bad("code.system", "not a code system URI of at most %d printable characters", MaxSystemLen)
	}
	switch n := len(q.Code.Codes); {
	case n == 0:
		bad("code.codes", "at least one code is required")
	case n > MaxCodes:
		bad("code.codes", "%d codes, at most %d", n, MaxCodes)
	}
	for i, c := range q.Code.Codes {
		if len(c) > MaxCodeLen || !printable(c) {
			bad(fmt.Sprintf("code.codes[%d]", i), "not a code of 1 to %d printable characters", MaxCodeLen)
			continue
		}
		switch stem, _ := strings.CutSuffix(c, "*"); {
		case stem == "":
			bad(fmt.Sprintf("code.codes[%d]", i), "%q names no code (a prefix needs at least one character before *)", c)
		case strings.Contains(stem, "*"):
			bad(fmt.Sprintf("code.codes[%d]", i), "%q: * may only end a code", c)
		}
	}
	if v := q.Value; v != nil {
		if docs {
			bad("value", "documents have no value")
		}
		if v.Min != nil && !(math.Abs(*v.Min) <= MaxValue) {
			bad("value.min", "out of range (magnitude at most %g)", MaxValue)
		}
		if v.Max != nil && !(math.Abs(*v.Max) <= MaxValue) {
			bad("value.max", "out of range (magnitude at most %g)", MaxValue)
		}
		if v.Min != nil && v.Max != nil && !(*v.Min < *v.Max) {
			bad("value", "min %g is not below max %g", *v.Min, *v.Max)
		}
		if len(v.Unit) > MaxUnitLen || (v.Unit != "" && !printable(v.Unit)) {
			bad("value.unit", "not a unit of at most %d printable characters", MaxUnitLen)
		}
	}
	if window {
		switch {
		case q.From.IsZero():
			bad("from", "required (YYYY-MM-DD)")
		case !firstOfMonth(q.From):
			bad("from", "%s is not the first day of a month", q.From.Format(dateLayout))
		case q.From.Year() < 1900:
			bad("from", "%s is before 1900", q.From.Format(dateLayout))
		}
		switch {
		case q.To.IsZero():
			bad("to", "required (YYYY-MM-DD)")
		case !firstOfMonth(q.To):
			bad("to", "%s is not the first day of a month", q.To.Format(dateLayout))
		case q.To.Year() > 2200:
			bad("to", "%s is after 2200", q.To.Format(dateLayout))
		}
		if !q.From.IsZero() && !q.To.IsZero() {
			switch {
			case !q.From.Before(q.To):
				bad("to", "%s is not after from %s", q.To.Format(dateLayout), q.From.Format(dateLayout))
			case q.To.After(q.From.AddDate(MaxWindowYears, 0, 0)):
				bad("to", "window of more than %d years", MaxWindowYears)
			}
		}
	}
	if a := q.Age; a != nil {
		for _, b := range []struct {
			field string
			v     *int
		}{{"age.min", a.Min}, {"age.max", a.Max}} {
			switch {
			case b.v == nil:
			case *b.v < 0 || *b.v > MaxAge:
				bad(b.field, "%d is out of range 0..%d", *b.v, MaxAge)
			case *b.v%5 != 0 && *b.v != 18:
				bad(b.field, "%d is not a multiple of 5 (or 18): ages are asked in coarse steps", *b.v)
			}
		}
		if a.Min != nil && a.Max != nil && *a.Min >= *a.Max {
			bad("age", "min %d is not below max %d", *a.Min, *a.Max)
		}
	}
	if q.Gender != "" && !slices.Contains(Genders, q.Gender) {
		bad("gender", "%q is not one of %s", q.Gender, strings.Join(Genders, ", "))
	}
	if len(q.GroupBy) > MaxGroupBy {
		bad("group_by", "%d attributes, at most %d", len(q.GroupBy), MaxGroupBy)
	}
	for i, g := range q.GroupBy {
		switch {
		case !slices.Contains(Attributes, g):
			bad(fmt.Sprintf("group_by[%d]", i), "%q is not one of region, province, age_band, gender, year, month, facility, code", g)
		case slices.Contains(q.GroupBy[:i], g):
			bad(fmt.Sprintf("group_by[%d]", i), "%q is repeated", g)
		}
	}
	switch {
	case q.Measure == "":
		bad("measure", "required (count, patients, sum or histogram)")
	case !q.Measure.valid():
		bad("measure", "%q is not one of count, patients, sum, histogram", q.Measure)
	case q.Measure.needsValue() && docs:
		bad("measure", "%s needs values, and documents have none", q.Measure)
	case q.Measure.needsValue() && (q.Value == nil || q.Value.Unit == ""):
		bad("value.unit", "required with measure %s, so that values in different units are never added", q.Measure)
	}
	if q.Measure == Histogram {
		errs = append(errs, validBounds("bounds", q.Bounds)...)
	} else if len(q.Bounds) > 0 {
		bad("bounds", "only with measure histogram")
	}
	if q.K < 0 || q.K > MaxK {
		bad("k", "%d is out of range 0..%d", q.K, MaxK)
	}
	return errs
}

func validBounds(field string, bounds []float64) []error {
	var errs []error
	switch n := len(bounds); {
	case n == 0:
		errs = append(errs, fmt.Errorf("%w: %s: at least one bound is required with measure histogram", ErrInvalid, field))
	case n > MaxBounds:
		errs = append(errs, fmt.Errorf("%w: %s: %d bounds, at most %d", ErrInvalid, field, n, MaxBounds))
	}
	for i, b := range bounds {
		if !(math.Abs(b) <= MaxValue) {
			errs = append(errs, fmt.Errorf("%w: %s[%d]: out of range (magnitude at most %g)", ErrInvalid, field, i, MaxValue))
		}
		if i > 0 && !(bounds[i-1] < b) {
			errs = append(errs, fmt.Errorf("%w: %s[%d]: %g is not above %g (bounds are strictly ascending)", ErrInvalid, field, i, b, bounds[i-1]))
		}
	}
	return errs
}

func firstOfMonth(t time.Time) bool {
	t = t.UTC()
	return t.Day() == 1 && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// printable reports whether s is non-empty and made of printable
// characters without spaces.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// Range is the question's time window: From <= Row.Date < To.
func (q Question) Range() (from, to time.Time) { return q.From, q.To }

// String is the question's canonical JSON form: what the audit records.
func (q Question) String() string {
	b, err := q.MarshalJSON()
	if err != nil {
		return fmt.Sprintf("unencodable question: %v", err)
	}
	return string(b)
}

// Key is the SHA-256 (hex) of the question's canonical JSON form: it
// names the question in answers and in the audit trail.
func (q Question) Key() string {
	sum := sha256.Sum256([]byte(q.String()))
	return hex.EncodeToString(sum[:])
}

// Matches reports whether the row is one the question counts. Rows whose
// status is entered-in-error never match; nor do rows of unknown date,
// and, when the question is on values (a value range, or measure sum or
// histogram), rows without a value or with a value beyond MaxValue.
func (q Question) Matches(r facts.Row) bool {
	if r.Resource != q.Resource || r.System != q.Code.System || !q.matchCode(r.Code) {
		return false
	}
	if r.Status == "entered-in-error" || r.Date.Before(q.From) || !r.Date.Before(q.To) {
		return false
	}
	if q.Value != nil || q.Measure.needsValue() {
		if !r.HasValue || !(math.Abs(r.Value) <= MaxValue) {
			return false
		}
		if v := q.Value; v != nil {
			if v.Unit != "" && r.Unit != v.Unit {
				return false
			}
			if (v.Min != nil && r.Value < *v.Min) || (v.Max != nil && r.Value >= *v.Max) {
				return false
			}
		}
	}
	if a := q.Age; a != nil {
		if r.Age < 0 || (a.Min != nil && r.Age < *a.Min) || (a.Max != nil && r.Age >= *a.Max) {
			return false
		}
	}
	if q.Gender != "" && orUnknown(r.Gender) != q.Gender {
		return false
	}
	return true
}

func (q Question) matchCode(code string) bool {
	for _, c := range q.Code.Codes {
		if stem, ok := strings.CutSuffix(c, "*"); ok {
			if strings.HasPrefix(code, stem) {
				return true
			}
		} else if code == c {
			return true
		}
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// Scan is one range of rows the store reads for a question: the rows of
// Resource whose code in System is Code, or begins with Code when Prefix.
// Every row the question matches lies in one of its scans.
type Scan struct {
	Resource string
	System   string
	Code     string
	Prefix   bool
}

// Scans lists the ranges the store reads for the question, sorted, with
// the codes a prefix of the same question covers left out, so that no row
// is read twice.
func (q Question) Scans() []Scan {
	var prefixes []string
	for _, c := range q.Code.Codes {
		if stem, ok := strings.CutSuffix(c, "*"); ok && stem != "" {
			prefixes = append(prefixes, stem)
		}
	}
	// covered: a code is read by the scan of a shorter prefix (or, for
	// an exact code, of a prefix as long as itself).
	covered := func(code string, exact bool) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(code, p) && (len(code) > len(p) || exact) {
				return true
			}
		}
		return false
	}
	var out []Scan
	for _, c := range q.Code.Codes {
		stem, prefix := strings.CutSuffix(c, "*")
		if stem == "" || covered(stem, !prefix) {
			continue
		}
		out = append(out, Scan{Resource: q.Resource, System: q.Code.System, Code: stem, Prefix: prefix})
	}
	slices.SortFunc(out, func(a, b Scan) int { return strings.Compare(a.Code, b.Code) })
	return slices.CompactFunc(out, func(a, b Scan) bool { return a == b })
}
