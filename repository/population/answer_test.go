package population

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
)

// hba1c is the question most tests edit: HbA1c (IFCC) in 2025.
func hba1c(m Measure, groupBy ...Attribute) Question {
	q := Question{
		Resource: facts.Observation,
		Code:     CodeFilter{System: facts.SystemLOINC, Codes: []string{"59261-8"}},
		From:     date("2025-01-01"), To: date("2026-01-01"),
		GroupBy: groupBy, Measure: m,
	}
	if m.needsValue() {
		q.Value = &ValueRange{Unit: "mmol/mol"}
	}
	if m == Histogram {
		q.Bounds = []float64{48, 53}
	}
	return q
}

// people makes rowsEach matching rows for each of n patients numbered from
// first, edited by edit.
func people(first, n, rowsEach int, edit func(r *facts.Row)) []facts.Row {
	var rows []facts.Row
	for p := first; p < first+n; p++ {
		for i := range rowsEach {
			r := facts.Row{
				Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8",
				Date: date("2025-03-01").AddDate(0, 0, i), Value: 50, HasValue: true, Unit: "mmol/mol",
				Status: "final", Patient: uint64(p), Age: 50, Gender: "female", Province: "RM", Region: "120",
			}
			if edit != nil {
				edit(&r)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func concat(parts ...[]facts.Row) []facts.Row {
	var out []facts.Row
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func g(v ...string) []string { return append([]string{}, v...) }

func TestAggregate(t *testing.T) {
	tests := []struct {
		name string
		q    Question
		rows []facts.Row
		want []Cell
	}{
		{"count rows", hba1c(Count), people(0, 12, 2, nil), []Cell{{Group: g(), Count: 24}}},
		{"distinct patients", hba1c(Patients), people(0, 12, 3, nil), []Cell{{Group: g(), Patients: 12}}},
		{"sum and count", hba1c(Sum), people(0, 10, 2, func(r *facts.Row) { r.Value = 49.5 }), []Cell{{Group: g(), Count: 20, Sum: 990}}},
		{"histogram, a bound opens its bucket", hba1c(Histogram), concat(
			people(0, 10, 1, func(r *facts.Row) { r.Value = 47.9 }),
			people(10, 10, 1, func(r *facts.Row) { r.Value = 48 }),
			people(20, 10, 2, func(r *facts.Row) { r.Value = 53 }),
		), []Cell{{Group: g(), Histogram: []int64{10, 10, 20}}}},
		{"histogram with an empty bucket", hba1c(Histogram), people(0, 10, 1, func(r *facts.Row) { r.Value = 60 }),
			[]Cell{{Group: g(), Histogram: []int64{0, 0, 10}}}},
		{"age bands at their edges", hba1c(Patients, ByAgeBand), concat(
			people(0, 5, 1, func(r *facts.Row) { r.Age = 0 }), people(5, 5, 1, func(r *facts.Row) { r.Age = 17 }),
			people(10, 5, 1, func(r *facts.Row) { r.Age = 18 }), people(15, 5, 1, func(r *facts.Row) { r.Age = 44 }),
			people(20, 5, 1, func(r *facts.Row) { r.Age = 45 }), people(25, 5, 1, func(r *facts.Row) { r.Age = 64 }),
			people(30, 5, 1, func(r *facts.Row) { r.Age = 65 }), people(35, 5, 1, func(r *facts.Row) { r.Age = 74 }),
			people(40, 5, 1, func(r *facts.Row) { r.Age = 75 }), people(45, 5, 1, func(r *facts.Row) { r.Age = 110 }),
			people(50, 10, 1, func(r *facts.Row) { r.Age = -1 }),
		), []Cell{
			{Group: g("0-17"), Patients: 10}, {Group: g("18-44"), Patients: 10}, {Group: g("45-64"), Patients: 10},
			{Group: g("65-74"), Patients: 10}, {Group: g("75+"), Patients: 10}, {Group: g(Unknown), Patients: 10},
		}},
		{"gender and province, unknown when not given", hba1c(Count, ByGender, ByProvince), concat(
			people(0, 10, 1, nil),
			people(10, 10, 1, func(r *facts.Row) { r.Gender, r.Province = "", "" }),
		), []Cell{{Group: g("female", "RM"), Count: 10}, {Group: g(Unknown, Unknown), Count: 10}}},
		{"year and month", hba1c(Count, ByYear, ByMonth), concat(
			people(0, 10, 1, func(r *facts.Row) { r.Date = date("2025-01-01") }),
			people(10, 10, 1, func(r *facts.Row) { r.Date = date("2025-12-31") }),
		), []Cell{{Group: g("2025", "2025-01"), Count: 10}, {Group: g("2025", "2025-12"), Count: 10}}},
		{"facility, code and region", Question{
			Resource: facts.Immunization, Code: CodeFilter{System: facts.SystemATC, Codes: []string{"J07BB*"}},
			From: date("2025-09-01"), To: date("2026-03-01"), Age: &AgeRange{Min: ptr(65)},
			GroupBy: []Attribute{ByRegion, ByFacility, ByCode}, Measure: Patients,
		}, concat(
			people(0, 10, 1, func(r *facts.Row) {
				r.Resource, r.System, r.Code, r.Date, r.Age, r.Facility = facts.Immunization, facts.SystemATC, "J07BB02", date("2025-10-01"), 70, "120201"
			}),
			people(10, 10, 1, func(r *facts.Row) {
				r.Resource, r.System, r.Code, r.Date, r.Age, r.Facility = facts.Immunization, facts.SystemATC, "J07BB01", date("2026-02-28"), 80, ""
			}),
			// Outside: too young, outside the window, another vaccine.
			people(20, 10, 1, func(r *facts.Row) {
				r.Resource, r.System, r.Code, r.Date, r.Age = facts.Immunization, facts.SystemATC, "J07BB02", date("2025-10-01"), 64
			}),
			people(30, 10, 1, func(r *facts.Row) {
				r.Resource, r.System, r.Code, r.Date, r.Age = facts.Immunization, facts.SystemATC, "J07BB02", date("2026-03-01"), 70
			}),
			people(40, 10, 1, func(r *facts.Row) {
				r.Resource, r.System, r.Code, r.Date, r.Age = facts.Immunization, facts.SystemATC, "J07AL01", date("2025-10-01"), 70
			}),
		), []Cell{{Group: g("120", "120201", "J07BB02"), Patients: 10}, {Group: g("120", Unknown, "J07BB01"), Patients: 10}}},
		{"documents per month and facility", Question{
			Resource: facts.DocumentReference, Code: CodeFilter{System: facts.SystemLOINC, Codes: []string{"34105-7"}},
			From: date("2025-01-01"), To: date("2026-01-01"), GroupBy: []Attribute{ByMonth, ByFacility}, Measure: Count,
		}, people(0, 10, 3, func(r *facts.Row) {
			r.Resource, r.Code, r.HasValue, r.Value, r.Unit, r.Facility = facts.DocumentReference, "34105-7", false, 0, "", "080105"
		}), []Cell{{Group: g("2025-03", "080105"), Count: 30}}},
		{"value range", func() Question {
			q := hba1c(Patients)
			q.Value = &ValueRange{Min: ptr(48.0), Unit: "mmol/mol"}
			return q
		}(), concat(
			people(0, 10, 1, func(r *facts.Row) { r.Value = 48 }),
			people(10, 10, 1, func(r *facts.Row) { r.Value = 47 }),
			people(20, 10, 1, func(r *facts.Row) { r.Value, r.Unit = 7, "%" }),
		), []Cell{{Group: g(), Patients: 10}}},
		{"no matching row, no cell", hba1c(Count, ByGender), people(0, 10, 1, func(r *facts.Row) { r.Code = "4548-4" }), []Cell{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.q.Validate(); err != nil {
				t.Fatal(err)
			}
			a, err := Compute(tt.q, 0, tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Cells, tt.want) {
				t.Fatalf("cells\n got %+v\nwant %+v", a.Cells, tt.want)
			}
			if a.Question != tt.q.Key() || a.K != DefaultMinK || a.Measure != tt.q.Measure {
				t.Fatalf("answer %+v does not name the question, k or measure", a)
			}
			if err := a.Check(tt.q, "120"); err != nil {
				t.Fatalf("the answer fails its own check: %v", err)
			}
		})
	}
}

func TestSuppression(t *testing.T) {
	tests := []struct {
		name string
		q    Question
		minK int
		rows []facts.Row
		k    int
		want []Cell
	}{
		{"9 patients suppressed, 10 kept", hba1c(Patients, ByGender), 0, concat(
			people(0, 9, 1, func(r *facts.Row) { r.Gender = "male" }),
			people(9, 10, 1, nil),
		), 10, []Cell{{Group: g("female"), Patients: 10}, {Group: g("male"), Suppressed: true}}},
		{"many rows of few patients are suppressed", hba1c(Count), 0, people(0, 9, 100, nil), 10,
			[]Cell{{Group: g(), Suppressed: true}}},
		{"a sum of few patients is suppressed", hba1c(Sum), 0, people(0, 9, 5, nil), 10,
			[]Cell{{Group: g(), Suppressed: true}}},
		{"a filter narrowing to one person gets only suppressed cells", func() Question {
			q := hba1c(Count, ByAgeBand, ByGender, ByMonth)
			q.Value = &ValueRange{Min: ptr(120.0), Unit: "mmol/mol"}
			return q
		}(), 0, concat(
			people(0, 500, 1, nil),
			people(1000, 1, 40, func(r *facts.Row) { r.Value = 130 }),
		), 10, []Cell{{Group: g("45-64", "female", "2025-03"), Suppressed: true}, {Group: g("45-64", "female", "2025-04"), Suppressed: true}}},
		{"the question's k below the minimum is raised", func() Question { q := hba1c(Patients); q.K = 3; return q }(), 0,
			people(0, 9, 1, nil), 10, []Cell{{Group: g(), Suppressed: true}}},
		{"the question's k above the minimum applies", func() Question { q := hba1c(Patients); q.K = 20; return q }(), 0,
			people(0, 19, 1, nil), 20, []Cell{{Group: g(), Suppressed: true}}},
		{"a region's higher minimum applies", hba1c(Patients), 15, people(0, 14, 1, nil), 15,
			[]Cell{{Group: g(), Suppressed: true}}},
		{"a histogram with one small bucket is suppressed whole", hba1c(Histogram), 0, concat(
			people(0, 20, 1, func(r *facts.Row) { r.Value = 50 }),
			people(20, 3, 1, func(r *facts.Row) { r.Value = 90 }),
		), 10, []Cell{{Group: g(), Suppressed: true}}},
		{"a histogram bucket counts patients, not rows", hba1c(Histogram), 0, concat(
			people(0, 20, 1, func(r *facts.Row) { r.Value = 50 }),
			people(20, 2, 10, func(r *facts.Row) { r.Value = 90 }),
		), 10, []Cell{{Group: g(), Suppressed: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Compute(tt.q, tt.minK, tt.rows)
			if err != nil {
				t.Fatal(err)
			}
			if a.K != tt.k {
				t.Fatalf("k = %d, want %d", a.K, tt.k)
			}
			if !reflect.DeepEqual(a.Cells, tt.want) {
				t.Fatalf("cells\n got %+v\nwant %+v", a.Cells, tt.want)
			}
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range a.Cells {
				if !c.Suppressed {
					continue
				}
				group, _ := json.Marshal(c.Group)
				if want := `{"group":` + string(group) + `,"suppressed":true}`; !strings.Contains(string(b), want) {
					t.Fatalf("suppressed cell is not %s alone in %s", want, b)
				}
			}
			back, err := DecodeAnswer(b)
			if err != nil || !reflect.DeepEqual(back, a) {
				t.Fatalf("DecodeAnswer(%s) = %+v, %v", b, back, err)
			}
		})
	}
}

func TestAnswerJSON(t *testing.T) {
	q := hba1c(Sum, ByGender)
	a, err := Compute(q, 0, concat(people(0, 10, 1, nil), people(10, 2, 1, func(r *facts.Row) { r.Gender = "male" })))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"question":"` + q.Key() + `","measure":"sum","group_by":["gender"],"k":10,"cells":[` +
		`{"group":["female"],"count":10,"sum":500},{"group":["male"],"suppressed":true}]}`
	if string(b) != want {
		t.Fatalf("answer JSON\n got %s\nwant %s", b, want)
	}
}

func TestNewAggregatorRefuses(t *testing.T) {
	tests := []struct {
		name string
		q    Question
		minK int
	}{
		{"invalid question", Question{Measure: Count}, 0},
		{"negative minimum", hba1c(Count), -1},
		{"minimum above MaxK", hba1c(Count), MaxK + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAggregator(tt.q, tt.minK); !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewAggregator = %v, want ErrInvalid", err)
			}
		})
	}
}

// A question with more groups than an answer may hold is refused as too
// broad at the first group past the bound; one group fewer is answered.
func TestTooBroad(t *testing.T) {
	q := hba1c(Count, ByFacility)
	rows := people(0, MaxCells+1, 1, func(r *facts.Row) { r.Facility = fmt.Sprintf("F%06d", r.Patient) })
	if _, err := Compute(q, 0, rows); !errors.Is(err, ErrTooBroad) {
		t.Fatalf("%d facilities: err %v, want ErrTooBroad", len(rows), err)
	}
	ans, err := Compute(q, 0, rows[:MaxCells])
	if err != nil || len(ans.Cells) != MaxCells {
		t.Fatalf("%d facilities: %d cells, err %v", MaxCells, len(ans.Cells), err)
	}
}

func TestResultTwice(t *testing.T) {
	a, err := NewAggregator(hba1c(Patients), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range people(0, 10, 2, nil) {
		a.Add(r)
	}
	first := a.Result()
	for _, r := range people(5, 10, 1, nil) {
		a.Add(r)
	}
	if got := a.Result().Cells; !reflect.DeepEqual(got, []Cell{{Group: g(), Patients: 15}}) || first.Cells[0].Patients != 10 {
		t.Fatalf("first %+v, then %+v; want 10 then 15 patients", first.Cells, got)
	}
}

func TestDecodeAnswerRefuses(t *testing.T) {
	key := hba1c(Count).Key()
	head := `"question":"` + key + `","k":10,`
	tests := []struct {
		name  string
		json  string
		field string
	}{
		{"not json", `{`, "invalid"},
		{"trailing data", `{` + head + `"measure":"count","cells":[]}[]`, "trailing"},
		{"unknown field", `{` + head + `"measure":"count","cells":[],"rows":[]}`, "rows"},
		{"no cells", `{` + head + `"measure":"count"}`, "cells"},
		{"bad key", `{"question":"abc","k":10,"measure":"count","cells":[]}`, "question"},
		{"upper-case key", `{"question":"` + strings.ToUpper(key) + `","k":10,"measure":"count","cells":[]}`, "question"},
		{"k zero", `{"question":"` + key + `","k":0,"measure":"count","cells":[]}`, "k"},
		{"unknown measure", `{` + head + `"measure":"max","cells":[]}`, "measure"},
		{"unknown group_by", `{` + head + `"measure":"count","group_by":["patient"],"cells":[]}`, "group_by[0]"},
		{"histogram without bounds", `{` + head + `"measure":"histogram","cells":[]}`, "bounds"},
		{"negative count", `{` + head + `"measure":"count","cells":[{"group":[],"count":-12}]}`, "negative"},
		{"count below k", `{` + head + `"measure":"count","cells":[{"group":[],"count":9}]}`, "cells[0].count"},
		{"patients below k", `{` + head + `"measure":"patients","cells":[{"group":[],"patients":3}]}`, "cells[0].patients"},
		{"empty published cell", `{` + head + `"measure":"patients","cells":[{"group":[]}]}`, "cells[0].patients"},
		{"sum below k", `{` + head + `"measure":"sum","cells":[{"group":[],"count":1,"sum":123.4}]}`, "cells[0].count"},
		{"histogram bucket below k", `{` + head + `"measure":"histogram","bounds":[48],"cells":[{"group":[],"histogram":[20,1]}]}`, "cells[0].histogram[1]"},
		{"histogram wrong length", `{` + head + `"measure":"histogram","bounds":[48],"cells":[{"group":[],"histogram":[20]}]}`, "cells[0].histogram"},
		{"histogram empty", `{` + head + `"measure":"histogram","bounds":[48],"cells":[{"group":[],"histogram":[0,0]}]}`, "cells[0].histogram"},
		{"suppressed with numbers", `{` + head + `"measure":"count","cells":[{"group":[],"suppressed":true,"count":3}]}`, "suppressed"},
		{"another measure's numbers", `{` + head + `"measure":"count","cells":[{"group":[],"count":30,"patients":12}]}`, "another measure"},
		{"group of wrong length", `{` + head + `"measure":"count","group_by":["gender"],"cells":[{"group":[],"count":30}]}`, "cells[0].group"},
		{"bad age band", `{` + head + `"measure":"count","group_by":["age_band"],"cells":[{"group":["50-51"],"count":30}]}`, "cells[0].group[0]"},
		{"bad month", `{` + head + `"measure":"count","group_by":["month"],"cells":[{"group":["2025-13"],"count":30}]}`, "cells[0].group[0]"},
		{"empty group value", `{` + head + `"measure":"count","group_by":["facility"],"cells":[{"group":[""],"count":30}]}`, "cells[0].group[0]"},
		{"unsorted cells", `{` + head + `"measure":"count","group_by":["gender"],"cells":[{"group":["male"],"count":30},{"group":["female"],"count":30}]}`, "sorted"},
		{"repeated cells", `{` + head + `"measure":"count","group_by":["gender"],"cells":[{"group":["male"],"count":30},{"group":["male"],"count":30}]}`, "sorted"},
		{"count a string", `{` + head + `"measure":"count","cells":[{"group":[],"count":"30"}]}`, "cells.count"},
		{"count fractional", `{` + head + `"measure":"count","cells":[{"group":[],"count":30.5}]}`, "cells.count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeAnswer([]byte(tt.json))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeAnswer = %+v, %v; want ErrInvalid", a, err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

// The window's edges are the days themselves in UTC, whatever the
// question's time values carry.
func TestRangeIsTheWindow(t *testing.T) {
	q := hba1c(Count)
	from, to := q.Range()
	if !from.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Range = %v, %v", from, to)
	}
}
