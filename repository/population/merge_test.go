package population

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

func inRegion(region string, rows []facts.Row) []facts.Row {
	for i := range rows {
		rows[i].Region = region
	}
	return rows
}

func mustCompute(t *testing.T, q Question, rows []facts.Row) Answer {
	t.Helper()
	a, err := Compute(q, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMerge(t *testing.T) {
	q := hba1c(Sum, ByGender)
	male := func(r *facts.Row) { r.Gender = "male" }
	lazio := mustCompute(t, q, inRegion("120", concat(people(0, 10, 1, nil), people(10, 10, 1, male))))
	lombardia := mustCompute(t, q, inRegion("030", concat(people(0, 20, 2, nil), people(20, 4, 1, male))))
	veneto := mustCompute(t, q, inRegion("050", people(0, 3, 1, male)))
	other := mustCompute(t, hba1c(Count, ByGender), inRegion("080", people(0, 10, 1, nil)))

	tests := []struct {
		name       string
		parts      []RegionAnswer
		wantCells  []CombinedCell
		answered   []string
		failed     []string // regions
		failReason []string // a word of each failure, in order
	}{
		{"cells of the same group are added", []RegionAnswer{
			{Region: "120", Answer: lazio}, {Region: "030", Answer: lombardia},
		}, []CombinedCell{
			{Group: g("female"), Count: 50, Sum: 2500},
			{Group: g("male"), Count: 10, Sum: 500, Incomplete: []string{"030"}},
		}, []string{"030", "120"}, nil, nil},
		{"a cell suppressed everywhere carries no numbers", []RegionAnswer{
			{Region: "050", Answer: veneto}, {Region: "030", Answer: lombardia},
		}, []CombinedCell{
			{Group: g("female"), Count: 40, Sum: 2000},
			{Group: g("male"), Suppressed: true, Incomplete: []string{"030", "050"}},
		}, []string{"030", "050"}, nil, nil},
		{"regions that failed or were refused are listed", []RegionAnswer{
			{Region: "120", Answer: lazio},
			{Region: "050", Err: "deadline exceeded"},
			{Region: "080", Answer: other},
			{Region: "120", Answer: lazio},
			{Region: "", Answer: lombardia},
		}, []CombinedCell{
			{Group: g("female"), Count: 10, Sum: 500},
			{Group: g("male"), Count: 10, Sum: 500},
		}, []string{"120"}, []string{"", "050", "080", "120"}, []string{"no region", "deadline", "refused", "twice"}},
		{"nobody answered", []RegionAnswer{{Region: "120", Err: "unreachable"}}, []CombinedCell{}, []string{}, []string{"120"}, []string{"unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Merge(q, tt.parts...)
			if !reflect.DeepEqual(c.Cells, tt.wantCells) {
				t.Fatalf("cells\n got %+v\nwant %+v", c.Cells, tt.wantCells)
			}
			if !reflect.DeepEqual(c.Answered, tt.answered) {
				t.Fatalf("answered %v, want %v", c.Answered, tt.answered)
			}
			var regions []string
			for i, f := range c.Failed {
				regions = append(regions, f.Region)
				if !strings.Contains(f.Error, tt.failReason[i]) {
					t.Fatalf("failure %+v does not say %q", f, tt.failReason[i])
				}
			}
			if !reflect.DeepEqual(regions, tt.failed) {
				t.Fatalf("failed %v, want %v", regions, tt.failed)
			}
			if c.Question != q.Key() || c.Measure != q.Measure {
				t.Fatalf("combined %+v does not name the question", c)
			}
		})
	}
}

func TestMergeJSON(t *testing.T) {
	q := hba1c(Patients, ByGender)
	a := mustCompute(t, q, inRegion("120", concat(people(0, 10, 1, nil), people(10, 2, 1, func(r *facts.Row) { r.Gender = "male" }))))
	c := Merge(q, RegionAnswer{Region: "120", Answer: a}, RegionAnswer{Region: "050", Err: "unreachable"})
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"question":"` + q.Key() + `","measure":"patients","group_by":["gender"],"answered":["120"],` +
		`"failed":[{"region":"050","error":"unreachable"}],"cells":[{"group":["female"],"patients":10},` +
		`{"group":["male"],"suppressed":true,"incomplete_regions":["120"]}]}`
	if string(b) != want {
		t.Fatalf("combined JSON\n got %s\nwant %s", b, want)
	}
}

func TestCheck(t *testing.T) {
	q := hba1c(Patients, ByRegion)
	a := mustCompute(t, q, inRegion("120", people(0, 10, 1, nil)))
	tests := []struct {
		name   string
		q      Question
		region string
		edit   func(*Answer)
		want   error
	}{
		{"its own answer", q, "120", func(*Answer) {}, nil},
		{"another question", hba1c(Patients, ByRegion, ByGender), "120", func(*Answer) {}, ErrMismatch},
		{"another measure, same key", q, "120", func(a *Answer) { a.Measure = Count; a.Cells[0].Count, a.Cells[0].Patients = 10, 0 }, ErrMismatch},
		{"k below the question's", func() Question { q := q; q.K = 20; return q }(), "120", func(a *Answer) { a.Question = func() Question { q := q; q.K = 20; return q }().Key() }, ErrMismatch},
		{"cells of another region", q, "030", func(*Answer) {}, ErrMismatch},
		{"breaks the k rule", q, "120", func(a *Answer) { a.Cells[0].Patients = 2 }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a
			b.Cells = []Cell{{Group: g("120"), Patients: 10}}
			tt.edit(&b)
			err := b.Check(tt.q, tt.region)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}
