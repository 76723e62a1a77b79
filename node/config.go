package node

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fsenet/fsenet/federation"

	"github.com/fsenet/fsenet/repository/pades"
)

// Config is a region's node configuration. It is read from a TOML file,
// then FSENET_* environment variables, then command-line flags, each
// overriding the one before. Every key has all three spellings: the file's
// [p2p] listen is FSENET_P2P_LISTEN and --p2p.listen.
type Config struct {
	// Region is the region's ISTAT code, e.g. "030".
	Region string `toml:"region"`
	// DataDir holds the node's keys, Raft log and state.
	DataDir string `toml:"data_dir"`

	HTTP       HTTPConfig       `toml:"http"`
	P2P        P2PConfig        `toml:"p2p"`
	Authority  AuthorityConfig  `toml:"authority"`
	IdP        IdPConfig        `toml:"idp"`
	Raft       RaftConfig       `toml:"raft"`
	Audit      AuditConfig      `toml:"audit"`
	Repository RepositoryConfig `toml:"repository"`
	Telemed    TelemedConfig    `toml:"telemed"`
	Log        LogConfig        `toml:"log"`
	Debug      DebugConfig      `toml:"debug"`
}

// TelemedConfig is the region's telemedicine.
type TelemedConfig struct {
	// EscalateAfter is how long a telemonitoring alert waits for its
	// assignee's acknowledgement before it goes to the care team's next
	// member.
	EscalateAfter Duration `toml:"escalate_after"`
}

// DebugConfig exposes Go's profiler for diagnosis.
type DebugConfig struct {
	// PprofListen, when set, serves net/http/pprof on its own listener,
	// without authentication: bind it to loopback only.
	PprofListen string `toml:"pprof_listen"`
}

// RepositoryConfig is the region's document store and its producer
// gateway.
type RepositoryConfig struct {
	// Dir is the document store's directory; relative paths are under
	// data_dir.
	Dir string `toml:"dir"`
	// MaxDocumentMiB bounds one document (the PDF the gateway receives).
	MaxDocumentMiB int `toml:"max_document_mib"`
	// ValidationMaxAge: a publication must follow its CDA's validation
	// within this time, as the national gateway requires.
	ValidationMaxAge Duration `toml:"validation_max_age"`
	// WaitCommit bounds how long a gateway request waits for the
	// federation to commit its index entry (then 504; the workflow goes
	// on and a retry is safe).
	WaitCommit Duration `toml:"wait_commit"`
	// MaxFetches bounds the documents this node fetches from other
	// regions at once, for every caller together (each holds up to ~9 MiB
	// of decompression state); a fetch past it waits for a slot within
	// its own deadline.
	MaxFetches int `toml:"max_fetches"`
	// MaxFetchesPerRegion bounds the fetches from any one region among
	// them (0: a quarter of max_fetches, at least 1), so that a region
	// whose node does not answer holds only its share of the slots.
	MaxFetchesPerRegion int `toml:"max_fetches_per_region"`
	// FetchFirstByteTimeout bounds a fetch's wait for a free slot (then
	// Binary answers 503), then its wait for the custodian's first
	// answer (then 504 naming the region), and any silence of the
	// custodian in the middle of the content (then the transfer is cut).
	FetchFirstByteTimeout Duration `toml:"fetch_first_byte_timeout"`
	// ScrubInterval is how often every stored document is read whole and
	// checked against its hash ("0s": never). This node sends its stored
	// chunks to other regions without decompressing them, so without a
	// scrub it learns of altered bytes only when a reader does.
	ScrubInterval Duration `toml:"scrub_interval"`
	// ScrubMiBPerSec paces a scrub: the documents' bytes checked per
	// second (uncompressed; the disk reads are fewer).
	ScrubMiBPerSec int `toml:"scrub_mib_per_s"`
	// PopulationMinK is the smallest number of distinct patients a cell
	// of this region's answer to a population question may count
	// without being suppressed (a question may ask for more, never less).
	PopulationMinK int `toml:"population_min_k"`
	// Signature is the region's policy on the PAdES signatures of
	// producers' PDFs: "required" (an unsigned PDF is refused) or
	// "optional" (a signed one is still verified).
	Signature string `toml:"signature"`
	// TrustList is a PEM bundle of the CAs whose signers the region
	// accepts; relative paths are under data_dir. Required with
	// signature = "required".
	TrustList string `toml:"trust_list"`
}

// AuditConfig places the node's audit spool: the events it has recorded
// and not yet replicated, fsynced before every disclosure of clinical data.
type AuditConfig struct {
	// SpoolDir is the spool's directory; relative paths are under data_dir.
	// A volume of its own keeps the spool's fsyncs (on every read's path)
	// apart from the state database's writes.
	SpoolDir string `toml:"spool_dir"`
}

// HTTPConfig is the node's API listener.
type HTTPConfig struct {
	Listen string `toml:"listen"` // host:port
	// PublicURL is the node's URL as clients reach it (scheme, host and
	// any path prefix, e.g. https://fse.regione.example) when it is behind
	// a reverse proxy: FHIR links and fullUrls start with it. Empty: the
	// scheme and host each request came to.
	PublicURL string `toml:"public_url"`
}

// P2PConfig is the node's libp2p side.
type P2PConfig struct {
	Listen  []string `toml:"listen"`   // multiaddrs
	KeyFile string   `toml:"key_file"` // node identity; relative paths are under data_dir
	PSKFile string   `toml:"psk_file"` // optional private-network key
	// Peers are member regions as CODE=MULTIADDR/p2p/PEERID, admitted and
	// dialled until the replicated membership is known.
	Peers []string `toml:"peers"`
	// Join are the HTTP base URLs of member nodes this node asks to admit
	// it (with its certificate) while it is not yet a member.
	Join []string `toml:"join"`
}

// AuthorityConfig names the national authority's public key, this node's
// membership certificate and its revocation list.
type AuthorityConfig struct {
	PublicKeyFile   string `toml:"public_key_file"`
	CertificateFile string `toml:"certificate_file"`
	// RevocationsFile is every revocation the node has seen, one
	// authority-signed token per line, kept outside the replicated state so
	// that no restore undoes one. The authority's own list (fsenode
	// authority revoke appends to it) may be copied here as it is.
	RevocationsFile string `toml:"revocations_file"`
}

// IdPConfig is the region's identity provider, whose public keys the node
// publishes in the replicated state so that every node can verify the
// region's tokens. Editing the key file publishes the change (rotation:
// add the new key, later remove the old one).
type IdPConfig struct {
	Issuer         string `toml:"issuer"`           // the iss of the region's tokens
	PublicKeysFile string `toml:"public_keys_file"` // JWKS (public keys only)
}

// RaftConfig tunes consensus; zero values keep the defaults.
type RaftConfig struct {
	Bootstrap        bool     `toml:"bootstrap"` // found a new federation with the peers
	HeartbeatTimeout Duration `toml:"heartbeat_timeout"`
	ElectionTimeout  Duration `toml:"election_timeout"`
	// A snapshot is taken when SnapshotThreshold entries were appended
	// since the last one (checked every SnapshotInterval); TrailingLogs
	// entries stay in the log after it, for followers slightly behind.
	SnapshotInterval  Duration `toml:"snapshot_interval"`
	SnapshotThreshold int      `toml:"snapshot_threshold"`
	TrailingLogs      int      `toml:"trailing_logs"`
	// ScrubInterval is how often, while this node leads, every replica
	// hashes its stored state at one log index and compares it with the
	// others'; a replica found different repairs itself from them. Each
	// node also asks once after it starts. "0s": this node never asks
	// (it still takes part when another does). ScrubMiBPerSec paces the
	// scan: keys and values read per second.
	ScrubInterval  Duration `toml:"scrub_interval"`
	ScrubMiBPerSec int      `toml:"scrub_mib_per_s"`
}

// LogConfig selects what the node logs.
type LogConfig struct {
	Level string `toml:"level"` // debug, info, warn, error
}

// Duration is a time.Duration written as "1s", "500ms".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// DefaultConfig returns a configuration that runs with only the region
// code and a data directory filled in.
func DefaultConfig() Config {
	return Config{
		HTTP: HTTPConfig{Listen: "127.0.0.1:8080"},
		P2P: P2PConfig{
			Listen:  []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			KeyFile: "node.key",
		},
		Authority: AuthorityConfig{RevocationsFile: "revocations"},
		Audit:     AuditConfig{SpoolDir: "audit-spool"},
		Repository: RepositoryConfig{Dir: "repository", MaxDocumentMiB: 64,
			ValidationMaxAge: Duration(5 * 24 * time.Hour), WaitCommit: Duration(30 * time.Second), MaxFetches: 64, FetchFirstByteTimeout: Duration(5 * time.Second),
			ScrubInterval: Duration(24 * time.Hour), ScrubMiBPerSec: 32, Signature: string(pades.Optional), PopulationMinK: 10},
		Telemed: TelemedConfig{EscalateAfter: Duration(15 * time.Minute)},
		Raft:    RaftConfig{ScrubInterval: Duration(time.Hour), ScrubMiBPerSec: 32},
		Log:     LogConfig{Level: "info"},
	}
}

// Validate reports every configuration error at once, each naming the key
// and the fix.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !federation.ValidRegionCode(c.Region) {
		add("region = %q: want the region's three-digit ISTAT code, e.g. \"030\" for Lombardia", c.Region)
	}
	if c.DataDir == "" {
		add("data_dir is empty: set a directory for the node's keys and state")
	}
	if c.Audit.SpoolDir == "" {
		add("audit.spool_dir is empty: set the audit spool's directory (default \"audit-spool\", under data_dir)")
	}
	if c.Repository.Dir == "" {
		add("repository.dir is empty: set the document store's directory (default \"repository\", under data_dir)")
	}
	if c.Repository.MaxDocumentMiB < 1 || c.Repository.MaxDocumentMiB > 1024 {
		add("repository.max_document_mib = %d: want 1 to 1024", c.Repository.MaxDocumentMiB)
	}
	if c.Telemed.EscalateAfter < Duration(time.Second) {
		add("telemed.escalate_after = %v: want a duration of at least 1s", time.Duration(c.Telemed.EscalateAfter))
	}
	if c.Repository.ScrubInterval < 0 || c.Repository.ScrubMiBPerSec < 1 || c.Repository.ScrubMiBPerSec > 4096 {
		add("repository.scrub_interval = %v, repository.scrub_mib_per_s = %d: want a duration (\"0s\" for never) and 1 to 4096",
			time.Duration(c.Repository.ScrubInterval), c.Repository.ScrubMiBPerSec)
	}
	if _, err := pades.ParsePolicy(c.Repository.Signature); err != nil {
		add("repository.signature = %q: want \"required\" or \"optional\"", c.Repository.Signature)
	} else if c.Repository.Signature == string(pades.Required) && c.Repository.TrustList == "" {
		add("repository.signature = \"required\" needs repository.trust_list (a PEM bundle of the CAs the region trusts)")
	}
	if c.Repository.MaxFetches < 1 || c.Repository.MaxFetches > 4096 {
		add("repository.max_fetches = %d: want 1 to 4096", c.Repository.MaxFetches)
	}
	if c.Repository.MaxFetchesPerRegion < 0 || c.Repository.MaxFetchesPerRegion > c.Repository.MaxFetches {
		add("repository.max_fetches_per_region = %d: want 0 (a quarter of max_fetches) to max_fetches (%d)", c.Repository.MaxFetchesPerRegion, c.Repository.MaxFetches)
	}
	if c.Repository.PopulationMinK < 2 || c.Repository.PopulationMinK > 1000 {
		add("repository.population_min_k = %d: want 2 to 1000", c.Repository.PopulationMinK)
	}
	if d := time.Duration(c.Repository.FetchFirstByteTimeout); d < 100*time.Millisecond || d > 5*time.Minute {
		add("repository.fetch_first_byte_timeout = %v: want 100ms to 5m", d)
	}
	if c.Repository.ValidationMaxAge <= 0 || c.Repository.WaitCommit <= 0 {
		add("repository.validation_max_age and repository.wait_commit must be positive durations, e.g. \"120h\" and \"30s\"")
	}
	if c.HTTP.Listen == "" {
		add("http.listen is empty: set host:port, e.g. 127.0.0.1:8080")
	} else if _, _, err := splitHostPort(c.HTTP.Listen); err != nil {
		add("http.listen = %q: %v", c.HTTP.Listen, err)
	}
	if u := c.HTTP.PublicURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil {
			add("http.public_url = %q: want an absolute http or https URL without query, e.g. https://fse.regione.example", u)
		}
	}
	if len(c.P2P.Listen) == 0 {
		add("p2p.listen is empty: give at least one multiaddr, e.g. /ip4/0.0.0.0/tcp/4001")
	}
	for _, a := range c.P2P.Listen {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			add("p2p.listen: %q is not a multiaddr (want e.g. /ip4/0.0.0.0/tcp/4001): %v", a, err)
			continue
		}
		if c.P2P.PSKFile != "" && federation.IsQUIC(m) {
			add("p2p.listen: %q is QUIC, which libp2p refuses inside a private network (p2p.psk_file is set): listen on TCP only", a)
		}
	}
	if c.P2P.KeyFile == "" {
		add("p2p.key_file is empty: set the path of the node's identity key (created on first start)")
	}
	for _, p := range c.P2P.Peers {
		code, addr, ok := strings.Cut(p, "=")
		if !ok || !federation.ValidRegionCode(code) {
			add("p2p.peers: %q: want CODE=MULTIADDR/p2p/PEERID, e.g. 150=/ip4/10.0.0.2/tcp/4001/p2p/12D3Koo...", p)
			continue
		}
		m, err := ma.NewMultiaddr(addr)
		if err != nil {
			add("p2p.peers: %q: %v", p, err)
			continue
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err != nil {
			add("p2p.peers: %q has no /p2p/PEERID part", p)
		}
	}
	for _, u := range c.P2P.Join {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			add("p2p.join: %q: want the HTTP base URL of a member node, e.g. http://10.0.0.1:8080", u)
		}
	}
	if c.Authority.PublicKeyFile == "" {
		add("authority.public_key_file is empty: set the path of the national authority's public key (authority.pub, from fsenode authority init)")
	}
	if c.Authority.RevocationsFile == "" {
		add("authority.revocations_file is empty: set the path of this node's revocation list (default \"revocations\")")
	}
	if c.Authority.CertificateFile == "" {
		add("authority.certificate_file is empty: set the path of this node's membership certificate (from fsenode authority certify)")
	}
	if (c.IdP.Issuer == "") != (c.IdP.PublicKeysFile == "") {
		add("idp.issuer and idp.public_keys_file: set both (the region's identity provider) or neither")
	}
	if c.Raft.HeartbeatTimeout < 0 || c.Raft.ElectionTimeout < 0 || c.Raft.SnapshotInterval < 0 {
		add("raft timeouts and intervals must not be negative")
	}
	if c.Raft.Bootstrap && len(c.P2P.Join) > 0 {
		add("raft.bootstrap = true and p2p.join are both set: a node either founds a new federation or joins one; to rebuild a founding region's lost data, set bootstrap = false and join a member")
	}
	if c.Raft.HeartbeatTimeout > 0 && c.Raft.ElectionTimeout > 0 && c.Raft.ElectionTimeout < c.Raft.HeartbeatTimeout {
		add("raft.election_timeout (%s) must not be shorter than raft.heartbeat_timeout (%s)", time.Duration(c.Raft.ElectionTimeout), time.Duration(c.Raft.HeartbeatTimeout))
	}
	if c.Raft.ScrubInterval < 0 || c.Raft.ScrubMiBPerSec < 1 || c.Raft.ScrubMiBPerSec > 4096 {
		add("raft.scrub_interval = %v, raft.scrub_mib_per_s = %d: want a duration (\"0s\": this node never asks for a check) and 1 to 4096",
			time.Duration(c.Raft.ScrubInterval), c.Raft.ScrubMiBPerSec)
	}
	if c.Raft.SnapshotThreshold < 0 || c.Raft.TrailingLogs < 0 {
		add("raft.snapshot_threshold and raft.trailing_logs must not be negative (0 keeps the default)")
	}
	if c.Debug.PprofListen != "" {
		if host, _, err := splitHostPort(c.Debug.PprofListen); err != nil {
			add("debug.pprof_listen = %q: %v", c.Debug.PprofListen, err)
		} else if host != "127.0.0.1" && host != "localhost" && host != "[::1]" {
			add("debug.pprof_listen = %q: the profiler has no authentication; listen on loopback only (127.0.0.1:PORT)", c.Debug.PprofListen)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level = %q: want debug, info, warn or error", c.Log.Level)
	}
	return errors.Join(errs...)
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", 0, errors.New("want host:port")
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("port must be a number from 0 to 65535")
	}
	return s[:i], port, nil
}

// LoadFile reads a TOML file over cfg. Unknown keys are an error: a typo
// must not silently leave a default in place.
func LoadFile(path string, cfg *Config) error {
	md, err := toml.DecodeFile(path, cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("config %s: unknown keys %s", path, strings.Join(keys, ", "))
	}
	return nil
}

// field is one configuration key with its three spellings.
type field struct {
	key string // "p2p.listen"
	v   reflect.Value
}

func fields(cfg *Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := f.Tag.Get("toml")
			if key == "" {
				continue
			}
			if prefix != "" {
				key = prefix + "." + key
			}
			if f.Type.Kind() == reflect.Struct {
				walk(key, v.Field(i))
				continue
			}
			out = append(out, field{key: key, v: v.Field(i)})
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	return out
}

// EnvName is the environment variable of a key: p2p.listen → FSENET_P2P_LISTEN.
func EnvName(key string) string {
	return "FSENET_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func setValue(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case string:
		v.SetString(s)
	case int:
		i, err := strconv.Atoi(s)
		if err != nil {
			return errors.New("want a whole number")
		}
		v.SetInt(int64(i))
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("want true or false")
		}
		v.SetBool(b)
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(Duration(d)))
	case []string:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// ApplyEnv overrides cfg with the FSENET_* variables found by lookup
// (os.LookupEnv in production). Lists are comma-separated.
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for _, f := range fields(cfg) {
		if s, ok := lookup(EnvName(f.key)); ok {
			if err := setValue(f.v, s); err != nil {
				return fmt.Errorf("%s: %w", EnvName(f.key), err)
			}
		}
	}
	return nil
}

// RegisterFlags defines a flag for every key on fs; after fs.Parse, apply
// them with the returned function. Only flags given on the command line
// override; lists are comma-separated.
func RegisterFlags(fs *flag.FlagSet, cfg *Config) func() error {
	set := map[string]*string{}
	for _, f := range fields(cfg) {
		set[f.key] = fs.String(f.key, "", fmt.Sprintf("config %s (env %s)", f.key, EnvName(f.key)))
	}
	return func() error {
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		for _, f := range fields(cfg) {
			if given[f.key] {
				if err := setValue(f.v, *set[f.key]); err != nil {
					return fmt.Errorf("--%s: %w", f.key, err)
				}
			}
		}
		return nil
	}
}

// Load builds the configuration: defaults, then the file (if path is not
// empty), then the environment; flags are applied by the caller with
// RegisterFlags. It does not validate.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		if err := LoadFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := ApplyEnv(&cfg, os.LookupEnv); err != nil {
		return cfg, err
	}
	return cfg, nil
}
