package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
)

// BenchmarkFetch10MiB compares one 10 MiB document fetched over the
// protocol between two real libp2p hosts on loopback TCP (Noise or TLS,
// yamux, zstd; content checked against its hash) with the same bytes over
// plain net/http on loopback. The content is pseudo-random (zstd cannot
// shrink it), made on the fly on the serving side in both cases.
//
//	go test ./repository/fetch -run '^$' -bench Fetch10MiB -benchtime 20x
func BenchmarkFetch10MiB(b *testing.B) {
	const size = 10 << 20
	h := sha256.New()
	io.Copy(h, &patterned{n: size, state: 7})
	want := Want{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
	newHost := func() host.Host {
		hh, err := federation.NewHost(federation.HostConfig{KeyFile: filepath.Join(b.TempDir(), "k"),
			ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DialTimeout: 5 * time.Second}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { hh.Close() })
		return hh
	}
	c, r := newHost(), newHost()
	Serve(ServerConfig{Host: c, Source: func(context.Context, peer.ID, Request) (io.ReadCloser, int64, error) {
		return io.NopCloser(&patterned{n: size, state: 7}), size, nil
	}})
	if err := r.Connect(context.Background(), peer.AddrInfo{ID: c.ID(), Addrs: c.Addrs()}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &patterned{n: size, state: 7})
	}))
	b.Cleanup(srv.Close)

	var fetchTime, httpTime time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rc, err := Fetch(context.Background(), r, c.ID(), "d", "t", want)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != size {
			b.Fatalf("fetch: %d bytes, %v", n, err)
		}
		rc.Close()
		fetchTime += time.Since(start)

		start = time.Now()
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		hh := sha256.New() // the same check the fetch makes
		if n, err := io.Copy(hh, resp.Body); err != nil || n != size {
			b.Fatalf("http: %d bytes, %v", n, err)
		}
		resp.Body.Close()
		httpTime += time.Since(start)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(fetchTime), "fetch-MiB/s")
	b.ReportMetric(mbps(httpTime), "http-MiB/s")
	b.ReportMetric(httpTime.Seconds()/fetchTime.Seconds(), "fetch/http")
}
