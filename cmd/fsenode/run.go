package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
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

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	configPath := fs.String("config", "", "TOML configuration file (optional: FSENET_* variables and flags can give everything)")
	statusEvery := fs.Duration("status-every", 0, "also print a status line this often (0: only when the Raft state changes)")
	var cfg node.Config
	applyFlags := node.RegisterFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: fsenode run [--config FILE] [--KEY VALUE]...\n\nEvery configuration key can be given as a flag, e.g. --region 030 --data_dir /var/lib/fsenet --p2p.listen /ip4/0.0.0.0/tcp/4001.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
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
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			log.Error("shutdown", "error", err)
		}
		emit(statusLine{Event: "stopped", Region: cfg.Region})
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
