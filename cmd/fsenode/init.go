package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// initCmd prepares a region's data directory: the node's identity key, the
// region's identity-provider key and its public JWKS, and a commented
// sample configuration. It prints the peer ID the authority certifies.
func initCmd(args []string) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	dir := fs.String("dir", "", "the region's data directory")
	region := fs.String("region", "", "region code (ISTAT), e.g. 030")
	issuer := fs.String("issuer", "", "the iss of the region's tokens (default urn:fsenet:idp:CODE)")
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
	if *issuer == "" {
		*issuer = defaultIssuer(*region)
	}
	id, err := initRegion(abs)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(abs, "region.toml")
	sample := fmt.Sprintf(`# %[1]s (%[2]s): fsenet node configuration.
# Every key can also be set as FSENET_<SECTION>_<KEY> or --<section>.<key>;
# the environment overrides this file and flags override both.

region = %[2]q
data_dir = %[3]q        # keys, Raft log and state; relative paths below are under it

[http]
listen = "127.0.0.1:8080"   # API, health and metrics

[p2p]
listen = ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]
key_file = "node.key"       # this node's identity: peer ID %[4]s
# psk_file = "swarm.key"    # optional private network; TCP only
# Member regions as CODE=MULTIADDR/p2p/PEERID, admitted until this node has
# the replicated membership:
peers = []
# HTTP URLs of member nodes that admit this node when it joins:
join = []

[authority]
public_key_file = "authority.pub"    # the national authority's public key
certificate_file = "region.cert"     # this node's membership certificate

[idp]
# The region's identity provider: its tokens' issuer and public keys, which
# the node publishes to the federation. Rotate by adding the new key to the
# file, then removing the old one once no token signed by it is in use.
issuer = %[5]q
public_keys_file = "idp.jwks"

[raft]
bootstrap = false           # true on the one region that founds the federation
# heartbeat_timeout = "1s"
# election_timeout = "1s"

[log]
level = "info"              # debug, info, warn, error
`, name, *region, abs, id, *issuer)
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
	fmt.Printf("region %s (%s)\npeer ID %s\nconfiguration %s\nIdP signing key %s (keep it with the region's identity provider)\n",
		*region, name, id, cfgPath, filepath.Join(abs, "idp.key"))
	fmt.Printf("next: the authority runs\n  fsenode authority certify --region %s --peer %s --role nonvoter --addrs /ip4/HOST/tcp/4001 --out region.cert\nand sends region.cert and authority.pub to this directory\n", *region, id)
	return nil
}

func defaultIssuer(code string) string { return "urn:fsenet:idp:" + code }

// initRegion creates, where missing, the node key (node.key), the IdP
// signing key (idp.key) and its public JWKS (idp.jwks) in dir, and returns
// the node's peer ID. Existing files are kept.
func initRegion(dir string) (peer.ID, error) {
	key, err := federation.LoadOrCreateIdentity(filepath.Join(dir, "node.key"))
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", err
	}
	idpKey, err := federation.LoadIdPKey(filepath.Join(dir, "idp.key"))
	if errors.Is(err, fs.ErrNotExist) {
		idpKey, err = federation.GenerateIdPKey(filepath.Join(dir, "idp.key"))
	}
	if err != nil {
		return "", err
	}
	jwksPath := filepath.Join(dir, "idp.jwks")
	if _, err := os.Stat(jwksPath); errors.Is(err, fs.ErrNotExist) {
		if err := writeJWKS(jwksPath, idpKey); err != nil {
			return "", err
		}
	}
	return id, nil
}

func writeJWKS(path string, keys ...jwk.Key) error {
	set, err := federation.PublicJWKS(keys...)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
