package telemed

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/fsenet/fsenet/telemed/monitor"
)

// A Device either is refused or reads as a device the store accepts, and
// its resource reads back as the same device.
func FuzzDeviceOf(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Device","id":"bilancia-1","identifier":[{"system":"urn:oid:1.2","value":"SN1"}],"udiCarrier":[{"deviceIdentifier":"0801","carrierHRF":"(01)0801"}],` +
		`"deviceName":[{"name":"Bilancia","type":"user-friendly-name"}],"type":{"coding":[{"system":"http://snomed.info/sct","code":"39857003"}]}}`))
	f.Add([]byte(`{"resourceType":"Device","id":"x","udiCarrier":[{}]}`))
	f.Add([]byte(`{"resourceType":"Device","id":"../etc","identifier":[{"system":"s","value":"v"}],"udiCarrier":[{"deviceIdentifier":"d"}]}`))
	f.Add([]byte(`{garbage`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := deviceOf(b)
		if err != nil {
			return
		}
		if monitor.CheckDevice(d) != nil {
			t.Fatalf("accepted a device the store refuses: %+v", d)
		}
		out, err := json.Marshal(deviceResource(d))
		if err != nil {
			t.Fatal(err)
		}
		again, err := deviceOf(out)
		if err != nil || again.ID != d.ID || !slices.Equal(again.Identifiers, d.Identifiers) || !slices.Equal(again.UDI, d.UDI) || again.Name != d.Name {
			t.Fatalf("round trip: %+v (%v), want %+v", again, err, d)
		}
	})
}

func TestReportPeriod(t *testing.T) {
	for _, tt := range []struct {
		query string
		ok    bool
		days  float64
	}{
		{"start=2026-11-01&end=2026-11-30", true, 30},
		{"start=2026-11-01T00:00:00%2B01:00&end=2026-11-02T00:00:00%2B01:00", true, 1},
		{"start=2026-11-01", false, 0},
		{"start=2026-11-01&end=2026-11-30&end=2026-12-01", false, 0},
		{"start=1%20novembre&end=2026-11-30", false, 0},
	} {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/fhir/CarePlan/x/$report-rilevazione?"+tt.query, nil)
			from, to, err := reportPeriod(r)
			if (err == nil) != tt.ok || tt.ok && to.Sub(from).Hours()/24 != tt.days {
				t.Fatalf("%v %v %v, want ok=%v and %g days", from, to, err, tt.ok, tt.days)
			}
		})
	}
}
