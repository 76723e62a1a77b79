package index

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/fsenet/fsenet/consensus/consensustest"
)

// TestAuditShipDelay checks that each event the trail takes is observed
// with its delay from the event's time to its shipment.
func TestAuditShipDelay(t *testing.T) {
	r := newReplica(t)
	spool := newSpool(t, t.TempDir())
	defer spool.Close()
	h := ShipDelayHistogram()
	a, err := NewAuditor(AuditorConfig{Node: "030", Apply: r.node, Spool: spool, LastSeq: lastSeqOf(r.node, "030"), ShipDelay: h, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer a.Stop()
	old := time.Now().Add(-2 * time.Minute)
	e1, e2 := event("ACTOR01", mario), event("ACTOR02", mario)
	e1.Time, e2.Time = old, old
	if err := a.Record(context.Background(), e1, e2, event("ACTOR03", mario)); err != nil {
		t.Fatal(err)
	}
	r.waitShipped(t, 3)
	// The trail holds the events once shipped; the shipper observes them
	// right after its commit returns.
	var m dto.Metric
	consensustest.Eventually(t, 10*time.Second, func() error {
		m.Reset()
		if err := h.Write(&m); err != nil {
			return err
		}
		if n := m.GetHistogram().GetSampleCount(); n < 3 {
			return fmt.Errorf("%d events observed", n)
		}
		return nil
	}, "the shipped events observed")
	hist := m.GetHistogram()
	if hist.GetSampleCount() != 3 {
		t.Fatalf("%d events observed, want 3", hist.GetSampleCount())
	}
	if sum := hist.GetSampleSum(); sum < 240 {
		t.Fatalf("delays sum to %.1f s, want at least the two events' 2 minutes each", sum)
	}
	var within60 uint64
	for _, b := range hist.GetBucket() {
		if b.GetUpperBound() == 60 {
			within60 = b.GetCumulativeCount()
		}
	}
	if within60 != 1 {
		t.Fatalf("%d events shipped within a minute of their time, want the one recorded now", within60)
	}
}
