package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

// flipInFiles flips one byte of every occurrence of needle in the files of
// dir (a stopped node's state database: tables, value log, memtable log)
// and returns how many it changed.
func flipInFiles(t *testing.T, dir string, needle []byte) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		changed := false
		for i := 0; ; {
			j := bytes.Index(b[i:], needle)
			if j < 0 {
				break
			}
			b[i+j] ^= 0x20 // "Zanzotterabellini" becomes "zanzotterabellini"
			i += j + len(needle)
			changed = true
			n++
		}
		if changed {
			t.Logf("flipped %s in %s", needle, filepath.Base(path))
			return os.WriteFile(path, b, 0o600)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readFamily reads a patient on a node as the authority: the status, and
// the family name when the answer is 200.
func readFamily(r *proc, token, cf string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, r.url()+"/fhir/Patient/CF-"+cf, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var p struct {
		Name []struct {
			Family string `json:"family"`
		} `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", err
	}
	if len(p.Name) == 0 {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, p.Name[0].Family, nil
}

// TestProcessStoredStateDamage is finding 7 of the hardening issue with
// real processes: one byte of a registry record flipped in a stopped
// replica's badger files. Before the fix the replica served the altered
// name while the others served the original, and "fsectl cluster digest"
// said the replicas agreed. Now the replica never answers the altered
// value, finds the damage within one check (log, metrics), repairs
// itself from the others, and then every replica agrees and serves the
// original.
func TestProcessStoredStateDamage(t *testing.T) {
	a, regions := threeVoters(t, "--raft.scrub_interval", "2s")
	auth := a.token()
	rng := rand.New(rand.NewPCG(7, 7))
	const family = "Zanzotterabellini"
	var marked synth.Patient
	for i := 0; i < 30; i++ {
		pt := synth.NewPatient(rng)
		if i == 17 {
			pt.Family = family
			marked = pt
		}
		registerPatient(t, regions[i%3], pt)
	}
	// A follower is the victim; every region serves the name first.
	var victim *proc
	for _, r := range regions {
		waitFor(t, 30*time.Second, "region "+r.code+" serves the patient", func() bool {
			code, got, _ := readFamily(r, auth, marked.CF)
			return code == http.StatusOK && got == family
		})
		if victim == nil && r.status().State != "Leader" {
			victim = r
		}
	}
	if victim == nil {
		t.Fatal("no follower")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the end of region %s's log:\n%s", victim.code, logTail(filepath.Join(victim.dir, "node.log"), 20000))
		}
	})
	var others []*proc
	for _, r := range regions {
		if r != victim {
			others = append(others, r)
		}
	}

	victim.terminate(t)
	if n := flipInFiles(t, filepath.Join(victim.dir, "consensus", "state"), []byte(family)); n == 0 {
		t.Fatalf("the name %q is in none of region %s's state files", family, victim.code)
	}
	altered := strings.ToLower(family[:1]) + family[1:]

	mark := victim.logSize()
	victim.start(t)
	// From its start to its repair, every read on the victim is either
	// refused or the original name, never the altered one.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var wrong []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			code, got, err := readFamily(victim, auth, marked.CF)
			if err != nil && code == 0 {
				continue // not listening yet
			}
			mu.Lock()
			statuses[code]++
			if code == http.StatusOK && got != family {
				wrong = append(wrong, got)
			}
			mu.Unlock()
		}
	}()

	// A wrong answer fails the test at once, whatever it waits for.
	never := func(cond func() bool) func() bool {
		return func() bool {
			mu.Lock()
			w := wrong
			mu.Unlock()
			if len(w) > 0 {
				t.Fatalf("region %s answered the altered name %q", victim.code, w)
			}
			return cond()
		}
	}
	damage := regexp.MustCompile(`"level":"ERROR","msg":"the replica's stored state is damaged[^\n]*"ranges":\[[0-9]`)
	waitFor(t, 60*time.Second, "region "+victim.code+" finds its stored state damaged", never(func() bool {
		return damage.MatchString(victim.loggedSince(mark))
	}))
	waitFor(t, readyTimeout, "region "+victim.code+" repaired and ready", never(func() bool {
		_, ready, _ := victim.readiness()
		v := metric(t, victim, "fsenet_state_repairs_total")
		return ready && v != "" && v != "0"
	}))
	// Every replica agrees on the stored state at a check after the
	// repair, whichever region is asked.
	for _, asked := range append([]*proc{victim}, others...) {
		waitFor(t, 60*time.Second, "fsectl cluster digest on "+asked.code+" finds every stored state in agreement", func() bool {
			out, code := ctl(t, asked.url(), auth, "cluster", "digest")
			return code == 0 && strings.Contains(out, "regions' stored states agree")
		})
	}
	waitFor(t, 30*time.Second, "region "+victim.code+" serves the original name", func() bool {
		code, got, _ := readFamily(victim, auth, marked.CF)
		return code == http.StatusOK && got == family
	})
	close(stop)
	wg.Wait()
	if len(wrong) > 0 {
		t.Fatalf("region %s answered the altered name %q (statuses %v)", victim.code, wrong, statuses)
	}
	if statuses[http.StatusOK] == 0 {
		t.Fatalf("region %s answered no read (statuses %v)", victim.code, statuses)
	}
	if v := metric(t, victim, "fsenet_state_damage_found_total"); v == "" || v == "0" {
		t.Fatalf("fsenet_state_damage_found_total = %q after the damage was found", v)
	}
	for _, r := range others {
		if code, got, _ := readFamily(r, auth, marked.CF); code != http.StatusOK || got != family {
			t.Fatalf("region %s serves %d %q", r.code, code, got)
		}
	}
	t.Logf("reads on the damaged region until repaired: %v; %s never served %q", statuses, victim.code, altered)
}
