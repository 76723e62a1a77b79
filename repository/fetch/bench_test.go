package fetch

import (
	"bytes"
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
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/store"
)

// BenchmarkFetch10MiB compares one 10 MiB document fetched over the
// protocol between two real libp2p hosts on loopback TCP (TLS, yamux,
// zstd; content checked against its hash by the requester) with the same
// bytes over plain net/http on loopback, hashed by the client the same
// way. The content is pseudo-random: zstd cannot shrink it. Both sides
// serve it from the same place:
//
//   - store: a real repository store on disk (badger, 1 MiB zstd chunks).
//     The fetch passes the stored chunks on as a custodian does; plain
//     HTTP sends the content decompressed and checked against its hash,
//     as a node's own Binary read does;
//
//   - memory: a byte slice, which leaves only the transports' own costs
//     (the fetch compresses as it sends).
//
//     go test ./repository/fetch -run '^$' -bench Fetch10MiB -benchtime 20x
func BenchmarkFetch10MiB(b *testing.B) {
	const size = 10 << 20
	data, _ := io.ReadAll(&patterned{n: size, state: 7})
	sum := sha256.Sum256(data)
	want := Want{SHA256: hex.EncodeToString(sum[:]), Size: size}

	st, err := store.Open(store.DefaultConfig(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	blob, err := st.Stage(context.Background(), bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	d := &store.Document{ID: "d", State: store.StatePending, Workflow: "wf", Stored: time.Now(),
		Entry: index.Entry{ID: "d", Hash: want.SHA256, Size: size}}
	if _, err := st.Submit(store.Submission{Blob: blob, Doc: d,
		Workflow: store.Workflow{ID: "wf", Operation: "PUBLICATION", Doc: "d", Status: store.WorkflowPending, Created: time.Now()}}); err != nil {
		b.Fatal(err)
	}
	sources := []struct {
		name    string
		content func() Content
		open    func() io.ReadCloser
	}{
		{"store", func() Content {
			rc, _, err := st.Frames(want.SHA256)
			if err != nil {
				b.Fatal(err)
			}
			return Content{Body: rc, Size: size, Zstd: true}
		}, func() io.ReadCloser {
			rc, _, err := st.Content(want.SHA256)
			if err != nil {
				b.Fatal(err)
			}
			return rc
		}},
		{"memory", func() Content {
			return Content{Body: io.NopCloser(bytes.NewReader(data)), Size: size}
		}, func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }},
	}
	for _, src := range sources {
		b.Run(src.name, func(b *testing.B) {
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
			Serve(ServerConfig{Host: c, Source: func(context.Context, peer.ID, Request) (Content, error) {
				return src.content(), nil
			}})
			if err := r.Connect(context.Background(), peer.AddrInfo{ID: c.ID(), Addrs: c.Addrs()}); err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				rc := src.open()
				defer rc.Close()
				w.Header().Set("Content-Length", strconv.Itoa(size))
				io.Copy(w, rc)
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
				if n, err := io.Copy(hh, resp.Body); err != nil || n != size || hex.EncodeToString(hh.Sum(nil)) != want.SHA256 {
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
		})
	}
}
