package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// trust is the node's standing in the federation, read from its files
// before anything starts.
type trust struct {
	key       crypto.PrivKey
	peer      peer.ID
	authority ed25519.PublicKey
	certToken string
	cert      federation.Certificate

	// register loop state
	joinedVia string    // the join URL that admitted the node, for logs
	refused   string    // the certificate ID the federation refused
	refusedAt time.Time // retried after refusedRetry
	idpSent   string    // the IdP record last published
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
	if t.cert.Region != n.cfg.Region {
		return fmt.Errorf("authority.certificate_file: the certificate is for region %s, this node is region %s", t.cert.Region, n.cfg.Region)
	}
	if left := time.Until(t.cert.Expiry); left < 30*24*time.Hour {
		n.log.Warn("membership certificate expires soon: ask the authority for a new one", "expiry", t.cert.Expiry, "left", left.Round(time.Hour).String())
	}
	return nil
}

// found makes this node the first voter of a new federation and records
// the authority key and its own certificate. On a node founded before it
// only completes what an interrupted start left undone.
func (n *Node) found(ctx context.Context) error {
	err := n.cons.Bootstrap([]consensus.Server{{ID: n.cfg.Region, Peer: n.trust.peer, Voter: true}})
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return err
	}
	if err == nil {
		n.log.Info("founding a new federation")
	}
	if v := n.members.View(); v.Authority != nil {
		if !v.Authority.Equal(n.trust.authority) {
			return fmt.Errorf("authority.public_key_file: the federation's state holds another authority key")
		}
		return nil
	}
	cmd, err := membership.SetAuthority(n.trust.authority)
	if err != nil {
		return err
	}
	cmd.Key = attemptKey("found-authority")
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := n.cons.Apply(actx, cmd); err != nil {
		return fmt.Errorf("record the authority key: %w", err)
	}
	return nil
}

// register keeps this node's certificate and IdP keys current in the
// replicated state: a node not yet a member asks a member to admit it; a
// member whose certificate file is newer than the replicated one (renewed,
// promoted, demoted) submits it; the IdP key file is published when it
// changes.
func (n *Node) register(ctx context.Context) {
	v := n.members.View()
	if v.Authority != nil && !v.Authority.Equal(n.trust.authority) {
		n.log.Error("the federation's authority key differs from authority.public_key_file; not registering")
		return
	}
	own, member := v.Region(n.cfg.Region)
	// Current: the replicated certificate is this one, or one for this
	// node at least as recent (the authority promoted or renewed it with
	// fsectl).
	current := member && own.Peer == n.trust.peer && (own.CertID == n.trust.cert.ID || !own.IssuedAt.Before(n.trust.cert.IssuedAt))
	switch {
	case current:
	case n.trust.refused == n.trust.cert.ID && time.Since(n.trust.refusedAt) < refusedRetry:
		return
	case (member && own.Peer == n.trust.peer && n.leaderKnown()) || (v.Authority != nil && n.leaderKnown() && n.inRaft()):
		// A member with a new certificate, or the founding node, submits
		// it through Raft.
		cmd, err := membership.PutRegion(time.Now(), n.trust.certToken)
		if err == nil {
			cmd.Key = attemptKey("cert-" + n.trust.cert.ID)
			_, err = n.cons.Apply(ctx, cmd)
		}
		n.noteRegistration(err)
		return
	default:
		n.join(ctx)
		return
	}
	n.publishIdP(ctx, v)
}

func (n *Node) noteRegistration(err error) {
	switch {
	case err == nil:
		n.log.Info("membership certificate recorded", "certificate", n.trust.cert.ID, "role", n.trust.cert.Role)
	case errors.Is(err, consensus.ErrConflict) || errors.Is(err, consensus.ErrForbidden) || errors.Is(err, consensus.ErrInvalid):
		n.trust.refused, n.trust.refusedAt = n.trust.cert.ID, time.Now()
		n.log.Error("the federation refused this node's certificate; retrying in a minute", "certificate", n.trust.cert.ID, "err", err)
	default:
		n.log.Warn("could not record the membership certificate yet", "err", err)
	}
}

func (n *Node) leaderKnown() bool { return n.cons.Status().LeaderID != "" }

func (n *Node) inRaft() bool {
	servers, err := n.cons.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if s.ID == n.cfg.Region {
			return true
		}
	}
	return false
}

// joinRequest is what a node sends a member to be admitted: its
// certificate and proof that it holds the certified key.
type joinRequest struct {
	Certificate string    `json:"certificate"`
	At          time.Time `json:"at"`
	Signature   string    `json:"signature"` // base64 of the node key's signature over joinMessage
}

// joinResponse lists the members' certificates, so the new node can admit
// them before it has the replicated state.
type joinResponse struct {
	Region  membership.Region `json:"region"`
	Members []string          `json:"members"`
}

func joinMessage(cert string, at time.Time) []byte {
	return []byte("fsenet-join-v1\n" + cert + "\n" + at.UTC().Format(time.RFC3339Nano))
}

// refusedRetry is how long a node waits before presenting a refused
// certificate again (a clock fixed, a revocation lifted by a new key).
const refusedRetry = time.Minute

// maxJoinSkew bounds the age of a join request.
const maxJoinSkew = 5 * time.Minute

// join asks the configured members to admit this node.
func (n *Node) join(ctx context.Context) {
	if len(n.cfg.P2P.Join) == 0 {
		return
	}
	at := time.Now().UTC()
	sig, err := n.trust.key.Sign(joinMessage(n.trust.certToken, at))
	if err != nil {
		n.log.Error("sign join request", "err", err)
		return
	}
	body, _ := json.Marshal(joinRequest{Certificate: n.trust.certToken, At: at, Signature: base64.StdEncoding.EncodeToString(sig)})
	for _, base := range n.cfg.P2P.Join {
		resp, err := n.postJoin(ctx, base, body)
		if err != nil {
			n.log.Warn("join request failed", "url", base, "err", err)
			if errors.Is(err, errRefused) {
				n.trust.refused, n.trust.refusedAt = n.trust.cert.ID, time.Now()
				return
			}
			continue
		}
		var ids []peer.ID
		for _, tok := range resp.Members {
			c, err := federation.VerifyCertificate(tok, n.trust.authority, time.Now())
			if err != nil {
				n.log.Warn("join answer holds an invalid certificate; ignored", "url", base, "err", err)
				continue
			}
			ids = append(ids, c.Peer)
			n.addAddrs(c.Peer, c.Addrs)
		}
		n.gater.AddBootstrap(ids)
		if n.trust.joinedVia == "" {
			n.log.Info("admitted to the federation; waiting for the leader to replicate the state", "url", base, "members", len(ids))
		}
		n.trust.joinedVia = base
		return
	}
}

var errRefused = errors.New("refused")

func (n *Node) postJoin(ctx context.Context, base string, body []byte) (joinResponse, error) {
	var out joinResponse
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v1/federation/join", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return out, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusConflict:
		return out, fmt.Errorf("%w: %s: %s", errRefused, resp.Status, outcomeText(b))
	default:
		return out, fmt.Errorf("%s: %s", resp.Status, outcomeText(b))
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("join answer: %w", err)
	}
	return out, nil
}

// publishIdP publishes the region's IdP keys when the file differs from
// the replicated record.
func (n *Node) publishIdP(ctx context.Context, v membership.View) {
	if n.cfg.IdP.PublicKeysFile == "" || !n.leaderKnown() {
		return
	}
	b, err := os.ReadFile(n.path(n.cfg.IdP.PublicKeysFile))
	if err != nil {
		n.log.Error("idp.public_keys_file", "err", err)
		return
	}
	set, err := federation.ParseJWKS(b)
	if err != nil {
		n.log.Error("idp.public_keys_file: not a valid public JWKS", "err", err)
		return
	}
	canon, err := json.Marshal(set)
	if err != nil {
		return
	}
	if cur, ok := v.IdP(n.cfg.Region); ok && cur.Issuer == n.cfg.IdP.Issuer && jsonEqual(cur.JWKS, canon) {
		return
	}
	sig := n.cfg.IdP.Issuer + "\n" + string(canon)
	if n.trust.idpSent == sig {
		return // sent, not applied yet or refused: wait for a change
	}
	version := time.Now().UTC()
	if cur, ok := v.IdP(n.cfg.Region); ok && !version.After(cur.Version) {
		version = cur.Version.Add(time.Microsecond) // this clock is behind the record's
	}
	cmd, err := membership.PutIdP(n.trust.key, membership.IdP{Region: n.cfg.Region, Issuer: n.cfg.IdP.Issuer, JWKS: canon, Version: version})
	if err == nil {
		_, err = n.cons.Apply(ctx, cmd)
	}
	if err != nil {
		n.log.Warn("could not publish the IdP keys", "err", err)
		if errors.Is(err, consensus.ErrConflict) || errors.Is(err, consensus.ErrForbidden) || errors.Is(err, consensus.ErrInvalid) {
			n.trust.idpSent = sig
		}
		return
	}
	n.trust.idpSent = sig
	n.log.Info("IdP keys published", "issuer", n.cfg.IdP.Issuer, "keys", set.Len())
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// outcomeText extracts the diagnostics of an OperationOutcome body.
func outcomeText(b []byte) string {
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
		return oo.Issue[0].Diagnostics
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

func peerID(s string) (peer.ID, error) { return peer.Decode(s) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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

// attemptKey is the idempotency key of one attempt at a write: it makes
// Apply's own retries safe, and a later attempt a new command (an
// idempotency key replays the first attempt's result).
func attemptKey(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
