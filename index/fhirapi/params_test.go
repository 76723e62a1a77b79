package fhirapi

import (
	"testing"
	"time"
)

func TestDateInterval(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name      string
		params    []string
		from, to  time.Time
		exact     bool
		inside    []time.Time
		outsideAt []time.Time
	}{
		{"none", nil, time.Time{}, time.Time{}, true, []time.Time{day(1)}, nil},
		{"eq day", []string{"2026-03-05"}, day(5), day(6), true, []time.Time{day(5)}, []time.Time{day(4), day(6)}},
		{"ge and lt", []string{"ge2026-03-03", "lt2026-03-07"}, day(3), day(7), true, []time.Time{day(3), day(6)}, []time.Time{day(2), day(7)}},
		{"gt excludes the day", []string{"gt2026-03-03"}, day(4), time.Time{}, true, []time.Time{day(4)}, []time.Time{day(3)}},
		{"le includes the day", []string{"le2026-03-03"}, time.Time{}, day(4), true, []time.Time{day(3)}, []time.Time{day(4)}},
		{"ne is not an interval", []string{"ne2026-03-03"}, time.Time{}, time.Time{}, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conds []dateCond
			for _, p := range tt.params {
				c, err := parseDate(p)
				if err != nil {
					t.Fatal(err)
				}
				conds = append(conds, c)
			}
			from, to, exact := interval(conds)
			if !from.Equal(tt.from) || !to.Equal(tt.to) || exact != tt.exact {
				t.Fatalf("interval = [%v, %v) exact %v, want [%v, %v) exact %v", from, to, exact, tt.from, tt.to, tt.exact)
			}
			in := func(x time.Time) bool { return (from.IsZero() || !x.Before(from)) && (to.IsZero() || x.Before(to)) }
			for _, x := range tt.inside {
				if !in(x) {
					t.Errorf("%v should be inside", x)
				}
				for _, c := range conds {
					if !c.matches(x) {
						t.Errorf("%v inside the interval but %s refuses it", x, c.prefix)
					}
				}
			}
			for _, x := range tt.outsideAt {
				if in(x) {
					t.Errorf("%v should be outside", x)
				}
			}
		})
	}
}
