package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hangInShutdown stands for a part of a node that does not stop.
//
//go:noinline
func hangInShutdown(release <-chan struct{}) error {
	<-release
	return nil
}

// A stop that ends in time gives its own result; one that does not is
// abandoned at the bound with an error naming where it is stuck.
func TestStopWithin(t *testing.T) {
	errPart := errors.New("http: requests cut off")
	t.Run("stops in time", func(t *testing.T) {
		err := stopWithin(time.Minute, func(context.Context) error { return errPart })
		if !errors.Is(err, errPart) || errors.Is(err, errStopTimeout) {
			t.Fatalf("got %v, want the stop's own error", err)
		}
	})
	t.Run("gives up when its context ends", func(t *testing.T) {
		err := stopWithin(time.Minute/1000, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errStopTimeout) {
			t.Fatalf("got %v, want the context's end, within the bound", err)
		}
	})
	t.Run("does not stop", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		err := stopWithin(50*time.Millisecond, func(context.Context) error { return hangInShutdown(release) })
		if !errors.Is(err, errStopTimeout) || !strings.Contains(err.Error(), "main.hangInShutdown") {
			t.Fatalf("got %v, want errStopTimeout naming main.hangInShutdown", err)
		}
	})
}

// A directory's lock is held by one process at a time; the refusal
// names the holder by its PID and command line.
func TestLockDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	release, err := lockDir(dir, "data directory")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process
	// conflicts as another process's would.
	_, err = lockDir(dir, "data directory")
	want := "data directory " + dir + " is in use by process " + strconv.Itoa(os.Getpid()) + " ("
	if !errors.Is(err, errDirInUse) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), filepath.Base(os.Args[0])) {
		t.Fatalf("second lock: %v; want %q and this program's command line", err, want)
	}
	release()
	again, err := lockDir(dir, "data directory")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
