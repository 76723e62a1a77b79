package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/node"
)

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(fsenodeBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fsenode %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// The operator's path from nothing to a certified region, with the real
// binary: authority key, a region's init, a certificate for its peer ID,
// a revocation.
func TestAuthorityAndInitCommands(t *testing.T) {
	dir := t.TempDir()
	authDir := filepath.Join(dir, "authority")
	run(t, "authority", "init", "--dir", authDir)
	if _, err := exec.Command(fsenodeBin, "authority", "init", "--dir", authDir).CombinedOutput(); err == nil {
		t.Fatal("authority init overwrote an existing key")
	}

	regionDir := filepath.Join(dir, "030")
	out := run(t, "init", "--dir", regionDir, "--region", "030")
	m := regexp.MustCompile(`peer ID (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("init printed no peer ID:\n%s", out)
	}
	pid, err := peer.Decode(m[1])
	if err != nil {
		t.Fatal(err)
	}
	// The sample configuration loads and validates as written.
	cfg, err := node.Load(filepath.Join(regionDir, "region.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.Region != "030" {
		t.Fatalf("sample config: %v %+v", err, cfg)
	}
	// init again keeps the key (same peer ID) and the edited config.
	if again := run(t, "init", "--dir", regionDir, "--region", "030"); !strings.Contains(again, m[1]) {
		t.Fatalf("second init changed the peer ID:\n%s", again)
	}

	certPath := filepath.Join(dir, "030.cert")
	run(t, "authority", "certify", "--key", filepath.Join(authDir, "authority.key"), "--region", "030",
		"--peer", m[1], "--role", "voter", "--addrs", "/ip4/127.0.0.1/tcp/4001", "--valid", "24h", "--out", certPath)
	pub, err := federation.LoadPublicKeyFile(filepath.Join(authDir, "authority.pub"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := os.ReadFile(certPath)
	c, err := federation.VerifyCertificateFor(strings.TrimSpace(string(tok)), pub, pid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "030" || c.Name != "Lombardia" || c.Role != federation.RoleVoter {
		t.Fatalf("certificate %+v", c)
	}

	// Promote and demote re-issue the certificate with the other role.
	if out, err := exec.Command(fsenodeBin, "authority", "promote", "--key", filepath.Join(authDir, "authority.key"), "--cert", certPath).CombinedOutput(); err == nil {
		t.Fatalf("promoting a voter succeeded:\n%s", out)
	}
	demoted := filepath.Join(dir, "030-nonvoter.cert")
	run(t, "authority", "demote", "--key", filepath.Join(authDir, "authority.key"), "--cert", certPath, "--out", demoted)
	dtok, _ := os.ReadFile(demoted)
	d, err := federation.VerifyCertificateFor(strings.TrimSpace(string(dtok)), pub, pid, time.Now())
	if err != nil || d.Role != federation.RoleNonvoter || d.ID == c.ID || d.Region != "030" {
		t.Fatalf("demoted certificate %+v %v", d, err)
	}

	revPath := filepath.Join(dir, "030.rev")
	run(t, "authority", "revoke", "--key", filepath.Join(authDir, "authority.key"), "--region", "030",
		"--peer", m[1], "--reason", "test", "--out", revPath)
	rtok, _ := os.ReadFile(revPath)
	if r, err := federation.VerifyRevocation(strings.TrimSpace(string(rtok)), pub); err != nil || r.Peer != pid {
		t.Fatalf("revocation: %+v %v", r, err)
	}

	// A revoked node key is never certified again.
	if out, err := exec.Command(fsenodeBin, "authority", "promote", "--key", filepath.Join(authDir, "authority.key"), "--cert", demoted).CombinedOutput(); err == nil || !strings.Contains(string(out), "revoked") {
		t.Fatalf("promoting a revoked peer: %v\n%s", err, out)
	}

	// token signs with the region's IdP key; the region's published JWKS
	// verifies it.
	tokOut := strings.TrimSpace(run(t, "token", "--idp-key", filepath.Join(regionDir, "idp.key"), "--region", "030",
		"--sub", "RSSMRA80A01H501U", "--purpose", "TREATMENT", "--ttl", "10m"))
	jwks, err := os.ReadFile(filepath.Join(regionDir, "idp.jwks"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := federation.ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	v := federation.Verifier{Lookup: func(iss string) (federation.IssuerKeys, bool) {
		return federation.IssuerKeys{Region: "030", Keys: set}, iss == "urn:fsenet:idp:030"
	}}
	if claims, err := v.Verify(tokOut); err != nil || claims.Subject != "RSSMRA80A01H501U" || claims.PurposeOfUse != "TREATMENT" {
		t.Fatalf("token from fsenode token: %+v %v", claims, err)
	}

	for name, args := range map[string][]string{
		"token without key":     {"token", "--sub", "X", "--region", "030"},
		"token with both keys":  {"token", "--idp-key", filepath.Join(regionDir, "idp.key"), "--authority-key", filepath.Join(authDir, "authority.key"), "--sub", "X"},
		"token bad purpose":     {"token", "--idp-key", filepath.Join(regionDir, "idp.key"), "--region", "030", "--sub", "X", "--purpose", "CURIOSITY"},
		"token too long":        {"token", "--idp-key", filepath.Join(regionDir, "idp.key"), "--region", "030", "--sub", "X", "--ttl", "72h"},
		"certify without key":   {"authority", "certify", "--key", filepath.Join(dir, "none"), "--region", "030", "--peer", m[1]},
		"certify bad region":    {"authority", "certify", "--key", filepath.Join(authDir, "authority.key"), "--region", "999", "--peer", m[1]},
		"certify bad peer":      {"authority", "certify", "--key", filepath.Join(authDir, "authority.key"), "--region", "030", "--peer", "x"},
		"certify bad role":      {"authority", "certify", "--key", filepath.Join(authDir, "authority.key"), "--region", "030", "--peer", m[1], "--role", "king"},
		"revoke without reason": {"authority", "revoke", "--key", filepath.Join(authDir, "authority.key"), "--region", "030", "--peer", m[1]},
		"init bad region":       {"init", "--dir", filepath.Join(dir, "x"), "--region", "Lombardia"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := exec.Command(fsenodeBin, args...).CombinedOutput(); err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
		})
	}
}
