package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// cfOf returns a valid codice fiscale for patient number i (distinct for
// i < 26^3 * 1000): the letters vary, the check character is computed.
func cfOf(i int) string {
	letters := []byte{byte('A' + i/676%26), byte('A' + i/26%26), byte('A' + i%26)}
	base := "RSS" + string(letters) + fmt.Sprintf("%02d", 50+i/17576%50) + "A01H501"
	for c := byte('A'); c <= 'Z'; c++ {
		if cand := base + string(c); validCF(cand) {
			return cand
		}
	}
	panic("no check character")
}

func validCF(s string) bool {
	p := Patient{ID: s, HomeRegion: "030"}
	return p.validate() == nil
}

// BenchmarkPublish: index entries committed per second on 3 voters on
// loopback (fsync on, production timeouts), each a new version of a
// patient's document published through the leader as the gateway will:
// with an idempotency key (the gateway's workflowInstanceId).
//
//	go test ./index -run '^$' -bench Publish -benchtime 30000x
func BenchmarkPublish(b *testing.B) {
	for _, writers := range []int{100, 400, 1000} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			c := consensustest.NewCluster(b, consensustest.Options{
				Voters:   3,
				Config:   consensustest.Production,
				Machines: []func() consensustest.Registrar{func() consensustest.Registrar { return New() }},
			})
			leader := c.WaitLeader().Replica()
			// Only the custodian region's node publishes its documents: the
			// leader publishes as the custodian.
			region := leader.Status().ID
			const patients = 1000
			ids := make([]string, patients)
			for i := range ids {
				p := Patient{ID: cfOf(i), Family: "Rossi", HomeRegion: "030"}
				cmd, err := PutPatient(p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := leader.Apply(context.Background(), cmd); err != nil {
					b.Fatal(err)
				}
				ids[i] = "CF:" + p.ID
			}
			created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			mk := func(i int) consensus.Command {
				sum := sha256.Sum256([]byte(fmt.Sprint(i)))
				cmd, err := Publish(Entry{ID: DocumentID(region, fmt.Sprintf("doc-%09d", i)), Patient: ids[i%patients],
					Type: "11502-2", Class: "REF", Created: created.Add(time.Duration(i) * time.Second),
					AuthorOrg: region + "-ASST-01", Custodian: region, Hash: hex.EncodeToString(sum[:]), Size: 40000, MIME: "application/pdf",
					Setting: "AD_PSC001", Facility: "Ospedale"})
				if err != nil {
					b.Fatal(err)
				}
				cmd.Key = fmt.Sprintf("wf-2.16.840.1.113883.2.9.2.30.4.4-%09d", i)
				return cmd
			}
			var next atomic.Int64
			lats := make([][]time.Duration, writers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1))
						if i > b.N {
							return
						}
						cmd := mk(i)
						t0 := time.Now()
						if _, err := leader.Apply(context.Background(), cmd); err != nil {
							b.Errorf("publish %d: %v", i, err)
							return
						}
						lats[w] = append(lats[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			var all []time.Duration
			for _, l := range lats {
				all = append(all, l...)
			}
			slices.Sort(all)
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkAuditRecord: the latency a disclosure waits for its audit event
// (written and fsynced to the spool), one request at a time, while the
// shipper replicates through a single voter.
//
//	go test ./index -run '^$' -bench AuditRecord -benchtime 3000x
func BenchmarkAuditRecord(b *testing.B) {
	n := consensustest.NewReplica(b, New())
	spool := newSpool(b, b.TempDir())
	defer spool.Close()
	a := newAuditor(b, n, n, spool)
	defer a.Stop()
	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := a.Record(context.Background(), Event{Actor: "RSSMRA80A01H501U", Role: "AAS", Region: "030", Purpose: "TREATMENT",
			Action: "E", What: "DocumentReference.search", Patient: "CF:" + cfOf(i%1000), Outcome: "0"}); err != nil {
			b.Fatal(err)
		}
		lats = append(lats, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
