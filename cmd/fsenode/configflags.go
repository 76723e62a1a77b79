package main

import (
	"flag"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fsenet/fsenet/node"
)

// configKeyHelp says what each configuration key does, for the help of
// the commands that take every key as a flag (run, restore). A key
// missing here is still a flag; its help then names only its place in
// the configuration file.
var configKeyHelp = map[string]string{
	"region":                              "the region's ISTAT code, e.g. 030",
	"data_dir":                            "the node's keys, Raft log and state; relative paths of other keys are under it",
	"http.listen":                         "host:port of the API, health and metrics",
	"http.public_url":                     "the node's URL as clients reach it behind a reverse proxy (the base of FHIR links)",
	"p2p.listen":                          "comma-separated multiaddrs where libp2p listens",
	"p2p.key_file":                        "the node's identity key (from fsenode init)",
	"p2p.psk_file":                        "optional private-network key (then TCP only)",
	"p2p.peers":                           "comma-separated member regions as CODE=MULTIADDR/p2p/PEERID, admitted until the membership is known",
	"p2p.join":                            "comma-separated HTTP URLs of members that admit this node when it joins",
	"authority.public_key_file":           "the national authority's public key (authority.pub)",
	"authority.certificate_file":          "this node's membership certificate (region.cert)",
	"authority.revocations_file":          "every revocation this node has seen, kept outside the replicated state",
	"idp.issuer":                          "the iss of the region's tokens",
	"idp.public_keys_file":                "the region's IdP public keys (JWKS), published to the federation",
	"raft.bootstrap":                      "found a new federation (only on the founding region, first start)",
	"raft.heartbeat_timeout":              "Raft's heartbeat timeout (0: 1s)",
	"raft.election_timeout":               "Raft's election timeout (0: 1s)",
	"raft.snapshot_interval":              "how often the log's length is checked for a snapshot (0: 30s)",
	"raft.snapshot_threshold":             "log entries since the last snapshot that trigger one (0: 16384)",
	"raft.trailing_logs":                  "log entries kept after a snapshot, for followers slightly behind (0: 20480)",
	"raft.scrub_interval":                 "how often, while this node leads, the replicas compare their stored state and a different one repairs itself (0s: never asked by this node)",
	"raft.scrub_mib_per_s":                "the state check's pace, in MiB of keys and values read per second",
	"audit.spool_dir":                     "audit events not yet replicated, fsynced before each disclosure",
	"repository.dir":                      "the region's documents and the gateway's outbox",
	"repository.max_document_mib":         "largest PDF the gateway takes, in MiB",
	"repository.validation_max_age":       "a publication must follow its CDA's validation within this",
	"repository.wait_commit":              "how long a gateway request waits for the index commit, then 504",
	"repository.max_fetches":              "documents fetched from other regions at once, for all callers",
	"repository.max_fetches_per_region":   "fetches from any one region among them (0: a quarter of max_fetches, at least 1)",
	"repository.fetch_first_byte_timeout": "a fetch's wait for a slot, for the custodian's first answer, and for any pause in its content",
	"repository.population_min_k":         "the smallest cell (distinct patients) of a population answer that leaves the region unsuppressed",
	"repository.scrub_interval":           "how often every stored document is read and checked against its hash (0s: never)",
	"repository.scrub_mib_per_s":          "the scrub's pace, in MiB of documents per second",
	"repository.signature":                "PAdES signatures of producers' PDFs: required or optional",
	"repository.trust_list":               "PEM bundle of the CAs whose signers the region accepts (needed with signature required)",
	"telemed.escalate_after":              "a telemonitoring alert not acknowledged this long goes to the care team's next member",
	"log.level":                           "debug, info, warn or error",
	"debug.pprof_listen":                  "serve Go's profiler here, without authentication: loopback only",
}

// registerConfigFlags defines a flag for every configuration key (as
// node.RegisterFlags does) and gives each its description, its
// environment variable and its built-in default, for the help. Apply the
// flags given with the returned function after parsing.
func registerConfigFlags(fs *flag.FlagSet, cfg *node.Config) func() error {
	apply := node.RegisterFlags(fs, cfg)
	defaults := configDefaults(node.DefaultConfig())
	fs.VisitAll(func(f *flag.Flag) {
		env := node.EnvName(f.Name)
		if !strings.Contains(f.Usage, env) {
			return // not a configuration key
		}
		what, ok := configKeyHelp[f.Name]
		if !ok {
			what = fmt.Sprintf("the configuration key %s", f.Name)
		}
		f.Usage = fmt.Sprintf("%s (env %s)", what, env)
		// Only the help shows DefValue: the flag's value stays unset
		// unless given, so the file and the environment still apply.
		f.DefValue = defaults[f.Name]
	})
	return apply
}

// configDefaults renders every key's value in cfg as a flag would take
// it: lists comma-separated, durations as "1s"; zero values are "".
func configDefaults(cfg node.Config) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			key := t.Field(i).Tag.Get("toml")
			if key == "" {
				continue
			}
			if prefix != "" {
				key = prefix + "." + key
			}
			f := v.Field(i)
			if f.Kind() == reflect.Struct {
				walk(key, f)
				continue
			}
			if f.IsZero() {
				continue
			}
			switch x := f.Interface().(type) {
			case []string:
				out[key] = strings.Join(x, ",")
			case node.Duration:
				out[key] = time.Duration(x).String()
			default:
				out[key] = fmt.Sprint(x)
			}
		}
	}
	walk("", reflect.ValueOf(cfg))
	return out
}
