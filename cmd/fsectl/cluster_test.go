package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// region is one region's entry of GET /v1/cluster, as the node writes it.
func region(code, name, digest, errMsg string) string {
	leader := code == "030"
	state, raft := "Follower", "voter"
	if leader {
		state = "Leader"
	}
	if code == "160" {
		raft = ""
	}
	version := "v1.4.0"
	if errMsg != "" {
		state, version = "", ""
	}
	return fmt.Sprintf(`{"code":%q,"name":%q,"peer":"12D3KooW%s","role":"voter","raft":%q,"leader":%t,"state":%q,"term":3,"commit_index":120,"applied_index":120,"digest":%q,"error":%q,"cert_expiry":"2027-11-27T00:00:00Z","version":%q}`,
		code, name, code, raft, leader, state, digest, errMsg, version)
}

// clusterJSON is the answer of GET /v1/cluster asked of region 030.
func clusterJSON(agree bool, regions ...string) string {
	return fmt.Sprintf(`{"region":"030","leader":"030","term":3,"commit_index":120,"applied_index":120,"digest_index":118,"agree":%t,"regions":[%s]}`,
		agree, strings.Join(regions, ","))
}

const (
	digestA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	digestB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

func serveCluster(t *testing.T, body string) *fakeNode {
	return newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/cluster" {
			writeOutcome(w, http.StatusNotFound, "not-found", "no route "+r.Method+" "+r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	})
}

func TestClusterStatus(t *testing.T) {
	body := clusterJSON(false,
		region("030", "Lombardia", digestA, ""),
		region("150", "Campania", digestA, ""),
		region("160", "Puglia", "", "dial backoff"))
	node := serveCluster(t, body)

	r := fsectl(t, node.env(), "cluster", "status")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		"leader:         030 (Lombardia)",
		"term:           3",
		"commit index:   120",
		"applied index:  120",
		"digest index:   118 (replicas DO NOT agree)",
		"CODE", "CERT EXPIRY",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in:\n%s", want, r.stdout)
		}
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	for code, want := range map[string]string{
		"030": "030 Lombardia voter voter Leader * 3 120 120 2027-11-27 v1.4.0 12D3KooW030 -",
		"150": "150 Campania voter voter Follower - 3 120 120 2027-11-27 v1.4.0 12D3KooW150 -",
		"160": "160 Puglia voter absent - - - - - 2027-11-27 - 12D3KooW160 dial backoff",
	} {
		if got := strings.Join(rows[code], " "); got != want {
			t.Errorf("region %s row:\n got %s\nwant %s", code, got, want)
		}
	}

	t.Run("json", func(t *testing.T) {
		r := fsectl(t, node.env(), "cluster", "status", "--json")
		if r.code != 0 {
			t.Fatal(r)
		}
		var got, want any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
		}
		json.Unmarshal([]byte(body), &want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
	})

	t.Run("no leader, expired certificate", func(t *testing.T) {
		body := strings.Replace(clusterJSON(true, region("030", "Lombardia", digestA, "")), `"leader":"030"`, `"leader":""`, 1)
		body = strings.Replace(body, "2027-11-27T00:00:00Z", "2001-01-01T00:00:00Z", 1)
		r := fsectl(t, serveCluster(t, body).env(), "cluster", "status")
		if r.code != 0 || !strings.Contains(r.stdout, "leader:         none") || !strings.Contains(r.stdout, "2001-01-01 EXPIRED") {
			t.Fatal(r)
		}
	})
}

func TestClusterDigest(t *testing.T) {
	lombardia := region("030", "Lombardia", digestA, "")
	tests := []struct {
		name string
		body string
		json bool
		code int
		want string // in stderr when code is 1, in stdout when 0
	}{
		{"agree", clusterJSON(true, lombardia, region("150", "Campania", digestA, ""), region("160", "Puglia", digestA, "")),
			false, 0, "all 3 regions agree at index 118"},
		{"agree json", clusterJSON(true, lombardia, region("150", "Campania", digestA, "")),
			true, 0, `"digest_index": 118`},
		{"one differs", clusterJSON(false, lombardia, region("150", "Campania", digestB, ""), region("160", "Puglia", digestA, "")),
			false, 1, "fsectl cluster digest: region 150 (Campania) differs at index 118: digest " + digestB + ", region 030 (Lombardia) has " + digestA},
		{"first of two that differ", clusterJSON(false, lombardia, region("150", "Campania", digestA, ""), region("160", "Puglia", digestB, ""), region("190", "Sicilia", "ff", "")),
			false, 1, "region 160 (Puglia) differs"},
		{"differs json", clusterJSON(false, lombardia, region("150", "Campania", digestB, "")),
			true, 1, "region 150 (Campania) differs"},
		{"unreachable", clusterJSON(false, lombardia, region("150", "Campania", "", "context deadline exceeded"), region("160", "Puglia", digestA, "")),
			false, 1, "fsectl cluster digest: region 150 (Campania) could not be asked: context deadline exceeded"},
		{"no digest", clusterJSON(false, lombardia, region("150", "Campania", "", "")),
			false, 1, "region 150 (Campania) reported no digest at index 118"},
		{"node disagrees", clusterJSON(false, lombardia, region("150", "Campania", digestA, "")),
			false, 1, "the node reports that the replicas do not agree at index 118"},
		{"node agrees, digests differ", clusterJSON(true, lombardia, region("150", "Campania", digestB, "")),
			false, 1, "region 150 (Campania) differs"},
		{"no regions", `{"region":"030","digest_index":118,"agree":true,"regions":[]}`,
			false, 1, "the node reported no regions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"cluster", "digest"}
			if tt.json {
				args = append([]string{"--json"}, args...)
			}
			r := fsectl(t, serveCluster(t, tt.body).env(), args...)
			out := r.stdout
			if tt.code != 0 {
				out = r.stderr
			}
			if r.code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("want exit %d and %q, got %v", tt.code, tt.want, r)
			}
			if !tt.json && !strings.Contains(r.stdout, "digest index: 118") {
				t.Fatalf("no digest table: %v", r)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		r := fsectl(t, nil, arg)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "fsectl ") || !strings.Contains(r.stdout, runtime.Version()) {
			t.Fatalf("%s: %+v", arg, r)
		}
	}
}

// storedJSON is the answer of GET /v1/cluster/scrub asked of region 030.
func storedJSON(sound bool, damage string, regions ...string) string {
	d := ""
	if damage != "" {
		d = `,"damage":` + damage
	}
	return fmt.Sprintf(`{"region":"030","sound":%t%s,"report":{"index":240,"checked":"2026-12-04T10:00:00Z","keys":51234,"bytes":9000000,"took_ns":1000000,"agree":%t,"regions":[%s]}}`,
		sound, d, len(regions) > 0 && !strings.Contains(strings.Join(regions, ""), `"state":"d`), strings.Join(regions, ","))
}

func storedRegion(code, state string, ranges ...int) string {
	rs, _ := json.Marshal(ranges)
	note := ""
	if state != "agrees" {
		note = "differs from the root of 2 of 3 replicas"
	}
	return fmt.Sprintf(`{"id":%q,"state":%q,"root":"%s","ranges":%s,"note":%q}`, code, state, strings.Repeat(code[:1], 64), rs, note)
}

func serveClusterAndStored(t *testing.T, cluster, stored string) *fakeNode {
	return newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/cluster":
			w.Write([]byte(cluster))
		case r.Method == http.MethodGet && r.URL.Path == "/v1/cluster/scrub":
			w.Write([]byte(stored))
		default:
			writeOutcome(w, http.StatusNotFound, "not-found", "no route "+r.Method+" "+r.URL.Path)
		}
	})
}

func TestClusterDigestStoredState(t *testing.T) {
	cluster := clusterJSON(true, region("030", "Lombardia", digestA, ""), region("150", "Campania", digestA, ""), region("160", "Puglia", digestA, ""))
	tests := []struct {
		name   string
		stored string
		json   bool
		code   int
		want   string // in stderr when code is 1, in stdout when 0
	}{
		{"agree", storedJSON(true, "", storedRegion("030", "agrees"), storedRegion("150", "agrees"), storedRegion("160", "agrees")),
			false, 0, "all 3 regions' stored states agree at index 240"},
		{"agree json", storedJSON(true, "", storedRegion("030", "agrees"), storedRegion("150", "agrees")),
			true, 0, `"stored_state": {`},
		{"one differs", storedJSON(true, "", storedRegion("030", "agrees"), storedRegion("150", "differs", 3, 17), storedRegion("160", "agrees")),
			false, 1, "fsectl cluster digest: region 150 (Campania): stored state differs at index 240 in ranges 3,17"},
		{"one damaged json", storedJSON(true, "", storedRegion("030", "agrees"), storedRegion("160", "damaged", 200)),
			true, 1, "region 160 (Puglia): stored state damaged at index 240 in ranges 200"},
		{"asked node damaged", storedJSON(false, `{"index":0,"ranges":[42],"reason":"a stored value that does not match its seal","since":"2026-12-04T10:00:00Z"}`,
			storedRegion("030", "agrees"), storedRegion("150", "agrees")),
			false, 1, "region 030 (Lombardia) reports its stored state damaged (a stored value that does not match its seal) in ranges 42"},
		{"not compared", storedJSON(true, "", storedRegion("030", "agrees"), `{"id":"150","state":"no-result","note":"this replica did not scan at that index"}`),
			false, 1, "region 150 (Campania): stored state no-result at index 240: this replica did not scan at that index"},
		{"no comparison yet", `{"region":"030","sound":true}`,
			false, 0, "stored state: 030 (Lombardia) has made no comparison yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"cluster", "digest"}
			if tt.json {
				args = append([]string{"--json"}, args...)
			}
			r := fsectl(t, serveClusterAndStored(t, cluster, tt.stored).env(), args...)
			out := r.stdout
			if tt.code != 0 {
				out = r.stderr
			}
			if r.code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("want exit %d and %q, got %v", tt.code, tt.want, r)
			}
			if !tt.json && tt.stored != `{"region":"030","sound":true}` && !strings.Contains(r.stdout, "stored state index: 240 (51234 keys") {
				t.Fatalf("no stored state table: %v", r)
			}
		})
	}
	t.Run("older node", func(t *testing.T) {
		r := fsectl(t, serveCluster(t, cluster).env(), "cluster", "digest")
		if r.code != 0 || !strings.Contains(r.stdout, "does not compare the replicas' stored states") {
			t.Fatal(r)
		}
	})
}
