package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"text/template"
	"time"
)

// The Referto di Anatomia Patologica (RAP, LOINC 11526-1, HL7 Italia
// template 2.16.840.1.113883.2.9.10.1.8.1): the pathology report of a
// right hemicolectomy for an adenocarcinoma of the ascending colon, with
// every section the national schematron has rules for — Notizie cliniche
// and its eight sub-sections (anamnesis with the family history,
// diagnostic question, allergies, previous tests, past drug and cancer
// therapies, previous procedures, imaging), Procedura (the specimen
// collection with its container, specimen and attached image),
// Osservazione macroscopica and microscopica, Stato del margine, Analisi
// supplementari, Epicrisi, Diagnosi (conclusive diagnosis, tumour
// classification and the tumour formula with pTNM and lymph nodes) and
// Ulteriori accertamenti — each with the entries, comments and notes its
// rules check.

func init() { registerNational("RAP", buildRAP) }

func buildRAP(d Document) []byte {
	rome := time.FixedZone("", 3600)
	ts := func(t time.Time) string { return t.In(rome).Format("20060102150405-0700") }
	day := func(t time.Time) string { return t.In(rome).Format("20060102") }
	home, ok := regionalCapitals[d.Region]
	if !ok {
		home = regionalCapitals["120"]
	}
	var born *reportPlace
	if len(d.Patient.CF) == 16 {
		if p, ok := cadastralBirthplaces[d.Patient.CF[11:15]]; ok {
			born = &p
		}
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID()))
	n := h.Sum64()
	author := reportStaff(d, "RAP", "patologo", genderOfCF(d.AuthorCF), 11)
	author.CF = d.AuthorCF
	setID := d.LocalID
	var parentRoot, parentExt string
	if d.Replaces != "" {
		parentRoot, parentExt, _ = strings.Cut(d.Replaces, "^")
		setID = parentExt
	}
	// The surgery ten days before the report, the specimen accepted 20
	// hours later; the history's dates count back from the surgery.
	surgery := d.Time.AddDate(0, 0, -10).Truncate(time.Hour)
	// past is a day of the history, never before the patient's birth nor
	// after the surgery.
	past := func(t time.Time) string {
		if lo := d.Patient.BirthDate.AddDate(0, 0, 1); t.Before(lo) {
			t = lo
		}
		if t.After(surgery) {
			t = surgery
		}
		return day(t)
	}
	data := map[string]any{
		"D": d, "TS": ts(d.Time), "Birth": d.Patient.BirthDate.Format("20060102"), "SetID": setID,
		"ParentRoot": parentRoot, "ParentExt": parentExt, "Home": home, "Born": born,
		"Street": fmt.Sprintf("Via della Prova %d", 1+n%180), "Phone": fmt.Sprintf("%07d", n%10000000),
		"Author": author, "Enterer": reportStaff(d, "RAP", "tecnico", "", 11), "Checker": reportStaff(d, "RAP", "patologo2", "", 11),
		"Referrer": reportStaff(d, "RAP", "chirurgo", "", 11), "Chief": reportStaff(d, "RAP", "direttore", "", 11), "Recipient": reportStaff(d, "RAP", "curante", "", 11),
		"NRE":     fmt.Sprintf("%sA4%010d", d.Region, n%10000000000),
		"Surgery": ts(surgery), "SurgeryEnd": ts(surgery.Add(150 * time.Minute)), "Accepted": ts(surgery.Add(20 * time.Hour)),
		"Reported": ts(d.Time.Add(-time.Hour)), "Colonoscopy": past(surgery.AddDate(0, -1, -3)), "CT": past(surgery.AddDate(0, 0, -20)),
		"Hypertension": past(surgery.AddDate(-8, 0, 0)), "Appendix": past(d.Patient.BirthDate.AddDate(19, 4, 0)),
		"Lymphoma": past(surgery.AddDate(-14, 2, 0)), "LymphomaEnd": past(surgery.AddDate(-14, 8, 0)),
		"Ramipril": past(surgery.AddDate(-8, 0, 10)), "Allergy": past(surgery.AddDate(-22, 0, 0)),
		"Case": fmt.Sprintf("AP-%d-%05d", surgery.Year(), n%100000),
	}
	var b bytes.Buffer
	if err := rapTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("synth: RAP template: %v", err)) // a bug, not input
	}
	return b.Bytes()
}

// rapImage is a 1x1 grey PNG: the images attached to the report.
const rapImage = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg=="

var rapTemplate = template.Must(template.New("RAP").Funcs(template.FuncMap{
	"x":   xmlText,
	"img": func() string { return rapImage },
	"at":  func(use string, p reportPlace, street string) reportAddr { return reportAddr{use, p, street} },
}).Parse(`
{{- define "addr"}}<addr use="{{.Use}}"><country>100</country><state>{{.P.Region}}</state><county>{{.P.Prov}}</county><city>{{x .P.City}}</city><censusTract>{{.P.Istat}}</censusTract>{{if .Street}}<streetAddressLine>{{x .Street}}</streetAddressLine>{{end}}</addr>{{end}}
{{- define "org"}}<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Presidio ospedaliero sintetico {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+39060{{.Phone}}"/>
				{{template "addr" (at "WP" .Home "Piazza del Collaudo 1")}}{{end}}
{{- define "specimen"}}<specimen typeCode="SPC">
									<specimenRole classCode="SPEC">
										<templateId root="2.16.840.1.113883.3.1937.777.63.10.174"/>
										<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.1" extension="{{x .Case}}-A"/>
									</specimenRole>
								</specimen>{{end}}
{{- define "media"}}<entryRelationship typeCode="COMP">
									<observationMedia classCode="OBS" moodCode="EVN">
										<templateId root="2.16.840.1.113883.3.1937.777.63.10.209"/>
										<value representation="B64" mediaType="image/png">{{img}}</value>
									</observationMedia>
								</entryRelationship>{{end}}
{{- define "comment"}}<entryRelationship typeCode="SUBJ">
									<act classCode="ACT" moodCode="EVN">
										<templateId root="2.16.840.1.113883.3.1937.777.63.10.166"/>
										<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
										<text>{{x .}}</text>
										<statusCode code="completed"/>
									</act>
								</entryRelationship>{{end}}
{{- define "note"}}<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.279"/>
							<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
							<text>{{x .}}</text>
						</act>
					</entry>{{end}}
{{- define "sectionAuthor"}}<author>
						<time value="{{.Reported}}"/>
						<assignedAuthor>
							<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
							<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
						</assignedAuthor>
					</author>{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.8.1" extension="1.3"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="11526-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pathology study"/>
	<title>Referto di anatomia patologica (documento sintetico)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetID}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="MEF"/>
			{{template "addr" (at "H" .Home .Street)}}
			<telecom use="HP" value="tel:+39333{{.Phone}}"/>
			<patient>
				<name><family>{{x .D.Patient.Family}}</family><given>{{x .D.Patient.Given}}</given></name>
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				{{- with .Born}}
				<birthplace><place><addr><country>100</country><state>{{.Region}}</state><county>{{.Prov}}</county><city>{{x .City}}</city><censusTract>{{.Istat}}</censusTract></addr></place></birthplace>
				{{- end}}
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="mailto:anatomia.patologica@example.org"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
			<representedOrganization>
				{{template "org" .}}
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.Reported}}"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Enterer.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><family>{{x .Enterer.Family}}</family><given>{{x .Enterer.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</dataEnterer>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				{{template "org" .}}
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<informationRecipient>
		<intendedRecipient>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Recipient.CF}}" assigningAuthorityName="MEF"/>
			<informationRecipient><name><family>{{x .Recipient.Family}}</family><given>{{x .Recipient.Given}}</given></name></informationRecipient>
		</intendedRecipient>
	</informationRecipient>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<authenticator>
		<time value="{{.Reported}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Checker.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><prefix>{{.Checker.Prefix}}</prefix><family>{{x .Checker.Family}}</family><given>{{x .Checker.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</authenticator>
	<participant typeCode="REF">
		<time value="{{.Surgery}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Referrer.CF}}" assigningAuthorityName="MEF"/>
			<associatedPerson><name><family>{{x .Referrer.Family}}</family><given>{{x .Referrer.Given}}</given></name></associatedPerson>
		</associatedEntity>
	</participant>
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="MEF"/>
			<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Routine"/>
		</order>
	</inFulfillmentOf>
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.2" extension="{{x .Case}}"/>
			<effectiveTime><low value="{{.Accepted}}"/><high value="{{.Reported}}"/></effectiveTime>
		</serviceEvent>
	</documentationOf>
{{- if .ParentExt}}
	<relatedDocument typeCode="RPLC">
		<parentDocument><id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/></parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter>
			<effectiveTime value="{{.Accepted}}"/>
			<responsibleParty>
				<assignedEntity>
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Chief.CF}}" assigningAuthorityName="MEF"/>
					<assignedPerson><name><prefix>{{.Chief.Prefix}}</prefix><family>{{x .Chief.Family}}</family><given>{{x .Chief.Given}}</given></name></assignedPerson>
				</assignedEntity>
			</responsibleParty>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}-AP" assigningAuthorityName="Ministero della Salute"/>
					<location><name>UOC Anatomia patologica (sintetica)</name></location>
					<serviceProviderOrganization>
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Presidio ospedaliero sintetico {{x .D.Org}}</name>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
			<component>
				<section ID="notizie">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.132"/>
					<code code="22636-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pathology report relevant history"/>
					<title>Notizie cliniche</title>
					<text>Paziente sottoposto a emicolectomia destra laparoscopica per neoformazione del colon ascendente documentata alla colonscopia. Documento sintetico: nessun dato reale.</text>
					{{template "sectionAuthor" .}}
					<component>
						<section ID="anamnesi">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.282"/>
							<code code="11329-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Anamnesi generale"/>
							<title>Anamnesi</title>
							<text>
								<paragraph><content ID="anam-1">Ipertensione arteriosa essenziale, cronica, in trattamento.</content></paragraph>
								<paragraph><content ID="anam-fam">Padre: carcinoma del colon diagnosticato a 68 anni, deceduto a 74 anni.</content></paragraph>
							</text>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.135"/>
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problem"/>
									<text><reference value="#anam-1"/></text>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.Hypertension}}"/></effectiveTime>
									<value xsi:type="CD" code="401.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipertensione essenziale non specificata"/>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.136"/>
											<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronicità"/>
											<value xsi:type="CD" code="LA28752-6" codeSystem="2.16.840.1.113883.2.9.77.22.11.10" codeSystemName="CronicitàProblema" displayName="Cronico"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.137"/>
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
											<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.2.9.77.22.11.7" codeSystemName="StatoClinicoProblema" displayName="Attivo"/>
										</observation>
									</entryRelationship>
								</observation>
							</entry>
							<entry>
								<organizer classCode="CLUSTER" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.138"/>
									<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di malattie di membri familiari"/>
									<statusCode code="completed"/>
									<subject>
										<relatedSubject classCode="PRS">
											<code code="FTH" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="Padre"/>
											<subject><administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/></subject>
										</relatedSubject>
									</subject>
									<component>
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.144"/>
											<code code="52797-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi codice ICD"/>
											<text><reference value="#anam-fam"/></text>
											<statusCode code="completed"/>
											<effectiveTime nullFlavor="UNK"/>
											<value xsi:type="CD" code="153.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Tumori maligni del colon, parte non specificata"/>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.145"/>
													<code code="35267-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età di insorgenza"/>
													<value xsi:type="IVL_PQ" value="68" unit="a"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.152"/>
													<code code="39016-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età di decesso"/>
													<value xsi:type="IVL_PQ" value="74" unit="a"/>
												</observation>
											</entryRelationship>
										</observation>
									</component>
								</organizer>
							</entry>
						</section>
					</component>
					<component>
						<section ID="quesito">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.130"/>
							<code code="42349-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo della richiesta"/>
							<title>Quesito diagnostico</title>
							<text>Neoformazione stenosante del colon ascendente: tipizzazione istologica e stadiazione.</text>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.131"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<value xsi:type="CD" code="239.0" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Tumori di natura non specificata dell'apparato digerente"/>
								</observation>
							</entry>
							{{template "note" "Richiesta esame estemporaneo non effettuata."}}
						</section>
					</component>
					<component>
						<section ID="allergie">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.155"/>
							<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e/o reazioni avverse"/>
							<title>Allergie</title>
							<text><paragraph><content ID="all-1">Allergia all'amoxicillina: orticaria generalizzata.</content></paragraph></text>
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.156"/>
									<code nullFlavor="NA"/>
									<statusCode code="active"/>
									<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.157"/>
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#all-1"/></text>
											<statusCode code="completed"/>
											<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
											<value xsi:type="CD" code="DALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia a farmaci"/>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Amoxicillina"/>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.163"/>
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<statusCode code="completed"/>
													<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
													<value xsi:type="CD" code="708.0" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Orticaria allergica"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.164"/>
													<code code="82606-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Criticità dell'allergia o intolleranza"/>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="CRITL" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="CriticalityObservation" displayName="Rischio basso"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="REFR">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.165"/>
													<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.2.9.77.22.11.7" codeSystemName="StatoClinicoAllergia" displayName="Attivo"/>
												</observation>
											</entryRelationship>
											{{template "comment" "Evitare le aminopenicilline."}}
										</observation>
									</entryRelationship>
								</act>
							</entry>
							{{template "note" "Nessuna allergia nota a mezzi di contrasto o lattice."}}
						</section>
					</component>
					<component>
						<section ID="esami">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.167"/>
							<code code="67803-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Precedenti esami eseguiti"/>
							<title>Precedenti esami eseguiti</title>
							<text>Colonscopia: neoformazione vegetante e stenosante del colon ascendente, sottoposta a biopsie.</text>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.168"/>
									<code code="18746-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Colonscopia"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Colonoscopy}}"/>
									<value xsi:type="ST">Neoformazione vegetante del colon ascendente; biopsie: adenocarcinoma.</value>
								</observation>
							</entry>
							{{template "note" "Referto colonscopico allegato alla richiesta."}}
						</section>
					</component>
					<component>
						<section ID="farmaci">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.169"/>
							<code code="8677-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di uso di farmaci"/>
							<title>Terapie farmacologiche pregresse</title>
							<text>Ramipril 5 mg una volta al giorno.</text>
							<entry>
								<substanceAdministration classCode="SBADM" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.170"/>
									<statusCode code="active"/>
									<effectiveTime xsi:type="IVL_TS"><low value="{{.Ramipril}}"/></effectiveTime>
									<consumable typeCode="CSM">
										<manufacturedProduct classCode="MANU">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.171"/>
											<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
												<templateId root="2.16.840.1.113883.3.1937.777.63.10.172"/>
												<code code="C09AA05" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Ramipril"/>
											</manufacturedMaterial>
										</manufacturedProduct>
									</consumable>
								</substanceAdministration>
							</entry>
							{{template "note" "Terapia sospesa il giorno dell'intervento."}}
						</section>
					</component>
					<component>
						<section ID="oncologica">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.175"/>
							<code code="103567-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia oncologica pregressa"/>
							<title>Terapia oncologica pregressa</title>
							<text>Linfoma di Hodgkin trattato con chemioterapia ABVD e radioterapia di consolidamento, in remissione completa.</text>
							<entry>
								<substanceAdministration classCode="SBADM" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.170"/>
									<statusCode code="completed"/>
									<effectiveTime xsi:type="IVL_TS"><low value="{{.Lymphoma}}"/><high value="{{.LymphomaEnd}}"/></effectiveTime>
									<consumable typeCode="CSM">
										<manufacturedProduct classCode="MANU">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.171"/>
											<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
												<templateId root="2.16.840.1.113883.3.1937.777.63.10.172"/>
												<code code="L01DB01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Doxorubicina"/>
											</manufacturedMaterial>
										</manufacturedProduct>
									</consumable>
								</substanceAdministration>
							</entry>
							<entry>
								<procedure classCode="PROC" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.183"/>
									<code code="92.24" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Teleradioterapia con fotoni"/>
									<effectiveTime><low value="{{.LymphomaEnd}}"/></effectiveTime>
								</procedure>
							</entry>
							{{template "note" "Ultimo controllo ematologico negativo."}}
						</section>
					</component>
					<component>
						<section ID="procedure">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.180"/>
							<code code="47519-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di procedure"/>
							<title>Precedenti trattamenti e procedure chirurgiche e diagnostiche</title>
							<text>Appendicectomia in giovane età.</text>
							<entry>
								<procedure classCode="PROC" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.183"/>
									<code code="47.09" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Altra appendicectomia"/>
									<effectiveTime value="{{.Appendix}}"/>
								</procedure>
							</entry>
							{{template "note" "Decorso post-operatorio regolare."}}
						</section>
					</component>
					<component>
						<section ID="imaging">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.184"/>
							<code code="55114-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Precedenti procedure di imaging"/>
							<title>Indagini radiologiche</title>
							<text>TC torace-addome con mezzo di contrasto di stadiazione: ispessimento parietale del colon ascendente, non lesioni secondarie.</text>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.186"/>
									<code code="36813-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="TC addome e pelvi con mezzo di contrasto"/>
									<text>TC di stadiazione pre-operatoria.</text>
									<statusCode code="completed"/>
									<effectiveTime value="{{.CT}}"/>
									<value xsi:type="ST">Ispessimento parietale del colon ascendente; non lesioni epatiche o polmonari.</value>
								</observation>
							</entry>
							{{template "note" "Immagini disponibili nel PACS aziendale."}}
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="procedura">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.142"/>
					<code code="29300-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Procedura"/>
					<title>Procedura</title>
					<text>Emicolectomia destra laparoscopica; pezzo operatorio inviato in formalina (campione {{x .Case}}-A).</text>
					<entry>
						<procedure classCode="PROC" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.143"/>
							<code code="94331-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Procedura di raccolta del campione"/>
							<effectiveTime><low value="{{.Surgery}}"/><high value="{{.SurgeryEnd}}"/></effectiveTime>
							<methodCode code="65801008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Escissione"/>
							<approachSiteCode code="113345001" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Addome"/>
							<targetSiteCode code="9040008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Colon ascendente"/>
							<specimen typeCode="SPC">
								<specimenRole classCode="SPEC">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.259"/>
									<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.1" extension="{{x .Case}}-A"/>
									<specimenPlayingEntity><code code="119376003" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Campione di tessuto"/></specimenPlayingEntity>
								</specimenRole>
							</specimen>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.251"/>
									<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.3" extension="{{x .Case}}-C1"/>
									<code code="74384-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Contenitore del campione"/>
									<statusCode code="completed"/>
								</supply>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="66746-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Tipo di campione"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" code="119376003" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Campione di tessuto"/>
									{{template "specimen" .}}
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observationMedia classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.257"/>
									<value representation="B64" mediaType="image/png">{{img}}</value>
								</observationMedia>
							</entryRelationship>
							{{template "comment" "Tempo di ischemia fredda inferiore a 30 minuti."}}
						</procedure>
					</entry>
					{{template "note" "Campione accettato integro, fissato in formalina tamponata al 10%."}}
				</section>
			</component>
			<component>
				<section ID="macro">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.149"/>
					<code code="22634-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione macroscopica"/>
					<title>Osservazione macroscopica</title>
					<text>Segmento di colon destro di 24 cm con ileo terminale di 6 cm; a 8 cm dalla valvola ileo-ciecale neoformazione ulcerata di 4,2 x 3,5 cm, a 6 cm dal margine distale.</text>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="22634-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione macroscopica"/>
							<statusCode code="completed"/>
							<component typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="22634-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione macroscopica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Accepted}}"/>
									<value xsi:type="ST">Neoformazione ulcerata di 4,2 x 3,5 cm del colon ascendente, infiltrante la parete.</value>
									<targetSiteCode code="9040008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Colon ascendente"/>
									{{template "specimen" .}}
									{{template "media" .}}
									{{template "comment" "Campionamento totale della neoformazione (blocchetti A1-A6)."}}
								</observation>
							</component>
						</organizer>
					</entry>
					{{template "note" "Isolati 18 linfonodi dal tessuto adiposo pericolico."}}
				</section>
			</component>
			<component>
				<section ID="micro">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.193"/>
					<code code="22635-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione microscopica"/>
					<title>Osservazione microscopica</title>
					<text>Adenocarcinoma moderatamente differenziato (G2) infiltrante la sottosierosa; invasione linfovascolare presente, perineurale assente.</text>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="102034-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione microscopica"/>
							<statusCode code="completed"/>
							<component typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="22635-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Osservazione microscopica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Reported}}"/>
									<value xsi:type="ST">Adenocarcinoma infiltrante la sottosierosa con invasione linfovascolare.</value>
									{{template "specimen" .}}
									{{template "media" .}}
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
											<code code="33732-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Grado istologico"/>
											<statusCode code="completed"/>
											<value xsi:type="ST">G2 - moderatamente differenziato</value>
										</observation>
									</entryRelationship>
									{{template "comment" "Tumor budding di basso grado (Bd1)."}}
								</observation>
							</component>
						</organizer>
					</entry>
					{{template "note" "Mucosa non neoplastica con iperplasia linfoide."}}
				</section>
			</component>
			<component>
				<section ID="margine">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.190"/>
					<code code="33755-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del margine"/>
					<title>Stato del margine</title>
					<text>Margini di resezione prossimale, distale e radiale indenni; distanza minima dal margine radiale 35 mm.</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.196"/>
							<code code="33738-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del margine"/>
							<statusCode code="completed"/>
							<value xsi:type="IVL_PQ" value="35" unit="mm"/>
							{{template "comment" "Margine radiale valutato su sezioni seriate."}}
						</observation>
					</entry>
					{{template "note" "Margini chinati con inchiostro di china."}}
				</section>
			</component>
			<component>
				<section ID="supplementari">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.197"/>
					<code code="22639-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Analisi supplementari"/>
					<title>Analisi supplementari dei campioni</title>
					<text>Immunoistochimica per le proteine del mismatch repair: espressione nucleare conservata di MLH1, PMS2, MSH2 e MSH6 (pMMR).</text>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="22639-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Analisi supplementari"/>
							<statusCode code="completed"/>
							<component typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="22639-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunoistochimica MMR"/>
									<statusCode code="completed"/>
									<value xsi:type="ST">MLH1, PMS2, MSH2, MSH6: espressione conservata (pMMR)</value>
									{{template "specimen" .}}
								</observation>
							</component>
						</organizer>
					</entry>
					{{template "note" "Test molecolari RAS/BRAF richiesti su blocchetto A3."}}
				</section>
			</component>
			<component>
				<section ID="epicrisi">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.211"/>
					<code code="85691-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Epicrisi"/>
					<title>Epicrisi</title>
					<text>Quadro morfologico e immunoistochimico compatibile con adenocarcinoma del colon ascendente, stadio pT3 pN1.</text>
					{{template "note" "Caso discusso in riunione multidisciplinare."}}
				</section>
			</component>
			<component>
				<section ID="diagnosi">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.176"/>
					<code code="22637-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
					<title>Diagnosi</title>
					<text>Adenocarcinoma moderatamente differenziato (G2) del colon ascendente, infiltrante la sottosierosa (pT3), con metastasi in 2 dei 18 linfonodi isolati (pN1). Margini indenni.</text>
					{{template "sectionAuthor" .}}
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
							<statusCode code="completed"/>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" code="153.6" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Tumori maligni del colon ascendente"/>
									<targetSiteCode code="9040008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Colon ascendente"/>
									{{template "specimen" .}}
									{{template "comment" "Diagnosi confermata da secondo patologo."}}
								</observation>
							</component>
						</organizer>
					</entry>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="22036-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Classificazione del tumore"/>
							<statusCode code="completed"/>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="59847-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Istologia e comportamento ICD-O-3"/>
									<statusCode code="completed"/>
									<value xsi:type="ST">8140/3 Adenocarcinoma NAS</value>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.150"/>
									<code code="33732-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Grado istologico"/>
									<statusCode code="completed"/>
									<value xsi:type="ST">G2</value>
								</observation>
							</component>
						</organizer>
					</entry>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<code code="22640-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Formula del tumore"/>
							<statusCode code="completed"/>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.217"/>
									<code code="59541-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Formula del tumore TNM"/>
									<statusCode code="completed"/>
									<value xsi:type="ST">pT3 pN1 (2/18) cM0 - AJCC 8a edizione</value>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.218"/>
											<code code="21902-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Fase di rilevamento del TNM"/>
											<value xsi:type="CD" code="897275008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Stadiazione patologica AJCC 8a edizione"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.222"/>
											<code code="21899-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Tumore primitivo (pT)"/>
											<value xsi:type="CD" code="1229859000" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="AJCC pT3"/>
											<targetSiteCode code="9040008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Colon ascendente"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.222"/>
											<code code="21900-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Linfonodi regionali (pN)"/>
											<value xsi:type="CD" code="1229973008" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="AJCC pN1"/>
										</observation>
									</entryRelationship>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.226"/>
									<code code="21894-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Linfonodi regionali esaminati"/>
									<text>18 linfonodi isolati, 2 metastatici.</text>
									<statusCode code="completed"/>
									<value xsi:type="IVL_PQ" value="18" unit="1"/>
									<targetSiteCode code="59441001" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Linfonodo"/>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.214"/>
											<code code="85351-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dimensione massima del deposito metastatico"/>
											<statusCode code="completed"/>
											<value xsi:type="IVL_PQ" value="4" unit="mm"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.216"/>
											<code code="21893-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Linfonodi regionali positivi"/>
											<statusCode code="completed"/>
											<value xsi:type="IVL_PQ" value="2" unit="1"/>
										</observation>
									</entryRelationship>
									{{template "comment" "Assenza di estensione extranodale."}}
								</observation>
							</component>
						</organizer>
					</entry>
					{{template "note" "Stadio patologico IIIB secondo AJCC 8a edizione."}}
				</section>
			</component>
			<component>
				<section ID="accertamenti">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.220"/>
					<code code="62385-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Ulteriori accertamenti diagnostici"/>
					<title>Ulteriori accertamenti diagnostici</title>
					<text>Si consigliano la determinazione dello stato mutazionale di KRAS, NRAS e BRAF e la valutazione oncologica.</text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
