package federation

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

type connAddrs struct{ remote ma.Multiaddr }

func (c connAddrs) LocalMultiaddr() ma.Multiaddr  { return c.remote }
func (c connAddrs) RemoteMultiaddr() ma.Multiaddr { return c.remote }

// TestGaterRefusalLogLevels checks the level of a refused connection's
// line: info while the node joins (it knows no members yet, and a member
// that admitted it dials it before the join's answer), a warning once
// per peer when the membership is known, always one for a revoked peer.
func TestGaterRefusalLogLevels(t *testing.T) {
	var buf bytes.Buffer
	g := NewGater(nil, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	addrs := connAddrs{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}
	leader, stranger, revoked := randomPeer(t), randomPeer(t), randomPeer(t)
	levels := func() []string {
		t.Helper()
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec struct{ Level string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			out = append(out, rec.Level)
		}
		buf.Reset()
		return out
	}
	refuse := func(p peer.ID) {
		t.Helper()
		if g.InterceptSecured(network.DirInbound, p, addrs) {
			t.Fatalf("%s admitted", p)
		}
	}

	refuse(leader)
	refuse(leader)
	if got := strings.Join(levels(), " "); got != "INFO INFO" {
		t.Fatalf("refusals while joining logged at %s, want INFO INFO", got)
	}
	g.SetMembers([]peer.ID{leader}, []peer.ID{revoked})
	refuse(stranger)
	refuse(stranger)
	refuse(revoked)
	if got := strings.Join(levels(), " "); got != "WARN DEBUG WARN" {
		t.Fatalf("refusals of a non-member and a revoked peer logged at %s, want WARN DEBUG WARN", got)
	}
}
