package fhirapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
)

// acceptRecorder takes every audit event (the searches of this test are
// not what it checks).
type acceptRecorder struct{}

func (acceptRecorder) Record(context.Context, ...index.Event) error { return nil }

// startReplica starts the one-voter replica of region 030 kept in dir
// (by consensustest.NewReplicaDir) again, and an API on it.
func startReplica(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	h, err := federation.NewHost(federation.HostConfig{
		KeyFile: filepath.Join(dir, "node.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: time.Second,
	}, federation.NewGater(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := consensus.DefaultConfig()
	cfg.ID, cfg.DataDir = "030", filepath.Join(dir, "consensus")
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	cfg.MemTableSize, cfg.BlockCacheSize = 16<<20, 8<<20
	n, err := consensus.New(cfg, consensus.Deps{Host: h, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := index.New().Register(n); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = n.Shutdown(context.Background())
		_ = h.Close()
	})
	consensustest.Eventually(t, 10*time.Second, n.IsLeader, "the restarted replica to lead")
	api := New(Deps{
		Read: func(ctx context.Context, strong bool, fn func(index.Reader) error) (uint64, error) {
			return n.Read(ctx, consensus.Local, fn)
		},
		Apply: n.Apply,
		Audit: acceptRecorder{},
		Caller: func(r *http.Request) (index.Caller, bool) {
			c, ok := callers[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			return c, ok
		},
		Region: "030",
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// sealValue is a value as the state database stores it: followed by the
// CRC-32C of the key's length, the key and the value. Writing it stands
// for someone who edits a replica's files knowing their format: the
// storage's own check passes, only the audit trail's hash chain is left.
func sealValue(key, value []byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	c := crc32.Update(0, tab, binary.AppendUvarint(nil, uint64(len(key))))
	c = crc32.Update(c, tab, key)
	c = crc32.Update(c, tab, value)
	return binary.BigEndian.AppendUint32(bytes.Clone(value), c)
}

func auditBatchKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("ix/a/b/"), seq)
}

// rewriteAuditBatch changes batch seq in a stopped replica's state.
func rewriteAuditBatch(t *testing.T, dir string, seq uint64, fn func(b *index.Batch) []byte) {
	t.Helper()
	state := filepath.Join(dir, "consensus", "state")
	cur, err := os.ReadFile(filepath.Join(state, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(state, strings.TrimSpace(string(cur)))).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := auditBatchKey(seq)
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		stored, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		var b index.Batch
		if err := json.Unmarshal(stored[:len(stored)-4], &b); err != nil {
			return err
		}
		return txn.Set(k, sealValue(k, fn(&b)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Finding 8 of the hardening issue: an audit event whose batch fails the
// hash chain's verification was served by GET /fhir/AuditEvent without a
// mark. The stored record is changed in the replica's badger files; the
// access log then shows the changed event tagged, says why in an
// OperationOutcome, and withholds what cannot be read.
func TestAuditEventSearchMarksTamperedBatches(t *testing.T) {
	tests := []struct {
		name     string
		change   func(b *index.Batch) []byte
		tagged   []string // actors whose events are tagged failed
		withheld bool
		issue    string
	}{
		{"an event's actor changed", func(b *index.Batch) []byte {
			b.Events[0].Actor = "NSSNSS00A01H501X" // hide who read the record
			out, _ := json.Marshal(b)
			return out
		}, []string{"NSSNSS00A01H501X"}, false, "audit batch 1 fails the hash-chain verification (batch 1: its content does not match its hash)"},
		{"an event's actor changed and the hash recomputed", func(b *index.Batch) []byte {
			b.Events[0].Actor = "NSSNSS00A01H501X"
			b.Hash = recomputedHash(*b)
			out, _ := json.Marshal(b)
			return out
		}, []string{"NSSNSS00A01H501X", "RSSMRA80A01H503C"}, false, "batch 2 does not follow it"},
		// Its neighbours are intact, but the chain cannot be followed
		// through them: they are shown tagged too.
		{"the batch made unreadable", func(b *index.Batch) []byte { return []byte(`{"seq":1,`) },
			[]string{"BNCLCU75A01H501Z", "RSSMRA80A01H503C"}, true, "audit batch 1 fails the hash-chain verification (batch 1 cannot be read): its events are withheld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, dir := consensustest.NewReplicaDir(t, index.New())
			apply := func(cmd consensus.Command, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := n.Apply(context.Background(), cmd); err != nil {
					t.Fatal(err)
				}
			}
			apply(index.PutPatient(index.Patient{ID: mario, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: "030"}))
			apply(index.SetConsent(index.ConsentChange{Patient: mario, Given: true}))
			// Three batches: batch 0, 1 and 2, one read of mario's record each.
			for i, actor := range []string{"BNCLCU75A01H501Z", "VRDGPP70A01F205X", "RSSMRA80A01H503C"} {
				ev := index.Event{Time: time.Date(2026, 12, 1, 10, i, 0, 0, time.UTC), Actor: actor, Role: "AAS", Region: "030", Purpose: "TREATMENT",
					Action: index.ActionRead, What: "Patient.read", Patient: mario, Outcome: index.OutcomeSuccess, Node: "030", NodeSeq: uint64(i + 1)}
				apply(index.AuditBatch("030", []index.Event{ev}))
			}
			if err := n.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			rewriteAuditBatch(t, dir, 1, tt.change)
			srv := startReplica(t, dir)

			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/fhir/AuditEvent?patient=Patient/CF-RSSMRA80A01H501U", nil)
			req.Header.Set("Authorization", "Bearer mario")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			b, err := fhir.UnmarshalBundle(body)
			if err != nil {
				t.Fatal(err)
			}
			tagged := map[string]bool{}
			var events int
			var issues []string
			for _, e := range b.Entry {
				switch {
				case e.Search != nil && e.Search.Mode != nil && *e.Search.Mode == fhir.SearchEntryModeOutcome:
					oo, err := fhir.UnmarshalOperationOutcome(e.Resource)
					if err != nil {
						t.Fatal(err)
					}
					for _, is := range oo.Issue {
						if is.Code != fhir.IssueTypeSecurity || is.Diagnostics == nil {
							t.Fatalf("issue %+v", is)
						}
						issues = append(issues, *is.Diagnostics)
					}
				default:
					ae, err := fhir.UnmarshalAuditEvent(e.Resource)
					if err != nil {
						t.Fatal(err)
					}
					events++
					actor := *ae.Agent[0].Who.Identifier.Value
					if ae.Meta != nil {
						for _, tag := range ae.Meta.Tag {
							if *tag.System == fhirres.SystemAuditIntegrity && *tag.Code == "failed" {
								tagged[actor] = true
							}
						}
					}
				}
			}
			wantEvents := 3
			if tt.withheld {
				wantEvents = 2
			}
			if events != wantEvents {
				t.Fatalf("%d AuditEvents, want %d: %s", events, wantEvents, body)
			}
			if len(tagged) != len(tt.tagged) {
				t.Fatalf("tagged %v, want %v", tagged, tt.tagged)
			}
			for _, a := range tt.tagged {
				if !tagged[a] {
					t.Fatalf("the event of %s is not tagged: %v", a, tagged)
				}
			}
			if !strings.Contains(strings.Join(issues, "\n"), tt.issue) {
				t.Fatalf("issues %q, want one saying %q", issues, tt.issue)
			}
		})
	}
}

// recomputedHash is the audit trail's hash of a batch (SHA-256 of its
// JSON without the hash), as someone rewriting the record would compute
// it.
func recomputedHash(b index.Batch) string {
	b.Hash = ""
	j, _ := json.Marshal(b)
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:])
}
