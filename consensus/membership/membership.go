// Package membership is the replicated record of who belongs to the
// federation: each region's code, name, libp2p peer ID, addresses and Raft
// role, and the revocations of peers that must never be admitted again.
//
// It is a state machine on the consensus log. It does not change the Raft
// configuration itself and it does not verify certificates: callers decide
// who may write it. Its subscribers (the connection gater, the peerstore)
// learn every change after it is committed locally.
package membership

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

// Role is a region's place in Raft.
type Role string

// Roles.
const (
	Voter    Role = "voter"
	Nonvoter Role = "nonvoter"
)

// Region is one member of the federation.
type Region struct {
	Code  string   `json:"code"`  // ISTAT code, e.g. "030"
	Name  string   `json:"name"`  // e.g. "Lombardia"
	Peer  peer.ID  `json:"peer"`  // libp2p peer ID of the region's node
	Addrs []string `json:"addrs"` // multiaddrs where the node listens
	Role  Role     `json:"role"`
}

// Revocation removes a peer from the federation for good.
type Revocation struct {
	Peer   peer.ID   `json:"peer"`
	Code   string    `json:"code"`   // region the peer belonged to
	Reason string    `json:"reason"` // for the audit trail
	At     time.Time `json:"at"`     // set by the proposer, so identical on replicas
}

// Command types.
const (
	TypePutRegion    = "membership.region.put"
	TypeRemoveRegion = "membership.region.remove"
	TypeRevoke       = "membership.revoke"
)

const version1 uint16 = 1

var (
	regionPrefix  = []byte("membership/region/")
	revokedPrefix = []byte("membership/revoked/")
)

// Validate checks a region record.
func (r Region) Validate() error {
	switch {
	case !federation.ValidRegionCode(r.Code):
		return fmt.Errorf("region code %q: want a three-digit ISTAT code", r.Code)
	case r.Name == "" || len(r.Name) > 128:
		return errors.New("region name: want 1 to 128 characters")
	case validPeer(r.Peer) != nil:
		return fmt.Errorf("region %s: bad peer ID: %v", r.Code, validPeer(r.Peer))
	case r.Role != Voter && r.Role != Nonvoter:
		return fmt.Errorf("region %s: role %q: want voter or nonvoter", r.Code, r.Role)
	case len(r.Addrs) > 16:
		return fmt.Errorf("region %s: at most 16 addresses", r.Code)
	}
	for _, a := range r.Addrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("region %s: address %q: %v", r.Code, a, err)
		}
	}
	return nil
}

// validPeer checks that p is a well-formed peer ID (a multihash).
func validPeer(p peer.ID) error {
	if p == "" {
		return errors.New("empty")
	}
	_, err := peer.IDFromBytes([]byte(p))
	return err
}

// PutRegion returns the command that adds or updates regions, all in one
// replicated step. A federation's founding regions are put together: the
// gaters follow this record, so putting them one at a time would cut the
// regions not yet listed off from the others.
func PutRegion(rs ...Region) (consensus.Command, error) {
	if len(rs) == 0 {
		return consensus.Command{}, errors.New("no region to put")
	}
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return consensus.Command{}, err
		}
	}
	b, err := json.Marshal(rs)
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: TypePutRegion, Version: version1, Payload: b}, nil
}

// RemoveRegion returns the command that removes a region's record.
func RemoveRegion(code string) consensus.Command {
	return consensus.Command{Type: TypeRemoveRegion, Version: version1, Payload: []byte(code)}
}

// Revoke returns the command that revokes a peer; its region record, if
// any, is removed in the same command.
func Revoke(rv Revocation) (consensus.Command, error) {
	if err := validPeer(rv.Peer); err != nil {
		return consensus.Command{}, fmt.Errorf("revocation: bad peer ID: %w", err)
	}
	b, err := json.Marshal(rv)
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: TypeRevoke, Version: version1, Payload: b}, nil
}

// View is a consistent picture of the membership.
type View struct {
	Regions []Region     // sorted by code
	Revoked []Revocation // sorted by peer
}

// Members returns the peer IDs of all regions.
func (v View) Members() []peer.ID {
	out := make([]peer.ID, 0, len(v.Regions))
	for _, r := range v.Regions {
		out = append(out, r.Peer)
	}
	return out
}

// RevokedPeers returns the revoked peer IDs.
func (v View) RevokedPeers() []peer.ID {
	out := make([]peer.ID, 0, len(v.Revoked))
	for _, r := range v.Revoked {
		out = append(out, r.Peer)
	}
	return out
}

// Region returns the record of a region code.
func (v View) Region(code string) (Region, bool) {
	for _, r := range v.Regions {
		if r.Code == code {
			return r, true
		}
	}
	return Region{}, false
}

// Subscriber is told the whole membership after every committed change,
// at start and after a snapshot restore. It runs on the state machine's
// goroutine and must not block.
type Subscriber func(View)

// Machine is the membership state machine. Register it with Register.
type Machine struct {
	mu      sync.Mutex
	regions map[string]Region
	revoked map[peer.ID]Revocation
	subs    []Subscriber
}

// New returns an empty machine; its state is loaded by the consensus node's
// reload at start.
func New() *Machine {
	return &Machine{regions: map[string]Region{}, revoked: map[peer.ID]Revocation{}}
}

// Subscribe adds fn to the subscribers. Call before the node starts.
func (m *Machine) Subscribe(fn Subscriber) {
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	m.mu.Unlock()
}

// Registrar is what the machine needs from the consensus node.
type Registrar interface {
	Register(typ string, h consensus.Handler) error
}

// Register routes the membership command types to m.
func (m *Machine) Register(r Registrar) error {
	for _, t := range []string{TypePutRegion, TypeRemoveRegion, TypeRevoke} {
		if err := r.Register(t, m); err != nil {
			return err
		}
	}
	return nil
}

// View returns the membership as last applied on this replica.
func (m *Machine) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewLocked()
}

func (m *Machine) viewLocked() View {
	var v View
	for _, r := range m.regions {
		v.Regions = append(v.Regions, r)
	}
	for _, r := range m.revoked {
		v.Revoked = append(v.Revoked, r)
	}
	sort.Slice(v.Regions, func(i, j int) bool { return v.Regions[i].Code < v.Regions[j].Code })
	sort.Slice(v.Revoked, func(i, j int) bool { return v.Revoked[i].Peer < v.Revoked[j].Peer })
	return v
}

func (m *Machine) publish() {
	m.mu.Lock()
	v := m.viewLocked()
	subs := append([]Subscriber(nil), m.subs...)
	m.mu.Unlock()
	for _, s := range subs {
		s(v)
	}
}

func regionKey(code string) []byte { return append(append([]byte{}, regionPrefix...), code...) }
func revokedKey(p peer.ID) []byte  { return append(append([]byte{}, revokedPrefix...), p...) }

// Apply implements consensus.Handler.
func (m *Machine) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	if cmd.Version != version1 {
		return nil, consensus.Errorf(consensus.CodeInvalid, "%s version %d is not supported", cmd.Type, cmd.Version)
	}
	switch cmd.Type {
	case TypePutRegion:
		var rs []Region
		if err := json.Unmarshal(cmd.Payload, &rs); err != nil {
			return nil, consensus.Errorf(consensus.CodeInvalid, "region records: %v", err)
		}
		if len(rs) == 0 {
			return nil, consensus.Errorf(consensus.CodeInvalid, "no region records")
		}
		owner := map[peer.ID]string{} // peer -> region, after this command
		err := tx.Iterate(regionPrefix, func(_, v []byte) error {
			var o Region
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("stored region record: %w", err)
			}
			owner[o.Peer] = o.Code
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if err := r.Validate(); err != nil {
				return nil, consensus.Errorf(consensus.CodeInvalid, "%v", err)
			}
			if _, revoked, err := tx.Get(revokedKey(r.Peer)); err != nil {
				return nil, err
			} else if revoked {
				return nil, consensus.Errorf(consensus.CodeForbidden, "peer %s was revoked", r.Peer)
			}
			// One peer, one region.
			if code, ok := owner[r.Peer]; ok && code != r.Code {
				return nil, consensus.Errorf(consensus.CodeConflict, "peer %s already belongs to region %s", r.Peer, code)
			}
			owner[r.Peer] = r.Code
		}
		for _, r := range rs {
			b, _ := json.Marshal(r)
			tx.Set(regionKey(r.Code), b)
		}
		tx.AfterCommit(func() {
			m.mu.Lock()
			for _, r := range rs {
				m.regions[r.Code] = r
			}
			m.mu.Unlock()
			m.publish()
		})
		return nil, nil
	case TypeRemoveRegion:
		code := string(cmd.Payload)
		if _, ok, err := tx.Get(regionKey(code)); err != nil {
			return nil, err
		} else if !ok {
			return nil, consensus.Errorf(consensus.CodeNotFound, "region %q is not a member", code)
		}
		tx.Delete(regionKey(code))
		tx.AfterCommit(func() {
			m.mu.Lock()
			delete(m.regions, code)
			m.mu.Unlock()
			m.publish()
		})
		return nil, nil
	case TypeRevoke:
		var rv Revocation
		if err := json.Unmarshal(cmd.Payload, &rv); err != nil {
			return nil, consensus.Errorf(consensus.CodeInvalid, "revocation: %v", err)
		}
		if err := validPeer(rv.Peer); err != nil {
			return nil, consensus.Errorf(consensus.CodeInvalid, "revocation: bad peer ID")
		}
		b, _ := json.Marshal(rv)
		tx.Set(revokedKey(rv.Peer), b)
		var removed []string
		err := tx.Iterate(regionPrefix, func(k, v []byte) error {
			var o Region
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("stored region record: %w", err)
			}
			if o.Peer == rv.Peer {
				removed = append(removed, o.Code)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, code := range removed {
			tx.Delete(regionKey(code))
		}
		tx.AfterCommit(func() {
			m.mu.Lock()
			m.revoked[rv.Peer] = rv
			for _, code := range removed {
				delete(m.regions, code)
			}
			m.mu.Unlock()
			m.publish()
		})
		return nil, nil
	}
	return nil, consensus.Errorf(consensus.CodeInvalid, "unknown membership command %q", cmd.Type)
}

// Reload implements consensus.Reloader: it rebuilds the in-memory view
// from the state and tells the subscribers.
func (m *Machine) Reload(r consensus.Reader) error {
	regions := map[string]Region{}
	revoked := map[peer.ID]Revocation{}
	err := r.Iterate(regionPrefix, func(_, v []byte) error {
		var o Region
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("stored region record: %w", err)
		}
		regions[o.Code] = o
		return nil
	})
	if err != nil {
		return err
	}
	err = r.Iterate(revokedPrefix, func(_, v []byte) error {
		var o Revocation
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("stored revocation: %w", err)
		}
		revoked[o.Peer] = o
		return nil
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.regions, m.revoked = regions, revoked
	m.mu.Unlock()
	m.publish()
	return nil
}
