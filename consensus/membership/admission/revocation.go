package admission

import (
	"context"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/node/module"
)

// Revocations outlive the replicated state. Every revocation the node sees
// (applied in the state, posted to it, or sent to it by the member that
// received it) is appended to the node's revocation list, a file outside
// the data directory. The list is the floor under the state: its peers are
// refused by the gater, removed from Raft by the leader and their regions'
// tokens refused, whatever the state says; and revocations the state lacks
// (a restore from before them) are put back into it.
//
// A node that finds itself in the list is revoked: it stops serving
// clinical data, says so in /readyz, a metric and one log line, and keeps
// its data for the operator.

// noticeProtocol carries a revocation to the peer it revokes, so the node
// learns of it before the federation's gaters cut it off.
var noticeProtocol = federation.ProtocolID("revoked", "1.0.0")

// noticeTimeout bounds the delivery of a revocation notice.
const noticeTimeout = 3 * time.Second

// registerRevocations serves the notice protocol and the revocation
// metrics.
func (m *Module) registerRevocations(r *module.Registrar) error {
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse = 16<<10, 64
	federation.Serve(r.Protocols, noticeProtocol, opts, m.log, func(_ context.Context, from peer.ID, req []byte) ([]byte, error) {
		rv, added, err := m.d.Revocations.Add(string(req))
		if err != nil {
			return nil, &federation.RemoteError{Code: "invalid", Message: "not a revocation of this federation's authority"}
		}
		if added {
			m.log.Info("revocation received from a member", "from", from, "code", rv.Region, "peer", rv.Peer)
		}
		m.applyLocalRevocations()
		return []byte(`"ok"`), nil
	})
	if r.Metrics == nil {
		return nil
	}
	revoked := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fsenet_node_revoked",
		Help: "1 when the national authority revoked this node's membership (it no longer serves clinical data), else 0.",
	}, func() float64 {
		if _, ok := m.Revoked(); ok {
			return 1
		}
		return 0
	})
	refused := func(reason string, pick func(revoked, other uint64) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "fsenet_p2p_refused_connections_total",
			Help:        "Connections this node's gater refused, by reason: a revoked peer, or another non-member.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(pick(m.d.Gater.Refused())) })
	}
	return errors.Join(r.Metrics.Register(revoked), r.Metrics.Register(newExpiryCollector(m)),
		r.Metrics.Register(refused("revoked", func(r, _ uint64) uint64 { return r })),
		r.Metrics.Register(refused("not_member", func(_, o uint64) uint64 { return o })))
}

// Revoked reports whether this node's own membership was revoked, and the
// revocation.
func (m *Module) Revoked() (federation.SignedRevocation, bool) {
	return m.d.Revocations.Has(m.id.Peer)
}

// recordRevocations appends the state's revocations to the node's list.
func (m *Module) recordRevocations(v membership.View) {
	for _, r := range v.Revoked {
		if _, added, err := m.d.Revocations.Add(r.Token); err != nil {
			m.log.Error("could not keep a revocation in the revocation list", "peer", r.Peer, "err", err)
		} else if added {
			m.log.Info("revocation kept in the revocation list", "code", r.Code, "peer", r.Peer)
		}
	}
}

// applyLocalRevocations pins the list's peers in the gater and, once, says
// loudly that this node is revoked.
func (m *Module) applyLocalRevocations() {
	m.d.Gater.Revoke(m.d.Revocations.Peers()...)
	if rv, ok := m.Revoked(); ok && m.revokedLogged.CompareAndSwap(false, true) {
		m.log.Error("this node's membership was revoked by the national authority: it no longer serves clinical data; its data is kept for the operator",
			"code", rv.Region, "peer", rv.Peer, "reason", rv.Reason, "revoked_at", rv.IssuedAt.UTC().Format(time.RFC3339))
	}
}

// revokedPeers is every revoked peer: the state's and the list's.
func (m *Module) revokedPeers(v membership.View) map[peer.ID]bool {
	out := map[peer.ID]bool{}
	for _, p := range v.RevokedPeers() {
		out[p] = true
	}
	for _, p := range m.d.Revocations.Peers() {
		out[p] = true
	}
	return out
}

// restoreRevocations puts back into the replicated state the revocations
// of the list it lacks (a restore from before them, a federation rebuilt).
func (m *Module) restoreRevocations(ctx context.Context) {
	if _, self := m.Revoked(); self || !m.leaderKnown() {
		return
	}
	v := m.members.View()
	if v.Authority == nil || !v.Authority.Equal(m.id.Authority) {
		return
	}
	inState := map[peer.ID]bool{}
	for _, p := range v.RevokedPeers() {
		inState[p] = true
	}
	for _, r := range m.d.Revocations.All() {
		if inState[r.Peer] {
			continue
		}
		cmd := membership.Revoke(r.Token)
		cmd.Key = attemptKey("revoke-" + r.ID)
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := m.d.Replica.Apply(actx, cmd)
		cancel()
		if err != nil {
			m.log.Warn("could not put a revocation back into the replicated state yet", "peer", r.Peer, "err", err)
			return
		}
		m.log.Warn("revocation missing from the replicated state put back from the revocation list", "code", r.Region, "peer", r.Peer)
	}
}

// notifyRevoked sends a revocation to the peer it revokes, if connected:
// best effort, bounded, before the federation cuts the peer off.
func (m *Module) notifyRevoked(ctx context.Context, r federation.SignedRevocation) {
	if r.Peer == m.id.Peer || m.d.Host.Network().Connectedness(r.Peer) != network.Connected {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, noticeTimeout)
	defer cancel()
	opts := federation.DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse, opts.Timeout = 16<<10, 64, noticeTimeout
	if _, err := federation.Call(ctx, m.d.Host, r.Peer, noticeProtocol, []byte(r.Token), opts); err != nil {
		m.log.Info("the revoked node was not told of its revocation", "peer", r.Peer, "err", err)
		return
	}
	m.log.Info("the revoked node was told of its revocation", "code", r.Region, "peer", r.Peer)
}

// refuseRevoked is the error for a certificate of a revoked peer.
func (m *Module) refuseRevoked(p peer.ID) error {
	if _, ok := m.d.Revocations.Has(p); ok {
		return errors.Join(federation.ErrRevoked, errors.New("the authority revoked this peer's membership"))
	}
	return nil
}

// IssuerKeys is the replicated membership's token issuers (see
// membership.Machine.IssuerKeys) less those of regions whose node the
// revocation list holds: a restored state from before a revocation does
// not bring back the revoked region's tokens.
func (m *Module) IssuerKeys(issuer string) (federation.IssuerKeys, bool) {
	k, ok := m.members.IssuerKeys(issuer)
	if !ok || issuer == federation.AuthorityIssuer {
		return k, ok
	}
	if r, member := m.members.View().Region(k.Region); member {
		if _, revoked := m.d.Revocations.Has(r.Peer); revoked {
			return federation.IssuerKeys{}, false
		}
	}
	return k, ok
}

// revocationHeader carries the authority's revocation to a revoked node
// that asked to join.
const revocationHeader = "Fsenet-Revocation"

// learnRevocation keeps a revocation a member answered with, if it is the
// authority's and revokes this node.
func (m *Module) learnRevocation(token string) bool {
	if token == "" {
		return false
	}
	r, err := federation.VerifyRevocation(token, m.id.Authority)
	if err != nil || r.Peer != m.id.Peer {
		return false
	}
	if _, _, err := m.d.Revocations.Add(token); err != nil {
		m.log.Error("could not keep this node's revocation in the revocation list", "err", err)
	}
	m.applyLocalRevocations()
	return true
}
