package population

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

// synthRegion makes the rows of one region: patients with a few HbA1c
// results each (two LOINC codes, two units), vaccinations and discharge
// letters, over 2024-2026, with a province of residence among the
// region's, one of which is rare enough to leave small cells. Pseudonyms
// are 0..patients-1 in every region, as region-local pseudonyms may well
// be.
func synthRegion(rng *rand.Rand, region string, provinces []string, patients int) []facts.Row {
	var rows []facts.Row
	start := date("2024-01-01")
	genders := []string{"male", "female", "female", "male", "other", ""}
	for p := range patients {
		prov := provinces[rng.IntN(len(provinces)-1)]
		if rng.IntN(200) == 0 {
			prov = provinces[len(provinces)-1] // the rare one
		}
		birth := start.AddDate(-rng.IntN(95), 0, -rng.IntN(365))
		gender := genders[rng.IntN(len(genders))]
		unknownAge := rng.IntN(50) == 0
		for range 1 + rng.IntN(8) {
			d := start.AddDate(0, 0, rng.IntN(3*365))
			age := int(d.Sub(birth).Hours() / 24 / 365.25)
			if unknownAge {
				age = -1
			}
			r := facts.Row{
				Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8",
				Date: d, Value: float64(30 + rng.IntN(90)), HasValue: true, Unit: "mmol/mol", Status: "final",
				Patient: uint64(p), Age: age, Gender: gender, Province: prov,
				Facility: fmt.Sprintf("%s%03d", region, rng.IntN(6)), Region: region,
			}
			switch rng.IntN(10) {
			case 0:
				r.Code, r.Value, r.Unit = "4548-4", float64(4+rng.IntN(10)), "%"
			case 1:
				r.Resource, r.System, r.Code, r.HasValue, r.Value, r.Unit = facts.Immunization, facts.SystemATC, []string{"J07BB01", "J07BB02", "J07AL01"}[rng.IntN(3)], false, 0, ""
			case 2:
				r.Resource, r.Code, r.HasValue, r.Value, r.Unit = facts.DocumentReference, "34105-7", false, 0, ""
			case 3:
				r.Status = "entered-in-error"
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// refCell is the reference's cell: numbers before suppression.
type refCell struct {
	count    int64
	sum      float64
	patients map[string]bool // region/pseudonym: pseudonyms are region-local
	hist     []int64
	buckets  []map[string]bool
}

// reference computes q over the union of the regions' rows the obvious
// way, independently of the aggregator: it is the meaning the merge of
// per-region answers must keep.
func reference(q Question, k int, rows []facts.Row) []CombinedCell {
	bands := []struct {
		upTo int
		name string
	}{{17, "0-17"}, {44, "18-44"}, {64, "45-64"}, {74, "65-74"}, {1 << 30, "75+"}}
	val := func(a Attribute, r facts.Row) string {
		or := func(s string) string {
			if s == "" {
				return "unknown"
			}
			return s
		}
		switch a {
		case ByRegion:
			return or(r.Region)
		case ByProvince:
			return or(r.Province)
		case ByGender:
			return or(r.Gender)
		case ByFacility:
			return or(r.Facility)
		case ByCode:
			return or(r.Code)
		case ByYear:
			return r.Date.Format("2006")
		case ByMonth:
			return r.Date.Format("2006-01")
		case ByAgeBand:
			if r.Age < 0 {
				return "unknown"
			}
			for _, b := range bands {
				if r.Age <= b.upTo {
					return b.name
				}
			}
		}
		panic("attribute " + a)
	}
	match := func(r facts.Row) bool {
		if r.Resource != q.Resource || r.System != q.Code.System || r.Status == "entered-in-error" {
			return false
		}
		code := false
		for _, c := range q.Code.Codes {
			code = code || c == r.Code || (strings.HasSuffix(c, "*") && strings.HasPrefix(r.Code, c[:len(c)-1]))
		}
		in := !r.Date.Before(q.From) && r.Date.Before(q.To)
		if !code || !in {
			return false
		}
		if q.Value != nil || q.Measure == Sum || q.Measure == Histogram {
			if !r.HasValue || (q.Value.Unit != "" && r.Unit != q.Value.Unit) ||
				(q.Value.Min != nil && r.Value < *q.Value.Min) || (q.Value.Max != nil && r.Value >= *q.Value.Max) {
				return false
			}
		}
		if q.Age != nil && (r.Age < 0 || (q.Age.Min != nil && r.Age < *q.Age.Min) || (q.Age.Max != nil && r.Age >= *q.Age.Max)) {
			return false
		}
		return true
	}
	cells := map[string]*refCell{}
	groups := map[string][]string{}
	for _, r := range rows {
		if !match(r) {
			continue
		}
		group := []string{}
		for _, a := range q.GroupBy {
			group = append(group, val(a, r))
		}
		key := strings.Join(group, "|")
		c := cells[key]
		if c == nil {
			c = &refCell{patients: map[string]bool{}}
			if q.Measure == Histogram {
				c.hist = make([]int64, len(q.Bounds)+1)
				for range c.hist {
					c.buckets = append(c.buckets, map[string]bool{})
				}
			}
			cells[key], groups[key] = c, group
		}
		who := r.Region + "/" + fmt.Sprint(r.Patient)
		c.count++
		c.sum += r.Value
		c.patients[who] = true
		if q.Measure == Histogram {
			b := 0
			for b < len(q.Bounds) && r.Value >= q.Bounds[b] {
				b++
			}
			c.hist[b]++
			c.buckets[b][who] = true
		}
	}
	out := []CombinedCell{}
	for key, c := range cells {
		cell := CombinedCell{Group: groups[key]}
		small := len(c.patients) < k
		for _, b := range c.buckets {
			small = small || (len(b) > 0 && len(b) < k)
		}
		switch {
		case small:
			cell.Suppressed = true
		case q.Measure == Count:
			cell.Count = c.count
		case q.Measure == Patients:
			cell.Patients = int64(len(c.patients))
		case q.Measure == Sum:
			cell.Count, cell.Sum = c.count, c.sum
		case q.Measure == Histogram:
			cell.Histogram = c.hist
		}
		out = append(out, cell)
	}
	slices.SortFunc(out, func(a, b CombinedCell) int { return slices.Compare(a.Group, b.Group) })
	return out
}

func TestMergeEqualsUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 2026))
	regions := map[string][]facts.Row{
		"030": synthRegion(rng, "030", []string{"MI", "BG", "BS", "SO"}, 4000),
		"050": synthRegion(rng, "050", []string{"VE", "PD", "VR", "BL"}, 3000),
		"120": synthRegion(rng, "120", []string{"RM", "LT", "FR", "RI"}, 5000),
	}
	var union []facts.Row
	for _, region := range []string{"030", "050", "120"} {
		union = append(union, regions[region]...)
	}
	questions := []Question{
		func() Question {
			q := hba1c(Patients, ByAgeBand)
			q.Value = &ValueRange{Min: ptr(48.0), Unit: "mmol/mol"}
			return q
		}(),
		hba1c(Count, ByProvince, ByGender),
		hba1c(Sum, ByYear, ByMonth),
		hba1c(Histogram, ByAgeBand),
		{
			Resource: facts.Immunization, Code: CodeFilter{System: facts.SystemATC, Codes: []string{"J07BB*"}},
			From: date("2024-09-01"), To: date("2025-03-01"), Age: &AgeRange{Min: ptr(65)},
			GroupBy: []Attribute{ByProvince}, Measure: Patients,
		},
		{
			Resource: facts.DocumentReference, Code: CodeFilter{System: facts.SystemLOINC, Codes: []string{"34105-7"}},
			From: date("2024-01-01"), To: date("2027-01-01"), GroupBy: []Attribute{ByYear, ByFacility}, Measure: Count,
		},
	}
	suppressed, incomplete := 0, 0 // over all questions
	for _, base := range questions {
		for _, byRegion := range []bool{true, false} {
			q := base
			if byRegion {
				q.GroupBy = append([]Attribute{ByRegion}, q.GroupBy[:min(len(q.GroupBy), MaxGroupBy-1)]...)
			}
			t.Run(fmt.Sprintf("%s by %v", q.Measure, q.GroupBy), func(t *testing.T) {
				if err := q.Validate(); err != nil {
					t.Fatal(err)
				}
				var parts []RegionAnswer
				for region, rows := range regions {
					a, err := Compute(q, 0, rows)
					if err != nil {
						t.Fatal(err)
					}
					b, err := json.Marshal(a)
					if err != nil {
						t.Fatal(err)
					}
					// What leaves the region is what the requester merges.
					back, err := DecodeAnswer(b)
					if err != nil {
						t.Fatalf("region %s: its own answer is refused: %v", region, err)
					}
					parts = append(parts, RegionAnswer{Region: region, Answer: back})
				}
				merged := Merge(q, parts...)
				if len(merged.Failed) > 0 {
					t.Fatalf("failed: %+v", merged.Failed)
				}
				want := reference(q, DefaultMinK, union)
				if !slices.ContainsFunc(want, func(c CombinedCell) bool { return !c.Suppressed }) {
					t.Fatalf("the synthetic data leaves no published cell: the test proves nothing")
				}
				if byRegion {
					for i := range want {
						if want[i].Suppressed {
							suppressed++
							want[i].Incomplete = []string{want[i].Group[0]}
						}
					}
					if !reflect.DeepEqual(merged.Cells, want) {
						t.Fatalf("merged cells differ from the union's:\n got %+v\nwant %+v", merged.Cells, want)
					}
					return
				}
				if got, wantGroups := groupsOf(merged.Cells), groupsOf(want); !reflect.DeepEqual(got, wantGroups) {
					t.Fatalf("merged groups %v, union's %v", got, wantGroups)
				}
				complete := 0
				for i, m := range merged.Cells {
					u := want[i]
					if len(m.Incomplete) > 0 {
						incomplete++
					}
					if len(m.Incomplete) == 0 {
						complete++
						if !reflect.DeepEqual(m, u) {
							t.Fatalf("complete cell %v: merged %+v, union %+v", m.Group, m, u)
						}
						continue
					}
					// A suppressed part is missing, never estimated: the
					// merged numbers are at most the union's.
					if m.Count > u.Count && !u.Suppressed || m.Patients > u.Patients && !u.Suppressed {
						t.Fatalf("incomplete cell %v: merged %+v exceeds union %+v", m.Group, m, u)
					}
				}
				if complete == 0 {
					t.Fatalf("no complete merged cell: the test proves nothing")
				}
			})
		}
	}
	if suppressed == 0 || incomplete == 0 {
		t.Fatalf("%d suppressed cells by region, %d incomplete merged cells: the data does not exercise suppression", suppressed, incomplete)
	}
}

func groupsOf(cells []CombinedCell) [][]string {
	var out [][]string
	for _, c := range cells {
		out = append(out, c.Group)
	}
	return out
}
