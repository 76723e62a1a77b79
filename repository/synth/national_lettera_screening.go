package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"text/template"
	"time"
)

// The Lettera di invito screening e altri percorsi di prevenzione (LOINC
// 108276-7, HL7 Italia template 2.16.840.1.113883.2.9.10.1.14.1): the
// reminder (sollecito, 108274-2) of the regional screening programme the
// patient's sex and age call for — mammography for women of 50 to 69,
// the faecal occult blood test from 50 to 74, the cervical test for women
// of 25 to 64, the hepatitis C test for those born from 1969 to 1989, a
// cardiovascular prevention pathway otherwise — with the screening level
// and its first-level test, the appointment (where, when, how to come)
// and the section referring to the first invitation, as the national
// schematron checks them.

func init() { registerNational("Lettera_Screening", buildLetteraScreening) }

// scrPlace is a place as CDA addresses write it: ISTAT codes of region
// and comune, the province's abbreviation.
type scrPlace struct{ Region, City, Istat, Prov string }

// scrCapitals are the regional capitals by FSE region code: the
// screening centre and the patient's home are in the custodian's region.
var scrCapitals = map[string]scrPlace{
	"010": {"010", "Torino", "001272", "TO"}, "020": {"020", "Aosta", "007003", "AO"},
	"030": {"030", "Milano", "015146", "MI"}, "041": {"041", "Bolzano", "021008", "BZ"},
	"042": {"042", "Trento", "022205", "TN"}, "050": {"050", "Venezia", "027042", "VE"},
	"060": {"060", "Trieste", "032006", "TS"}, "070": {"070", "Genova", "010025", "GE"},
	"080": {"080", "Bologna", "037006", "BO"}, "090": {"090", "Firenze", "048017", "FI"},
	"100": {"100", "Perugia", "054039", "PG"}, "110": {"110", "Ancona", "042002", "AN"},
	"120": {"120", "Roma", "058091", "RM"}, "130": {"130", "L'Aquila", "066049", "AQ"},
	"140": {"140", "Campobasso", "070006", "CB"}, "150": {"150", "Napoli", "063049", "NA"},
	"160": {"160", "Bari", "072006", "BA"}, "170": {"170", "Potenza", "076063", "PZ"},
	"180": {"180", "Catanzaro", "079023", "CZ"}, "190": {"190", "Palermo", "082053", "PA"},
	"200": {"200", "Cagliari", "092009", "CA"},
}

// scrBirthplaces are the comuni of the cadastral codes synth's patients
// are born in (the codice fiscale's characters 12 to 15).
var scrBirthplaces = map[string]scrPlace{
	"H501": scrCapitals["120"], "F205": scrCapitals["030"], "F839": scrCapitals["150"],
	"A662": scrCapitals["160"], "L219": scrCapitals["010"],
}

// scrAddr is an address: its use (H home, WP work place), place and
// street.
type scrAddr struct {
	Use    string
	P      scrPlace
	Street string
}

// scrPerson is a professional named in the letter.
type scrPerson struct{ CF, Family, Given, Prefix string }

// scrStaff is a synthetic professional, of working age and the same for
// the same document and role; gender, when not empty, is the one they
// must have.
func scrStaff(d Document, role, gender string) scrPerson {
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#Lettera_Screening#" + role))
	rng := rand.New(rand.NewPCG(h.Sum64(), 19))
	for {
		p := NewPatient(rng)
		age := d.Time.Year() - p.BirthDate.Year()
		if age < 30 || age > 66 || gender != "" && p.Gender != gender {
			continue
		}
		prefix := "Dott."
		if p.Gender == "F" {
			prefix = "Dott.ssa"
		}
		return scrPerson{p.CF, p.Family, p.Given, prefix}
	}
}

// scrGender is the gender a codice fiscale encodes (women's birth day
// plus 40), or "" for a code of another shape.
func scrGender(cf string) string {
	if len(cf) != 16 || cf[9] < '0' || cf[9] > '7' {
		return ""
	}
	if cf[9] >= '4' {
		return "F"
	}
	return "M"
}

// scrCode is a coded concept.
type scrCode struct{ Code, System, SystemName, Display string }

// scrProgramme is a screening programme: the campaign (documentationOf's
// second serviceEvent), its first-level test and how to come to it.
type scrProgramme struct {
	Campaign, Test     scrCode
	Name, Place, Ready string
}

// scrProgrammeFor picks the programme the patient is invited to by sex
// and age at the letter's date.
func scrProgrammeFor(p Patient, at time.Time) scrProgramme {
	age := at.Year() - p.BirthDate.Year()
	if at.YearDay() < p.BirthDate.YearDay() {
		age--
	}
	loinc := func(code, display string) scrCode {
		return scrCode{code, "2.16.840.1.113883.6.1", "LOINC", display}
	}
	switch {
	case p.Gender == "F" && age >= 50 && age <= 69:
		return scrProgramme{loinc("LA36986-0", "Campagna di screening del tumore della mammella"), loinc("24606-6", "Mammografia di screening"),
			"programma di screening del tumore della mammella", "Centro di senologia", "Non applicare creme o deodoranti il giorno dell'esame."}
	case age >= 50 && age <= 74:
		return scrProgramme{loinc("LA36987-8", "Campagna di screening del tumore del colon-retto"), loinc("29771-3", "Ricerca del sangue occulto nelle feci (FIT)"),
			"programma di screening del tumore del colon-retto", "Farmacia convenzionata per il ritiro del kit", "Nessuna dieta particolare: consegnare il campione entro 24 ore dal prelievo."}
	case p.Gender == "F" && age >= 25 && age <= 64:
		return scrProgramme{loinc("LA36988-6", "Campagna di screening del tumore della cervice uterina"), loinc("10524-7", "Test di screening cervicale (Pap test / HPV test)"),
			"programma di screening del tumore della cervice uterina", "Consultorio familiare", "Evitare rapporti sessuali e lavande vaginali nei due giorni precedenti."}
	case p.BirthDate.Year() >= 1969 && p.BirthDate.Year() <= 1989:
		return scrProgramme{loinc("LA36989-4", "Campagna di screening dell'epatite C"), loinc("16128-1", "Anticorpi anti-HCV"),
			"programma di screening dell'infezione da virus dell'epatite C", "Punto prelievi", "Non è necessario il digiuno."}
	default:
		return scrProgramme{loinc("LA36990-2", "Altri percorsi di prevenzione"), loinc("85354-9", "Misurazione della pressione arteriosa"),
			"percorso di prevenzione cardiovascolare", "Ambulatorio di prevenzione", "Portare l'elenco dei farmaci assunti."}
	}
}

func buildLetteraScreening(d Document) []byte {
	rome := time.FixedZone("", 3600)
	ts := func(t time.Time) string { return t.In(rome).Format("20060102150405-0700") }
	date := func(t time.Time) string { return t.In(rome).Format("02/01/2006") }
	home, ok := scrCapitals[d.Region]
	if !ok {
		home = scrCapitals["120"]
	}
	born := scrPlace{}
	if len(d.Patient.CF) == 16 {
		born = scrBirthplaces[d.Patient.CF[11:15]]
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID()))
	n := h.Sum64()
	author := scrStaff(d, "responsabile", scrGender(d.AuthorCF))
	author.CF = d.AuthorCF
	setID := d.LocalID
	var parentRoot, parentExt string
	if d.Replaces != "" {
		parentRoot, parentExt, _ = strings.Cut(d.Replaces, "^")
		setID = parentExt
	}
	// The first invitation went out two months before this reminder; the
	// new appointment is three weeks after it, on a weekday morning.
	invited := d.Time.AddDate(0, -2, 0)
	appt := time.Date(d.Time.Year(), d.Time.Month(), d.Time.Day()+21, 8, 30+int(n%6)*10, 0, 0, rome)
	for appt.Weekday() == time.Saturday || appt.Weekday() == time.Sunday {
		appt = appt.AddDate(0, 0, 1)
	}
	prog := scrProgrammeFor(d.Patient, d.Time)
	data := map[string]any{
		"D": d, "TS": ts(d.Time), "Birth": d.Patient.BirthDate.Format("20060102"), "SetID": setID,
		"ParentRoot": parentRoot, "ParentExt": parentExt, "Home": home, "Born": born,
		"Street": fmt.Sprintf("Via della Prova %d", 1+n%180), "Phone": fmt.Sprintf("%07d", n%10000000),
		"Author": author, "Verifier": scrStaff(d, "verificatore", ""), "P": prog,
		"Invited": ts(invited), "InvitedDate": date(invited), "Appt": ts(appt), "ApptDate": date(appt), "ApptHour": appt.Format("15:04"),
		"FirstLetter": fmt.Sprintf("SCR-%d-%06d", invited.Year(), n%1000000), "Round": fmt.Sprintf("%d/%02d", d.Time.Year(), 1+n%12),
	}
	var b bytes.Buffer
	if err := scrTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("synth: Lettera_Screening template: %v", err)) // a bug, not input
	}
	return b.Bytes()
}

var scrTemplate = template.Must(template.New("Lettera_Screening").Funcs(template.FuncMap{
	"x":  xmlText,
	"at": func(use string, p scrPlace, street string) scrAddr { return scrAddr{use, p, street} },
}).Parse(`
{{- define "addr"}}<addr use="{{.Use}}"><country>100</country><state>{{.P.Region}}</state><county>{{.P.Prov}}</county><city>{{x .P.City}}</city><censusTract>{{.P.Istat}}</censusTract><streetAddressLine>{{x .Street}}</streetAddressLine></addr>{{end}}
{{- define "code"}}code="{{.Code}}" codeSystem="{{.System}}" codeSystemName="{{.SystemName}}" displayName="{{x .Display}}"{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.14.1" extension="1.0"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="108276-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Screening invitation letter"/>
	<title>Lettera di invito screening e altri percorsi di prevenzione</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetID}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="MEF"/>
			{{template "addr" (at "H" .Home .Street)}}
			<telecom use="MC" value="tel:+39333{{.Phone}}"/>
			<patient>
				<name><family>{{x .D.Patient.Family}}</family><given>{{x .D.Patient.Given}}</given></name>
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace><place><addr><country>100</country>{{with .Born}}{{if .City}}<state>{{.Region}}</state><county>{{.Prov}}</county><city>{{x .City}}</city><censusTract>{{.Istat}}</censusTract>{{end}}{{end}}</addr></place></birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="mailto:screening@example.org"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
			<representedOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Azienda sanitaria sintetica {{x .D.Org}} - Centro screening</name>
				<telecom use="WP" value="tel:+39800{{.Phone}}"/>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Azienda sanitaria sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+39060{{.Phone}}"/>
				{{template "addr" (at "WP" .Home "Piazza del Collaudo 4")}}
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="VRF">
		<functionCode code="PCP" codeSystem="2.16.840.1.113883.2.9.5.88" displayName="Operatore del centro screening"/>
		<time value="{{.TS}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Verifier.CF}}" assigningAuthorityName="MEF"/>
			<associatedPerson><name><family>{{x .Verifier.Family}}</family><given>{{x .Verifier.Given}}</given></name></associatedPerson>
		</associatedEntity>
	</participant>
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<code code="108274-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Lettera di sollecito"/>
			<effectiveTime value="{{.TS}}"/>
		</serviceEvent>
	</documentationOf>
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.8" extension="{{.Round}}"/>
			<code {{template "code" .P.Campaign}}/>
		</serviceEvent>
	</documentationOf>
{{- if .ParentExt}}
	<relatedDocument typeCode="RPLC">
		<parentDocument><id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/></parentDocument>
	</relatedDocument>
{{- end}}
	<component>
		<structuredBody>
			<component>
				<section ID="lettera">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.941"/>
					<code code="112071-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Lettera di screening"/>
					<title>Lettera di sollecito - {{x .P.Name}}</title>
					<text>
						<paragraph>Gentile {{x .D.Patient.Given}} {{x .D.Patient.Family}},</paragraph>
						<paragraph>non avendo ricevuto riscontro al nostro invito del {{.InvitedDate}}, la invitiamo nuovamente ad aderire gratuitamente al {{x .P.Name}}.</paragraph>
						<paragraph ID="appuntamento">Appuntamento: {{.ApptDate}} alle ore {{.ApptHour}}, {{x .P.Place}}, Piazza del Collaudo 4, {{x .Home.City}}.</paragraph>
						<paragraph ID="preparazione">{{x .P.Ready}}</paragraph>
						<paragraph>Per spostare l'appuntamento chiami il numero verde del centro screening. Documento sintetico: nessun dato reale.</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.614"/>
							<code code="LA32760-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Primo livello"/>
							<text>Screening di primo livello: {{x .P.Test.Display}}</text>
							<statusCode code="active"/>
							<entryRelationship typeCode="COMP">
								<procedure classCode="PROC" moodCode="INT">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.623"/>
									<code {{template "code" .P.Test}}/>
									<effectiveTime value="{{.Appt}}"/>
								</procedure>
							</entryRelationship>
						</act>
					</entry>
					<entry>
						<encounter classCode="ENC" moodCode="APT">
							<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.9" extension="APP-{{x .D.LocalID}}"/>
							<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ambulatoriale"/>
							<text><reference value="#appuntamento"/></text>
							<effectiveTime value="{{.Appt}}"/>
							<participant typeCode="LOC">
								<participantRole classCode="SDLOC">
									{{template "addr" (at "WP" .Home "Piazza del Collaudo 4")}}
									<playingEntity classCode="PLC"><name>{{x .P.Place}} (sintetico)</name></playingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Indicazioni per la preparazione"/>
									<text><reference value="#preparazione"/></text>
									<value xsi:type="ST">{{x .P.Ready}}</value>
								</observation>
							</entryRelationship>
						</encounter>
					</entry>
				</section>
			</component>
			<component>
				<section ID="invito-precedente">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.676"/>
					<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Riferimento a lettera di invito precedente"/>
					<title>Riferimento all'invito precedente</title>
					<text>Primo invito del {{.InvitedDate}}, protocollo {{.FirstLetter}}.</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.677"/>
							<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Riferimento a lettera di invito precedente"/>
							<effectiveTime value="{{.Invited}}"/>
							<reference typeCode="REFR">
								<externalDocument classCode="DOCCLIN" moodCode="EVN">
									<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{.FirstLetter}}"/>
								</externalDocument>
							</reference>
						</act>
					</entry>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
