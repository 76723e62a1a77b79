package clinical

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
)

// outcome is the part of an OperationOutcome the tests read.
type outcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

// offline is an API whose index may not be read: a request it answers
// was answered before the index was asked.
func offline(t *testing.T, authenticated bool) *http.ServeMux {
	t.Helper()
	a := New(Deps{Region: "030", PublicURL: "https://fse.regione.example",
		Caller: func(*http.Request) (index.Caller, bool) {
			return index.Caller{Subject: "RSSMRA80A01H501U", Role: "AAS", Purpose: index.PurposeTreatment, Region: "030"}, authenticated
		},
		Read: func(context.Context, func(index.Reader) error) error {
			t.Error("the index was read for a request that should have been refused first")
			return fmt.Errorf("no index here")
		},
	})
	mux := http.NewServeMux()
	a.Register(mux)
	return mux
}

func serve(mux *http.ServeMux, target string) (int, []byte, http.Header) {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Body.Bytes(), rec.Header()
}

func TestNoTokenIsRefused(t *testing.T) {
	mux := offline(t, false)
	rid := FactID(index.DocumentID("030", "lab-1"), 0)
	for _, target := range []string{"/fhir/Observation?patient=Patient/CF-X", "/fhir/Condition?patient=Patient/CF-X&code=garbage|a|b",
		"/fhir/Observation/" + rid, "/fhir/Patient/CF-X/$summary"} {
		t.Run(target, func(t *testing.T) {
			code, body, _ := serve(mux, target)
			var oo outcome
			if code != http.StatusUnauthorized || json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != "login" {
				t.Fatalf("%d %s, want 401 and an OperationOutcome", code, body)
			}
		})
	}
}

func TestGarbageSearchIsRefused(t *testing.T) {
	mux := offline(t, true)
	tests := []struct {
		name, query string
		strict      bool
		param       string
	}{
		{"no patient", "code=718-7", false, "patient"},
		{"a malformed code", "patient=Patient/CF-X&code=a|b|c", false, "code"},
		{"a malformed date", "patient=Patient/CF-X&date=2024-13-01", false, "date"},
		{"an unsupported prefix", "patient=Patient/CF-X&date=ap2024", false, "date"},
		{"a negative _count", "patient=Patient/CF-X&_count=-1", false, "_count"},
		{"an unknown _sort", "patient=Patient/CF-X&_sort=value", false, "_sort"},
		{"an unknown parameter under strict handling", "patient=Patient/CF-X&value-quantity=gt5", true, "value-quantity"},
	}
	for _, typ := range []string{facts.Observation, facts.Condition, facts.Immunization} {
		for _, tt := range tests {
			t.Run(typ+" "+tt.name, func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/fhir/"+typ+"?"+tt.query, nil)
				if tt.strict {
					req.Header.Set("Prefer", "handling=strict")
				}
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				var oo outcome
				if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
					t.Fatalf("%d %s, want 400 and an OperationOutcome", rec.Code, rec.Body)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
					t.Fatalf("Content-Type %q", ct)
				}
				if is := oo.Issue[0]; is.Severity != "error" || is.Code != "invalid" || !strings.HasPrefix(is.Diagnostics, tt.param+":") && !strings.Contains(is.Diagnostics, " "+tt.param) {
					t.Fatalf("issue %+v does not name the parameter %s", is, tt.param)
				}
			})
		}
	}
	// Without strict handling the unknown parameter is ignored: the search
	// goes on to the index.
	t.Run("lenient", func(t *testing.T) {
		called := false
		a := New(Deps{Region: "030", Caller: func(*http.Request) (index.Caller, bool) { return index.Caller{Subject: "X", Role: "AAS"}, true },
			// An index without the patient.
			Read: func(context.Context, func(index.Reader) error) error { called = true; return nil }})
		mux := http.NewServeMux()
		a.Register(mux)
		code, body, _ := serve(mux, "/fhir/Observation?patient=Patient/CF-RSSMRA80A01H501U&value-quantity=gt5")
		if !called || code != http.StatusOK || !strings.Contains(string(body), `"total":0`) {
			t.Fatalf("%d %s: the index was read: %v, want the empty searchset of a patient it does not hold", code, body, called)
		}
	})
}

// A read of an id that is not a fact's is answered as an absent one,
// without asking the index.
func TestReadGarbageID(t *testing.T) {
	mux := offline(t, true)
	rid := index.ResourceID(index.DocumentID("030", "lab-1"))
	for _, id := range []string{"x", rid, rid + ".", rid + ".-1", rid + ".01", rid + ".+1", rid + ".1.2", strings.ToUpper(rid) + ".1", rid[:31] + ".1", rid + "0.1"} {
		t.Run(id, func(t *testing.T) {
			code, body, _ := serve(mux, "/fhir/Observation/"+url.PathEscape(id))
			var oo outcome
			if code != http.StatusNotFound || json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
				t.Fatalf("%d %s, want 404 and an OperationOutcome", code, body)
			}
		})
	}
}

func TestFactID(t *testing.T) {
	for _, tt := range []struct {
		doc string
		seq int
	}{{index.DocumentID("030", "lab-1"), 0}, {index.DocumentID("160", "x^y.z"), 7}, {index.DocumentID("150", "ldo"), 4999}} {
		id := FactID(tt.doc, tt.seq)
		rid, seq, ok := parseFactID(id)
		if !ok || rid != index.ResourceID(tt.doc) || seq != tt.seq {
			t.Fatalf("FactID(%q, %d) = %q reads back as %q %d %v", tt.doc, tt.seq, id, rid, seq, ok)
		}
		if !validID(id) {
			t.Fatalf("FactID %q is not a FHIR id", id)
		}
	}
	rid := index.ResourceID("d")
	for _, bad := range []string{"", ".", "1", rid, rid + ".", "." + rid, rid + ".a", rid + ".-0", rid + ".00", rid + ". 1", rid + ".1e3",
		rid + ".99999999999999999999999", "g" + rid[1:] + ".1", rid + "ab.1", rid[:30] + ".1"} {
		if r, s, ok := parseFactID(bad); ok {
			t.Errorf("parseFactID(%q) = %q %d, want a refusal", bad, r, s)
		}
	}
}

// validID is FHIR's id: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// searchset is the part of a searchset Bundle the tests read.
type searchset struct {
	Total int `json:"total"`
	Link  []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

func (b searchset) link(rel string) (string, bool) {
	for _, l := range b.Link {
		if l.Relation == rel {
			return l.URL, true
		}
	}
	return "", false
}

// TestSearchsetPages walks the pages of a merged answer by their links:
// each fact once, in order, absolute links on the node's public URL, and
// _count=0 (the total only) a page without a next one.
func TestSearchsetPages(t *testing.T) {
	a := New(Deps{Region: "030", PublicURL: "https://fse.regione.example/"})
	p := index.Patient{ID: "CF:RSSMRA80A01H501U"}
	doc := index.DocumentID("030", "lab-1")
	g := &gathered{patient: p, failed: []regionFailure{{"160", "it did not answer in time"}}}
	const n = 5
	for i := range n {
		f := facts.Fact{Seq: i, Type: facts.Observation, Code: []facts.Coding{{System: facts.SystemLOINC, Code: fmt.Sprint("c", i)}},
			Resource: json.RawMessage(`{"resourceType":"Observation","status":"final"}`)}
		g.facts = append(g.facts, found{wireFact: wireFact{Doc: doc, Fact: f}, entry: index.Entry{ID: doc, Custodian: "030"}})
	}
	page := func(target string) searchset {
		t.Helper()
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		_, _, pg, err := parseSearch(facts.Observation, u.Query(), false)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		a.writeSearchset(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil), g, pg)
		var b searchset
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("%v: %s", err, rec.Body)
		}
		return b
	}
	for _, count := range []int{1, 2, 5, 50} {
		t.Run(fmt.Sprint("_count=", count), func(t *testing.T) {
			next := fmt.Sprintf("https://fse.regione.example/fhir/Observation?patient=Patient/CF-RSSMRA80A01H501U&_count=%d", count)
			var seen []string
			for pages := 0; next != ""; pages++ {
				if pages > n {
					t.Fatalf("more pages than facts: %v", seen)
				}
				if !strings.HasPrefix(next, "https://fse.regione.example/fhir/Observation?") {
					t.Fatalf("link %q is not absolute on the node's public URL", next)
				}
				b := page(next)
				if b.Total != n {
					t.Fatalf("total %d, want %d", b.Total, n)
				}
				if self, ok := b.link("self"); !ok || !strings.HasPrefix(self, "https://fse.regione.example/fhir/Observation?") {
					t.Fatalf("self link %q", self)
				}
				outcomes := 0
				for _, e := range b.Entry {
					if e.Search.Mode == "outcome" {
						outcomes++
						if !strings.Contains(string(e.Resource), "region 160") {
							t.Fatalf("the outcome does not name the region: %s", e.Resource)
						}
						continue
					}
					seen = append(seen, e.FullURL)
				}
				if outcomes != 1 {
					t.Fatalf("%d outcome entries on a page, want the missing region's on each", outcomes)
				}
				next, _ = b.link("next")
			}
			if len(seen) != n {
				t.Fatalf("%d facts over the pages, want %d: %v", len(seen), n, seen)
			}
			for i, u := range seen {
				if want := "https://fse.regione.example/fhir/Observation/" + FactID(doc, i); u != want {
					t.Fatalf("fact %d: %s, want %s", i, u, want)
				}
			}
		})
	}
	t.Run("_count=0", func(t *testing.T) {
		b := page("https://fse.regione.example/fhir/Observation?patient=Patient/CF-RSSMRA80A01H501U&_count=0&_offset=2")
		if b.Total != n {
			t.Fatalf("total %d", b.Total)
		}
		for _, rel := range []string{"next", "previous"} {
			if u, ok := b.link(rel); ok {
				t.Fatalf("a page of no entries links %s to %s: a client following it loops", rel, u)
			}
		}
	})
	t.Run("an ignored parameter is not in the links", func(t *testing.T) {
		b := page("https://fse.regione.example/fhir/Observation?patient=Patient/CF-RSSMRA80A01H501U&_count=2&code:text=glucose&_elements=id")
		for _, rel := range []string{"self", "next"} {
			u, ok := b.link(rel)
			if !ok || strings.Contains(u, "glucose") || strings.Contains(u, "_elements") || !strings.Contains(u, "patient=") {
				t.Fatalf("%s link %q", rel, u)
			}
		}
	})
	t.Run("previous", func(t *testing.T) {
		b := page("https://fse.regione.example/fhir/Observation?patient=Patient/CF-RSSMRA80A01H501U&_count=2&_offset=1")
		prev, ok := b.link("previous")
		if !ok || !strings.Contains(prev, "_offset=0") {
			t.Fatalf("previous %q", prev)
		}
	})
}

// The token forwarded to other regions is the one the node verified:
// spaces around it are not part of it.
func TestBearerOf(t *testing.T) {
	for _, h := range []string{"Bearer abc.def.ghi", "Bearer  abc.def.ghi", "bearer abc.def.ghi ", "Bearer \tabc.def.ghi"} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Observation", nil)
		r.Header.Set("Authorization", h)
		if _, tok, ok := bearerOf(r); !ok || tok != "abc.def.ghi" {
			t.Errorf("%q: token %q (%v), want abc.def.ghi", h, tok, ok)
		}
	}
}
