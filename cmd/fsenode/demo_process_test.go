package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoProc is one "fsenode demo" process and what it printed.
type demoProc struct {
	cmd        *exec.Cmd
	lines      chan string
	transcript []string
}

// startDemo runs "fsenode demo" in dir with args; the test ends it.
func startDemo(t *testing.T, dir string, args ...string) *demoProc {
	t.Helper()
	d := &demoProc{cmd: exec.Command(fsenodeBin, append([]string{"demo"}, args...)...), lines: make(chan string, 1000)}
	d.cmd.Dir = dir
	d.cmd.Stderr = os.Stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		for range d.lines {
		}
		_ = d.cmd.Wait()
	})
	return d
}

// waitLine reads the demo's output until a line contains want.
func (d *demoProc) waitLine(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("the demo ended before printing %q:\n%s", want, strings.Join(d.transcript, "\n"))
			}
			d.transcript = append(d.transcript, l)
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("the demo did not print %q within %v:\n%s", want, timeout, strings.Join(d.transcript, "\n"))
		}
	}
}

// regionPIDs are the running "fsenode run" processes of the demo
// directory's regions, found by their command lines.
func regionPIDs(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 4 && args[1] == "run" && args[2] == "--config" && strings.HasPrefix(args[3], dir+string(filepath.Separator)) {
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie: ended, not yet reaped
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

// A demo killed while it loads its data takes its regions down with it;
// run again on the same directory (given as a relative path) it resumes
// the federation, finishes what the first run left undone without
// creating anything twice, prints the same "ready" lines, and stops every
// region on SIGHUP (the terminal closed).
func TestDemoResumesAfterKill(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "fed")
	t.Cleanup(func() {
		for _, pid := range regionPIDs(t, dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	first := startDemo(t, base, "--dir", "fed")
	for range 3 {
		first.waitLine(t, " ready at http://127.0.0.1:", readyTimeout)
	}
	first.waitLine(t, "federation ready", readyTimeout)
	if pids := regionPIDs(t, dir); len(pids) != 3 {
		t.Fatalf("%d region processes of %s running, want 3: %v", len(pids), dir, pids)
	}
	// Killed while it registers patients and publishes documents.
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, defaultShutdownTimeout+15*time.Second, "the killed demo's regions to stop", func() bool {
		return len(regionPIDs(t, dir)) == 0
	})

	second := startDemo(t, base, "--dir", "fed")
	if l := second.waitLine(t, "fsenet demo: 3 regions", 30*time.Second); !strings.Contains(l, "(resumed)") {
		t.Fatalf("the second run does not say it resumes: %q", l)
	}
	for range 3 {
		second.waitLine(t, " ready at http://127.0.0.1:", readyTimeout)
	}
	second.waitLine(t, "federation ready (030, 150, 160)", readyTimeout)
	search := second.waitLine(t, "DocumentReference?patient=Patient/CF-", 3*time.Minute)
	second.waitLine(t, "Press Ctrl-C to stop.", 3*time.Minute)
	all := strings.Join(second.transcript, "\n")
	for _, want := range []string{"reads her history:", "video-session token", "the alert reaches the care team's node"} {
		if !strings.Contains(all, want) {
			t.Fatalf("the resumed demo did not play %q:\n%s", want, all)
		}
	}

	// Every demo patient has consent, whichever run registered her: a
	// clinician of Puglia finds the documents of Lombardia's first patient.
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
	cf := regexp.MustCompile(`patient=Patient/CF-([A-Z0-9]{16})`).FindStringSubmatch(search)
	if cf == nil {
		t.Fatalf("no patient in %q", search)
	}
	req, _ := http.NewRequest(http.MethodGet, env["FSENET_160_URL"]+"/fhir/DocumentReference?patient=Patient/CF-"+cf[1], nil)
	req.Header.Set("Authorization", "Bearer "+env["FSENET_160_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Total int `json:"total"`
	}
	err = json.NewDecoder(resp.Body).Decode(&bundle)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || bundle.Total != 3 {
		t.Fatalf("Puglia's clinician searching %s: %d, %d documents (%v), want 3", cf[1], resp.StatusCode, bundle.Total, err)
	}

	// The terminal closes: the demo stops its regions in order and ends
	// cleanly.
	if err := second.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	stopped := 0
	for l := range second.lines {
		second.transcript = append(second.transcript, l)
		if strings.HasSuffix(l, " stopped") {
			stopped++
		}
	}
	if err := second.cmd.Wait(); err != nil || stopped != 3 {
		t.Fatalf("demo after SIGHUP: %v, %d regions stopped, want 3:\n%s", err, stopped, strings.Join(second.transcript, "\n"))
	}
	if pids := regionPIDs(t, dir); len(pids) != 0 {
		t.Fatalf("region processes left after the demo ended: %v", pids)
	}
	if !strings.Contains(strings.Join(second.transcript, "\n"), fmt.Sprintf("fsenet demo: stopping (%v)", syscall.SIGHUP)) {
		t.Fatalf("the demo did not say it stops on SIGHUP:\n%s", strings.Join(second.transcript, "\n"))
	}
}
