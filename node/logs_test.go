package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// logCapture keeps the JSON lines of every node of a test federation and
// the records whose attributes hold a time.Duration (which the JSON
// handler writes as an integer of nanoseconds).
type logCapture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	durations []string
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// lines are the JSON lines written so far.
func (c *logCapture) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Split(strings.TrimSpace(c.buf.String()), "\n")
}

func (c *logCapture) durationAttrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.durations...)
}

// logger is a JSON logger at debug level, as `fsenode run` writes them.
func (c *logCapture) logger() *slog.Logger {
	return slog.New(&durationCheck{Handler: slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}), c: c})
}

// durationCheck notes every attribute whose value is a time.Duration.
type durationCheck struct {
	slog.Handler
	c *logCapture
}

func (h *durationCheck) note(msg string, a slog.Attr) {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindDuration:
		h.c.mu.Lock()
		h.c.durations = append(h.c.durations, fmt.Sprintf("%q: %s", msg, a.Key))
		h.c.mu.Unlock()
	case slog.KindGroup:
		for _, g := range v.Group() {
			h.note(msg, g)
		}
	}
}

func (h *durationCheck) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool { h.note(r.Message, a); return true })
	return h.Handler.Handle(ctx, r)
}

func (h *durationCheck) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		h.note("(logger attributes)", a)
	}
	return &durationCheck{Handler: h.Handler.WithAttrs(as), c: h.c}
}

func (h *durationCheck) WithGroup(name string) slog.Handler {
	return &durationCheck{Handler: h.Handler.WithGroup(name), c: h.c}
}

// formatVerb is a fmt verb left in a logged string.
var formatVerb = regexp.MustCompile(`%[-+# 0]*[0-9.*]*[vdsqxXfFgGeEtTpbcoU]`)

// checkLogLine reports what is wrong with one JSON log line: a key twice
// in one object, a value that is an object (a struct dumped), a string
// with a fmt verb left in it.
func checkLogLine(line string) []string {
	var problems []string
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var walk func(path string, depth int) error
	walk = func(path string, depth int) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if depth > 0 {
					problems = append(problems, fmt.Sprintf("%s is an object (a dumped struct)", path))
				}
				seen := map[string]bool{}
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					key := k.(string)
					if seen[key] {
						problems = append(problems, fmt.Sprintf("key %q twice", key))
					}
					seen[key] = true
					if err := walk(key, depth+1); err != nil {
						return err
					}
				}
			case '[':
				for dec.More() {
					if err := walk(path+"[]", depth+1); err != nil {
						return err
					}
				}
			}
			_, err := dec.Token() // the closing delimiter
			return err
		case string:
			if m := formatVerb.FindString(t); m != "" {
				problems = append(problems, fmt.Sprintf("%s holds the format verb %q: %q", path, m, t))
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil && !errors.Is(err, io.EOF) {
		problems = append(problems, "not JSON: "+err.Error())
	}
	return problems
}

func TestCheckLogLine(t *testing.T) {
	tests := []struct {
		name, line string
		bad        bool
	}{
		{"clean", `{"time":"t","level":"INFO","msg":"entering follower state","component":"consensus","subsystem":"raft","after":"1.5s","percent":"12.00%"}`, false},
		{"duplicate key", `{"level":"INFO","msg":"m","component":"consensus","component":"raft"}`, true},
		{"format verb", `{"level":"INFO","msg":"initial configuration","servers":["%+v",null]}`, true},
		{"struct dump", `{"level":"INFO","msg":"pipelining replication","peer":{"Suffrage":0,"ID":"030","Address":"12D3"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkLogLine(tt.line); (len(got) > 0) != tt.bad {
				t.Fatalf("checkLogLine(%s) = %q, want bad %v", tt.line, got, tt.bad)
			}
		})
	}
}

// TestJoinLogsAreClean starts a federation of three voters as the demo
// does, all at once: the two joining regions first, asking a founder that
// is not listening yet, then the founder. It reads every JSON line the
// nodes log until each sees the other two: no key twice in a line, no fmt
// verb left, no struct dumped, no duration as an integer of nanoseconds,
// and no WARN or ERROR, since nothing failed.
func TestJoinLogsAreClean(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	capture := &logCapture{}
	f := newFed(t)
	// The founder's configuration first (it bootstraps), on a port the
	// joiners are told before it listens.
	founder := f.config("030", federation.RoleVoter)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	founder.HTTP.Listen = l.Addr().String()
	l.Close()
	f.nodes["030"] = &Node{} // f.config reads the founder's address from here; replaced below
	configs := []Config{founder}
	for _, code := range []string{"150", "160"} {
		cfg := f.config(code, federation.RoleVoter)
		cfg.P2P.Join = []string{"http://" + founder.HTTP.Listen}
		configs = append(configs, cfg)
	}
	delete(f.nodes, "030")
	for i := range configs {
		// Certificates valid for a year: a short one is rightly warned of.
		f.certifyFor(configs[i].Region, 365*24*time.Hour)
		// Raft's timeouts of a real federation (1 s), not the tests'
		// 300 ms: on a loaded machine a leader then rightly warns that
		// it lost contact with its quorum.
		configs[i].Raft.HeartbeatTimeout, configs[i].Raft.ElectionTimeout = 0, 0
	}
	for _, cfg := range append(configs[1:], configs[0]) {
		n, err := New(cfg, capture.logger())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = n.Start(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		f.nodes[cfg.Region] = n
	}
	consensustest.Eventually(t, 90*time.Second, func() error {
		for code, n := range f.nodes {
			if ok, why := n.Ready(); !ok {
				return fmt.Errorf("%s: %s", code, why)
			}
			s, err := n.cons.Servers()
			if err != nil {
				return err
			}
			st := n.Status()
			if len(s) != 3 || st.LeaderID == "" || st.AppliedIndex < st.CommitIndex {
				return fmt.Errorf("%s: %d servers, leader %q, applied %d of %d", code, len(s), st.LeaderID, st.AppliedIndex, st.CommitIndex)
			}
		}
		return nil
	}, "every region ready and seeing the three voters")

	lines := capture.lines()
	if os.Getenv("FSENET_TEST_LOG") != "" {
		t.Log(strings.Join(lines, "\n"))
	}
	if len(lines) < 20 {
		t.Fatalf("only %d log lines from three nodes joining", len(lines))
	}
	for _, line := range lines {
		var rec struct {
			Level, Msg, Region string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line: %s", line)
			continue
		}
		if rec.Region == "" {
			t.Errorf("a line without the region: %s", line)
		}
		if rec.Level == "WARN" || rec.Level == "ERROR" {
			t.Errorf("%s during a normal join: %s", rec.Level, line)
		}
		for _, p := range checkLogLine(line) {
			t.Errorf("%s: %s", p, line)
		}
	}
	for _, d := range capture.durationAttrs() {
		t.Errorf("a duration logged as nanoseconds: %s", d)
	}
}

// certifyFor replaces a prepared region's certificate with one valid for
// d.
func (f *fed) certifyFor(code string, d time.Duration) {
	f.t.Helper()
	key, err := federation.LoadOrCreateIdentity(filepath.Join(f.dir, code, "node.key"))
	if err != nil {
		f.t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, _, err := federation.IssueCertificate(f.authKey, federation.Certificate{
		Region: code, Name: federation.RegionNames[code], Peer: id, Role: federation.RoleVoter, Expiry: time.Now().Add(d),
		Addrs: []string{f.addrs[code]},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, code, "region.cert"), []byte(tok), 0o600); err != nil {
		f.t.Fatal(err)
	}
}
