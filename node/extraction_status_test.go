package node

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// The region's operators read how its documents were extracted; nobody
// else may.
func TestExtractionStatusForTheRegionsOperators(t *testing.T) {
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	pt := synth.NewPatient(rand.New(rand.NewPCG(3, 19)))
	register(t, lom, pt, "030", true)
	f.producer(lom, "030", "ASST Demo", "030901").publishLab(t, pt, "status-1", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	url := "http://" + lom.HTTPAddr() + "/v1/facts/extraction"
	operator := f.token("030", index.PurposeSysadmin, func(c *federation.Claims) { c.SubjectRole = "DSA" })
	consensustest.Eventually(t, 30*time.Second, func() error {
		code, body := do(t, http.MethodGet, url, operator, "", "")
		var st struct {
			Region   string         `json:"region"`
			Outcomes map[string]int `json:"outcomes"`
			Pending  int            `json:"pending"`
			Enabled  bool           `json:"enabled"`
			Failures []any          `json:"failures"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
			return fmt.Errorf("%d %s", code, body)
		}
		if st.Region != "030" || !st.Enabled || st.Outcomes["ok"] != 1 || st.Pending != 0 || st.Failures == nil || len(st.Failures) != 0 {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	}, "the lab report's extraction reported")
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a clinician of the region", f.token("030", index.PurposeTreatment), http.StatusForbidden},
		{"the authority", f.authorityToken(), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := do(t, http.MethodGet, url, tc.token, "", ""); code != tc.status {
				t.Fatalf("%d %s, want %d", code, body, tc.status)
			}
		})
	}
}
