package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
)

// snapshotIndexHeader carries the Raft index the snapshot was taken at.
const snapshotIndexHeader = "Fsenet-Snapshot-Index"

func snapshotSaveCmd(ctx context.Context, a *app, args []string) error {
	file := args[0]
	n, index, err := a.client.saveSnapshot(ctx, file, a.opts.force)
	if err != nil {
		return err
	}
	if a.opts.json {
		out, err := json.Marshal(struct {
			File  string `json:"file"`
			Bytes int64  `json:"bytes"`
			Index string `json:"index"`
		}{file, n, index})
		if err != nil {
			return err
		}
		return printJSON(a.stdout, out)
	}
	shown := "index " + index
	if index == "" {
		shown = "an unknown index (the node sent no " + snapshotIndexHeader + " header)"
	}
	fmt.Fprintf(a.stdout, "wrote %d bytes to %s: snapshot at %s\n", n, file, shown)
	return nil
}

// saveSnapshot streams the node's snapshot into file and returns the bytes
// written and the snapshot's index. The data goes to a temporary file in
// file's directory, which is synced and then renamed to file, so file is
// either whole or absent. Without force an existing file is kept and an
// error returned.
func (c *client) saveSnapshot(ctx context.Context, file string, force bool) (n int64, index string, err error) {
	if fi, err := os.Lstat(file); err == nil {
		if fi.IsDir() {
			return 0, "", fmt.Errorf("%s is a directory", file)
		}
		if !force {
			return 0, "", fmt.Errorf("%s already exists (--force overwrites it)", file)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, "", err
	}

	dir, base := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	// Created before asking the node, so that a directory where FILE cannot
	// be written fails before the stream starts. Mode 0600: a snapshot holds
	// health data.
	tmp, err := os.CreateTemp(dir, base+".tmp*")
	if err != nil {
		return 0, "", err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	const path = "/v1/snapshot"
	resp, err := c.do(ctx, c.stream, http.MethodGet, path, "application/octet-stream", "", nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	index = clean(resp.Header.Get(snapshotIndexHeader))

	body := &readTracker{r: resp.Body}
	n, err = io.Copy(tmp, body)
	if body.err != nil {
		why := fmt.Sprintf("the snapshot stream broke after %d bytes (%v)", n, body.err)
		if ctx.Err() != nil {
			why = fmt.Sprintf("interrupted after %d bytes", n)
		}
		return n, "", &requestError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Err: body.err,
			Msg: fmt.Sprintf("%s; %s not written", why, file)}
	}
	if err != nil {
		return n, "", fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, "", &requestError{Method: http.MethodGet, Path: path, Status: resp.StatusCode,
			Msg: fmt.Sprintf("the node announced %d bytes and sent %d; %s not written", resp.ContentLength, n, file)}
	}
	if n == 0 {
		return 0, "", &requestError{Method: http.MethodGet, Path: path, Status: resp.StatusCode,
			Msg: fmt.Sprintf("the node sent an empty snapshot; %s not written", file)}
	}
	if err := tmp.Sync(); err != nil {
		return n, "", fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return n, "", fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := publish(tmp.Name(), file, force); err != nil {
		return n, "", err
	}
	done = true
	if err := syncDir(dir); err != nil {
		return n, "", fmt.Errorf("%s written, but syncing its directory failed: %w", file, err)
	}
	return n, index, nil
}

// publish moves the complete temporary file tmp to file. Without force it
// never replaces a file, even one created while the snapshot streamed: it
// links, which fails on an existing name, where the file system can.
func publish(tmp, file string, force bool) error {
	if !force {
		err := os.Link(tmp, file)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists (--force overwrites it)", file)
		}
		if err == nil {
			os.Remove(tmp) // file is complete; a leftover temporary name is harmless
			return nil
		}
		// No hard links here: check again and rename.
		if _, err := os.Lstat(file); err == nil {
			return fmt.Errorf("%s already exists (--force overwrites it)", file)
		}
	}
	return os.Rename(tmp, file)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readTracker remembers the error of its reader, other than io.EOF, to tell
// a broken stream from a failed write.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// The files of a region backup (node.Backup*File and node.StoreDirs),
// in the order the node streams them: the state, the documents, the
// region's other stores (each there when the node keeps it), the
// manifest.
var backupFiles = []string{"state.snap", "repository.badger", "telemed-monitoring.badger", "telemed-schedule.badger", "manifest.json"}

// backupOptional are the files a backup may lack.
var backupOptional = map[string]bool{"telemed-monitoring.badger": true, "telemed-schedule.badger": true}

const backupFormat = "fsenet-region-backup/2"

// backupManifest is what fsectl reads of a backup's manifest.
type backupManifest struct {
	Format string `json:"format"`
	Region string `json:"region"`
	Index  uint64 `json:"index"`
	Files  map[string]struct {
		SHA256 string `json:"sha256"`
		Bytes  int64  `json:"bytes"`
	} `json:"files"`
	Repository struct {
		Documents int `json:"documents"`
		Contents  int `json:"contents"`
		Outbox    int `json:"outbox"`
	} `json:"repository"`
}

func backupSaveCmd(ctx context.Context, a *app, args []string) error {
	dir := args[0]
	man, err := a.client.saveBackup(ctx, dir, a.opts.force)
	if err != nil {
		return err
	}
	if a.opts.json {
		out, err := json.Marshal(struct {
			Dir      string          `json:"dir"`
			Manifest *backupManifest `json:"manifest"`
		}{dir, man})
		if err != nil {
			return err
		}
		return printJSON(a.stdout, out)
	}
	fmt.Fprintf(a.stdout, "wrote the backup of region %s at index %d to %s: the state (%d bytes) and %d documents, %d contents, %d in the outbox (%d bytes)",
		clean(man.Region), man.Index, dir, man.Files["state.snap"].Bytes, man.Repository.Documents, man.Repository.Contents,
		man.Repository.Outbox, man.Files["repository.badger"].Bytes)
	for _, name := range backupFiles[2 : len(backupFiles)-1] {
		if f, ok := man.Files[name]; ok {
			fmt.Fprintf(a.stdout, ", %s (%d bytes)", name, f.Bytes)
		}
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// saveBackup streams the node's region backup into the directory dir:
// each part into its file in a temporary directory beside dir, checked
// against the manifest the node sends last, synced, then renamed to dir,
// so dir is whole or absent. Without force an existing dir is kept and an
// error returned.
func (c *client) saveBackup(ctx context.Context, dir string, force bool) (*backupManifest, error) {
	if fi, err := os.Lstat(dir); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s exists and is not a directory", dir)
		}
		if !force {
			return nil, fmt.Errorf("%s already exists (--force replaces it)", dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	target := filepath.Clean(dir)
	parent, base := filepath.Split(target)
	if parent == "" {
		parent = "."
	}
	// Mode 0700, files 0600: a backup holds health data.
	tmp, err := os.MkdirTemp(parent, base+".tmp*")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()

	const path = "/v1/backup"
	resp, err := c.do(ctx, c.stream, http.MethodGet, path, "multipart/mixed", "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	fail := func(msg string, err error) error {
		if ctx.Err() != nil {
			msg = "interrupted"
		}
		return &requestError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Err: err,
			Msg: fmt.Sprintf("%s; %s not written", msg, dir)}
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, fail(fmt.Sprintf("the node's answer is not a backup (Content-Type %q)", clean(resp.Header.Get("Content-Type"))), err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	type got struct {
		sha string
		n   int64
	}
	received := map[string]got{}
	var manifestRaw []byte
	next := 0 // the first of backupFiles the next part may be
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail(fmt.Sprintf("the backup stream broke after %d parts", i), err)
		}
		name := part.FileName()
		for next < len(backupFiles) && backupFiles[next] != name && backupOptional[backupFiles[next]] {
			next++
		}
		if next >= len(backupFiles) || name != backupFiles[next] {
			return nil, fail(fmt.Sprintf("unexpected part %q in the backup", clean(name)), nil)
		}
		next++
		f, err := os.OpenFile(filepath.Join(tmp, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		var w io.Writer = io.MultiWriter(f, h)
		var mbuf bytes.Buffer
		if name == "manifest.json" {
			w = io.MultiWriter(w, &mbuf)
		}
		body := &readTracker{r: part}
		n, err := io.Copy(w, body)
		if body.err != nil {
			f.Close()
			return nil, fail(fmt.Sprintf("the backup stream broke in %s after %d bytes (%v)", name, n, body.err), body.err)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", filepath.Join(tmp, name), err)
		}
		received[name] = got{sha: hex.EncodeToString(h.Sum(nil)), n: n}
		manifestRaw = mbuf.Bytes()
	}
	if _, ok := received["manifest.json"]; !ok {
		return nil, fail(fmt.Sprintf("the backup stream ended after %d parts, without its manifest", len(received)), nil)
	}
	var man backupManifest
	if err := json.Unmarshal(manifestRaw, &man); err != nil || man.Format != backupFormat {
		return nil, fail(fmt.Sprintf("the backup's manifest is not a %s manifest", backupFormat), err)
	}
	// Every file received is the manifest's, and every file the manifest
	// names was received.
	for name := range man.Files {
		if _, ok := received[name]; !ok {
			return nil, fail(fmt.Sprintf("the manifest names %q, which the backup stream did not hold", clean(name)), nil)
		}
	}
	for name, r := range received {
		if want := man.Files[name]; name != "manifest.json" && (want.SHA256 != r.sha || want.Bytes != r.n) {
			return nil, fail(fmt.Sprintf("%s: received %d bytes with SHA-256 %s, the manifest says %d bytes, %s", name, r.n, r.sha, want.Bytes, clean(want.SHA256)), nil)
		}
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	if err := publishDir(tmp, target, force); err != nil {
		return nil, err
	}
	done = true
	if err := syncDir(parent); err != nil {
		return nil, fmt.Errorf("%s written, but syncing its directory failed: %w", dir, err)
	}
	return &man, nil
}

// publishDir moves the complete temporary directory tmp to dir. With
// force an existing dir is replaced (it is moved aside, then removed);
// without, an existing dir is an error.
func publishDir(tmp, dir string, force bool) error {
	if _, err := os.Lstat(dir); err == nil {
		if !force {
			return fmt.Errorf("%s already exists (--force replaces it)", dir)
		}
		old := tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return err
		}
		return os.RemoveAll(old)
	}
	return os.Rename(tmp, dir)
}

// backupCheck is the answer of GET /v1/backup/check.
type backupCheck struct {
	Region    string   `json:"region"`
	Index     uint64   `json:"index"`
	Entries   int      `json:"entries"`
	Missing   []string `json:"missing"`
	Unindexed []string `json:"unindexed"`
	Pending   int      `json:"pending"`
}

// errMissingDocuments: the check found index entries without their
// document.
var errMissingDocuments = errors.New("index entries of the region have no document")

func backupCheckCmd(ctx context.Context, a *app, _ []string) error {
	var c backupCheck
	raw, err := a.client.getJSON(ctx, "/v1/backup/check", &c)
	if err != nil {
		return err
	}
	if a.opts.json {
		if err := printJSON(a.stdout, raw); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stdout, "region %s at log index %d: %d index entries, %d without their document, %d documents not in the index, %d in the outbox\n",
			clean(c.Region), c.Index, c.Entries, len(c.Missing), len(c.Unindexed), c.Pending)
		for _, id := range c.Missing {
			fmt.Fprintf(a.stdout, "missing %s\n", clean(id))
		}
		for _, id := range c.Unindexed {
			fmt.Fprintf(a.stdout, "unindexed %s\n", clean(id))
		}
	}
	if len(c.Missing) > 0 {
		return fmt.Errorf("%w: %d of %d (region %s)", errMissingDocuments, len(c.Missing), c.Entries, clean(c.Region))
	}
	return nil
}

const backupSaveSummary = `Save the region's backup into the directory DIR: the replicated state and the
region's document store, taken together so that every index entry of the
region in the state has its document, and manifest.json (region, log index,
the SHA-256 of each file). The parts go to a temporary directory beside DIR,
are checked against the manifest and synced, then renamed: DIR is whole or
absent. An existing DIR is kept unless --force is given. Restore it with
"fsenode restore". Only the region's own operator may take it.`

const backupCheckSummary = `List the index entries of the node's region whose document the region's store
does not hold (after a restore there should be none: documents published after
the backup are listed here, for their producers to send again), and the stored
documents the index does not know. Exit status 1 when an entry misses its
document.`
