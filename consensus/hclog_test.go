package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestHclogAdapterLines checks what Raft's log calls become as JSON
// lines: the logger's name under "subsystem" beside the node's
// component, fmt arguments formatted, servers summarised, durations as
// strings, and the warnings of a normal start or join at info while the
// same messages in other circumstances stay warnings.
func TestHclogAdapterLines(t *testing.T) {
	servers := []raft.Server{
		{ID: "030", Address: "12D3KooWA", Suffrage: raft.Voter},
		{ID: "160", Address: "12D3KooWB", Suffrage: raft.Nonvoter},
	}
	tests := []struct {
		name  string
		log   func(l hclog.Logger)
		level string
		want  map[string]any
	}{
		{"format of servers", func(l hclog.Logger) {
			l.Info("initial configuration", "index", uint64(3), "servers", hclog.Fmt("%+v", servers))
		}, "INFO", map[string]any{"servers": "030 voter 12D3KooWA, 160 nonvoter 12D3KooWB", "index": 3.0}},
		{"no servers", func(l hclog.Logger) {
			l.Info("initial configuration", "index", uint64(0), "servers", hclog.Fmt("%+v", []raft.Server(nil)))
		}, "INFO", map[string]any{"servers": ""}},
		{"a server", func(l hclog.Logger) {
			l.Info("pipelining replication", "peer", servers[1])
		}, "INFO", map[string]any{"peer": "160 12D3KooWB"}},
		{"other format", func(l hclog.Logger) {
			l.Info("snapshot network transfer progress", "read-bytes", 10, "percent-complete", hclog.Fmt("%0.2f%%", 12.5))
		}, "INFO", map[string]any{"percent-complete": "12.50%"}},
		{"duration and spaced key", func(l hclog.Logger) {
			l.Error("failed to heartbeat to", "peer", raft.ServerAddress("12D3KooWB"), "backoff time", 1500*time.Millisecond, "error", errors.New("EOF"))
		}, "ERROR", map[string]any{"backoff-time": "1.5s", "error": "EOF", "peer": "12D3KooWB"}},
		{"named logger and implied args", func(l hclog.Logger) {
			l.Named("snap").With("id", "2-10").Info("snapshot taken")
		}, "INFO", map[string]any{"subsystem": "raft.snap", "id": "2-10"}},
		{"a value without a key", func(l hclog.Logger) {
			l.Info("odd", "key")
		}, "INFO", map[string]any{"extra": "key"}},
		{"first election", func(l hclog.Logger) {
			l.Warn("heartbeat timeout reached, starting election", "last-leader-addr", raft.ServerAddress(""), "last-leader-id", raft.ServerID(""))
		}, "INFO", nil},
		{"election after a leader was lost", func(l hclog.Logger) {
			l.Warn("heartbeat timeout reached, starting election", "last-leader-addr", raft.ServerAddress("12D3KooWA"), "last-leader-id", raft.ServerID("030"))
		}, "WARN", map[string]any{"last-leader-id": "030"}},
		{"joining node without configuration", func(l hclog.Logger) {
			l.Warn("no known peers, aborting election")
		}, "INFO", nil},
		{"follower behind", func(l hclog.Logger) {
			l.Warn("failed to get previous log", "previous-index", uint64(12), "last-index", uint64(0), "error", errors.New("log not found"))
		}, "INFO", nil},
		{"follower missing an entry it should have", func(l hclog.Logger) {
			l.Warn("failed to get previous log", "previous-index", uint64(12), "last-index", uint64(20), "error", errors.New("log not found"))
		}, "WARN", nil},
		{"leader sending older entries", func(l hclog.Logger) {
			l.Warn("appendEntries rejected, sending older logs", "peer", servers[1], "next", uint64(1))
		}, "INFO", map[string]any{"peer": "160 12D3KooWB"}},
		{"a genuine failure, its time not the line's", func(l hclog.Logger) {
			l.Warn("failed to contact", "server-id", raft.ServerID("160"), "time", 3*time.Second)
		}, "WARN", map[string]any{"elapsed": "3s"}},
		{"replication error for a server not joining", func(l hclog.Logger) {
			l.Error("failed to appendEntries to", "peer", servers[1], "error", errors.New("connection failed"))
		}, "ERROR", map[string]any{"peer": "160 12D3KooWB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			base := slog.New(slog.NewJSONHandler(&buf, nil)).With("region", "030", "component", "consensus")
			tt.log(newHclog(base, "raft"))
			line := strings.TrimSpace(buf.String())
			if strings.Count(line, `"component"`) != 1 || strings.Count(line, `"time"`) != 1 || strings.Contains(line, "%+v") {
				t.Fatalf("line %s", line)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatal(err)
			}
			if got["level"] != tt.level {
				t.Fatalf("level %v, want %s: %s", got["level"], tt.level, line)
			}
			want := map[string]any{"subsystem": "raft", "component": "consensus", "region": "030"}
			for k, v := range tt.want {
				want[k] = v
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v: %s", k, got[k], v, line)
				}
			}
			for k, v := range got {
				switch v.(type) {
				case map[string]any, []any:
					t.Errorf("%s is dumped as JSON: %s", k, line)
				}
			}
		})
	}
}

func TestHclogAdapterLevel(t *testing.T) {
	var buf bytes.Buffer
	l := newHclog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "raft")
	l.Debug("not logged below the adapter's level")
	if buf.Len() != 0 {
		t.Fatalf("debug line logged at the default level: %s", buf.String())
	}
	l.SetLevel(hclog.Debug)
	l.Debug("logged")
	if !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Fatalf("debug line not logged after SetLevel: %s", buf.String())
	}
}

// TestHclogJoiningServer checks that the leader's replication errors for
// a server just added as a non-voter (which refuses the leader until it
// has the join's answer) are info until replication to it succeeds, and
// errors again after.
func TestHclogJoiningServer(t *testing.T) {
	var buf bytes.Buffer
	l := newHclog(slog.New(slog.NewJSONHandler(&buf, nil)), "raft")
	joiner := raft.Server{ID: "160", Address: "12D3KooWB", Suffrage: raft.Nonvoter}
	other := raft.Server{ID: "150", Address: "12D3KooWC", Suffrage: raft.Voter}
	failed := errors.New("connection failed")
	steps := []struct {
		log  func()
		want string
	}{
		{func() { l.Error("failed to appendEntries to", "peer", joiner, "error", failed) }, "ERROR"},
		{func() {
			l.Info("updating configuration", "command", raft.AddNonvoter, "server-id", joiner.ID, "server-addr", joiner.Address,
				"servers", hclog.Fmt("%+v", []raft.Server{other, joiner}))
		}, "INFO"},
		{func() { l.Error("failed to appendEntries to", "peer", joiner, "error", failed) }, "INFO"},
		{func() {
			l.Error("failed to heartbeat to", "peer", joiner.Address, "backoff time", 10*time.Millisecond, "error", failed)
		}, "INFO"},
		{func() { l.Error("failed to appendEntries to", "peer", other, "error", failed) }, "ERROR"},
		{func() { l.Info("pipelining replication", "peer", joiner) }, "INFO"},
		{func() {
			l.Error("failed to heartbeat to", "peer", joiner.Address, "backoff time", 10*time.Millisecond, "error", failed)
		}, "ERROR"},
	}
	for i, s := range steps {
		buf.Reset()
		s.log()
		var got struct{ Level string }
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Level != s.want {
			t.Fatalf("step %d: %s, want %s: %s", i, got.Level, s.want, buf.String())
		}
	}
}
