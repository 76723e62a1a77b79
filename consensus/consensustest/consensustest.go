// Package consensustest runs consensus replicas for tests: clusters of
// voters and non-voters on real loopback libp2p hosts with badger in
// temporary directories, with faults (partitions, kills, restarts), the
// one-voter replica the index's tests use, and Eventually, the one way
// tests wait for a condition.
//
// It is imported by tests only; nothing else may depend on it.
package consensustest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// Registrar registers state machines on a replica; the index's and other
// packages' machines satisfy it.
type Registrar interface {
	Register(r interface {
		Register(typ string, h consensus.Handler) error
	}) error
}

// Condition is what Eventually waits on: a func() bool, or a func() error
// that returns nil once the condition holds and otherwise says why not.
type Condition interface {
	func() bool | func() error
}

// Polling starts at minPoll between attempts and slows down to maxPoll, so
// short waits return quickly and long ones do not load the machine.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Eventually calls cond until it holds, and fails the test when timeout
// passes first, saying what it waited for (format and args, as for
// fmt.Sprintf) and, for a func() error condition, its last error. It must
// be called from the test's goroutine.
func Eventually[C Condition](t testing.TB, timeout time.Duration, cond C, format string, args ...any) {
	t.Helper()
	var check func() error
	switch c := any(cond).(type) {
	case func() bool:
		check = func() error {
			if c() {
				return nil
			}
			return errNotYet
		}
	case func() error:
		check = c
	}
	deadline := time.Now().Add(timeout)
	for interval := minPoll; ; interval = min(2*interval, maxPoll) {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			what := fmt.Sprintf(format, args...)
			if errors.Is(err, errNotYet) {
				t.Fatalf("timed out after %v waiting for %s", timeout, what)
			}
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(interval)
	}
}

var errNotYet = errors.New("condition not met")

// Logger discards the replicas' logs, unless FSENET_TEST_LOG is set: then
// they go to standard error.
func Logger() *slog.Logger {
	if os.Getenv("FSENET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
