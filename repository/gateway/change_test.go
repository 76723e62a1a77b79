package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// The audit action of a request follows its action_id: a creation, a
// deletion, and anything else an update.
func TestActionIDAuditAction(t *testing.T) {
	for _, tc := range []struct {
		action actionID
		want   index.AuditAction
	}{
		{actionCreate, index.ActionCreate},
		{actionUpdate, index.ActionUpdate},
		{actionDelete, index.ActionDelete},
		{actionID("READ"), index.ActionUpdate},
		{actionID(""), index.ActionUpdate},
	} {
		name := string(tc.action)
		if name == "" {
			name = "empty"
		}
		t.Run(name, func(t *testing.T) {
			if got := tc.action.auditAction(); got != tc.want {
				t.Fatalf("auditAction() = %q, want %q", got, tc.want)
			}
		})
	}
}

// Each write through the gateway needs its action_id, records its
// workflow operation (as GET /v1/status names it), is audited under its
// name, and is answered 201 when it made a document, 200 otherwise.
func TestChanges(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ch        change
		action    string
		operation string
		what      string
		audit     index.AuditAction
		status    int
	}{
		{"publish", changePublish, "CREATE", "PUBLICATION", "DocumentReference.publish", index.ActionCreate, http.StatusCreated},
		{"replace", changeReplace, "UPDATE", "REPLACE", "DocumentReference.replace", index.ActionUpdate, http.StatusCreated},
		{"provide", changeProvide, "CREATE", "PUBLICATION", "DocumentReference.provide", index.ActionCreate, http.StatusCreated},
		{"update", changeUpdate, "UPDATE", "UPDATE", "DocumentReference.update", index.ActionUpdate, http.StatusOK},
		{"withdraw", changeWithdraw, "DELETE", "DELETE", "DocumentReference.withdraw", index.ActionDelete, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.ch.action) != tc.action || string(tc.ch.operation) != tc.operation || string(tc.ch.what) != tc.what {
				t.Fatalf("change %+v, want action %s, operation %s, what %s", tc.ch, tc.action, tc.operation, tc.what)
			}
			if got := tc.ch.action.auditAction(); got != tc.audit {
				t.Fatalf("audit action %q, want %q", got, tc.audit)
			}
			if got := tc.ch.successStatus(); got != tc.status {
				t.Fatalf("success status %d, want %d", got, tc.status)
			}
		})
	}
}

func coding(code string) fhir.CodeableConcept {
	return fhir.CodeableConcept{Coding: []fhir.Coding{{Code: &code}}}
}

// The class of a FHIR document is the last category with a code.
func TestDocumentClass(t *testing.T) {
	for _, tc := range []struct {
		name     string
		category []fhir.CodeableConcept
		want     doctype.Class
	}{
		{"none", nil, ""},
		{"one", []fhir.CodeableConcept{coding("REF")}, "REF"},
		{"the last with a code", []fhir.CodeableConcept{coding("REF"), coding("LDO"), {}}, "LDO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := documentClass(fhir.DocumentReference{Category: tc.category}); got != tc.want {
				t.Fatalf("documentClass = %q, want %q", got, tc.want)
			}
		})
	}
}

// A DocumentReference that disagrees with its document is refused, for
// every rule it breaks: its type (or else its class), and its subject.
func TestDocRefFailures(t *testing.T) {
	patient, err := ident.Parse(samplePatient)
	if err != nil {
		t.Fatal(err)
	}
	fd := fhirDocument{Type: "11502-2", Patient: patient}
	subject := func(v string) *fhir.Reference {
		return &fhir.Reference{Identifier: &fhir.Identifier{Value: &v}}
	}
	lab := coding("11502-2")
	other := coding("34105-7")
	for _, tc := range []struct {
		name    string
		dr      fhir.DocumentReference
		class   doctype.Class
		wantErr []string // the rules broken, in order
	}{
		{"agrees", fhir.DocumentReference{Type: &lab, Subject: subject(samplePatient)}, "REF", nil},
		{"no subject", fhir.DocumentReference{Type: &lab}, "REF", nil},
		{"another type", fhir.DocumentReference{Type: &other}, "REF", []string{"FHIR-type"}},
		{"no type", fhir.DocumentReference{}, "REF", []string{"FHIR-type"}},
		{"class of another type", fhir.DocumentReference{Type: &lab}, "LDO", []string{"HDR-tipoDocumentoLivAlto"}},
		{"another type and a wrong class", fhir.DocumentReference{Type: &other}, "LDO", []string{"FHIR-type"}},
		{"another patient", fhir.DocumentReference{Type: &lab, Subject: subject(pssPatient)}, "REF", []string{"FHIR-subject"}},
		{"not a codice fiscale", fhir.DocumentReference{Type: &lab, Subject: subject("nobody")}, "REF", []string{"FHIR-subject"}},
		{"type and patient", fhir.DocumentReference{Type: &other, Subject: subject(pssPatient)}, "REF", []string{"FHIR-type", "FHIR-subject"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rules []string
			for _, f := range docRefFailures(tc.dr, fd, tc.class) {
				rules = append(rules, f.Rule)
			}
			if strings.Join(rules, " ") != strings.Join(tc.wantErr, " ") {
				t.Fatalf("rules broken %v, want %v", rules, tc.wantErr)
			}
		})
	}
}

// A DocumentReference's metadata: confidentiality N unless labelled R or
// V, setting and facility type from its context, checked against the
// gateway's enumerations, and the service period.
func TestReadDocRefMetadata(t *testing.T) {
	start, end := "2026-01-01T10:00:00Z", "2026-01-01T11:00:00+01:00"
	setting, facility := coding("AD_PSC001"), coding("Ospedale")
	bad := coding("XX")
	for _, tc := range []struct {
		name    string
		dr      fhir.DocumentReference
		want    docRefMetadata
		wantErr string
	}{
		{"nothing declared", fhir.DocumentReference{}, docRefMetadata{conf: "N"}, ""},
		{"labels: the last known one", fhir.DocumentReference{SecurityLabel: []fhir.CodeableConcept{coding("V"), coding("Q")}}, docRefMetadata{conf: "V"}, ""},
		{"context", fhir.DocumentReference{Context: &fhir.DocumentReferenceContext{PracticeSetting: &setting, FacilityType: &facility,
			Period: &fhir.Period{Start: &start, End: &end}}},
			docRefMetadata{conf: "N", setting: "AD_PSC001", facility: "Ospedale",
				start: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), stop: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)}, ""},
		{"unknown setting", fhir.DocumentReference{Context: &fhir.DocumentReferenceContext{PracticeSetting: &bad}}, docRefMetadata{}, "context.practiceSetting"},
		{"unknown facility", fhir.DocumentReference{Context: &fhir.DocumentReferenceContext{FacilityType: &bad}}, docRefMetadata{}, "context.facilityType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readDocRefMetadata(tc.dr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.conf != tc.want.conf || got.setting != tc.want.setting || got.facility != tc.want.facility ||
				!got.start.Equal(tc.want.start) || !got.stop.Equal(tc.want.stop) {
				t.Fatalf("metadata %+v, want %+v", got, tc.want)
			}
		})
	}
}
