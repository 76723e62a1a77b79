package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// result is what one run of fsectl produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// fsectl runs the command in-process with env as its whole environment.
func fsectl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, func(k string) string { return env[k] }, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// request is what the fake node received.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

// fakeNode is a stand-in for a node's HTTP API that records its requests.
type fakeNode struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newFakeNode(t *testing.T, h http.HandlerFunc) *fakeNode {
	t.Helper()
	f := &fakeNode{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{r.Method, r.URL.Path, r.Header.Clone(), body})
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeNode) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// env points fsectl at the fake node.
func (f *fakeNode) env() map[string]string { return map[string]string{"FSENET_NODE": f.URL} }

func writeOutcome(w http.ResponseWriter, status int, code, diagnostics string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%q,"diagnostics":%q}]}`, code, diagnostics)
}

func TestUsage(t *testing.T) {
	node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a usage error reached the node: %s %s", r.Method, r.URL.Path)
	})
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"bogus"}, 2, `unknown command "bogus"`},
		{"group without command", []string{"cluster"}, 2, "missing command (status, digest)"},
		{"unknown subcommand", []string{"region", "delete"}, 2, `unknown command "delete" (add, revoke)`},
		{"missing FILE", []string{"snapshot", "save"}, 2, "want 1 argument(s) (FILE), got 0"},
		{"extra argument", []string{"snapshot", "save", "a", "b"}, 2, "got 2"},
		{"argument to status", []string{"cluster", "status", "x"}, 2, "want 0 argument(s)"},
		{"missing CERTFILE", []string{"region", "add"}, 2, "CERTFILE"},
		{"unknown global flag", []string{"--bogus", "cluster", "status"}, 2, "flag provided but not defined: -bogus"},
		{"unknown command flag", []string{"cluster", "status", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"--force where it means nothing", []string{"cluster", "digest", "--force"}, 2, "-force"},
		{"node not http", []string{"--node", "ftp://x", "cluster", "status"}, 2, `--node "ftp://x": not an http`},
		{"node not a URL", []string{"--node", "127.0.0.1:8030", "cluster", "status"}, 2, "--node"},
		{"node with a query", []string{"--node", "http://x/?a=b", "cluster", "status"}, 2, "no query"},
		{"-h", []string{"-h"}, 0, "Usage:"},
		{"help", []string{"help"}, 0, "cluster status"},
		{"group -h", []string{"cluster", "-h"}, 0, "Usage:"},
		{"command -h", []string{"snapshot", "save", "-h"}, 0, "-force"},
		{"command --help after argument", []string{"region", "add", "f", "--help"}, 0, "membership certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fsectl(t, node.env(), tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit %d and %q on stderr, got %v", tt.code, tt.want, r)
			}
			if r.stdout != "" {
				t.Fatalf("usage went to stdout: %v", r)
			}
		})
	}
}

// The token goes to the node as a bearer token, from the flag (before or
// after the command words) or the environment, and fsectl never prints it:
// not in results, errors, usage, nor when the node quotes it back.
func TestToken(t *testing.T) {
	const token = "s3cret-t0ken-value"
	node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth != "Bearer "+token {
			writeOutcome(w, http.StatusUnauthorized, "login", "bad credentials: got "+auth)
			return
		}
		w.Write([]byte(clusterJSON(true, region("030", "Lombardia", "aa", ""))))
	})
	withEnv := map[string]string{"FSENET_NODE": node.URL, "FSENET_TOKEN": token}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"flag", node.env(), []string{"--token", token, "cluster", "status"}, 0},
		{"flag after the command", node.env(), []string{"cluster", "digest", "--token=" + token}, 0},
		{"environment", withEnv, []string{"cluster", "status"}, 0},
		{"environment with a newline", map[string]string{"FSENET_NODE": node.URL, "FSENET_TOKEN": token + "\n"}, []string{"cluster", "status"}, 0},
		{"wrong token quoted back", withEnv, []string{"--token", token + "-old", "cluster", "status"}, 1},
		{"json", withEnv, []string{"--json", "cluster", "status"}, 0},
		{"usage", withEnv, []string{"cluster", "status", "-h"}, 0},
		{"usage error", withEnv, []string{"cluster", "status", "extra"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(node.requests())
			r := fsectl(t, tt.env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("want exit %d, got %v", tt.code, r)
			}
			if strings.Contains(r.stdout+r.stderr, token) {
				t.Fatalf("the token was printed: %v", r)
			}
			reqs := node.requests()[before:]
			if tt.code == 2 || strings.Contains(tt.name, "usage") {
				if len(reqs) != 0 {
					t.Fatalf("usage reached the node")
				}
				return
			}
			want := 1
			if tt.args[1] == "digest" {
				want = 2 // the replicas' digests, then their stored states
			}
			if len(reqs) != want {
				t.Fatalf("want %d requests, got %d", want, len(reqs))
			}
			if tt.code == 0 {
				if got := reqs[0].header.Get("Authorization"); got != "Bearer "+token {
					t.Fatalf("Authorization %q", got)
				}
			}
		})
	}

	t.Run("no token, no header", func(t *testing.T) {
		before := len(node.requests())
		r := fsectl(t, node.env(), "cluster", "status")
		if r.code != 1 || !strings.Contains(r.stderr, "no token given") {
			t.Fatalf("want exit 1 with a hint, got %v", r)
		}
		if h, ok := node.requests()[before].header["Authorization"]; ok {
			t.Fatalf("sent Authorization %q without a token", h)
		}
	})
}

func TestServerErrors(t *testing.T) {
	long := strings.Repeat("x", 150) + strings.Repeat("y", 100)
	tests := []struct {
		name    string
		token   string
		handler http.HandlerFunc
		want    []string // in stderr
		notWant []string
	}{
		{"401 without token", "",
			func(w http.ResponseWriter, r *http.Request) {
				writeOutcome(w, 401, "login", "missing bearer token")
			},
			[]string{"fsectl: GET /v1/cluster: 401 Unauthorized: missing bearer token", "hint: no token given; set --token or $FSENET_TOKEN"}, nil},
		{"401 with token", "tok-tok-tok",
			func(w http.ResponseWriter, r *http.Request) {
				writeOutcome(w, 401, "login", "token expired")
			},
			[]string{"401 Unauthorized: token expired", "hint: the token from --token or $FSENET_TOKEN was not accepted"}, nil},
		{"403", "tok-tok-tok",
			func(w http.ResponseWriter, r *http.Request) {
				writeOutcome(w, 403, "forbidden", "region 150 may not read the cluster")
			},
			[]string{"fsectl: GET /v1/cluster: 403 Forbidden: region 150 may not read the cluster"}, []string{"hint"}},
		{"several issues", "",
			func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(409)
				w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"first"},{"severity":"error","code":"invalid","details":{"text":"second"}},{"severity":"error","code":"third"}]}`))
			},
			[]string{"409 Conflict: first; second; third"}, nil},
		{"plain text body is cut at 200 bytes", "",
			func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, long, http.StatusInternalServerError)
			},
			[]string{"500 Internal Server Error: " + long[:200] + "...\n"}, []string{long[:201]}},
		{"control characters are not printed", "",
			func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "bad\x1b[31mred\x07", http.StatusBadGateway)
			},
			[]string{"502 Bad Gateway: bad [31mred"}, []string{"\x1b", "\x07"}},
		{"empty error body", "",
			func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) },
			[]string{"fsectl: GET /v1/cluster: 503 Service Unavailable\n"}, nil},
		{"garbage JSON", "",
			func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>not json</html>")) },
			[]string{"fsectl: GET /v1/cluster: the node's answer is not the expected JSON", "<html>not json</html>"}, nil},
		{"truncated JSON", "",
			func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"region":"030","regions":[`)) },
			[]string{"not the expected JSON (unexpected end of JSON input)"}, nil},
		{"JSON of another shape", "",
			func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) },
			[]string{"not a cluster status"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(t, tt.handler)
			env := node.env()
			env["FSENET_TOKEN"] = tt.token
			for _, cmd := range []string{"status", "digest"} {
				r := fsectl(t, env, "cluster", cmd)
				if r.code != 1 {
					t.Fatalf("cluster %s: want exit 1, got %v", cmd, r)
				}
				for _, w := range tt.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("cluster %s: want %q in stderr, got %v", cmd, w, r)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(r.stderr, w) {
						t.Errorf("cluster %s: %q in stderr: %v", cmd, w, r)
					}
				}
			}
		})
	}
}

func TestNodeUnreachable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	url := gone.URL
	gone.Close()
	for _, args := range [][]string{{"cluster", "status"}, {"snapshot", "save", t.TempDir() + "/s"}} {
		t.Run(args[0], func(t *testing.T) {
			r := fsectl(t, map[string]string{"FSENET_NODE": url}, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "cannot connect to the node at "+url+": connection refused") {
				t.Fatalf("want exit 1 naming %s, got %v", url, r)
			}
		})
	}
}

// The node's error bodies are outside input: describing one never panics,
// stays short when it is not an OperationOutcome, and prints no control
// characters nor invalid UTF-8.
func FuzzDescribeErrorBody(f *testing.F) {
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","diagnostics":"no"}]}`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[]}`))
	f.Add([]byte("plain \x1b[0m text \xff\xfe"))
	f.Add([]byte(strings.Repeat("é", 300)))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := describeErrorBody(body)
		if !utf8.ValidString(d) {
			t.Fatalf("invalid UTF-8: %q", d)
		}
		if strings.IndexFunc(d, unicode.IsControl) >= 0 {
			t.Fatalf("control character: %q", d)
		}
		if !bytes.Contains(body, []byte("OperationOutcome")) && len(d) > excerptLen+len("...") {
			t.Fatalf("%d bytes: %q", len(d), d)
		}
	})
}
