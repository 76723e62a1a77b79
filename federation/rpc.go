package federation

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolID names a versioned fsenet stream protocol: /fsenet/<name>/<version>.
func ProtocolID(name, version string) protocol.ID {
	return protocol.ID("/fsenet/" + name + "/" + version)
}

// DefaultMaxMessage is the default bound on one request or response.
const DefaultMaxMessage = 4 << 20

// frameHeader is the size of the big-endian length that precedes each frame.
const frameHeader = 4

var (
	// ErrMessageTooLarge is returned for a frame longer than the allowed
	// maximum, on either side.
	ErrMessageTooLarge = errors.New("federation: message exceeds the maximum size")
	// ErrTruncated is returned when the stream ends inside a frame.
	ErrTruncated = errors.New("federation: truncated frame")
	// ErrUnreachable is returned by Call when no stream to the peer could
	// be opened: the request was certainly not delivered.
	ErrUnreachable = errors.New("federation: peer unreachable")
	// ErrBadResponse is returned when a response frame is not a valid
	// response.
	ErrBadResponse = errors.New("federation: malformed response")
)

// WriteFrame writes p as one frame: a 4-byte big-endian length, then p.
func WriteFrame(w io.Writer, p []byte, max int) error {
	if len(p) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(p), max)
	}
	buf := make([]byte, frameHeader+len(p))
	binary.BigEndian.PutUint32(buf, uint32(len(p)))
	copy(buf[frameHeader:], p)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame written by WriteFrame. It refuses a frame longer
// than max before reading its body, so a peer cannot make it allocate more.
// A stream that ends before the header yields io.EOF; one that ends inside
// the frame yields ErrTruncated.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [frameHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrMessageTooLarge, n, max)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, ErrTruncated
		}
		return nil, err
	}
	return buf, nil
}

// Response status bytes: the first byte of every response frame.
const (
	statusOK    byte = 0
	statusError byte = 1
)

// RemoteError is an error answered by the remote handler. Code is a short
// machine-readable word; Message is for people.
type RemoteError struct {
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return "remote: " + e.Code + ": " + e.Message }

// Error codes used by the RPC layer itself.
const (
	CodeBadRequest = "bad_request"
	CodeInternal   = "internal"
)

// RPCOptions bound one protocol's messages and time.
type RPCOptions struct {
	MaxRequest  int           // largest request accepted (server) or sent (client)
	MaxResponse int           // largest response sent (server) or accepted (client)
	Timeout     time.Duration // whole exchange, when the context has no earlier deadline
}

// DefaultRPCOptions: 4 MiB each way, 10 s.
func DefaultRPCOptions() RPCOptions {
	return RPCOptions{MaxRequest: DefaultMaxMessage, MaxResponse: DefaultMaxMessage, Timeout: 10 * time.Second}
}

// Handler serves one request from a peer. Returning a *RemoteError sends its
// code and message; any other error is logged and answered as "internal"
// without detail.
type Handler func(ctx context.Context, from peer.ID, req []byte) ([]byte, error)

// StreamHost is where a protocol's handler is set (a libp2p host, or a
// node's collection of its modules' protocols).
type StreamHost interface {
	SetStreamHandler(pid protocol.ID, handler network.StreamHandler)
}

// Serve registers fn for the protocol on h. Each stream carries one request
// frame and one response frame. Malformed or oversize requests get an error
// response (when the stream still allows it) and never reach fn.
func Serve(h StreamHost, id protocol.ID, opts RPCOptions, log *slog.Logger, fn Handler) {
	if log == nil {
		log = slog.Default()
	}
	h.SetStreamHandler(id, func(s network.Stream) {
		defer s.Close()
		// A handler's panic ends its stream, not the node.
		defer func() {
			if p := recover(); p != nil {
				log.Error("peer request handler panicked", "protocol", id, "panic", p)
				_ = s.Reset()
			}
		}()
		from := s.Conn().RemotePeer()
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		defer cancel()
		_ = s.SetDeadline(time.Now().Add(opts.Timeout))
		stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
		defer stop()

		req, err := ReadFrame(s, opts.MaxRequest)
		if err != nil {
			log.Warn("rejected peer request", "protocol", id, "peer", from, "error", err)
			_ = writeResponse(s, statusError, encodeRemoteError(&RemoteError{Code: CodeBadRequest, Message: err.Error()}), opts.MaxResponse)
			return
		}
		resp, err := fn(ctx, from, req)
		if err != nil {
			var re *RemoteError
			if !errors.As(err, &re) {
				log.Error("peer request failed", "protocol", id, "peer", from, "error", err)
				re = &RemoteError{Code: CodeInternal, Message: "internal error"}
			}
			_ = writeResponse(s, statusError, encodeRemoteError(re), opts.MaxResponse)
			return
		}
		if err := writeResponse(s, statusOK, resp, opts.MaxResponse); err != nil {
			log.Warn("could not send response", "protocol", id, "peer", from, "error", err)
		}
	})
}

func writeResponse(w io.Writer, status byte, body []byte, max int) error {
	if len(body)+1 > max {
		return fmt.Errorf("%w: response of %d bytes, limit %d", ErrMessageTooLarge, len(body)+1, max)
	}
	buf := make([]byte, 1+len(body))
	buf[0] = status
	copy(buf[1:], body)
	return WriteFrame(w, buf, max)
}

func encodeRemoteError(e *RemoteError) []byte {
	b := binary.AppendUvarint(nil, uint64(len(e.Code)))
	b = append(b, e.Code...)
	return append(b, e.Message...)
}

func decodeRemoteError(b []byte) (*RemoteError, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, ErrBadResponse
	}
	return &RemoteError{Code: string(b[k : k+int(n)]), Message: string(b[k+int(n):])}, nil
}

// Call sends req to peer p over a new stream of protocol id and returns the
// response. It honours ctx (cancel resets the stream) and opts.Timeout,
// whichever ends first. A handler's error comes back as *RemoteError.
func Call(ctx context.Context, h host.Host, p peer.ID, id protocol.ID, req []byte, opts RPCOptions) ([]byte, error) {
	if len(req) > opts.MaxRequest {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrMessageTooLarge, len(req), opts.MaxRequest)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	s, err := h.NewStream(ctx, p, id)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s to %s: %w", ErrUnreachable, id, p, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()

	resp, err := exchange(s, req, opts)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s to %s: %w", id, p, context.Cause(ctx))
		}
		// The stream's own deadline (the context's) may fire a moment
		// before the context reports it.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return nil, fmt.Errorf("%s to %s: %w", id, p, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%s to %s: %w", id, p, err)
	}
	_ = s.Close()
	return resp, nil
}

func exchange(s network.Stream, req []byte, opts RPCOptions) ([]byte, error) {
	if err := WriteFrame(s, req, opts.MaxRequest); err != nil {
		return nil, err
	}
	if err := s.CloseWrite(); err != nil {
		return nil, err
	}
	frame, err := ReadFrame(s, opts.MaxResponse)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: stream closed without a response", ErrTruncated)
		}
		return nil, err
	}
	if len(frame) == 0 {
		return nil, ErrBadResponse
	}
	switch frame[0] {
	case statusOK:
		return frame[1:], nil
	case statusError:
		re, err := decodeRemoteError(frame[1:])
		if err != nil {
			return nil, err
		}
		return nil, re
	default:
		return nil, fmt.Errorf("%w: status byte %d", ErrBadResponse, frame[0])
	}
}
