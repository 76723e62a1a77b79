package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
)

// A node stopped by SIGTERM says so in its log, with the signal, and
// exits within its shutdown timeout even when the other voters stopped
// answering with their connections open (SIGSTOP): cleanly, or with
// status 1 naming what did not stop.
func TestProcessStopsWithinItsTimeout(t *testing.T) {
	const timeout = 4 * time.Second
	_, regions := threeVoters(t, "--shutdown-timeout", timeout.String())
	lom, others := regions[0], regions[1:]
	for _, p := range others {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) })
	}
	off := lom.logSize()
	signalled := time.Now()
	if err := lom.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lom.done:
		t.Logf("Lombardia exited %v after SIGTERM (%v)", time.Since(signalled).Round(time.Millisecond), lom.err)
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("Lombardia still running %v after SIGTERM with --shutdown-timeout %v; its log:\n%s", timeout+10*time.Second, timeout, lom.loggedSince(off))
	}
	logged := lom.loggedSince(off)
	if !strings.Contains(logged, `"msg":"stopping"`) || !strings.Contains(logged, `"signal":"terminated"`) {
		t.Fatalf("no \"stopping\" line with the signal in the log:\n%s", logged)
	}
	var ee *exec.ExitError
	switch {
	case lom.err == nil:
		if !lom.seen["stopped"] || !strings.Contains(logged, `"msg":"stopped"`) {
			t.Fatalf("exit 0 without saying it stopped:\n%s", logged)
		}
	case errors.As(lom.err, &ee) && ee.ExitCode() == 1:
		if !strings.Contains(logged, "not stopped within "+timeout.String()+", still in ") {
			t.Fatalf("exit 1 without naming what did not stop:\n%s", logged)
		}
	default:
		t.Fatalf("exit %v after SIGTERM:\n%s", lom.err, logged)
	}
}

// A second node started on a data directory in use is refused before it
// opens anything, naming the process that holds the directory; the first
// goes on serving.
func TestProcessDataDirInUse(t *testing.T) {
	base := t.TempDir()
	a := newAuthority(t, base)
	lom := a.region(base, "030", "voter")
	lom.start(t, "--raft.bootstrap=true")
	t.Cleanup(func() { lom.terminate(t) })
	consensustest.Eventually(t, readyTimeout, allReady(lom), "Lombardia ready")

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	httpPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	code, out := fsenodeExit(t, "run", "--config", filepath.Join(lom.dir, "region.toml"),
		"--http.listen", fmt.Sprintf("127.0.0.1:%d", httpPort), "--p2p.listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port))
	want := fmt.Sprintf("data directory %s is in use by process %d (%s run --config %s", lom.dir, lom.cmd.Process.Pid, fsenodeBin, filepath.Join(lom.dir, "region.toml"))
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("second node on %s: exit %d, want 1 and %q:\n%s", lom.dir, code, want, out)
	}
	if answered, ready, why := lom.readiness(); !answered || !ready {
		t.Fatalf("the first node after the refused second one: answered %v, ready %v (%s)", answered, ready, why)
	}
}
