package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// demoRegion is one region process of the demo.
type demoRegion struct {
	Code     string `json:"code"`
	Port     int    `json:"port"`      // libp2p, TCP
	HTTPPort int    `json:"http_port"` // API
	Peer     string `json:"peer"`

	dir string
	cmd *exec.Cmd
}

func demoCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", "", "keep the federation's state in this directory across runs (default: a temporary directory, removed at exit)")
	regionsFlag := fs.String("regions", "030,150,160", "comma-separated region codes; the first bootstraps the federation")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	codes := strings.Split(*regionsFlag, ",")
	seen := map[string]bool{}
	for _, c := range codes {
		if federation.RegionNames[c] == "" {
			return fmt.Errorf("--regions: %q is not a region code (e.g. 030 Lombardia, 150 Campania, 160 Puglia)", c)
		}
		if seen[c] {
			return fmt.Errorf("--regions: %s given twice", c)
		}
		seen[c] = true
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "fsenet-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	regions, err := prepareDemo(*dir, codes)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("fsenet demo: %d regions, state in %s\n", len(regions), *dir)

	ready := make(chan string, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		cfgPath, err := writeDemoConfig(r, regions, i == 0)
		if err != nil {
			return err
		}
		args := []string{"run", "--config", cfgPath}
		logf, err := os.OpenFile(filepath.Join(r.dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer logf.Close()
		r.cmd = exec.Command(self, args...)
		r.cmd.Stderr = logf
		// Own process group: Ctrl-C in the terminal reaches the demo,
		// which stops the regions in order.
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := r.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := r.cmd.Start(); err != nil {
			return fmt.Errorf("start region %s: %w", r.Code, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			followRegion(r, out, ready)
			// Only after the last line was read: Wait closes the pipe.
			_ = r.cmd.Wait()
		}()
	}
	defer stopRegions(regions, &wg)

	timeout := time.After(90 * time.Second)
	for n := 0; n < len(regions); n++ {
		select {
		case <-ready:
		case <-ctx.Done():
			return nil
		case <-timeout:
			return fmt.Errorf("the federation was not ready within 90s; see the node.log files in %s", *dir)
		}
	}
	fmt.Printf("fsenet demo: federation ready (%s). Press Ctrl-C to stop.\n", strings.Join(codes, ", "))
	<-ctx.Done()
	fmt.Println("\nfsenet demo: stopping")
	return nil
}

// prepareDemo creates each region's directory and identity and picks its
// port, reusing what an earlier run with the same directory chose.
func prepareDemo(dir string, codes []string) ([]*demoRegion, error) {
	stateFile := filepath.Join(dir, "demo.json")
	known := map[string]*demoRegion{}
	if b, err := os.ReadFile(stateFile); err == nil {
		var prev []*demoRegion
		if err := json.Unmarshal(b, &prev); err != nil {
			return nil, fmt.Errorf("%s: %w", stateFile, err)
		}
		for _, r := range prev {
			known[r.Code] = r
		}
	}
	var out []*demoRegion
	for _, c := range codes {
		r := known[c]
		if r == nil {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			httpPort, err := freePort()
			if err != nil {
				return nil, err
			}
			r = &demoRegion{Code: c, Port: port, HTTPPort: httpPort}
		}
		r.dir = filepath.Join(dir, c)
		key, err := federation.LoadOrCreateIdentity(filepath.Join(r.dir, "node.key"))
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPrivateKey(key)
		if err != nil {
			return nil, err
		}
		r.Peer = id.String()
		out = append(out, r)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(stateFile, b, 0o600); err != nil {
		return nil, err
	}
	return out, nil
}

// writeDemoConfig writes the region's configuration file, commented so
// that a user can read what each key does.
func writeDemoConfig(r *demoRegion, all []*demoRegion, bootstrap bool) (string, error) {
	var peers []string
	for _, o := range all {
		if o != r {
			peers = append(peers, fmt.Sprintf("%q", fmt.Sprintf("%s=/ip4/127.0.0.1/tcp/%d/p2p/%s", o.Code, o.Port, o.Peer)))
		}
	}
	text := fmt.Sprintf(`# %[1]s (%[2]s): written by "fsenode demo".
region = %[2]q
data_dir = %[3]q

[http]
listen = "127.0.0.1:%[4]d"

[p2p]
listen = ["/ip4/127.0.0.1/tcp/%[5]d"]
key_file = "node.key"
# The other founding regions, admitted until the replicated membership is known.
peers = [%[6]s]

[raft]
# Only the first region founds the federation; on later runs it resumes.
bootstrap = %[7]t

[log]
level = "info"
`, federation.RegionNames[r.Code], r.Code, r.dir, r.HTTPPort, r.Port, strings.Join(peers, ", "), bootstrap)
	path := filepath.Join(r.dir, "region.toml")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// followRegion prints a region's status lines for people and signals when
// it is ready.
func followRegion(r *demoRegion, out io.Reader, ready chan<- string) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var s statusLine
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			continue
		}
		name := fmt.Sprintf("%s (%s)", federation.RegionNames[r.Code], r.Code)
		switch s.Event {
		case "ready":
			fmt.Printf("  %-24s ready at %s (%s, leader %s, term %d)\n", name, s.URL, strings.ToLower(s.State), s.Leader, s.Term)
			ready <- r.Code
		case "status":
			fmt.Printf("  %-24s now %s, leader %s, term %d\n", name, strings.ToLower(s.State), s.Leader, s.Term)
		case "stopped":
			fmt.Printf("  %-24s stopped\n", name)
		}
	}
}

// stopRegions asks every region to stop (SIGTERM: a leader hands over
// leadership first) and kills those still running after 15 seconds.
func stopRegions(regions []*demoRegion, wg *sync.WaitGroup) {
	for i := len(regions) - 1; i >= 0; i-- {
		if p := regions[i].cmd.Process; p != nil {
			_ = p.Signal(syscall.SIGTERM)
		}
	}
	done := make(chan struct{})
	go func() {
		wg.Wait() // every region's output read to the end and its process reaped
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		for _, r := range regions {
			if r.cmd.Process != nil {
				_ = r.cmd.Process.Kill() // harmless for one already gone
			}
		}
		<-done
	}
}
