package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/fsenet/fsenet/node"
)

// statusLine is what run prints on standard output, one JSON object per
// line, so that a supervisor (the demo, tests) can follow the node.
type statusLine struct {
	Event   string `json:"event"` // "ready", "status", "stopped"
	Region  string `json:"region"`
	Peer    string `json:"peer,omitempty"`
	URL     string `json:"url,omitempty"`
	State   string `json:"state,omitempty"`
	Leader  string `json:"leader,omitempty"`
	Term    uint64 `json:"term,omitempty"`
	Applied uint64 `json:"applied,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// defaultShutdownTimeout bounds a node's stop after SIGTERM: its leader
// hands over leadership, requests in flight finish, the stores close.
const defaultShutdownTimeout = 15 * time.Second

func runCmd(ctx context.Context, args []string) (err error) {
	cl := newCmdLine("run", "[--config FILE] [--KEY VALUE]...", `
Runs one region's node. Every configuration key can also be given as a flag,
e.g. --region 030 --data_dir /var/lib/fsenet --p2p.listen /ip4/0.0.0.0/tcp/4001
(the file, then the FSENET_* environment, then flags, each overriding the one
before). SIGTERM, SIGINT or SIGHUP stops the node: it logs "stopping" and
exits within --shutdown-timeout, with status 1 and what did not stop when it
could not stop in time; a second signal ends it at once.`)
	fs := cl.fs
	configPath := fs.String("config", "", "TOML configuration file (optional: FSENET_* variables and flags can give everything)")
	statusEvery := fs.Duration("status-every", 0, "also print a status line this often (0: only when the Raft state changes)")
	shutdownTimeout := fs.Duration("shutdown-timeout", defaultShutdownTimeout, "after a stop signal, exit within this time (status 1 if the node has not stopped by then)")
	var cfg node.Config
	applyFlags := registerConfigFlags(fs, &cfg)
	if _, err := cl.parse(args); err != nil {
		return err
	}
	if *shutdownTimeout <= 0 {
		return usagef("run", "--shutdown-timeout %v: want a positive duration", *shutdownTimeout)
	}
	if err := loadConfig(*configPath, &cfg, applyFlags); err != nil {
		return err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	n, err := node.New(cfg, log)
	if err != nil {
		return err
	}
	// Before anything opens the data directory: a second node on it would
	// write the same Raft log and state database.
	release, err := lockDir(cfg.DataDir, "data directory")
	if err != nil {
		return err
	}
	defer release()
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			err = stopNode(ctx, log.With("region", cfg.Region), n, *shutdownTimeout)
		}
		if err == nil {
			emit(statusLine{Event: "stopped", Region: cfg.Region})
		}
	}()

	url := "http://" + n.HTTPAddr()
	for {
		if ok, _ := n.Ready(); ok {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	line := func(event string) statusLine {
		st := n.Status()
		return statusLine{Event: event, Region: cfg.Region, Peer: n.PeerID().String(), URL: url, State: st.State,
			Leader: st.LeaderID, Term: st.Term, Applied: st.AppliedIndex, Digest: fmt.Sprintf("%x", st.Digest[:8])}
	}
	emit(line("ready"))
	last := n.Status()
	lastPrint := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			st := n.Status()
			changed := st.State != last.State || st.LeaderID != last.LeaderID || st.Term != last.Term
			if changed || (*statusEvery > 0 && time.Since(lastPrint) >= *statusEvery) {
				emit(line("status"))
				last, lastPrint = st, time.Now()
			}
		}
	}
}

// errStopTimeout is returned when the node did not stop within its
// shutdown timeout.
var errStopTimeout = errors.New("did not stop in time")

// stopNode stops the node within timeout, saying so in the log first.
func stopNode(ctx context.Context, log *slog.Logger, n *node.Node, timeout time.Duration) error {
	if sig := stopSignal(ctx); sig != nil {
		log.Info("stopping", "signal", sig.String(), "timeout", timeout.String())
	} else {
		log.Info("stopping", "timeout", timeout.String())
	}
	started := time.Now()
	err := stopWithin(timeout, n.Shutdown)
	switch {
	case errors.Is(err, errStopTimeout):
		log.Error("not stopped", "timeout", timeout.String(), "error", err)
		return err
	case err != nil:
		// Stopped, with a part that did not stop cleanly: the log says
		// which; the exit is still clean.
		log.Error("shutdown", "error", err)
	}
	log.Info("stopped", "took", time.Since(started).Round(time.Millisecond).String())
	return nil
}

// stopWithin runs stop with a context that ends a little before timeout,
// so that stop's parts give up in time, and waits for it until timeout.
// When stop has not returned by then, the error is errStopTimeout and
// names the functions stop is still in.
func stopWithin(timeout time.Duration, stop func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout*4/5)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stop(ctx) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("%w: not stopped within %v, still in %s", errStopTimeout, timeout, stuckIn())
	}
}

// stuckIn names the functions of this program, innermost first, in the
// stack of the goroutine stopWithin started: where the stop is blocked.
func stuckIn() string {
	// This package is "main" in the program and its import path in tests.
	self := runtime.FuncForPC(reflect.ValueOf(stopWithin).Pointer()).Name()
	pkg := strings.TrimSuffix(self, "stopWithin")
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "\ncreated by "+self+" ") {
			continue
		}
		var frames []string
		for _, l := range strings.Split(g, "\n") {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "goroutine ") || strings.HasPrefix(l, "created by ") {
				continue
			}
			fn := l
			if i := strings.LastIndex(fn, "("); i > 0 {
				fn = fn[:i] // the arguments
			}
			switch {
			case strings.HasPrefix(fn, self):
				// stopWithin's own goroutine function
			case strings.HasPrefix(fn, pkg):
				frames = append(frames, "main."+strings.TrimPrefix(fn, pkg))
			case strings.HasPrefix(fn, "github.com/fsenet/fsenet/"):
				frames = append(frames, strings.TrimPrefix(fn, "github.com/fsenet/fsenet/"))
			}
		}
		if len(frames) > 0 {
			return strings.Join(frames, " <- ")
		}
	}
	return "an unknown function"
}

func emit(s statusLine) {
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}

// loadConfig fills cfg from the file, the environment and then the flags
// already parsed (applyFlags from node.RegisterFlags).
func loadConfig(path string, cfg *node.Config, applyFlags func() error) error {
	loaded, err := node.Load(path)
	if err != nil {
		return err
	}
	*cfg = loaded
	return applyFlags()
}
