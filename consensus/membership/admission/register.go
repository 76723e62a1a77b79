package admission

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

// found makes this node the first voter of a new federation and records
// the authority key and its own certificate. On a node founded before it
// only completes what an interrupted start left undone.
func (m *Module) found(ctx context.Context) error {
	err := m.d.Replica.Bootstrap([]consensus.Server{{ID: m.cfg.Region, Peer: m.id.Peer, Voter: true}})
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return err
	}
	if err == nil {
		m.log.Info("founding a new federation")
	}
	if v := m.members.View(); v.Authority != nil {
		if !v.Authority.Equal(m.id.Authority) {
			return fmt.Errorf("authority.public_key_file: the federation's state holds another authority key")
		}
		return nil
	}
	cmd, err := membership.SetAuthority(m.id.Authority)
	if err != nil {
		return err
	}
	cmd.Key = attemptKey("found-authority")
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := m.d.Replica.Apply(actx, cmd); err != nil {
		return fmt.Errorf("record the authority key: %w", err)
	}
	return nil
}

// register keeps this node's certificate and IdP keys current in the
// replicated state: a node not yet a member asks a member to admit it; a
// member whose certificate file is newer than the replicated one (renewed,
// promoted, demoted) submits it; the IdP key file is published when it
// changes.
func (m *Module) register(ctx context.Context) {
	if _, revoked := m.Revoked(); revoked {
		return // a revoked node asks nothing of the federation
	}
	v := m.members.View()
	if v.Authority != nil && !v.Authority.Equal(m.id.Authority) {
		m.log.Error("the federation's authority key differs from authority.public_key_file; not registering")
		return
	}
	own, member := v.Region(m.cfg.Region)
	// Current: the replicated certificate is this one, or one for this
	// node at least as recent (the authority promoted or renewed it with
	// fsectl).
	current := member && own.Peer == m.id.Peer && (own.CertID == m.id.Cert.ID || !own.IssuedAt.Before(m.id.Cert.IssuedAt))
	switch {
	case current:
	case m.refused == m.id.Cert.ID && time.Since(m.refusedAt) < refusedRetry:
		return
	case (member && own.Peer == m.id.Peer && m.leaderKnown()) || (v.Authority != nil && m.leaderKnown() && m.inRaft()):
		// A member with a new certificate, or the founding node, submits
		// it through Raft.
		cmd, err := membership.PutRegion(time.Now(), m.id.CertToken)
		if err == nil {
			cmd.Key = attemptKey("cert-" + m.id.Cert.ID)
			_, err = m.d.Replica.Apply(ctx, cmd)
		}
		m.noteRegistration(err)
		return
	default:
		m.join(ctx)
		return
	}
	m.publishIdP(ctx, v)
}

func (m *Module) noteRegistration(err error) {
	switch {
	case err == nil:
		m.log.Info("membership certificate recorded", "certificate", m.id.Cert.ID, "role", m.id.Cert.Role)
	case errors.Is(err, consensus.ErrConflict) || errors.Is(err, consensus.ErrForbidden) || errors.Is(err, consensus.ErrInvalid):
		m.refused, m.refusedAt = m.id.Cert.ID, time.Now()
		m.log.Error("the federation refused this node's certificate; retrying in a minute", "certificate", m.id.Cert.ID, "err", err)
	default:
		m.log.Warn("could not record the membership certificate yet", "err", err)
	}
}

func (m *Module) leaderKnown() bool { return m.d.Replica.Status().LeaderID != "" }

func (m *Module) inRaft() bool {
	servers, err := m.d.Replica.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if s.ID == m.cfg.Region {
			return true
		}
	}
	return false
}

// JoinRequest is what a node sends a member to be admitted: its
// certificate and proof that it holds the certified key.
type JoinRequest struct {
	Certificate string    `json:"certificate"`
	At          time.Time `json:"at"`
	Signature   string    `json:"signature"` // base64 of the node key's signature over JoinMessage
}

// JoinResponse lists the members' certificates, so the new node can admit
// them before it has the replicated state.
type JoinResponse struct {
	Region  membership.Region `json:"region"`
	Members []string          `json:"members"`
}

// JoinMessage is the text a joining node signs with its node key: the
// certificate and the request's time, so a request cannot be replayed later.
func JoinMessage(cert string, at time.Time) []byte {
	return []byte("fsenet-join-v1\n" + cert + "\n" + at.UTC().Format(time.RFC3339Nano))
}

// refusedRetry is how long a node waits before presenting a refused
// certificate again (a clock fixed, a revocation lifted by a new key).
const refusedRetry = time.Minute

// maxJoinSkew bounds the age of a join request.
const maxJoinSkew = 5 * time.Minute

// join asks the configured members to admit this node.
func (m *Module) join(ctx context.Context) {
	if len(m.cfg.Join) == 0 {
		return
	}
	at := time.Now().UTC()
	sig, err := m.id.Key.Sign(JoinMessage(m.id.CertToken, at))
	if err != nil {
		m.log.Error("sign join request", "err", err)
		return
	}
	body, _ := json.Marshal(JoinRequest{Certificate: m.id.CertToken, At: at, Signature: base64.StdEncoding.EncodeToString(sig)})
	for _, base := range m.cfg.Join {
		resp, err := m.postJoin(ctx, base, body)
		if errors.Is(err, federation.ErrRevoked) {
			return
		}
		if err != nil {
			// A member not listening yet (the federation starting at once)
			// is asked again each second, and /readyz says the node waits:
			// info. An answer that refuses or fails is a warning.
			level, unanswered := slog.LevelWarn, (*url.Error)(nil)
			if errors.As(err, &unanswered) {
				level = slog.LevelInfo
			}
			m.log.Log(ctx, level, "join request failed", "url", base, "err", err)
			if errors.Is(err, errRefused) {
				m.refused, m.refusedAt = m.id.Cert.ID, time.Now()
				return
			}
			continue
		}
		var ids []peer.ID
		for _, tok := range resp.Members {
			c, err := federation.VerifyCertificate(tok, m.id.Authority, time.Now())
			if err != nil {
				m.log.Warn("join answer holds an invalid certificate; ignored", "url", base, "err", err)
				continue
			}
			ids = append(ids, c.Peer)
			m.addAddrs(c.Peer, c.Addrs)
		}
		m.d.Gater.AddBootstrap(ids)
		if m.joinedVia == "" {
			m.log.Info("admitted to the federation; waiting for the leader to replicate the state", "url", base, "members", len(ids))
		}
		m.joinedVia = base
		return
	}
}

var errRefused = errors.New("refused")

func (m *Module) postJoin(ctx context.Context, base string, body []byte) (JoinResponse, error) {
	var out JoinResponse
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
	case resp.StatusCode == http.StatusForbidden && m.learnRevocation(resp.Header.Get(revocationHeader)):
		return out, federation.ErrRevoked
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
func (m *Module) publishIdP(ctx context.Context, v membership.View) {
	if m.cfg.IdPKeysFile == "" || !m.leaderKnown() {
		return
	}
	b, err := os.ReadFile(m.cfg.IdPKeysFile)
	if err != nil {
		m.log.Error("idp.public_keys_file", "err", err)
		return
	}
	set, err := federation.ParseJWKS(b)
	if err != nil {
		m.log.Error("idp.public_keys_file: not a valid public JWKS", "err", err)
		return
	}
	canon, err := json.Marshal(set)
	if err != nil {
		return
	}
	if cur, ok := v.IdP(m.cfg.Region); ok && cur.Issuer == m.cfg.IdPIssuer && jsonEqual(cur.JWKS, canon) {
		return
	}
	sig := m.cfg.IdPIssuer + "\n" + string(canon)
	if m.idpSent == sig {
		return // sent, not applied yet or refused: wait for a change
	}
	version := time.Now().UTC()
	if cur, ok := v.IdP(m.cfg.Region); ok && !version.After(cur.Version) {
		version = cur.Version.Add(time.Microsecond) // this clock is behind the record's
	}
	cmd, err := membership.PutIdP(m.id.Key, membership.IdP{Region: m.cfg.Region, Issuer: m.cfg.IdPIssuer, JWKS: canon, Version: version})
	if err == nil {
		_, err = m.d.Replica.Apply(ctx, cmd)
	}
	if err != nil {
		m.log.Warn("could not publish the IdP keys", "err", err)
		if errors.Is(err, consensus.ErrConflict) || errors.Is(err, consensus.ErrForbidden) || errors.Is(err, consensus.ErrInvalid) {
			m.idpSent = sig
		}
		return
	}
	m.idpSent = sig
	m.log.Info("IdP keys published", "issuer", m.cfg.IdPIssuer, "keys", set.Len())
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

// attemptKey is the idempotency key of one attempt at a write: it makes
// Apply's own retries safe, and a later attempt a new command (an
// idempotency key replays the first attempt's result).
func attemptKey(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
