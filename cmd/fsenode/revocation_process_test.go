package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A revocation sticks. The revoked node is told at once: it stops serving
// clinical data, says why in /readyz, a metric and one log line, and stays
// so after a restart; the members log its refused connections once. The
// authority will not certify its key again. A snapshot from before the
// revocation, restored, does not bring it back: the restored node refuses
// the revoked region's tokens, keeps it out of Raft, and puts the
// revocation back into the replicated state.
func TestProcessRevocationSticks(t *testing.T) {
	a, regions := threeVoters(t)
	lom, cam, pug := regions[0], regions[1], regions[2]
	auth := a.token()
	pugToken := regionToken(t, pug, "--sub", "RSSMRA80A01H501U", "--role", "AAS", "--purpose", "TREATMENT")
	metadataOK := func(p *proc, tok string) int {
		code, _ := call(t, http.MethodGet, p.url()+"/fhir/Patient?identifier=http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501U", tok, "", nil)
		return code
	}
	if code := metadataOK(lom, pugToken); code != http.StatusOK {
		t.Fatalf("Puglia's token at Lombardia before the revocation: %d", code)
	}

	snap := filepath.Join(t.TempDir(), "before.snap")
	if out, code := ctl(t, lom.url(), auth, "snapshot", "save", snap); code != 0 {
		t.Fatalf("snapshot save: exit %d\n%s", code, out)
	}

	revFile := filepath.Join(t.TempDir(), "revocation.jwt")
	run(t, "authority", "revoke", "--key", a.key(), "--region", pug.code, "--peer", pug.peer, "--reason", "test: stolen key", "--out", revFile)
	if b, err := os.ReadFile(filepath.Join(a.dir, "revocations")); err != nil || !strings.Contains(string(b), strings.TrimSpace(readFile(t, revFile))) {
		t.Fatalf("the authority's revocation list lacks the revocation: %v", err)
	}
	pugMark := pug.logSize()
	if out, code := ctl(t, lom.url(), auth, "region", "revoke", revFile); code != 0 {
		t.Fatalf("region revoke: exit %d\n%s", code, out)
	}

	// Told: the revoked node is unready, says why, and serves no data.
	revokedNow := func(p *proc) bool {
		answered, ready, why := p.readiness()
		return answered && !ready && strings.Contains(why, "revoked")
	}
	waitFor(t, 30*time.Second, "Puglia knows it is revoked", func() bool { return revokedNow(pug) })
	if code := metadataOK(pug, pugToken); code != http.StatusServiceUnavailable {
		t.Fatalf("the revoked node answered a search with %d, want 503", code)
	}
	if v := metric(t, pug, "fsenet_node_revoked"); v != "1" {
		t.Fatalf("fsenet_node_revoked = %q, want 1", v)
	}
	if n := strings.Count(pug.loggedSince(pugMark), "membership was revoked by the national authority"); n != 1 {
		t.Fatalf("the revoked node said it was revoked %d times, want once", n)
	}
	if code := metadataOK(lom, pugToken); code != http.StatusUnauthorized {
		t.Fatalf("Puglia's token at Lombardia after the revocation: %d, want 401", code)
	}

	// After a restart it still knows, and the members turn it away,
	// logging it at WARN once each.
	marks := map[*proc]int64{lom: lom.logSize(), cam: cam.logSize()}
	pug.terminate(t)
	pug.start(t)
	waitFor(t, readyTimeout, "the restarted Puglia answering and revoked", func() bool { return revokedNow(pug) })
	if code := metadataOK(pug, pugToken); code != http.StatusServiceUnavailable {
		t.Fatalf("the restarted revoked node answered a search with %d, want 503", code)
	}
	refusals := func(p *proc) int {
		n := 0
		for _, l := range strings.Split(p.loggedSince(marks[p]), "\n") {
			if strings.Contains(l, "refused connection from revoked peer") && strings.Contains(l, pug.peer) && strings.Contains(l, `"WARN"`) {
				n++
			}
		}
		return n
	}
	waitFor(t, readyTimeout, "the members turn the restarted node away", func() bool { return refusals(lom) > 0 || refusals(cam) > 0 })
	// Let it retry, round after round: still one WARN line each.
	waitFor(t, time.Minute, "three refusals of the revoked node's connections", func() bool {
		return refusedRevoked(t, lom)+refusedRevoked(t, cam) >= 5
	})
	for _, p := range []*proc{lom, cam} {
		if n := refusals(p); n > 1 {
			t.Fatalf("region %s logged the revoked peer's refusal %d times at WARN, want at most once", p.code, n)
		}
	}

	// The authority will not certify the revoked key again.
	for _, args := range [][]string{
		{"authority", "certify", "--key", a.key(), "--region", pug.code, "--peer", pug.peer, "--role", "voter"},
		{"authority", "demote", "--key", a.key(), "--cert", filepath.Join(pug.dir, "region.cert")},
	} {
		out, err := execFsenode(args...)
		if err == nil || !strings.Contains(out, "revoked") {
			t.Fatalf("fsenode %s of a revoked peer: err %v\n%s", args[1], err, out)
		}
	}

	// Restore the snapshot from before the revocation, as the guide says:
	// node files and the revocation list copied, the state restored.
	for _, p := range regions {
		p.terminate(t)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"node.key", "region.cert", "authority.pub", "idp.jwks", "idp.key", "revocations"} {
		if err := os.WriteFile(filepath.Join(restored, f), []byte(readFile(t, filepath.Join(lom.dir, f))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "restore", "--config", filepath.Join(lom.dir, "region.toml"), "--data_dir", restored, snap)
	lom.start(t, "--data_dir", restored)
	waitFor(t, readyTimeout, "the restored node ready", lom.ready)
	if code := metadataOK(lom, pugToken); code != http.StatusUnauthorized {
		t.Fatalf("the restored node accepted the revoked region's token: %d", code)
	}
	waitFor(t, 30*time.Second, "the revocation back in the replicated state", func() bool {
		cv, err := clusterOf(t, lom, auth)
		if err != nil {
			return false
		}
		for _, r := range cv.Regions {
			if r.Code == pug.code {
				return false
			}
		}
		_, inRaft := cv.raft()[pug.code]
		return !inRaft
	})
}

// refusedRevoked is how many connections of revoked peers p refused.
func refusedRevoked(t testing.TB, p *proc) int {
	resp, err := http.Get(p.url() + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, `fsenet_p2p_refused_connections_total{reason="revoked"`) {
			fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &n)
		}
	}
	return n
}

func execFsenode(args ...string) (string, error) {
	out, err := exec.Command(fsenodeBin, args...).CombinedOutput()
	return string(out), err
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
