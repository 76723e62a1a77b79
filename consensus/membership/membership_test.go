package membership

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newPeer(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRegionValidate(t *testing.T) {
	p := newPeer(t)
	ok := Region{Code: "030", Name: "Lombardia", Peer: p, Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Role: Voter}
	tests := []struct {
		name   string
		mutate func(*Region)
		want   string
	}{
		{"ok", func(*Region) {}, ""},
		{"code letters", func(r *Region) { r.Code = "LOM" }, "ISTAT"},
		{"code length", func(r *Region) { r.Code = "0300" }, "ISTAT"},
		{"no name", func(r *Region) { r.Name = "" }, "name"},
		{"no peer", func(r *Region) { r.Peer = "" }, "peer"},
		{"bad role", func(r *Region) { r.Role = "king" }, "role"},
		{"bad addr", func(r *Region) { r.Addrs = []string{"localhost:4001"} }, "address"},
		{"too many addrs", func(r *Region) { r.Addrs = make([]string, 17) }, "16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.mutate(&r)
			err := r.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCommandBuilders(t *testing.T) {
	p := newPeer(t)
	r := Region{Code: "150", Name: "Campania", Peer: p, Role: Nonvoter}
	cmd, err := PutRegion(r)
	if err != nil {
		t.Fatal(err)
	}
	var back []Region
	if err := json.Unmarshal(cmd.Payload, &back); err != nil || len(back) != 1 || back[0].Peer != p {
		t.Fatalf("payload %s: %v", cmd.Payload, err)
	}
	if cmd.Type != TypePutRegion || cmd.Version != version1 {
		t.Fatalf("command %+v", cmd)
	}
	if _, err := PutRegion(); err == nil {
		t.Fatal("empty put accepted")
	}
	if _, err := Revoke(Revocation{Peer: "garbage"}); err == nil {
		t.Fatal("revocation of a bad peer ID accepted")
	}
	v := View{Regions: []Region{r}}
	if got, ok := v.Region("150"); !ok || got.Name != "Campania" {
		t.Fatal("View.Region")
	}
	if m := v.Members(); len(m) != 1 || m[0] != p {
		t.Fatal("View.Members")
	}
}
