package node

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigPrecedence(t *testing.T) {
	cfg, err := Load(filepath.Join("testdata", "region.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "030" || cfg.HTTP.Listen != "127.0.0.1:8030" || !cfg.Raft.Bootstrap ||
		time.Duration(cfg.Raft.HeartbeatTimeout) != 500*time.Millisecond || cfg.P2P.KeyFile != "node.key" {
		t.Fatalf("file values not applied over defaults: %+v", cfg)
	}
	env := map[string]string{"FSENET_HTTP_LISTEN": "127.0.0.1:9000", "FSENET_P2P_LISTEN": "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2"}
	if err := ApplyEnv(&cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9000" || len(cfg.P2P.Listen) != 2 {
		t.Fatalf("environment not applied over the file: %+v", cfg)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	apply := RegisterFlags(fs, &cfg)
	if err := fs.Parse([]string{"--http.listen", "127.0.0.1:9999", "--raft.bootstrap=false"}); err != nil {
		t.Fatal(err)
	}
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9999" || cfg.Raft.Bootstrap || len(cfg.P2P.Listen) != 2 {
		t.Fatalf("flags not applied over the environment, or unset flags applied: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "typo.toml")); err == nil || !strings.Contains(err.Error(), "http.listne") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := Load(filepath.Join("testdata", "missing.toml")); err == nil {
		t.Fatal("missing file accepted")
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"region", func(c *Config) { c.Region = "Lombardia" }, "region"},
		{"data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"http", func(c *Config) { c.HTTP.Listen = "nowhere" }, "http.listen"},
		{"public url without scheme", func(c *Config) { c.HTTP.PublicURL = "fse.regione.example" }, "http.public_url"},
		{"public url with query", func(c *Config) { c.HTTP.PublicURL = "https://fse.regione.example/?x=1" }, "http.public_url"},
		{"public url of another scheme", func(c *Config) { c.HTTP.PublicURL = "ftp://fse.regione.example" }, "http.public_url"},
		{"p2p addr", func(c *Config) { c.P2P.Listen = []string{"localhost:4001"} }, "p2p.listen"},
		{"quic with psk", func(c *Config) { c.P2P.PSKFile = "k" }, "QUIC"},
		{"peer", func(c *Config) { c.P2P.Peers = []string{"/ip4/1.2.3.4/tcp/1"} }, "p2p.peers"},
		{"peer without id", func(c *Config) { c.P2P.Peers = []string{"150=/ip4/1.2.3.4/tcp/1"} }, "/p2p/PEERID"},
		{"log", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"no audit spool", func(c *Config) { c.Audit.SpoolDir = "" }, "audit.spool_dir"},
		{"no authority key", func(c *Config) { c.Authority.PublicKeyFile = "" }, "authority.public_key_file"},
		{"no certificate", func(c *Config) { c.Authority.CertificateFile = "" }, "authority.certificate_file"},
		{"join url", func(c *Config) { c.P2P.Join = []string{"10.0.0.1:8080"} }, "p2p.join"},
		{"idp half set", func(c *Config) { c.IdP.Issuer = "urn:x" }, "idp.issuer"},
		{"fetch slots", func(c *Config) { c.Repository.MaxFetches = 0 }, "repository.max_fetches"},
		{"scrub pace", func(c *Config) { c.Repository.ScrubMiBPerSec = 0 }, "repository.scrub_mib_per_s"},
		{"scrub interval", func(c *Config) { c.Repository.ScrubInterval = -1 }, "repository.scrub_interval"},
		{"document size", func(c *Config) { c.Repository.MaxDocumentMiB = 0 }, "repository.max_document_mib"},
		{"signature policy", func(c *Config) { c.Repository.Signature = "sometimes" }, "repository.signature"},
		{"required signature without trust list", func(c *Config) { c.Repository.Signature = "required" }, "repository.trust_list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Region, c.DataDir = "030", "/tmp/x"
			c.Authority.PublicKeyFile, c.Authority.CertificateFile = "authority.pub", "region.cert"
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
		})
	}
	cfg := DefaultConfig()
	if err := ApplyEnv(&cfg, func(k string) (string, bool) { return "maybe", k == "FSENET_RAFT_BOOTSTRAP" }); err == nil ||
		!strings.Contains(err.Error(), "FSENET_RAFT_BOOTSTRAP") {
		t.Fatalf("bad environment value: %v", err)
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("region = \"030\"\n[http]\nlisten = \"127.0.0.1:1\"\n"))
	f.Add([]byte("[p2p]\nlisten = [1, 2]"))
	f.Add([]byte("raft.heartbeat_timeout = \"forever\""))
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "c.toml")
		if err := writeFile(path, in); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		if err := LoadFile(path, &cfg); err != nil {
			return
		}
		_ = cfg.Validate() // must not panic on anything the file can hold
	})
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
