package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// snapshotData is a snapshot's worth of bytes, larger than any buffer on the
// way.
func snapshotData() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 3<<20+17)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// serveSnapshot answers GET /v1/snapshot with data. With chunked it does
// not announce the length. With dieAfter >= 0 it sends that many bytes and
// then breaks the connection.
func serveSnapshot(t *testing.T, data []byte, chunked bool, dieAfter int) *fakeNode {
	return newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/snapshot" {
			writeOutcome(w, http.StatusNotFound, "not-found", "no route")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Fsenet-Snapshot-Index", "118")
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		w.WriteHeader(http.StatusOK)
		body := data
		if dieAfter >= 0 {
			body = data[:dieAfter]
		}
		for len(body) > 0 {
			n := min(len(body), 64<<10)
			w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
		if dieAfter >= 0 {
			panic(http.ErrAbortHandler) // the node dies mid-body
		}
	})
}

// dirNames lists dir, to see that nothing but the wanted file is left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSnapshotSave(t *testing.T) {
	data := snapshotData()
	for _, chunked := range []bool{false, true} {
		t.Run("exact bytes/chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			node := serveSnapshot(t, data, chunked, -1)
			dir := t.TempDir()
			file := filepath.Join(dir, "030.snap")
			r := fsectl(t, node.env(), "snapshot", "save", file)
			if r.code != 0 {
				t.Fatal(r)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("FILE holds %d bytes, not the %d sent", len(got), len(data))
			}
			if want := "wrote " + strconv.Itoa(len(data)) + " bytes to " + file + ": snapshot at index 118\n"; r.stdout != want {
				t.Fatalf("stdout %q, want %q", r.stdout, want)
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Fatalf("left in the directory: %v", names)
			}
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v: a snapshot holds health data", fi.Mode())
			}
		})
	}

	for _, chunked := range []bool{false, true} {
		t.Run("node dies mid-body/chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			node := serveSnapshot(t, data, chunked, 1<<20+5)
			dir := t.TempDir()
			file := filepath.Join(dir, "030.snap")
			r := fsectl(t, node.env(), "snapshot", "save", file)
			if r.code != 1 || !strings.Contains(r.stderr, "fsectl: GET /v1/snapshot: the snapshot stream broke after") ||
				!strings.Contains(r.stderr, file+" not written") {
				t.Fatalf("want exit 1 and a broken stream, got %v", r)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("left in the directory: %v", names)
			}

			c, err := newClient(node.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			_, _, err = c.saveSnapshot(t.Context(), file, false)
			var re *requestError
			if !errors.As(err, &re) || re.Err == nil {
				t.Fatalf("saveSnapshot returned %v, want a *requestError with its cause", err)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("left in the directory: %v", names)
			}
		})
	}

	t.Run("refuses to overwrite", func(t *testing.T) {
		node := serveSnapshot(t, data, false, -1)
		dir := t.TempDir()
		file := filepath.Join(dir, "030.snap")
		os.WriteFile(file, []byte("older snapshot"), 0o600)
		r := fsectl(t, node.env(), "snapshot", "save", file)
		if r.code != 1 || !strings.Contains(r.stderr, file+" already exists (--force overwrites it)") {
			t.Fatalf("want exit 1 and a refusal, got %v", r)
		}
		if got, _ := os.ReadFile(file); string(got) != "older snapshot" {
			t.Fatalf("FILE was changed")
		}
		if n := len(node.requests()); n != 0 {
			t.Fatalf("asked the node %d times for a snapshot it cannot save", n)
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Fatalf("left in the directory: %v", names)
		}

		r = fsectl(t, node.env(), "snapshot", "save", file, "--force")
		if r.code != 0 {
			t.Fatal(r)
		}
		if got, _ := os.ReadFile(file); !bytes.Equal(got, data) {
			t.Fatalf("--force did not overwrite FILE")
		}
	})

	t.Run("file appears while streaming", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "030.snap")
		node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
			os.WriteFile(file, []byte("someone else's"), 0o600)
			w.Write(data[:100])
		})
		r := fsectl(t, node.env(), "snapshot", "save", file)
		if r.code != 1 || !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("want exit 1 and a refusal, got %v", r)
		}
		if got, _ := os.ReadFile(file); string(got) != "someone else's" {
			t.Fatalf("FILE was replaced")
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Fatalf("left in the directory: %v", names)
		}
	})

	failures := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"forbidden", func(w http.ResponseWriter, r *http.Request) {
			writeOutcome(w, http.StatusForbidden, "forbidden", "snapshots are for the region's operators")
		}, "fsectl: GET /v1/snapshot: 403 Forbidden: snapshots are for the region's operators"},
		{"empty body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Fsenet-Snapshot-Index", "118")
		}, "the node sent an empty snapshot"},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := fsectl(t, newFakeNode(t, tt.handler).env(), "snapshot", "save", filepath.Join(dir, "s"))
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want exit 1 and %q, got %v", tt.want, r)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("left in the directory: %v", names)
			}
		})
	}

	t.Run("no index header", func(t *testing.T) {
		node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("snap")) })
		r := fsectl(t, node.env(), "snapshot", "save", filepath.Join(t.TempDir(), "s"))
		if r.code != 0 || !strings.Contains(r.stdout, "wrote 4 bytes") || !strings.Contains(r.stdout, "no Fsenet-Snapshot-Index header") {
			t.Fatal(r)
		}
	})

	t.Run("missing directory", func(t *testing.T) {
		node := serveSnapshot(t, data, false, -1)
		r := fsectl(t, node.env(), "snapshot", "save", filepath.Join(t.TempDir(), "no", "such", "s"))
		if r.code != 1 || !strings.Contains(r.stderr, "fsectl snapshot save: ") {
			t.Fatal(r)
		}
		if n := len(node.requests()); n != 0 {
			t.Fatalf("asked the node %d times for a snapshot it cannot save", n)
		}
	})
}
