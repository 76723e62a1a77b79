package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
)

var fsenodeBin, fsectlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fsenode-bin-")
	if err != nil {
		panic(err)
	}
	fsenodeBin = filepath.Join(dir, "fsenode")
	fsectlBin = filepath.Join(dir, "fsectl")
	for bin, pkg := range map[string]string{fsenodeBin: ".", fsectlBin: "../fsectl"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one real fsenode process.
type proc struct {
	code, dir string
	port      int // libp2p
	httpPort  int
	peer      string

	cmd *exec.Cmd

	mu   sync.Mutex
	last statusLine
	seen map[string]bool
	done chan struct{} // closed once the output is read and the process reaped
	err  error         // the process's exit, valid after done

	tailed bool // its log's tail is shown when the test fails
}

func (p *proc) status() statusLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *proc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.httpPort) }

func (p *proc) ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen["ready"]
}

// start runs "fsenode run" on the region's configuration written by
// "fsenode init", with the test's ports and quick snapshots as flags.
func (p *proc) start(t testing.TB, extra ...string) {
	t.Helper()
	args := append([]string{"run", "--config", filepath.Join(p.dir, "region.toml"), "--status-every", "200ms",
		"--http.listen", fmt.Sprintf("127.0.0.1:%d", p.httpPort),
		"--p2p.listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p.port),
		"--raft.snapshot_interval", "1s", "--raft.snapshot_threshold", "8", "--raft.trailing_logs", "2"}, extra...)
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
	if !p.tailed {
		// A failed test shows what each of its regions last logged.
		p.tailed = true
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("region %s's log: its last warnings and errors, then its end:\n%s", p.code, logDigest(filepath.Join(p.dir, "node.log")))
			}
		})
	}
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

func (p *proc) terminate(t testing.TB) {
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
		// Its stacks, for whoever reads the failure: SIGQUIT makes the Go
		// runtime write them to its log before it exits.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.kill9()
		}
		t.Errorf("region %s did not stop within 20s of SIGTERM; the end of its log:\n%s", p.code, logTail(filepath.Join(p.dir, "node.log"), 12000))
	}
}

// readyTimeout bounds every wait for a process to say it is ready: the
// demo's own limit for its federation (demo.go), generous enough for a
// loaded 2-core machine.
const readyTimeout = 90 * time.Second

// logTail is the last n bytes of a log file.
func logTail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, int64(len(b))-n):])
}

// logDigest is what a failed test shows of a region's log: its last 30
// lines at WARN or ERROR, then its last 3,000 bytes.
func logDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var bad []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
			bad = append(bad, l)
		}
	}
	bad = bad[max(0, len(bad)-30):]
	return strings.Join(bad, "\n") + "\n…\n" + string(b[max(0, len(b)-3000):])
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	consensustest.Eventually(t, timeout, cond, "%s", what)
}

// allReady is a condition for waiting until every process has said it is
// ready; while one has not, it says why, as the process's /readyz does.
func allReady(ps ...*proc) func() error {
	return func() error {
		var waiting []string
		for _, p := range ps {
			if !p.ready() {
				_, _, why := p.readiness()
				waiting = append(waiting, p.code+": "+why)
			}
		}
		if len(waiting) > 0 {
			return errors.New(strings.Join(waiting, "; "))
		}
		return nil
	}
}

// logSize is the length of the process's node.log now, to read what it
// logs later with loggedSince.
func (p *proc) logSize() int64 {
	fi, err := os.Stat(filepath.Join(p.dir, "node.log"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// loggedSince returns what the process logged after offset bytes.
func (p *proc) loggedSince(offset int64) string {
	b, err := os.ReadFile(filepath.Join(p.dir, "node.log"))
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

// readiness asks the process's /readyz: whether it answers at all, and
// what it says.
func (p *proc) readiness() (answered, ready bool, reason string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(p.url() + "/readyz")
	if err != nil {
		return false, false, err.Error()
	}
	defer resp.Body.Close()
	var r struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return false, false, err.Error()
	}
	return true, r.Ready, r.Reason
}

// authority is the national authority's side of a test federation: its
// key directory and the regions it certified, all made with the real
// commands.
type authority struct {
	t   testing.TB
	dir string
}

func newAuthority(t testing.TB, base string) *authority {
	a := &authority{t: t, dir: filepath.Join(base, "authority")}
	run(t, "authority", "init", "--dir", a.dir)
	return a
}

func (a *authority) key() string { return filepath.Join(a.dir, "authority.key") }

// region makes a region's directory with "fsenode init", has the authority
// certify its peer ID, and hands it the authority's public key.
func (a *authority) region(base, code, role string) *proc {
	t := a.t
	t.Helper()
	p := &proc{code: code, dir: filepath.Join(base, code)}
	out := run(t, "init", "--dir", p.dir, "--region", code)
	m := regexp.MustCompile(`peer ID (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no peer ID:\n%s", out)
	}
	p.peer = m[1]
	var err error
	if p.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if p.httpPort, err = freePort(); err != nil {
		t.Fatal(err)
	}
	run(t, "authority", "certify", "--key", a.key(), "--region", code, "--peer", p.peer, "--role", role,
		"--addrs", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", p.port), "--out", filepath.Join(p.dir, "region.cert"))
	b, err := os.ReadFile(filepath.Join(a.dir, "authority.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "authority.pub"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (a *authority) token() string {
	return strings.TrimSpace(run(a.t, "token", "--authority-key", a.key(), "--sub", "BNCLCU75A01H501Z", "--role", "MDS", "--purpose", "SYSADMIN"))
}

// ctl runs fsectl against a node; it returns the output and the exit code.
func ctl(t testing.TB, node, token string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(fsectlBin, append([]string{"--node", node, "--token", token}, args...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func clusterOf(t testing.TB, p *proc, token string) (clusterView, error) {
	var cv clusterView
	out, code := ctl(t, p.url(), token, "--json", "cluster", "status")
	if code != 0 {
		return cv, fmt.Errorf("fsectl cluster status at %s: exit %d: %s", p.code, code, out)
	}
	if err := json.Unmarshal([]byte(out), &cv); err != nil {
		return cv, fmt.Errorf("cluster status: %v: %s", err, out)
	}
	return cv, nil
}

type clusterView struct {
	Leader  string `json:"leader"`
	Agree   bool   `json:"agree"`
	Regions []struct {
		Code string `json:"code"`
		Role string `json:"role"`
		Raft string `json:"raft"`
	} `json:"regions"`
}

func (c clusterView) raft() map[string]string {
	out := map[string]string{}
	for _, r := range c.Regions {
		out[r.Code] = r.Raft
	}
	return out
}

func metric(t testing.TB, p *proc, name string) string {
	t.Helper()
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			return l[strings.LastIndex(l, " ")+1:]
		}
	}
	return ""
}

// TestProcessFederation follows the operator's guide with real processes
// on loopback: an authority and three founding regions; the leader killed
// with SIGKILL while a fourth region joins as a non-voter and catches up
// by snapshot; the killed region restarted and caught up, every replica's
// digest equal; a region revoked, cut off and unable to come back; a
// snapshot saved and restored into a new data directory.
func TestProcessFederation(t *testing.T) {
	base := t.TempDir()
	a := newAuthority(t, base)
	lom := a.region(base, "030", "voter")
	cam := a.region(base, "150", "voter")
	pug := a.region(base, "160", "voter")
	procs := []*proc{lom, cam, pug}
	defer func() {
		for _, p := range procs {
			p.terminate(t)
		}
	}()
	lom.start(t, "--raft.bootstrap=true")
	cam.start(t, "--p2p.join", lom.url())
	pug.start(t, "--p2p.join", lom.url())
	consensustest.Eventually(t, readyTimeout, allReady(lom, cam, pug), "three regions ready")
	auth := a.token()
	waitFor(t, 30*time.Second, "three voters", func() bool {
		cv, err := clusterOf(t, lom, auth)
		return err == nil && fmt.Sprint(cv.raft()) == "map[030:voter 150:voter 160:voter]"
	})
	if out, code := ctl(t, cam.url(), auth, "cluster", "digest"); code != 0 {
		t.Fatalf("cluster digest: exit %d\n%s", code, out)
	}

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
	waitFor(t, 30*time.Second, "a new leader after SIGKILL", func() bool { next = leaderOf(rest); return next != nil })
	t.Logf("leader %s killed; %s leads at term %d", leader.code, next.code, next.status().Term)

	// Writes go on: a fourth region joins through the survivors, as a
	// non-voter, and catches up from a snapshot (the log was compacted).
	sic := a.region(base, "190", "nonvoter")
	procs = append(procs, sic)
	sic.start(t, "--p2p.join", rest[0].url()+","+rest[1].url())
	waitFor(t, readyTimeout, "Sicilia ready", sic.ready)
	if v := metric(t, sic, "fsenet_raft_snapshot_restores"); v == "" || v == "0" {
		t.Fatalf("Sicilia caught up without a snapshot (restores %q)", v)
	}

	// The killed region comes back and catches up; all four agree.
	leader.start(t)
	waitFor(t, readyTimeout, "four replicas with the same digest", func() bool {
		if !leader.ready() {
			return false
		}
		_, code := ctl(t, next.url(), auth, "cluster", "digest")
		return code == 0
	})
	cv, err := clusterOf(t, next, auth)
	if err != nil || cv.raft()["190"] != "nonvoter" || len(cv.Regions) != 4 {
		t.Fatalf("after catch-up: %+v %v", cv, err)
	}

	// Revoke a voter that is neither the leader nor the node we ask.
	var victim, asked *proc
	for _, p := range []*proc{lom, cam, pug} {
		if p.status().State != "Leader" && victim == nil {
			victim = p
		}
	}
	for _, p := range []*proc{lom, cam, pug} {
		if p != victim {
			asked = p
		}
	}
	revFile := filepath.Join(base, "revocation.jwt")
	run(t, "authority", "revoke", "--key", a.key(), "--region", victim.code, "--peer", victim.peer, "--reason", "test: compromised key", "--out", revFile)
	if out, code := ctl(t, asked.url(), auth, "region", "revoke", revFile); code != 0 {
		t.Fatalf("region revoke: exit %d\n%s", code, out)
	}
	waitFor(t, 30*time.Second, "the revoked region out of Raft and membership", func() bool {
		cv, err := clusterOf(t, asked, auth)
		if err != nil {
			return false
		}
		_, there := cv.raft()[victim.code]
		return !there && len(cv.Regions) == 3
	})
	// It cannot come back: restarted, it never rejoins. Nor is a node
	// certified by another authority admitted.
	victim.kill9()
	var members []*proc
	marks := map[*proc]int64{}
	for _, p := range procs {
		if p != victim {
			members = append(members, p)
			marks[p] = p.logSize()
		}
	}
	victim.start(t)
	restarted := time.Now()
	otherBase := filepath.Join(base, "other")
	stranger := newAuthority(t, otherBase).region(otherBase, "200", "voter")
	procs = append(procs, stranger)
	stranger.start(t, "--p2p.join", asked.url())
	// Before saying what did not happen, wait for what must have: the
	// revoked region is up and has tried to reach the members, and every
	// one turned it away; the stranger asked to join and was refused.
	turnedAway := func() bool {
		for _, p := range members {
			refused := false
			for _, l := range strings.Split(p.loggedSince(marks[p]), "\n") {
				refused = refused || strings.Contains(l, "refused connection") && strings.Contains(l, victim.peer)
			}
			if !refused {
				return false
			}
		}
		return true
	}
	waitFor(t, readyTimeout, "the revoked region up and turned away by every member", func() bool {
		answered, _, _ := victim.readiness()
		return answered && turnedAway()
	})
	waitFor(t, readyTimeout, "the stranger's join refused", func() bool {
		b, _ := os.ReadFile(filepath.Join(stranger.dir, "node.log"))
		return strings.Contains(string(b), "refused")
	})
	_, ready, why := victim.readiness()
	if ready || victim.ready() {
		t.Fatalf("the revoked region became ready again (%s)", why)
	}
	t.Logf("%v after its restart, the revoked region is turned away and not ready (%s)", time.Since(restarted).Round(time.Millisecond), why)
	if stranger.ready() {
		t.Fatal("a node certified by another authority became ready")
	}
	if cv, err := clusterOf(t, asked, auth); err != nil || cv.raft()["200"] != "" || len(cv.Regions) != 3 {
		t.Fatalf("after the stranger's attempt: %+v %v", cv, err)
	}
	if b, err := os.ReadFile(filepath.Join(stranger.dir, "node.log")); err != nil || !strings.Contains(string(b), "refused") {
		t.Fatalf("the stranger's log does not say it was refused: %v", err)
	}
	if s := victim.status(); s.Leader != "" && s.Leader != victim.code {
		t.Fatalf("the revoked region follows leader %s", s.Leader)
	}
	if out, code := ctl(t, asked.url(), auth, "cluster", "digest"); code != 0 {
		t.Fatalf("remaining regions disagree: exit %d\n%s", code, out)
	}

	// Backup, and restore into an empty data directory.
	snap := filepath.Join(base, "backup.snap")
	out, code := ctl(t, asked.url(), auth, "snapshot", "save", snap)
	if code != 0 {
		t.Fatalf("snapshot save: exit %d\n%s", code, out)
	}
	for _, p := range procs {
		p.terminate(t)
	}
	restored := filepath.Join(base, "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"node.key", "region.cert", "authority.pub", "idp.jwks", "idp.key"} {
		b, err := os.ReadFile(filepath.Join(asked.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out = run(t, "restore", "--config", filepath.Join(asked.dir, "region.toml"), "--data_dir", restored, snap)
	if !strings.Contains(out, "restored the state at log index") {
		t.Fatalf("restore said:\n%s", out)
	}
	if o, err := exec.Command(fsenodeBin, "restore", "--config", filepath.Join(asked.dir, "region.toml"), "--data_dir", restored, snap).CombinedOutput(); err == nil {
		t.Fatalf("restore into a non-empty directory succeeded:\n%s", o)
	}
	again := &proc{code: asked.code, dir: asked.dir, peer: asked.peer}
	if again.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if again.httpPort, err = freePort(); err != nil {
		t.Fatal(err)
	}
	procs = []*proc{again}
	again.start(t, "--data_dir", restored)
	waitFor(t, readyTimeout, "the restored node ready", again.ready)
	cv, err = clusterOf(t, again, auth)
	if err != nil || len(cv.Regions) != 3 || cv.Leader != asked.code {
		t.Fatalf("restored federation: %+v %v", cv, err)
	}
}

// Configuration errors stop the node before anything starts, with a
// message naming the key.
func TestRunRefusesBadConfig(t *testing.T) {
	base := t.TempDir()
	a := newAuthority(t, base)
	good := a.region(base, "030", "voter")
	other := newAuthority(t, filepath.Join(base, "other"))
	foreign := other.region(filepath.Join(base, "other"), "030", "voter")
	writeConf := func(name, text string) string {
		p := filepath.Join(base, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := writeConf("typo.toml", "region = \"030\"\n[http]\nlisten_addr = \"127.0.0.1:1\"\n")
	conf := filepath.Join(good.dir, "region.toml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data dir", []string{"run", "--region", "030"}, "data_dir"},
		{"bad region", []string{"run", "--config", conf, "--region", "999"}, "region"},
		{"bad peer", []string{"run", "--config", conf, "--p2p.peers", "nonsense"}, "p2p.peers"},
		{"bad address", []string{"run", "--config", conf, "--p2p.listen", "localhost:4001"}, "p2p.listen"},
		{"bad join URL", []string{"run", "--config", conf, "--p2p.join", "lombardia:8080"}, "p2p.join"},
		{"unknown field", []string{"run", "--config", typo}, "listen_addr"},
		{"missing config file", []string{"run", "--config", "/nonexistent/region.toml"}, "region.toml"},
		{"missing node key", []string{"run", "--config", conf, "--p2p.key_file", "absent.key"}, "p2p.key_file"},
		{"missing authority key", []string{"run", "--config", conf, "--authority.public_key_file", "absent.pub"}, "authority.public_key_file"},
		{"certificate of another authority", []string{"run", "--config", conf, "--authority.certificate_file", filepath.Join(foreign.dir, "region.cert")}, "certificate_file"},
		{"certificate for another peer", []string{"run", "--config", conf, "--p2p.key_file", filepath.Join(foreign.dir, "node.key")}, "certificate_file"},
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
			if _, err := os.Stat(filepath.Join(good.dir, "consensus")); err == nil {
				t.Fatal("a refused start created the replica's state")
			}
		})
	}
}

// The demo starts a federation of separate processes, says when it is
// ready, and stops every region on Ctrl-C.
func TestDemoStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	started := time.Now()
	cmd := exec.Command(fsenodeBin, "demo", "--dir", dir, "--regions", "030,150,160")
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
	deadline := time.After(readyTimeout)
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
			t.Fatalf("demo not ready in %v:\n%v", readyTimeout, transcript)
		}
	}
	if readyRegions != 3 {
		t.Fatalf("%d regions said ready before the federation did", readyRegions)
	}
	t.Logf("demo ready in %v", time.Since(started).Round(time.Millisecond))
	// demo.env has what a user needs to call the regions at once.
	env := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "demo.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok && strings.HasPrefix(l, "export ") {
			env[k] = v
		}
	}
	get := func(url, tok string) int {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, code := range []string{"030", "150", "160"} {
		url, tok := env["FSENET_"+code+"_URL"], env["FSENET_"+code+"_TOKEN"]
		if url == "" || tok == "" {
			t.Fatalf("demo.env lacks region %s:\n%s", code, b)
		}
		if c := get(url+"/v1/cluster", env["FSENET_AUTHORITY_TOKEN"]); c != http.StatusOK {
			t.Fatalf("authority token at %s: %d", code, c)
		}
		// A clinician's token is verified at another region (not 401:
		// its IdP keys replicated) but grants no cluster view.
		waitFor(t, 5*time.Second, "region "+code+"'s keys at 030", func() bool {
			return get(env["FSENET_030_URL"]+"/v1/cluster", tok) == http.StatusForbidden
		})
	}
	// The demo publishes synthetic documents through each region's gateway
	// and prints a search another region's clinician can run.
	cf := ""
	for cf == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%v", transcript)
			}
			transcript = append(transcript, l)
			if m := regexp.MustCompile(`patient=Patient/CF-([A-Z0-9]{16})`).FindStringSubmatch(l); m != nil {
				cf = m[1]
			}
			if strings.Contains(l, "Press Ctrl-C") {
				t.Fatalf("no search printed:\n%v", transcript)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the demo's documents not loaded in 60s:\n%v", transcript)
		}
	}
	req, _ := http.NewRequest("GET", env["FSENET_160_URL"]+"/fhir/DocumentReference?patient=Patient/CF-"+cf, nil)
	req.Header.Set("Authorization", "Bearer "+env["FSENET_160_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var bundle struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(body, &bundle); err != nil || resp.StatusCode != http.StatusOK || bundle.Total != 3 {
		t.Fatalf("Puglia's clinician searching Lombardia's demo patient: %d, %s", resp.StatusCode, body)
	}
	// Then the migrant scenario, until the demo waits for Ctrl-C.
	for waiting := false; !waiting; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%v", strings.Join(transcript, "\n"))
			}
			transcript = append(transcript, l)
			waiting = strings.Contains(l, "Press Ctrl-C")
		case <-time.After(60 * time.Second):
			t.Fatalf("the demo did not finish loading in 60s:\n%v", strings.Join(transcript, "\n"))
		}
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
	// The migrant scenario ran: Puglia's clinician read the history kept
	// by Lombardia and Campania.
	if !strings.Contains(strings.Join(transcript, "\n"), "reads her history: 3 documents from 030 and 150") {
		t.Fatalf("the migrant scenario did not end with the history:\n%s", strings.Join(transcript, "\n"))
	}
	// Then telemedicine: Puglia's clinician booked her a Lombardia televisit.
	if !strings.Contains(strings.Join(transcript, "\n"), "the 160 clinician books her televisit with 030") ||
		!strings.Contains(strings.Join(transcript, "\n"), "video-session token") {
		t.Fatalf("the telemedicine scenario did not run:\n%s", strings.Join(transcript, "\n"))
	}
}

// A file that is not a whole snapshot is refused, and the data directory
// holds no replica afterwards.
func TestRestoreRefusesGarbage(t *testing.T) {
	base := t.TempDir()
	a := newAuthority(t, base)
	r := a.region(base, "030", "voter")
	for name, content := range map[string]string{"empty": "", "text": "not a snapshot", "zstd magic only": "\x28\xb5\x2f\xfd"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(base, "bad.snap")
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(fsenodeBin, "restore", "--config", filepath.Join(r.dir, "region.toml"), f).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "snapshot") {
				t.Fatalf("restore of %s: %v\n%s", name, err, out)
			}
			for _, sub := range []string{"wal", "state", "snapshots"} {
				if _, err := os.Stat(filepath.Join(r.dir, "consensus", sub)); err == nil {
					t.Fatalf("a refused restore left %s behind", sub)
				}
			}
		})
	}
}

// A restore into a data directory a running node holds is refused,
// naming the process, and touches nothing.
func TestRestoreRefusesADataDirectoryInUse(t *testing.T) {
	base := t.TempDir()
	a := newAuthority(t, base)
	r := a.region(base, "030", "voter")
	release, err := lockDir(r.dir, "data directory") // as fsenode run holds it
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	f := filepath.Join(base, "some.snap")
	if err := os.WriteFile(f, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fsenodeBin, "restore", "--config", filepath.Join(r.dir, "region.toml"), f).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is in use by process") || strings.Contains(string(out), "snapshot:") {
		t.Fatalf("restore into a directory in use: %v\n%s", err, out)
	}
}
