package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/telemed"
)

// A region's backup is for the region's own operator: three parts, the
// manifest last with the checksums of the other two, the state part a
// whole snapshot at the manifest's index. The check answers on the same
// terms.
func TestBackupEndpoints(t *testing.T) {
	f := newFed(t)
	n := f.add("030", federation.RoleVoter)
	f.add("150", federation.RoleVoter)
	base := "http://" + n.HTTPAddr()
	consensustest.Eventually(t, 10*time.Second, func() error {
		if c, b := do(t, "GET", base+"/v1/cluster", f.token("150", "SYSADMIN"), "", ""); c != http.StatusOK {
			return errors.New(b)
		}
		return nil
	}, "Campania's tokens verified at Lombardia")

	for _, path := range []string{"/v1/backup", "/v1/backup/check"} {
		for name, tok := range map[string]string{"the authority": f.authorityToken(), "another region's operator": f.token("150", "SYSADMIN"),
			"a clinician": f.token("030", "TREATMENT")} {
			if c, b := do(t, "GET", base+path, tok, "", ""); c != http.StatusForbidden || !strings.Contains(b, "OperationOutcome") {
				t.Fatalf("GET %s for %s: %d %s, want a 403 OperationOutcome", path, name, c, b)
			}
		}
		if c, _ := do(t, "GET", base+path, "", "", ""); c != http.StatusUnauthorized {
			t.Fatalf("GET %s without a token: %d", path, c)
		}
	}

	op := f.token("030", "SYSADMIN")
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/backup", nil)
	req.Header.Set("Authorization", "Bearer "+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || err != nil || mt != "multipart/mixed" {
		t.Fatalf("backup: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	parts := map[string][]byte{}
	var order []string
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts[p.FileName()] = b
		order = append(order, p.FileName())
	}
	if want := []string{BackupStateFile, BackupRepositoryFile, telemed.MonitoringBackupFile, telemed.ScheduleBackupFile, BackupManifestFile}; !slices.Equal(order, want) {
		t.Fatalf("parts %v, want %v", order, want)
	}
	man, err := ReadBackupManifest(parts[BackupManifestFile])
	if err != nil || man.Region != "030" || man.Index == 0 {
		t.Fatalf("manifest %+v: %v", man, err)
	}
	if len(man.Files) != len(order)-1 {
		t.Fatalf("the manifest names %d files; %d were sent", len(man.Files), len(order)-1)
	}
	for _, name := range order[:len(order)-1] {
		sum := sha256.Sum256(parts[name])
		if got := man.Files[name]; got.SHA256 != hex.EncodeToString(sum[:]) || got.Bytes != int64(len(parts[name])) {
			t.Fatalf("%s: manifest says %+v, received %d bytes", name, got, len(parts[name]))
		}
	}
	err = consensus.InspectSnapshot(bytes.NewReader(parts[BackupStateFile]), t.TempDir(), quietLog(), func(info consensus.SnapshotInfo, _ consensus.Reader) error {
		if info.Index != man.Index || info.Digest != man.Digest {
			t.Errorf("the state part is at %d (%s), the manifest says %d (%s)", info.Index, info.Digest, man.Index, man.Digest)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"format":"something else"}`,
		`{"format":"fsenet-region-backup/2","files":{"state.snap":{"sha256":"` + strings.Repeat("0", 64) + `"}}}`,
		`{"format":"fsenet-region-backup/2","files":{"state.snap":{"sha256":"` + strings.Repeat("0", 64) + `"},"repository.badger":{"sha256":"` + strings.Repeat("0", 64) + `"},"../x":{}}}`,
	} {
		if _, err := ReadBackupManifest([]byte(bad)); !errors.Is(err, ErrBadBackup) {
			t.Fatalf("manifest %s: %v", bad, err)
		}
	}
	older := `{"format":"fsenet-region-backup/1","files":{"state.snap":{"sha256":"` + strings.Repeat("0", 64) + `"},"repository.badger":{"sha256":"` + strings.Repeat("0", 64) + `"}}}`
	if _, err := ReadBackupManifest([]byte(older)); err != nil {
		t.Fatalf("a backup of format 1 (no other stores): %v", err)
	}

	c, b := do(t, "GET", base+"/v1/backup/check", op, "", "")
	var check BackupCheck
	if c != http.StatusOK || json.Unmarshal([]byte(b), &check) != nil || check.Region != "030" || check.Index == 0 || check.Missing == nil {
		t.Fatalf("check: %d %s", c, b)
	}
}
