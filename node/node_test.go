package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSingleRegionNodeServesHealthReadinessAndMetrics(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Region, cfg.DataDir = "030", t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Raft.Bootstrap = true
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	base := "http://" + n.HTTPAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := n.members.View(); len(v.Regions) != 1 || v.Regions[0].Name != "Lombardia" {
		t.Fatalf("founding region not recorded: %+v", v)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`fsenet_raft_state{region="030"} 2`,
		`fsenet_raft_term{region="030"}`,
		`fsenet_raft_applied_index{region="030"}`,
		`fsenet_http_requests_total{code="200",route="GET /readyz"}`,
		`fsenet_libp2p_peers_connected{region="030"} 0`,
		`fsenet_apply_duration_seconds_count{outcome="ok",region="030"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, path := range []string{"/nope", "/%2e%2e/etc/passwd", "/healthz/extra"} {
		code, body := get(path)
		if code != http.StatusNotFound || !strings.Contains(body, `"resourceType":"OperationOutcome"`) || !strings.Contains(body, `"not-found"`) {
			t.Fatalf("%s = %d %s, want a not-found OperationOutcome", path, code, body)
		}
	}
	resp, err := http.Post(base+"/healthz", "application/json", strings.NewReader("{garbage"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" || resp.Header.Get("Content-Type") != "application/fhir+json" || !strings.Contains(string(body), "OperationOutcome") {
		t.Fatalf("POST /healthz = %d %s", resp.StatusCode, body)
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Region = "999"
	cfg.DataDir = t.TempDir()
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("err = %v", err)
	}
}
