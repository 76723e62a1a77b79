package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

var fsenodeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fsenode-bin-")
	if err != nil {
		panic(err)
	}
	fsenodeBin = filepath.Join(dir, "fsenode")
	build := exec.Command("go", "build", "-o", fsenodeBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fsenode:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one real fsenode process.
type proc struct {
	code, dir string
	port      int
	peer      string
	cmd       *exec.Cmd

	mu   sync.Mutex
	last statusLine
	seen map[string]bool
	done chan struct{} // closed once the output is read and the process reaped
	err  error         // the process's exit, valid after done
}

func (p *proc) status() statusLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *proc) start(t *testing.T, all []*proc, bootstrap bool) {
	t.Helper()
	var peers []string
	for _, o := range all {
		if o != p {
			peers = append(peers, fmt.Sprintf("%s=/ip4/127.0.0.1/tcp/%d/p2p/%s", o.code, o.port, o.peer))
		}
	}
	// Everything as flags: the configuration keys double as flags.
	args := []string{"run", "--status-every", "200ms",
		"--region", p.code, "--data_dir", p.dir, "--http.listen", "127.0.0.1:0",
		"--p2p.listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p.port),
		"--p2p.peers", strings.Join(peers, ","),
		fmt.Sprintf("--raft.bootstrap=%t", bootstrap)}
	logf, err := os.OpenFile(filepath.Join(p.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(fsenodeBin, args...)
	p.cmd.Stderr = logf
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.last, p.seen = statusLine{}, map[string]bool{}
	p.mu.Unlock()
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		defer logf.Close()
		// Wait only after the last line was read: it closes the pipe.
		defer func() { p.err = p.cmd.Wait() }()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var s statusLine
			if json.Unmarshal(sc.Bytes(), &s) == nil {
				p.mu.Lock()
				p.last = s
				p.seen[s.Event] = true
				p.mu.Unlock()
			}
		}
	}()
}

func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) terminate(t *testing.T) {
	select {
	case <-p.done:
		return // already gone
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("region %s exited with %v after SIGTERM", p.code, p.err)
		}
	case <-time.After(20 * time.Second):
		p.kill9()
		t.Errorf("region %s did not stop within 20s of SIGTERM", p.code)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProcessesKillAndRestart runs three real fsenode processes on
// loopback, kills the leader with SIGKILL, checks that the other two elect a
// new leader, restarts the killed one from its directory and checks that it
// rejoins with the same state digest as the others.
func TestProcessesKillAndRestart(t *testing.T) {
	base := t.TempDir()
	var procs []*proc
	for _, code := range []string{"030", "150", "160"} {
		p := &proc{code: code, dir: filepath.Join(base, code)}
		key, err := federation.LoadOrCreateIdentity(filepath.Join(p.dir, "node.key"))
		if err != nil {
			t.Fatal(err)
		}
		id, _ := peer.IDFromPrivateKey(key)
		p.peer = id.String()
		if p.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for i, p := range procs {
		p.start(t, procs, i == 0)
	}
	defer func() {
		for _, p := range procs {
			p.terminate(t)
		}
	}()
	waitFor(t, 60*time.Second, "all regions ready", func() bool {
		for _, p := range procs {
			p.mu.Lock()
			ok := p.seen["ready"]
			p.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	leaderOf := func(ps []*proc) *proc {
		for _, p := range ps {
			if s := p.status(); s.State == "Leader" {
				return p
			}
		}
		return nil
	}
	var leader *proc
	waitFor(t, 30*time.Second, "a leader", func() bool { leader = leaderOf(procs); return leader != nil })

	leader.kill9()
	var rest []*proc
	for _, p := range procs {
		if p != leader {
			rest = append(rest, p)
		}
	}
	var next *proc
	waitFor(t, 30*time.Second, "a new leader after SIGKILL", func() bool {
		next = leaderOf(rest)
		return next != nil && next.status().Term > 0
	})
	t.Logf("leader %s killed; %s leads at term %d", leader.code, next.code, next.status().Term)

	leader.start(t, procs, false)
	waitFor(t, 60*time.Second, "the restarted region to rejoin with the same digest", func() bool {
		a, b, c := procs[0].status(), procs[1].status(), procs[2].status()
		return a.Applied > 0 && a.Applied == b.Applied && b.Applied == c.Applied &&
			a.Digest == b.Digest && b.Digest == c.Digest && a.Leader != "" && a.Leader == b.Leader && b.Leader == c.Leader
	})
}

// Bad command lines fail with a clear message and a non-zero exit.
func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data dir", []string{"run", "--region", "030"}, "data_dir"},
		{"bad region", []string{"run", "--region", "999", "--data_dir", t.TempDir()}, "region"},
		{"bad peer", []string{"run", "--region", "030", "--data_dir", t.TempDir(), "--p2p.peers", "nonsense"}, "p2p.peers"},
		{"bad address", []string{"run", "--region", "030", "--data_dir", t.TempDir(), "--p2p.listen", "localhost:4001"}, "p2p.listen"},
		{"missing config file", []string{"run", "--config", "/nonexistent/region.toml"}, "region.toml"},
		{"unknown flag", []string{"run", "--regoin", "030"}, "regoin"},
		{"bad demo regions", []string{"demo", "--regions", "030,030"}, "twice"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(fsenodeBin, tt.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0 for %v; output:\n%s", tt.args, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("message does not name %q:\n%s", tt.want, out)
			}
		})
	}
}

// The demo starts a federation of separate processes, says when it is
// ready, and stops every region on Ctrl-C.
func TestDemoStartsAndStops(t *testing.T) {
	cmd := exec.Command(fsenodeBin, "demo", "--dir", t.TempDir(), "--regions", "030,150,160")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var transcript []string
	deadline := time.After(90 * time.Second)
	ready, readyRegions := false, 0
	for !ready {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%v", transcript)
			}
			transcript = append(transcript, l)
			if strings.Contains(l, " ready at http://127.0.0.1:") {
				readyRegions++
			}
			ready = strings.Contains(l, "federation ready")
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("demo not ready in 90s:\n%v", transcript)
		}
	}
	if readyRegions != 3 {
		t.Fatalf("%d regions said ready before the federation did", readyRegions)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	stopped := 0
	for l := range lines {
		transcript = append(transcript, l)
		if strings.HasSuffix(l, "stopped") {
			stopped++
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v\n%v", err, transcript)
	}
	if stopped != 3 {
		t.Fatalf("%d regions reported stopping, want 3:\n%v", stopped, transcript)
	}
}
