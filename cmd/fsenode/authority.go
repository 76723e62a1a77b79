package main

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

func authorityUsage() {
	fmt.Fprint(os.Stderr, `Usage: fsenode authority COMMAND [flags]

The national authority's tools. They run where the authority's private key is
kept, never on a region's node.

  init     create the authority's key pair (authority.key, authority.pub)
  certify  sign a region's membership certificate for a node's peer ID
  revoke   sign the revocation of a region's node
  promote  re-issue a region's certificate with the voter role
  demote   re-issue a region's certificate with the non-voter role

A signed certificate or revocation takes effect when it reaches the federation:
  fsectl --node URL --token $FSENET_AUTHORITY_TOKEN region add FILE
  fsectl --node URL --token $FSENET_AUTHORITY_TOKEN region revoke FILE
(a new region's node also presents its own certificate when it joins).

Run "fsenode authority COMMAND -h" for a command's flags.
`)
}

func authorityCmd(args []string) error {
	if len(args) == 0 {
		authorityUsage()
		return errUsage
	}
	switch args[0] {
	case "init":
		return authorityInit(args[1:])
	case "certify":
		return authorityCertify(args[1:])
	case "revoke":
		return authorityRevoke(args[1:])
	case "promote":
		return authorityRole(args[1:], "promote", federation.RoleVoter)
	case "demote":
		return authorityRole(args[1:], "demote", federation.RoleNonvoter)
	case "-h", "-help", "--help", "help":
		authorityUsage()
		return nil
	}
	fmt.Fprintf(os.Stderr, "fsenode authority: unknown command %q\n\n", args[0])
	authorityUsage()
	return errUsage
}

func authorityInit(args []string) error {
	cl := newCmdLine("authority init", "[--dir DIR]", `
Creates the national authority's key pair: authority.key (private, 0600; kept
offline) and authority.pub (given to every region). An existing key is never
overwritten.`)
	dir := cl.fs.String("dir", ".", "directory for authority.key (private, 0600) and authority.pub (give this one to every region)")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	priv, err := federation.GenerateKeyFile(filepath.Join(*dir, "authority.key"))
	if err != nil {
		return err
	}
	pubPath := filepath.Join(*dir, "authority.pub")
	if err := federation.WritePublicKeyFile(pubPath, priv.Public().(ed25519.PublicKey)); err != nil {
		return err
	}
	fmt.Printf("authority key: %s\npublic key for the regions: %s\n", filepath.Join(*dir, "authority.key"), pubPath)
	return nil
}

func authorityCertify(args []string) error {
	cl := newCmdLine("authority certify", "--region CODE --peer PEERID [--role voter|nonvoter] [--addrs MULTIADDRS] [flags]", `
Signs a region's membership certificate for its node's peer ID (printed by
"fsenode init"). The region's node presents it when it joins; the authority
can also record it with "fsectl region add".`)
	keyPath := cl.fs.String("key", "authority.key", "the authority's private key")
	region := cl.fs.String("region", "", "region code (ISTAT), e.g. 030")
	peerID := cl.fs.String("peer", "", "the region node's libp2p peer ID (printed by fsenode init)")
	role := cl.fs.String("role", federation.RoleNonvoter, "voter or nonvoter (the founding region and the first 3 or 5 regions are voters)")
	addrs := cl.fs.String("addrs", "", "comma-separated multiaddrs where the node listens, e.g. /ip4/10.0.0.1/tcp/4001")
	valid := cl.fs.Duration("valid", 365*24*time.Hour, "validity from now")
	out := cl.fs.String("out", "", "write the certificate here (default: standard output)")
	cl.require("region", "peer")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	priv, err := federation.LoadPrivateKeyFile(*keyPath)
	if err != nil {
		return err
	}
	if federation.RegionNames[*region] == "" {
		return usagef("authority certify", "--region %q: not a region code (e.g. 030 for Lombardia)", *region)
	}
	p, err := peer.Decode(*peerID)
	if err != nil {
		return usagef("authority certify", "--peer %q: not a peer ID: %v", *peerID, err)
	}
	if *valid <= 0 {
		return usagef("authority certify", "--valid must be positive")
	}
	c := federation.Certificate{Region: *region, Name: federation.RegionNames[*region], Peer: p, Role: *role,
		Expiry: time.Now().Add(*valid).UTC().Truncate(time.Second)}
	for _, a := range strings.Split(*addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Addrs = append(c.Addrs, a)
		}
	}
	return certifyAndWrite(priv, *keyPath, c, *out)
}

func authorityRevoke(args []string) error {
	cl := newCmdLine("authority revoke", "--region CODE --peer PEERID --reason TEXT [flags]", `
Signs the revocation of a region's node key and appends it to the authority's
revocation list. It takes effect when it reaches the federation:
"fsectl region revoke FILE".`)
	fs := cl.fs
	keyPath := fs.String("key", "authority.key", "the authority's private key")
	region := fs.String("region", "", "region code (ISTAT)")
	peerID := fs.String("peer", "", "the revoked node's peer ID")
	reason := fs.String("reason", "", "why, for the audit trail")
	out := fs.String("out", "", "write the revocation here (default: standard output)")
	list := fs.String("revocations", "", "the authority's revocation list, appended to (default: revocations beside --key)")
	cl.require("region", "peer", "reason")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	priv, err := federation.LoadPrivateKeyFile(*keyPath)
	if err != nil {
		return err
	}
	revs, err := authorityRevocations(priv, *keyPath, *list)
	if err != nil {
		return err
	}
	p, err := peer.Decode(*peerID)
	if err != nil {
		return usagef("authority revoke", "--peer %q: not a peer ID: %v", *peerID, err)
	}
	if *reason == "" {
		return usagef("authority revoke", "--reason is empty: it goes into the audit trail")
	}
	if old, ok := revs.Has(p); ok {
		fmt.Fprintf(os.Stderr, "peer %s was already revoked on %s (id %s): the same revocation follows\n", p, old.IssuedAt.Format(time.RFC3339), old.ID)
		return writeOut(*out, old.Token)
	}
	tok, issued, err := federation.IssueRevocation(priv, federation.Revocation{Region: *region, Peer: p, Reason: *reason})
	if err != nil {
		return err
	}
	if _, _, err := revs.Add(tok); err != nil {
		return err
	}
	if err := writeOut(*out, tok); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "revoked %s peer %s (id %s)\n", issued.Region, issued.Peer, issued.ID)
	return nil
}

// authorityRole re-issues a certificate with another Raft role: same
// region, peer and addresses, a new ID and validity.
func authorityRole(args []string, verb, role string) error {
	cl := newCmdLine("authority "+verb, "--cert FILE [flags]", fmt.Sprintf(`
Re-issues a region's certificate with the %s role: the same region, peer and
addresses, a new id and validity.`, role))
	keyPath := cl.fs.String("key", "authority.key", "the authority's private key")
	certPath := cl.fs.String("cert", "", "the region's current certificate")
	valid := cl.fs.Duration("valid", 365*24*time.Hour, "validity from now")
	out := cl.fs.String("out", "", "write the new certificate here (default: standard output)")
	cl.require("cert")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	priv, err := federation.LoadPrivateKeyFile(*keyPath)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*certPath)
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	old, err := federation.VerifyCertificate(strings.TrimSpace(string(b)), priv.Public().(ed25519.PublicKey), time.Now())
	if err != nil {
		return fmt.Errorf("--cert: %w (an expired certificate is replaced with authority certify)", err)
	}
	if old.Role == role {
		return fmt.Errorf("%s is already a %s", old.Region, role)
	}
	c := federation.Certificate{Region: old.Region, Name: old.Name, Peer: old.Peer, Role: role, Addrs: old.Addrs,
		Expiry: time.Now().Add(*valid).UTC().Truncate(time.Second)}
	return certifyAndWrite(priv, *keyPath, c, *out)
}

// certifyAndWrite signs c, writes the certificate to out (standard output
// when empty) and says what was certified on standard error.
func certifyAndWrite(priv ed25519.PrivateKey, keyPath string, c federation.Certificate, out string) error {
	revs, err := authorityRevocations(priv, keyPath, "")
	if err != nil {
		return err
	}
	if r, ok := revs.Has(c.Peer); ok {
		return fmt.Errorf("peer %s of region %s was revoked on %s (%s): a revoked node key is never certified again; certify the region's new node key",
			c.Peer, r.Region, r.IssuedAt.Format(time.RFC3339), r.Reason)
	}
	tok, issued, err := federation.IssueCertificate(priv, c)
	if err != nil {
		return err
	}
	if err := writeOut(out, tok); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "certified %s (%s) peer %s as %s until %s (id %s)\n", issued.Region, issued.Name, issued.Peer, issued.Role, issued.Expiry.Format(time.RFC3339), issued.ID)
	return nil
}

func writeOut(path, text string) error {
	if path == "" {
		fmt.Println(text)
		return nil
	}
	return os.WriteFile(path, []byte(text+"\n"), 0o644)
}

// authorityRevocations opens the authority's revocation list: every
// revocation it signed, one per line, appended and never rewritten (the
// file a node's authority.revocations_file takes as it is). Its default
// place is beside the authority's key.
func authorityRevocations(priv ed25519.PrivateKey, keyPath, path string) (*federation.RevocationList, error) {
	if path == "" {
		path = filepath.Join(filepath.Dir(keyPath), "revocations")
	}
	return federation.OpenRevocationList(path, priv.Public().(ed25519.PublicKey))
}
