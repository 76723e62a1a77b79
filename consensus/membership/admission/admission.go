// Package admission is the federation's membership as a module of a
// node: founding a federation, joining it with a certificate, recording
// certificates and revocations, keeping Raft's configuration equal to the
// certified membership (on the leader), publishing the region's identity
// provider keys, pointing the connection gater at the members, and the
// federation's status with every region's state digest. The membership
// state itself is the replicated machine of package membership; the
// node's own key, certificate and the authority's key are read and
// checked by the node before anything starts and handed to it.
package admission

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/module"
)

// Identity is the node's standing in the federation, read from its files
// and checked by the node before anything starts.
type Identity struct {
	Key       crypto.PrivKey
	Peer      peer.ID
	Authority ed25519.PublicKey
	CertToken string // the certificate as issued
	Cert      federation.Certificate
}

// Config configures the module.
type Config struct {
	Region string
	// Bootstrap founds a new federation with this node as its first voter
	// (or completes what an interrupted founding left undone).
	Bootstrap bool
	// Join are the HTTP base URLs of member nodes asked to admit this one.
	Join []string
	// IdPIssuer and IdPKeysFile (absolute) are the region's identity
	// provider, whose public keys are published when the file changes.
	IdPIssuer, IdPKeysFile string
}

// Validate reports what makes the configuration unusable.
func (c Config) Validate() error {
	if !federation.ValidRegionCode(c.Region) {
		return fmt.Errorf("region %q is not a region code", c.Region)
	}
	return nil
}

// Replica is the node's replica of the federation's state and its Raft
// configuration.
type Replica interface {
	Apply(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
	Bootstrap(voters []consensus.Server) error
	Status() consensus.Status
	Servers() ([]consensus.Server, error)
	IsLeader() bool
	AddNonvoter(ctx context.Context, id string, p peer.ID) error
	AddVoter(ctx context.Context, id string, p peer.ID) error
	DemoteVoter(ctx context.Context, id string) error
	RemoveServer(ctx context.Context, id string) error
	WaitApplied(ctx context.Context, index uint64) error
	DigestAt(index uint64) ([32]byte, bool)
}

// Gater is the host's connection gater (federation.Gater).
type Gater interface {
	SetMembers(members, revoked []peer.ID)
	Revoke(peers ...peer.ID)
	AddBootstrap(peers []peer.ID)
	Refused() (revoked, other uint64)
}

// Deps are what the module needs from the node.
type Deps struct {
	Identity Identity
	Replica  Replica
	Host     host.Host
	Gater    Gater
	// Revocations is the node's revocation list, kept outside the
	// replicated state (see revocation.go).
	Revocations *federation.RevocationList
	// Caller is the policy's view of a request's authenticated caller.
	Caller func(*http.Request) (index.Caller, bool)
	Log    *slog.Logger
}

// Module is the node's part in the federation's membership.
type Module struct {
	cfg     Config
	d       Deps
	log     *slog.Logger
	id      Identity
	members *membership.Machine

	// register loop state
	joinedVia string    // the join URL that admitted the node, for logs
	refused   string    // the certificate ID the federation refused
	refusedAt time.Time // retried after refusedRetry
	idpSent   string    // the IdP record last published

	// wakeRegister and wakeReconcile run those loops at once after a
	// membership change instead of at their next tick.
	wakeRegister, wakeReconcile chan struct{}
	followMu                    sync.Mutex
	revokedLogged               atomic.Bool // the node's own revocation was logged
	stop                        chan struct{}
	wg                          sync.WaitGroup
}

var _ module.Module = (*Module)(nil)

// New prepares the module; Start runs it.
func New(cfg Config, d Deps) (*Module, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Replica == nil || d.Host == nil || d.Gater == nil || d.Caller == nil || d.Revocations == nil {
		return nil, errors.New("replica, host, gater, revocation list and caller are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Module{cfg: cfg, d: d, log: d.Log, id: d.Identity, members: membership.New(),
		wakeRegister: make(chan struct{}, 1), wakeReconcile: make(chan struct{}, 1)}, nil
}

// Name implements module.Module.
func (m *Module) Name() string { return "admission" }

// Members is the replicated membership: certificates, revocations and
// every region's identity provider keys (which tokens are verified
// against).
func (m *Module) Members() *membership.Machine { return m.members }

// RegionPeer is the node of a member region.
func (m *Module) RegionPeer(code string) (peer.ID, bool) {
	r, ok := m.members.View().Region(code)
	return r.Peer, ok
}

// Regions lists the member regions' codes.
func (m *Module) Regions() []string {
	var out []string
	for _, r := range m.members.View().Regions {
		out = append(out, r.Code)
	}
	return out
}

// Ready reports whether the replicated membership holds this node and its
// identity provider's keys.
func (m *Module) Ready() (bool, string) {
	if rv, ok := m.Revoked(); ok {
		return false, fmt.Sprintf("revoked: the national authority revoked this node's membership on %s (%s); it no longer serves clinical data",
			rv.IssuedAt.UTC().Format(time.RFC3339), rv.Reason)
	}
	v := m.members.View()
	if r, ok := v.Region(m.cfg.Region); !ok || r.Peer != m.id.Peer {
		return false, "not yet recorded as a member"
	}
	if _, ok := v.IdP(m.cfg.Region); m.cfg.IdPKeysFile != "" && !ok {
		return false, "the region's IdP keys are not yet published"
	}
	return true, "ready"
}

// Register declares the membership commands, the federation's routes and
// the status protocol.
func (m *Module) Register(r *module.Registrar) error {
	m.members.Subscribe(m.followMembership)
	if err := m.members.Register(r.Commands); err != nil {
		return err
	}
	r.Routes.HandleFunc("POST /v1/federation/join", m.handleJoin)
	r.Routes.HandleFunc("POST /v1/federation/regions", m.handlePutRegion)
	r.Routes.HandleFunc("POST /v1/federation/revocations", m.handleRevoke)
	r.Routes.HandleFunc("GET /v1/cluster", m.handleCluster)
	m.serveStatus(r.Protocols)
	return m.registerRevocations(r)
}

// Start founds the federation if this node is configured to, then runs
// the loops that register the node, publish its IdP keys and, on the
// leader, keep Raft's configuration in line with the certified
// membership.
func (m *Module) Start(ctx context.Context) error {
	m.applyLocalRevocations()
	if m.cfg.Bootstrap {
		if err := m.found(ctx); err != nil {
			return fmt.Errorf("founding the federation: %w", err)
		}
	}
	stop := make(chan struct{})
	m.stop = stop
	m.wg.Add(3)
	go func() { defer m.wg.Done(); every(stop, m.wakeRegister, time.Second, m.register) }()
	go func() { defer m.wg.Done(); every(stop, m.wakeReconcile, time.Second, m.reconcile) }()
	go func() {
		defer m.wg.Done()
		every(stop, nil, 5*time.Second, func(ctx context.Context) {
			m.followMembership(m.members.View())
			m.restoreRevocations(ctx)
			m.connectMembers(ctx)
		})
	}()
	return nil
}

// Stop ends the loops.
func (m *Module) Stop(context.Context) error {
	if m.stop != nil {
		close(m.stop)
		m.wg.Wait()
		m.stop = nil
	}
	return nil
}

// untilClosed returns a context cancelled when stop is closed (or cancel
// is called).
func untilClosed(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// every runs fn now, then every period and whenever wake fires, until stop
// is closed; fn gets a context cancelled at stop.
func every(stop, wake <-chan struct{}, period time.Duration, fn func(context.Context)) {
	ctx, cancel := untilClosed(stop)
	defer cancel()
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		fn(ctx)
		select {
		case <-stop:
			return
		case <-tick.C:
		case <-wake:
		}
	}
}

// wake nudges a loop without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// followMembership points the gater and the peerstore at the replicated
// membership: peers whose certificates are valid now are admitted. It also
// runs periodically, so that an expired certificate takes effect.
func (m *Module) followMembership(membership.View) {
	wake(m.wakeRegister)
	wake(m.wakeReconcile)
	// Called from the state machine and from a timer: one at a time, each
	// with the latest view, so an older view never overwrites a newer one
	// (a revocation must not be undone, even for a moment).
	m.followMu.Lock()
	defer m.followMu.Unlock()
	v := m.members.View()
	if v.Authority == nil || len(v.Regions) == 0 {
		return
	}
	m.recordRevocations(v)
	m.applyLocalRevocations()
	m.d.Gater.SetMembers(v.Members(time.Now()), v.RevokedPeers())
	for _, r := range v.Regions {
		m.addAddrs(r.Peer, r.Addrs)
	}
}

// connectMembers opens a connection to every member not connected. A
// restarted node dials out at once: the others' dials to it are held back
// by libp2p's dial backoff for seconds after it went away, while a
// connection it opens serves their Raft traffic immediately.
func (m *Module) connectMembers(ctx context.Context) {
	v := m.members.View()
	now := time.Now()
	var wg sync.WaitGroup
	for _, r := range v.Regions {
		if r.Peer == m.d.Host.ID() || !r.ValidAt(now) || len(m.d.Host.Network().ConnsToPeer(r.Peer)) > 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := m.d.Host.Connect(cctx, peer.AddrInfo{ID: r.Peer}); err != nil {
				m.log.Debug("member not reachable", "member", r.Code, "err", err)
			}
		}()
	}
	wg.Wait()
}

func (m *Module) addAddrs(p peer.ID, addrs []string) {
	if p == m.d.Host.ID() {
		return
	}
	for _, a := range addrs {
		if addr, err := ma.NewMultiaddr(a); err == nil {
			m.d.Host.Peerstore().AddAddrs(p, []ma.Multiaddr{addr}, peerstore.PermanentAddrTTL)
		}
	}
}
