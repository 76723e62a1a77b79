package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
