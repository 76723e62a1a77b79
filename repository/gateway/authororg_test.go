package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/cda"
	"github.com/fsenet/fsenet/repository/synth"
)

const structureOID = "2.16.840.1.113883.2.9.4.1.2"

func TestCDAAuthorOrg(t *testing.T) {
	author := func(ids ...cda.II) cda.Author { return cda.Author{OrgIDs: ids} }
	tests := []struct {
		name         string
		authors      []cda.Author
		system, code string
		named        bool
	}{
		{"none", nil, "", "", false},
		{"an author without organisation", []cda.Author{author()}, "", "", false},
		{"root and extension", []cda.Author{author(cda.II{Root: structureOID, Extension: "030901"})}, "urn:oid:" + structureOID, "030901", true},
		{"a root alone is skipped", []cda.Author{author(cda.II{Root: structureOID}, cda.II{Root: "2.16.840.1.113883.2.9.4.1.1", Extension: "030321"})},
			"urn:oid:2.16.840.1.113883.2.9.4.1.1", "030321", true},
		{"the first author that names one", []cda.Author{author(), author(cda.II{Root: structureOID, Extension: "030902"})}, "urn:oid:" + structureOID, "030902", true},
		{"a UUID root", []cda.Author{author(cda.II{Root: "0e1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", Extension: "X1"})}, "urn:uuid:0e1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8", "X1", true},
		{"a name for extension", []cda.Author{author(cda.II{Root: structureOID, Extension: "ASST Milano"})}, "urn:oid:" + structureOID, "ASST Milano", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			system, code, named := cdaAuthorOrg(&cda.Header{Authors: tt.authors})
			if system != tt.system || code != tt.code || named != tt.named {
				t.Fatalf("got %q %q %v, want %q %q %v", system, code, named, tt.system, tt.code, tt.named)
			}
		})
	}
}

func TestDocRefAuthorOrg(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name         string
		authors      []fhir.Reference
		system, code string
		named        bool
	}{
		{"none", nil, "", "", false},
		{"a practitioner", []fhir.Reference{{Reference: s("Practitioner/1")}}, "", "", false},
		{"an organisation by reference only", []fhir.Reference{{Type: s("Organization"), Reference: s("#org")}}, "", "", false},
		{"an organisation by identifier", []fhir.Reference{{Reference: s("Practitioner/1")},
			{Type: s("Organization"), Identifier: &fhir.Identifier{System: s("urn:oid:" + structureOID), Value: s("030901")}}},
			"urn:oid:" + structureOID, "030901", true},
		{"an identifier without system", []fhir.Reference{{Type: s("Organization"), Identifier: &fhir.Identifier{Value: s("030901")}}}, "", "030901", true},
		{"an identifier of another type", []fhir.Reference{{Type: s("Practitioner"), Identifier: &fhir.Identifier{Value: s("RSSMRA80A01F205X")}}}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			system, code, named := docRefAuthorOrg(fhir.DocumentReference{Author: tt.authors})
			if system != tt.system || code != tt.code || named != tt.named {
				t.Fatalf("got %q %q %v, want %q %q %v", system, code, named, tt.system, tt.code, tt.named)
			}
		})
	}
}

// A publication indexes its author organisation's identifier: the CDA's
// representedOrganization id, the DocumentReference's author identifier,
// else the signature token's locality; a name is never kept as one.
func TestPublicationIndexesAuthorOrgID(t *testing.T) {
	e := newEnv(t)

	// A CDA: synth's LAB names its author organisation by the Ministry's
	// structure code system.
	pdf := lab(t, "org")
	e.validate(pdf)
	e.mustStatusOf(e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody("org-1", "REF"), pdf: pdf}))
	got := e.indexed(index.DocumentID(region, "org-1"))
	if got.AuthorOrgSystem != "urn:oid:"+structureOID || got.AuthorOrgID != producerOrg || got.AuthorOrg != producerOrg {
		t.Fatalf("CDA: author organisation %q, %q|%q", got.AuthorOrg, got.AuthorOrgSystem, got.AuthorOrgID)
	}

	// FHIR documents through ITI-65.
	provide := func(local string, author map[string]any, locality string) index.Entry {
		t.Helper()
		d := labDoc(local)
		d.LocalID = local
		doc := synth.FHIRDocument(d)
		sig, err := SignDocument(e.prod, doc)
		if err != nil {
			t.Fatal(err)
		}
		var bundle map[string]any
		if err := json.Unmarshal(synth.ProvideBundle(d, doc, sig), &bundle); err != nil {
			t.Fatal(err)
		}
		if author != nil {
			for _, en := range bundle["entry"].([]any) {
				if r := en.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "DocumentReference" {
					r["author"] = []any{map[string]any{"reference": "Practitioner/" + operatorCF}, author}
				}
			}
		}
		raw, _ := json.Marshal(bundle)
		resp, b := e.do(call{method: http.MethodPost, path: "/fhir", raw: raw, contentType: "application/fhir+json",
			sig: func(c *federation.Claims) {
				h := sha256.Sum256(doc)
				c.AttachmentHash, c.ResourceHL7Type, c.PersonID, c.Locality = hex.EncodeToString(h[:]), "11502-2", samplePatient, locality
			}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", local, resp.StatusCode, b)
		}
		return e.indexed(d.ID())
	}
	org := func(system, value string) map[string]any {
		return map[string]any{"type": "Organization", "identifier": map[string]any{"system": system, "value": value}, "display": "ASST di prova"}
	}
	tests := []struct {
		name, local  string
		author       map[string]any
		locality     string
		system, code string
	}{
		{"the DocumentReference's author identifier", "fhir-org-1", org("urn:oid:"+structureOID, "030901"), "", "urn:oid:" + structureOID, "030901"},
		{"the document's identifier wins over the token's locality", "fhir-org-2", org("urn:oid:"+structureOID, "030901"), "030555", "urn:oid:" + structureOID, "030901"},
		{"no identifier in the document: the token's locality", "fhir-org-3", nil, "030555", "", "030555"},
		{"no identifier anywhere", "fhir-org-4", nil, "", "", ""},
		{"a name is not an identifier, and the token's locality does not replace it", "fhir-org-5", org("urn:oid:"+structureOID, "ASST di prova"), "030555", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := provide(tt.local, tt.author, tt.locality)
			if got.AuthorOrgSystem != tt.system || got.AuthorOrgID != tt.code || got.AuthorOrg != producerOrg {
				t.Fatalf("author organisation %q, %q|%q; want %q|%q", got.AuthorOrg, got.AuthorOrgSystem, got.AuthorOrgID, tt.system, tt.code)
			}
		})
	}
}
