package admission

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
)

// joinBodyLimit is the size handleJoin reads a join request up to.
const joinBodyLimit = 64 << 10

// recordingReplica answers the commands the module proposes and keeps
// them; the module's other uses of a replica are not reached by a join.
type recordingReplica struct {
	Replica
	mu      sync.Mutex
	applied []consensus.Command
}

func (r *recordingReplica) Apply(_ context.Context, cmd consensus.Command) (consensus.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, cmd)
	return consensus.Result{Index: uint64(len(r.applied))}, nil
}

func (r *recordingReplica) take() []consensus.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.applied
	r.applied = nil
	return out
}

// joinHost and joinGater stand in for the libp2p host and the connection
// gater, which a join request does not reach.
type joinHost struct{ host.Host }
type joinGater struct{ Gater }

// authorityState is replicated state holding only the authority's key.
type authorityState struct{ key ed25519.PublicKey }

func (s authorityState) Get(k []byte) ([]byte, bool, error) {
	if string(k) == "membership/authority" {
		return s.key, true, nil
	}
	return nil, false, nil
}
func (authorityState) Iterate([]byte, func(k, v []byte) error) error { return nil }
func (authorityState) IterateFrom(_, _ []byte, _ func(k, v []byte) error) error {
	return nil
}

// joiner is a node with its key and its certificate.
type joiner struct {
	key  crypto.PrivKey
	peer peer.ID
	cert string
}

func newJoiner(tb testing.TB, authority ed25519.PrivateKey, code string) joiner {
	tb.Helper()
	priv, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	issued := time.Now().Add(-time.Minute).Truncate(time.Second)
	cert, _, err := federation.IssueCertificate(authority, federation.Certificate{
		Region: code, Name: federation.RegionNames[code], Peer: id, Role: federation.RoleNonvoter,
		Addrs: []string{"/ip4/10.16.0.1/tcp/4001"}, IssuedAt: issued, Expiry: issued.Add(365 * 24 * time.Hour),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return joiner{key: priv, peer: id, cert: cert}
}

// request is the join request body the node sends, signed with signer.
func (j joiner) request(tb testing.TB, at time.Time, signer crypto.PrivKey) []byte {
	tb.Helper()
	sig, err := signer.Sign(JoinMessage(j.cert, at))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(JoinRequest{Certificate: j.cert, At: at.UTC(), Signature: base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzJoinRequest feeds a member's join endpoint (POST
// /v1/federation/join, open to any node that can reach it) what a node
// could send. The body limit holds; every refusal is an OperationOutcome
// and proposes nothing; a request is admitted only when its certificate
// is the authority's, its signature is the certified node's over the
// certificate and a time within the allowed skew, and the peer is not
// revoked, and then exactly that certificate is proposed; a revoked node
// is answered with its revocation.
func FuzzJoinRequest(f *testing.F) {
	authPub, authPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	revocations, err := federation.OpenRevocationList(filepath.Join(f.TempDir(), "revocations"), authPub)
	if err != nil {
		f.Fatal(err)
	}
	replica := &recordingReplica{}
	m, err := New(Config{Region: "030"}, Deps{
		Replica: replica, Host: joinHost{}, Gater: joinGater{}, Revocations: revocations,
		Caller: func(*http.Request) (index.Caller, bool) { return index.Caller{}, false },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Members().Reload(authorityState{authPub}); err != nil {
		f.Fatal(err)
	}

	puglia := newJoiner(f, authPriv, "160")
	revoked := newJoiner(f, authPriv, "190")
	rv, _, err := federation.IssueRevocation(authPriv, federation.Revocation{Region: "190", Peer: revoked.peer, Reason: "node key lost"})
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := revocations.Add(rv); err != nil {
		f.Fatal(err)
	}
	_, otherAuthority, _ := ed25519.GenerateKey(rand.Reader)
	stranger := newJoiner(f, otherAuthority, "160")
	now := time.Now()
	valid := puglia.request(f, now, puglia.key)
	f.Add(valid)
	f.Add(revoked.request(f, now, revoked.key))
	f.Add(puglia.request(f, now.Add(-time.Hour), puglia.key))
	f.Add(puglia.request(f, now, revoked.key))
	f.Add(stranger.request(f, now, stranger.key))
	f.Add(append(bytes.Clone(valid), bytes.Repeat([]byte(" "), joinBodyLimit)...))
	f.Add([]byte(`{"certificate":"a.b.c","at":"2026-12-01T10:00:00Z","signature":"AAAA"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))

	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		m.handleJoin(rec, httptest.NewRequest(http.MethodPost, "/v1/federation/join", bytes.NewReader(body)))
		proposed := replica.take()
		if len(body) > joinBodyLimit && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("a body of %d bytes answered %d, want 413", len(body), rec.Code)
		}
		if rec.Code != http.StatusOK {
			switch rec.Code {
			case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var oo struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" {
				t.Fatalf("the refusal (%d) is not an OperationOutcome: %s", rec.Code, rec.Body)
			}
			if len(proposed) != 0 {
				t.Fatalf("a refused join (%d) proposed %d commands", rec.Code, len(proposed))
			}
			if tok := rec.Header().Get(revocationHeader); tok != "" {
				r, err := federation.VerifyRevocation(tok, authPub)
				if err != nil || rec.Code != http.StatusForbidden {
					t.Fatalf("answered %d with a revocation that is not the authority's: %v", rec.Code, err)
				}
				if _, ok := revocations.Has(r.Peer); !ok {
					t.Fatalf("answered with the revocation of %s, not in the list", r.Peer)
				}
			}
			return
		}

		// Admitted: check on its own everything that admits a node.
		var req JoinRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("admitted a body that is not a join request: %v", err)
		}
		cert, err := federation.VerifyCertificate(req.Certificate, authPub, time.Now())
		if err != nil {
			t.Fatalf("admitted a certificate that is not the authority's: %v", err)
		}
		if d := time.Since(req.At); d > maxJoinSkew+time.Minute || d < -maxJoinSkew-time.Minute {
			t.Fatalf("admitted a request %v off the clock", d)
		}
		pub, err := cert.Peer.ExtractPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.StdEncoding.DecodeString(req.Signature)
		if ok, verr := pub.Verify(JoinMessage(req.Certificate, req.At), sig); err != nil || verr != nil || !ok {
			t.Fatal("admitted a request the certified node did not sign")
		}
		if _, ok := revocations.Has(cert.Peer); ok {
			t.Fatalf("admitted revoked peer %s", cert.Peer)
		}
		if len(proposed) != 1 || proposed[0].Type != membership.TypePutRegion {
			t.Fatalf("an admission proposed %+v, want one %s", proposed, membership.TypePutRegion)
		}
		var put struct {
			Certificates []string `json:"certificates"`
		}
		if err := json.Unmarshal(proposed[0].Payload, &put); err != nil || len(put.Certificates) != 1 || put.Certificates[0] != req.Certificate {
			t.Fatalf("an admission proposed %s, not the presented certificate: %v", proposed[0].Payload, err)
		}
		var resp JoinResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Region.Code != cert.Region || resp.Region.Peer != cert.Peer {
			t.Fatalf("admission answered %s: %v", rec.Body, err)
		}
	})
}
