package clinical

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

// FuzzSearchParams reads arbitrary query strings as a search's
// parameters: never a panic; a refusal is ErrInvalid; a search that is
// read is one every region accepts (its query validates, and survives the
// protocol's request unchanged in what it asks), with a patient and
// paging within the limits.
func FuzzSearchParams(f *testing.F) {
	for _, s := range []string{
		"patient=Patient/CF-RSSMRA80A01H501U",
		"patient=Patient/CF-X&code=http://loinc.org|718-7,2345-7&date=ge2024-01&date=lt2024-03-15T10:00:00%2B01:00&_count=1&_offset=2&_sort=date",
		"subject=CF-X&category=laboratory&status=final,amended&clinical-status=active",
		"patient=Patient/CF-X&date=2024-03-31T23:30Z&date=ne2024",
		"patient=Patient/CF-X&code=|x&code=y",
		"patient=Patient/CF-X&status=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,A,B,C,D,E,F,G",
		"patient=&_count=-1&date=sa2024",
		"patient=Patient/CF-X&_count=0",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, strict bool) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, typ := range []string{facts.Observation, facts.Condition} {
			patient, q, pg, err := parseSearch(typ, v, strict)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("refused with %v, not ErrInvalid", err)
				}
				continue
			}
			if patient == "" || q.Type != typ || q.Doc != "" {
				t.Fatalf("patient %q, query %+v", patient, q)
			}
			if err := q.Validate(); err != nil {
				t.Fatalf("a search read from %q does not validate: %v", raw, err)
			}
			if pg.Count < 0 || pg.Count > maxCount || pg.Offset < 0 || pg.Offset > maxOffset {
				t.Fatalf("page %+v out of bounds", pg)
			}
			b, err := json.Marshal(request{V: protocolVersion, Token: "t", Patient: "CF:X", Query: q})
			if err != nil {
				t.Fatal(err)
			}
			req, err := decodeRequest(b)
			if err != nil {
				t.Fatalf("a region refuses the search read from %q: %v", raw, err)
			}
			if len(req.Query.Codes) != len(q.Codes) || len(req.Query.Dates) != len(q.Dates) || len(req.Query.Status) != len(q.Status) {
				t.Fatalf("the request changed the query: %+v, want %+v", req.Query, q)
			}
			for i, d := range q.Dates {
				if got := req.Query.Dates[i]; got.Prefix != d.Prefix || !got.From.Equal(d.From) || !got.To.Equal(d.To) {
					t.Fatalf("date %d: %+v over the protocol, want %+v", i, got, d)
				}
			}
		}
	})
}

// FuzzFactsRequest decodes arbitrary bytes as a peer's request: never a
// panic; a refusal is ErrInvalid; a request taken names its caller's
// token and patient, speaks this version and holds a valid query.
func FuzzFactsRequest(f *testing.F) {
	f.Add([]byte(`{"v":1,"token":"t","patient":"CF:X","query":{"type":"Observation","codes":[{"system":"http://loinc.org","code":"718-7"}],` +
		`"dates":[{"prefix":"ge","from":"2024-01-01T00:00:00+01:00","to":"2024-02-01T00:00:00+01:00"}]}}`))
	f.Add([]byte(`{"v":1,"token":"t","patient":"CF:X","query":{}}`))
	f.Add([]byte(`{"v":1,"token":"t","patient":"CF:X","query":{"type":"Condition","doc":"2.16.840.1.113883.2.9.2.030.4.4^x"}}`))
	f.Add([]byte(`{"v":1,"token":"t","patient":"CF:X","query":{"dates":[{"prefix":"eq"}]}}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, 0xfe, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeRequest(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("refused with %v, not ErrInvalid", err)
			}
			return
		}
		if req.V != protocolVersion || req.Token == "" || req.Patient == "" {
			t.Fatalf("took %+v", req)
		}
		if err := req.Query.Validate(); err != nil {
			t.Fatalf("took a query that does not validate: %v", err)
		}
	})
}
