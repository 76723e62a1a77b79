package fetch

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
)

// pair returns a custodian serving source and a requester, linked.
func pair(t testing.TB, source Source) (custodian, requester host.Host) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	c, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	r, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	if err := mn.ConnectAllButSelf(); err != nil {
		t.Fatal(err)
	}
	// The whole exchange's bound: a 50 MiB transfer under the race
	// detector on a loaded machine can take tens of seconds.
	Serve(ServerConfig{Host: c, Source: source, Timeout: 2 * time.Minute})
	return c, r
}

func want(b []byte) Want {
	h := sha256.Sum256(b)
	return Want{SHA256: hex.EncodeToString(h[:]), Size: int64(len(b))}
}

func serving(content []byte, seen *Request) Source {
	return func(_ context.Context, _ peer.ID, req Request) (Content, error) {
		if seen != nil {
			*seen = req
		}
		return plain(content, int64(len(content))), nil
	}
}

func plain(b []byte, size int64) Content {
	return Content{Body: io.NopCloser(bytes.NewReader(b)), Size: size}
}

// frames serves content already compressed, as a store's chunks of
// chunk bytes each (one zstd frame a chunk), with the announced size.
func frames(t testing.TB, content []byte, chunk int, size int64, alter func([]byte) []byte) Source {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for off := 0; off < len(content); off += chunk {
		out = enc.EncodeAll(content[off:min(off+chunk, len(content))], out)
	}
	if alter != nil {
		out = alter(out)
	}
	return func(context.Context, peer.ID, Request) (Content, error) {
		return Content{Body: io.NopCloser(bytes.NewReader(out)), Size: size, Zstd: true}, nil
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestFetchStreamsCheckedContent(t *testing.T) {
	content := random(3<<20 + 17)
	var seen Request
	c, r := pair(t, serving(content, &seen))
	rc, err := Fetch(context.Background(), r, c.ID(), "2.16.840.1.113883.2.9.2.030.4.4^x", "tok", want(content))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("fetched %d bytes (%v), want the %d served", len(got), err, len(content))
	}
	if seen.Token != "tok" || seen.Doc != "2.16.840.1.113883.2.9.2.030.4.4^x" {
		t.Fatalf("the custodian saw %+v", seen)
	}
}

// Content a custodian keeps as zstd frames passes through as it is and
// arrives whole, whatever the chunking.
func TestFetchPassesStoredFramesThrough(t *testing.T) {
	text := bytes.Repeat([]byte("<observation>glucosio 92 mg/dL</observation>\n"), 60_000)
	for _, tc := range []struct {
		name    string
		content []byte
		chunk   int
	}{
		{"empty", nil, 1 << 20},
		{"one small frame", text[:20_000], 1 << 20},
		{"compressible, many frames", text, 1 << 20},
		{"incompressible, many frames", random(3<<20 + 5), 1 << 20},
		{"8 MiB frames", random(9 << 20), 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := pair(t, frames(t, tc.content, tc.chunk, int64(len(tc.content)), nil))
			rc, err := Fetch(context.Background(), r, c.ID(), "d", "tok", want(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tc.content) {
				t.Fatalf("fetched %d bytes (%v), want the %d stored", len(got), err, len(tc.content))
			}
		})
	}
}

func TestFetchRefusesWhatTheIndexDoesNotSay(t *testing.T) {
	content := random(64 << 10)
	altered := bytes.Clone(content)
	altered[1000] ^= 1
	for _, tc := range []struct {
		name   string
		source Source
	}{
		{"altered bytes", serving(altered, nil)},
		{"more bytes than announced", func(context.Context, peer.ID, Request) (Content, error) {
			return plain(append(bytes.Clone(content), 1, 2, 3), int64(len(content))), nil
		}},
		{"fewer bytes than announced", func(context.Context, peer.ID, Request) (Content, error) {
			return plain(content[:100], int64(len(content))), nil
		}},
		{"another size announced", serving(content[:100], nil)},
		{"stored frames of altered bytes", frames(t, altered, 16<<10, int64(len(content)), nil)},
		{"stored frames, one byte flipped on disk", frames(t, content, 16<<10, int64(len(content)), func(b []byte) []byte {
			b[len(b)/2] ^= 0x40
			return b
		})},
		{"stored frames, garbage", func(context.Context, peer.ID, Request) (Content, error) {
			return Content{Body: io.NopCloser(bytes.NewReader(random(70 << 10))), Size: int64(len(content)), Zstd: true}, nil
		}},
		{"stored frames, a frame missing", frames(t, content, 16<<10, int64(len(content)), func(b []byte) []byte {
			return b[:len(b)/2]
		})},
		{"stored frames, ended cleanly inside a frame", frames(t, content, 16<<10, int64(len(content)), func(b []byte) []byte {
			return b[:len(b)/2+7]
		})},
		{"stored frames, then skippable frames without end", frames(t, content, 16<<10, int64(len(content)), func(b []byte) []byte {
			skip := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x184D2A50), 64<<10)
			skip = append(skip, make([]byte, 64<<10)...)
			return append(bytes.Repeat(skip, 64), b...) // 4 MiB of nothing before a 64 KiB document
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := pair(t, tc.source)
			rc, err := Fetch(context.Background(), r, c.ID(), "d", "tok", want(content))
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			if err == nil {
				t.Fatal("content that is not the index's accepted")
			}
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("err = %v, want ErrMismatch", err)
			}
		})
	}
}

// An attempt the requester refused reaches the custodian's source, which
// decides and audits; no content moves, even from a source that offers
// it, and a custodian that would send some is not trusted.
func TestAttempt(t *testing.T) {
	var seen atomic.Pointer[Request]
	for _, tc := range []struct {
		name string
		src  Source
	}{
		{"the custodian refuses", func(_ context.Context, _ peer.ID, req Request) (Content, error) {
			seen.Store(&req)
			return Content{}, &Refusal{Code: CodeNotFound, Message: "no such document"}
		}},
		{"the source offers content", func(_ context.Context, _ peer.ID, req Request) (Content, error) {
			seen.Store(&req)
			return plain([]byte("referto"), 7), nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, r := pair(t, tc.src)
			if err := Attempt(context.Background(), r, c.ID(), "d", "tok"); err != nil {
				t.Fatal(err)
			}
			if req := seen.Load(); req == nil || !req.Attempt || req.Doc != "d" || req.Token != "tok" {
				t.Fatalf("the custodian saw %+v", req)
			}
		})
	}
	t.Run("the custodian could not audit it", func(t *testing.T) {
		c, r := pair(t, func(context.Context, peer.ID, Request) (Content, error) {
			return Content{}, &Refusal{Code: CodeBusy, Message: "the access could not be audited; retry"}
		})
		var ref *Refusal
		if err := Attempt(context.Background(), r, c.ID(), "d", "tok"); !errors.As(err, &ref) || ref.Code != CodeBusy {
			t.Fatalf("err = %v, want the busy refusal", err)
		}
	})
	// A custodian of version 1 only refuses an attempt as a bad request:
	// it never takes it for a fetch.
	t.Run("a custodian of version 1", func(t *testing.T) {
		c, r := pair(t, serving([]byte("referto"), nil))
		c.SetStreamHandler(Protocol, func(s network.Stream) {
			defer s.Close()
			b, _ := federation.ReadFrame(s, maxRequest)
			var req Request
			status := "ok"
			if json.Unmarshal(b, &req) != nil || req.V != 1 {
				status = CodeBadRequest
			}
			_ = federation.WriteFrame(s, []byte(`{"status":"`+status+`","size":7}`), maxHeader)
		})
		var ref *Refusal
		if err := Attempt(context.Background(), r, c.ID(), "d", "tok"); !errors.As(err, &ref) || ref.Code != CodeBadRequest {
			t.Fatalf("err = %v, want a bad-request refusal", err)
		}
	})
	t.Run("a custodian that answers ok", func(t *testing.T) {
		c, r := pair(t, serving([]byte("x"), nil))
		c.SetStreamHandler(Protocol, func(s network.Stream) {
			defer s.Close()
			_, _ = federation.ReadFrame(s, maxRequest)
			_ = federation.WriteFrame(s, []byte(`{"status":"ok","size":1}`), maxHeader)
			_, _ = s.Write([]byte("x"))
		})
		if err := Attempt(context.Background(), r, c.ID(), "d", "tok"); !errors.Is(err, ErrProtocol) {
			t.Fatalf("err = %v, want ErrProtocol", err)
		}
	})
}

func TestFetchRefusal(t *testing.T) {
	c, r := pair(t, func(context.Context, peer.ID, Request) (Content, error) {
		return Content{}, &Refusal{Code: CodeNotFound, Message: "no such document"}
	})
	_, err := Fetch(context.Background(), r, c.ID(), "d", "tok", Want{})
	var ref *Refusal
	if !errors.Is(err, ErrRefused) || !errors.As(err, &ref) || ref.Code != CodeNotFound {
		t.Fatalf("err = %v, want a not-found refusal", err)
	}
}

// Bad peer messages get a clean answer, and the custodian goes on
// serving.
func TestBadRequestsAreAnsweredAndServingGoesOn(t *testing.T) {
	content := random(1000)
	c, r := pair(t, serving(content, nil))
	frame := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, uint32(len(b))) }
	good, _ := json.Marshal(Request{V: 1, Doc: "d", Token: "t"})
	for _, tc := range []struct {
		name string
		raw  []byte
		code string
	}{
		{"garbage", append(frame([]byte("not json")), "not json"...), CodeBadRequest},
		{"unknown version", func() []byte {
			b, _ := json.Marshal(Request{V: 9, Doc: "d", Token: "t"})
			return append(frame(b), b...)
		}(), CodeBadRequest},
		{"no token", func() []byte { b, _ := json.Marshal(Request{V: 1, Doc: "d"}); return append(frame(b), b...) }(), CodeBadRequest},
		{"an attempt in a version 1 request", func() []byte {
			b, _ := json.Marshal(Request{V: 1, Doc: "d", Token: "t", Attempt: true})
			return append(frame(b), b...)
		}(), CodeBadRequest},
		{"a fetch in a version 2 request", func() []byte {
			b, _ := json.Marshal(Request{V: 2, Doc: "d", Token: "t"})
			return append(frame(b), b...)
		}(), CodeBadRequest},
		{"oversize frame", binary.BigEndian.AppendUint32(nil, 1<<30), CodeBadRequest},
		{"truncated frame", append(frame(good), good[:5]...), CodeBadRequest},
		{"empty stream", nil, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := r.NewStream(context.Background(), c.ID(), Protocol)
			if err != nil {
				t.Fatal(err)
			}
			s.SetDeadline(time.Now().Add(5 * time.Second))
			s.Write(tc.raw)
			s.CloseWrite()
			b, err := federation.ReadFrame(s, maxHeader)
			s.Close()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			var h header
			if json.Unmarshal(b, &h) != nil || h.Status != tc.code {
				t.Fatalf("answer %s, want %s", b, tc.code)
			}
		})
	}
	rc, err := Fetch(context.Background(), r, c.ID(), "d", "t", want(content))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("after bad requests: %v", err)
	}
}

// A transfer ends when the requester's context does: no hang.
func TestFetchHonoursTheDeadline(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	c, r := pair(t, func(context.Context, peer.ID, Request) (Content, error) {
		<-block
		return Content{}, errors.New("never")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Fetch(ctx, r, c.ID(), "d", "t", Want{})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func FuzzDecodeRequest(f *testing.F) {
	good, _ := json.Marshal(Request{V: 1, Doc: "2.16.840.1.113883.2.9.2.030.4.4^x", Token: "a.b.c"})
	f.Add(good)
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := DecodeRequest(in)
		if err == nil && (!(r.V == 1 && !r.Attempt || r.V == 2 && r.Attempt) || r.Doc == "" || r.Token == "") {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzCustodianAnswer: whatever a custodian sends back (header frame and
// content), the requester either fails cleanly or yields exactly the
// bytes the index describes.
func FuzzCustodianAnswer(f *testing.F) {
	content := []byte("<ClinicalDocument>referto di prova</ClinicalDocument>")
	w := want(content)
	answer := func(h header, body []byte) []byte {
		b, _ := json.Marshal(h)
		return append(append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...), body...)
	}
	enc, _ := zstd.NewWriter(nil)
	f.Add(answer(header{Status: "ok", Size: w.Size}, enc.EncodeAll(content, nil)))
	f.Add(answer(header{Status: "ok", Size: w.Size}, enc.EncodeAll(content[:10], nil)))
	f.Add(answer(header{Status: "ok", Size: w.Size}, content))
	f.Add(answer(header{Status: CodeNotFound, Message: "no"}, nil))
	f.Add(answer(header{}, nil))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	var raw atomic.Pointer[[]byte]
	c, r := pair(f, serving(content, nil))
	c.SetStreamHandler(Protocol, func(s network.Stream) {
		defer s.Close()
		_, _ = federation.ReadFrame(s, maxRequest)
		_, _ = s.Write(*raw.Load())
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.Clone(in) // the handler reads it after this call may have returned
		raw.Store(&in)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rc, err := Fetch(ctx, r, c.ID(), "d", "tok", w)
		if err != nil {
			return
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err == nil && !bytes.Equal(got, content) {
			t.Fatalf("accepted %d bytes that are not the document", len(got))
		}
	})
}

// patterned is an io.Reader of n pseudo-random bytes made on the fly (no
// buffer of its own), with its SHA-256 known in advance.
type patterned struct {
	n, off int64
	state  uint64
}

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		p.state = p.state*6364136223846793005 + 1442695040888963407
		b[i] = byte(p.state >> 56)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// A 50 MiB document streams through: neither side holds it, so the heap
// stays far below its size while it passes.
func TestLargeDocumentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MiB transfer")
	}
	const size = 50 << 20
	h := sha256.New()
	io.Copy(h, &patterned{n: size, state: 1})
	w := Want{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
	c, r := pair(t, func(context.Context, peer.ID, Request) (Content, error) {
		return Content{Body: io.NopCloser(&patterned{n: size, state: 1}), Size: size}, nil
	})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	rc, err := Fetch(context.Background(), r, c.ID(), "d", "t", w)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	close(done)
	<-sampled
	if err != nil || n != size {
		t.Fatalf("streamed %d bytes: %v", n, err)
	}
	growth := int64(peak) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %.1f MiB while 50 MiB passed", float64(growth)/(1<<20))
	if growth > 20<<20 {
		t.Fatalf("heap grew by %d MiB for a 50 MiB document: something holds it whole", growth>>20)
	}
}

// blockingReader yields nothing until release is closed, then fails.
type blockingReader struct{ release chan struct{} }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.release
	return 0, errors.New("released")
}

// streamsTo counts the requester's open streams to the custodian.
func streamsTo(r host.Host, c peer.ID) int {
	n := 0
	for _, conn := range r.Network().ConnsToPeer(c) {
		n += len(conn.GetStreams())
	}
	return n
}

// A custodian that does not answer holds the requester no longer than
// its first-byte limit: the stream is reset and the error says that the
// custodian did not answer, while a custodian that answers within the
// limit is read whole.
func TestFetchFirstByteLimit(t *testing.T) {
	release := make(chan struct{})
	content := random(100 << 10)
	var hang atomic.Bool
	c, r := pair(t, func(ctx context.Context, from peer.ID, req Request) (Content, error) {
		if hang.Load() {
			<-release
			return Content{}, errors.New("released")
		}
		return plain(content, int64(len(content))), nil
	})
	// Released before the hosts close, which waits for the handlers.
	t.Cleanup(func() { close(release) })
	q := Requester{Host: r, FirstByte: 300 * time.Millisecond, Idle: 300 * time.Millisecond}
	rc, err := q.Fetch(context.Background(), c.ID(), "d", "t", want(content))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("an answering custodian: %d bytes (%v)", len(got), err)
	}

	hang.Store(true)
	start := time.Now()
	_, err = q.Fetch(context.Background(), c.ID(), "d", "t", want(content))
	if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrProtocol) {
		t.Fatalf("a custodian that does not answer: %v, want ErrNoAnswer", err)
	}
	if took := time.Since(start); took < q.FirstByte {
		t.Fatalf("gave up after %v, before the %v limit", took, q.FirstByte)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		if n := streamsTo(r, c.ID()); n != 0 {
			return fmt.Errorf("%d streams to the silent custodian still open", n)
		}
		return nil
	}, "the streams to the silent custodian reset")
	// Without a limit the context alone bounds the wait, and its end is
	// not taken for the custodian's silence.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Fetch(ctx, r, c.ID(), "d", "t", want(content)); err == nil || errors.Is(err, ErrNoAnswer) {
		t.Fatalf("no limit, the context's deadline passed: %v", err)
	}
}

// A custodian that falls silent in the middle of the content holds the
// requester no longer than its idle limit: the read fails, saying so.
func TestFetchIdleLimit(t *testing.T) {
	release := make(chan struct{})
	content := random(2 << 20)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	first := enc.EncodeAll(content[:1<<20], nil)
	c, r := pair(t, func(context.Context, peer.ID, Request) (Content, error) {
		return Content{Body: io.NopCloser(io.MultiReader(bytes.NewReader(first), blockingReader{release})), Size: int64(len(content)), Zstd: true}, nil
	})
	t.Cleanup(func() { close(release) })
	q := Requester{Host: r, FirstByte: 5 * time.Second, Idle: 300 * time.Millisecond}
	rc, err := q.Fetch(context.Background(), c.ID(), "d", "t", want(content))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrMismatch) {
		t.Fatalf("a custodian silent after %d bytes: %v, want ErrNoAnswer", len(got), err)
	}
	if !bytes.Equal(got, content[:len(got)]) || len(got) < 1<<20 {
		t.Fatalf("read %d bytes before the silence, want the first MiB", len(got))
	}
}
