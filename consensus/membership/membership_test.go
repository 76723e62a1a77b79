package membership

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newPeer(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, id
}

func TestCommandBuilders(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	cmd, err := SetAuthority(pub)
	if err != nil || cmd.Type != TypeSetAuthority || len(cmd.Payload) != ed25519.PublicKeySize {
		t.Fatalf("SetAuthority: %+v %v", cmd, err)
	}
	if _, err := SetAuthority(pub[:10]); err == nil {
		t.Fatal("short authority key accepted")
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	cmd, err = PutRegion(at, "a.b.c")
	if err != nil || cmd.Type != TypePutRegion || cmd.Version != version1 {
		t.Fatalf("PutRegion: %+v %v", cmd, err)
	}
	var p putRegion
	if err := json.Unmarshal(cmd.Payload, &p); err != nil || !p.At.Equal(at) || p.At.Location() != time.UTC || len(p.Certificates) != 1 {
		t.Fatalf("payload %s: %v", cmd.Payload, err)
	}
	if _, err := PutRegion(at); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("empty put: %v", err)
	}
	if cmd := Revoke("tok"); cmd.Type != TypeRevoke || string(cmd.Payload) != "tok" {
		t.Fatalf("Revoke: %+v", cmd)
	}
	key, _ := newPeer(t)
	if _, err := PutIdP(key, IdP{Region: "030", Issuer: "x", JWKS: []byte(`{"keys":[]}`)}); err == nil {
		t.Fatal("empty JWKS accepted")
	}
}

func TestViewHelpers(t *testing.T) {
	_, p1 := newPeer(t)
	_, p2 := newPeer(t)
	now := time.Now()
	v := View{
		Regions: []Region{
			{Code: "030", Name: "Lombardia", Peer: p1, Expiry: now.Add(time.Hour)},
			{Code: "150", Name: "Campania", Peer: p2, Expiry: now.Add(-time.Hour)},
		},
		Revoked: []Revocation{{Peer: p2}},
		IdPs:    []IdP{{Region: "030", Issuer: "urn:x"}},
	}
	if m := v.Members(now); len(m) != 1 || m[0] != p1 {
		t.Fatalf("Members: an expired certificate counts: %v", m)
	}
	if got, ok := v.Region("150"); !ok || got.Name != "Campania" {
		t.Fatal("View.Region")
	}
	if _, ok := v.Region("160"); ok {
		t.Fatal("View.Region found a missing region")
	}
	if r := v.RevokedPeers(); len(r) != 1 || r[0] != p2 {
		t.Fatal("View.RevokedPeers")
	}
	if i, ok := v.IdP("030"); !ok || i.Issuer != "urn:x" {
		t.Fatal("View.IdP")
	}
}

// A machine without state knows no issuer, not even the authority.
func TestIssuerKeysOfEmptyMachine(t *testing.T) {
	m := New()
	if _, ok := m.IssuerKeys("fsenet-authority"); ok {
		t.Fatal("authority issuer known before the authority key is set")
	}
	if _, ok := m.IssuerKeys("urn:x"); ok {
		t.Fatal("unknown issuer known")
	}
}
