package fhirapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/ident"
)

// A death recorded with the registration is written after the record: a
// deceasedDateTime the registry cannot take is refused before anything is
// stored, never after the record was written (found by
// FuzzPatientFromResource).
func TestRegisterWithDeceasedDate(t *testing.T) {
	e := newEnvTB(t, nil)
	tests := []struct {
		name, first15, deceased string
		want                    int
		wantDate                string // recorded date; "" when nothing may be stored
	}{
		{"a year only", "LCNLVC95L47H501", "2026", http.StatusBadRequest, ""},
		{"a month only", "GTWGWY82B42G920", "2026-11", http.StatusBadRequest, ""},
		{"not a date", "BNCGNN80A01H501", "0", http.StatusBadRequest, ""},
		{"a day out of range", "VRDLRA85M41F205", "2026-02-30", http.StatusBadRequest, ""},
		{"a date", "TSTSMN63A01F205", "2026-11-20", http.StatusCreated, "2026-11-20"},
		{"a dateTime with its zone", "MRTMTT25D09F205", "2026-11-20T23:30:00+01:00", http.StatusCreated, "2026-11-20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			cf := tt.first15 + string(ident.CheckChar(tt.first15))
			body := strings.Replace(patientJSON(cf, "Bianchi", "030"), `"gender"`, `"deceasedDateTime":"`+tt.deceased+`","gender"`, 1)
			if code, out := e.send("POST", "/fhir/Patient", "op030", body); code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, out)
			}
			var p index.Patient
			var found bool
			if _, err := e.node.Read(context.Background(), consensus.Local, func(rd index.Reader) error {
				var err error
				p, found, err = index.GetPatient(rd, "CF:"+cf)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if found != (tt.wantDate != "") || p.Deceased != tt.wantDate {
				t.Fatalf("registered %v with deceased %q, want registered %v with %q", found, p.Deceased, tt.wantDate != "", tt.wantDate)
			}
		})
	}
}
