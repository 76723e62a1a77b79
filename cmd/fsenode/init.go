package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// initCmd prepares a region's data directory: the node's identity key, the
// region's identity-provider key and its public JWKS, and a commented
// sample configuration. It prints the peer ID the authority certifies.
func initCmd(args []string) error {
	cl := newCmdLine("init", "--dir DIR --region CODE [--founder] [--issuer ISS]", `
Prepares a region's data directory: the node's identity key (node.key), the
region's identity-provider key (idp.key) and its public keys (idp.jwks), and
a commented configuration (region.toml). Existing files are kept. It prints
the node's peer ID, which the national authority certifies, and what to do
next.`)
	dir := cl.fs.String("dir", "", "the region's data directory (created if missing)")
	region := cl.fs.String("region", "", "the region's ISTAT code, e.g. 030 for Lombardia")
	founder := cl.fs.Bool("founder", false, "this region founds the federation: its configuration bootstraps Raft, and it is certified as a voter")
	issuer := cl.fs.String("issuer", "", "the iss of the region's tokens (default urn:fsenet:idp:CODE)")
	cl.require("dir", "region")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	name := federation.RegionNames[*region]
	if name == "" {
		return usagef("init", "--region %q: not a region code (e.g. 030 for Lombardia)", *region)
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
bootstrap = %[6]t           # true on the one region that founds the federation
# heartbeat_timeout = "1s"
# election_timeout = "1s"

[log]
level = "info"              # debug, info, warn, error
`, name, *region, abs, id, *issuer, *founder)
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
	fmt.Print(initNextSteps(*region, id, abs, cfgPath, *founder))
	return nil
}

// initNextSteps is what a region does after init: the authority certifies
// its peer ID (a founder as a voter: the founding node must be one), the
// region receives the certificate and the authority's public key, a
// region that does not found the federation names a member to join
// through, and the node starts.
func initNextSteps(region string, id peer.ID, dir, cfgPath string, founder bool) string {
	var b strings.Builder
	role := "nonvoter"
	if founder {
		role = "voter"
	}
	fmt.Fprintf(&b, "\nnext:\n1. the authority certifies this node (where authority.key is kept):\n")
	fmt.Fprintf(&b, "     fsenode authority certify --key authority.key --region %s --peer %s --role %s --addrs /ip4/HOST/tcp/4001 --out region.cert\n", region, id, role)
	if !founder {
		fmt.Fprintf(&b, "   (--role voter for one of the federation's first 3 or 5 regions)\n")
	}
	fmt.Fprintf(&b, "2. copy region.cert and the authority's authority.pub into %s\n", dir)
	if founder {
		fmt.Fprintf(&b, "3. start the node; it founds the federation ([raft] bootstrap = true in %s):\n", filepath.Base(cfgPath))
	} else {
		fmt.Fprintf(&b, "3. in %s, set [p2p] join to a member's URL, e.g. join = [\"http://10.0.0.1:8080\"]; then start the node:\n", filepath.Base(cfgPath))
	}
	fmt.Fprintf(&b, "     fsenode run --config %s\n", cfgPath)
	return b.String()
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
