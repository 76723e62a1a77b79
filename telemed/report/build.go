package report

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/pdfcda"
)

// OIDs the documents use.
const (
	OIDLOINC        = "2.16.840.1.113883.6.1"
	OIDCF           = "2.16.840.1.113883.2.9.4.3.2"  // codice fiscale
	OIDGender       = "2.16.840.1.113883.5.1"        // HL7 AdministrativeGender
	OIDConfid       = "2.16.840.1.113883.5.25"       // HL7 Confidentiality
	OIDAzienda      = "2.16.840.1.113883.2.9.4.1.1"  // FLS11, aziende sanitarie
	OIDStruttura    = "2.16.840.1.113883.2.9.4.1.2"  // HSP11, presidi and strutture
	OIDPrestazioni  = "2.16.840.1.113883.2.9.6.1.11" // catalogo nazionale delle prestazioni
	OIDServiceEvent = "2.16.840.1.113883.2.9.5.1.4"  // serviceEvent code (PROG, DIR)
	// OIDRegionPrefix starts a region's arc: 2.16.840.1.113883.2.9.2.<region>.
	OIDRegionPrefix = "2.16.840.1.113883.2.9.2."
)

// Arcs under a region's OID for the ids a report carries: the document
// (.4.4, as FSE 2.0 requires), and fsenet's telemedicine records — the
// order a report fulfils (appointment, teleconsult request, care plan)
// and the encounter it reports on.
const (
	arcDocument  = ".4.4"
	arcOrder     = ".4.6"
	arcEncounter = ".4.7"
)

// DocumentRoot is the root of the ids of a region's documents.
func DocumentRoot(region string) string { return OIDRegionPrefix + region + arcDocument }

// Section codes (LOINC) and templateIds (HL7 Italia) of the sections a
// report carries.
const (
	secQuesito     = "29299-5"
	secPrestazioni = "62387-6"
	secReferto     = "47045-0"

	tplQuesito     = "2.16.840.1.113883.3.1937.777.63.10.648"
	tplPrestazioni = "2.16.840.1.113883.3.1937.777.63.10.657"
	tplReferto     = "2.16.840.1.113883.3.1937.777.63.10.695"
	tplBranca      = "2.16.840.1.113883.3.1937.777.63.10.703"
	tplDisciplina  = "2.16.840.1.113883.3.1937.777.63.10.704"
)

// MaxDocumentBytes bounds the documents Check reads; Build never makes a
// larger one.
const MaxDocumentBytes = 4 << 20

// Build returns r as an HL7 CDA R2 document of its type, which the type's
// national schematron accepts. It validates r first.
func Build(r Report) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	d := newDocData(r)
	var out bytes.Buffer
	if err := cdaTemplate.Execute(&out, d); err != nil {
		return nil, fmt.Errorf("report: write the CDA: %w", err)
	}
	if out.Len() > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: the document would be %d bytes (at most %d)", ErrInvalid, out.Len(), MaxDocumentBytes)
	}
	return out.Bytes(), nil
}

// PDF returns r as the FSE gateway takes it: a PDF with a few readable
// lines in Italian and the CDA embedded as cda.xml.
func PDF(r Report) ([]byte, error) {
	doc, err := Build(r)
	if err != nil {
		return nil, err
	}
	sp := specs[r.Kind]
	lines := []string{
		sp.title,
		"Paziente: " + strings.TrimSpace(r.Patient.Family+" "+r.Patient.Given) + " (" + r.Patient.CF + ")",
		"Struttura: " + clip(r.Organization.Name, 80),
		"Redatto da: " + personLabel(r.Author) + ", " + r.Time.In(rome).Format("02/01/2006 15:04"),
		"Documento: " + DocumentRoot(r.Region) + "^" + r.ID,
	}
	if q := strings.TrimSpace(r.Quesito); q != "" {
		lines = append(lines, "Quesito diagnostico: "+clip(oneLine(q), 80))
	}
	lines = append(lines, sp.findings+": "+clip(oneLine(r.Findings), 90),
		"Il documento clinico è l'allegato cda.xml (HL7 CDA R2).")
	var b bytes.Buffer
	if err := pdfcda.Embed(&b, lines, doc); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return b.Bytes(), nil
}

// rome is the time zone of the dates people read on the PDF. The CDA's
// own timestamps are UTC (+0000), which the schematrons compare as text.
var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}()

func personLabel(p Person) string {
	if n := strings.TrimSpace(p.Family + " " + p.Given); n != "" {
		return n + " (" + p.CF + ")"
	}
	return p.CF
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// docData is what the template writes.
type docData struct {
	R                           Report
	LOINC, Display, Title       string
	TemplateRoot                string
	DocRoot, OrderRoot, EncRoot string
	Time, Start, End            string
	Birth                       string
	PatientRoot                 string // the OID of the patient's identifier type
	Azienda                     string
	BirthCountry, BirthComune   string
	Sections                    []section
	Participant                 bool
}

type section struct {
	Template, Code, Display, Title string
	// Text is the narrative block's content, already XML.
	Text string
	// Entries are the section's entries, already XML.
	Entries []string
}

func newDocData(r Report) docData {
	sp := specs[r.Kind]
	d := docData{R: r, LOINC: sp.loinc, Display: sp.display, Title: sp.title, TemplateRoot: sp.template,
		DocRoot:   DocumentRoot(r.Region),
		OrderRoot: OIDRegionPrefix + r.Region + arcOrder,
		EncRoot:   OIDRegionPrefix + r.Region + arcEncounter,
		Time:      ts(r.Time), Start: ts(r.Start),
		Azienda:     r.Organization.ID,
		Participant: r.Requester.CF != "",
	}
	// The schematrons compare effectiveTime high and low as text, and the
	// teleconsult and teleassistance ones want high strictly after low: an
	// encounter without a later end has no high.
	if !r.End.IsZero() && ts(r.End) > d.Start {
		d.End = ts(r.End)
	}
	if len(d.Azienda) > 6 {
		d.Azienda = d.Azienda[:6] // region (3) + azienda (3): the FLS11 code
	}
	if !r.Patient.BirthDate.IsZero() {
		d.Birth = r.Patient.BirthDate.Format("20060102")
	}
	d.BirthComune = r.Patient.BirthPlace
	id, _ := ident.Parse(r.Patient.CF) // Validate has parsed it
	d.PatientRoot = id.Kind.OID()
	// The codice fiscale's place code (characters 12-15) is a foreign
	// country's when it starts with Z; otherwise the patient was born in
	// Italy (ISTAT country code 100). A foreigner's STP or ENI code says
	// nothing of it.
	if id.Kind == ident.CF && id.Value[11] != 'Z' {
		d.BirthCountry = "100"
	}

	quesito := strings.TrimSpace(r.Quesito)
	if quesito != "" || sp.quesito {
		text := paragraphs(r.Quesito)
		if quesito == "" {
			text = "<paragraph>Quesito diagnostico non indicato.</paragraph>"
		}
		d.Sections = append(d.Sections, section{Template: tplQuesito, Code: secQuesito, Display: "Quesito diagnostico",
			Title: "Quesito diagnostico", Text: text})
	}
	d.Sections = append(d.Sections, prestazioniSection(r, sp), section{Template: tplReferto, Code: secReferto,
		Display: "Referto", Title: sp.findings, Text: paragraphs(r.Findings)})
	return d
}

// prestazioniSection lists the services performed, each an act with its
// branca and disciplina, and the attachment (observationMedia) the
// televisit and teleassistance schematrons require.
func prestazioniSection(r Report, sp spec) section {
	s := section{Template: tplPrestazioni, Code: secPrestazioni, Display: "Prestazioni", Title: "Prestazioni"}
	prest := r.Prestazioni
	if len(prest) == 0 {
		prest = []Prestazione{{Display: sp.service}}
	}
	var text strings.Builder
	text.WriteString("<list>")
	for _, p := range prest {
		text.WriteString("<item>")
		if p.Code != "" {
			text.WriteString(x(p.Code))
			if p.Display != "" {
				text.WriteString(" - ")
			}
		}
		text.WriteString(x(p.Display))
		text.WriteString("</item>")
		s.Entries = append(s.Entries, prestazioneEntry(p, ts(r.Start)))
	}
	text.WriteString("</list>")
	if len(r.Sessions) > 0 {
		text.WriteString("<paragraph>Sessioni:</paragraph><list>")
		for _, l := range r.Sessions {
			text.WriteString("<item>" + x(oneLine(l)) + "</item>")
		}
		text.WriteString("</list>")
	}
	att := r.Attachment
	if att == nil && sp.media {
		att = &Attachment{MediaType: "text/plain", Data: []byte(sessionRecord(r, prest))}
	}
	if att != nil {
		what := "allegato (" + att.MediaType + ")"
		if r.Attachment == nil {
			what = "registro della sessione (testo)"
		}
		text.WriteString("<paragraph>Allegato: " + x(what) + ".</paragraph>")
		s.Entries = append(s.Entries, `<entry>
						<observationMedia classCode="OBS" moodCode="EVN">
							<value mediaType="`+x(att.MediaType)+`" representation="B64">`+base64.StdEncoding.EncodeToString(att.Data)+`</value>
						</observationMedia>
					</entry>`)
	}
	s.Text = text.String()
	return s
}

func prestazioneEntry(p Prestazione, at string) string {
	var b strings.Builder
	b.WriteString(`<entry>
						<act classCode="ACT" moodCode="EVN">
`)
	if p.Code != "" {
		fmt.Fprintf(&b, "\t\t\t\t\t\t\t<code code=\"%s\" codeSystem=\"%s\" codeSystemName=\"Catalogo nazionale prestazioni\" displayName=\"%s\"/>\n",
			x(p.Code), OIDPrestazioni, x(p.Display))
	}
	if p.Display != "" {
		fmt.Fprintf(&b, "\t\t\t\t\t\t\t<text>%s</text>\n", x(p.Display))
	}
	fmt.Fprintf(&b, "\t\t\t\t\t\t\t<statusCode code=\"completed\"/>\n\t\t\t\t\t\t\t<effectiveTime value=\"%s\"/>\n", at)
	for _, o := range []struct{ tpl, what, code string }{{tplBranca, "Branca specialistica", p.Branca}, {tplDisciplina, "Disciplina", p.Disciplina}} {
		value := `<value xsi:type="CD" nullFlavor="UNK"/>`
		if o.code != "" {
			value = `<value xsi:type="CD" code="` + x(o.code) + `" codeSystemName="` + o.what + `"/>`
		}
		fmt.Fprintf(&b, `							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="%s"/>
									<code nullFlavor="NI"><originalText>%s</originalText></code>
									%s
								</observation>
							</entryRelationship>
`, o.tpl, o.what, value)
	}
	b.WriteString(`						</act>
					</entry>`)
	return b.String()
}

// sessionRecord is the plain-text record of the encounter a report
// carries when it has no attachment of its own.
func sessionRecord(r Report, prest []Prestazione) string {
	sp := specs[r.Kind]
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", sp.title, DocumentRoot(r.Region)+"^"+r.ID)
	fmt.Fprintf(&b, "Inizio: %s\n", r.Start.In(rome).Format("02/01/2006 15:04"))
	if !r.End.IsZero() {
		fmt.Fprintf(&b, "Fine: %s\n", r.End.In(rome).Format("02/01/2006 15:04"))
	}
	for _, p := range prest {
		fmt.Fprintf(&b, "Prestazione: %s\n", strings.TrimSpace(p.Code+" "+p.Display))
	}
	for _, s := range r.Sessions {
		fmt.Fprintf(&b, "Sessione: %s\n", oneLine(s))
	}
	return b.String()
}

// ts is an HL7 timestamp in UTC.
func ts(t time.Time) string { return t.UTC().Format("20060102150405") + "+0000" }

// x escapes text for XML (carriage returns become newlines).
func x(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// paragraphs is text as narrative paragraphs, one a line.
func paragraphs(s string) string {
	var b strings.Builder
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.TrimSpace(l) == "" {
			continue
		}
		b.WriteString("<paragraph>" + x(l) + "</paragraph>")
	}
	return b.String()
}

// nameXML is a person's name; a part not known says so (nullFlavor NI).
func nameXML(family, given string) string {
	part := func(tag, v string) string {
		if strings.TrimSpace(v) == "" {
			return "<" + tag + ` nullFlavor="NI"/>`
		}
		return "<" + tag + ">" + x(strings.TrimSpace(v)) + "</" + tag + ">"
	}
	return "<name>" + part("family", family) + part("given", given) + "</name>"
}

var cdaTemplate = template.Must(template.New("cda").Funcs(template.FuncMap{"x": x, "name": nameXML}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="{{.TemplateRoot}}" extension="1.0"/>
	<id root="{{.DocRoot}}" extension="{{x .R.ID}}"/>
	<code code="{{.LOINC}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.Display}}"/>
	<title>{{.Title}}</title>
	<effectiveTime value="{{.Time}}"/>
	<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
	<languageCode code="it-IT"/>
	<setId root="{{.DocRoot}}" extension="{{x .R.ID}}"/>
	<versionNumber value="1"/>
	<recordTarget>
		<patientRole>
			<id root="{{.PatientRoot}}" extension="{{.R.Patient.CF}}"/>
			<patient>
				{{name .R.Patient.Family .R.Patient.Given}}
				<administrativeGenderCode code="{{.R.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1"/>
				{{if .Birth}}<birthTime value="{{.Birth}}"/>{{else}}<birthTime nullFlavor="UNK"/>{{end}}
				<birthplace>
					<place>
						<addr>{{if .BirthComune}}<censusTract>{{.BirthComune}}</censusTract>{{end}}{{if .BirthCountry}}<country>{{.BirthCountry}}</country>{{else}}<country nullFlavor="UNK"/>{{end}}</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.Time}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{.R.Author.CF}}"/>
			<assignedPerson>{{name .R.Author.Family .R.Author.Given}}</assignedPerson>
		</assignedAuthor>
	</author>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .R.Organization.ID}}"/>
				<name>{{x .R.Organization.Name}}</name>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.Time}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{.R.Author.CF}}"/>
			<assignedPerson>{{name .R.Author.Family .R.Author.Given}}</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
{{- if .Participant}}
	<participant typeCode="REF">
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{.R.Requester.CF}}"/>
			<associatedPerson>{{name .R.Requester.Family .R.Requester.Given}}</associatedPerson>
			{{with .R.RequesterOrganization}}{{if .ID}}<scopingOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .ID}}"/>
				<name>{{x .Name}}</name>
			</scopingOrganization>{{else}}<scopingOrganization nullFlavor="UNK"/>{{end}}{{end}}
		</associatedEntity>
	</participant>
{{- end}}
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="{{.OrderRoot}}" extension="{{x .R.Order}}"/>
		</order>
	</inFulfillmentOf>
	<documentationOf>
		<serviceEvent classCode="PROC" moodCode="EVN">
			<code code="PROG" codeSystem="2.16.840.1.113883.2.9.5.1.4"/>
			<effectiveTime><low value="{{.Start}}"/>{{if .End}}<high value="{{.End}}"/>{{end}}</effectiveTime>
		</serviceEvent>
	</documentationOf>
	<componentOf>
		<encompassingEncounter>
			{{if .R.Encounter}}<id root="{{.EncRoot}}" extension="{{x .R.Encounter}}"/>{{end}}
			<effectiveTime><low value="{{.Start}}"/>{{if .End}}<high value="{{.End}}"/>{{end}}</effectiveTime>
			<location>
				<healthCareFacility>
					<serviceProviderOrganization classCode="ORG">
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .R.Organization.ID}}"/>
						<name>{{x .R.Organization.Name}}</name>
						<asOrganizationPartOf>
							<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .Azienda}}"/>
						</asOrganizationPartOf>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
{{- range .Sections}}
			<component>
				<section>
					<templateId root="{{.Template}}"/>
					<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.Display}}"/>
					<title>{{.Title}}</title>
					<text>{{.Text}}</text>
{{- range .Entries}}
					{{.}}
{{- end}}
				</section>
			</component>
{{- end}}
		</structuredBody>
	</component>
</ClinicalDocument>
`))
