// Package fetch is the document fetch protocol between regions
// (/fsenet/doc/1.0.0): a node asks the region that keeps a document for
// its content on behalf of a caller, whose token travels with the
// request. The custodian verifies the token, applies its access policy,
// audits the disclosure and streams the content zstd-compressed; the
// requester checks every byte against the hash and size its own replica
// of the index holds, so a custodian (or a disk) that alters a document
// cannot pass it on as the original.
//
// One stream carries one exchange: a request frame, a header frame, then
// (when the header says ok) the content as a sequence of zstd frames until
// the stream ends. A custodian whose store keeps content as zstd frames
// passes them on as they are, without decompressing and compressing them
// again; the requester's check is what guards the content either way.
// Nothing is held whole in memory on either side.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fsenet/fsenet/federation"
)

// Protocol is the libp2p protocol ID.
var Protocol = federation.ProtocolID("doc", "1.0.0")

// Limits of the protocol's frames.
const (
	maxRequest = 16 << 10
	maxHeader  = 4 << 10
	// version 1 asks for content; version 2 adds attempts, which a
	// custodian of version 1 refuses as a bad request instead of taking
	// them for fetches (and auditing a disclosure).
	version        = 1
	versionAttempt = 2
)

// Encoders and decoders are reused across transfers: making one costs
// more than a small document's whole transfer.
var (
	encoders = sync.Pool{New: func() any {
		// No frame checksum: the requester hashes every byte with SHA-256.
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(err) // only invalid options fail
		}
		return e
	}}
	decoders = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			panic(err)
		}
		return d
	}}
)

// Request asks for one document version's content.
type Request struct {
	V     int    `json:"v"`
	Doc   string `json:"doc"`   // the FSE document id
	Token string `json:"token"` // the caller's bearer token
	// Attempt: the requesting node has refused the caller already. The
	// custodian only decides and audits the attempt on its own replica,
	// and answers with a refusal: no content moves.
	Attempt bool `json:"attempt,omitempty"`
}

// header answers a request.
type header struct {
	Status  string `json:"status"` // ok, or an error code
	Message string `json:"message,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

// Error codes a custodian answers with.
const (
	CodeNotFound   = "not-found" // absent, or not for this caller (the same answer)
	CodeBadRequest = "bad-request"
	CodeUnauth     = "unauthenticated"
	CodeInternal   = "internal"
	CodeBusy       = "unavailable"
)

// Errors of Fetch.
var (
	// ErrBusy: the requesting node is already fetching as many documents
	// as it may; the custodian was not asked.
	ErrBusy = errors.New("fetch: this node is fetching as many documents as it may")
	// ErrRefused: the custodian answered with an error code (Refusal).
	ErrRefused = errors.New("fetch: refused by the custodian")
	// ErrMismatch: the content does not hash to what the index holds, or
	// is longer or shorter than it.
	ErrMismatch = errors.New("fetch: content does not match the index")
	// ErrProtocol: the custodian's answer is not the protocol's.
	ErrProtocol = errors.New("fetch: malformed answer")
	// ErrNoAnswer: the custodian did not answer within the requester's
	// first-byte limit, or fell silent longer than its idle limit in the
	// middle of the content; the stream was reset, so a custodian that
	// hangs holds nothing of the requester's past the limit.
	ErrNoAnswer = errors.New("fetch: the custodian did not answer in time")
)

// Refusal is a custodian's error answer.
type Refusal struct {
	Code, Message string
}

func (r *Refusal) Error() string { return "fetch: " + r.Code + ": " + r.Message }

// Is makes errors.Is(err, ErrRefused) hold for every refusal.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// Content is a document's content as a Source opens it.
type Content struct {
	Body io.ReadCloser
	Size int64 // of the content, uncompressed
	// Zstd: Body is already a sequence of zstd frames that decompress to
	// the content (a store's chunks); it is sent as it is. Frames must
	// not need a window over 8 MiB.
	Zstd bool
}

// Source opens a document's content for a request, after verifying the
// token, applying the policy and auditing. Returning a *Refusal answers
// with its code; any other error answers "internal".
type Source func(ctx context.Context, from peer.ID, req Request) (Content, error)

// ServerConfig configures the custodian's side.
type ServerConfig struct {
	Host    StreamHost
	Source  Source
	Timeout time.Duration // one whole exchange
	Log     *slog.Logger
}

// StreamHost is where the protocol's handler is set (a libp2p host).
type StreamHost interface {
	SetStreamHandler(pid protocol.ID, handler network.StreamHandler)
}

// Serve registers the protocol's handler on the host.
func Serve(cfg ServerConfig) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	cfg.Host.SetStreamHandler(Protocol, func(s network.Stream) {
		defer s.Close()
		from := s.Conn().RemotePeer()
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		defer cancel()
		_ = s.SetDeadline(time.Now().Add(cfg.Timeout))
		stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
		defer stop()
		if err := serve(ctx, s, from, cfg); err != nil {
			cfg.Log.Warn("document fetch failed", "peer", from, "err", err)
			_ = s.Reset()
		}
	})
}

func serve(ctx context.Context, s network.Stream, from peer.ID, cfg ServerConfig) error {
	answer := func(h header) error {
		b, _ := json.Marshal(h)
		return federation.WriteFrame(s, b, maxHeader)
	}
	// A bad request is answered, logged and the stream closed (not
	// reset, which could drop the answer).
	frame, err := federation.ReadFrame(s, maxRequest)
	if err == nil {
		var req Request
		if req, err = DecodeRequest(frame); err == nil {
			return send(ctx, s, from, req, cfg, answer)
		}
	}
	cfg.Log.Warn("refused a document fetch request", "peer", from, "err", err)
	return answer(header{Status: CodeBadRequest, Message: err.Error()})
}

func send(ctx context.Context, s network.Stream, from peer.ID, req Request, cfg ServerConfig, answer func(header) error) error {
	c, err := cfg.Source(ctx, from, req)
	if err != nil {
		var r *Refusal
		if !errors.As(err, &r) {
			cfg.Log.Error("document fetch source failed", "peer", from, "err", err)
			r = &Refusal{Code: CodeInternal, Message: "internal error"}
		}
		return answer(header{Status: r.Code, Message: r.Message})
	}
	defer c.Body.Close()
	if req.Attempt {
		// A source that offers content for an attempt is a bug; nothing
		// is sent all the same.
		cfg.Log.Error("document fetch source offered content for a refused attempt", "peer", from)
		return answer(header{Status: CodeNotFound, Message: "no such document"})
	}
	if err := answer(header{Status: "ok", Size: c.Size}); err != nil {
		return err
	}
	// An error below resets the stream: the requester sees a cut
	// transfer, never a short document.
	if c.Zstd {
		_, err := io.Copy(s, c.Body)
		return err
	}
	zw := encoders.Get().(*zstd.Encoder)
	zw.Reset(s)
	defer func() { zw.Reset(nil); encoders.Put(zw) }()
	if _, err := io.Copy(zw, c.Body); err != nil {
		return err
	}
	return zw.Close()
}

// DecodeRequest reads a request frame: one JSON object of this version,
// naming a document and carrying a token.
func DecodeRequest(b []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("request: %v", err)
	}
	switch {
	case r.V != version && r.V != versionAttempt:
		return r, fmt.Errorf("request: version %d, this node speaks %d and %d", r.V, version, versionAttempt)
	case r.Attempt != (r.V == versionAttempt):
		return r, errors.New("request: an attempt is a version 2 request, a fetch a version 1 request")
	case r.Doc == "" || len(r.Doc) > 300:
		return r, errors.New("request: doc must name a document id")
	case r.Token == "" || len(r.Token) > 8<<10:
		return r, errors.New("request: a caller's token is required")
	}
	return r, nil
}

// Want is what the requester's own index says the content must be.
type Want struct {
	SHA256 string // hex
	Size   int64
}

// Requester fetches documents from custodians, on a host, within
// limits on how long it waits for them.
type Requester struct {
	Host host.Host
	// FirstByte bounds the wait for the custodian's answer, from the
	// opening of the stream (a dial included) to its header; past it the
	// stream is reset and Fetch fails with ErrNoAnswer. Zero: only the
	// context bounds it.
	FirstByte time.Duration
	// Idle bounds each wait for more of the content once the answer
	// began; past it the stream is reset and the read fails with
	// ErrNoAnswer. Zero: only the context bounds it.
	Idle time.Duration
}

// Fetch asks peer p for document doc on behalf of the caller whose token
// is given, and returns the content as a stream checked against want: a
// Read past want.Size, or the final Read when the bytes do not hash to
// want.SHA256, fails with ErrMismatch. Closing the reader (or ctx ending)
// ends the transfer. It waits on the custodian as long as ctx allows.
func Fetch(ctx context.Context, h host.Host, p peer.ID, doc, token string, want Want) (io.ReadCloser, error) {
	return Requester{Host: h}.Fetch(ctx, p, doc, token, want)
}

// Fetch is the package's Fetch within the requester's limits.
func (q Requester) Fetch(ctx context.Context, p peer.ID, doc, token string, want Want) (io.ReadCloser, error) {
	s, hd, stop, err := exchange(ctx, q.Host, p, Request{V: version, Doc: doc, Token: token}, q.FirstByte)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (io.ReadCloser, error) {
		stop()
		_ = s.Reset()
		return nil, err
	}
	if hd.Size != want.Size {
		return fail(fmt.Errorf("%w: the custodian announces %d bytes, the index %d", ErrMismatch, hd.Size, want.Size))
	}
	zr := decoders.Get().(*zstd.Decoder)
	// Compressed, the content is never much larger than itself: a
	// custodian that sends more (skippable frames, say) is refused
	// rather than read until the deadline.
	src := &streamErr{r: s, left: want.Size + want.Size/32 + 64<<10, idle: q.Idle}
	if q.Idle > 0 {
		// Reset (not a deadline, which some transports ignore) ends a
		// read the custodian leaves waiting.
		src.watch = time.AfterFunc(time.Hour, func() { src.quiet.Store(true); _ = s.Reset() })
		src.watch.Stop()
	}
	if err := zr.Reset(src); err != nil {
		decoders.Put(zr)
		return fail(err)
	}
	return &checked{s: s, src: src, zr: zr, stop: stop, want: want, h: sha256.New()}, nil
}

// Attempt tells the custodian of a request the requesting node refused,
// so that it decides and audits it on its own replica too. It returns nil
// once the custodian has answered "not-found", its answer to an attempt
// it audited; any other refusal is returned.
func Attempt(ctx context.Context, h host.Host, p peer.ID, doc, token string) error {
	s, _, stop, err := exchange(ctx, h, p, Request{V: versionAttempt, Doc: doc, Token: token, Attempt: true}, 0)
	var ref *Refusal
	if errors.As(err, &ref) && ref.Code == CodeNotFound {
		return nil
	}
	if err == nil {
		stop()
		_ = s.Reset()
		err = fmt.Errorf("%w: the custodian offered content for a refused attempt", ErrProtocol)
	}
	return err
}

// exchange sends req on a new stream and reads the custodian's header,
// within firstByte of starting (0: as long as ctx allows). A refusal is
// returned as a *Refusal with the stream closed; on "ok" the stream is
// left open for the content, stop ending the context's hold on it.
func exchange(ctx context.Context, h host.Host, p peer.ID, req Request, firstByte time.Duration) (network.Stream, header, func() bool, error) {
	var hd header
	until, _ := ctx.Deadline()
	octx := ctx
	var answerBy time.Time
	if firstByte > 0 {
		answerBy = time.Now().Add(firstByte)
		var cancel context.CancelFunc
		octx, cancel = context.WithDeadline(ctx, answerBy)
		defer cancel()
	}
	// late reports whether a failure is the first-byte limit's doing.
	late := func() bool { return !answerBy.IsZero() && ctx.Err() == nil && !time.Now().Before(answerBy) }
	noAnswer := fmt.Errorf("%w: no answer within %v", ErrNoAnswer, firstByte)
	s, err := h.NewStream(octx, p, Protocol)
	if err != nil {
		if late() {
			return nil, hd, nil, noAnswer
		}
		return nil, hd, nil, fmt.Errorf("fetch: open a stream to %s: %w", p, err)
	}
	if !until.IsZero() {
		_ = s.SetDeadline(until)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	// Past the first-byte limit the stream is reset (a deadline alone is
	// not enough: some transports ignore it), which ends the wait.
	var silent atomic.Bool
	watch := func() bool { return true } // stops the limit's watch; false once it fired
	if !answerBy.IsZero() {
		t := time.AfterFunc(time.Until(answerBy), func() { silent.Store(true); _ = s.Reset() })
		watch = t.Stop
	}
	fail := func(err error) (network.Stream, header, func() bool, error) {
		watch()
		stop()
		_ = s.Reset()
		if silent.Load() || late() {
			err = noAnswer
		}
		return nil, hd, nil, err
	}
	b, _ := json.Marshal(req)
	if err := federation.WriteFrame(s, b, maxRequest); err != nil {
		return fail(fmt.Errorf("fetch: send: %w", err))
	}
	if err := s.CloseWrite(); err != nil {
		return fail(fmt.Errorf("fetch: send: %w", err))
	}
	frame, err := federation.ReadFrame(s, maxHeader)
	if err != nil {
		if ctx.Err() != nil {
			return fail(fmt.Errorf("fetch: %w", context.Cause(ctx)))
		}
		return fail(fmt.Errorf("%w: header: %v", ErrProtocol, err))
	}
	if err := json.Unmarshal(frame, &hd); err != nil || hd.Status == "" {
		return fail(fmt.Errorf("%w: header", ErrProtocol))
	}
	if !watch() {
		// The answer came as the limit passed: the stream is reset.
		return fail(noAnswer)
	}
	if hd.Status != "ok" {
		stop()
		_ = s.Close()
		return nil, hd, nil, &Refusal{Code: hd.Status, Message: hd.Message}
	}
	return s, hd, stop, nil
}

// streamErr remembers whether the stream itself failed (a reset, a
// deadline), which tells a cut transfer from a custodian that sent bytes
// that are not the content — it ends a stream cleanly only after
// sending everything — and bounds the compressed bytes read. With idle
// set, watch resets the stream when a read waits longer than that for
// the custodian, and quiet says it did.
type streamErr struct {
	r     io.Reader
	left  int64
	err   error
	idle  time.Duration
	watch *time.Timer
	quiet atomic.Bool
}

var errTooLong = errors.New("more compressed bytes than the content could need")

func (s *streamErr) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, errTooLong
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	if s.watch != nil {
		s.watch.Reset(s.idle)
	}
	n, err := s.r.Read(p)
	if s.watch != nil {
		s.watch.Stop()
	}
	s.left -= int64(n)
	if err != nil && err != io.EOF {
		s.err = err
		if s.quiet.Load() {
			s.err = fmt.Errorf("%w: nothing more of the content for %v", ErrNoAnswer, s.idle)
		}
	}
	return n, err
}

// close stops the watch.
func (s *streamErr) close() {
	if s.watch != nil {
		s.watch.Stop()
	}
}

// checked is the requester's view of a transfer.
type checked struct {
	s    network.Stream
	src  *streamErr
	zr   *zstd.Decoder
	stop func() bool
	want Want
	h    hash.Hash
	n    int64
	err  error
}

func (c *checked) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	// Never more than the index's size: a longer stream is refused
	// without being read.
	if rest := c.want.Size - c.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.zr.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	switch {
	case c.n > c.want.Size:
		c.err = fmt.Errorf("%w: more than the index's %d bytes", ErrMismatch, c.want.Size)
		return 0, c.err
	case errors.Is(err, io.EOF):
		if c.n != c.want.Size || hex.EncodeToString(c.h.Sum(nil)) != c.want.SHA256 {
			c.err = fmt.Errorf("%w: %d bytes that do not hash to the index's value", ErrMismatch, c.n)
			return n, c.err
		}
		c.err = io.EOF
		return n, io.EOF
	case err != nil && c.src.err == nil:
		// The stream did not fail, but what came through does not
		// decode, fails a frame's checksum, stops inside a frame or runs
		// on too long: the custodian sent something else.
		c.err = fmt.Errorf("%w: the compressed stream is invalid: %v", ErrMismatch, err)
		return n, c.err
	case err != nil:
		c.err = fmt.Errorf("fetch: transfer cut: %w", c.src.err)
		return n, c.err
	}
	return n, nil
}

func (c *checked) Close() error {
	c.stop()
	c.src.close()
	if c.zr != nil {
		_ = c.zr.Reset(nil)
		decoders.Put(c.zr)
		c.zr = nil
	}
	if c.err == io.EOF {
		return c.s.Close()
	}
	return c.s.Reset()
}
