package fhirapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/index/ident"
)

// FuzzPatientFromResource feeds the registry's reader of FHIR Patient
// resources (POST and PUT /fhir/Patient) what a region operator's client
// could send. The body limit holds and its refusal is an OperationOutcome;
// a resource it accepts carries a canonical patient identifier and a
// deceased date the registry takes (or none), so a write is never left
// half done; and an accepted record that the registry would store reads
// back the same from the resource the API answers with.
func FuzzPatientFromResource(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "patient", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no Patient seeds in testdata/patient: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(patientJSON("LCNLVC95L47H501Q", "Bianchi", "030")))
	f.Add([]byte(`{"resourceType":"Patient"}`))
	f.Add([]byte(`{"resourceType":"Observation"}`))
	f.Add([]byte(`{"resourceType":"Patient","identifier":[{"value":"RSSMRA80A01H501U"}],"deceasedDateTime":"2026"}`))
	f.Add(append([]byte(patientJSON("LCNLVC95L47H501Q", "Bianchi", "030")), bytes.Repeat([]byte(" "), maxBody)...))

	f.Fuzz(func(t *testing.T, b []byte) {
		// The body limit, as the write handlers read it.
		rec := httptest.NewRecorder()
		body, ok := readJSON(rec, httptest.NewRequest(http.MethodPost, "/fhir/Patient", bytes.NewReader(b)))
		if ok != (len(b) <= maxBody) {
			t.Fatalf("a body of %d bytes read: %v (limit %d)", len(b), ok, maxBody)
		}
		if !ok {
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a body over the limit answered %d, want 413", rec.Code)
			}
			var oo struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" {
				t.Fatalf("the refusal is not an OperationOutcome: %s", rec.Body)
			}
			return
		}
		if !bytes.Equal(body, b) {
			t.Fatal("the body read differs from the body sent")
		}

		p, deceased, err := patientFromResource(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a message")
			}
			return
		}
		kind, value, _ := strings.Cut(p.ID, ":")
		id, err := ident.Parse(value)
		if err != nil || id.String() != p.ID || id.Kind.String() != kind {
			t.Fatalf("identifier %q is not canonical: %v", p.ID, err)
		}
		if rid, ok := fhirres.PatientIDOf(fhirres.PatientResourceID(p.ID)); !ok || rid != p.ID {
			t.Fatalf("identifier %q does not survive its resource id: %q", p.ID, rid)
		}
		// The death is written after the record: a date the registry
		// would refuse must stop the write before anything is stored.
		if deceased != "" {
			if _, err := time.Parse(time.DateOnly, deceased); err != nil || len(deceased) != len(time.DateOnly) {
				t.Fatalf("deceased date %q accepted: the registry refuses it after the record was written", deceased)
			}
		}
		if p.Validate() != nil {
			return
		}
		stored := p
		stored.Deceased = deceased
		out, err := json.Marshal(fhirres.Patient(stored))
		if err != nil {
			t.Fatalf("the answer cannot be encoded: %v", err)
		}
		back, deceasedBack, err := patientFromResource(out)
		if err != nil {
			t.Fatalf("the resource the API answers with is refused: %v\n%s", err, out)
		}
		if deceasedBack != deceased {
			t.Fatalf("deceased %q read back as %q", deceased, deceasedBack)
		}
		if !reflect.DeepEqual(demographics(back), demographics(p)) {
			t.Fatalf("the record changes over a round trip:\n%+v\n%+v", back, p)
		}
	})
}

// demographics is the part of a record a Patient resource carries.
func demographics(p index.Patient) index.Patient {
	return index.Patient{ID: p.ID, Family: p.Family, Given: append([]string(nil), p.Given...),
		Gender: p.Gender, BirthDate: p.BirthDate, HomeRegion: p.HomeRegion}
}
