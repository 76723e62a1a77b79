package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
)

// demoRegion is one region process of the demo.
type demoRegion struct {
	Code     string `json:"code"`
	Port     int    `json:"port"`      // libp2p, TCP
	HTTPPort int    `json:"http_port"` // API
	Peer     string `json:"peer"`

	dir     string
	cmd     *exec.Cmd
	exitErr error // how the process ended, once it has
}

func demoCmd(ctx context.Context, args []string) error {
	cl := newCmdLine("demo", "[--dir DIR] [--regions 030,150,160]", `
Runs a whole federation on this machine, one "fsenode run" process per
region, loads synthetic data and plays the demo's scenarios. With --dir the
federation is kept: a later run on the same directory resumes it (keys,
certificates, ports, data) and loads nothing twice. Ctrl-C, SIGTERM or SIGHUP
stops every region in order; if the demo itself is killed, its regions stop
too.`)
	dir := cl.fs.String("dir", "", "keep the federation's state in this directory across runs (default: a temporary directory, removed at exit)")
	regionsFlag := cl.fs.String("regions", "030,150,160", "comma-separated region codes; the first bootstraps the federation")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	codes := strings.Split(*regionsFlag, ",")
	seen := map[string]bool{}
	for _, c := range codes {
		if federation.RegionNames[c] == "" {
			return usagef("demo", "--regions: %q is not a region code (e.g. 030 Lombardia, 150 Campania, 160 Puglia)", c)
		}
		if seen[c] {
			return usagef("demo", "--regions: %s given twice", c)
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
	// The regions' configurations name files by absolute paths: each
	// node resolves relative ones against its own data directory.
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	*dir = abs
	release, err := lockDir(*dir, "demo directory")
	if err != nil {
		return err
	}
	defer release()
	_, statErr := os.Stat(filepath.Join(*dir, "demo.json"))
	resumed := statErr == nil
	regions, err := prepareDemo(*dir, codes)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if resumed {
		fmt.Printf("fsenet demo: %d regions, state in %s (resumed)\n", len(regions), *dir)
	} else {
		fmt.Printf("fsenet demo: %d regions, state in %s\n", len(regions), *dir)
	}

	sp := newSpawner()
	defer sp.close() // after stopRegions: deferred calls run last first
	ready := make(chan string, len(regions))
	exited := make(chan *demoRegion, len(regions))
	var wg sync.WaitGroup
	defer stopRegions(regions, &wg)
	for i, r := range regions {
		cfgPath, err := writeDemoConfig(*dir, r, regions[0], i == 0)
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
		out, err := r.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := sp.start(r.cmd); err != nil {
			return fmt.Errorf("start region %s: %w", r.Code, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wasReady, stopped := followRegion(r, out, ready)
			// Only after the last line was read: Wait closes the pipe.
			r.exitErr = r.cmd.Wait()
			if wasReady && !stopped {
				fmt.Printf("  %-24s exited (%v); its log: %s\n", demoName(r), r.exitErr, filepath.Join(r.dir, "node.log"))
			}
			exited <- r
		}()
	}

	timeout := time.After(90 * time.Second)
	for n := 0; n < len(regions); n++ {
		select {
		case <-ready:
		case r := <-exited:
			return fmt.Errorf("region %s stopped before it was ready (%v): %s\n(its log: %s)",
				r.Code, r.exitErr, lastLogLine(filepath.Join(r.dir, "node.log")), filepath.Join(r.dir, "node.log"))
		case <-ctx.Done():
			return demoStopping(ctx)
		case <-timeout:
			return fmt.Errorf("the federation was not ready within 90s; see the node.log files in %s", *dir)
		}
	}
	envPath, err := writeDemoEnv(*dir, regions)
	if err != nil {
		return err
	}
	fmt.Printf("fsenet demo: federation ready (%s).\n", strings.Join(codes, ", "))
	fmt.Printf("  tokens and URLs: source %s\n", envPath)
	loaded, producers, err := loadDemoData(ctx, regions)
	if ctx.Err() != nil {
		return demoStopping(ctx)
	}
	if err != nil {
		return fmt.Errorf("load the demo's synthetic documents: %w", err)
	}
	for _, l := range loaded {
		fmt.Printf("  region %s: synthetic patient %s, %d documents published through the region's gateway\n", l.Region, l.PatientCF, l.Documents)
	}
	if len(loaded) > 0 && len(codes) > 1 {
		other := codes[len(codes)-1]
		fmt.Printf("  a clinician of %s finds a patient of %s:\n", other, loaded[0].Region)
		fmt.Printf("                   curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/DocumentReference?patient=Patient/CF-%s\"\n", other, other, loaded[0].PatientCF)
	}
	migrant, err := migrantScenario(ctx, os.Stdout, regions, producers)
	if ctx.Err() != nil {
		return demoStopping(ctx)
	}
	if err != nil {
		return fmt.Errorf("the migrant scenario: %w", err)
	}
	if len(producers) >= 3 {
		err = factsScenario(ctx, os.Stdout, *dir, producers[len(producers)-1], migrant)
		if ctx.Err() != nil {
			return demoStopping(ctx)
		}
		if err != nil {
			return fmt.Errorf("the structured-data scenario: %w", err)
		}
	}
	err = telemedScenario(ctx, os.Stdout, producers, migrant)
	if ctx.Err() != nil {
		return demoStopping(ctx)
	}
	if err != nil {
		return fmt.Errorf("the telemedicine scenario: %w", err)
	}
	fmt.Printf("  then e.g.:       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" $FSENET_%s_URL/fhir/metadata\n", codes[0], codes[0])
	fmt.Printf("                   go run ./cmd/fsectl cluster status\n")
	fmt.Println("Press Ctrl-C to stop.")
	<-ctx.Done()
	return demoStopping(ctx)
}

// demoStopping says that a signal stops the demo, which then stops its
// regions: a stop asked for is a clean end, whatever step it cut short.
func demoStopping(ctx context.Context) error {
	if sig := stopSignal(ctx); sig != nil {
		fmt.Printf("\nfsenet demo: stopping (%v)\n", sig)
	} else {
		fmt.Println("\nfsenet demo: stopping")
	}
	return nil
}

// demoVoters is how many of the demo's regions are voters; the others
// are non-voters, as most regions are in a real federation.
const demoVoters = 3

// prepareDemo creates the authority's key and each region's directory,
// keys and certificate, and picks ports, reusing what an earlier run with
// the same directory made.
func prepareDemo(dir string, codes []string) ([]*demoRegion, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	authority, err := federation.LoadPrivateKeyFile(filepath.Join(dir, "authority.key"))
	if errors.Is(err, fs.ErrNotExist) {
		authority, err = federation.GenerateKeyFile(filepath.Join(dir, "authority.key"))
		if err == nil {
			err = federation.WritePublicKeyFile(filepath.Join(dir, "authority.pub"), authority.Public().(ed25519.PublicKey))
		}
	}
	if err != nil {
		return nil, err
	}
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
	for i, c := range codes {
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
		id, err := initRegion(r.dir)
		if err != nil {
			return nil, err
		}
		r.Peer = id.String()
		role := federation.RoleNonvoter
		if i < demoVoters {
			role = federation.RoleVoter
		}
		if err := demoCertificate(authority, r, id, role); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(stateFile, b, 0o600); err != nil {
		return nil, err
	}
	return out, nil
}

// demoCertificate certifies the region's node unless its certificate is
// still good for more than a day. A region keeps the role it was first
// certified with.
func demoCertificate(authority ed25519.PrivateKey, r *demoRegion, id peer.ID, role string) error {
	path := filepath.Join(r.dir, "region.cert")
	if b, err := os.ReadFile(path); err == nil {
		c, err := federation.VerifyCertificateFor(strings.TrimSpace(string(b)), authority.Public().(ed25519.PublicKey), id, time.Now().Add(24*time.Hour))
		if err == nil && len(c.Addrs) == 1 && c.Addrs[0] == fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", r.Port) {
			return nil
		}
		if err == nil {
			role = c.Role
		}
	}
	tok, _, err := federation.IssueCertificate(authority, federation.Certificate{
		Region: r.Code, Name: federation.RegionNames[r.Code], Peer: id, Role: role,
		Addrs:  []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", r.Port)},
		Expiry: time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second),
	})
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(tok+"\n"), 0o600)
}

// writeDemoConfig writes the region's configuration file, commented so
// that a user can read what each key does.
func writeDemoConfig(dir string, r, first *demoRegion, bootstrap bool) (string, error) {
	join := ""
	if !bootstrap {
		join = fmt.Sprintf("%q", fmt.Sprintf("http://127.0.0.1:%d", first.HTTPPort))
	}
	text := fmt.Sprintf(`# %[1]s (%[2]s): written by "fsenode demo".
region = %[2]q
data_dir = %[3]q

[http]
listen = "127.0.0.1:%[4]d"

[p2p]
listen = ["/ip4/127.0.0.1/tcp/%[5]d"]
key_file = "node.key"
# The founding region, which admits this one.
join = [%[6]s]

[authority]
public_key_file = %[7]q
certificate_file = "region.cert"

[idp]
issuer = %[8]q
public_keys_file = "idp.jwks"

[raft]
# Only the first region founds the federation; on later runs it resumes.
bootstrap = %[9]t

[log]
level = "info"
`, federation.RegionNames[r.Code], r.Code, r.dir, r.HTTPPort, r.Port, join,
		filepath.Join(dir, "authority.pub"), defaultIssuer(r.Code), bootstrap)
	path := filepath.Join(r.dir, "region.toml")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// writeDemoEnv writes demo.env: each region's URL, a clinician token and
// an operator token valid for a day, and an authority token.
func writeDemoEnv(dir string, regions []*demoRegion) (string, error) {
	var b strings.Builder
	b.WriteString("# fsenet demo: source this file, then e.g.\n")
	fmt.Fprintf(&b, "#   curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" $FSENET_%s_URL/fhir/metadata\n", regions[0].Code, regions[0].Code)
	b.WriteString("#   go run ./cmd/fsectl cluster status\n# The tokens are valid for a day: run the demo again for new ones.\n")
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	for _, r := range regions {
		key, err := federation.LoadIdPKey(filepath.Join(r.dir, "idp.key"))
		if err != nil {
			return "", err
		}
		name := federation.RegionNames[r.Code]
		clinician, err := federation.IssueToken(key, federation.Claims{
			Issuer: defaultIssuer(r.Code), Subject: "RSSMRA80A01H501U", Expiry: exp,
			SubjectRole: "AAS", OrganizationID: r.Code, Organization: "ASL demo " + name, PurposeOfUse: "TREATMENT",
		})
		if err != nil {
			return "", err
		}
		operator, err := federation.IssueToken(key, federation.Claims{
			Issuer: defaultIssuer(r.Code), Subject: "VRDGPP70A01F205X", Expiry: exp,
			SubjectRole: "DSA", OrganizationID: r.Code, Organization: "Regione " + name, PurposeOfUse: index.PurposeSysadmin,
		})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n# %s (%s)\nexport FSENET_%s_URL=http://127.0.0.1:%d\nexport FSENET_%s_TOKEN=%s\nexport FSENET_%s_OPERATOR_TOKEN=%s\n",
			name, r.Code, r.Code, r.HTTPPort, r.Code, clinician, r.Code, operator)
	}
	priv, err := federation.LoadPrivateKeyFile(filepath.Join(dir, "authority.key"))
	if err != nil {
		return "", err
	}
	ak, err := federation.AuthorityJWK(priv)
	if err != nil {
		return "", err
	}
	auth, err := federation.IssueToken(ak, federation.Claims{
		Issuer: federation.AuthorityIssuer, Subject: "BNCLCU75A01H501Z", Expiry: exp,
		SubjectRole: "MDS", OrganizationID: "950", Organization: "Ministero della Salute", PurposeOfUse: index.PurposeSysadmin,
	})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "\n# The national authority, and the defaults of fsectl.\nexport FSENET_AUTHORITY_TOKEN=%s\nexport FSENET_NODE=$FSENET_%s_URL\nexport FSENET_TOKEN=$FSENET_AUTHORITY_TOKEN\n", auth, regions[0].Code)
	path := filepath.Join(dir, "demo.env")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// freePort finds a loopback TCP port free now, for a region started
// later. It picks below the kernel's ephemeral range: a port from that
// range can be taken, before the region binds it, by any connection
// another process opens or by a listener on port 0, whereas ports below
// it are only ever taken by a listener that names them. Where the range
// cannot be read, or nothing below it is free, the kernel picks.
func freePort() (int, error) {
	if low := ephemeralLow(); low > minPickedPort {
		for range 64 {
			port := minPickedPort + rand.IntN(low-minPickedPort)
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// minPickedPort is the lowest port freePort picks: above the well-known
// and most registered services' ports.
const minPickedPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, 0 when
// it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return low
}

// followRegion prints a region's status lines for people and signals when
// it is ready. It returns, once the region's output ends, whether the
// region said it was ready and whether it said it stopped.
func followRegion(r *demoRegion, out io.Reader, ready chan<- string) (wasReady, stopped bool) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var s statusLine
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			continue
		}
		switch s.Event {
		case "ready":
			fmt.Printf("  %-24s ready at %s (%s, leader %s, term %d)\n", demoName(r), s.URL, strings.ToLower(s.State), s.Leader, s.Term)
			wasReady = true
			ready <- r.Code
		case "status":
			fmt.Printf("  %-24s now %s, leader %s, term %d\n", demoName(r), strings.ToLower(s.State), s.Leader, s.Term)
		case "stopped":
			fmt.Printf("  %-24s stopped\n", demoName(r))
			stopped = true
		}
	}
	return wasReady, stopped
}

// demoName names a region for people: "Lombardia (030)".
func demoName(r *demoRegion) string {
	return fmt.Sprintf("%s (%s)", federation.RegionNames[r.Code], r.Code)
}

// stopRegions asks every region to stop (SIGTERM: a leader hands over
// leadership first), the last region first, and kills any still running
// a few seconds after their own shutdown timeout.
func stopRegions(regions []*demoRegion, wg *sync.WaitGroup) {
	for i := len(regions) - 1; i >= 0; i-- {
		if regions[i].cmd != nil && regions[i].cmd.Process != nil {
			_ = regions[i].cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	done := make(chan struct{})
	go func() {
		wg.Wait() // every region's output read to the end and its process reaped
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(defaultShutdownTimeout + 5*time.Second):
		for _, r := range regions {
			if r.cmd != nil && r.cmd.Process != nil {
				_ = r.cmd.Process.Kill() // harmless for one already gone
			}
		}
		<-done
	}
}

// lastLogLine is the last line of a region's log: when the process ended
// early, the error it ended with.
func lastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	l := lines[len(lines)-1]
	if len(l) > 1000 {
		l = l[:1000] + "..."
	}
	return l
}
