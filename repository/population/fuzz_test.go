package population

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "questions", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed questions: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{` + base + `,"measure":"histogram","value":{"min":-0,"max":1e15,"unit":"%"},"bounds":[-1e15,0,1e-300],"age":{"min":0,"max":150},"gender":"unknown","group_by":["code","year","month"],"k":1000}`,
		`{` + base + `,"measure":"count","code":{"system":"s","codes":["a*","a","ab*"]}}`,
		`{"resource":null,"code":null,"value":null,"age":{},"measure":"count"}`,
		`{` + base + `,"measure":"count"} `,
		`{` + base + `,"measure":"count","measure":"sum"}`,
		"\xff", `"`, `{}`, `[]`, `{` + base + `,"measure":"count","k":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode refused with %v, not ErrInvalid", err)
			}
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("a decoded question is not valid: %v", err)
		}
		again, err := Decode([]byte(q.String()))
		if err != nil {
			t.Fatalf("the canonical form %s of a decoded question is refused: %v", q, err)
		}
		if !reflect.DeepEqual(again, q) || again.Key() != q.Key() {
			t.Fatalf("decode, encode, decode differs:\n%+v\n%+v", q, again)
		}
		// Every scan is of the question's resource and system, and a row
		// of each scanned code matches the code filter.
		for _, s := range q.Scans() {
			r := facts.Row{Resource: q.Resource, System: q.Code.System, Code: s.Code}
			if s.Resource != q.Resource || s.System != q.Code.System || !q.matchCode(r.Code) {
				t.Fatalf("scan %+v lies outside question %s", s, q)
			}
		}
		if _, err := NewAggregator(q, 0); err != nil {
			t.Fatalf("NewAggregator refuses a decoded question: %v", err)
		}
	})
}

func FuzzDecodeAnswer(f *testing.F) {
	seed := func(q Question, rows []facts.Row) {
		a, err := Compute(q, 0, rows)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	male := func(r *facts.Row) { r.Gender = "male" }
	seed(hba1c(Patients, ByAgeBand, ByGender), concat(people(0, 10, 2, nil), people(10, 3, 1, male)))
	seed(hba1c(Count, ByMonth), people(0, 12, 40, nil))
	seed(hba1c(Sum, ByYear, ByProvince), people(0, 12, 3, nil))
	seed(hba1c(Histogram), people(0, 12, 3, nil))
	key := hba1c(Count).Key()
	for _, s := range []string{
		`{"question":"` + key + `","k":10,"measure":"count","cells":[{"group":[],"suppressed":true,"sum":-0}]}`,
		`{"question":"` + key + `","k":10,"measure":"count","cells":[{"group":[],"count":10,"histogram":[]}]}`,
		`{"question":"` + key + `","k":10,"measure":"histogram","bounds":[1],"cells":[{"group":[],"histogram":[0,10]}]}`,
		`{"question":"` + key + `","k":10,"measure":"count","cells":null}`,
		`{}`, `null`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAnswer(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeAnswer refused with %v, not ErrInvalid", err)
			}
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("a decoded answer does not encode: %v", err)
		}
		again, err := DecodeAnswer(out)
		if err != nil {
			t.Fatalf("the encoding %s of a decoded answer is refused: %v", out, err)
		}
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("decode, encode, decode differs:\n%+v\n%+v", a, again)
		}
		for _, c := range a.Cells {
			if c.Suppressed && (c.Count != 0 || c.Patients != 0 || c.Sum != 0 || c.Histogram != nil) {
				t.Fatalf("a suppressed cell with numbers was accepted: %+v", c)
			}
		}
	})
}
