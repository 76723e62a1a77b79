package node

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/consensus/membership/admission"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
)

func TestSingleRegionNodeServesHealthMetricsAndRefusesWithoutToken(t *testing.T) {
	f := newFed(t)
	n := f.add("030", federation.RoleVoter)
	base := "http://" + n.HTTPAddr()
	op := f.token("030", "SYSADMIN")
	if _, err := os.Stat(filepath.Join(f.dir, "030-audit-spool", "MANIFEST")); err != nil {
		t.Fatalf("audit spool not in audit.spool_dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "030", "audit-spool")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an audit spool under data_dir although audit.spool_dir is elsewhere: %v", err)
	}

	for _, path := range []string{"/healthz", "/readyz", "/fhir/metadata"} {
		if code, body := do(t, "GET", base+path, "", "", ""); code != http.StatusOK {
			t.Fatalf("GET %s without a token = %d %s", path, code, body)
		}
	}
	if v := n.members.Members().View(); len(v.Regions) != 1 || v.Regions[0].Name != "Lombardia" || v.Authority == nil {
		t.Fatalf("founding region not recorded: %+v", v)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := n.members.Members().View().IdP("030"); !ok {
			return errors.New("IdP keys not published")
		}
		return nil
	}, "the region's IdP keys published")
	_, metrics := do(t, "GET", base+"/metrics", "", "", "")
	for _, want := range []string{
		`fsenet_raft_state{region="030"} 2`,
		`fsenet_raft_term{region="030"}`,
		`fsenet_raft_applied_index{region="030"}`,
		`fsenet_http_requests_total{code="200",region="030",route="GET /readyz"}`,
		`fsenet_libp2p_peers_connected{region="030"} 0`,
		`fsenet_libp2p_connections{region="030"} 0`,
		`fsenet_audit_spooled_events{region="030"}`,
		`fsenet_audit_quarantined_events{region="030"} 0`,
		`fsenet_apply_duration_seconds_count{outcome="ok",region="030"}`,
		`fsenet_build_info{go_version="` + runtime.Version() + `",region="030",`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Without a token every other path is 401, whether it exists or not.
	for _, path := range []string{"/v1/cluster", "/nope", "/%2e%2e/etc/passwd", "/v1/snapshot"} {
		code, body := do(t, "GET", base+path, "", "", "")
		if code != http.StatusUnauthorized || !strings.Contains(body, `"resourceType":"OperationOutcome"`) {
			t.Fatalf("GET %s without a token = %d %s", path, code, body)
		}
	}
	for _, path := range []string{"/nope", "/healthz/extra"} {
		code, body := do(t, "GET", base+path, op, "", "")
		if code != http.StatusNotFound || !strings.Contains(body, `"not-found"`) {
			t.Fatalf("GET %s = %d %s, want a not-found OperationOutcome", path, code, body)
		}
	}
	if code, body := do(t, "POST", base+"/healthz", "", "application/json", "{garbage"); code != http.StatusMethodNotAllowed || !strings.Contains(body, "OperationOutcome") {
		t.Fatalf("POST /healthz = %d %s", code, body)
	}
	// A clinician may not read the cluster; an operator may.
	if code, _ := do(t, "GET", base+"/v1/cluster", f.token("030", "TREATMENT"), "", ""); code != http.StatusForbidden {
		t.Fatalf("clinician on /v1/cluster = %d, want 403", code)
	}
	code, body := do(t, "GET", base+"/v1/cluster", op, "", "")
	var cs admission.ClusterStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &cs) != nil || !cs.Agree || len(cs.Regions) != 1 || cs.Regions[0].Raft != "voter" ||
		cs.Regions[0].Version != federation.BuildInfo().String() {
		t.Fatalf("/v1/cluster = %d %s", code, body)
	}
}

func TestRegionsJoinArePromotedAndRevokedRegionIsCutOff(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	f.add("150", federation.RoleVoter)
	pug := f.add("160", federation.RoleNonvoter)
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter", "160": "nonvoter"})

	base := "http://" + lom.HTTPAddr()
	auth := f.authorityToken()
	code, body := do(t, "GET", base+"/v1/cluster", auth, "", "")
	var cs admission.ClusterStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &cs) != nil || !cs.Agree || len(cs.Regions) != 3 ||
		slices.ContainsFunc(cs.Regions, func(r admission.ClusterRegion) bool { return r.Version != federation.BuildInfo().String() }) {
		t.Fatalf("/v1/cluster = %d %s", code, body)
	}
	// Any node verifies any region's tokens, once the region's IdP keys
	// have replicated.
	consensustest.Eventually(t, 10*time.Second, func() error {
		if c, b := do(t, "GET", base+"/v1/cluster", f.token("160", "SYSADMIN"), "", ""); c != http.StatusOK {
			return fmt.Errorf("Puglia's operator at Lombardia: %d %s", c, b)
		}
		return nil
	}, "Puglia's operator answered at Lombardia")

	// The authority promotes Puglia: the leader makes it a voter.
	promoted := f.certify("160", pug.PeerID(), federation.RoleVoter, "region-voter.cert")
	if c, b := do(t, "POST", base+"/v1/federation/regions", f.token("030", "SYSADMIN"), "application/jwt", promoted); c != http.StatusForbidden {
		t.Fatalf("a region's operator submitted a certificate: %d %s", c, b)
	}
	if c, b := do(t, "POST", base+"/v1/federation/regions", auth, "application/jwt", promoted); c != http.StatusOK {
		t.Fatalf("promotion: %d %s", c, b)
	}
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter", "160": "voter"})

	// Revocation: Puglia leaves Raft, every node drops its connections
	// and refuses its tokens.
	rv, _, err := federation.IssueRevocation(f.authKey, federation.Revocation{Region: "160", Peer: pug.PeerID(), Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/federation/revocations", "/v1/federation/regions"} {
		for _, body := range []string{"garbage", "", "\x00\xff", strings.Repeat("a.", 9000)} {
			if c, b := do(t, "POST", base+path, auth, "application/jwt", body); c != http.StatusBadRequest && c != http.StatusRequestEntityTooLarge {
				t.Fatalf("POST %s with garbage: %d %s", path, c, b)
			}
		}
	}
	// A snapshot is for the authority or this region's operator only.
	for _, tok := range []string{f.token("150", "SYSADMIN"), f.token("030", "TREATMENT")} {
		if c, _ := do(t, "GET", base+"/v1/snapshot", tok, "", ""); c != http.StatusForbidden {
			t.Fatalf("snapshot for another region's operator or a clinician: %d, want 403", c)
		}
	}
	if c, b := do(t, "GET", base+"/v1/snapshot", f.token("030", "SYSADMIN"), "", ""); c != http.StatusOK || len(b) == 0 {
		t.Fatalf("snapshot for the region's operator: %d (%d bytes)", c, len(b))
	}
	if c, b := do(t, "POST", base+"/v1/federation/revocations", auth, "application/jwt", rv); c != http.StatusOK {
		t.Fatalf("revocation: %d %s", c, b)
	}
	waitRaft(t, lom, map[string]string{"030": "voter", "150": "voter"})
	consensustest.Eventually(t, 10*time.Second, func() error {
		for _, code := range []string{"030", "150"} {
			if conns := f.nodes[code].host.Network().ConnsToPeer(pug.PeerID()); len(conns) > 0 {
				return fmt.Errorf("%s still connected to the revoked region", code)
			}
		}
		return nil
	}, "the revoked region disconnected")
	if c, _ := do(t, "GET", base+"/v1/cluster", f.token("160", "SYSADMIN"), "", ""); c != http.StatusUnauthorized {
		t.Fatalf("a revoked region's token = %d, want 401", c)
	}
	// Its certificate can no longer be recorded.
	if c, b := do(t, "POST", base+"/v1/federation/regions", auth, "application/jwt", promoted); c != http.StatusForbidden {
		t.Fatalf("revoked region re-added: %d %s", c, b)
	}
}

func waitRaft(t *testing.T, n *Node, want map[string]string) {
	t.Helper()
	consensustest.Eventually(t, 30*time.Second, func() error {
		leader := n
		servers, err := leader.cons.Servers()
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, s := range servers {
			got[s.ID] = map[bool]string{true: "voter", false: "nonvoter"}[s.Voter]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("raft servers %v, want %v", got, want)
		}
		return nil
	}, "Raft's configuration following the membership")
}

func TestJoinRefusesBadRequests(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	url := "http://" + lom.HTTPAddr() + "/v1/federation/join"

	// A node key and certificate for Campania, to build requests from.
	cfg := f.config("150", federation.RoleVoter)
	key, err := federation.LoadIdentity(cfg.DataDir + "/node.key")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(key)
	good := f.certify("150", id, federation.RoleVoter, "region.cert")
	_, otherAuth, _ := ed25519.GenerateKey(nil)
	foreign, _, _ := federation.IssueCertificate(otherAuth, federation.Certificate{Region: "150", Name: "Campania", Peer: id, Role: "voter", Expiry: time.Now().Add(time.Hour)})
	otherKey, err := federation.LoadOrCreateIdentity(t.TempDir() + "/other.key")
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k interface{ Sign([]byte) ([]byte, error) }, cert string, at time.Time) string {
		sig, err := k.Sign(admission.JoinMessage(cert, at))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(admission.JoinRequest{Certificate: cert, At: at, Signature: base64.StdEncoding.EncodeToString(sig)})
		return string(b)
	}
	now := time.Now()
	tests := []struct {
		name string
		body string
		want int
	}{
		{"not JSON", "{garbage", http.StatusBadRequest},
		{"empty", "{}", http.StatusBadRequest},
		{"binary", "\x00\x01\x02\xff", http.StatusBadRequest},
		{"certificate of another authority", sign(key, foreign, now), http.StatusForbidden},
		{"signed by another key", sign(otherKey, good, now), http.StatusForbidden},
		{"old request", sign(key, good, now.Add(-time.Hour)), http.StatusBadRequest},
		{"garbage signature", strings.Replace(sign(key, good, now), `"signature":"`, `"signature":"AAAA`, 1), http.StatusForbidden},
		{"too big", `{"certificate":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, "POST", url, "", "application/json", tt.body)
			if code != tt.want || !strings.Contains(body, "OperationOutcome") {
				t.Fatalf("= %d %s, want %d", code, body, tt.want)
			}
		})
	}
	if v := lom.members.Members().View(); len(v.Regions) != 1 {
		t.Fatalf("a refused join changed the membership: %+v", v.Regions)
	}
	// The well-formed request is accepted.
	if code, body := do(t, "POST", url, "", "application/json", sign(key, good, now)); code != http.StatusOK {
		t.Fatalf("good join = %d %s", code, body)
	}
}

// Every refused token gets the same 401, whatever the reason.
func TestTokenAttacksAreRefused(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	f.add("150", federation.RoleVoter)
	base := "http://" + lom.HTTPAddr()
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := lom.members.Members().View().IdP("150"); !ok {
			return errors.New("Campania's IdP not replicated")
		}
		return nil
	}, "Campania's IdP keys replicated to Lombardia")
	good := f.token("030", "SYSADMIN")
	if c, b := do(t, "GET", base+"/v1/cluster", good, "", ""); c != http.StatusOK {
		t.Fatalf("valid token = %d %s", c, b)
	}
	pubJWKS := func() []byte {
		set, _ := federation.PublicJWKS(f.idp["030"])
		b, _ := json.Marshal(set)
		return b
	}
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	hs256 := func(secret []byte) string {
		h := enc([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + kidOf(t, f, "030") + `"}`))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + enc(m.Sum(nil))
	}
	var rawPub []byte
	if pk, err := f.idp["030"].PublicKey(); err == nil {
		var k ed25519.PublicKey
		if jwk.Export(pk, &k) == nil {
			rawPub = k
		}
	}
	if len(rawPub) != ed25519.PublicKeySize {
		t.Fatal("could not export the IdP public key")
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"SYSADMIN"`, `"EMERGENCY"`, 1)
	tests := []struct {
		name string
		tok  string
	}{
		{"alg none", enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		{"HS256 with the public key as secret", hs256(rawPub)},
		{"HS256 with the JWKS as secret", hs256(pubJWKS())},
		{"expired", f.token("030", "SYSADMIN", func(c *federation.Claims) {
			c.IssuedAt = time.Now().Add(-2 * time.Hour)
			c.Expiry = time.Now().Add(-time.Hour)
		})},
		{"not yet valid", f.token("030", "SYSADMIN", func(c *federation.Claims) { c.NotBefore = time.Now().Add(30 * time.Minute) })},
		{"wrong audience", f.token("030", "SYSADMIN", func(c *federation.Claims) { c.Audience = []string{"another-system"} })},
		{"unknown issuer", f.token("030", "SYSADMIN", func(c *federation.Claims) { c.Issuer = "urn:test:idp:999" })},
		{"tampered claims", parts[0] + "." + enc([]byte(tampered)) + "." + parts[2]},
		{"region A as region B", f.token("030", "SYSADMIN", func(c *federation.Claims) { c.OrganizationID = "150" })},
		{"region A's key, region B's issuer", f.token("030", "SYSADMIN", func(c *federation.Claims) { c.Issuer = "urn:test:idp:150"; c.OrganizationID = "150" })},
		{"garbage", "not.a.token"},
		{"empty bearer", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+"/v1/cluster", nil)
			req.Header.Set("Authorization", "Bearer "+tt.tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("= %d, want 401 with WWW-Authenticate", resp.StatusCode)
			}
		})
	}

	// Rotation: the new key is added, then the old one removed; tokens of
	// the old key stop working only then.
	newKey, err := federation.GenerateIdPKey(f.dir + "/030/idp2.key")
	if err != nil {
		t.Fatal(err)
	}
	oldKey := f.idp["030"]
	f.writeJWKS("030", oldKey, newKey)
	f.idp["030"] = newKey
	withNew := f.token("030", "SYSADMIN")
	consensustest.Eventually(t, 15*time.Second, func() error {
		if c, _ := do(t, "GET", base+"/v1/cluster", withNew, "", ""); c != http.StatusOK {
			return fmt.Errorf("new key not accepted yet: %d", c)
		}
		return nil
	}, "the rotated key accepted")
	if c, _ := do(t, "GET", base+"/v1/cluster", good, "", ""); c != http.StatusOK {
		t.Fatalf("old key refused before its removal: %d", c)
	}
	f.writeJWKS("030", newKey)
	consensustest.Eventually(t, 15*time.Second, func() error {
		if c, _ := do(t, "GET", base+"/v1/cluster", good, "", ""); c != http.StatusUnauthorized {
			return fmt.Errorf("token of a removed key = %d, want 401", c)
		}
		return nil
	}, "the removed key refused")
	if c, _ := do(t, "GET", base+"/v1/cluster", withNew, "", ""); c != http.StatusOK {
		t.Fatalf("new key refused after rotation: %d", c)
	}
}

func kidOf(t *testing.T, f *fed, code string) string {
	kid, ok := f.idp[code].KeyID()
	if !ok {
		t.Fatal("no kid")
	}
	return kid
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Region = "999"
	cfg.DataDir = t.TempDir()
	cfg.Authority.PublicKeyFile, cfg.Authority.CertificateFile = "authority.pub", "region.cert"
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("err = %v", err)
	}
}

func TestStartRefusesWrongCertificates(t *testing.T) {
	f := newFed(t)
	cfg := f.config("030", federation.RoleVoter)
	key, _ := federation.LoadIdentity(cfg.DataDir + "/node.key")
	id, _ := peer.IDFromPrivateKey(key)
	other, _ := federation.LoadOrCreateIdentity(t.TempDir() + "/x.key")
	otherID, _ := peer.IDFromPrivateKey(other)
	_, foreignAuth, _ := ed25519.GenerateKey(nil)
	write := func(tok string) {
		if err := writeFile(cfg.DataDir+"/region.cert", []byte(tok)); err != nil {
			t.Fatal(err)
		}
	}
	cert := func(a ed25519.PrivateKey, p peer.ID, region string) string {
		tok, _, err := federation.IssueCertificate(a, federation.Certificate{Region: region, Name: "x", Peer: p, Role: "voter", Addrs: []string{f.addrs["030"]}, Expiry: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name, tok, want string
	}{
		{"signed by another key", cert(foreignAuth, id, "030"), "certificate_file"},
		{"for another peer", cert(f.authKey, otherID, "030"), "certificate_file"},
		{"for another region", cert(f.authKey, id, "150"), "region 150"},
		{"garbage", "garbage", "certificate_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(tt.tok)
			cfg.HTTP.Listen = "127.0.0.1:0"
			n, err := New(cfg, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			err = n.Start(context.Background())
			if err == nil {
				_ = n.Shutdown(context.Background())
				t.Fatal("started with a bad certificate")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if n.host != nil || n.httpLn != nil {
				t.Fatal("something was left running")
			}
		})
	}
}

// An index entry written through one node is found, through the FHIR API
// and the access policy, on every node; the access is audited.
func TestIndexEntriesAreSearchableOnEveryNode(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	seedLabReport(t, lom)
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := cam.members.Members().View().IdP("150"); !ok {
			return errors.New("Campania's IdP keys not replicated yet")
		}
		return nil
	}, "Campania's IdP keys replicated")
	url := "http://" + cam.HTTPAddr() + "/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501U"
	clinician := f.token("150", "TREATMENT")
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", url, clinician, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":1`) {
			return fmt.Errorf("search at Campania: %d %s", code, body)
		}
		return nil
	}, "the entry searchable at Campania")
	if code, body := do(t, "GET", url, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("search without a token: %d %s", code, body)
	}
	if code, _ := do(t, "POST", "http://"+cam.HTTPAddr()+"/fhir/DocumentReference", clinician, "application/fhir+json", "{}"); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST DocumentReference: %d", code)
	}
	// The authority reads the patient's access log from Lombardia: the
	// search served by Campania is there.
	auditURL := "http://" + lom.HTTPAddr() + "/fhir/AuditEvent?patient=Patient/CF-RSSMRA80A01H501U"
	consensustest.Eventually(t, 10*time.Second, func() error {
		code, body := do(t, "GET", auditURL, f.authorityToken(), "", "")
		if code != http.StatusOK || !strings.Contains(body, `"value":"150"`) || !strings.Contains(body, "DocumentReference.search") {
			return fmt.Errorf("access log: %d %s", code, body)
		}
		return nil
	}, "the accesses in the log")
	// The authority's feeding statistics count the document.
	code, body := do(t, "GET", "http://"+cam.HTTPAddr()+"/v1/authority/feeding?region=030", f.authorityToken(), "", "")
	if code != http.StatusOK || !strings.Contains(body, `"11502-2":1`) || !strings.Contains(body, `"patients_with_documents":1`) {
		t.Fatalf("feeding: %d %s", code, body)
	}
	if code, _ := do(t, "GET", "http://"+cam.HTTPAddr()+"/v1/authority/feeding", f.token("150", "SYSADMIN"), "", ""); code != http.StatusForbidden {
		t.Fatalf("feeding for a region's operator: %d", code)
	}
	for _, bad := range []string{"?region=999", "?from=2026", "?to=garbage"} {
		if code, _ := do(t, "GET", "http://"+cam.HTTPAddr()+"/v1/authority/feeding"+bad, f.authorityToken(), "", ""); code != http.StatusBadRequest {
			t.Fatalf("feeding%s: %d", bad, code)
		}
	}
	// Every replica recomputes the chain.
	for _, n := range []*Node{lom, cam} {
		consensustest.Eventually(t, 10*time.Second, func() error {
			code, body := do(t, "GET", "http://"+n.HTTPAddr()+"/v1/audit/verify", f.authorityToken(), "", "")
			var v index.AuditVerification
			if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil || !v.OK || v.Events < 2 {
				return fmt.Errorf("audit verify at %s: %d %s", n.cfg.Region, code, body)
			}
			return nil
		}, "the audit chain verified on every replica")
	}
}
