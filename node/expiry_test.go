package node

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// A voter whose certificate expires loses its vote: the leader demotes it,
// and every node's fsenet_certificate_expiry_seconds said beforehand how
// long it had left.
func TestExpiredVoterIsDemoted(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	f.add("150", federation.RoleVoter)
	pug := f.add("160", federation.RoleVoter)
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter", "160": "voter"})

	// The authority records a renewal of Puglia's certificate that
	// expires in a few seconds (as a certificate nobody renewed would).
	expiry := time.Now().Add(6 * time.Second).UTC().Truncate(time.Second)
	short, _, err := federation.IssueCertificate(f.authKey, federation.Certificate{Region: "160", Name: federation.RegionNames["160"],
		Peer: pug.PeerID(), Role: federation.RoleVoter, Addrs: []string{f.addrs["160"]}, Expiry: expiry})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + lom.HTTPAddr()
	if c, b := do(t, "POST", base+"/v1/federation/regions", f.authorityToken(), "application/jwt", short); c != http.StatusOK {
		t.Fatalf("renewal: %d %s", c, b)
	}
	left := regexp.MustCompile(`(?m)^fsenet_certificate_expiry_seconds\{member="160",region="030"\} (\S+)$`)
	consensustest.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := left.FindSubmatch(b)
		if m == nil {
			return fmt.Errorf("no expiry gauge for 160")
		}
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil || v > 7 {
			return fmt.Errorf("expiry gauge for 160 = %s, want the short certificate's few seconds", m[1])
		}
		return nil
	}, "the expiry gauge following the renewal")
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter", "160": "nonvoter"})
	if time.Now().Before(expiry) {
		t.Fatalf("Puglia demoted before its certificate expired")
	}
}
