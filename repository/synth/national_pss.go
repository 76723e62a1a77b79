package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// The Profilo Sanitario Sintetico (patient summary, LOINC 60591-5), as
// HL7 Italia's guide and the national schematron (schematron_PSS_v4.0)
// shape it: the seventeen sections the schematron knows, each with the
// entries its rules judge. What the summary says follows the patient's
// age: a child has no known allergies and no ongoing therapy, a pediatra
// di libera scelta as author and a guardian; an adult has allergies,
// therapies, a hip prosthesis and an exemption for hypertension; a woman
// has her pregnancies; an elderly patient is in assistenza domiciliare
// integrata.

func init() { registerNational("PSS", buildPSS) }

// This file also holds what the national builders share.

// nationalRome is the fixed offset the synthetic documents' times carry.
var nationalRome = time.FixedZone("", 3600)

// nationalTS formats a time as an HL7 TS with its offset.
func nationalTS(t time.Time) string { return t.In(nationalRome).Format("20060102150405-0700") }

// nationalPlace is a city: its name, province, ISTAT code and postcode.
type nationalPlace struct{ City, Province, ISTAT, CAP string }

// nationalSeats are the regional capitals by the region's code, where a
// synthetic patient lives and a synthetic organisation is.
var nationalSeats = map[string]nationalPlace{
	"010": {"Torino", "TO", "001272", "10121"},
	"030": {"Milano", "MI", "015146", "20121"},
	"050": {"Venezia", "VE", "027042", "30121"},
	"080": {"Bologna", "BO", "037006", "40121"},
	"090": {"Firenze", "FI", "048017", "50121"},
	"120": {"Roma", "RM", "058091", "00184"},
	"150": {"Napoli", "NA", "063049", "80121"},
	"160": {"Bari", "BA", "072006", "70121"},
	"190": {"Palermo", "PA", "082053", "90121"},
}

// nationalBirthplaces are the places the synthetic codici fiscali name
// (see places in synth.go), by cadastral code.
var nationalBirthplaces = map[string]nationalPlace{
	"H501": {"Roma", "RM", "058091", "00184"},
	"F205": {"Milano", "MI", "015146", "20121"},
	"F839": {"Napoli", "NA", "063049", "80121"},
	"A662": {"Bari", "BA", "072006", "70121"},
	"L219": {"Torino", "TO", "001272", "10121"},
}

// nationalPerson is a clinician or relative a document names.
type nationalPerson struct{ CF, Family, Given string }

// nationalHeader is what the national builders' headers share: the
// document's ids and version, its time, the patient, where they live and
// were born, the author and the organisation. Its methods give the dates
// of the events a document tells, relative to its time.
type nationalHeader struct {
	Root, Ext, SetExt     string // the region's document id root; id and setId extensions
	Version               int
	ParentRoot, ParentExt string // the document a version > 1 replaces
	TS                    string // the document's time
	Conf, Region, Org     string
	P                     Patient
	Birth                 string
	Female                bool
	Home, Native          nationalPlace
	Author                nationalPerson

	docID    string
	at, born time.Time
}

// newNationalHeader fills the header of d: a replacement is at least
// version 2, and a version > 1 without Replaces replaces the previous
// version of the same local id.
func newNationalHeader(d Document) nationalHeader {
	h := nationalHeader{
		Root: "2.16.840.1.113883.2.9.2." + d.Region + ".4.4", Ext: d.LocalID, SetExt: d.LocalID,
		Version: max(d.Version, 1), TS: nationalTS(d.Time), Conf: d.Confidentiality, Region: d.Region, Org: d.Org,
		P: d.Patient, Female: d.Patient.Gender == "F", docID: d.ID(), at: d.Time, born: d.Patient.BirthDate,
		Author: nationalPerson{CF: d.AuthorCF, Family: "Sintetico", Given: "Medico"},
	}
	if h.born.IsZero() || h.born.After(h.at) {
		h.born = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	h.Birth = h.born.Format("20060102")
	if d.Replaces != "" && h.Version < 2 {
		h.Version = 2
	}
	replaces := d.Replaces
	if h.Version > 1 && replaces == "" {
		replaces = h.Root + "^" + d.LocalID + ".v" + strconv.Itoa(h.Version-1)
	}
	if replaces != "" {
		h.ParentRoot, h.ParentExt, _ = strings.Cut(replaces, "^")
		h.SetExt = h.ParentExt
	}
	h.Home = nationalPlace{"Roma", "RM", "058091", "00184"}
	if p, ok := nationalSeats[d.Region]; ok {
		h.Home = p
	}
	h.Native = h.Home
	if len(d.Patient.CF) == 16 {
		if p, ok := nationalBirthplaces[d.Patient.CF[11:15]]; ok {
			h.Native = p
		}
	}
	return h
}

// UUID is a stable id of one of the document's acts.
func (h nationalHeader) UUID(s string) string { return uuidOf(h.docID + "#" + s) }

// when is the document's time moved by years, months and days, never
// before the patient's birth.
func (h nationalHeader) when(y, m, d int) time.Time {
	t := h.at.AddDate(y, m, d)
	if t.Before(h.born) {
		t = h.born.Add(12 * time.Hour)
	}
	return t
}

// At is a time relative to the document's, as an HL7 TS.
func (h nationalHeader) At(y, m, d int) string { return nationalTS(h.when(y, m, d)) }

// Show is a date relative to the document's, as Italians write it.
func (h nationalHeader) Show(y, m, d int) string {
	return h.when(y, m, d).In(nationalRome).Format("02/01/2006")
}

// Aged is a time relative to the patient's birth (at noon), as an HL7 TS.
func (h nationalHeader) Aged(y, m, d int) string {
	return nationalTS(h.born.AddDate(y, m, d).Add(12 * time.Hour))
}

// AgedShow is a date relative to the patient's birth, as Italians write it.
func (h nationalHeader) AgedShow(y, m, d int) string {
	return h.born.AddDate(y, m, d).Format("02/01/2006")
}

// Age is the patient's age in years at the document's time.
func (h nationalHeader) Age() int {
	y := h.at.Year() - h.born.Year()
	if h.at.YearDay() < h.born.YearDay() {
		y--
	}
	return y
}

// GenderName is the patient's gender as the documents display it.
func (h nationalHeader) GenderName() string {
	if h.Female {
		return "Femmina"
	}
	return "Maschio"
}

// rand is a generator seeded by the document's id and a salt: the same
// document always gets the same values.
func (h nationalHeader) rand(salt uint64) *rand.Rand {
	f := fnv.New64a()
	f.Write([]byte(h.docID))
	return rand.New(rand.NewPCG(f.Sum64(), salt))
}

// staff is the n-th clinician or relative a document names, with a
// well-formed codice fiscale of their own.
func (h nationalHeader) staff(n uint64, family, given, gender string, born int) nationalPerson {
	p := Patient{Family: family, Given: given, Gender: gender, BirthDate: time.Date(born, time.Month(1+n%12), 1+int(n%28), 0, 0, 0, 0, time.UTC)}
	return nationalPerson{CF: codiceFiscale(p, places[n%uint64(len(places))], h.rand(100+n)), Family: family, Given: given}
}

// nationalRender executes a builder's template; a failure is a bug in it.
func nationalRender(t *template.Template, data any) []byte {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("synth: %s template: %v", t.Name(), err))
	}
	return b.Bytes()
}

// nationalFuncs are the functions the builders' templates call.
var nationalFuncs = template.FuncMap{"x": xmlText}

// pssVital is one measurement of the vital signs section.
type pssVital struct {
	Ref, Code, Name, Value, Unit, Shown string
}

// pssLab is one result of the diagnostic tests section.
type pssLab struct {
	Ref, Code, Name, Value, Unit, Interp, InterpName, Low, High, RangeText string
}

type pssData struct {
	nationalHeader
	Child, Elderly                    bool
	Guardian, Relative, Enterer       nationalPerson
	Colleague, Specialist, Cardiology nationalPerson
	RelativeCode, RelativeName        string
	Organizer                         []pssVital
	Weight, Height                    pssVital
	Blood                             []pssLab
	Chemistry                         []pssLab
}

func buildPSS(d Document) []byte {
	h := newNationalHeader(d)
	age := h.Age()
	p := pssData{nationalHeader: h, Child: age < 18, Elderly: age >= 70}
	p.Enterer = h.staff(1, "Esempio", "Paola", "F", 1985)
	p.Colleague = h.staff(2, "Fittizio", "Marco", "M", 1970)
	p.Specialist = h.staff(3, "Campione", "Sara", "F", 1975)
	p.Cardiology = h.staff(4, "Collaudo", "Andrea", "M", 1968)
	if p.Child {
		p.Guardian = h.staff(5, d.Patient.Family, "Giovanna", "F", h.born.Year()-32)
		p.Relative, p.RelativeCode, p.RelativeName = p.Guardian, "MTH", "Madre"
	} else {
		p.Relative, p.RelativeCode, p.RelativeName = h.staff(6, d.Patient.Family, "Giulia", "F", h.born.Year()-3), "SIS", "Sorella"
	}

	// Vital signs and blood tests vary with the document, as a clinic's do.
	rng := h.rand(1)
	num := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
	dec := func(lo, hi int) string { v := num(lo, hi); return fmt.Sprintf("%d.%d", v/10, v%10) }
	sys, dia, hr := num(112, 138), num(68, 86), num(62, 84)
	height, weight := num(160, 186), num(58, 88)
	if p.Child {
		sys, dia, hr = num(92, 108), num(55, 68), num(85, 110)
		height = 75 + 6*age + num(0, 6)
		weight = 8 + 2*age + num(0, 3)
	}
	vital := func(ref, code, name, unit, shown string, v int) pssVital {
		return pssVital{Ref: ref, Code: code, Name: name, Value: strconv.Itoa(v), Unit: unit, Shown: shown}
	}
	p.Organizer = []pssVital{
		vital("pv-sis", "8480-6", "Pressione arteriosa sistolica", "mm[Hg]", "mmHg", sys),
		vital("pv-dia", "8462-4", "Pressione arteriosa diastolica", "mm[Hg]", "mmHg", dia),
		vital("pv-fc", "8867-4", "Frequenza cardiaca", "/min", "battiti/min", hr),
	}
	p.Height = vital("pv-alt", "8302-2", "Altezza", "cm", "cm", height)
	p.Weight = vital("pv-peso", "29463-7", "Peso corporeo", "kg", "kg", weight)

	lab := func(ref, code, name, value, unit, low, high string) pssLab {
		l := pssLab{Ref: ref, Code: code, Name: name, Value: value, Unit: unit, Low: low, High: high, Interp: "N", InterpName: "Normale"}
		v, _ := strconv.ParseFloat(value, 64)
		lo, _ := strconv.ParseFloat(low, 64)
		hi, _ := strconv.ParseFloat(high, 64)
		switch {
		case v < lo:
			l.Interp, l.InterpName = "L", "Basso"
		case v > hi:
			l.Interp, l.InterpName = "H", "Alto"
		}
		return l
	}
	hbLow, hbHigh := "13.5", "17.5"
	if h.Female {
		hbLow, hbHigh = "12.0", "16.0"
	}
	if p.Child {
		hbLow, hbHigh = "11.0", "14.5"
	}
	hb := dec(118, 162)
	if p.Child {
		hb = dec(112, 140)
	}
	p.Blood = []pssLab{
		lab("lab-hb", "718-7", "Emoglobina", hb, "g/dL", hbLow, hbHigh),
		lab("lab-gb", "6690-2", "Leucociti", dec(42, 98), "10*3/uL", "4.0", "10.0"),
		lab("lab-plt", "777-3", "Piastrine", strconv.Itoa(num(170, 380)), "10*3/uL", "150", "400"),
	}
	glucose := lab("lab-glu", "2345-7", "Glucosio", strconv.Itoa(num(74, 108)), "mg/dL", "70", "100")
	glucose.RangeText = "70 - 100 mg/dL (a digiuno)"
	creatinine := lab("lab-crea", "2160-0", "Creatinina", "0."+strconv.Itoa(num(6, 9)), "mg/dL", "0.5", "1.2")
	if p.Child {
		creatinine = lab("lab-crea", "2160-0", "Creatinina", "0."+strconv.Itoa(num(3, 5)), "mg/dL", "0.2", "0.6")
	}
	p.Chemistry = []pssLab{glucose, creatinine}
	return nationalRender(pssTemplate, p)
}

var pssTemplate = template.Must(template.New("PSS").Funcs(nationalFuncs).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.4.1.1" extension="1.5"/>
	<id root="{{x .Root}}" extension="{{x .Ext}}" assigningAuthorityName="Documento sintetico"/>
	<code code="60591-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Profilo Sanitario Sintetico"/>
	<title>Profilo Sanitario Sintetico (documento sintetico di prova)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .Conf}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="{{x .Root}}" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.Version}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .P.CF}}" assigningAuthorityName="MEF"/>
			<addr use="H">
				<country>100</country>
				<county>{{.Home.Province}}</county>
				<city>{{.Home.City}}</city>
				<censusTract>{{.Home.ISTAT}}</censusTract>
				<postalCode>{{.Home.CAP}}</postalCode>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="MC" value="tel:+393330000000"/>
			<patient>
				<name>
					<family>{{x .P.Family}}</family>
					<given>{{x .P.Given}}</given>
				</name>
				<administrativeGenderCode code="{{x .P.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender" displayName="{{.GenderName}}"/>
				<birthTime value="{{.Birth}}"/>
{{- if .Child}}
				<guardian classCode="GUARD">
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Guardian.CF}}" assigningAuthorityName="MEF"/>
					<code code="MTH" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="Madre"/>
					<telecom use="MC" value="tel:+393330000001"/>
					<guardianPerson>
						<name>
							<family>{{x .Guardian.Family}}</family>
							<given>{{x .Guardian.Given}}</given>
						</name>
					</guardianPerson>
				</guardian>
{{- end}}
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<county>{{.Native.Province}}</county>
							<city>{{.Native.City}}</city>
							<censusTract>{{.Native.ISTAT}}</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
{{- if .Child}}
			<code code="PLS" codeSystem="2.16.840.1.113883.2.9.77.22.11.13" codeSystemName="assignedAuthorCode_PSSIT" displayName="Pediatra di Libera Scelta"/>
{{- else}}
			<code code="MMG" codeSystem="2.16.840.1.113883.2.9.77.22.11.13" codeSystemName="assignedAuthorCode_PSSIT" displayName="Medico di Medicina Generale"/>
{{- end}}
			<addr use="WP">
				<country>100</country>
				<city>{{.Home.City}}</city>
				<postalCode>{{.Home.CAP}}</postalCode>
				<streetAddressLine>Piazza dell'Esempio 2</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390200000010"/>
			<telecom use="WP" value="mailto:ambulatorio.sintetico@example.org"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Author.Given}}</given>
					<family>{{x .Author.Family}}</family>
				</name>
			</assignedPerson>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.TS}}"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Enterer.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="tel:+390200000011"/>
			<assignedPerson>
				<name>
					<given>{{x .Enterer.Given}}</given>
					<family>{{x .Enterer.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</dataEnterer>
	<informant>
		<relatedEntity classCode="PRS">
			<code code="{{.RelativeCode}}" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="{{.RelativeName}}"/>
			<relatedPerson>
				<name>
					<given>{{x .Relative.Given}}</given>
					<family>{{x .Relative.Family}}</family>
				</name>
			</relatedPerson>
		</relatedEntity>
	</informant>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .Org}}</name>
				<telecom use="WP" value="tel:+390200000020"/>
				<addr use="WP">
					<country>100</country>
					<city>{{.Home.City}}</city>
					<postalCode>{{.Home.CAP}}</postalCode>
					<streetAddressLine>Viale del Collaudo 10</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Author.Given}}</given>
					<family>{{x .Author.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<authenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Colleague.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="tel:+390200000012"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Colleague.Given}}</given>
					<family>{{x .Colleague.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</authenticator>
	<participant typeCode="IND">
		<associatedEntity classCode="NOK">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Relative.CF}}" assigningAuthorityName="MEF"/>
			<code code="{{.RelativeCode}}" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="{{.RelativeName}}"/>
			<addr use="H">
				<country>100</country>
				<city>{{.Home.City}}</city>
				<postalCode>{{.Home.CAP}}</postalCode>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="MC" value="tel:+393330000002"/>
			<associatedPerson>
				<name>
					<given>{{x .Relative.Given}}</given>
					<family>{{x .Relative.Family}}</family>
				</name>
			</associatedPerson>
		</associatedEntity>
	</participant>
	<documentationOf>
		<serviceEvent classCode="PCPR">
			<effectiveTime>
				<low value="{{.At -1 0 0}}"/>
				<high value="{{.TS}}"/>
			</effectiveTime>
		</serviceEvent>
	</documentationOf>
{{- if gt .Version 1}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<component>
		<structuredBody>
{{template "allergie" .}}
{{template "terapie" .}}
{{template "vaccinazioni" .}}
{{template "problemi" .}}
{{template "anamnesi" .}}
{{template "stile" .}}
{{- if and .Female (not .Child)}}
{{template "gravidanze" .}}
{{- end}}
{{template "parametri" .}}
{{template "protesi" .}}
{{template "piani" .}}
{{template "procedure" .}}
{{template "visite" .}}
{{template "funzionale" .}}
{{template "indagini" .}}
{{template "donazione" .}}
{{template "esenzioni" .}}
{{template "reti" .}}
		</structuredBody>
	</component>
</ClinicalDocument>
{{define "comment"}}
									<act classCode="ACT" moodCode="EVN">
										<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.7"/>
										<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
										<text><reference value="#{{.}}"/></text>
										<statusCode code="completed"/>
									</act>
{{- end}}
{{define "allergie"}}
			<component>
				<section ID="ALLERGIE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.1"/>
					<id root="{{.UUID "sez-allergie"}}"/>
					<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie, reazioni avverse, allarmi"/>
					<title>Allergie e Intolleranze</title>
{{- if .Child}}
					<text>
						<paragraph ID="all-assenza">Nessuna allergia o intolleranza nota (riferito dai genitori).</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.1"/>
							<id root="{{.UUID "all1"}}"/>
							<code nullFlavor="NA"/>
							<statusCode code="active"/>
							<effectiveTime>
								<low value="{{.Aged 0 0 1}}"/>
							</effectiveTime>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.4"/>
									<id root="{{.UUID "all1-oss"}}"/>
									<code code="OINT" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Intolleranza"/>
									<text><reference value="#all-assenza"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low nullFlavor="UNK"/>
									</effectiveTime>
									<value xsi:type="CD" code="no-known-allergies" codeSystem="2.16.840.1.113883.11.22.9" codeSystemName="IPS Absent or Unknown Allergies" displayName="Nessuna allergia nota"/>
								</observation>
							</entryRelationship>
						</act>
					</entry>
{{- else}}
					<text>
						<table>
							<thead>
								<tr><th>Agente</th><th>Tipo</th><th>Reazioni</th><th>Criticità</th><th>Stato</th><th>Note</th></tr>
							</thead>
							<tbody>
								<tr ID="all1">
									<td ID="all1-agente">Amoxicillina</td>
									<td ID="all1-tipo">Allergia a farmaco</td>
									<td><content ID="all1-reaz1">Orticaria diffusa</content>, <content ID="all1-reaz2">edema delle palpebre</content> ({{.Show -6 0 0}})</td>
									<td ID="all1-crit">Alta</td>
									<td ID="all1-stato">Attiva</td>
									<td ID="all1-note">Evitare tutte le penicilline; preferire macrolidi.</td>
								</tr>
								<tr ID="all2">
									<td ID="all2-agente">Latte vaccino e derivati</td>
									<td ID="all2-tipo">Intolleranza alimentare (lattosio)</td>
									<td><content ID="all2-reaz1">Dolori addominali e meteorismo dopo i pasti</content></td>
									<td>Bassa</td>
									<td ID="all2-stato">Risolta dal {{.Show -2 0 0}}</td>
									<td ID="all2-note">Reintrodotti i latticini senza disturbi.</td>
								</tr>
							</tbody>
						</table>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.1"/>
							<id root="{{.UUID "all1"}}"/>
							<code nullFlavor="NA"/>
							<statusCode code="active"/>
							<effectiveTime>
								<low value="{{.At -6 0 0}}"/>
							</effectiveTime>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.3"/>
									<id root="{{.UUID "all1-oss"}}"/>
									<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
									<text><reference value="#all1"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.At -6 0 0}}"/>
									</effectiveTime>
									<value xsi:type="CD" code="DALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia a farmaco">
										<originalText><reference value="#all1-tipo"/></originalText>
									</value>
									<participant typeCode="CSM">
										<participantRole classCode="MANU">
											<playingEntity classCode="MMAT">
												<code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Amoxicillina">
													<originalText><reference value="#all1-agente"/></originalText>
												</code>
											</playingEntity>
										</participantRole>
									</participant>
									<entryRelationship typeCode="MFST" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.5.1"/>
											<id root="{{.UUID "all1-reaz1"}}"/>
											<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
											<text><reference value="#all1-reaz1"/></text>
											<statusCode code="completed"/>
											<effectiveTime>
												<low value="{{.At -6 0 0}}"/>
												<high value="{{.At -6 0 4}}"/>
											</effectiveTime>
											<value xsi:type="CD" code="708.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Orticaria, non specificata">
												<originalText><reference value="#all1-reaz1"/></originalText>
											</value>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="MFST" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.5.2"/>
											<id root="{{.UUID "all1-reaz2"}}"/>
											<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
											<text><reference value="#all1-reaz2"/></text>
											<statusCode code="completed"/>
											<effectiveTime>
												<low value="{{.At -6 0 0}}"/>
											</effectiveTime>
											<value xsi:type="CD">
												<originalText><reference value="#all1-reaz2"/></originalText>
											</value>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.5.3"/>
											<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Criticità"/>
											<text><reference value="#all1-crit"/></text>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="H" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="ObservationValue" displayName="Alta"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.6"/>
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
											<text><reference value="#all1-stato"/></text>
											<statusCode code="completed"/>
											<value xsi:type="CE" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attiva"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">{{template "comment" "all1-note"}}
									</entryRelationship>
								</observation>
							</entryRelationship>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.1"/>
							<id root="{{.UUID "all2"}}"/>
							<code nullFlavor="NA"/>
							<statusCode code="completed"/>
							<effectiveTime>
								<low value="{{.At -5 0 0}}"/>
								<high value="{{.At -2 0 0}}"/>
							</effectiveTime>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.3"/>
									<id root="{{.UUID "all2-oss"}}"/>
									<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
									<text><reference value="#all2"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.At -5 0 0}}"/>
										<high value="{{.At -2 0 0}}"/>
									</effectiveTime>
									<value xsi:type="CD">
										<originalText><reference value="#all2-tipo"/></originalText>
									</value>
									<participant typeCode="CSM">
										<participantRole classCode="MANU">
											<playingEntity classCode="MMAT">
												<code nullFlavor="NI">
													<originalText><reference value="#all2-agente"/></originalText>
												</code>
											</playingEntity>
										</participantRole>
									</participant>
									<entryRelationship typeCode="MFST" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.5.2"/>
											<id root="{{.UUID "all2-reaz1"}}"/>
											<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
											<text><reference value="#all2-reaz1"/></text>
											<statusCode code="completed"/>
											<effectiveTime>
												<low nullFlavor="UNK"/>
											</effectiveTime>
											<value xsi:type="CD">
												<originalText><reference value="#all2-reaz1"/></originalText>
											</value>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.6"/>
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
											<text><reference value="#all2-stato"/></text>
											<statusCode code="completed"/>
											<value xsi:type="CE" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattiva"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">{{template "comment" "all2-note"}}
									</entryRelationship>
								</observation>
							</entryRelationship>
						</act>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{define "terapie"}}
			<component>
				<section ID="TERAPIE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.2"/>
					<id root="{{.UUID "sez-terapie"}}"/>
					<code code="10160-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di uso di farmaci"/>
					<title>Terapie farmacologiche</title>
{{- if .Child}}
					<text>
						<paragraph ID="ter-assenza">Nessuna terapia farmacologica in corso.</paragraph>
					</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.3"/>
							<id root="{{.UUID "ter1"}}"/>
							<code code="no-known-medications" codeSystem="2.16.840.1.113883.11.22.15" codeSystemName="IPS Absent or Unknown Medication" displayName="Nessuna terapia farmacologica nota"/>
							<text><reference value="#ter-assenza"/></text>
							<statusCode code="completed"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial>
										<code nullFlavor="NA"/>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
						</substanceAdministration>
					</entry>
{{- else}}
					<text>
						<table>
							<thead>
								<tr><th>Farmaco</th><th>Posologia</th><th>Via</th><th>Periodo</th><th>Stato</th></tr>
							</thead>
							<tbody>
								<tr ID="ter1">
									<td ID="ter1-farmaco">Verapamil 80 mg compresse rivestite (ISOPTIN)</td>
									<td>1 compressa ogni 12 ore</td>
									<td>Orale</td>
									<td>Dal {{.Show -4 0 0}}</td>
									<td>In corso</td>
								</tr>
								<tr ID="ter2">
									<td ID="ter2-farmaco">Pantoprazolo 20 mg compresse gastroresistenti</td>
									<td>1 compressa al mattino, a digiuno</td>
									<td>Orale</td>
									<td>Dal {{.Show -1 -6 0}} al {{.Show -1 -4 0}}</td>
									<td>Conclusa</td>
								</tr>
							</tbody>
						</table>
					</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.1"/>
							<id root="{{.UUID "ter1"}}"/>
							<text><reference value="#ter1"/></text>
							<statusCode code="active"/>
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.At -4 0 0}}"/>
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="12" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Orale"/>
							<doseQuantity value="1"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.2"/>
									<manufacturedMaterial>
										<templateId root="2.16.840.1.113883.10.22.4.3"/>
										<code code="020609083" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="ISOPTIN*30 cpr riv 80 mg">
											<originalText><reference value="#ter1-farmaco"/></originalText>
											<translation code="C08DA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Verapamil"/>
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
						</substanceAdministration>
					</entry>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.1"/>
							<id root="{{.UUID "ter2"}}"/>
							<text><reference value="#ter2"/></text>
							<statusCode code="completed"/>
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.At -1 -6 0}}"/>
								<high value="{{.At -1 -4 0}}"/>
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="24" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Orale"/>
							<doseQuantity value="1"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.2"/>
									<manufacturedMaterial>
										<templateId root="2.16.840.1.113883.10.22.4.3"/>
										<code code="A02BC02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Pantoprazolo">
											<originalText><reference value="#ter2-farmaco"/></originalText>
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
						</substanceAdministration>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{define "vaccinazioni"}}
			<component>
				<section ID="VACCINAZIONI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.3"/>
					<id root="{{.UUID "sez-vaccinazioni"}}"/>
					<code code="11369-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di immunizzazioni"/>
					<title>Vaccinazioni</title>
					<text>
						<table>
							<thead>
								<tr><th>Vaccino</th><th>Data</th><th>Dose</th><th>Lotto</th><th>Copertura fino al</th><th>Reazioni</th><th>Note</th></tr>
							</thead>
							<tbody>
{{- if .Child}}
								<tr ID="vac1">
									<td ID="vac1-vaccino">Morbillo, parotite, rosolia e varicella (MPRV)</td>
									<td>{{.AgedShow 1 1 0}}</td>
									<td>1</td>
									<td>SINT-MPRV-01</td>
									<td>{{.AgedShow 6 0 0}}</td>
									<td ID="vac1-reazione">Febbre (38,5 °C) in ottava giornata, risolta in due giorni</td>
									<td ID="vac1-nota">Seconda dose prevista a 6 anni.</td>
								</tr>
								<tr ID="vac2">
									<td ID="vac2-vaccino">Esavalente (difterite, tetano, pertosse, polio, Hib, epatite B)</td>
									<td>{{.AgedShow 0 11 0}}</td>
									<td>3</td>
									<td>SINT-ESA-03</td>
									<td></td>
									<td>Nessuna</td>
									<td></td>
								</tr>
{{- else}}
								<tr ID="vac1">
									<td ID="vac1-vaccino">Antinfluenzale stagionale</td>
									<td>{{.Show 0 -1 0}}</td>
									<td>1</td>
									<td>SINT-FLU-01</td>
									<td>{{.Show 0 5 0}}</td>
									<td ID="vac1-reazione">Febbre (38 °C) il giorno successivo, risolta in 24 ore</td>
									<td ID="vac1-nota">Vaccinazione raccomandata ogni anno.</td>
								</tr>
								<tr ID="vac2">
									<td ID="vac2-vaccino">Difterite, tetano, pertosse (dTpa), richiamo</td>
									<td>{{.Show -3 0 0}}</td>
									<td>1</td>
									<td>SINT-DTPA-01</td>
									<td></td>
									<td>Nessuna</td>
									<td></td>
								</tr>
{{- end}}
							</tbody>
						</table>
					</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.1"/>
							<id root="{{.UUID "vac1"}}"/>
							<code code="IMMUNIZ" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Vaccinazione"/>
							<text><reference value="#vac1"/></text>
							<statusCode code="completed"/>
{{- if .Child}}
							<effectiveTime value="{{.Aged 1 1 0}}"/>
							<routeCode code="SQ" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Iniezione sottocutanea"/>
{{- else}}
							<effectiveTime value="{{.At 0 -1 0}}"/>
							<routeCode code="IM" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Iniezione intramuscolare"/>
{{- end}}
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.2"/>
									<manufacturedMaterial>
{{- if .Child}}
										<code code="J07BD54" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Morbillo, associazioni con parotite, rosolia e varicella, vivo attenuato">
											<originalText><reference value="#vac1-vaccino"/></originalText>
										</code>
										<lotNumberText>SINT-MPRV-01</lotNumberText>
{{- else}}
										<code code="J07BB02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Influenza, inattivato, split virus o antigene di superficie">
											<originalText><reference value="#vac1-vaccino"/></originalText>
										</code>
										<lotNumberText>SINT-FLU-01</lotNumberText>
{{- end}}
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<entryRelationship typeCode="REFR">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.3"/>
									<code code="59781-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Validità della dose"/>
									<statusCode code="completed"/>
									<value xsi:type="IVL_TS">
{{- if .Child}}
										<high value="{{.Aged 6 0 0}}"/>
{{- else}}
										<high value="{{.At 0 5 0}}"/>
{{- end}}
									</value>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.4"/>
									<code code="30973-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Numero della dose"/>
									<statusCode code="completed"/>
									<value xsi:type="INT" value="1"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="CAUS">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.5.1"/>
									<id root="{{.UUID "vac1-reazione"}}"/>
									<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
									<text><reference value="#vac1-reazione"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
{{- if .Child}}
										<low value="{{.Aged 1 1 8}}"/>
										<high value="{{.Aged 1 1 10}}"/>
{{- else}}
										<low value="{{.At 0 -1 1}}"/>
										<high value="{{.At 0 -1 2}}"/>
{{- end}}
									</effectiveTime>
									<value xsi:type="CD" code="780.60" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Febbre, non specificata">
										<originalText><reference value="#vac1-reazione"/></originalText>
									</value>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ" inversionInd="true">{{template "comment" "vac1-nota"}}
							</entryRelationship>
						</substanceAdministration>
					</entry>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.1"/>
							<id root="{{.UUID "vac2"}}"/>
							<code code="IMMUNIZ" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Vaccinazione"/>
							<text><reference value="#vac2"/></text>
							<statusCode code="completed"/>
{{- if .Child}}
							<effectiveTime value="{{.Aged 0 11 0}}"/>
{{- else}}
							<effectiveTime value="{{.At -3 0 0}}"/>
{{- end}}
							<routeCode code="IM" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Iniezione intramuscolare"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.3.2"/>
									<manufacturedMaterial>
{{- if .Child}}
										<code code="J07CA09" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Difterite-Haemophilus influenzae B-pertosse-poliomielite-tetano-epatite B">
											<originalText><reference value="#vac2-vaccino"/></originalText>
										</code>
										<lotNumberText>SINT-ESA-03</lotNumberText>
{{- else}}
										<code code="J07AJ52" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Pertosse, antigene purificato, associazioni con tossoidi">
											<originalText><reference value="#vac2-vaccino"/></originalText>
										</code>
										<lotNumberText>SINT-DTPA-01</lotNumberText>
{{- end}}
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
						</substanceAdministration>
					</entry>
				</section>
			</component>
{{- end}}
{{define "problem"}}
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.4.1"/>
							<id root="{{.UUID .Ref}}"/>
							<code nullFlavor="NA"/>
							<statusCode code="{{.Status}}"/>
							<effectiveTime>
								<low value="{{.Low}}"/>
{{- if .High}}
								<high value="{{.High}}"/>
{{- end}}
							</effectiveTime>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.4.2"/>
									<id root="{{.UUID (print .Ref "-oss")}}"/>
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
									<text><reference value="#{{.Ref}}"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.Low}}"/>
{{- if .High}}
										<high value="{{.High}}"/>
{{- end}}
									</effectiveTime>
									<value xsi:type="CD" code="{{.Code}}" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="{{.Name}}">
										<originalText><reference value="#{{.Ref}}-diagnosi"/></originalText>
									</value>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.4.4"/>
											<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Gravità"/>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="{{.Severity}}" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="ObservationValue" displayName="{{.SeverityName}}"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.1.6"/>
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
											<statusCode code="completed"/>
{{- if .High}}
											<value xsi:type="CE" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
{{- else}}
											<value xsi:type="CE" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
{{- end}}
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.4.5"/>
											<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Decorso clinico"/>
											<statusCode code="completed"/>
{{- if .Chronic}}
											<value xsi:type="CE" code="LA28752-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronico"/>
{{- else}}
											<value xsi:type="CE" code="LA18821-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Acuto"/>
{{- end}}
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">{{template "comment" (print .Ref "-nota")}}
									</entryRelationship>
								</observation>
							</entryRelationship>
{{- if .Visit}}
							<entryRelationship typeCode="REFR">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.4.3"/>
									<id root="{{.UUID .Visit}}"/>
									<code nullFlavor="NA"/>
								</act>
							</entryRelationship>
{{- end}}
						</act>
					</entry>
{{- end}}
{{define "problemi"}}
			<component>
				<section ID="PROBLEMI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.4"/>
					<id root="{{.UUID "sez-problemi"}}"/>
					<code code="11450-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Lista dei problemi"/>
					<title>Lista dei problemi</title>
					<text>
						<table>
							<thead>
								<tr><th>Problema</th><th>Dal</th><th>Al</th><th>Gravità</th><th>Decorso</th><th>Note</th></tr>
							</thead>
							<tbody>
{{- if .Child}}
								<tr ID="prob1"><td ID="prob1-diagnosi">Ipertrofia adenotonsillare con apnee notturne</td><td>{{.Show -2 0 0}}</td><td>{{.Show 0 -6 0}}</td><td>Moderata</td><td>Acuto</td><td ID="prob1-nota">Risolta dopo adenotonsillectomia.</td></tr>
								<tr ID="prob2"><td ID="prob2-diagnosi">Otite media acuta</td><td>{{.Show 0 -3 0}}</td><td>{{.Show 0 -3 10}}</td><td>Lieve</td><td>Acuto</td><td ID="prob2-nota">Guarita senza antibiotico.</td></tr>
{{- else}}
								<tr ID="prob1"><td ID="prob1-diagnosi">Ipertensione arteriosa essenziale</td><td>{{.Show -4 0 0}}</td><td></td><td>Moderata</td><td>Cronico</td><td ID="prob1-nota">Buon controllo pressorio con verapamil; controllo cardiologico annuale.</td></tr>
								<tr ID="prob2"><td ID="prob2-diagnosi">Gastrite cronica superficiale</td><td>{{.Show -1 -6 0}}</td><td>{{.Show -1 -4 0}}</td><td>Lieve</td><td>Acuto</td><td ID="prob2-nota">Sintomi risolti dopo due mesi di pantoprazolo.</td></tr>
{{- end}}
							</tbody>
						</table>
					</text>
{{- if .Child}}
{{template "problem" (.Problem "prob1" "474.10" "Ipertrofia delle tonsille con ipertrofia delle adenoidi" "completed" (.At -2 0 0) (.At 0 -6 0) "M" "Moderata" false "proc1-ricovero")}}
{{template "problem" (.Problem "prob2" "382.9" "Otite media non specificata" "completed" (.At 0 -3 0) (.At 0 -3 10) "L" "Lieve" false "")}}
{{- else}}
{{template "problem" (.Problem "prob1" "401.9" "Ipertensione essenziale non specificata" "active" (.At -4 0 0) "" "M" "Moderata" true "vis1")}}
{{template "problem" (.Problem "prob2" "535.40" "Altre gastriti specificate senza emorragia" "completed" (.At -1 -6 0) (.At -1 -4 0) "L" "Lieve" false "")}}
{{- end}}
				</section>
			</component>
{{- end}}
{{define "relative"}}
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.16.1"/>
							<id root="{{.UUID .Ref}}"/>
							<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di malattie di membri familiari"/>
							<statusCode code="completed"/>
							<subject>
								<relatedSubject classCode="PRS">
									<code code="{{.Role}}" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="{{.RoleName}}"/>
									<subject>
										<administrativeGenderCode code="{{.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
									</subject>
								</relatedSubject>
							</subject>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.16.2"/>
									<id root="{{.UUID (print .Ref "-oss")}}"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<text><reference value="#{{.Ref}}"/></text>
									<statusCode code="completed"/>
									<value xsi:type="CD" code="{{.Code}}" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="{{.Name}}"/>
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.16.3"/>
											<code code="35267-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età alla diagnosi"/>
											<statusCode code="completed"/>
											<value xsi:type="PQ" value="{{.Onset}}" unit="a"/>
										</observation>
									</entryRelationship>
{{- if .Death}}
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.4.3.16.3"/>
											<code code="39016-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età al decesso"/>
											<statusCode code="completed"/>
											<value xsi:type="PQ" value="{{.Death}}" unit="a"/>
										</observation>
									</entryRelationship>
{{- end}}
								</observation>
							</component>
						</organizer>
					</entry>
{{- end}}
{{define "anamnesi"}}
			<component>
				<section ID="ANAMNESI_FAMILIARE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.16"/>
					<id root="{{.UUID "sez-anamnesi"}}"/>
					<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di malattie di membri familiari"/>
					<title>Anamnesi familiare</title>
					<text>
						<list>
							<item ID="fam1">Padre: infarto miocardico acuto a 62 anni, deceduto a 68 anni.</item>
							<item ID="fam2">Madre: diabete mellito di tipo 2 diagnosticato a 55 anni.</item>
						</list>
					</text>
{{template "relative" (.Kin "fam1" "FTH" "Padre" "M" "410.90" "Infarto miocardico acuto, sede non specificata" 62 68)}}
{{template "relative" (.Kin "fam2" "MTH" "Madre" "F" "250.00" "Diabete mellito di tipo II senza complicanze" 55 0)}}
				</section>
			</component>
{{- end}}
{{define "stile"}}
			<component>
				<section ID="STILE_DI_VITA">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.6"/>
					<id root="{{.UUID "sez-stile"}}"/>
					<code code="29762-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia sociale"/>
					<title>Stile di vita</title>
					<text>
						<list>
							<item><content ID="stile-fumo">Fumo</content>: <content ID="stile-fumo-val">mai fumatore{{if .Child}}, non esposto a fumo passivo{{end}}</content></item>
{{- if not .Child}}
							<item><content ID="stile-alcol">Alcol</content>: un bicchiere di vino al giorno ai pasti</item>
{{- end}}
						</list>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.6.1"/>
							<id root="{{.UUID "stile-fumo"}}"/>
							<code code="72166-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Abitudine al fumo"/>
							<text><reference value="#stile-fumo"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<value xsi:type="CD" code="LA18978-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Mai fumatore">
								<originalText><reference value="#stile-fumo-val"/></originalText>
							</value>
						</observation>
					</entry>
{{- if not .Child}}
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.6.1"/>
							<id root="{{.UUID "stile-alcol"}}"/>
							<code code="74013-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Bevande alcoliche al giorno"/>
							<text><reference value="#stile-alcol"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<value xsi:type="PQ" value="1" unit="{drink}/d"/>
						</observation>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{define "gravidanze"}}
			<component>
				<section ID="GRAVIDANZE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.7"/>
					<id root="{{.UUID "sez-gravidanze"}}"/>
					<code code="10162-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di gravidanze"/>
					<title>Gravidanze, parti e stato mestruale</title>
					<text>
						<list>
							<item ID="grav1">Gravidanze: 2</item>
							<item ID="grav2">Parti: 2 (spontanei, a termine, senza complicanze)</item>
						</list>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.7.1"/>
							<id root="{{.UUID "grav1"}}"/>
							<code code="11996-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Numero di gravidanze"/>
							<text><reference value="#grav1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<value xsi:type="INT" value="2"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.7.1"/>
							<id root="{{.UUID "grav2"}}"/>
							<code code="11640-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Numero di parti"/>
							<text><reference value="#grav2"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<value xsi:type="INT" value="2"/>
						</observation>
					</entry>
				</section>
			</component>
{{- end}}
{{define "vital"}}
							<observation classCode="OBS" moodCode="EVN">
								<templateId root="2.16.840.1.113883.2.9.10.1.4.3.8.2"/>
								<id root="{{.UUID .V.Ref}}"/>
								<code code="{{.V.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.V.Name}}"/>
								<text><reference value="#{{.V.Ref}}"/></text>
								<statusCode code="completed"/>
								<effectiveTime value="{{.At 0 0 -7}}"/>
								<value xsi:type="PQ" value="{{.V.Value}}" unit="{{.V.Unit}}"/>
							</observation>
{{- end}}
{{define "parametri"}}
			<component>
				<section ID="PARAMETRI_VITALI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.8"/>
					<id root="{{.UUID "sez-parametri"}}"/>
					<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
					<title>Parametri vitali</title>
					<text>
						<table>
							<caption>Rilevazione del {{.Show 0 0 -7}}</caption>
							<thead>
								<tr><th>Parametro</th><th>Valore</th></tr>
							</thead>
							<tbody>
{{- range .Organizer}}
								<tr><td>{{.Name}}</td><td ID="{{.Ref}}">{{.Value}} {{.Shown}}</td></tr>
{{- end}}
								<tr><td>{{.Height.Name}}</td><td ID="{{.Height.Ref}}">{{.Height.Value}} {{.Height.Shown}}</td></tr>
								<tr><td>{{.Weight.Name}}</td><td ID="{{.Weight.Ref}}">{{.Weight.Value}} {{.Weight.Shown}}</td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.8.1"/>
							<id root="{{.UUID "pv"}}"/>
							<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.At 0 0 -7}}"/>
{{- range .Organizer}}
							<component>{{template "vital" ($.Vital .)}}
							</component>
{{- end}}
						</organizer>
					</entry>
					<entry>{{template "vital" (.Vital .Height)}}
					</entry>
					<entry>{{template "vital" (.Vital .Weight)}}
					</entry>
				</section>
			</component>
{{- end}}
{{define "protesi"}}
			<component>
				<section ID="PROTESI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.9"/>
					<id root="{{.UUID "sez-protesi"}}"/>
					<code code="46264-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di uso di dispositivi medici"/>
					<title>Protesi, impianti e ausili</title>
{{- if .Child}}
					<text>
						<paragraph>Nessuna protesi, impianto o ausilio.</paragraph>
					</text>
{{- else}}
					<text>
						<paragraph ID="prot1">Protesi totale dell'anca destra, impiantata il {{.Show -3 -2 0}}.</paragraph>
					</text>
					<entry>
						<supply classCode="SPLY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.9.1"/>
							<id root="{{.UUID "prot1"}}"/>
							<code code="P0908" codeSystem="2.16.840.1.113883.2.9.6.1.48" codeSystemName="CND" displayName="Protesi d'anca">
								<originalText><reference value="#prot1"/></originalText>
							</code>
							<text><reference value="#prot1"/></text>
							<effectiveTime value="{{.At -3 -2 0}}"/>
						</supply>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{define "piani"}}
			<component>
				<section ID="PIANI_DI_CURA">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.10"/>
					<id root="{{.UUID "sez-piani"}}"/>
					<code code="18776-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Piano di cura"/>
					<title>Piani di cura</title>
					<text>
						<list>
{{- if .Child}}
							<item ID="piano-oss">Controllo dell'emoglobina entro il {{.Show 0 3 0}}.</item>
							<item ID="piano-farm">Colecalciferolo (vitamina D3) 400 UI al giorno per tre mesi, dal {{.Show 0 0 1}}.</item>
							<item ID="piano-proc">Esame audiometrico il {{.Show 0 2 0}}.</item>
							<item ID="piano-vis">Visita otorinolaringoiatrica di controllo il {{.Show 0 4 0}}.</item>
							<item ID="piano-act">Bilancio di salute pediatrico dal {{.Show 0 6 0}} al {{.Show 0 7 0}}.</item>
{{- else}}
							<item ID="piano-oss">Profilo lipidico (colesterolo totale) entro il {{.Show 0 3 0}}.</item>
							<item ID="piano-farm">Prosecuzione di verapamil 80 mg due volte al giorno, dal {{.Show 0 0 1}}.</item>
							<item ID="piano-proc">Elettrocardiogramma il {{.Show 0 2 0}}.</item>
							<item ID="piano-vis">Visita cardiologica di controllo il {{.Show 0 4 0}}.</item>
							<item ID="piano-act">Percorso di educazione alimentare (dieta iposodica) dal {{.Show 0 1 0}} al {{.Show 0 4 0}}.</item>
{{- end}}
						</list>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.10.1"/>
							<id root="{{.UUID "piano-oss"}}"/>
{{- if .Child}}
							<code code="718-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emoglobina"/>
{{- else}}
							<code code="2093-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Colesterolo totale"/>
{{- end}}
							<text><reference value="#piano-oss"/></text>
							<statusCode code="active"/>
							<effectiveTime value="{{.At 0 3 0}}"/>
						</observation>
					</entry>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.10.2"/>
							<id root="{{.UUID "piano-farm"}}"/>
							<text><reference value="#piano-farm"/></text>
							<statusCode code="active"/>
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.At 0 0 1}}"/>
{{- if .Child}}
								<high value="{{.At 0 3 1}}"/>
{{- end}}
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="{{if .Child}}24{{else}}12{{end}}" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Orale"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.2.2"/>
									<manufacturedMaterial>
										<templateId root="2.16.840.1.113883.10.22.4.3"/>
{{- if .Child}}
										<code code="A11CC05" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Colecalciferolo"/>
{{- else}}
										<code code="C08DA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Verapamil">
											<translation code="020609083" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="ISOPTIN*30 cpr riv 80 mg"/>
										</code>
{{- end}}
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
						</substanceAdministration>
					</entry>
					<entry>
						<procedure classCode="PROC" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.10.3"/>
							<id root="{{.UUID "piano-proc"}}"/>
{{- if .Child}}
							<code code="95.41" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Audiometria"/>
{{- else}}
							<code code="89.52" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Elettrocardiogramma"/>
{{- end}}
							<text><reference value="#piano-proc"/></text>
							<statusCode code="active"/>
							<effectiveTime value="{{.At 0 2 0}}"/>
						</procedure>
					</entry>
					<entry>
						<encounter classCode="ENC" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.10.4"/>
							<id root="{{.UUID "piano-vis"}}"/>
							<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ambulatoriale"/>
							<text><reference value="#piano-vis"/></text>
							<statusCode code="active"/>
							<effectiveTime value="{{.At 0 4 0}}"/>
						</encounter>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.10.5"/>
							<id root="{{.UUID "piano-act"}}"/>
							<code nullFlavor="OTH">
								<originalText><reference value="#piano-act"/></originalText>
							</code>
							<text><reference value="#piano-act"/></text>
							<statusCode code="active"/>
							<effectiveTime>
{{- if .Child}}
								<low value="{{.At 0 6 0}}"/>
								<high value="{{.At 0 7 0}}"/>
{{- else}}
								<low value="{{.At 0 1 0}}"/>
								<high value="{{.At 0 4 0}}"/>
{{- end}}
							</effectiveTime>
						</act>
					</entry>
				</section>
			</component>
{{- end}}
{{define "performer"}}
								<performer typeCode="PRF">
									<time>
										<low value="{{.Low}}"/>
										<high value="{{.High}}"/>
									</time>
									<assignedEntity>
										<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Who.CF}}" assigningAuthorityName="MEF"/>
										<assignedPerson>
											<name>
												<prefix>Dott.</prefix>
												<given>{{x .Who.Given}}</given>
												<family>{{x .Who.Family}}</family>
											</name>
										</assignedPerson>
									</assignedEntity>
								</performer>
{{- end}}
{{define "procedure"}}
			<component>
				<section ID="PROCEDURE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.11"/>
					<id root="{{.UUID "sez-procedure"}}"/>
					<code code="47519-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di procedure"/>
					<title>Trattamenti e procedure terapeutiche, chirurgiche e diagnostiche</title>
					<text>
{{- if .Child}}
						<paragraph ID="proc1">Adenotonsillectomia il {{.Show 0 -6 0}} per <content ID="proc1-motivo">ipertrofia adenotonsillare</content>, in <content ID="proc1-ricovero">ricovero ordinario dal {{.Show 0 -6 -1}} al {{.Show 0 -6 1}}</content>.</paragraph>
{{- else}}
						<paragraph ID="proc1">Artroplastica totale dell'anca destra il {{.Show -3 -2 0}} per <content ID="proc1-motivo">frattura del collo del femore</content>, in <content ID="proc1-ricovero">ricovero ordinario dal {{.Show -3 -2 -1}} al {{.Show -3 -2 6}}</content>.</paragraph>
{{- end}}
					</text>
					<entry>
						<procedure classCode="PROC" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.11.1"/>
							<id root="{{.UUID "proc1"}}"/>
{{- if .Child}}
							<code code="28.3" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Tonsillectomia con adenoidectomia"/>
{{- else}}
							<code code="81.51" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Sostituzione totale dell'anca"/>
{{- end}}
							<text><reference value="#proc1"/></text>
							<statusCode code="completed"/>
							<effectiveTime>
{{- if .Child}}
								<low value="{{.At 0 -6 0}}"/>
								<high value="{{.At 0 -6 0}}"/>
{{- else}}
								<low value="{{.At -3 -2 0}}"/>
								<high value="{{.At -3 -2 0}}"/>
{{- end}}
							</effectiveTime>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<id root="{{.UUID "proc1-motivo"}}"/>
{{- if .Child}}
									<code code="474.10" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipertrofia delle tonsille con ipertrofia delle adenoidi"/>
{{- else}}
									<code code="820.8" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Frattura del collo del femore, parte non specificata, chiusa"/>
{{- end}}
									<text><reference value="#proc1-motivo"/></text>
									<statusCode code="completed"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<encounter classCode="ENC" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.12.1"/>
									<id root="{{.UUID "proc1-ricovero"}}"/>
									<code code="IMP" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ricovero ordinario"/>
									<text><reference value="#proc1-ricovero"/></text>
									<effectiveTime>
{{- if .Child}}
										<low value="{{.At 0 -6 -1}}"/>
										<high value="{{.At 0 -6 1}}"/>
									</effectiveTime>{{template "performer" (.Performer (.At 0 -6 -1) (.At 0 -6 1) .Specialist)}}
{{- else}}
										<low value="{{.At -3 -2 -1}}"/>
										<high value="{{.At -3 -2 6}}"/>
									</effectiveTime>{{template "performer" (.Performer (.At -3 -2 -1) (.At -3 -2 6) .Specialist)}}
{{- end}}
								</encounter>
							</entryRelationship>
						</procedure>
					</entry>
				</section>
			</component>
{{- end}}
{{define "visite"}}
			<component>
				<section ID="VISITE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.12"/>
					<id root="{{.UUID "sez-visite"}}"/>
					<code code="46240-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di ospedalizzazioni e di visite ambulatoriali"/>
					<title>Visite e ricoveri</title>
					<text>
{{- if .Child}}
						<paragraph ID="vis1">Visita otorinolaringoiatrica il {{.Show 0 -2 0}}: esiti regolari dell'intervento.</paragraph>
{{- else}}
						<paragraph ID="vis1">Visita cardiologica il {{.Show 0 -2 0}}: buon controllo pressorio, ecocardiogramma nella norma.</paragraph>
{{- end}}
					</text>
					<entry>
						<encounter classCode="ENC" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.12.1"/>
							<id root="{{.UUID "vis1"}}"/>
							<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ambulatoriale"/>
							<text><reference value="#vis1"/></text>
							<effectiveTime value="{{.At 0 -2 0}}"/>{{template "performer" (.Performer (.At 0 -2 0) (.At 0 -2 0) .Cardiology)}}
						</encounter>
					</entry>
				</section>
			</component>
{{- end}}
{{define "funzionale"}}
			<component>
				<section ID="STATO_FUNZIONALE">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.13"/>
					<id root="{{.UUID "sez-funzionale"}}"/>
					<code code="47420-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Nota di valutazione dello stato funzionale"/>
					<title>Stato funzionale del paziente</title>
					<text>
						<list>
							<caption>Valutazione del {{.Show 0 0 -7}}</caption>
							<item ID="funz-motoria">Capacità motoria: autonomo{{if not .Child}}, deambula senza ausili{{end}}</item>
{{- if .Elderly}}
							<item ID="funz-regime">In assistenza domiciliare integrata dal {{.Show -1 0 0}}</item>
{{- end}}
							<item ID="funz-mentale">Stato mentale: vigile, orientato nel tempo e nello spazio</item>
						</list>
					</text>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.1"/>
							<id root="{{.UUID "funz"}}"/>
							<statusCode code="completed"/>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.2"/>
									<code code="75246-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Capacità motoria"/>
									<text><reference value="#funz-motoria"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.At 0 0 -7}}"/>
									</effectiveTime>
									<value xsi:type="CD" code="1" codeSystem="2.16.840.1.113883.2.9.77.22.11.15" codeSystemName="CapacitaMotoria_PSSIT" displayName="Autonomo">
										<originalText><reference value="#funz-motoria"/></originalText>
									</value>
								</observation>
							</component>
{{- if .Elderly}}
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.3"/>
									<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Asserzione"/>
									<text><reference value="#funz-regime"/></text>
									<statusCode code="active"/>
									<effectiveTime>
										<low value="{{.At -1 0 0}}"/>
									</effectiveTime>
									<value xsi:type="CD" code="PSSADI" codeSystem="2.16.840.1.113883.2.9.5.2.8" codeSystemName="ProfiloSanitarioSinteticoIT" displayName="Assistenza Domiciliare Integrata"/>
								</observation>
							</component>
{{- end}}
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.4"/>
									<code code="8693-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato mentale"/>
									<text><reference value="#funz-mentale"/></text>
									<statusCode code="normal"/>
									<effectiveTime>
										<low value="{{.At 0 0 -7}}"/>
									</effectiveTime>
									<value xsi:type="CD">
										<originalText><reference value="#funz-mentale"/></originalText>
									</value>
								</observation>
							</component>
						</organizer>
					</entry>
				</section>
			</component>
{{- end}}
{{define "result"}}
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.2"/>
									<id root="{{.UUID .L.Ref}}"/>
									<code code="{{.L.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.L.Name}}"/>
									<text><reference value="#{{.L.Ref}}"/></text>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 -1 0}}"/>
									<value xsi:type="PQ" value="{{.L.Value}}" unit="{{.L.Unit}}"/>
									<interpretationCode code="{{.L.Interp}}" codeSystem="2.16.840.1.113883.5.83" codeSystemName="ObservationInterpretation" displayName="{{.L.InterpName}}"/>
									<referenceRange>
										<observationRange>
{{- if .L.RangeText}}
											<text>{{.L.RangeText}}</text>
{{- else}}
											<value xsi:type="IVL_PQ">
												<low value="{{.L.Low}}" unit="{{.L.Unit}}"/>
												<high value="{{.L.High}}" unit="{{.L.Unit}}"/>
											</value>
{{- end}}
										</observationRange>
									</referenceRange>
								</observation>
							</component>
{{- end}}
{{define "indagini"}}
			<component>
				<section ID="INDAGINI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.14"/>
					<id root="{{.UUID "sez-indagini"}}"/>
					<code code="30954-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Test diagnostici rilevanti e/o dati di laboratorio"/>
					<title>Indagini diagnostiche e esami di laboratorio</title>
					<text>
						<table>
							<caption>Esami del {{.Show 0 -1 0}}</caption>
							<thead>
								<tr><th>Esame</th><th>Risultato</th><th>Valori di riferimento</th></tr>
							</thead>
							<tbody>
								<tr><td colspan="3" ID="lab-emocromo">Emocromo</td></tr>
{{- range .Blood}}
								<tr><td>{{.Name}}</td><td ID="{{.Ref}}">{{.Value}} {{.Unit}} ({{.InterpName}})</td><td>{{.Low}} - {{.High}} {{.Unit}}</td></tr>
{{- end}}
								<tr><td colspan="3" ID="lab-chimica">Chimica clinica</td></tr>
{{- range .Chemistry}}
								<tr><td>{{.Name}}</td><td ID="{{.Ref}}">{{.Value}} {{.Unit}} ({{.InterpName}})</td><td>{{if .RangeText}}{{.RangeText}}{{else}}{{.Low}} - {{.High}} {{.Unit}}{{end}}</td></tr>
{{- end}}
							</tbody>
						</table>
					</text>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.1"/>
							<id root="{{.UUID "lab-emocromo"}}"/>
							<code code="58410-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emocromo completo"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.At 0 -1 0}}"/>
{{- range .Blood}}{{template "result" ($.Result .)}}{{end}}
						</organizer>
					</entry>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.14.1"/>
							<id root="{{.UUID "lab-chimica"}}"/>
							<code nullFlavor="OTH">
								<originalText><reference value="#lab-chimica"/></originalText>
							</code>
							<statusCode code="completed"/>
							<effectiveTime value="{{.At 0 -1 0}}"/>
{{- range .Chemistry}}{{template "result" ($.Result .)}}{{end}}
						</organizer>
					</entry>
				</section>
			</component>
{{- end}}
{{define "donazione"}}
			<component>
				<section ID="DONAZIONE_ORGANI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.15"/>
					<id root="{{.UUID "sez-donazione"}}"/>
					<code code="42348-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dichiarazioni anticipate di trattamento"/>
					<title>Assenso/dissenso donazione organi</title>
					<text>
{{- if .Child}}
						<paragraph>Nessuna dichiarazione di volontà: paziente minorenne.</paragraph>
{{- else}}
						<paragraph>Assenso alla donazione di organi e tessuti, dichiarato all'anagrafe comunale il {{.Show -5 0 0}}.</paragraph>
{{- end}}
					</text>
				</section>
			</component>
{{- end}}
{{define "exemption"}}
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.17.1"/>
							<id root="{{.UUID .Ref}}"/>
							<code code="{{.Code}}" codeSystem="2.16.840.1.113883.2.9.6.1.22" codeSystemName="Catalogo Nazionale Esenzioni" displayName="{{.Name}}">
								<originalText><reference value="#{{.Ref}}"/></originalText>
							</code>
							<statusCode code="active"/>
							<effectiveTime>
								<low value="{{.Low}}"/>
							</effectiveTime>
{{- if .Note}}
							<entryRelationship typeCode="SUBJ" inversionInd="true">{{template "comment" .Note}}
							</entryRelationship>
{{- end}}
						</act>
					</entry>
{{- end}}
{{define "esenzioni"}}
			<component>
				<section ID="ESENZIONI">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.17"/>
					<id root="{{.UUID "sez-esenzioni"}}"/>
					<code code="57827-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo di esenzione dal ticket"/>
					<title>Esenzioni</title>
					<text>
						<list>
{{- if .Child}}
							<item><content ID="esen1">{{if lt .Age 6}}E01 - Età inferiore a 6 anni e reddito familiare entro la soglia{{else}}E02 - Familiare a carico di disoccupato{{end}}</content>, dal {{.Show -1 0 0}}. <content ID="esen1-nota">Autocertificazione rinnovata ogni anno.</content></item>
{{- else}}
							<item><content ID="esen1">031 - Ipertensione arteriosa</content>, dal {{.Show -4 0 0}}. <content ID="esen1-nota">Esenzione per patologia cronica, valida per le prestazioni correlate.</content></item>
{{- if .Elderly}}
							<item><content ID="esen2">E01 - Età superiore a 65 anni e reddito familiare entro la soglia</content>, dal {{.Show -1 0 0}}.</item>
{{- end}}
{{- end}}
						</list>
					</text>
{{- if .Child}}
{{- if lt .Age 6}}
{{template "exemption" (.Exemption "esen1" "E01" "Età inferiore a 6 anni e reddito familiare entro la soglia" (.At -1 0 0) "esen1-nota")}}
{{- else}}
{{template "exemption" (.Exemption "esen1" "E02" "Familiare a carico di disoccupato" (.At -1 0 0) "esen1-nota")}}
{{- end}}
{{- else}}
{{template "exemption" (.Exemption "esen1" "031" "Ipertensione arteriosa" (.At -4 0 0) "esen1-nota")}}
{{- if .Elderly}}
{{template "exemption" (.Exemption "esen2" "E01" "Età superiore a 65 anni e reddito familiare entro la soglia" (.At -1 0 0) "")}}
{{- end}}
{{- end}}
				</section>
			</component>
{{- end}}
{{define "reti"}}
			<component>
				<section ID="RETI_PATOLOGIA">
					<templateId root="2.16.840.1.113883.2.9.10.1.4.2.18"/>
					<id root="{{.UUID "sez-reti"}}"/>
					<code code="PSSIT99" codeSystem="2.16.840.1.113883.2.9.5.2.8" codeSystemName="ProfiloSanitarioSinteticoIT" displayName="Reti di patologia"/>
					<title>Reti di patologia</title>
					<text>
						<paragraph><content ID="rete1">{{if .Child}}Rete pediatrica regionale per i disturbi respiratori del sonno{{else}}Rete regionale per l'ipertensione arteriosa{{end}}</content>, presa in carico dal {{.Show -1 0 0}}. <content ID="rete1-nota">Referente: centro di riferimento della rete.</content></paragraph>
					</text>
					<entry>
						<act classCode="PCPR" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.4.3.18.1"/>
							<id root="{{.UUID "rete1"}}"/>
							<code nullFlavor="OTH">
								<originalText><reference value="#rete1"/></originalText>
							</code>
							<statusCode code="active"/>
							<effectiveTime>
								<low value="{{.At -1 0 0}}"/>
							</effectiveTime>
							<entryRelationship typeCode="COMP">{{template "comment" "rete1-nota"}}
							</entryRelationship>
						</act>
					</entry>
				</section>
			</component>
{{- end}}
`))

// The data of the template's repeated parts: each carries the header, for
// its UUID and dates.

type pssProblem struct {
	nationalHeader
	Ref, Code, Name, Status, Low, High, Severity, SeverityName, Visit string
	Chronic                                                           bool
}

func (p pssData) Problem(ref, code, name, status, low, high, sev, sevName string, chronic bool, visit string) pssProblem {
	return pssProblem{p.nationalHeader, ref, code, name, status, low, high, sev, sevName, visit, chronic}
}

type pssRelative struct {
	nationalHeader
	Ref, Role, RoleName, Gender, Code, Name string
	Onset, Death                            int
}

func (p pssData) Kin(ref, role, roleName, gender, code, name string, onset, death int) pssRelative {
	return pssRelative{p.nationalHeader, ref, role, roleName, gender, code, name, onset, death}
}

type pssVitalSign struct {
	nationalHeader
	V pssVital
}

func (p pssData) Vital(v pssVital) pssVitalSign { return pssVitalSign{p.nationalHeader, v} }

type pssResult struct {
	nationalHeader
	L pssLab
}

func (p pssData) Result(l pssLab) pssResult { return pssResult{p.nationalHeader, l} }

type pssPerformer struct {
	Low, High string
	Who       nationalPerson
}

func (p pssData) Performer(low, high string, who nationalPerson) pssPerformer {
	return pssPerformer{low, high, who}
}

type pssExemption struct {
	nationalHeader
	Ref, Code, Name, Low, Note string
}

func (p pssData) Exemption(ref, code, name, low, note string) pssExemption {
	return pssExemption{p.nationalHeader, ref, code, name, low, note}
}
