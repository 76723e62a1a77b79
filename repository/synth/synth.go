// Package synth makes synthetic, clearly fake clinical documents for
// tests, benchmarks and the demo: patients with well-formed codici
// fiscali, and HL7 CDA R2 documents of several FSE types (lab report,
// discharge letter, patient summary, emergency report, radiology report)
// with the headers the national schematrons require, embedded in PDFs as
// the FSE gateway takes them. Every name says it is a test ("Prova",
// "Sintetico"); no real patient data is anywhere in it.
package synth

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/pdfcda"
)

// Patient is a synthetic patient.
type Patient struct {
	CF        string
	Family    string
	Given     string
	Gender    string // M or F
	BirthDate time.Time
}

// FHIRGender is the patient's gender as FHIR codes it.
func (p Patient) FHIRGender() string {
	if p.Gender == "F" {
		return "female"
	}
	return "male"
}

var (
	families = []string{"Prova", "Sintetico", "Esempio", "Fittizio", "Campione", "Collaudo"}
	givenM   = []string{"Mario", "Luca", "Paolo", "Marco", "Andrea"}
	givenF   = []string{"Anna", "Giulia", "Sara", "Laura", "Chiara"}
	// places are real cadastral codes of large cities (a place, not a
	// person): Roma, Milano, Napoli, Bari, Torino.
	places = []string{"H501", "F205", "F839", "A662", "L219"}
)

const monthLetters = "ABCDEHLMPRST"

// NewPatient returns a synthetic patient; the same rng state gives the
// same patient.
func NewPatient(rng *rand.Rand) Patient {
	p := Patient{Family: families[rng.IntN(len(families))], Gender: "M"}
	if rng.IntN(2) == 0 {
		p.Gender = "F"
		p.Given = givenF[rng.IntN(len(givenF))]
	} else {
		p.Given = givenM[rng.IntN(len(givenM))]
	}
	p.BirthDate = time.Date(1930+rng.IntN(90), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	p.CF = codiceFiscale(p, places[rng.IntN(len(places))], rng)
	return p
}

// codiceFiscale builds a well-formed code: three letters of the family
// name and three of the given name (here drawn at random, so two patients
// of the same name differ), year, month letter, day (+40 for women),
// place, check character.
func codiceFiscale(p Patient, place string, rng *rand.Rand) string {
	letters := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('A' + rng.IntN(26)))
		}
		return b.String()
	}
	day := p.BirthDate.Day()
	if p.Gender == "F" {
		day += 40
	}
	s := fmt.Sprintf("%s%s%02d%c%02d%s", letters(3), letters(3), p.BirthDate.Year()%100, monthLetters[p.BirthDate.Month()-1], day, place)
	return s + string(ident.CheckChar(s))
}

// Kind is a document type the generator makes.
type Kind struct {
	LOINC    string
	Class    string // tipoDocumentoLivAlto
	Title    string
	Template string // HL7 Italia templateId root
	Section  string // the section's LOINC code
}

// Kinds are the document types the generator makes.
var Kinds = []Kind{
	{"11502-2", "REF", "Referto di laboratorio", "2.16.840.1.113883.2.9.10.1.1", "18719-5"},
	{"34105-7", "LDO", "Lettera di dimissione ospedaliera", "2.16.840.1.113883.2.9.10.1.5", "46241-6"},
	{"60591-5", "SUM", "Profilo sanitario sintetico", "2.16.840.1.113883.2.9.10.1.4.1.1", "11450-4"},
	{"59258-4", "VRB", "Verbale di pronto soccorso", "2.16.840.1.113883.2.9.10.1.6.1", "46239-0"},
	{"68604-8", "REF", "Referto di radiologia", "2.16.840.1.113883.2.9.10.1.7.1", "18782-3"},
}

// KindOf returns the kind of a LOINC code.
func KindOf(loinc string) (Kind, bool) {
	for _, k := range Kinds {
		if k.LOINC == loinc {
			return k, true
		}
	}
	return Kind{}, false
}

// Document is one synthetic document to make.
type Document struct {
	Kind    Kind
	Region  string // custodian region code
	LocalID string // the local part of the FSE document id
	Patient Patient
	// AuthorCF is the author's codice fiscale; Org the organisation.
	AuthorCF string
	Org      string
	Time     time.Time
	// Confidentiality: N, R or V (default N).
	Confidentiality string
	// Version > 1 makes a replacement of Replaces (an FSE document id).
	Version  int
	Replaces string
	// Padding adds narrative text to reach about this many bytes of CDA.
	Padding int
	// Scan adds to the PDF (not to the CDA) a scanned page of about this
	// many bytes of pseudo-random grey pixels, which no compressor
	// shrinks: a large document whose size survives compression.
	Scan int
}

// ID is the document's FSE id.
func (d Document) ID() string {
	return fmt.Sprintf("2.16.840.1.113883.2.9.2.%s.4.4^%s", d.Region, d.LocalID)
}

var cdaTemplate = template.Must(template.New("cda").Funcs(template.FuncMap{"x": xmlText}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="{{.Kind.Template}}" extension="1.0"/>
	<id root="2.16.840.1.113883.2.9.2.{{.Region}}.4.4" extension="{{x .LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="{{.Kind.LOINC}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .Kind.Title}}"/>
	<title>{{x .Kind.Title}} (documento sintetico)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{.Conf}}" codeSystem="2.16.840.1.113883.5.25"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{.Region}}.4.4" extension="{{x .SetID}}"/>
	<versionNumber value="{{.Ver}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{.Patient.CF}}" assigningAuthorityName="MEF"/>
			<patient>
				<name><family>{{x .Patient.Family}}</family><given>{{x .Patient.Given}}</given></name>
				<administrativeGenderCode code="{{.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1"/>
				<birthTime value="{{.Birth}}"/>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .AuthorCF}}"/>
			<assignedPerson><name><family>Medico</family><given>Sintetico</given></name></assignedPerson>
			<representedOrganization><id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}"/><name>Struttura sintetica {{x .Org}}</name></representedOrganization>
		</assignedAuthor>
	</author>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}"/>
				<name>Struttura sintetica {{x .Org}}</name>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity><id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .AuthorCF}}"/></assignedEntity>
	</legalAuthenticator>
{{- if .Replaces}}
	<relatedDocument typeCode="RPLC">
		<parentDocument><id root="{{.ParentRoot}}" extension="{{x .ParentExt}}"/></parentDocument>
	</relatedDocument>
{{- end}}
	<component>
		<structuredBody>
			<component>
				<section>
					<code code="{{.Kind.Section}}" codeSystem="2.16.840.1.113883.6.1"/>
					<title>Contenuto sintetico</title>
					<text>Documento generato per prove: nessun dato reale.{{x .Pad}}</text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// CDA returns the document as HL7 CDA R2 XML.
func CDA(d Document) []byte {
	if name, ok := nationalOf[d.Kind.LOINC]; ok {
		if doc, err := National(name, d); err == nil {
			return withPadding(doc, padding(d))
		}
	}
	if d.Confidentiality == "" {
		d.Confidentiality = "N"
	}
	if d.Version < 1 {
		d.Version = 1
	}
	if d.Time.IsZero() {
		d.Time = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	}
	rome := time.FixedZone("", 3600)
	data := map[string]any{
		"Kind": d.Kind, "Region": d.Region, "LocalID": d.LocalID, "Patient": d.Patient, "AuthorCF": d.AuthorCF, "Org": d.Org,
		"TS": d.Time.In(rome).Format("20060102150405-0700"), "Conf": d.Confidentiality, "Ver": d.Version,
		"Birth": d.Patient.BirthDate.Format("20060102"), "SetID": d.LocalID, "Replaces": d.Replaces,
	}
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data["ParentRoot"], data["ParentExt"], data["SetID"] = root, ext, ext
	}
	data["Pad"] = padding(d)
	var out bytes.Buffer
	if err := cdaTemplate.Execute(&out, data); err != nil {
		panic(fmt.Sprintf("synth: CDA template: %v", err)) // a bug, not input
	}
	return out.Bytes()
}

// nationalOf names the national type of the kinds CDA makes: those are
// made complete, as their schematron wants them.
var nationalOf = map[string]string{"11502-2": "LAB", "34105-7": "LDO", "60591-5": "PSS", "59258-4": "VPS", "68604-8": "RAD"}

// padding is d.Padding bytes of results that vary like a lab's, from a
// generator seeded by the document id: the same document always gets the
// same text.
func padding(d Document) string {
	if d.Padding <= 0 {
		return ""
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID()))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	var b strings.Builder
	for i := 1; b.Len() < d.Padding; i++ {
		fmt.Fprintf(&b, " Campione %d (prova): emoglobina %d,%d g/dL; leucociti %d,%d x10^3/uL; piastrine %d x10^3/uL; glicemia %d mg/dL.",
			i, 10+rng.IntN(8), rng.IntN(10), 3+rng.IntN(9), rng.IntN(10), 120+rng.IntN(300), 60+rng.IntN(80))
	}
	return b.String()
}

// withPadding adds pad as a paragraph of the first section's narrative.
func withPadding(doc []byte, pad string) []byte {
	if pad == "" {
		return doc
	}
	i := bytes.Index(doc, []byte("</text>"))
	if i < 0 {
		return doc
	}
	return slices.Concat(doc[:i], []byte("<paragraph>"+xmlText(pad)+"</paragraph>"), doc[i:])
}

// PDF returns the document as the FSE gateway takes it: a PDF with the
// CDA embedded as cda.xml.
func PDF(d Document) ([]byte, error) {
	var b bytes.Buffer
	lines := []string{
		d.Kind.Title + " - DOCUMENTO SINTETICO DI PROVA",
		"Paziente: " + d.Patient.Family + " " + d.Patient.Given + " (" + d.Patient.CF + ")",
		"Documento: " + d.ID(),
		"Nessun dato reale: generato per prove del sistema.",
	}
	if d.Scan > 0 {
		h := fnv.New64a()
		h.Write([]byte(d.ID() + "#scan"))
		rng := rand.New(rand.NewPCG(h.Sum64(), 2))
		grey := make([]byte, (d.Scan+7)/8*8)
		for i := 0; i < len(grey); i += 8 {
			binary.LittleEndian.PutUint64(grey[i:], rng.Uint64())
		}
		if err := pdfcda.EmbedScan(&b, lines, CDA(d), grey); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	if err := pdfcda.Embed(&b, lines, CDA(d)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// FHIRDocument returns the document as a FHIR R4 document Bundle
// (Composition first, then the Patient), the form IHE MHD ITI-65 carries
// in a Binary.
func FHIRDocument(d Document) []byte {
	if d.Time.IsZero() {
		d.Time = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	}
	patientURL := "urn:uuid:" + uuidOf(d.ID()+"#patient")
	section := "Documento generato per prove: nessun dato reale."
	if d.Padding > 0 {
		section += strings.Repeat(" Valore di prova.", d.Padding/17+1)
	}
	doc := map[string]any{
		"resourceType": "Bundle", "type": "document", "timestamp": d.Time.Format(time.RFC3339),
		"identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + uuidOf(d.ID())},
		"entry": []any{
			map[string]any{"fullUrl": "urn:uuid:" + uuidOf(d.ID()+"#composition"), "resource": map[string]any{
				"resourceType": "Composition", "status": "final",
				"type":    map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": d.Kind.LOINC, "display": d.Kind.Title}}},
				"subject": map[string]any{"reference": patientURL},
				"date":    d.Time.Format(time.RFC3339),
				"author":  []any{map[string]any{"display": "Medico sintetico (" + d.Org + ")"}},
				"title":   d.Kind.Title + " (documento sintetico)",
				"section": []any{map[string]any{"title": "Contenuto sintetico",
					"text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">` + xmlText(section) + `</div>`}}},
			}},
			map[string]any{"fullUrl": patientURL, "resource": map[string]any{
				"resourceType": "Patient",
				"identifier":   []any{map[string]any{"system": "http://hl7.it/sid/codiceFiscale", "value": d.Patient.CF}},
				"name":         []any{map[string]any{"family": d.Patient.Family, "given": []string{d.Patient.Given}}},
				"gender":       d.Patient.FHIRGender(), "birthDate": d.Patient.BirthDate.Format(time.DateOnly),
			}},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("synth: FHIR document: %v", err)) // a bug, not input
	}
	return b
}

// uuidOf derives a stable UUID-shaped id from s.
func uuidOf(s string) string {
	h := fnv.New128a()
	h.Write([]byte(s))
	b := h.Sum(nil)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ProvideBundle returns an IHE MHD ITI-65 transaction Bundle publishing a
// FHIR document: the SubmissionSet (List), the DocumentReference with the
// index metadata (class as category, setting, facility), and the Binary
// carrying doc; signature, when not empty, is the producer's detached JWS
// over doc, carried in the transaction Bundle's signature.
func ProvideBundle(d Document, doc []byte, signature string) []byte {
	if d.Time.IsZero() {
		d.Time = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	}
	binURL := "urn:uuid:" + uuidOf(d.ID()+"#binary")
	drURL := "urn:uuid:" + uuidOf(d.ID()+"#docref")
	conf := d.Confidentiality
	if conf == "" {
		conf = "N"
	}
	dr := map[string]any{
		"resourceType":     "DocumentReference",
		"masterIdentifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": d.ID()},
		"status":           "current",
		"type":             map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": d.Kind.LOINC}}},
		"category":         []any{map[string]any{"coding": []any{map[string]any{"system": "urn:fsenet:tipoDocumentoLivAlto", "code": d.Kind.Class}}}},
		"subject":          map[string]any{"identifier": map[string]any{"system": "http://hl7.it/sid/codiceFiscale", "value": d.Patient.CF}},
		"securityLabel":    []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": conf}}}},
		"content":          []any{map[string]any{"attachment": map[string]any{"contentType": "application/fhir+json", "url": binURL}}},
		"context": map[string]any{
			"facilityType":    map[string]any{"coding": []any{map[string]any{"system": "urn:fsenet:tipologiaStruttura", "code": "Ospedale"}}},
			"practiceSetting": map[string]any{"coding": []any{map[string]any{"system": "urn:fsenet:assettoOrganizzativo", "code": "AD_PSC001"}}},
		},
	}
	if d.Replaces != "" {
		dr["relatesTo"] = []any{map[string]any{"code": "replaces", "target": map[string]any{"identifier": map[string]any{"value": d.Replaces}}}}
	}
	bundle := map[string]any{
		"resourceType": "Bundle", "type": "transaction",
		"entry": []any{
			map[string]any{"fullUrl": "urn:uuid:" + uuidOf(d.ID()+"#submissionset"), "request": map[string]any{"method": "POST", "url": "List"},
				"resource": map[string]any{"resourceType": "List", "status": "current", "mode": "working",
					"code":  map[string]any{"coding": []any{map[string]any{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "submissionset"}}},
					"entry": []any{map[string]any{"item": map[string]any{"reference": drURL}}}}},
			map[string]any{"fullUrl": drURL, "request": map[string]any{"method": "POST", "url": "DocumentReference"}, "resource": dr},
			map[string]any{"fullUrl": binURL, "request": map[string]any{"method": "POST", "url": "Binary"},
				"resource": map[string]any{"resourceType": "Binary", "contentType": "application/fhir+json", "data": base64.StdEncoding.EncodeToString(doc)}},
		},
	}
	if signature != "" {
		bundle["signature"] = map[string]any{
			"type":      []any{map[string]any{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.14"}},
			"when":      d.Time.Format(time.RFC3339),
			"who":       map[string]any{"identifier": map[string]any{"value": d.Org}},
			"sigFormat": "application/jose",
			"data":      base64.StdEncoding.EncodeToString([]byte(signature)),
		}
	}
	b, err := json.Marshal(bundle)
	if err != nil {
		panic(fmt.Sprintf("synth: provide bundle: %v", err))
	}
	return b
}
