package fhirapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
)

type nopRecorder struct{}

func (nopRecorder) Record(context.Context, ...index.Event) error { return nil }

// pageAll follows a search's next links exactly as given, as FHIR
// clients do, and returns every entry's fullUrl and every link; rewrite
// maps a link to the URL the test can reach (a reverse proxy's job).
func pageAll(t *testing.T, e *env, first, who string, rewrite func(string) string) (fullURLs, links []string) {
	t.Helper()
	for next, pages := first, 0; next != ""; pages++ {
		if pages > 20 {
			t.Fatal("more than 20 pages")
		}
		code, body, _ := e.get(rewrite(next), who)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, code, body)
		}
		b, err := fhir.UnmarshalBundle([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		next = ""
		for _, l := range b.Link {
			links = append(links, l.Url)
			if l.Relation == "next" {
				next = l.Url
			}
		}
		for _, en := range b.Entry {
			fullURLs = append(fullURLs, *en.FullUrl)
			if d, err := fhir.UnmarshalDocumentReference(en.Resource); err == nil && len(d.Content) > 0 && d.Content[0].Attachment.Url != nil {
				links = append(links, *d.Content[0].Attachment.Url)
			}
		}
	}
	return fullURLs, links
}

func TestSearchLinksAreAbsolute(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 7 {
		e.apply(index.Publish(entry(fmt.Sprintf("page-%d", i), teo, "11502-2", "REF", time.Now().Add(time.Duration(i)*time.Second))))
	}
	const query = "/fhir/DocumentReference?patient=Patient/CF-MRTMTT25D09F205Z&_count=3"
	api := New(Deps{
		Read: func(ctx context.Context, _ bool, fn func(index.Reader) error) (uint64, error) {
			return e.node.Read(ctx, consensus.Local, fn)
		},
		Apply: e.node.Apply, Audit: nopRecorder{}, Region: "030",
		Caller: func(r *http.Request) (index.Caller, bool) {
			c, ok := callers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			return c, ok
		},
		PublicURL: "https://fse.regione.example/",
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	api.Register(mux)
	proxied := httptest.NewServer(mux)
	t.Cleanup(proxied.Close)

	tests := []struct {
		name, base string
		first      string
		rewrite    func(string) string
	}{
		{"from the request", e.srv.URL + "/fhir", query, func(u string) string { return u }},
		{"from http.public_url", "https://fse.regione.example/fhir", proxied.URL + query,
			func(u string) string { return strings.Replace(u, "https://fse.regione.example", proxied.URL, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fullURLs, links := pageAll(t, e, tt.first, "clinician", tt.rewrite)
			seen := map[string]bool{}
			for _, u := range fullURLs {
				if !strings.HasPrefix(u, tt.base+"/DocumentReference/") || seen[u] {
					t.Fatalf("fullUrl %q: not absolute under %s, or repeated", u, tt.base)
				}
				seen[u] = true
			}
			if len(seen) != 7 {
				t.Fatalf("%d documents over the pages, want 7", len(seen))
			}
			for _, l := range links {
				if !strings.HasPrefix(l, tt.base+"/") {
					t.Fatalf("link %q is not absolute under %s", l, tt.base)
				}
			}
		})
	}
}
