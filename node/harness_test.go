package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
)

// fed is an in-process federation for tests: an authority key and nodes
// on loopback, each with its own data directory, node key, IdP key and
// certificate.
type fed struct {
	t        testing.TB
	dir      string
	authKey  ed25519.PrivateKey
	authPath string
	nodes    map[string]*Node
	idp      map[string]jwk.Key
	addrs    map[string]string
	first    string
}

// quietLog discards the nodes' logs unless FSENET_TEST_LOG is set.
func quietLog() *slog.Logger {
	if os.Getenv("FSENET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newFed(t testing.TB) *fed {
	t.Helper()
	dir := t.TempDir()
	key, err := federation.GenerateKeyFile(filepath.Join(dir, "authority.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "authority.pub")
	if err := federation.WritePublicKeyFile(pub, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	f := &fed{t: t, dir: dir, authKey: key, authPath: pub, nodes: map[string]*Node{}, idp: map[string]jwk.Key{}, addrs: map[string]string{}}
	t.Cleanup(func() {
		for _, n := range f.nodes {
			_ = n.Shutdown(context.Background())
		}
	})
	return f
}

// config prepares a region's directory: node key, IdP key and JWKS, a
// certificate for role, and returns its configuration.
func (f *fed) config(code, role string) Config {
	f.t.Helper()
	dir := filepath.Join(f.dir, code)
	key, err := federation.LoadOrCreateIdentity(filepath.Join(dir, "node.key"))
	if err != nil {
		f.t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port)
	l.Close()
	f.addrs[code] = addr
	f.certify(code, id, role, "region.cert")
	idpKey, err := federation.GenerateIdPKey(filepath.Join(dir, "idp.key"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.idp[code] = idpKey
	f.writeJWKS(code, idpKey)
	cfg := DefaultConfig()
	cfg.Region, cfg.DataDir = code, dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.P2P.Listen = []string{addr}
	cfg.Authority.PublicKeyFile = f.authPath
	cfg.Authority.CertificateFile = "region.cert"
	cfg.IdP.Issuer = "urn:test:idp:" + code
	cfg.IdP.PublicKeysFile = "idp.jwks"
	cfg.Audit.SpoolDir = filepath.Join(f.dir, code+"-audit-spool") // outside data_dir, as on a volume of its own
	cfg.Raft.HeartbeatTimeout = Duration(300 * time.Millisecond)
	cfg.Raft.ElectionTimeout = Duration(300 * time.Millisecond)
	if f.first == "" {
		cfg.Raft.Bootstrap = true
		f.first = code
	} else {
		cfg.P2P.Join = []string{"http://" + f.nodes[f.first].HTTPAddr()}
	}
	return cfg
}

func (f *fed) certify(code string, id peer.ID, role, file string) string {
	f.t.Helper()
	tok, _, err := federation.IssueCertificate(f.authKey, federation.Certificate{
		Region: code, Name: federation.RegionNames[code], Peer: id, Role: role, Expiry: time.Now().Add(time.Hour),
		Addrs: []string{f.addrs[code]},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, code, file), []byte(tok), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *fed) writeJWKS(code string, keys ...jwk.Key) {
	f.t.Helper()
	set, err := federation.PublicJWKS(keys...)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := json.Marshal(set)
	if err := os.WriteFile(filepath.Join(f.dir, code, "idp.jwks"), b, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fed) start(cfg Config) *Node {
	f.t.Helper()
	n, err := New(cfg, quietLog())
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		f.t.Fatal(err)
	}
	f.nodes[cfg.Region] = n
	return n
}

// add starts a region and waits until it is ready.
func (f *fed) add(code, role string) *Node { return f.addWith(code, role, nil) }

// addWith is add with a configuration changed by mutate.
func (f *fed) addWith(code, role string, mutate func(*Config)) *Node {
	cfg := f.config(code, role)
	if mutate != nil {
		mutate(&cfg)
	}
	n := f.start(cfg)
	consensustest.Eventually(f.t, 90*time.Second, func() error {
		if ok, why := n.Ready(); !ok {
			return fmt.Errorf("%s: %s", code, why)
		}
		return nil
	}, "region %s ready", code)
	return n
}

// token issues a token from a region's IdP.
func (f *fed) token(code, purpose string, mutate ...func(*federation.Claims)) string {
	f.t.Helper()
	c := federation.Claims{Issuer: "urn:test:idp:" + code, Subject: "RSSMRA80A01H501U", Expiry: time.Now().Add(time.Hour),
		SubjectRole: "AAS", OrganizationID: code, PurposeOfUse: purpose}
	for _, m := range mutate {
		m(&c)
	}
	tok, err := federation.IssueToken(f.idp[code], c)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *fed) authorityToken() string {
	f.t.Helper()
	k, err := federation.AuthorityJWK(f.authKey)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, err := federation.IssueToken(k, federation.Claims{Issuer: federation.AuthorityIssuer, Subject: "BNCLCU75A01H501Z",
		Expiry: time.Now().Add(time.Hour), SubjectRole: "MDS", OrganizationID: "950", PurposeOfUse: "SYSADMIN"})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// do sends a request with a bearer token (none when tok is empty).
func do(t testing.TB, method, url, tok, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// seedLabReport writes, through n, a patient with consent and one lab
// report of region 030 kept by 030.
func seedLabReport(t *testing.T, n *Node) {
	t.Helper()
	ctx := context.Background()
	apply := func(cmd consensus.Command, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.cons.Apply(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	const pid = "CF:RSSMRA80A01H501U"
	apply(index.PutPatient(index.Patient{ID: pid, Family: "Rossi", HomeRegion: "030"}))
	apply(index.SetConsent(index.ConsentChange{Patient: pid, Given: true}))
	apply(index.Publish(index.Entry{ID: index.DocumentID("030", "lab-1"), Patient: pid, Type: "11502-2", Class: "REF",
		Created: time.Now(), AuthorOrg: "030-ASST-01", Custodian: "030", MIME: "application/pdf",
		Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 4}))
}
