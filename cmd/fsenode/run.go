package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// regionNames are the ISTAT codes FSE uses for the regions.
var regionNames = map[string]string{
	"010": "Piemonte", "020": "Valle d'Aosta", "030": "Lombardia", "041": "PA Bolzano",
	"042": "PA Trento", "050": "Veneto", "060": "Friuli-Venezia Giulia", "070": "Liguria",
	"080": "Emilia-Romagna", "090": "Toscana", "100": "Umbria", "110": "Marche",
	"120": "Lazio", "130": "Abruzzo", "140": "Molise", "150": "Campania", "160": "Puglia",
	"170": "Basilicata", "180": "Calabria", "190": "Sicilia", "200": "Sardegna",
	"950": "Ministero della Salute",
}

// statusLine is what run prints on standard output, one JSON object per
// line, so that a supervisor (the demo, tests) can follow the replica.
type statusLine struct {
	Event   string   `json:"event"` // "ready", "status", "stopped"
	Region  string   `json:"region"`
	Peer    string   `json:"peer"`
	Addrs   []string `json:"addrs,omitempty"`
	State   string   `json:"state,omitempty"`
	Leader  string   `json:"leader,omitempty"`
	Term    uint64   `json:"term,omitempty"`
	Applied uint64   `json:"applied,omitempty"`
	Digest  string   `json:"digest,omitempty"`
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	id := fs.String("id", "", "region code (ISTAT), e.g. 030")
	dir := fs.String("dir", "", "data directory (identity key, Raft log, state)")
	var listen, peers multiFlag
	fs.Var(&listen, "listen", "libp2p listen multiaddr (repeatable), e.g. /ip4/127.0.0.1/tcp/4001")
	fs.Var(&peers, "peer", "another founding region as CODE=MULTIADDR/p2p/PEERID (repeatable)")
	bootstrap := fs.Bool("bootstrap", false, "bootstrap a new federation whose voters are this node and every --peer")
	statusEvery := fs.Duration("status-every", 0, "print a status line this often (0: only on change of state)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if len(listen) == 0 {
		listen = multiFlag{"/ip4/127.0.0.1/tcp/4001"}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("region", *id)

	if regionNames[*id] == "" {
		return fmt.Errorf("--id %q: not a region code (e.g. 030 for Lombardia)", *id)
	}
	var founders []founder
	var bootIDs []peer.ID
	for _, p := range peers {
		f, err := parseFounder(p)
		if err != nil {
			return err
		}
		founders = append(founders, f)
		bootIDs = append(bootIDs, f.ID)
	}

	gater := federation.NewGater(bootIDs, log)
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile:     filepath.Join(*dir, "node.key"),
		ListenAddrs: listen,
		DialTimeout: 5 * time.Second,
	}, gater)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, f := range founders {
		h.Peerstore().AddAddrs(f.ID, f.Addrs, peerstore.PermanentAddrTTL)
	}
	var addrs []string
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}

	cfg := consensus.DefaultConfig()
	cfg.ID = *id
	cfg.DataDir = filepath.Join(*dir, "consensus")
	node, err := consensus.New(cfg, consensus.Deps{Host: h, Log: log})
	if err != nil {
		return err
	}
	members := membership.New()
	members.Subscribe(func(v membership.View) {
		if len(v.Regions) == 0 {
			return
		}
		gater.SetMembers(v.Members(), v.RevokedPeers())
		for _, r := range v.Regions {
			for _, a := range r.Addrs {
				if ai, err := peer.AddrInfoFromString(a + "/p2p/" + r.Peer.String()); err == nil {
					h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
				}
			}
		}
	})
	if err := members.Register(node); err != nil {
		return err
	}
	if err := node.Start(); err != nil {
		return err
	}
	// Stop in reverse order: the replica (handing over leadership), then
	// the host (deferred above).
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Shutdown(sctx); err != nil {
			log.Error("shutdown", "error", err)
		}
		emit(statusLine{Event: "stopped", Region: *id, Peer: h.ID().String()})
	}()

	if *bootstrap {
		self := founder{Code: *id, AddrInfo: peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}}
		if err := bootstrapFederation(ctx, node, members, append([]founder{self}, founders...), log); err != nil {
			return err
		}
	}

	// Wait for a leader, then say so.
	for node.Status().LeaderID == "" {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	st := node.Status()
	emit(statusLine{Event: "ready", Region: *id, Peer: h.ID().String(), Addrs: addrs, State: st.State, Leader: st.LeaderID, Term: st.Term, Applied: st.AppliedIndex, Digest: fmt.Sprintf("%x", st.Digest[:8])})

	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := st
	lastPrint := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			st := node.Status()
			changed := st.State != last.State || st.LeaderID != last.LeaderID || st.Term != last.Term
			due := *statusEvery > 0 && time.Since(lastPrint) >= *statusEvery
			if changed || due {
				emit(statusLine{Event: "status", Region: *id, Peer: h.ID().String(), State: st.State, Leader: st.LeaderID, Term: st.Term, Applied: st.AppliedIndex, Digest: fmt.Sprintf("%x", st.Digest[:8])})
				last, lastPrint = st, time.Now()
			}
		}
	}
}

func emit(s statusLine) {
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}

// founder is a founding region given on the command line.
type founder struct {
	Code string
	peer.AddrInfo
}

func parseFounder(v string) (founder, error) {
	code, addr, ok := strings.Cut(v, "=")
	if !ok || regionNames[code] == "" {
		return founder{}, fmt.Errorf("--peer %q: want CODE=MULTIADDR/p2p/PEERID with a region code", v)
	}
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return founder{}, fmt.Errorf("--peer %q: %w", v, err)
	}
	return founder{Code: code, AddrInfo: *ai}, nil
}

// bootstrapFederation makes the founders the voters of a new federation and,
// once a leader exists, records them in the replicated membership in one
// command. On a node that was bootstrapped before it only completes what an
// interrupted bootstrap left undone.
func bootstrapFederation(ctx context.Context, node *consensus.Node, members *membership.Machine, founders []founder, log *slog.Logger) error {
	var servers []consensus.Server
	var regions []membership.Region
	for _, f := range founders {
		servers = append(servers, consensus.Server{ID: f.Code, Peer: f.ID, Voter: true})
		r := membership.Region{Code: f.Code, Name: regionNames[f.Code], Peer: f.ID, Role: membership.Voter}
		for _, a := range f.Addrs {
			r.Addrs = append(r.Addrs, a.String())
		}
		regions = append(regions, r)
	}
	err := node.Bootstrap(servers)
	switch {
	case errors.Is(err, raft.ErrCantBootstrap):
		if len(members.View().Regions) > 0 {
			log.Info("federation already bootstrapped; resuming")
			return nil
		}
		// Bootstrapped, but stopped before the founders were recorded:
		// record them now (the idempotency key makes this safe).
	case err != nil:
		return err
	}
	cmd, err := membership.PutRegion(regions...)
	if err != nil {
		return err
	}
	cmd.Key = "bootstrap-membership"
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := node.Apply(actx, cmd); err != nil {
		return fmt.Errorf("record founding regions: %w", err)
	}
	log.Info("federation bootstrapped", "regions", len(regions))
	return nil
}
