package telemed

import (
	"reflect"
	"testing"

	"github.com/fsenet/fsenet/telemed/catalog"
)

// A service survives the trip to FHIR and back.
func TestHealthcareServiceRoundTrip(t *testing.T) {
	for _, s := range []catalog.Service{
		{ID: "030-tv-cardio", Region: "030", Type: catalog.Televisit, Specialties: []string{"08"}, Scope: catalog.ScopeRegional,
			Languages: []string{"it", "de"}, Name: "Televisita cardiologica", Active: true},
		{ID: "150-tc-derma", Region: "150", Type: catalog.Teleconsult, Scope: catalog.ScopeNational, Name: "Teleconsulto dermatologico",
			Organization: "AOU Federico II", Sync: true},
		{ID: "160-ta-fisio", Region: "160", Type: catalog.Teleassistance, Scope: catalog.ScopeCompany, Name: "Teleassistenza fisioterapica", Active: true},
	} {
		t.Run(s.ID, func(t *testing.T) {
			b, err := healthcareService(s).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			got, err := serviceFrom(b, s.Region, "ignored")
			if err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("got %+v\nwant %+v", got, s)
			}
		})
	}
}

// Whatever a client sends, serviceFrom refuses it or yields a service the
// catalogue accepts, of the node's region, that maps to FHIR and back to
// itself.
func FuzzServiceFrom(f *testing.F) {
	f.Add([]byte(`{"resourceType":"HealthcareService","id":"030-x","name":"n","type":[{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"televisita"}]}],"characteristic":[{"coding":[{"system":"http://hl7.it/fhir/teleconsulto/CodeSystem/csRaggioErogazione","code":"NAZ"}]}]}`))
	f.Add([]byte(`{"resourceType":"HealthcareService","active":false,"communication":[{"coding":[{"system":"urn:ietf:bcp:47","code":"sl"}]}]}`))
	f.Add([]byte(`{"resourceType":"Patient"}`))
	f.Add([]byte(`{garbage`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := serviceFrom(b, "030", "030-generated")
		if err != nil {
			return
		}
		if s.Region != "030" || s.Validate() != nil {
			t.Fatalf("accepted %+v", s)
		}
		out, err := healthcareService(s).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := serviceFrom(out, "030", "other")
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip: %+v (%v), want %+v", again, err, s)
		}
	})
}
