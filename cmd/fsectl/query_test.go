package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const ldoQuestion = `{"resource":"DocumentReference","code":{"system":"http://loinc.org","codes":["34105-7"]},
	"from":"2025-01-01","to":"2026-01-01","group_by":["month","facility"],"measure":"count"}`

func TestQuery(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ldo.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(ldoQuestion), 0o600)
	os.WriteFile(bad, []byte(`{"resource":"Observation","script":"x"}`), 0o600)
	answer := func(failed string) string {
		return `{"key":"abc","question":` + ldoQuestion + `,"result":{"question":"abc","measure":"count","group_by":["month","facility"],
			"answered":["030","150"],` + failed + `"cells":[{"group":["2025-01","030101"],"count":42},
			{"group":["2025-01","150101"],"suppressed":true},{"group":["2025-02","030101"],"count":12,"incomplete_regions":["150"]}]}}`
	}
	tests := []struct {
		name   string
		file   string
		body   string
		status int
		code   int
		want   []string
	}{
		{"merged answer", good, answer(""), http.StatusOK, 0, []string{"MONTH", "FACILITY", "COUNT", "2025-01  030101    42", "suppressed", "suppressed by 150"}},
		{"a region did not answer", good, answer(`"failed":[{"region":"160","error":"it did not answer in time"}],`), http.StatusOK, 1,
			[]string{"42", "partial answer: no answer from 160 (it did not answer in time)"}},
		{"not the authority", good, `{"type":"about:blank","title":"Forbidden","status":403,"detail":"this token does not grant population questions"}`,
			http.StatusForbidden, 1, []string{"403", "population questions"}},
		{"a malformed question is refused before it is sent", bad, "", http.StatusOK, 1, []string{"the question"}},
		{"no such file", filepath.Join(dir, "none.json"), "", http.StatusOK, 1, []string{"reading the question"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/population/query" {
					writeOutcome(w, http.StatusNotFound, "not-found", "no route")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			env := node.env()
			env["FSENET_TOKEN"] = "authority-token"
			r := fsectl(t, env, "query", tt.file)
			if r.code != tt.code {
				t.Fatalf("%v", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output lacks %q:\n%v", w, r)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "authority-token") {
				t.Fatal("the token was printed")
			}
			if tt.body == "" && len(node.requests()) != 0 {
				t.Fatal("a question that does not decode was sent")
			}
		})
	}
}
