package clinical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	dto "github.com/prometheus/client_model/go"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/population"
	"github.com/fsenet/fsenet/repository/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// recorder keeps the audit events a region records.
type recorder struct {
	mu     sync.Mutex
	events []index.Event
}

func (r *recorder) Record(_ context.Context, events ...index.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	return nil
}

func (r *recorder) whats() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.What)
	}
	return out
}

// callers are the tokens the test regions accept.
var callers = map[string]index.Caller{
	"authority": {Subject: "AUTORITA", Authority: true},
	"clinician": {Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: index.PurposeTreatment, Region: "030"},
}

func callerOf(tok string) (index.Caller, error) {
	c, ok := callers[tok]
	if !ok {
		return c, fmt.Errorf("unknown token")
	}
	return c, nil
}

// region is one region's node as population questions see it: a real
// store on disk, a real libp2p host, the API.
type region struct {
	code  string
	store *store.Store
	host  host.Host
	api   *API
	audit *recorder
}

// federationOf starts one region per code, their hosts admitting each
// other, each serving the population protocol.
func federationOf(t testing.TB, codes ...string) []*region {
	t.Helper()
	var rs []*region
	peers := map[string]peer.ID{}
	var gaters []*federation.Gater
	for _, code := range codes {
		cfg := store.DefaultConfig(filepath.Join(t.TempDir(), "store"))
		cfg.GCInterval = 0
		st, err := store.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		g := federation.NewGater(nil, quiet())
		h, err := federation.NewHost(federation.HostConfig{KeyFile: filepath.Join(t.TempDir(), "node.key"),
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: 2 * time.Second}, g)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		peers[code] = h.ID()
		gaters = append(gaters, g)
		rs = append(rs, &region{code: code, store: st, host: h, audit: &recorder{}})
	}
	var ids []peer.ID
	for _, r := range rs {
		ids = append(ids, r.host.ID())
	}
	for i, r := range rs {
		gaters[i].SetMembers(ids, nil)
		for _, o := range rs {
			if o != r {
				r.host.Peerstore().AddAddrs(o.host.ID(), o.host.Addrs(), peerstore.PermanentAddrTTL)
			}
		}
		r.api = New(Deps{Region: r.code, Rows: r.store, Audit: r.audit, Host: r.host, Log: quiet(), QuestionDeadline: 20 * time.Second,
			Regions:    func() []string { return codes },
			RegionPeer: func(code string) (peer.ID, bool) { p, ok := peers[code]; return p, ok },
			Verify:     callerOf,
			Caller: func(req *http.Request) (index.Caller, bool) {
				_, tok, _ := bearerOf(req)
				c, err := callerOf(tok)
				return c, err == nil
			}})
		r.api.ServePopulation(r.host)
	}
	return rs
}

// load stores rows as the extractions of one document each (bulk).
func (r *region) load(t testing.TB, rows []facts.Row, patient func(i int) string) {
	t.Helper()
	const batch = 2000
	var res []store.ExtractionResult
	flush := func() {
		if err := r.store.PutExtractions(res...); err != nil {
			t.Fatal(err)
		}
		res = res[:0]
	}
	for i, row := range rows {
		res = append(res, store.ExtractionResult{Record: store.Extracted{Doc: fmt.Sprintf("%s-doc-%d", r.code, i), Patient: patient(i), Outcome: store.ExtractOK},
			Rows: []facts.Row{row}})
		if len(res) == batch {
			flush()
		}
	}
	flush()
}

// synthRows makes a region's rows: patients with HbA1c results (and
// their age, gender, province), one row per document.
func synthRows(rng *rand.Rand, code string, patients int) (rows []facts.Row, owner []int) {
	provinces := map[string][]string{"030": {"MI", "BG", "SO"}, "160": {"BA", "LE", "FG"}, "150": {"NA", "SA", "AV"}}[code]
	for p := range patients {
		age := 20 + rng.IntN(75)
		gender := []string{"male", "female"}[rng.IntN(2)]
		prov := provinces[rng.IntN(len(provinces))]
		for range 1 + rng.IntN(3) {
			d := time.Date(2025, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
			rows = append(rows, facts.Row{Resource: facts.Observation, System: facts.SystemLOINC, Code: "59261-8", Date: d,
				Value: float64(30 + rng.IntN(60)), HasValue: true, Unit: "mmol/mol", Status: "final",
				Age: age, Gender: gender, Province: prov, Facility: code + "101"})
			owner = append(owner, p)
		}
	}
	return rows, owner
}

func ask(t testing.TB, r *region, tok, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/population/query", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	r.api.query(w, req)
	return w.Code, w.Body.Bytes()
}

const hba1cByRegionAndAge = `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["59261-8"]},
	"value":{"min":48,"unit":"mmol/mol"},"from":"2025-01-01","to":"2026-01-01","group_by":["region","age_band"],"measure":"patients"}`

// An aggregate asked of three regions equals the same aggregate computed
// directly on the union of their data; cells below k are suppressed in
// both; a question narrowed to a few people gets only suppressed cells;
// every region audits the question.
func TestPopulationQuestionAcrossRegions(t *testing.T) {
	codes := []string{"030", "150", "160"}
	rs := federationOf(t, codes...)
	rng := rand.New(rand.NewPCG(19, 19))
	var union []facts.Row
	for i, r := range rs {
		rows, owner := synthRows(rng, r.code, 70)
		r.load(t, rows, func(j int) string { return fmt.Sprintf("CF:%s%06d", r.code, owner[j]) })
		for j, row := range rows {
			row.Region, row.Patient = r.code, uint64(i)<<32|uint64(owner[j])
			union = append(union, row)
		}
	}
	q, err := population.Decode([]byte(hba1cByRegionAndAge))
	if err != nil {
		t.Fatal(err)
	}
	want, err := population.Compute(q, 10, union)
	if err != nil {
		t.Fatal(err)
	}
	code, body := ask(t, rs[1], "authority", hba1cByRegionAndAge)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var res populationResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Result.Answered, codes) || len(res.Result.Failed) != 0 {
		t.Fatalf("answered %v, failed %v", res.Result.Answered, res.Result.Failed)
	}
	if len(res.Result.Cells) != len(want.Cells) {
		t.Fatalf("%d cells, want %d:\n%s", len(res.Result.Cells), len(want.Cells), body)
	}
	suppressed := 0
	for i, c := range res.Result.Cells {
		w := want.Cells[i]
		if !reflect.DeepEqual(c.Group, w.Group) || c.Suppressed != w.Suppressed || c.Patients != w.Patients || c.Count != w.Count {
			t.Errorf("cell %v: got %+v, want %+v", c.Group, c, w)
		}
		if c.Suppressed {
			suppressed++
		}
	}
	if suppressed == 0 || suppressed == len(res.Result.Cells) {
		t.Fatalf("%d of %d cells suppressed: the data should leave some cells below k and others above", suppressed, len(res.Result.Cells))
	}
	for _, r := range rs {
		if whats := r.audit.whats(); len(whats) == 0 || !strings.HasPrefix(whats[0], "Population.query "+q.String()+" answer sha256:") {
			t.Errorf("region %s audited %v", r.code, whats)
		}
	}

	t.Run("a question narrowed to a few people gets only suppressed cells", func(t *testing.T) {
		narrow := `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["59261-8"]},"value":{"min":89,"unit":"mmol/mol"},
			"age":{"min":90},"from":"2025-06-01","to":"2025-07-01","group_by":["region","gender"],"measure":"count"}`
		code, body := ask(t, rs[0], "authority", narrow)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		var res populationResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Result.Cells {
			if !c.Suppressed || c.Count != 0 || c.Patients != 0 {
				t.Errorf("cell %+v leaves a region", c)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, tok, body string
			status          int
		}{
			{"a clinician", "clinician", hba1cByRegionAndAge, http.StatusForbidden},
			{"no token", "", hba1cByRegionAndAge, http.StatusUnauthorized},
			{"garbage", "authority", `{"resource":`, http.StatusBadRequest},
			{"code to run", "authority", `{"resource":"Observation","code":{"system":"http://loinc.org","codes":["1-1"]},"from":"2025-01-01","to":"2026-01-01","measure":"count","script":"rm -rf"}`, http.StatusBadRequest},
			{"a k below the minimum still gets the minimum", "authority", strings.Replace(hba1cByRegionAndAge, `"measure"`, `"k":1,"measure"`, 1), http.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, body := ask(t, rs[2], tc.tok, tc.body)
				if code != tc.status {
					t.Fatalf("%d %s, want %d", code, body, tc.status)
				}
				if code >= 400 && !strings.Contains(string(body), `"status":`) {
					t.Fatalf("not a problem document: %s", body)
				}
				if code == http.StatusOK && !strings.Contains(string(body), `"suppressed":true`) {
					t.Fatalf("k=1 unsuppressed every cell: %s", body)
				}
			})
		}
	})

	t.Run("a region down is named", func(t *testing.T) {
		rs[2].host.Close()
		code, body := ask(t, rs[0], "authority", hba1cByRegionAndAge)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		var res populationResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Result.Failed) != 1 || res.Result.Failed[0].Region != "160" {
			t.Fatalf("failed %+v, want 160", res.Result.Failed)
		}
		for outcome, want := range map[string]float64{"failed": 1, "ok": 1} { // ok: the narrowed question above
			var m dto.Metric
			if err := rs[0].api.asked.WithLabelValues("160", "question", outcome).Write(&m); err != nil {
				t.Fatal(err)
			}
			if got := m.GetCounter().GetValue(); got != want {
				t.Errorf("region 160 asked by 030, %s: %v, want %v", outcome, got, want)
			}
		}
	})
}

// A region answers a few questions at once; one more waits its turn
// within its deadline, and is named when the deadline passes first.
func TestPopulationQuestionsWaitTheirTurn(t *testing.T) {
	rs := federationOf(t, "030")
	r := rs[0]
	r.api.d.QuestionDeadline = 300 * time.Millisecond
	for range maxQuestionsAtOnce {
		r.api.questions <- struct{}{}
	}
	code, body := ask(t, r, "authority", hba1cByRegionAndAge)
	if code != http.StatusOK || !strings.Contains(string(body), "answering other questions") {
		t.Fatalf("%d %s", code, body)
	}
	<-r.api.questions
	code, body = ask(t, r, "authority", hba1cByRegionAndAge)
	var res populationResult
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Result.Failed) != 0 || len(res.Result.Answered) != 1 {
		t.Fatalf("%d %s", code, body)
	}
}

// A peer's population request that is not one, names no valid token or
// a caller who may not ask, is refused with its reason, and computes
// nothing.
func TestPopulationRequestRefusesGarbage(t *testing.T) {
	r := federationOf(t, "030")[0]
	q := json.RawMessage(hba1cByRegionAndAge)
	req := func(v popRequest) []byte { b, _ := json.Marshal(v); return b }
	for _, tc := range []struct {
		name, body, code string
	}{
		{"empty", "", codeBadRequest},
		{"not JSON", "{", codeBadRequest},
		{"another version", string(req(popRequest{V: 9, Token: "authority", Question: q})), codeBadRequest},
		{"no token", string(req(popRequest{V: protocolVersion, Question: q})), codeBadRequest},
		{"no question", string(req(popRequest{V: protocolVersion, Token: "authority"})), codeBadRequest},
		{"a question with code in it", string(req(popRequest{V: protocolVersion, Token: "authority", Question: json.RawMessage(`{"resource":"Observation","script":"x"}`)})), codeBadRequest},
		{"a token not valid here", string(req(popRequest{V: protocolVersion, Token: "forged", Question: q})), codeUnauth},
		{"a clinician", string(req(popRequest{V: protocolVersion, Token: "clinician", Question: q})), "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.api.servePopulation(context.Background(), r.host.ID(), []byte(tc.body))
			var re *federation.RemoteError
			if !errors.As(err, &re) || re.Code != tc.code || re.Message == "" {
				t.Fatalf("%v, want a refusal %s", err, tc.code)
			}
		})
	}
	if whats := r.audit.whats(); len(whats) != 0 {
		t.Fatalf("refused requests audited as answered: %v", whats)
	}
}
