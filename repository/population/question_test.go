package population

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
)

func ptr[T any](v T) *T { return &v }

func date(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecodeExamples(t *testing.T) {
	tests := []struct {
		file string
		want Question
	}{
		{"hba1c-by-region-age.json", Question{
			Resource: facts.Observation,
			Code:     CodeFilter{System: facts.SystemLOINC, Codes: []string{"59261-8"}},
			Value:    &ValueRange{Min: ptr(48.0), Unit: "mmol/mol"},
			From:     date("2025-01-01"), To: date("2026-01-01"),
			GroupBy: []Attribute{ByRegion, ByAgeBand}, Measure: Patients,
		}},
		{"flu-over65-by-province.json", Question{
			Resource: facts.Immunization,
			Code:     CodeFilter{System: facts.SystemATC, Codes: []string{"J07BB*"}},
			From:     date("2025-09-01"), To: date("2026-03-01"),
			Age:     &AgeRange{Min: ptr(65)},
			GroupBy: []Attribute{ByProvince}, Measure: Patients,
		}},
		{"ldo-by-month-facility.json", Question{
			Resource: facts.DocumentReference,
			Code:     CodeFilter{System: facts.SystemLOINC, Codes: []string{"34105-7"}},
			From:     date("2025-01-01"), To: date("2026-01-01"),
			GroupBy: []Attribute{ByMonth, ByFacility}, Measure: Count,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "questions", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			q, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(q, tt.want) {
				t.Fatalf("Decode = %+v, want %+v", q, tt.want)
			}
			again, err := Decode([]byte(q.String()))
			if err != nil || !reflect.DeepEqual(again, q) {
				t.Fatalf("canonical form %s decodes to %+v, %v", q.String(), again, err)
			}
			if len(q.Key()) != 64 || q.Key() != again.Key() {
				t.Fatalf("Key %q, again %q", q.Key(), again.Key())
			}
		})
	}
}

// base is a valid question the bad cases break one field of.
const base = `"resource":"Observation","code":{"system":"http://loinc.org","codes":["59261-8"]},"from":"2025-01-01","to":"2026-01-01"`

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		field string // the message names it
	}{
		{"empty", ``, "EOF"},
		{"not an object", `[1,2]`, "object"},
		{"null", `null`, "resource"},
		{"trailing data", `{` + base + `,"measure":"count"} {}`, "trailing"},
		{"trailing garbage", `{` + base + `,"measure":"count"}x`, "trailing"},
		{"unknown field", `{` + base + `,"measure":"count","sql":"drop"}`, "sql"},
		{"no measure", `{` + base + `}`, "measure"},
		{"unknown measure", `{` + base + `,"measure":"mean"}`, "measure"},
		{"measure wrong type", `{` + base + `,"measure":1}`, "measure"},
		{"no resource", `{"code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "resource"},
		{"unknown resource", `{"resource":"Patient","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "resource"},
		{"no system", `{"resource":"Observation","code":{"codes":["1-8"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.system"},
		{"system with space", `{"resource":"Observation","code":{"system":"http://lo inc","codes":["1-8"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.system"},
		{"no codes", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":[]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes"},
		{"codes null", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":null},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes"},
		{"codes not a list", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":"1-8"},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes"},
		{"empty code", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":[""]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes[0]"},
		{"bare star", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["*"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes[0]"},
		{"inner star", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["J0*7"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes[0]"},
		{"long code", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["` + strings.Repeat("1", MaxCodeLen+1) + `"]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes[0]"},
		{"too many codes", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":[` + manyCodes(MaxCodes+1) + `]},"from":"2025-01-01","to":"2026-01-01","measure":"count"}`, "code.codes"},
		{"no from", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"to":"2026-01-01","measure":"count"}`, "from"},
		{"no to", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01","measure":"count"}`, "to"},
		{"from not a date", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-13-01","to":"2026-01-01","measure":"count"}`, "from"},
		{"from a datetime", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01T00:00:00Z","to":"2026-01-01","measure":"count"}`, "from"},
		{"from a number", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":20250101,"to":"2026-01-01","measure":"count"}`, "from"},
		{"from mid-month", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-15","to":"2026-01-01","measure":"count"}`, "from"},
		{"to mid-month", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01","to":"2025-12-31","measure":"count"}`, "to"},
		{"to before from", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2026-01-01","to":"2025-01-01","measure":"count"}`, "to"},
		{"empty window", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2025-01-01","to":"2025-01-01","measure":"count"}`, "to"},
		{"window over ten years", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"2015-01-01","to":"2025-02-01","measure":"count"}`, "to"},
		{"from before 1900", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-8"]},"from":"1899-01-01","to":"1900-01-01","measure":"count"}`, "from"},
		{"value min not below max", `{` + base + `,"value":{"min":5,"max":5},"measure":"count"}`, "value"},
		{"value min a string", `{` + base + `,"value":{"min":"48"},"measure":"count"}`, "value.min"},
		{"value huge", `{` + base + `,"value":{"max":1e300},"measure":"count"}`, "value.max"},
		{"value unknown field", `{` + base + `,"value":{"min":1,"mean":2},"measure":"count"}`, "mean"},
		{"value unit with space", `{` + base + `,"value":{"unit":"mmol mol"},"measure":"count"}`, "value.unit"},
		{"value on documents", `{"resource":"DocumentReference","code":{"system":"http://loinc.org","codes":["34105-7"]},"from":"2025-01-01","to":"2026-01-01","value":{"min":1},"measure":"count"}`, "value"},
		{"sum without unit", `{` + base + `,"measure":"sum"}`, "value.unit"},
		{"sum on documents", `{"resource":"DocumentReference","code":{"system":"http://loinc.org","codes":["34105-7"]},"from":"2025-01-01","to":"2026-01-01","measure":"sum"}`, "measure"},
		{"histogram without bounds", `{` + base + `,"value":{"unit":"%"},"measure":"histogram"}`, "bounds"},
		{"histogram bounds unsorted", `{` + base + `,"value":{"unit":"%"},"measure":"histogram","bounds":[5,4]}`, "bounds[1]"},
		{"histogram bounds repeated", `{` + base + `,"value":{"unit":"%"},"measure":"histogram","bounds":[4,4]}`, "bounds[1]"},
		{"histogram too many bounds", `{` + base + `,"value":{"unit":"%"},"measure":"histogram","bounds":[` + manyBounds(MaxBounds+1) + `]}`, "bounds"},
		{"bounds without histogram", `{` + base + `,"measure":"count","bounds":[1]}`, "bounds"},
		{"bounds not numbers", `{` + base + `,"value":{"unit":"%"},"measure":"histogram","bounds":["a"]}`, "bounds"},
		{"age negative", `{` + base + `,"age":{"min":-5},"measure":"count"}`, "age.min"},
		{"age over 150", `{` + base + `,"age":{"max":155},"measure":"count"}`, "age.max"},
		{"age not coarse", `{` + base + `,"age":{"min":66},"measure":"count"}`, "age.min"},
		{"age min not below max", `{` + base + `,"age":{"min":65,"max":65},"measure":"count"}`, "age"},
		{"age fractional", `{` + base + `,"age":{"min":65.5},"measure":"count"}`, "age.min"},
		{"gender unknown value", `{` + base + `,"gender":"F","measure":"count"}`, "gender"},
		{"group_by unknown", `{` + base + `,"group_by":["patient"],"measure":"count"}`, "group_by[0]"},
		{"group_by repeated", `{` + base + `,"group_by":["year","year"],"measure":"count"}`, "group_by[1]"},
		{"group_by too many", `{` + base + `,"group_by":["year","gender","region","province"],"measure":"count"}`, "group_by"},
		{"group_by a string", `{` + base + `,"group_by":"year","measure":"count"}`, "group_by"},
		{"k negative", `{` + base + `,"measure":"count","k":-1}`, "k"},
		{"k too big", `{` + base + `,"measure":"count","k":100000}`, "k"},
		{"k fractional", `{` + base + `,"measure":"count","k":10.5}`, "k"},
		{"too big", `{` + base + `,"measure":"count","pad":"` + strings.Repeat("x", MaxQuestionBytes) + `"}`, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Decode([]byte(tt.json))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode = %+v, %v; want an error wrapping ErrInvalid", q, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

func manyCodes(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = `"c` + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `"`
	}
	return strings.Join(s, ",")
}

func manyBounds(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strings.Repeat("1", i+1)
	}
	return strings.Join(s, ",")
}

func TestDecodeNormalises(t *testing.T) {
	a, err := Decode([]byte(`{` + `"resource":"Immunization","code":{"system":"http://www.whocc.no/atc","codes":["J07BB02","J07BB*","J07BB02"]},"from":"2025-01-01","to":"2026-01-01","measure":"count","group_by":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode([]byte(`{"measure":"count","to":"2026-01-01","from":"2025-01-01","code":{"codes":["J07BB*","J07BB02"],"system":"http://www.whocc.no/atc"},"resource":"Immunization"}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != b.Key() {
		t.Fatalf("equal questions have keys %s and %s:\n%s\n%s", a.Key(), b.Key(), a, b)
	}
	if want := []string{"J07BB*", "J07BB02"}; !reflect.DeepEqual(a.Code.Codes, want) {
		t.Fatalf("codes %v, want %v", a.Code.Codes, want)
	}
}

func TestMatches(t *testing.T) {
	q := Question{
		Resource: facts.Observation,
		Code:     CodeFilter{System: facts.SystemLOINC, Codes: []string{"59261-8", "4548*"}},
		Value:    &ValueRange{Min: ptr(48.0), Max: ptr(100.0), Unit: "mmol/mol"},
		From:     date("2025-01-01"), To: date("2026-01-01"),
		Age:     &AgeRange{Min: ptr(45), Max: ptr(75)},
		Gender:  "female",
		Measure: Patients,
	}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	row := facts.Row{
		Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8",
		Date: date("2025-06-01"), Value: 50, HasValue: true, Unit: "mmol/mol", Status: "final",
		Patient: 1, Age: 60, Gender: "female", Region: "030",
	}
	tests := []struct {
		name string
		edit func(*facts.Row)
		want bool
	}{
		{"the row", func(*facts.Row) {}, true},
		{"other resource", func(r *facts.Row) { r.Resource = facts.DiagnosticReport }, false},
		{"other system", func(r *facts.Row) { r.System = facts.SystemSNOMED }, false},
		{"other code", func(r *facts.Row) { r.Code = "59261-9" }, false},
		{"code prefix", func(r *facts.Row) { r.Code = "4548-4" }, true},
		{"code prefix exactly", func(r *facts.Row) { r.Code = "4548" }, true},
		{"code shorter than prefix", func(r *facts.Row) { r.Code = "454" }, false},
		{"entered in error", func(r *facts.Row) { r.Status = "entered-in-error" }, false},
		{"first day of window", func(r *facts.Row) { r.Date = date("2025-01-01") }, true},
		{"day before window", func(r *facts.Row) { r.Date = date("2024-12-31") }, false},
		{"last day of window", func(r *facts.Row) { r.Date = date("2025-12-31") }, true},
		{"end of window excluded", func(r *facts.Row) { r.Date = date("2026-01-01") }, false},
		{"unknown date", func(r *facts.Row) { r.Date = time.Time{} }, false},
		{"value at min", func(r *facts.Row) { r.Value = 48 }, true},
		{"value below min", func(r *facts.Row) { r.Value = 47.9 }, false},
		{"value at max excluded", func(r *facts.Row) { r.Value = 100 }, false},
		{"no value", func(r *facts.Row) { r.HasValue = false }, false},
		{"other unit", func(r *facts.Row) { r.Unit = "%" }, false},
		{"age at min", func(r *facts.Row) { r.Age = 45 }, true},
		{"age below min", func(r *facts.Row) { r.Age = 44 }, false},
		{"age at max excluded", func(r *facts.Row) { r.Age = 75 }, false},
		{"age unknown", func(r *facts.Row) { r.Age = -1 }, false},
		{"other gender", func(r *facts.Row) { r.Gender = "male" }, false},
		{"gender not given", func(r *facts.Row) { r.Gender = "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := row
			tt.edit(&r)
			if got := q.Matches(r); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unknown gender keeps rows without one", func(t *testing.T) {
		q := q
		q.Gender = Unknown
		r := row
		r.Gender = ""
		if !q.Matches(r) {
			t.Fatal("a row without gender does not match gender unknown")
		}
	})
	t.Run("sum ignores rows without a usable value", func(t *testing.T) {
		q := Question{Resource: facts.Observation, Code: q.Code, From: q.From, To: q.To, Measure: Sum, Value: &ValueRange{Unit: "mmol/mol"}}
		for _, r := range []facts.Row{
			func() facts.Row { r := row; r.HasValue = false; return r }(),
			func() facts.Row { r := row; r.Value = 2 * MaxValue; return r }(),
		} {
			if q.Matches(r) {
				t.Fatalf("row %+v matches a sum", r)
			}
		}
	})
}

func TestScans(t *testing.T) {
	tests := []struct {
		name  string
		codes []string
		want  []Scan
	}{
		{"exact", []string{"59261-8"}, []Scan{{"Immunization", facts.SystemATC, "59261-8", false}}},
		{"prefix covers codes", []string{"J07BB*", "J07BB02", "J07BB"}, []Scan{{"Immunization", facts.SystemATC, "J07BB", true}}},
		{"shorter prefix covers longer", []string{"J07*", "J07BB*", "A01"}, []Scan{
			{"Immunization", facts.SystemATC, "A01", false},
			{"Immunization", facts.SystemATC, "J07", true},
		}},
		{"disjoint", []string{"J07BB*", "J07AL01"}, []Scan{
			{"Immunization", facts.SystemATC, "J07AL01", false},
			{"Immunization", facts.SystemATC, "J07BB", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := Question{Resource: facts.Immunization, Code: CodeFilter{System: facts.SystemATC, Codes: tt.codes}}
			if got := q.Scans(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Scans = %+v, want %+v", got, tt.want)
			}
		})
	}
}
