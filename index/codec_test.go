package index

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEntryCodec(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	full := Entry{
		ID: DocumentID("030", "lab-1"), Chain: DocumentID("030", "lab-0"), Version: 2, Patient: mario,
		Type: "11502-2", Class: "REF", Setting: "AD_PSC001", Facility: "Ospedale",
		ServiceStart: at.Add(-time.Hour), ServiceStop: at, Created: at, Author: "dr. Bianchi", AuthorOrg: "030-ASST-01",
		Custodian: "030", Repository: "repo-1", Hash: strings.Repeat("ab", 32), Size: 4096, MIME: "application/pdf",
		Confidentiality: "R", Events: []string{EventHidden, "X1"}, Status: StatusSuperseded,
		Replaces: DocumentID("030", "lab-0"), Indexed: at.Add(time.Minute),
	}
	got, err := DecodeEntry(EncodeEntry(&full))
	if err != nil {
		t.Fatal(err)
	}
	want := full
	for _, p := range []*time.Time{&want.ServiceStart, &want.ServiceStop, &want.Created, &want.Indexed} {
		*p = p.UTC() // times come back in UTC, to the nanosecond
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// Unset times and relations stay unset.
	min := Entry{ID: full.ID, Created: full.Created}
	if got, err := DecodeEntry(EncodeEntry(&min)); err != nil || !got.ServiceStart.IsZero() || !got.Indexed.IsZero() || got.Replaces != "" {
		t.Fatalf("sparse entry: %+v %v", got, err)
	}
	// A hash that is not a digest reaches validation as it was sent.
	odd := Entry{ID: full.ID, Hash: "NOT-HEX"}
	if got, err := DecodeEntry(EncodeEntry(&odd)); err != nil || got.Hash != "NOT-HEX" {
		t.Fatalf("odd hash: %q %v", got.Hash, err)
	}

	good := EncodeEntry(&full)
	if good[0] != 0x98 || good[1] != 25 {
		t.Fatalf("an entry is an array of 25 fields, got header % x", good[:2])
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"json":           []byte(`{"id":"x"}`),
		"trailing bytes": append(append([]byte{}, good...), 0x00),
		"truncated":      good[:len(good)-3],
		"short array":    {0x82, 0x61, 'a', 0x61, 'b'},
		"longer array":   append(append([]byte{0x98, 26}, good[2:]...), 0x60), // a 26th field, from a newer node
		"bad utf-8":      {0x99, 0x00, 25, 0x61, 0xff},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEntry(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestEntryTimesBounded(t *testing.T) {
	e := doc("old", mario, "11502-2", "REF")
	e.Created = time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Publish(e); err == nil || !strings.Contains(err.Error(), "created") {
		t.Fatalf("created in 1850: %v", err)
	}
	e.Created, e.ServiceStart = time.Now(), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Publish(e); err == nil || !strings.Contains(err.Error(), "service_start") {
		t.Fatalf("service start in 2300: %v", err)
	}
}

func TestPatientCodec(t *testing.T) {
	at := time.Date(2026, 5, 2, 8, 0, 0, 42, time.UTC)
	full := Patient{ID: mario, Family: "Rossi", Given: []string{"Mario", "Luigi"}, BirthDate: "1980-01-01", Gender: "male",
		HomeRegion: "160", Homes: []HomeChange{{Region: "030", From: at.Add(-time.Hour)}, {Region: "160", From: at}},
		Deceased: "2026-05-01", Consent: Consent{Given: true, At: at}, Merged: []string{teo}, Updated: at}
	got, err := decodePatient(encodePatient(&full))
	if err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, full)
	}
	merged := Patient{ID: teo, HomeRegion: "030", MergedInto: mario}
	if got, err := decodePatient(encodePatient(&merged)); err != nil || got.MergedInto != mario || !got.Consent.At.IsZero() {
		t.Fatalf("merged identity: %+v %v", got, err)
	}
	for name, b := range map[string][]byte{
		"entry":    EncodeEntry(&Entry{ID: "x"}),
		"json":     []byte(`{"id":"CF:X"}`),
		"trailing": append(encodePatient(&full), 0),
	} {
		if _, err := decodePatient(b); err == nil {
			t.Errorf("%s accepted as a patient record", name)
		}
	}
}

// A record that grew long (a patient who moved many times, a survivor of
// many merges) still decodes: a record the replica cannot read would stop it.
func TestLongRecordsDecode(t *testing.T) {
	p := Patient{ID: mario, HomeRegion: "030"}
	for i := 0; i < 1000; i++ {
		p.Homes = append(p.Homes, HomeChange{Region: "030", From: time.Unix(int64(i), 0).UTC()})
		p.Merged = append(p.Merged, teo)
	}
	got, err := decodePatient(encodePatient(&p))
	if err != nil || len(got.Homes) != 1000 || len(got.Merged) != 1000 {
		t.Fatalf("%d homes, %d merged, %v", len(got.Homes), len(got.Merged), err)
	}
}
