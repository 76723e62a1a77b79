package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	certJWT = "eyJhbGciOiJFZERTQSJ9.eyJyZWdpb24iOiIxNTAiLCJyb2xlIjoidm90ZXIifQ.c2lnbmF0dXJl"
	revJWT  = "eyJhbGciOiJFZERTQSJ9.eyJyZWdpb24iOiIxNTAiLCJyZWFzb24iOiJrZXkgbG9zdCJ9.c2lnbmF0dXJl"
	record  = `{"code":"150","name":"Campania","peer":"12D3KooW150","role":"voter","addrs":["/ip4/10.0.0.15/tcp/4001","/dns4/fse.campania.it/tcp/4001"],"expiry":"2027-11-27T00:00:00Z"}`
)

// writeFile writes content into a file of a temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveJWT accepts a JWT posted to path and answers with status and answer.
func serveJWT(t *testing.T, path string, status int, answer string) *fakeNode {
	return newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != path {
			writeOutcome(w, http.StatusNotFound, "not-found", "no route "+r.Method+" "+r.URL.Path)
			return
		}
		if answer != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		w.Write([]byte(answer))
	})
}

// checkPosted checks that the node received exactly one JWT, trimmed.
func checkPosted(t *testing.T, node *fakeNode, path, jwt string) {
	t.Helper()
	reqs := node.requests()
	if len(reqs) != 1 {
		t.Fatalf("want 1 request, got %d", len(reqs))
	}
	q := reqs[0]
	if q.method != http.MethodPost || q.path != path {
		t.Fatalf("sent %s %s", q.method, q.path)
	}
	if ct := q.header.Get("Content-Type"); ct != "application/jwt" {
		t.Fatalf("Content-Type %q", ct)
	}
	if string(q.body) != jwt {
		t.Fatalf("body %q, want %q", q.body, jwt)
	}
}

func TestRegionAdd(t *testing.T) {
	const path = "/v1/federation/regions"
	cert := writeFile(t, "\n  "+certJWT+" \r\n\n")

	t.Run("table", func(t *testing.T) {
		node := serveJWT(t, path, http.StatusCreated, record)
		r := fsectl(t, node.env(), "region", "add", cert)
		if r.code != 0 {
			t.Fatal(r)
		}
		checkPosted(t, node, path, certJWT)
		for _, want := range []string{
			"region 150 added\n",
			"name:    Campania\n",
			"peer:    12D3KooW150\n",
			"role:    voter\n",
			"addrs:   /ip4/10.0.0.15/tcp/4001, /dns4/fse.campania.it/tcp/4001\n",
			"expiry:  2027-11-27T00:00:00Z\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("want %q in:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		node := serveJWT(t, path, http.StatusOK, record)
		r := fsectl(t, node.env(), "--json", "region", "add", cert)
		if r.code != 0 {
			t.Fatal(r)
		}
		var got regionRecord
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Code != "150" || len(got.Addrs) != 2 {
			t.Fatalf("stdout %q: %v", r.stdout, err)
		}
	})

	failures := []struct {
		name      string
		content   string
		status    int
		answer    string
		want      string
		askedNode bool
	}{
		{"empty file", " \n\n", 0, "", "is empty", false},
		{"not a JWT", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0, "", "not a JWT", false},
		{"two tokens", certJWT + "\n" + certJWT + "\n", 0, "", "not a JWT", false},
		{"refused", certJWT, http.StatusUnprocessableEntity,
			`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"security","diagnostics":"certificate not signed by the national authority"}]}`,
			"fsectl: POST /v1/federation/regions: 422 Unprocessable Entity: certificate not signed by the national authority", true},
		{"garbage answer", certJWT, http.StatusCreated, "ok!", "not the expected JSON", true},
		{"answer without a region", certJWT, http.StatusCreated, `{}`, "not a region record", true},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			node := serveJWT(t, path, tt.status, tt.answer)
			r := fsectl(t, node.env(), "region", "add", writeFile(t, tt.content))
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 1 and %q, got %v", tt.want, r)
			}
			if asked := len(node.requests()) > 0; asked != tt.askedNode {
				t.Fatalf("asked the node: %t", asked)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		node := serveJWT(t, path, http.StatusCreated, record)
		r := fsectl(t, node.env(), "region", "add", filepath.Join(t.TempDir(), "nope"))
		if r.code != 1 || !strings.Contains(r.stderr, "fsectl region add: open ") {
			t.Fatal(r)
		}
	})
}

func TestRegionRevoke(t *testing.T) {
	const path = "/v1/federation/revocations"
	rev := writeFile(t, revJWT+"\n")
	tests := []struct {
		name   string
		json   bool
		status int
		answer string
		want   []string
	}{
		{"fields", false, http.StatusOK, `{"region":"150","peer":"12D3KooW150","revoked":true,"removed_from_raft":["150"]}`,
			[]string{"revocation accepted\n", "peer:               12D3KooW150\n", "region:             150\n", "removed_from_raft:  [\"150\"]\n", "revoked:            true\n"}},
		{"no content", false, http.StatusNoContent, "", []string{"revocation accepted\n"}},
		{"json", true, http.StatusOK, `{"region":"150"}`, []string{"{\n  \"region\": \"150\"\n}\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := serveJWT(t, path, tt.status, tt.answer)
			args := []string{"region", "revoke", rev}
			if tt.json {
				args = append(args, "--json")
			}
			r := fsectl(t, node.env(), args...)
			if r.code != 0 {
				t.Fatal(r)
			}
			checkPosted(t, node, path, revJWT)
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("want %q in:\n%s", want, r.stdout)
				}
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
			writeOutcome(w, http.StatusConflict, "duplicate", "already revoked")
		})
		r := fsectl(t, node.env(), "region", "revoke", rev)
		if r.code != 1 || !strings.Contains(r.stderr, "fsectl: POST /v1/federation/revocations: 409 Conflict: already revoked") {
			t.Fatal(r)
		}
	})
}
