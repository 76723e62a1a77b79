package fhirres

import (
	"testing"
	"time"

	"github.com/fsenet/fsenet/index"
)

// A DocumentReference names its author organisation by name (display)
// and, when the index has one, by its identifier; never a name as an
// identifier.
func TestDocumentReferenceAuthorOrganisation(t *testing.T) {
	base := index.Entry{ID: index.DocumentID("030", "lab-1"), Patient: "CF:RSSMRA80A01H501U", Type: "11502-2", Class: "REF",
		Created: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), AuthorOrg: "ASST Santi Paolo e Carlo", Custodian: "030",
		Status: index.StatusCurrent, Confidentiality: "N", MIME: "application/pdf"}
	tests := []struct {
		name, system, id string
	}{
		{"with a system", "urn:oid:2.16.840.1.113883.2.9.4.1.2", "030901"},
		{"without a system", "", "030901"},
		{"without an identifier", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			e.AuthorOrgSystem, e.AuthorOrgID = tt.system, tt.id
			d := DocumentReference(e, false, "http://node.example/fhir")
			var n int
			for _, a := range d.Author {
				if a.Type == nil || *a.Type != "Organization" {
					continue
				}
				n++
				if a.Display == nil || *a.Display != e.AuthorOrg {
					t.Fatalf("display %v, want the name", a.Display)
				}
				switch {
				case tt.id == "" && a.Identifier != nil:
					t.Fatalf("identifier %+v for an entry without one", a.Identifier)
				case tt.id == "":
				case a.Identifier == nil || a.Identifier.Value == nil || *a.Identifier.Value != tt.id:
					t.Fatalf("identifier %+v, want %s", a.Identifier, tt.id)
				case tt.system == "" && a.Identifier.System != nil, tt.system != "" && (a.Identifier.System == nil || *a.Identifier.System != tt.system):
					t.Fatalf("identifier system %v, want %q", a.Identifier.System, tt.system)
				}
			}
			if n != 1 {
				t.Fatalf("%d author organisations", n)
			}
		})
	}
}
