package clinical

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
)

// wantInvalid checks that err refuses a search as invalid and names the
// parameter it could not read.
func wantInvalid(t *testing.T, err error, param string) {
	t.Helper()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want one wrapping ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), param) {
		t.Fatalf("err = %q does not name the parameter %s", err, param)
	}
}

func TestParseSearch(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		strict  bool
		patient string
		check   func(t *testing.T, q Query, pg Page)
	}{
		{"patient only: the defaults", "patient=Patient/CF-RSSMRA80A01H501U", false, "CF-RSSMRA80A01H501U", func(t *testing.T, q Query, pg Page) {
			if q.Type != facts.Observation || len(q.Codes)+len(q.Category)+len(q.Status)+len(q.Dates) != 0 || q.Doc != "" {
				t.Fatalf("query %+v, want only the type", q)
			}
			if pg != (Page{Count: defaultCount}) {
				t.Fatalf("page %+v, want the default", pg)
			}
		}},
		{"subject names the patient too, bare id", "subject=CF-RSSMRA80A01H501U", false, "CF-RSSMRA80A01H501U", nil},
		{"codes, each form", "patient=Patient/CF-X&code=http://loinc.org|718-7,2345-7,|local,http://loinc.org|", false, "CF-X", func(t *testing.T, q Query, _ Page) {
			want := []Token{{System: facts.SystemLOINC, Code: "718-7"}, {Code: "2345-7", AnySystem: true}, {Code: "local"}, {System: facts.SystemLOINC}}
			if len(q.Codes) != len(want) {
				t.Fatalf("codes %+v, want %+v", q.Codes, want)
			}
			for i := range want {
				if q.Codes[i] != want[i] {
					t.Fatalf("code %d: %+v, want %+v", i, q.Codes[i], want[i])
				}
			}
		}},
		{"category, status and clinical-status", "patient=Patient/CF-X&category=laboratory&status=final,amended&clinical-status=active", false, "CF-X", func(t *testing.T, q Query, _ Page) {
			if len(q.Category) != 1 || q.Category[0].Code != "laboratory" || strings.Join(q.Status, ",") != "final,amended,active" {
				t.Fatalf("query %+v", q)
			}
		}},
		{"dates: a range of two", "patient=Patient/CF-X&date=ge2024-01&date=lt2024-03-15T10:00:00%2B01:00", false, "CF-X", func(t *testing.T, q Query, _ Page) {
			if len(q.Dates) != 2 || q.Dates[0].Prefix != "ge" || q.Dates[1].Prefix != "lt" {
				t.Fatalf("dates %+v", q.Dates)
			}
			if !q.Dates[0].From.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, facts.Rome)) || !q.Dates[0].To.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, facts.Rome)) {
				t.Fatalf("ge2024-01 is [%v, %v)", q.Dates[0].From, q.Dates[0].To)
			}
			if !q.Dates[1].From.Equal(time.Date(2024, 3, 15, 9, 0, 0, 0, time.UTC)) || q.Dates[1].To.Sub(q.Dates[1].From) != time.Second {
				t.Fatalf("a dateTime with seconds is [%v, %v)", q.Dates[1].From, q.Dates[1].To)
			}
		}},
		{"paging and sort", "patient=Patient/CF-X&_count=0&_offset=100000&_sort=date", false, "CF-X", func(t *testing.T, _ Query, pg Page) {
			if pg != (Page{Count: 0, Offset: maxOffset, Ascending: true}) {
				t.Fatalf("page %+v", pg)
			}
		}},
		{"an unknown parameter is ignored unless strict", "patient=Patient/CF-X&_elements=id", false, "CF-X", nil},
		{"every known parameter is taken under strict", "patient=Patient/CF-X&code=a&date=2024&category=c&status=s&clinical-status=t&_count=1&_offset=1&_sort=-date", true, "CF-X", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			patient, q, pg, err := parseSearch(facts.Observation, v, tt.strict)
			if err != nil {
				t.Fatalf("parseSearch: %v", err)
			}
			if patient != tt.patient {
				t.Fatalf("patient %q, want %q", patient, tt.patient)
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("a parsed query does not validate: %v", err)
			}
			if tt.check != nil {
				tt.check(t, q, pg)
			}
		})
	}
}

func TestParseSearchRefusesGarbage(t *testing.T) {
	many := func(name string, n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("c" + strings.Repeat("x", i%5))
		}
		return name + "=" + b.String()
	}
	manyParams := func(name, value string, n int) string {
		return strings.TrimSuffix(strings.Repeat(name+"="+value+"&", n), "&")
	}
	const p = "patient=Patient/CF-X&"
	tests := []struct {
		name, query string
		strict      bool
		param       string
	}{
		{"no patient", "code=718-7", false, "patient"},
		{"two patients", "patient=Patient/CF-X&patient=Patient/CF-Y", false, "patient"},
		{"patient and subject", "patient=Patient/CF-X&subject=Patient/CF-Y", false, "patient"},
		{"empty patient", "patient=", false, "patient"},
		{"Patient/ alone", "patient=Patient/", false, "patient"},
		{"a patient of another type", "patient=Practitioner/CF-X", false, "patient"},
		{"an absolute patient URL", "patient=http://x/fhir/Patient/CF-X", false, "patient"},
		{"two patients in one", "patient=Patient/CF-X,Patient/CF-Y", false, "patient"},
		{"an OR of identifiers", "patient=CF-X|CF-Y", false, "patient"},
		{"empty code", p + "code=", false, "code"},
		{"empty code in a list", p + "code=718-7,", false, "code"},
		{"a bare bar", p + "code=|", false, "code"},
		{"two bars", p + "code=a|b|c", false, "code"},
		{"a newline", p + "code=a%0Ab", false, "code"},
		{"a NUL", p + "code=a%00b", false, "code"},
		{"a code too long", p + "code=" + strings.Repeat("x", 257), false, "code"},
		{"too many codes", p + many("code", maxTokens+1), false, "code"},
		{"two code parameters", p + "code=a&code=b", false, "code"},
		{"empty category", p + "category=", false, "category"},
		{"two category parameters", p + "category=a&category=b", false, "category"},
		{"empty status", p + "status=", false, "status"},
		{"a status with a system", p + "status=http://x|final", false, "status"},
		{"a status too long", p + "status=" + strings.Repeat("s", 65), false, "status"},
		{"empty clinical-status", p + "clinical-status=active,", false, "status"},
		{"too many statuses", p + many("status", maxTokens+1), false, "status"},
		{"too many statuses across parameters", p + manyParams("status", "final", maxTokens+1), false, "status"},
		{"too many dates", p + manyParams("date", "ge2024", maxTokens+1), false, "date"},
		{"empty date", p + "date=", false, "date"},
		{"a prefix only", p + "date=ge", false, "date"},
		{"an unsupported prefix", p + "date=sa2024", false, "date"},
		{"an unknown prefix", p + "date=xx2024", false, "date"},
		{"an upper-case prefix", p + "date=GE2024", false, "date"},
		{"a month 13", p + "date=2024-13", false, "date"},
		{"a day 32", p + "date=2024-01-32", false, "date"},
		{"February 30th", p + "date=2024-02-30", false, "date"},
		{"a dateTime without a zone", p + "date=2024-01-01T10:00:00", false, "date"},
		{"an hour 25", p + "date=2024-01-01T25:00:00Z", false, "date"},
		{"a two-digit year", p + "date=24", false, "date"},
		{"a five-digit year", p + "date=20240", false, "date"},
		{"words", p + "date=yesterday", false, "date"},
		{"_count not a number", p + "_count=ten", false, "_count"},
		{"_count negative", p + "_count=-1", false, "_count"},
		{"_count too large", p + "_count=1001", false, "_count"},
		{"_count twice", p + "_count=1&_count=2", false, "_count"},
		{"_count empty", p + "_count=", false, "_count"},
		{"_count overflowing", p + "_count=99999999999999999999", false, "_count"},
		{"_offset negative", p + "_offset=-5", false, "_offset"},
		{"_offset too deep", p + "_offset=100001", false, "_offset"},
		{"_offset a float", p + "_offset=1.5", false, "_offset"},
		{"_sort by another field", p + "_sort=code", false, "_sort"},
		{"_sort empty descending", p + "_sort=-", false, "_sort"},
		{"an unknown parameter under strict", p + "_elements=id", true, "_elements"},
		{"a modifier under strict", p + "code:text=x", true, "code:text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, err = parseSearch(facts.Observation, v, tt.strict)
			wantInvalid(t, err, tt.param)
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []Token
		bad  bool
	}{
		{"718-7", []Token{{Code: "718-7", AnySystem: true}}, false},
		{"http://loinc.org|718-7", []Token{{System: facts.SystemLOINC, Code: "718-7"}}, false},
		{"|718-7", []Token{{Code: "718-7"}}, false},
		{"http://loinc.org|", []Token{{System: facts.SystemLOINC}}, false},
		{"a,b", []Token{{Code: "a", AnySystem: true}, {Code: "b", AnySystem: true}}, false},
		{"", nil, true},
		{",", nil, true},
		{"|", nil, true},
		{"a||b", nil, true},
		{"s|a|b", nil, true},
		{"a\nb", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := tokens("code", []string{tt.in})
			if tt.bad {
				wantInvalid(t, err, "code")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("token %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
	if got, err := tokens("code", nil); err != nil || got != nil {
		t.Fatalf("no parameter: %v %v, want nothing", got, err)
	}
}

func TestParseDate(t *testing.T) {
	at := func(y int, m time.Month, d, h, min, s int, loc *time.Location) time.Time {
		return time.Date(y, m, d, h, min, s, 0, loc)
	}
	plus1 := time.FixedZone("", 3600)
	tests := []struct {
		in       string
		prefix   string
		from, to time.Time
	}{
		{"2024", "eq", at(2024, 1, 1, 0, 0, 0, facts.Rome), at(2025, 1, 1, 0, 0, 0, facts.Rome)},
		{"eq2024-02", "eq", at(2024, 2, 1, 0, 0, 0, facts.Rome), at(2024, 3, 1, 0, 0, 0, facts.Rome)},
		{"ne2024-02-29", "ne", at(2024, 2, 29, 0, 0, 0, facts.Rome), at(2024, 3, 1, 0, 0, 0, facts.Rome)},
		// The day summer time begins has 23 hours, the day it ends 25.
		{"ge2024-03-31", "ge", at(2024, 3, 31, 0, 0, 0, facts.Rome), at(2024, 4, 1, 0, 0, 0, facts.Rome)},
		{"le2024-10-27", "le", at(2024, 10, 27, 0, 0, 0, facts.Rome), at(2024, 10, 28, 0, 0, 0, facts.Rome)},
		{"gt2024-03-15T10:00:00+01:00", "gt", at(2024, 3, 15, 10, 0, 0, plus1), at(2024, 3, 15, 10, 0, 1, plus1)},
		{"lt2024-03-15T10:00Z", "lt", at(2024, 3, 15, 10, 0, 0, time.UTC), at(2024, 3, 15, 10, 1, 0, time.UTC)},
		{"2024-03-15T10:00:00.250Z", "eq", at(2024, 3, 15, 10, 0, 0, time.UTC).Add(250 * time.Millisecond), at(2024, 3, 15, 10, 0, 1, time.UTC).Add(250 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, err := parseDate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if b.Prefix != tt.prefix || !b.From.Equal(tt.from) || !b.To.Equal(tt.to) {
				t.Fatalf("%s [%v, %v), want %s [%v, %v)", b.Prefix, b.From, b.To, tt.prefix, tt.from, tt.to)
			}
		})
	}
	if d := tests[3]; d.to.Sub(d.from) != 23*time.Hour {
		t.Fatalf("the day summer time begins lasts %v in Italy", d.to.Sub(d.from))
	}
	for _, bad := range []string{"", "eq", "e2024", "ap2024", "sa2024", "eb2024", "2024-1", "2024-01-1", "2024/01/01", "2024-01-01T10:00:00",
		"2024-01-01 10:00:00Z", "2024-01-01T10Z", "0x7E8", "2024-00", "2023-02-29", "+2024", "ge+2024",
		"0000", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := parseDate(bad)
			wantInvalid(t, err, "date")
		})
	}
}

func TestParsePage(t *testing.T) {
	tests := []struct {
		query string
		want  Page
		bad   string
	}{
		{"", Page{Count: defaultCount}, ""},
		{"_count=1", Page{Count: 1}, ""},
		{"_count=1000&_offset=3", Page{Count: 1000, Offset: 3}, ""},
		{"_sort=-date", Page{Count: defaultCount}, ""},
		{"_sort=date&_offset=0", Page{Count: defaultCount, Ascending: true}, ""},
		{"_count=5.0", Page{}, "_count"},
		{"_count=0x10", Page{}, "_count"},
		{"_count= 5", Page{}, "_count"},
		{"_offset=1e3", Page{}, "_offset"},
		{"_offset=1&_offset=1", Page{}, "_offset"},
		{"_sort=date,code", Page{}, "_sort"},
		{"_sort=DATE", Page{}, "_sort"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			pg, err := parsePage(v)
			if tt.bad != "" {
				wantInvalid(t, err, tt.bad)
				return
			}
			if err != nil || pg != tt.want {
				t.Fatalf("%+v %v, want %+v", pg, err, tt.want)
			}
		})
	}
}

// TestDateMatches checks the FHIR date comparison on the edges of the
// ranges: a search value and a fact's effective time are each the whole
// range their precision names (a day, a month or a year in Italian time,
// a second of a dateTime); eq is the fact's range within the value's, ne
// its negation, gt/lt that the fact's range reaches past the value's end
// or before its start, ge/le that it reaches the value's range or past
// it on that side.
func TestDateMatches(t *testing.T) {
	fact := func(effective, end string) *facts.Fact {
		return &facts.Fact{Type: facts.Observation, Code: []facts.Coding{{System: facts.SystemLOINC, Code: "718-7"}}, Effective: effective, End: end}
	}
	newYear := fact("2024-01-01T00:00:00+01:00", "")   // the first second of 2024 in Italy
	yearsEve := fact("2023-12-31T23:59:59+01:00", "")  // the last second of 2023 in Italy
	utcEve := fact("2023-12-31T23:30:00Z", "")         // 00:30 of 2024 in Italy
	day := fact("2024-03-15", "")                      // a whole day
	period := fact("2024-01-10", "2024-02-20")         // a therapy of some weeks
	springFwd := fact("2024-03-31T23:30:00+02:00", "") // the last half hour of a 23-hour day
	nextDay := fact("2024-04-01T00:00:00+02:00", "")
	undated := fact("", "")
	tests := []struct {
		name  string
		f     *facts.Fact
		dates []string
		want  bool
	}{
		{"new year in its year", newYear, []string{"2024"}, true},
		{"new year not in the year before", newYear, []string{"2023"}, false},
		{"new year not before 2024", newYear, []string{"lt2024"}, false},
		{"new year from 2024", newYear, []string{"ge2024"}, true},
		{"new year after 2023", newYear, []string{"gt2023"}, true},
		{"new year not up to 2023", newYear, []string{"le2023"}, false},
		{"new year ne 2023", newYear, []string{"ne2023"}, true},
		{"new year not ne 2024", newYear, []string{"ne2024"}, false},
		{"new year's first day", newYear, []string{"2024-01-01"}, true},
		{"new year at its second", newYear, []string{"2023-12-31T23:00:00Z"}, true},
		{"new year not at the second before", newYear, []string{"2023-12-31T22:59:59Z"}, false},
		{"new year not at the minute before", newYear, []string{"2023-12-31T23:59+01:00"}, false},
		{"new year gt the minute before", newYear, []string{"gt2023-12-31T23:59+01:00"}, true},
		{"year's eve in 2023", yearsEve, []string{"2023"}, true},
		{"year's eve before 2024", yearsEve, []string{"lt2024"}, true},
		{"year's eve not from 2024", yearsEve, []string{"ge2024"}, false},
		{"year's eve up to 2023", yearsEve, []string{"le2023"}, true},
		{"year's eve not after 2023", yearsEve, []string{"gt2023"}, false},
		{"a UTC time on 31 December is 2024 in Italy", utcEve, []string{"2024"}, true},
		{"a UTC time on 31 December is not 2023 in Italy", utcEve, []string{"2023-12-31"}, false},
		{"a day in its day", day, []string{"2024-03-15"}, true},
		{"a day in its month", day, []string{"eq2024-03"}, true},
		{"a day not in the next", day, []string{"2024-03-16"}, false},
		{"a day not within one of its seconds", day, []string{"2024-03-15T10:00:00+01:00"}, false},
		{"a day ne one of its seconds", day, []string{"ne2024-03-15T10:00:00+01:00"}, true},
		{"a day reaches past one of its seconds", day, []string{"gt2024-03-15T10:00:00+01:00"}, true},
		{"a day reaches before one of its seconds", day, []string{"lt2024-03-15T10:00:00+01:00"}, true},
		{"a day ge its own day", day, []string{"ge2024-03-15"}, true},
		{"a day le its own day", day, []string{"le2024-03-15"}, true},
		{"a day not gt its own day", day, []string{"gt2024-03-15"}, false},
		{"a day not lt its own day", day, []string{"lt2024-03-15"}, false},
		{"a day gt the day before", day, []string{"gt2024-03-14"}, true},
		{"a day not ge the day after", day, []string{"ge2024-03-16"}, false},
		{"a day le the day after", day, []string{"le2024-03-16"}, true},
		{"a period not within its first month", period, []string{"2024-01"}, false},
		{"a period within its year", period, []string{"2024"}, true},
		{"a period reaches past its first month", period, []string{"gt2024-01"}, true},
		{"a period does not start before its first month", period, []string{"lt2024-01"}, false},
		{"a period reaches its last month", period, []string{"ge2024-02"}, true},
		{"a period does not reach March", period, []string{"ge2024-03"}, false},
		{"a period starts by January", period, []string{"le2024-01"}, true},
		{"a period does not start by December", period, []string{"le2023-12"}, false},
		{"a range holds", day, []string{"ge2024-03-01", "lt2024-04-01"}, true},
		{"a range misses", nextDay, []string{"ge2024-03-01", "lt2024-04-01"}, false},
		{"the last half hour of the 23-hour day is in it", springFwd, []string{"2024-03-31"}, true},
		{"the next midnight is not", nextDay, []string{"2024-03-31"}, false},
		{"the next midnight is in the next day", nextDay, []string{"2024-04-01"}, true},
		{"an undated fact never matches a date", undated, []string{"ne2024"}, false},
		{"an undated fact never matches a range", undated, []string{"ge1900"}, false},
		{"a fact with a malformed date never matches one", fact("yesterday", ""), []string{"ne2024"}, false},
		{"an undated fact without a date filter", undated, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := Query{Type: facts.Observation}
			for _, d := range tt.dates {
				b, err := parseDate(d)
				if err != nil {
					t.Fatal(err)
				}
				q.Dates = append(q.Dates, b)
			}
			if got := q.Matches(tt.f); got != tt.want {
				t.Fatalf("%v on %s..%s: %v, want %v", tt.dates, tt.f.Effective, tt.f.End, got, tt.want)
			}
		})
	}
}

func TestQueryMatches(t *testing.T) {
	hb := &facts.Fact{Type: facts.Observation, Category: "laboratory", Status: "final", Effective: "2024-03-15",
		Code: []facts.Coding{{System: facts.SystemLOINC, Code: "718-7"}, {System: "urn:oid:2.16.840.1.113883.2.9.5.1", Code: "HB"}}}
	local := &facts.Fact{Type: facts.Observation, Code: []facts.Coding{{Code: "LOC-1"}}}
	cond := &facts.Fact{Type: facts.Condition, Status: "active", Category: "problem-list-item", Code: []facts.Coding{{System: facts.SystemICD9CM, Code: "250.00"}}}
	tok := func(s string) []Token {
		ts, err := tokens("code", []string{s})
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	tests := []struct {
		name string
		q    Query
		f    *facts.Fact
		want bool
	}{
		{"the type alone", Query{Type: facts.Observation}, hb, true},
		{"another type", Query{Type: facts.Condition}, hb, false},
		{"every type (a summary)", Query{}, cond, true},
		{"a code of any system", Query{Type: facts.Observation, Codes: tok("718-7")}, hb, true},
		{"the code's system and code", Query{Type: facts.Observation, Codes: tok("http://loinc.org|718-7")}, hb, true},
		{"a second coding of the concept", Query{Type: facts.Observation, Codes: tok("urn:oid:2.16.840.1.113883.2.9.5.1|HB")}, hb, true},
		{"the code under another system", Query{Type: facts.Observation, Codes: tok("http://snomed.info/sct|718-7")}, hb, false},
		{"any code of a system", Query{Type: facts.Observation, Codes: tok("http://loinc.org|")}, hb, true},
		{"any code of another system", Query{Type: facts.Observation, Codes: tok("http://snomed.info/sct|")}, hb, false},
		{"one of a list", Query{Type: facts.Observation, Codes: tok("2345-7,718-7")}, hb, true},
		{"none of a list", Query{Type: facts.Observation, Codes: tok("2345-7,4548-4")}, hb, false},
		{"|code: a code without a system", Query{Type: facts.Observation, Codes: tok("|LOC-1")}, local, true},
		{"|code does not match a code with a system", Query{Type: facts.Observation, Codes: tok("|718-7")}, hb, false},
		{"the category", Query{Type: facts.Observation, Category: tok("laboratory")}, hb, true},
		{"another category", Query{Type: facts.Observation, Category: tok("vital-signs")}, hb, false},
		{"a category the fact has not", Query{Type: facts.Observation, Category: tok("laboratory")}, local, false},
		{"the status", Query{Type: facts.Observation, Status: []string{"amended", "final"}}, hb, true},
		{"another status", Query{Type: facts.Observation, Status: []string{"preliminary"}}, hb, false},
		{"a status the fact has not", Query{Type: facts.Observation, Status: []string{"final"}}, local, false},
		{"every filter at once", Query{Type: facts.Condition, Codes: tok("250.00"), Category: tok("problem-list-item"), Status: []string{"active"}}, cond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.Matches(tt.f); got != tt.want {
				t.Fatalf("%v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueryValidate(t *testing.T) {
	day, _ := parseDate("2024-03-15")
	tests := []struct {
		name string
		q    Query
		ok   bool
	}{
		{"a search", Query{Type: facts.Observation, Dates: []DateBound{day}}, true},
		{"a summary", Query{}, true},
		{"an unknown type", Query{Type: "Patient"}, false},
		{"a DocumentReference is never a fact", Query{Type: facts.DocumentReference}, false},
		{"too many codes", Query{Type: facts.Observation, Codes: make([]Token, maxTokens+1)}, false},
		{"too many categories", Query{Type: facts.Observation, Category: make([]Token, maxTokens+1)}, false},
		{"too many statuses", Query{Type: facts.Observation, Status: make([]string, maxTokens+1)}, false},
		{"an unknown prefix", Query{Type: facts.Observation, Dates: []DateBound{{Prefix: "sa", From: day.From, To: day.To}}}, false},
		{"an empty range", Query{Type: facts.Observation, Dates: []DateBound{{Prefix: "eq", From: day.From, To: day.From}}}, false},
		{"a range backwards", Query{Type: facts.Observation, Dates: []DateBound{{Prefix: "eq", From: day.To, To: day.From}}}, false},
		{"a zero range", Query{Type: facts.Observation, Dates: []DateBound{{Prefix: "eq"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.q.Validate()
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: %v, want ok %v", err, tt.ok)
			}
		})
	}
}
