package cda

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// minimal is a header every rule accepts (the body is a stub).
const minimal = `<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
<realmCode code="IT"/>
<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
<templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.3"/>
<id root="2.16.840.1.113883.2.9.2.030.4.4" extension="DOC-1"/>
<code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>
<effectiveTime value="20261101100000+0100"/>
<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
<languageCode code="it-IT"/>
<setId root="2.16.840.1.113883.2.9.2.030.4.4" extension="DOC-1"/>
<versionNumber value="1"/>
<recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA80A01H501U"/>
<patient><name><family>Prova</family><given>Mario</given></name><administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="19800101"/></patient></patientRole></recordTarget>
<author><time value="20261101100000+0100"/><assignedAuthor><id root="2.16.840.1.113883.2.9.4.3.2" extension="PRVMDC70A01H501X"/></assignedAuthor></author>
<custodian><assignedCustodian><representedCustodianOrganization><id root="2.16.840.1.113883.2.9.4.1.2" extension="030001"/><name>ASST Prova</name></representedCustodianOrganization></assignedCustodian></custodian>
<legalAuthenticator><time value="20261101100000+0100"/><signatureCode code="S"/><assignedEntity><id root="2.16.840.1.113883.2.9.4.3.2" extension="PRVMDC70A01H501X"/></assignedEntity></legalAuthenticator>
<component><structuredBody/></component>
</ClinicalDocument>`

func read(t *testing.T, s string) *Header {
	t.Helper()
	h, err := Read(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func rules(fs []Failure) string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule)
	}
	return strings.Join(ids, " ")
}

func TestMinimalHeaderPasses(t *testing.T) {
	h := read(t, minimal)
	if fs := Check(h); len(fs) != 0 {
		t.Fatalf("failures: %v", fs)
	}
	if id, err := h.Patient(); err != nil || id.String() != "CF:RSSMRA80A01H501U" {
		t.Fatalf("patient %v, %v", id, err)
	}
	tm, err := h.EffectiveTime.Time()
	if err != nil || tm.UTC().Format("2006-01-02T15:04") != "2026-11-01T09:00" {
		t.Fatalf("effective time %v, %v", tm, err)
	}
}

// Each broken header fails with the LAB schematron's rule id (or
// fsenet's, where the schematron has none).
func TestHeaderRules(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"realmCode", `<realmCode code="IT"/>`, `<realmCode code="DE"/>`, "ERRORE-2"},
		{"no realmCode", `<realmCode code="IT"/>`, ``, "ERRORE-2"},
		{"typeId", `extension="POCD_MT000040UV02"`, `extension="X"`, "HDR-typeId"},
		{"templateId", `<templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.3"/>`, `<templateId root="1.2.3"/>`, "ERRORE-4"},
		{"id root", `<id root="2.16.840.1.113883.2.9.2.030.4.4" extension="DOC-1"/>`, `<id root="1.2.3" extension="DOC-1"/>`, "HDR-id"},
		{"code system", `codeSystem="2.16.840.1.113883.6.1"/>`, `codeSystem="2.16.840.1.113883.6.96"/>`, "ERRORE-5"},
		{"unknown type", `code="11502-2"`, `code="12345-6"`, "HDR-code"},
		{"effectiveTime", `<effectiveTime value="20261101100000+0100"/>`, `<effectiveTime value="ieri"/>`, "HDR-effectiveTime"},
		{"confidentiality", `<confidentialityCode code="N"`, `<confidentialityCode code="X"`, "ERRORE-6"},
		{"language", `<languageCode code="it-IT"/>`, ``, "ERRORE-7"},
		{"setId", `<setId root="2.16.840.1.113883.2.9.2.030.4.4" extension="DOC-1"/>`, ``, "HDR-setId"},
		{"version without relatedDocument", `<versionNumber value="1"/>`, `<versionNumber value="2"/>`, "ERRORE-9"},
		{"bad relatedDocument", `<component>`, `<relatedDocument typeCode="XXX"/><component>`, "ERRORE-9"},
		{"two recordTargets", `</recordTarget>`, `</recordTarget><recordTarget/>`, "ERRORE-10"},
		{"invalid codice fiscale", `RSSMRA80A01H501U`, `RSSMRA80A01H501X`, "ERRORE-11"},
		{"no patient id", `<id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA80A01H501U"/>`, ``, "ERRORE-11"},
		{"STP code under the CF root", `RSSMRA80A01H501U`, `STP0301234567890`, "ERRORE-11"},
		{"patient name", `<given>Mario</given>`, ``, "ERRORE-15"},
		{"gender", `<administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/>`, ``, "ERRORE-16"},
		{"birthTime", `<birthTime value="19800101"/>`, ``, "ERRORE-18"},
		{"no author", `<author>`, `<authorX>`, ""},
		{"custodian name", `<name>ASST Prova</name>`, ``, "ERRORE-24"},
		{"legalAuthenticator", `<legalAuthenticator>`, `<legalAuthenticatorX>`, ""},
		{"signatureCode", `<signatureCode code="S"/>`, `<signatureCode code="X"/>`, "ERRORE-27"},
		{"legalAuthenticator id", `<assignedEntity><id root="2.16.840.1.113883.2.9.4.3.2"`, `<assignedEntity><id root="1.2.3"`, "ERRORE-28"},
		{"no body", `<component><structuredBody/></component>`, ``, "HDR-component"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(minimal, tc.old, tc.new, 1)
			if tc.old == `<author>` {
				doc = strings.Replace(doc, `</author>`, `</authorX>`, 1)
				tc.want = "HDR-author"
			}
			if tc.old == `<legalAuthenticator>` {
				doc = strings.Replace(doc, `</legalAuthenticator>`, `</legalAuthenticatorX>`, 1)
				tc.want = "ERRORE-26"
			}
			if doc == minimal {
				t.Fatal("the mutation changed nothing")
			}
			got := rules(Check(read(t, doc)))
			if !strings.Contains(" "+got+" ", " "+tc.want+" ") {
				t.Fatalf("failed rules %q, want %s", got, tc.want)
			}
		})
	}
}

func TestMalformedDocuments(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"empty", ""},
		{"not XML", "%PDF-1.7"},
		{"other root", `<Bundle xmlns="http://hl7.org/fhir"/>`},
		{"no namespace", `<ClinicalDocument/>`},
		{"unclosed", `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>`},
		{"DTD", `<!DOCTYPE ClinicalDocument [<!ENTITY x "y">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>`},
		{"external entity", `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>`},
		{"two roots", minimal + `<ClinicalDocument xmlns="urn:hl7-org:v3"/>`},
		{"text after", minimal + `trailing`},
		{"too large", `<ClinicalDocument xmlns="urn:hl7-org:v3"><title>` + strings.Repeat("a", MaxBytes) + `</title></ClinicalDocument>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Read(strings.NewReader(tc.doc)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// The national sample documents pass every header rule.
func TestNationalSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "samples", "fse-it", "cda")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("the national samples are not here (%s): this test runs beside ../shared/samples", dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if fs := Check(h); len(fs) != 0 {
				t.Fatalf("failures: %v", fs)
			}
			if _, ok := TemplateOf(h.Code.Code); !ok {
				t.Fatalf("no template for %s", h.Code.Code)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="x"/></patientRole></recordTarget></ClinicalDocument>`))
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><ClinicalDocument xmlns="urn:hl7-org:v3"/>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := Read(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Whatever parses can be checked without a panic, and a header
		// that passes has a valid patient.
		if len(Check(h)) == 0 {
			if _, err := h.Patient(); err != nil {
				t.Fatalf("a header that passes has no valid patient: %v", err)
			}
		}
	})
}

// ReadHeader gives the same header as Read, for every document Read
// accepts.
func TestReadHeaderMatchesRead(t *testing.T) {
	docs := []string{minimal, strings.Replace(minimal, `<component>`, `<relatedDocument typeCode="RPLC"><parentDocument><id root="1.2" extension="x"/></parentDocument></relatedDocument><component>`, 1)}
	dir := filepath.Join("..", "..", "..", "shared", "samples", "fse-it", "cda")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for i, d := range docs {
		full, err := Read(strings.NewReader(d))
		if err != nil {
			t.Fatal(err)
		}
		head, err := ReadHeader(strings.NewReader(d))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(full, head) {
			t.Fatalf("document %d: Read\n%+v\nReadHeader\n%+v", i, full, head)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHeader(bytes.NewReader(in))
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil {
			Check(h) // no panic
		}
	})
}

// fsenet's own rules beside a national schematron's: each broken header
// fails with its HDR- id, and nothing else is judged.
func TestCheckOwn(t *testing.T) {
	if fs := CheckOwn(read(t, minimal)); len(fs) != 0 {
		t.Fatalf("failures: %v", fs)
	}
	for _, tc := range []struct{ name, old, new, want string }{
		{"invalid codice fiscale", `RSSMRA80A01H501U`, `RSSMRA80A01H501X`, "HDR-recordTarget.id"},
		{"two recordTargets", `</recordTarget>`, `</recordTarget><recordTarget/>`, "HDR-recordTarget"},
		{"unknown type", `code="11502-2"`, `code="12345-6"`, "HDR-code"},
		{"no id extension", `<id root="2.16.840.1.113883.2.9.2.030.4.4" extension="DOC-1"/>`, `<id root="2.16.840.1.113883.2.9.2.030.4.4"/>`, "HDR-id"},
		{"version 2 naming nothing", `<versionNumber value="1"/>`, `<versionNumber value="2"/>`, "HDR-relatedDocument"},
		{"version zero", `<versionNumber value="1"/>`, `<versionNumber value="0"/>`, "HDR-versionNumber"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(minimal, tc.old, tc.new, 1)
			if got := rules(CheckOwn(read(t, doc))); got != tc.want {
				t.Fatalf("failed rules %q, want %s", got, tc.want)
			}
		})
	}
	// A national rule is not fsenet's own: no realmCode passes CheckOwn.
	if fs := CheckOwn(read(t, strings.Replace(minimal, `<realmCode code="IT"/>`, ``, 1))); len(fs) != 0 {
		t.Fatalf("failures: %v", fs)
	}
}
