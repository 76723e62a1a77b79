package consensus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestBatchRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cmds []Command
	}{
		{"one", []Command{{Type: "a", Version: 1, Payload: []byte("x")}}},
		{"keyed", []Command{{Type: "membership.region.put", Version: 65535, Key: "k-1", Payload: bytes.Repeat([]byte{0}, 1000)}}},
		{"many", []Command{{Type: "a"}, {Type: "b", Key: "x"}, {Type: "c", Payload: []byte{1, 2}}}},
		{"with origins", []Command{{Type: "a", Origin: "030"}, {Type: "b", Origin: "160", Key: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBatch(EncodeBatch(tt.cmds))
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if len(got[i].Payload) == 0 {
					got[i].Payload = nil
				}
			}
			if !reflect.DeepEqual(got, tt.cmds) {
				t.Fatalf("got %+v, want %+v", got, tt.cmds)
			}
		})
	}
}

// Entries written before commands carried their origin still decode.
func TestDecodeBatchFormat1(t *testing.T) {
	v1 := []byte{1, 1, 1, 'a', 7, 1, 'k', 2, 'h', 'i'} // format 1: one command, type "a", version 7, key "k", payload "hi"
	got, err := DecodeBatch(v1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{{Type: "a", Version: 7, Key: "k", Payload: []byte("hi")}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := DecodeBatch(append([]byte{3}, v1[1:]...)); err == nil {
		t.Fatal("unknown format 3 accepted")
	}
}

func TestDecodeBatchRejectsGarbage(t *testing.T) {
	good := EncodeBatch([]Command{{Type: "a", Key: "k", Payload: []byte("payload")}})
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown format", append([]byte{9}, good[1:]...)},
		{"zero commands", []byte{entryFormat, 0}},
		{"count larger than data", []byte{entryFormat, 200, 1, 'a', 0, 0, 0}},
		{"truncated", good[:len(good)-3]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"empty type", []byte{entryFormat, 1, 0, 0, 0, 0}},
		{"huge length", []byte{entryFormat, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}},
		{"version over 16 bits", []byte{entryFormat, 1, 1, 'a', 0xff, 0xff, 0x04, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBatch(tt.in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// encodeBatchV1 writes commands as entries of format 1 were written, before
// commands carried their origin; the decoder still reads them.
func encodeBatchV1(cmds []Command) []byte {
	b := []byte{entryFormatV1}
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = binary.AppendUvarint(b, uint64(len(c.Type)))
		b = append(b, c.Type...)
		b = binary.AppendUvarint(b, uint64(c.Version))
		b = binary.AppendUvarint(b, uint64(len(c.Key)))
		b = append(b, c.Key...)
		b = binary.AppendUvarint(b, uint64(len(c.Payload)))
		b = append(b, c.Payload...)
	}
	return b
}

// normalizePayloads makes empty payloads nil, as the tests' commands write
// them.
func normalizePayloads(cmds []Command) []Command {
	for i := range cmds {
		if len(cmds[i].Payload) == 0 {
			cmds[i].Payload = nil
		}
	}
	return cmds
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch([]Command{{Type: "a", Version: 1, Key: "k", Payload: []byte("p")}}))
	f.Add(EncodeBatch([]Command{{Type: "x"}, {Type: "y", Payload: make([]byte, 300)}}))
	f.Add(EncodeBatch([]Command{{Type: "membership.region.put", Origin: "030", Version: 2, Key: "k-1", Payload: []byte(`{"id":"030"}`)}}))
	f.Add(encodeBatchV1([]Command{{Type: "a", Version: 7, Key: "k", Payload: []byte("hi")}}))
	f.Add([]byte{entryFormat, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		cmds, err := DecodeBatch(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refusal is not ErrMalformed: %v", err)
			}
			return
		}
		if len(cmds) == 0 {
			t.Fatal("an entry decoded to no commands")
		}
		for i, c := range cmds {
			if err := c.validate(); err != nil {
				t.Fatalf("command %d decoded but is invalid: %v", i, err)
			}
		}
		// Each accepted format has exactly one encoding of a list of
		// commands: the entry is that encoding, byte for byte.
		switch in[0] {
		case entryFormat:
			if out := EncodeBatch(cmds); !bytes.Equal(out, in) {
				t.Fatalf("re-encoding differs:\n in %x\nout %x", in, out)
			}
		case entryFormatV1:
			for i, c := range cmds {
				if c.Origin != "" {
					t.Fatalf("command %d of a format 1 entry has origin %q", i, c.Origin)
				}
			}
			if out := encodeBatchV1(cmds); !bytes.Equal(out, in) {
				t.Fatalf("format 1 re-encoding differs:\n in %x\nout %x", in, out)
			}
		default:
			t.Fatalf("entry of unknown format %d accepted", in[0])
		}
		// Whatever format it was read from, a command list written again
		// (always in the current format) reads back as the same commands.
		back, err := DecodeBatch(EncodeBatch(cmds))
		if err != nil {
			t.Fatalf("re-encoded entry refused: %v", err)
		}
		if !reflect.DeepEqual(normalizePayloads(back), normalizePayloads(cmds)) {
			t.Fatalf("re-encoded entry reads back as %+v, want %+v", back, cmds)
		}
	})
}

func TestResultsRoundTrip(t *testing.T) {
	rs := []Result{
		{Index: 7, Value: []byte("v")},
		{Index: 8},
		{Index: 9, Err: &Error{Code: CodeNotFound, Message: "no such region"}},
		{Index: 3, Value: []byte("first"), Duplicate: true},
		{Index: 4, Err: &Error{Code: CodeConflict}, Duplicate: true},
	}
	got, err := decodeResults(encodeResults(rs))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rs) {
		t.Fatalf("got %+v, want %+v", got, rs)
	}
	if !errors.Is(got[2].Err, ErrNotFound) || errors.Is(got[2].Err, ErrConflict) {
		t.Fatal("domain error does not match its sentinel only")
	}
}

func FuzzDecodeResults(f *testing.F) {
	f.Add(encodeResults([]Result{{Index: 1, Value: []byte("x")}, {Index: 2, Err: &Error{Code: CodeInvalid, Message: "m"}}}))
	f.Add([]byte{1, 1, 5})
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := decodeResults(in)
		if err != nil {
			return
		}
		back, err := decodeResults(encodeResults(rs))
		if err != nil || !reflect.DeepEqual(back, rs) {
			t.Fatalf("round trip changed results: %v", err)
		}
	})
}
