package federation

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// HostConfig configures a node's libp2p host.
type HostConfig struct {
	// KeyFile is the node's Ed25519 identity; created on first start.
	KeyFile string
	// ListenAddrs are multiaddrs such as /ip4/0.0.0.0/tcp/4001 and
	// /ip4/0.0.0.0/udp/4001/quic-v1.
	ListenAddrs []string
	// PSKFile, when set, names a libp2p private-network key
	// (/key/swarm/psk/1.0.0/ format): only nodes holding the same key can even
	// start a handshake. QUIC cannot run inside a private network (libp2p
	// refuses the combination), so with a key every listen address must be TCP.
	PSKFile string
	// DialTimeout bounds one outbound connection attempt.
	DialTimeout time.Duration
}

// DefaultHostConfig listens on all interfaces, TCP and QUIC, port 4001.
func DefaultHostConfig() HostConfig {
	return HostConfig{
		KeyFile:     "node.key",
		ListenAddrs: []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
		DialTimeout: 10 * time.Second,
	}
}

// Validate reports the first configuration error, naming the field.
func (c HostConfig) Validate() error {
	if c.KeyFile == "" {
		return errors.New("federation: KeyFile is empty: set the path of the node's identity key")
	}
	if len(c.ListenAddrs) == 0 {
		return errors.New("federation: ListenAddrs is empty: give at least one multiaddr such as /ip4/0.0.0.0/tcp/4001")
	}
	for _, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return fmt.Errorf("federation: ListenAddrs: %q is not a multiaddr: %w", s, err)
		}
		if c.PSKFile != "" && IsQUIC(a) {
			return fmt.Errorf("federation: ListenAddrs: %q is QUIC, which libp2p refuses inside a private network (PSKFile is set): listen on TCP only", s)
		}
	}
	if c.DialTimeout <= 0 {
		return errors.New("federation: DialTimeout must be positive")
	}
	return nil
}

// IsQUIC reports whether a is a QUIC address.
func IsQUIC(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Protocol().Code == ma.P_QUIC_V1 || c.Protocol().Code == ma.P_QUIC {
			return true
		}
	}
	return false
}

// LoadPSK reads a private-network key file.
func LoadPSK(path string) (pnet.PSK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("private network key: %w", err)
	}
	defer f.Close()
	psk, err := pnet.DecodeV1PSK(f)
	if err != nil {
		return nil, fmt.Errorf("private network key %s: %w", path, err)
	}
	return psk, nil
}

// ConnGater is a connection gater that wants to know the host it guards.
// *Gater is one; tests wrap it to simulate partitions.
type ConnGater interface {
	connmgr.ConnectionGater
	Attach(self peer.ID, n network.Network)
}

// NewHost builds the node's libp2p host: persistent identity, the configured
// TCP and QUIC listeners, libp2p's default secure channels (Noise and TLS),
// the given gater, no relay, no NAT port mapping and no libp2p metrics
// registration (the node exports its own). The gater is attached to the host.
func NewHost(cfg HostConfig, gater ConnGater) (host.Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := LoadOrCreateIdentity(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.DefaultSecurity,
		libp2p.DefaultMuxers,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.WithDialTimeout(cfg.DialTimeout),
	}
	if gater != nil {
		opts = append(opts, libp2p.ConnectionGater(gater))
	}
	if cfg.PSKFile != "" {
		psk, err := LoadPSK(cfg.PSKFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.PrivateNetwork(psk))
	} else if anyQUIC(cfg.ListenAddrs) {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("federation: start libp2p host: %w", err)
	}
	if gater != nil {
		gater.Attach(h.ID(), h.Network())
	}
	return h, nil
}

// anyQUIC reports whether a listen address (already validated) is QUIC.
func anyQUIC(addrs []string) bool {
	for _, s := range addrs {
		if a, err := ma.NewMultiaddr(s); err == nil && IsQUIC(a) {
			return true
		}
	}
	return false
}

// AddrInfo returns the host's peer ID and listen addresses, for handing to
// other nodes.
func AddrInfo(h host.Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}
