package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Code classifies a domain error returned by a command handler.
type Code string

// Domain error codes. Callers map them to their own statuses (HTTP, FHIR).
const (
	CodeInvalid       Code = "invalid"
	CodeNotFound      Code = "not_found"
	CodeAlreadyExists Code = "already_exists"
	CodeConflict      Code = "conflict"
	CodeForbidden     Code = "forbidden"
)

// Error is a domain error: the command was valid as bytes but refused by its
// handler. It is part of the replicated result, identical on every replica.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Is matches a sentinel of the same code, so errors.Is(err, ErrNotFound)
// holds for any not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalid       = &Error{Code: CodeInvalid}
	ErrNotFound      = &Error{Code: CodeNotFound}
	ErrAlreadyExists = &Error{Code: CodeAlreadyExists}
	ErrConflict      = &Error{Code: CodeConflict}
	ErrForbidden     = &Error{Code: CodeForbidden}
)

// Errorf returns a domain error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors of the replication machinery, not of the command.
var (
	// ErrInvalidCommand: the command cannot be proposed (no type, unknown
	// type, too large). Nothing was replicated.
	ErrInvalidCommand = errors.New("consensus: invalid command")
	// ErrNoLeader: no leader is known; the caller may retry later.
	ErrNoLeader = errors.New("consensus: no leader")
	// ErrNotLeader: an operation that only the leader performs was asked of
	// a follower.
	ErrNotLeader = errors.New("consensus: not the leader")
	// ErrShutdown: the node is stopping or stopped.
	ErrShutdown = errors.New("consensus: shut down")
)

// Result is the outcome of one applied command.
type Result struct {
	// Index is the Raft log index of the entry that carried the command.
	Index uint64
	// Value is the handler's answer, if any.
	Value []byte
	// Err is the handler's domain error, nil on success.
	Err *Error
	// Duplicate is true when the idempotency key had already been applied
	// and this is the first application's result.
	Duplicate bool
}

// A result's kind byte: OK or error, plus resultDuplicate when the command
// was a retry of an applied one (only sent over the forwarding protocol;
// stored results never carry it).
const (
	resultOK        byte = 0
	resultErr       byte = 1
	resultDuplicate byte = 2
)

func appendResult(b []byte, r Result) []byte {
	b = binary.AppendUvarint(b, r.Index)
	var dup byte
	if r.Duplicate {
		dup = resultDuplicate
	}
	if r.Err != nil {
		b = append(b, resultErr|dup)
		b = binary.AppendUvarint(b, uint64(len(r.Err.Code)))
		b = append(b, r.Err.Code...)
		b = binary.AppendUvarint(b, uint64(len(r.Err.Message)))
		return append(b, r.Err.Message...)
	}
	b = append(b, resultOK|dup)
	b = binary.AppendUvarint(b, uint64(len(r.Value)))
	return append(b, r.Value...)
}

func (d *decoder) result() Result {
	var r Result
	r.Index = d.uvarint("index")
	if d.err != nil {
		return r
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("%w: missing result kind", ErrMalformed)
		return r
	}
	kind := d.b[0]
	d.b = d.b[1:]
	if kind&resultDuplicate != 0 {
		r.Duplicate = true
		kind &^= resultDuplicate
	}
	switch kind {
	case resultOK:
		if v := d.bytes("value", -1); len(v) > 0 {
			r.Value = v
		}
	case resultErr:
		code := d.bytes("code", 64)
		msg := d.bytes("message", -1)
		r.Err = &Error{Code: Code(code), Message: string(msg)}
	default:
		d.err = fmt.Errorf("%w: result kind %d", ErrMalformed, kind)
	}
	return r
}

// encodeResults encodes results for the forwarding protocol.
func encodeResults(rs []Result) []byte {
	b := binary.AppendUvarint(nil, uint64(len(rs)))
	for _, r := range rs {
		b = appendResult(b, r)
	}
	return b
}

func decodeResults(data []byte) ([]Result, error) {
	d := &decoder{b: data}
	n := d.uvarint("result count")
	if d.err != nil {
		return nil, d.err
	}
	if n > uint64(len(d.b))/2 {
		return nil, fmt.Errorf("%w: result count %d", ErrMalformed, n)
	}
	rs := make([]Result, 0, n)
	for i := uint64(0); i < n; i++ {
		rs = append(rs, d.result())
		if d.err != nil {
			return nil, d.err
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return rs, nil
}
