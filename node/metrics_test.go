package node

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// scrape reads a node's /metrics.
func scrape(t *testing.T, n *Node) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := do(t, "GET", "http://"+n.HTTPAddr()+"/metrics", "", "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return families
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// sample finds the series of family name whose labels include want.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := families[name]
	if !ok {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// TestMetricsCarryRegion scrapes a node after a few requests (an audited
// search, a refused token): the series of request durations, leader
// changes, commit time, last contact, refused tokens, audit shipment
// delay and outbox age are there, and every series of the scrape carries
// the region label.
func TestMetricsCarryRegion(t *testing.T) {
	f := newFed(t)
	n := f.add("030", federation.RoleVoter)
	base := "http://" + n.HTTPAddr()
	seedLabReport(t, n)
	consensustest.Eventually(t, 10*time.Second, func() error {
		if _, ok := n.members.Members().View().IdP("030"); !ok {
			return errors.New("IdP keys not published")
		}
		return nil
	}, "the region's IdP keys published")
	search := base + "/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|RSSMRA80A01H501U"
	if code, body := do(t, "GET", search, f.token("030", "TREATMENT"), "", ""); code != http.StatusOK || !strings.Contains(body, `"total":1`) {
		t.Fatalf("search = %d %s", code, body)
	}
	if code, _ := do(t, "GET", search, "not-a-token", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("search with a garbage token = %d, want 401", code)
	}
	if code, _ := do(t, "GET", base+"/healthz", "", "", ""); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d", code)
	}

	region := map[string]string{"region": "030"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"region": "030"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	var families map[string]*dto.MetricFamily
	// The audit events of the search are shipped in the background.
	consensustest.Eventually(t, 20*time.Second, func() error {
		families = scrape(t, n)
		if m, ok := sample(families, "fsenet_audit_shipment_delay_seconds", region); !ok || m.GetHistogram().GetSampleCount() == 0 {
			return errors.New("no audit event shipped yet")
		}
		return nil
	}, "the search's audit events shipped")

	tests := []struct {
		name   string
		family string
		labels map[string]string
		typ    dto.MetricType
		check  func(m *dto.Metric) error
	}{
		{"request duration by route and class", "fsenet_http_request_duration_seconds", with("route", "GET /healthz", "class", "2xx"), dto.MetricType_HISTOGRAM,
			func(m *dto.Metric) error { return atLeast(float64(m.GetHistogram().GetSampleCount()), 1) }},
		{"a refused request's duration", "fsenet_http_request_duration_seconds", with("route", "GET /fhir/DocumentReference", "class", "4xx"), dto.MetricType_HISTOGRAM,
			func(m *dto.Metric) error { return atLeast(float64(m.GetHistogram().GetSampleCount()), 1) }},
		{"requests by route and code", "fsenet_http_requests_total", with("route", "GET /healthz", "code", "200"), dto.MetricType_COUNTER,
			func(m *dto.Metric) error { return atLeast(m.GetCounter().GetValue(), 1) }},
		{"leader changes", "fsenet_raft_leader_changes_total", region, dto.MetricType_COUNTER,
			func(m *dto.Metric) error { return atLeast(m.GetCounter().GetValue(), 1) }},
		{"commit time", "fsenet_raft_commit_duration_seconds", region, dto.MetricType_HISTOGRAM,
			func(m *dto.Metric) error { return atLeast(float64(m.GetHistogram().GetSampleCount()), 3) }},
		{"last contact on the leader", "fsenet_raft_last_contact_seconds", region, dto.MetricType_GAUGE,
			func(m *dto.Metric) error { return exactly(m.GetGauge().GetValue(), 0) }},
		{"refused tokens by reason", "fsenet_tokens_refused_total", with("reason", federation.RefusedMalformed), dto.MetricType_COUNTER,
			func(m *dto.Metric) error { return exactly(m.GetCounter().GetValue(), 1) }},
		{"a reason never met", "fsenet_tokens_refused_total", with("reason", federation.RefusedExpired), dto.MetricType_COUNTER,
			func(m *dto.Metric) error { return exactly(m.GetCounter().GetValue(), 0) }},
		{"audit shipment delay", "fsenet_audit_shipment_delay_seconds", region, dto.MetricType_HISTOGRAM,
			func(m *dto.Metric) error { return atLeast(float64(m.GetHistogram().GetSampleCount()), 1) }},
		{"outbox age", "fsenet_repository_outbox_oldest_seconds", region, dto.MetricType_GAUGE,
			func(m *dto.Metric) error { return exactly(m.GetGauge().GetValue(), 0) }},
		{"go runtime", "go_goroutines", region, dto.MetricType_GAUGE,
			func(m *dto.Metric) error { return atLeast(m.GetGauge().GetValue(), 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := families[tt.family]
			if !ok {
				t.Fatalf("no %s in the scrape", tt.family)
			}
			if f.GetType() != tt.typ {
				t.Fatalf("%s is a %s, want a %s", tt.family, f.GetType(), tt.typ)
			}
			m, ok := sample(families, tt.family, tt.labels)
			if !ok {
				t.Fatalf("no %s%v in the scrape", tt.family, tt.labels)
			}
			if err := tt.check(m); err != nil {
				t.Fatalf("%s%v: %v", tt.family, tt.labels, err)
			}
		})
	}
	for _, r := range federation.TokenRefusalReasons {
		if _, ok := sample(families, "fsenet_tokens_refused_total", with("reason", r)); !ok {
			t.Errorf("fsenet_tokens_refused_total has no series for reason %q", r)
		}
	}
	series := 0
	for name, f := range families {
		for _, m := range f.GetMetric() {
			series++
			if labelsOf(m)["region"] != "030" {
				t.Errorf("%s%v without region=\"030\"", name, labelsOf(m))
			}
		}
	}
	if series < 50 {
		t.Fatalf("only %d series in the scrape", series)
	}
}

func atLeast(got, min float64) error {
	if got < min {
		return fmt.Errorf("%v, want at least %v", got, min)
	}
	return nil
}

func exactly(got, want float64) error {
	if got != want {
		return fmt.Errorf("%v, want %v", got, want)
	}
	return nil
}
