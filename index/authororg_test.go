package index

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// An entry with its author organisation's identifier is 27 fields; one
// without is written, byte for byte, as before the identifier was kept.
func TestEntryCodecAuthorOrgID(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	e := Entry{ID: DocumentID("030", "lab-1"), Chain: DocumentID("030", "lab-1"), Version: 1, Patient: mario,
		Type: "11502-2", Class: "REF", Created: at, AuthorOrg: "ASST Santi Paolo e Carlo",
		AuthorOrgSystem: "urn:oid:2.16.840.1.113883.2.9.4.1.2", AuthorOrgID: "030901",
		Custodian: "030", Hash: strings.Repeat("ab", 32), Size: 4096, MIME: "application/pdf",
		Confidentiality: "N", Status: StatusCurrent, Indexed: at}
	b := EncodeEntry(&e)
	if b[0] != 0x98 || b[1] != 27 {
		t.Fatalf("an entry with an identifier is an array of 27 fields, got header % x", b[:2])
	}
	got, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
	// A system alone is carried too (validation refuses it, not the codec).
	sysOnly := e
	sysOnly.AuthorOrgID = ""
	if got, err := DecodeEntry(EncodeEntry(&sysOnly)); err != nil || got.AuthorOrgSystem != sysOnly.AuthorOrgSystem || got.AuthorOrgID != "" {
		t.Fatalf("system only: %+v %v", got, err)
	}
	for name, b := range map[string][]byte{
		"26 fields": append([]byte{0x98, 26}, b[2:len(b)-1]...),
		"28 fields": append(append([]byte{0x98, 28}, b[2:]...), 0x60),
		"truncated": b[:len(b)-2],
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEntry(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// testdata/entry-v1.cbor is an entry as the index stored it before the
// author organisation's identifier was kept (AuthorOrg a name). It reads
// as an entry without an identifier (which grants no authorship:
// TestLegacyEntryHasNoAuthorOrganisation), and an entry without one is
// written exactly so.
func TestEntryWrittenBeforeAuthorOrgID(t *testing.T) {
	old, err := os.ReadFile("testdata/entry-v1.cbor")
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEntry(old)
	if err != nil {
		t.Fatal(err)
	}
	if e.AuthorOrg != "030-ASST-01" || e.AuthorOrgID != "" || e.AuthorOrgSystem != "" || e.ID != DocumentID("030", "lab-legacy") || !e.Hidden() {
		t.Fatalf("decoded %+v", e)
	}
	if again := EncodeEntry(&e); !bytes.Equal(again, old) {
		t.Fatalf("re-encoded differently:\n% x\n% x", again, old)
	}
}

// The index keeps an author organisation identifier only in the form of
// a token's locality, so that a name never stands for one.
func TestAuthorOrgIDValidation(t *testing.T) {
	base := doc("lab-org", mario, "11502-2", "REF")
	tests := []struct {
		name, system, id string
		ok               bool
	}{
		{"none", "", "", true},
		{"a structure code", "urn:oid:2.16.840.1.113883.2.9.4.1.2", "030901", true},
		{"a code without system", "", "030901", true},
		{"a name", "urn:oid:2.16.840.1.113883.2.9.4.1.2", "ASST Santi Paolo e Carlo", false},
		{"a system without code", "urn:oid:2.16.840.1.113883.2.9.4.1.2", "", false},
		{"a code too long", "", strings.Repeat("1", 65), false},
		{"a system too long", strings.Repeat("x", 257), "030901", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			e.AuthorOrgSystem, e.AuthorOrgID = tt.system, tt.id
			if _, err := Publish(e); (err == nil) != tt.ok {
				t.Fatalf("Publish: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// A publication whose entry carries an identifier is version 2 of its
// command, which a node knowing only version 1 refuses to apply with a
// plain error (it stops) instead of refusing the entry while the others
// index it; one without is version 1, as before.
func TestPublishVersionWithAuthorOrgID(t *testing.T) {
	r := newReplica(t)
	r.must(PutPatient(patient(mario, "030")))
	plain := doc("lab-v1", mario, "11502-2", "REF")
	withID := doc("lab-v2", mario, "11502-2", "REF")
	withID.AuthorOrgSystem, withID.AuthorOrgID = "urn:oid:2.16.840.1.113883.2.9.4.1.2", "030901"
	for _, tt := range []struct {
		e    Entry
		want uint16
	}{{plain, version1}, {withID, version2}} {
		cmd, err := Publish(tt.e)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Version != tt.want {
			t.Fatalf("%s: version %d, want %d", tt.e.ID, cmd.Version, tt.want)
		}
		r.must(cmd, nil)
		if got := r.entry(tt.e.ID); got.AuthorOrgID != tt.e.AuthorOrgID || got.AuthorOrgSystem != tt.e.AuthorOrgSystem {
			t.Fatalf("indexed %q|%q, want %q|%q", got.AuthorOrgSystem, got.AuthorOrgID, tt.e.AuthorOrgSystem, tt.e.AuthorOrgID)
		}
	}
	m := New()
	if !m.SupportsVersion(TypePublish, version2) || m.SupportsVersion(TypeConsent, version2) || m.SupportsVersion(TypePublish, 3) {
		t.Fatal("supported versions")
	}
	// Another command type in version 2: this node does not know it and
	// stops (a plain error, not a domain refusal).
	_, err := m.Apply(nil, consensus.Command{Type: TypeConsent, Version: version2, Payload: []byte(`{}`)})
	var de *consensus.Error
	if err == nil || errors.As(err, &de) {
		t.Fatalf("version 2 of %s: %v, want a plain error", TypeConsent, err)
	}
}
