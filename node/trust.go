package node

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership/admission"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/node/httpapi"
)

// trust is the node's standing in the federation, read from its files
// before anything starts.
type trust struct {
	key       crypto.PrivKey
	peer      peer.ID
	authority ed25519.PublicKey
	certToken string
	cert      federation.Certificate
	revoked   *federation.RevocationList
}

// loadTrust reads the node key, the authority's public key and the node's
// certificate, and checks that the certificate is the authority's, is
// valid now, names this node's peer ID and this region.
func (n *Node) loadTrust() error {
	var err error
	t := &n.trust
	if t.key, err = federation.LoadIdentity(n.path(n.cfg.P2P.KeyFile)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("p2p.key_file: %w: create the node key with fsenode init, then have the authority certify its peer ID", err)
		}
		return fmt.Errorf("p2p.key_file: %w", err)
	}
	if t.peer, err = peer.IDFromPrivateKey(t.key); err != nil {
		return fmt.Errorf("p2p.key_file: %w", err)
	}
	if t.authority, err = federation.LoadPublicKeyFile(n.path(n.cfg.Authority.PublicKeyFile)); err != nil {
		return fmt.Errorf("authority.public_key_file: %w", err)
	}
	b, err := os.ReadFile(n.path(n.cfg.Authority.CertificateFile))
	if err != nil {
		return fmt.Errorf("authority.certificate_file: %w", err)
	}
	t.certToken = strings.TrimSpace(string(b))
	t.cert, err = federation.VerifyCertificateFor(t.certToken, t.authority, t.peer, time.Now())
	if err != nil {
		return fmt.Errorf("authority.certificate_file: not a valid certificate for this node (peer %s) from the authority key in authority.public_key_file: %w", t.peer, err)
	}
	if t.revoked, err = federation.OpenRevocationList(n.path(n.cfg.Authority.RevocationsFile), t.authority); err != nil {
		return fmt.Errorf("authority.revocations_file: %w", err)
	}
	if t.cert.Region != n.cfg.Region {
		return fmt.Errorf("authority.certificate_file: the certificate is for region %s, this node is region %s", t.cert.Region, n.cfg.Region)
	}
	if left := time.Until(t.cert.Expiry); left < 30*24*time.Hour {
		n.log.Warn("membership certificate expires soon: ask the authority for a new one", "expiry", t.cert.Expiry, "left", left.Round(time.Hour).String())
	}
	return nil
}

// ed25519 is the node key as an Ed25519 private key (the node key is one:
// its public half is the peer ID).
func (t trust) ed25519() (ed25519.PrivateKey, error) {
	raw, err := t.key.Raw()
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("the node key is not an Ed25519 key")
	}
	return ed25519.PrivateKey(raw), nil
}

// identity is the node's standing as the admission module takes it.
func (t trust) identity() admission.Identity {
	return admission.Identity{Key: t.key, Peer: t.peer, Authority: t.authority, CertToken: t.certToken, Cert: t.cert}
}

// Restore builds the node's state from a snapshot stream into its empty
// data directory: the node then starts as the only voter of the restored
// federation (see consensus.RestoreSnapshot).
func Restore(cfg Config, r io.Reader, log *slog.Logger) (uint64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, fmt.Errorf("invalid configuration:\n%w", err)
	}
	n := &Node{cfg: cfg}
	key, err := federation.LoadIdentity(n.path(cfg.P2P.KeyFile))
	if err != nil {
		return 0, fmt.Errorf("p2p.key_file: %w", err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return 0, err
	}
	return consensus.RestoreSnapshot(filepath.Join(cfg.DataDir, "consensus"), consensus.Server{ID: cfg.Region, Peer: id, Voter: true}, r, log)
}

// unlessRevoked stops a revoked node serving anything but its health,
// readiness, metrics and the federation's own routes: its data stays on
// disk for the operator, and every other request is answered 503 saying
// why.
func (n *Node) unlessRevoked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, revoked := n.members.Revoked(); revoked && !servedWhenRevoked(r.URL.Path) {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable,
				"the national authority revoked this node's membership of the federation: it no longer serves clinical data"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// servedWhenRevoked are the paths a revoked node still answers.
func servedWhenRevoked(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/fhir/metadata", "/v1/cluster":
		return true
	}
	return strings.HasPrefix(path, "/v1/federation/")
}
