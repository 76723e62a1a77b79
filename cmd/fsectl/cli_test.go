package main

import (
	"net/http"
	"strings"
	"testing"
)

// A command that needs --out says so, as a usage error, before it asks
// the node anything.
func TestRequiredOut(t *testing.T) {
	node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a usage error reached the node: %s %s", r.Method, r.URL.Path)
	})
	for _, args := range [][]string{
		{"history", "RSSMRA80A01H501U"},
		{"history", "RSSMRA80A01H501U", "--json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := fsectl(t, node.env(), args...)
			if r.code != 2 || !strings.Contains(r.stderr, "missing required flag --out DIR") || !strings.Contains(r.stderr, "Usage: fsectl") {
				t.Fatalf("want exit 2 naming --out with the usage, got %v", r)
			}
		})
	}
}

// Every command's help exits 0 and shows each of its flags with a
// description, and --node with its default.
func TestCommandHelp(t *testing.T) {
	node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("help reached the node: %s %s", r.Method, r.URL.Path)
	})
	for _, c := range commands {
		args := append(strings.Fields(c.words()), "-h")
		t.Run(c.words(), func(t *testing.T) {
			r := fsectl(t, node.env(), args...)
			if r.code != 0 || !strings.HasPrefix(r.stderr, "Usage: fsectl") {
				t.Fatalf("want exit 0 and the usage, got %v", r)
			}
			flags := map[string]string{}
			name := ""
			for _, l := range strings.Split(r.stderr, "\n") {
				switch {
				case strings.HasPrefix(l, "  -"):
					name = strings.Fields(l)[0][1:]
					flags[name] = ""
				case name != "" && strings.HasPrefix(l, "    \t"):
					flags[name] += strings.TrimSpace(l)
				default:
					name = ""
				}
			}
			for _, f := range []string{"node", "token", "json"} {
				if _, ok := flags[f]; !ok {
					t.Errorf("the help lacks -%s:\n%s", f, r.stderr)
				}
			}
			for f, text := range flags {
				if text == "" {
					t.Errorf("-%s has no description:\n%s", f, r.stderr)
				}
			}
			if !strings.Contains(flags["node"], `(default "`+node.URL+`")`) {
				t.Errorf("-node does not show its default %s: %q", node.URL, flags["node"])
			}
		})
	}
}
