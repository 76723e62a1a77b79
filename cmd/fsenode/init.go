package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// initCmd prepares a region's data directory: the node's identity key and
// a commented sample configuration. It prints the peer ID the authority
// needs to certify the node.
func initCmd(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	dir := fs.String("dir", "", "the region's data directory")
	region := fs.String("region", "", "region code (ISTAT), e.g. 030")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	name := federation.RegionNames[*region]
	if name == "" {
		return fmt.Errorf("--region %q: not a region code (e.g. 030 for Lombardia)", *region)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	key, err := federation.LoadOrCreateIdentity(filepath.Join(abs, "node.key"))
	if err != nil {
		return err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(abs, "region.toml")
	sample := fmt.Sprintf(`# %[1]s (%[2]s): fsenet node configuration.
# Every key can also be set as FSENET_<SECTION>_<KEY> or --<section>.<key>;
# the environment overrides this file and flags override both.

region = %[2]q
data_dir = %[3]q        # keys, Raft log and state

[http]
listen = "127.0.0.1:8080"   # API, health and metrics

[p2p]
listen = ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]
key_file = "node.key"       # this node's identity: peer ID %[4]s
# psk_file = "swarm.key"    # optional private network; TCP only
# The other founding regions as CODE=MULTIADDR/p2p/PEERID, admitted until the
# replicated membership is known:
peers = []

[raft]
bootstrap = false           # true on exactly one founding region
# heartbeat_timeout = "1s"
# election_timeout = "1s"

[log]
level = "info"              # debug, info, warn, error
`, name, *region, abs, id)
	f, err := os.OpenFile(cfgPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	switch {
	case os.IsExist(err):
		fmt.Fprintf(os.Stderr, "%s exists; left as it is\n", cfgPath)
	case err != nil:
		return err
	default:
		if _, err := f.WriteString(sample); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("region %s (%s)\npeer ID %s\nconfiguration %s\n", *region, name, id, cfgPath)
	return nil
}
