package monitor

import (
	"errors"
	"strings"
	"testing"
)

const (
	seedWeight = `{"resourceType":"Observation","status":"final","identifier":[{"system":"urn:dev","value":"w-1"}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/CF-RSSMRA80A01H501U"},` +
		`"device":{"reference":"Device/bilancia-1"},"effectiveDateTime":"2026-12-04T08:00:00+01:00",` +
		`"valueQuantity":{"value":160,"unit":"lb","system":"http://unitsofmeasure.org","code":"[lb_av]"}}`
	seedBP = `{"resourceType":"Observation","status":"final","identifier":[{"value":"bp-1"}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/CF-RSSMRA80A01H501U"},` +
		`"device":{"reference":"Device/sfigmo-1"},"effectiveDateTime":"2026-12-04T08:05:00Z",` +
		`"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":135,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},` +
		`{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":85,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`
	seedSpO2 = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2708-6"}]},` +
		`"subject":{"reference":"Patient/CF-RSSMRA80A01H501U"},"device":{"reference":"Device/pulsossimetro-1"},` +
		`"effectiveDateTime":"2026-12-04T08:10:00.123Z","valueQuantity":{"value":96,"system":"http://unitsofmeasure.org","code":"%"}}`
)

func bundle(typ string, entries ...string) string {
	var es []string
	for _, e := range entries {
		es = append(es, `{"resource":`+e+`}`)
	}
	return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(es, ",") + `]}`
}

func TestDecodeObservations(t *testing.T) {
	rs, err := DecodeObservations([]byte(bundle("batch", seedWeight, seedBP, seedSpO2)))
	if err != nil || len(rs) != 4 {
		t.Fatalf("%+v %v", rs, err)
	}
	w, sys, dia, spo2 := rs[0], rs[1], rs[2], rs[3]
	switch {
	case w.Patient != "CF:RSSMRA80A01H501U" || w.Device != "bilancia-1" || w.Code != Weight || w.Value < 72.57 || w.Value > 72.58 ||
		w.Time.Hour() != 7 || w.Identifier != "w-1":
		t.Fatalf("weight: %+v", w)
	case sys.Code != Systolic || sys.Value != 135 || dia.Code != Diastolic || dia.Value != 85 || sys.Identifier != "bp-1/8480-6":
		t.Fatalf("blood pressure: %+v %+v", sys, dia)
	case spo2.Code != SpO2 || spo2.Value != 96:
		t.Fatalf("SpO2: %+v", spo2)
	}
	bad := []struct{ name, in string }{
		{"not JSON", "{"},
		{"another resource", `{"resourceType":"Patient"}`},
		{"a document Bundle", bundle("document", seedWeight)},
		{"an empty Bundle", bundle("batch")},
		{"a Bundle with a Patient", bundle("batch", seedWeight, `{"resourceType":"Patient"}`)},
		{"a wrong unit", strings.Replace(seedWeight, `"[lb_av]"`, `"mm[Hg]"`, 1)},
		{"a unit outside UCUM", strings.Replace(seedWeight, "http://unitsofmeasure.org", "urn:local", 1)},
		{"an unknown code", strings.Replace(seedWeight, "29463-7", "1234-5", 1)},
		{"an impossible value", strings.Replace(seedWeight, `"value":160`, `"value":16000`, 1)},
		{"no value", strings.Replace(seedWeight, `"value":160,`, ``, 1)},
		{"a date without a time", strings.Replace(seedWeight, "2026-12-04T08:00:00+01:00", "2026-12-04", 1)},
		{"a time without a zone", strings.Replace(seedWeight, "+01:00", "", 1)},
		{"no device", strings.Replace(seedWeight, `"device":{"reference":"Device/bilancia-1"},`, "", 1)},
		{"a device URL", strings.Replace(seedWeight, "Device/bilancia-1", "http://x/Device/1", 1)},
		{"a patient not by codice fiscale", strings.Replace(seedWeight, "Patient/CF-RSSMRA80A01H501U", "Patient/123", 1)},
		{"entered in error", strings.Replace(seedWeight, `"final"`, `"entered-in-error"`, 1)},
		{"a panel with one component", strings.Replace(seedBP, "8462-4", "8480-6", 1)},
		{"a comparator", strings.Replace(seedWeight, `"value":160,`, `"value":160,"comparator":"<",`, 1)},
		{"a data absent reason", strings.Replace(seedWeight, `"status":"final",`, `"status":"final","dataAbsentReason":{"text":"x"},`, 1)},
		{"a modifier extension", strings.Replace(seedWeight, `"status":"final",`, `"status":"final","modifierExtension":[{"url":"x"}],`, 1)},
		{"an amendment", strings.Replace(seedWeight, `"final"`, `"amended"`, 1)},
		{"a deletion in a transaction", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + seedWeight + `,"request":{"method":"DELETE","url":"Observation/1"}}]}`},
		{"a long identifier", strings.Replace(seedWeight, `"w-1"`, `"`+strings.Repeat("x", 200)+`"`, 1)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if rs, err := DecodeObservations([]byte(tt.in)); err == nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("accepted %+v (%v)", rs, err)
			}
		})
	}
	big := make([]string, MaxBatch+1)
	for i := range big {
		big[i] = seedWeight
	}
	if _, err := DecodeObservations([]byte(bundle("transaction", big...))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an oversized Bundle: %v", err)
	}
}

// Whatever a gateway sends, the decoder refuses it or yields readings of
// known vitals within their ranges, each naming a patient and a device.
func FuzzDecodeObservations(f *testing.F) {
	for _, s := range []string{seedWeight, seedBP, seedSpO2, bundle("batch", seedWeight, seedBP)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeObservations(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("an error that is not ErrInvalid: %v", err)
			}
			return
		}
		if len(rs) == 0 || len(rs) > MaxBatch {
			t.Fatalf("%d readings", len(rs))
		}
		for _, r := range rs {
			v, ok := Vitals[r.Code]
			if !ok || r.Value < v.Min || r.Value > v.Max || r.Patient == "" || r.Device == "" || r.Time.IsZero() {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}
