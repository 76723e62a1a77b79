package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// backupParts are a backup's files as a node sends them.
type backupParts struct {
	state, repo []byte
	stores      map[string][]byte // the region's other stores, sent by name after the documents
	manifest    map[string]any
	extra       string // a part sent before the manifest that no backup has
}

func backupFile(b []byte) map[string]any {
	h := sha256.Sum256(b)
	return map[string]any{"sha256": hex.EncodeToString(h[:]), "bytes": len(b)}
}

func newBackupParts() backupParts {
	p := backupParts{state: snapshotData(), repo: bytes.Repeat([]byte("document store "), 100_000),
		stores: map[string][]byte{"telemed-schedule.badger": bytes.Repeat([]byte("schedule "), 1000)}}
	files := map[string]any{"state.snap": backupFile(p.state), "repository.badger": backupFile(p.repo)}
	for name, b := range p.stores {
		files[name] = backupFile(b)
	}
	p.manifest = map[string]any{"format": "fsenet-region-backup/2", "region": "150", "index": 42,
		"files": files, "repository": map[string]any{"documents": 200, "contents": 199, "outbox": 1}}
	return p
}

// serveBackup answers GET /v1/backup with parts; cut, when not empty,
// names the part after which the node dies.
func serveBackup(t *testing.T, p backupParts, cut string) *fakeNode {
	return newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/backup" {
			writeOutcome(w, http.StatusNotFound, "not-found", "no route")
			return
		}
		mw := multipart.NewWriter(w)
		w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
		w.WriteHeader(http.StatusOK)
		man, _ := json.Marshal(p.manifest)
		type part struct {
			name string
			b    []byte
		}
		parts := []part{{"state.snap", p.state}, {"repository.badger", p.repo}}
		for _, name := range slices.Sorted(maps.Keys(p.stores)) {
			parts = append(parts, part{name, p.stores[name]})
		}
		if p.extra != "" {
			parts = append(parts, part{p.extra, []byte("x")})
		}
		for _, part := range append(parts, part{"manifest.json", man}) {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `attachment; filename="`+part.name+`"`)
			pw, _ := mw.CreatePart(h)
			pw.Write(part.b)
			w.(http.Flusher).Flush()
			if part.name == cut {
				panic(http.ErrAbortHandler)
			}
		}
		mw.Close()
	})
}

func TestBackupSave(t *testing.T) {
	good := newBackupParts()
	t.Run("whole", func(t *testing.T) {
		node := serveBackup(t, good, "")
		parent := t.TempDir()
		dir := filepath.Join(parent, "150-backup")
		r := fsectl(t, node.env(), "backup", "save", dir)
		if r.code != 0 {
			t.Fatal(r)
		}
		for name, want := range map[string][]byte{"state.snap": good.state, "repository.badger": good.repo, "telemed-schedule.badger": good.stores["telemed-schedule.badger"]} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %d bytes (%v), want the %d sent", name, len(got), err, len(want))
			}
			if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s mode %v: a backup holds health data", name, fi.Mode())
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err != nil || !strings.Contains(string(b), `"region":"150"`) {
			t.Fatalf("manifest %s (%v)", b, err)
		}
		if names := dirNames(t, parent); len(names) != 1 {
			t.Fatalf("left beside the backup: %v", names)
		}
		if !strings.Contains(r.stdout, "wrote the backup of region 150 at index 42 to "+dir) || !strings.Contains(r.stdout, "200 documents") ||
			!strings.Contains(r.stdout, ", telemed-schedule.badger (9000 bytes)\n") {
			t.Fatalf("stdout %q", r.stdout)
		}
		// Again: refused without --force, replaced with it.
		if r := fsectl(t, node.env(), "backup", "save", dir); r.code != 1 || !strings.Contains(r.stderr, "already exists (--force replaces it)") {
			t.Fatalf("second save without --force: %v", r)
		}
		if r := fsectl(t, node.env(), "backup", "save", "--force", dir); r.code != 0 {
			t.Fatalf("save --force: %v", r)
		}
		if names := dirNames(t, parent); len(names) != 1 {
			t.Fatalf("left beside the backup after --force: %v", names)
		}
	})

	corrupt := newBackupParts()
	corrupt.repo = append([]byte(nil), good.repo...)
	corrupt.repo[1000] ^= 1
	corruptStore := newBackupParts()
	corruptStore.stores["telemed-schedule.badger"] = []byte("another schedule")
	unlisted := newBackupParts()
	unlisted.stores["telemed-monitoring.badger"] = []byte("monitoring")
	missing := newBackupParts()
	delete(missing.stores, "telemed-schedule.badger")
	stranger := newBackupParts()
	stranger.extra = "../../etc/passwd"
	older := newBackupParts()
	older.manifest["format"] = "fsenet-region-backup/1"
	for _, tc := range []struct {
		name  string
		parts backupParts
		cut   string
		says  string
	}{
		{"node dies in the documents", good, "repository.badger", "the backup stream"},
		{"node dies before the manifest", good, "state.snap", "the backup stream"},
		{"a part that is not what the manifest says", corrupt, "", "repository.badger: received"},
		{"a store that is not what the manifest says", corruptStore, "", "telemed-schedule.badger: received"},
		{"a store the manifest does not name", unlisted, "", "telemed-monitoring.badger: received"},
		{"a store the manifest names, not sent", missing, "", `the manifest names "telemed-schedule.badger"`},
		{"a part no backup has", stranger, "", `unexpected part "passwd"`},
		{"another format", older, "", "not a fsenet-region-backup/2 manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := serveBackup(t, tc.parts, tc.cut)
			parent := t.TempDir()
			dir := filepath.Join(parent, "150-backup")
			r := fsectl(t, node.env(), "backup", "save", dir)
			if r.code != 1 || !strings.Contains(r.stderr, tc.says) || !strings.Contains(r.stderr, dir+" not written") {
				t.Fatalf("want exit 1 saying %q and %s not written, got %v: %s", tc.says, dir, r, r.stderr)
			}
			if names := dirNames(t, parent); len(names) != 0 {
				t.Fatalf("left behind: %v", names)
			}
		})
	}
}

func TestBackupCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		code int
		says string
	}{
		{"every document there", `{"region":"150","index":9,"entries":200,"missing":[],"unindexed":[],"pending":0}`, 0,
			"region 150 at log index 9: 200 index entries, 0 without their document"},
		{"two missing", `{"region":"150","index":9,"entries":202,"missing":["150^a","150^b"],"unindexed":[],"pending":0}`, 1,
			"missing 150^b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/backup/check" {
					writeOutcome(w, http.StatusNotFound, "not-found", "no route")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tc.body))
			})
			r := fsectl(t, node.env(), "backup", "check")
			if r.code != tc.code || !strings.Contains(r.stdout, tc.says) {
				t.Fatalf("want exit %d saying %q, got %v", tc.code, tc.says, r)
			}
		})
	}
}
