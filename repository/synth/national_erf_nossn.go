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

// Erogazione Farmaceutica non a carico del SSN (ErF_NoSSN, LOINC 60593-1):
// a community pharmacy dispenses, at the patient's expense, two medicines
// of a private prescription. The first is dispensed as prescribed; the
// second was prescribed by its active ingredient and dispensed as a
// branded product, so its line carries the variation (code, reason and the
// prescribed medicine) and a regional message. Each line has its price,
// other costs and dispensing regime. The optional sections (regional
// message, annotations) are there too; the header carries the pharmacist
// as author (with role code) and legal authenticator, a second pharmacist
// as authenticator, the data enterer, the prescriber and the prescription
// it fulfils.
//
// The staff are synthetic people drawn from the document id, so the same
// Document always gives the same document. A replacement (d.Version > 1
// with d.Replaces, an id root^extension) keeps the set id of the document
// it replaces.

func init() { registerNational("ErF_NoSSN", buildErFNoSSN) }

// erfPerson is a synthetic person of the pharmacy or the prescriber.
type erfPerson struct{ CF, Family, Given string }

// erfLine is one dispensed medicine.
type erfLine struct {
	N                   int
	AIC, Name           string
	ATC, ATCName        string
	Serial, Price, Cost string
	// The prescribed medicine, when another one was dispensed.
	Prescribed, PrescribedName, Reason, ReasonName string
}

type erfData struct {
	D                                  Document
	SetExt                             string
	ParentRoot, ParentExt              string
	ParentVersion                      int
	Birth                              string
	BirthCity                          erfCity
	TS, Dispensed, Entered, Prescribed string
	Colleague, Enterer, Prescriber     erfPerson
	NRE                                string
	Lines                              []erfLine
	Total                              string
}

// erfCity is a birthplace: the city and its ISTAT code.
type erfCity struct{ Name, County, ISTAT string }

// erfCities maps the cadastral codes synth's patients are born in.
var erfCities = map[string]erfCity{
	"H501": {"Roma", "RM", "058091"}, "F205": {"Milano", "MI", "015146"}, "F839": {"Napoli", "NA", "063049"},
	"A662": {"Bari", "BA", "072006"}, "L219": {"Torino", "TO", "001272"},
}

func buildErFNoSSN(d Document) []byte {
	rome := time.FixedZone("", 3600)
	end := d.Time.In(rome)
	ts := func(t time.Time) string { return t.Format("20060102150405-0700") }
	data := erfData{
		D: d, SetExt: d.LocalID, Birth: d.Patient.BirthDate.Format("20060102"), BirthCity: erfCities["H501"],
		TS: ts(end), Dispensed: ts(end.Add(-10 * time.Minute)), Entered: ts(end.Add(-8 * time.Minute)),
		Prescribed: ts(time.Date(end.Year(), end.Month(), end.Day()-3, 17, 20, 0, 0, rome)),
	}
	if len(d.Patient.CF) == 16 {
		if c, ok := erfCities[d.Patient.CF[11:15]]; ok {
			data.BirthCity = c
		}
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#erf"))
	rng := rand.New(rand.NewPCG(h.Sum64(), 9))
	data.Colleague, data.Enterer, data.Prescriber = erfStaff(rng), erfStaff(rng), erfStaff(rng)
	data.NRE = fmt.Sprintf("%sB%011d", d.Region, rng.Int64N(1e11))
	data.Lines = []erfLine{
		{N: 1, AIC: "031981069", Name: "PANTORC 20 mg 28 compresse gastroresistenti", ATC: "A02BC02", ATCName: "pantoprazolo",
			Serial: fmt.Sprintf("%09d", rng.IntN(1e9)), Price: "9.90", Cost: "0.00"},
		{N: 2, AIC: "027860042", Name: "ZITROMAX 500 mg 3 compresse rivestite", ATC: "J01FA10", ATCName: "azitromicina",
			Serial: fmt.Sprintf("%09d", rng.IntN(1e9)), Price: "11.43", Cost: "0.00",
			Prescribed: "J01FA10", PrescribedName: "azitromicina 500 mg, 3 compresse", Reason: "3", ReasonName: "Generico irreperibile"},
	}
	data.Total = "21.33"
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
		data.ParentVersion = max(d.Version-1, 1)
	}
	var out bytes.Buffer
	if err := erfTemplate.Execute(&out, data); err != nil {
		panic(fmt.Sprintf("synth: ErF_NoSSN template: %v", err)) // a bug, not input
	}
	return out.Bytes()
}

// erfStaff draws a synthetic adult, with a well-formed codice fiscale.
func erfStaff(rng *rand.Rand) erfPerson {
	p := Patient{Family: families[rng.IntN(len(families))], Gender: "M", Given: givenM[rng.IntN(len(givenM))]}
	if rng.IntN(2) == 0 {
		p.Gender, p.Given = "F", givenF[rng.IntN(len(givenF))]
	}
	p.BirthDate = time.Date(1960+rng.IntN(35), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	return erfPerson{CF: codiceFiscale(p, places[rng.IntN(len(places))], rng), Family: p.Family, Given: p.Given}
}

var erfTemplate = template.Must(template.New("ErF_NoSSN").Funcs(template.FuncMap{"x": xmlText}).Parse(`
{{- define "id"}}<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>{{end}}
{{- define "name"}}<name><family>{{x .Family}}</family><given>{{x .Given}}</given></name>{{end}}
{{- define "entity"}}<assignedEntity>{{template "id" .}}<assignedPerson>{{template "name" .}}</assignedPerson></assignedEntity>{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.13.2.1" extension="1.0"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="60593-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Erogazione Farmaceutica"/>
	<title>Erogazione farmaceutica non a carico del SSN (documento sintetico)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget>
		<patientRole>
			{{template "id" .D.Patient}}
			<addr use="H">
				<country>100</country>
				<county>{{x .BirthCity.County}}</county>
				<city>{{x .BirthCity.Name}}</city>
				<censusTract>{{x .BirthCity.ISTAT}}</censusTract>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="HP" value="tel:+390600000000"/>
			<patient>
				{{template "name" .D.Patient}}
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<county>{{x .BirthCity.County}}</county>
							<city>{{x .BirthCity.Name}}</city>
							<censusTract>{{x .BirthCity.ISTAT}}</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<code code="AS" codeSystem="2.16.840.1.113883.2.9.5.1.111" codeSystemName="RoleCodeIT" displayName="Farmacista"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Piazza della Farmacia Sintetica 4</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000050"/>
			<assignedPerson><name><family>Farmacista</family><given>Sintetico</given></name></assignedPerson>
			<representedOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Farmacia sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000050"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Piazza della Farmacia Sintetica 4</streetAddressLine>
				</addr>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.Entered}}"/>
		{{template "entity" .Enterer}}
	</dataEnterer>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Farmacia sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000050"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Piazza della Farmacia Sintetica 4</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<assignedPerson><name><family>Farmacista</family><given>Sintetico</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<authenticator>
		<time value="{{.Dispensed}}"/>
		<signatureCode code="S"/>
		{{template "entity" .Colleague}}
	</authenticator>
	<participant typeCode="REF">
		<functionCode code="PRSCR" codeSystem="2.16.840.1.113883.5.88" displayName="Medico prescrittore"/>
		<time value="{{.Prescribed}}"/>
		<associatedEntity classCode="PROV">
			{{template "id" .Prescriber}}
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via dello Studio Sintetico 2</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000030"/>
			<associatedPerson>{{template "name" .Prescriber}}</associatedPerson>
		</associatedEntity>
	</participant>
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Ordinaria"/>
		</order>
	</inFulfillmentOf>
{{- if .D.Replaces}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
			<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}"/>
			<versionNumber value="{{.ParentVersion}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<component>
		<structuredBody>
			<component>
				<section ID="erf-erogazione">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.936"/>
					<code code="60590-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Erogazione farmaceutica"/>
					<title>Erogazione farmaceutica non a carico del SSN</title>
					<text>
						<table>
							<thead><tr><th>AIC</th><th>Medicinale</th><th>Confezioni</th><th>Prezzo (EUR)</th><th>Note</th></tr></thead>
							<tbody>
{{- range .Lines}}
								<tr><td>{{x .AIC}}</td><td>{{x .Name}}</td><td>1</td><td>{{x .Price}}</td><td>{{if .Prescribed}}<content ID="erf-variazione-{{.N}}">Prescritto: {{x .PrescribedName}}; erogato il medicinale di marca ({{x .ReasonName}}).</content>{{end}}</td></tr>
{{- end}}
							</tbody>
						</table>
						<paragraph>Totale a carico dell'assistito: {{x .Total}} EUR.</paragraph>
					</text>
{{- range .Lines}}
					<entry>
						<supply classCode="SPLY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.937"/>
							<id root="2.16.840.1.113883.2.9.2.{{x $.D.Region}}.4.4" extension="{{x $.D.LocalID}}.{{.N}}"/>
							<quantity value="1"/>
							<effectiveTime value="{{$.Dispensed}}"/>
							<product>
								<manufacturedProduct>
									<id root="2.16.840.1.113883.2.9.6.1.5" extension="{{x .AIC}}{{x .Serial}}" assigningAuthorityName="Targatura"/>
									<manufacturedLabeledDrug>
										<code code="{{x .AIC}}" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="{{x .Name}}">
											<translation code="{{x .ATC}}" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="{{x .ATCName}}"/>
										</code>
									</manufacturedLabeledDrug>
								</manufacturedProduct>
							</product>
{{- if .Prescribed}}
							<entryRelationship typeCode="COMP">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.938"/>
									<code code="S" codeSystem="2.16.840.1.113883.3.1937.777.63.11.16" displayName="Sostituzione del medicinale prescritto"/>
									<text><reference value="#erf-variazione-{{.N}}"/></text>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.939"/>
											<code code="{{x .Reason}}" codeSystem="2.16.840.1.113883.2.9.6.1.53" codeSystemName="Motivazione sostituzione" displayName="{{x .ReasonName}}"/>
											<entryRelationship typeCode="COMP">
												<substanceAdministration classCode="SBADM" moodCode="RQO">
													<consumable>
														<manufacturedProduct>
															<manufacturedLabeledDrug>
																<code code="{{x .Prescribed}}" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="{{x .PrescribedName}}"/>
															</manufacturedLabeledDrug>
														</manufacturedProduct>
													</consumable>
												</substanceAdministration>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.818"/>
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
									<text><reference value="#erf-messaggio"/></text>
								</act>
							</entryRelationship>
{{- end}}
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.829"/>
									<code code="92033-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prezzo"/>
									<value xsi:type="MO" value="{{x .Price}}" currency="EUR"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.830"/>
									<code code="surcharge" codeSystem="2.16.840.1.113883.4.642.3.3093" codeSystemName="Invoice Price Component Type" displayName="Altri costi"/>
									<value xsi:type="MO" value="{{x .Cost}}" currency="EUR"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.813"/>
									<code code="3" codeSystem="2.16.840.1.113883.3.1937.777.63.11.25" codeSystemName="Regime di erogazione" displayName="Convenzionata"/>
								</observation>
							</entryRelationship>
						</supply>
					</entry>
{{- end}}
				</section>
			</component>
			<component>
				<section ID="erf-messaggio-regionale">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.816"/>
					<code code="51851-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
					<title>Messaggio regionale</title>
					<text><content ID="erf-messaggio">Medicinale erogato senza oneri per il Servizio sanitario regionale.</content></text>
				</section>
			</component>
			<component>
				<section ID="erf-annotazioni">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.815"/>
					<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni"/>
					<title>Annotazioni</title>
					<text>Consigliata l'assunzione dell'azitromicina lontano dai pasti; il pantoprazolo al mattino a digiuno.</text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
