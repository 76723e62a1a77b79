package consensus

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Command is one replicated operation.
type Command struct {
	// Type names the handler, e.g. "membership.region.put". Registered with
	// FSM.Register.
	Type string
	// Version is the payload's schema version, checked by the handler.
	Version uint16
	// Key is an optional idempotency key: a command whose key was already
	// applied is not applied again, and its first result is returned.
	// Keys are scoped by Origin: two members' commands never share one.
	Key string
	// Payload is the handler's encoded arguments.
	Payload []byte
	// Origin is the region (server ID) whose node proposed the command.
	// Callers do not set it: Node.Apply sets it to the node's own ID, and
	// the leader overwrites it on a forwarded batch with the ID of the
	// member at the other end of the authenticated stream, so a handler
	// may trust it as far as it trusts the leader (Tx.Origin).
	Origin string
}

// Limits on the parts of a command, enforced when encoding and decoding.
const (
	MaxTypeLen   = 128
	MaxKeyLen    = 256
	maxOriginLen = 16
)

// entryFormat is the first byte of every log entry written by this package:
// 2 since commands carry their origin; entries of format 1 (without it)
// are still read, with an empty origin.
const (
	entryFormat   byte = 2
	entryFormatV1 byte = 1
)

var (
	// ErrMalformed is returned when bytes do not decode as commands or
	// results.
	ErrMalformed = errors.New("consensus: malformed encoding")
)

func (c Command) validate() error {
	switch {
	case c.Type == "":
		return fmt.Errorf("%w: command has no type", ErrInvalidCommand)
	case len(c.Type) > MaxTypeLen:
		return fmt.Errorf("%w: command type longer than %d bytes", ErrInvalidCommand, MaxTypeLen)
	case len(c.Origin) > maxOriginLen:
		return fmt.Errorf("%w: origin longer than %d bytes", ErrInvalidCommand, maxOriginLen)
	case len(c.Key) > MaxKeyLen:
		return fmt.Errorf("%w: idempotency key longer than %d bytes", ErrInvalidCommand, MaxKeyLen)
	}
	return nil
}

func (c Command) encodedSize() int {
	return 5*binary.MaxVarintLen64 + len(c.Type) + len(c.Origin) + len(c.Key) + len(c.Payload)
}

func appendCommand(b []byte, c Command) []byte {
	b = binary.AppendUvarint(b, uint64(len(c.Type)))
	b = append(b, c.Type...)
	b = binary.AppendUvarint(b, uint64(len(c.Origin)))
	b = append(b, c.Origin...)
	b = binary.AppendUvarint(b, uint64(c.Version))
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	b = binary.AppendUvarint(b, uint64(len(c.Payload)))
	return append(b, c.Payload...)
}

// EncodeBatch encodes commands as one log entry.
func EncodeBatch(cmds []Command) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		size += c.encodedSize()
	}
	b := make([]byte, 0, size)
	b = append(b, entryFormat)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = appendCommand(b, c)
	}
	return b
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad %s", ErrMalformed, what)
		return 0
	}
	// Only the minimal encoding is accepted, so that one list of commands
	// has exactly one encoding.
	if n > 1 && d.b[n-1] == 0 {
		d.err = fmt.Errorf("%w: non-minimal %s", ErrMalformed, what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, max int) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) || (max >= 0 && n > uint64(max)) {
		d.err = fmt.Errorf("%w: %s of %d bytes", ErrMalformed, what, n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// DecodeBatch decodes a log entry written by EncodeBatch. The payloads alias
// data.
func DecodeBatch(data []byte) ([]Command, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrMalformed)
	}
	format := data[0]
	if format != entryFormat && format != entryFormatV1 {
		return nil, fmt.Errorf("%w: unknown entry format %d", ErrMalformed, data[0])
	}
	d := &decoder{b: data[1:]}
	n := d.uvarint("command count")
	if d.err != nil {
		return nil, d.err
	}
	// Each command takes at least 4 bytes: refuse counts the data cannot hold.
	if n == 0 || n > uint64(len(d.b))/4 {
		return nil, fmt.Errorf("%w: command count %d", ErrMalformed, n)
	}
	cmds := make([]Command, 0, n)
	for i := uint64(0); i < n; i++ {
		var c Command
		c.Type = string(d.bytes("type", MaxTypeLen))
		if format == entryFormat {
			c.Origin = string(d.bytes("origin", maxOriginLen))
		}
		v := d.uvarint("version")
		if v > 0xffff {
			d.err = fmt.Errorf("%w: version %d", ErrMalformed, v)
		}
		c.Version = uint16(v)
		c.Key = string(d.bytes("key", MaxKeyLen))
		c.Payload = d.bytes("payload", -1)
		if d.err != nil {
			return nil, fmt.Errorf("command %d: %w", i, d.err)
		}
		if c.Type == "" {
			return nil, fmt.Errorf("command %d: %w: empty type", i, ErrMalformed)
		}
		cmds = append(cmds, c)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return cmds, nil
}

// DecodeJSON reads a command's JSON payload into v for a handler,
// refusing unknown fields and trailing data; a refusal is CodeInvalid.
func DecodeJSON(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeInvalid, "payload: %v", err)
	}
	if dec.More() {
		return Errorf(CodeInvalid, "payload: data after the JSON value")
	}
	return nil
}
