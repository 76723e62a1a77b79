package federation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestRevocationListPersistsAndRefusesDamage(t *testing.T) {
	pub, priv := authority(t)
	_, otherPriv := authority(t)
	path := filepath.Join(t.TempDir(), "revocations")
	l, err := OpenRevocationList(path, pub)
	if err != nil {
		t.Fatalf("absent list: %v", err)
	}
	p := randomPeer(t)
	tok, _, err := IssueRevocation(priv, Revocation{Region: "160", Peer: p, Reason: "stolen key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, added, err := l.Add(tok); err != nil || !added {
		t.Fatalf("first Add: added %v, err %v", added, err)
	}
	if _, added, err := l.Add(tok); err != nil || added {
		t.Fatalf("second Add: added %v, err %v", added, err)
	}
	foreign, _, _ := IssueRevocation(otherPriv, Revocation{Region: "150", Peer: randomPeer(t)})
	if _, _, err := l.Add(foreign); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("another authority's revocation: %v", err)
	}

	again, err := OpenRevocationList(path, pub)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := again.Has(p); !ok || r.Reason != "stolen key" || r.Token != tok {
		t.Fatalf("reopened list: %+v %v", r, ok)
	}
	if got := again.Peers(); len(got) != 1 || got[0] != p {
		t.Fatalf("Peers() = %v", got)
	}

	for name, extra := range map[string]string{
		"garbage":         "not a token\n",
		"other authority": foreign + "\n",
		"truncated":       tok[:len(tok)-5] + "\n",
		"overlong line":   strings.Repeat("x", maxRevocationLine+1) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "revocations")
			if err := os.WriteFile(bad, []byte(tok+"\n# a comment\n\n"+extra), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := OpenRevocationList(bad, pub); err == nil {
				t.Fatal("a damaged list was read")
			}
		})
	}
}

func TestGaterRevokeOutlivesSetMembers(t *testing.T) {
	member, pinned := randomPeer(t), randomPeer(t)
	g := NewGater(nil, quiet())
	g.Revoke(pinned)
	g.SetMembers([]peer.ID{member, pinned}, nil) // a state that does not know the revocation
	if !g.Allowed(member) || g.Allowed(pinned) {
		t.Fatalf("Allowed(member) = %v, Allowed(pinned) = %v", g.Allowed(member), g.Allowed(pinned))
	}
}
