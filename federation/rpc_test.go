package federation

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 100, 64 << 10} {
		var buf bytes.Buffer
		p := bytes.Repeat([]byte{7}, size)
		if err := WriteFrame(&buf, p, 1<<20); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(&buf, 1<<20)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("size %d: got %d bytes, err %v", size, len(got), err)
		}
	}
}

func TestReadFrameRejectsBadInput(t *testing.T) {
	hdr := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short header", []byte{0, 0}, ErrTruncated},
		{"oversize announced", hdr(1 << 30), ErrMessageTooLarge},
		{"one over the limit", hdr(101), ErrMessageTooLarge},
		{"truncated body", append(hdr(10), 1, 2, 3), ErrTruncated},
		{"header only", hdr(5), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), 100)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := WriteFrame(io.Discard, make([]byte, 101), 100); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("WriteFrame over the limit: %v", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{255, 255, 255, 255})
	f.Add([]byte{0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ReadFrame(bytes.NewReader(in), 1024)
		if err != nil {
			return
		}
		if len(got) > 1024 {
			t.Fatalf("frame of %d bytes passed a 1024-byte limit", len(got))
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, got, 1024); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), in[:buf.Len()]) {
			t.Fatal("re-encoded frame differs from its input")
		}
	})
}

func FuzzDecodeRemoteError(f *testing.F) {
	f.Add(encodeRemoteError(&RemoteError{Code: "x", Message: "y"}))
	f.Add([]byte{200})
	f.Fuzz(func(t *testing.T, in []byte) {
		re, err := decodeRemoteError(in)
		if err != nil {
			return
		}
		back, err := decodeRemoteError(encodeRemoteError(re))
		if err != nil || *back != *re {
			t.Fatalf("round trip: %+v -> %+v, %v", re, back, err)
		}
	})
}

// newTestHost starts a real loopback TCP host admitting the given peers.
func newTestHost(t testing.TB, gater *Gater) host.Host {
	t.Helper()
	h, err := NewHost(HostConfig{
		KeyFile:     filepath.Join(t.TempDir(), "node.key"),
		ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		DialTimeout: 2 * time.Second,
	}, gater)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// pair returns two hosts that admit each other.
func pair(t *testing.T) (host.Host, host.Host) { return pairB(t) }

func pairB(t testing.TB) (host.Host, host.Host) {
	t.Helper()
	ga, gb := NewGater(nil, quiet()), NewGater(nil, quiet())
	a, b := newTestHost(t, ga), newTestHost(t, gb)
	ga.SetMembers([]peer.ID{b.ID()}, nil)
	gb.SetMembers([]peer.ID{a.ID()}, nil)
	a.Peerstore().AddAddrs(b.ID(), b.Addrs(), peerstore.PermanentAddrTTL)
	b.Peerstore().AddAddrs(a.ID(), a.Addrs(), peerstore.PermanentAddrTTL)
	return a, b
}

func TestCallAndServe(t *testing.T) {
	a, b := pair(t)
	proto := ProtocolID("echo", "1.0.0")
	opts := DefaultRPCOptions()
	opts.MaxRequest, opts.MaxResponse, opts.Timeout = 1024, 1024, 2*time.Second
	Serve(b, proto, opts, quiet(), func(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
		switch string(req) {
		case "refuse":
			return nil, &RemoteError{Code: "nope", Message: "refused"}
		case "crash":
			return nil, errors.New("secret internal detail")
		case "slow":
			<-ctx.Done()
			return nil, ctx.Err()
		case "big":
			return bytes.Repeat([]byte{1}, 2048), nil
		}
		if from != a.ID() {
			return nil, errors.New("wrong caller")
		}
		return append([]byte("echo:"), req...), nil
	})
	ctx := context.Background()

	t.Run("ok", func(t *testing.T) {
		resp, err := Call(ctx, a, b.ID(), proto, []byte("hi"), opts)
		if err != nil || string(resp) != "echo:hi" {
			t.Fatalf("resp %q err %v", resp, err)
		}
	})
	t.Run("remote error keeps code", func(t *testing.T) {
		_, err := Call(ctx, a, b.ID(), proto, []byte("refuse"), opts)
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != "nope" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("internal error hides detail", func(t *testing.T) {
		_, err := Call(ctx, a, b.ID(), proto, []byte("crash"), opts)
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != CodeInternal || strings.Contains(err.Error(), "secret") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("request over the limit not sent", func(t *testing.T) {
		_, err := Call(ctx, a, b.ID(), proto, make([]byte, 2000), opts)
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("response over the limit refused by server", func(t *testing.T) {
		_, err := Call(ctx, a, b.ID(), proto, []byte("big"), opts)
		if err == nil {
			t.Fatal("oversize response accepted")
		}
	})
	t.Run("context deadline on real TCP", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Call(cctx, a, b.ID(), proto, []byte("slow"), opts)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(start); d > opts.Timeout {
			t.Fatalf("call took %v, past its deadline", d)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := Call(cctx, a, b.ID(), proto, []byte("slow"), opts)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
	})
	t.Run("unknown protocol version", func(t *testing.T) {
		_, err := Call(ctx, a, b.ID(), ProtocolID("echo", "2.0.0"), []byte("hi"), opts)
		if !errors.Is(err, ErrUnreachable) {
			t.Fatalf("err = %v, want ErrUnreachable", err)
		}
	})
}

// Raw garbage on a served protocol gets an error answer and the server keeps
// serving.
func TestServeSurvivesGarbage(t *testing.T) {
	a, b := pair(t)
	proto := ProtocolID("echo", "1.0.0")
	opts := DefaultRPCOptions()
	opts.MaxRequest, opts.Timeout = 64, time.Second
	Serve(b, proto, opts, quiet(), func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) { return req, nil })
	garbage := [][]byte{
		{0xff, 0xff, 0xff, 0xff, 1, 2},   // oversize announcement
		{0, 0, 0, 50, 'x'},               // truncated
		{0, 0},                           // short header
		[]byte("GET / HTTP/1.1\r\n\r\n"), // another protocol entirely
	}
	for _, g := range garbage {
		s, err := a.NewStream(context.Background(), b.ID(), proto)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = s.Write(g)
		_ = s.CloseWrite()
		_ = s.SetDeadline(time.Now().Add(2 * time.Second))
		frame, err := ReadFrame(s, 1024)
		s.Close()
		if err == nil && (len(frame) == 0 || frame[0] != statusError) {
			t.Fatalf("garbage %q got a success answer", g)
		}
	}
	resp, err := Call(context.Background(), a, b.ID(), proto, []byte("still"), opts)
	if err != nil || string(resp) != "still" {
		t.Fatalf("server stopped serving after garbage: %q %v", resp, err)
	}
}

// A server that never answers: the caller gives up at its deadline, on real
// TCP (mocknet would ignore stream deadlines).
func TestCallTimesOutOnSilentServer(t *testing.T) {
	a, b := pair(t)
	proto := ProtocolID("silent", "1.0.0")
	b.SetStreamHandler(proto, func(s network.Stream) { time.Sleep(3 * time.Second); s.Reset() })
	opts := DefaultRPCOptions()
	opts.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Call(context.Background(), a, b.ID(), proto, []byte("x"), opts)
	if err == nil {
		t.Fatal("silent server answered")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("call returned after %v, want about 300ms", d)
	}
}
