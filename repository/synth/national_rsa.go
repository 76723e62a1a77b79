package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strings"
	"text/template"
	"time"
)

// The Referto di Specialistica Ambulatoriale (RSA, LOINC 11488-4 "Nota di
// consulto", HL7 Italia template 2.16.840.1.113883.2.9.10.1.9.1): the
// report of a follow-up cardiology visit with an electrocardiogram, for
// a patient with essential hypertension. It has every section the
// national schematron knows — Quesito diagnostico, Storia clinica (coded
// and uncoded problems with chronicity and status, the family history,
// and the Allergie and Terapia farmacologica in atto sub-sections),
// Precedenti esami eseguiti, Esame obiettivo, Prestazioni, Confronto con
// precedenti esami, Referto, Diagnosi, Conclusioni, Suggerimenti per il
// medico prescrittore, Accertamenti e controlli consigliati and Terapia
// farmacologica consigliata — with the entries their rules check.

func init() { registerNational("RSA", buildRSA) }

func buildRSA(d Document) []byte {
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
	author := reportStaff(d, "RSA", "cardiologo", genderOfCF(d.AuthorCF), 13)
	author.CF = d.AuthorCF
	setID := d.LocalID
	var parentRoot, parentExt string
	if d.Replaces != "" {
		parentRoot, parentExt, _ = strings.Cut(d.Replaces, "^")
		setID = parentExt
	}
	// The visit ends half an hour before the report is signed; the
	// history's dates count back from it.
	visit := d.Time.Add(-90 * time.Minute).Truncate(time.Minute)
	// past is a day of the history, never before the patient's birth nor
	// after the visit.
	past := func(t time.Time) string {
		if lo := d.Patient.BirthDate.AddDate(0, 0, 1); t.Before(lo) {
			t = lo
		}
		if t.After(visit) {
			t = visit
		}
		return day(t)
	}
	data := map[string]any{
		"D": d, "TS": ts(d.Time), "Birth": d.Patient.BirthDate.Format("20060102"), "SetID": setID,
		"ParentRoot": parentRoot, "ParentExt": parentExt, "Home": home, "Born": born,
		"Street": fmt.Sprintf("Via della Prova %d", 1+n%180), "Phone": fmt.Sprintf("%07d", n%10000000),
		"Author": author, "Nurse": reportStaff(d, "RSA", "infermiere", "", 13), "GP": reportStaff(d, "RSA", "curante", "", 13),
		"NRE":   fmt.Sprintf("%sA4%010d", d.Region, n%10000000000),
		"Visit": ts(visit), "VisitEnd": ts(visit.Add(time.Hour)), "ECG": ts(visit.Add(25 * time.Minute)),
		"Request": ts(visit.AddDate(0, -1, 0)), "Hypertension": past(visit.AddDate(-6, -2, 0)),
		"Gastritis": past(visit.AddDate(-4, 1, 0)), "GastritisEnd": past(visit.AddDate(-4, 4, 0)),
		"Palpitations": past(visit.AddDate(0, -2, -10)), "Allergy": past(visit.AddDate(-15, 0, 0)),
		"Ramipril": past(visit.AddDate(-6, -1, 0)), "Labs": past(visit.AddDate(0, 0, -12)),
		"Echo": day(visit.AddDate(0, 3, 0)), "Therapy": day(visit.AddDate(0, 0, 1)), "TherapyEnd": day(visit.AddDate(0, 6, 1)),
	}
	var b bytes.Buffer
	if err := rsaTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("synth: RSA template: %v", err)) // a bug, not input
	}
	return b.Bytes()
}

var rsaTemplate = template.Must(template.New("RSA").Funcs(template.FuncMap{
	"x":  xmlText,
	"at": func(use string, p reportPlace, street string) reportAddr { return reportAddr{use, p, street} },
}).Parse(`
{{- define "addr"}}<addr use="{{.Use}}"><country>100</country><state>{{.P.Region}}</state><county>{{.P.Prov}}</county><city>{{x .P.City}}</city><censusTract>{{.P.Istat}}</censusTract><streetAddressLine>{{x .Street}}</streetAddressLine></addr>{{end}}
{{- define "org"}}<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Poliambulatorio sintetico {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+39060{{.Phone}}"/>
				{{template "addr" (at "WP" .Home "Piazza del Collaudo 2")}}{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.9.1" extension="1.1"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="11488-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Nota di consulto"/>
	<title>Referto di specialistica ambulatoriale - cardiologia (documento sintetico)</title>
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
			<telecom use="WP" value="mailto:cardiologia@example.org"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
			<representedOrganization>
				{{template "org" .}}
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.VisitEnd}}"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Nurse.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><family>{{x .Nurse.Family}}</family><given>{{x .Nurse.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</dataEnterer>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				{{template "org" .}}
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
	<participant typeCode="REF">
		<time value="{{.Request}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .GP.CF}}" assigningAuthorityName="MEF"/>
			{{template "addr" (at "WP" .Home "Via dei Medici di Famiglia 3")}}
			<associatedPerson><name><prefix>{{.GP.Prefix}}</prefix><family>{{x .GP.Family}}</family><given>{{x .GP.Given}}</given></name></associatedPerson>
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
			<code code="PROG" codeSystem="2.16.840.1.113883.2.9.5.1.4" codeSystemName="ActCode" displayName="Accesso programmato"/>
			<effectiveTime><low value="{{.Visit}}"/><high value="{{.VisitEnd}}"/></effectiveTime>
			<performer typeCode="PRF">
				<assignedEntity>
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
					<assignedPerson><name><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
				</assignedEntity>
			</performer>
		</serviceEvent>
	</documentationOf>
{{- if .ParentExt}}
	<relatedDocument typeCode="RPLC">
		<parentDocument><id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/></parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter>
			<effectiveTime><low value="{{.Visit}}"/><high value="{{.VisitEnd}}"/></effectiveTime>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}-CARD" assigningAuthorityName="Ministero della Salute"/>
					<location><name>Ambulatorio di cardiologia (sintetico)</name></location>
					<serviceProviderOrganization>
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Poliambulatorio sintetico {{x .D.Org}}</name>
						<asOrganizationPartOf>
							<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .D.Region}}901" assigningAuthorityName="Ministero della Salute"/>
						</asOrganizationPartOf>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
			<component>
				<section ID="quesito">
					<code code="29299-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo della visita"/>
					<title>Quesito diagnostico</title>
					<text>Controllo cardiologico in ipertensione arteriosa; palpitazioni recenti. Documento sintetico: nessun dato reale.</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="29298-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo della visita"/>
							<value xsi:type="CD" code="785.1" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Palpitazioni"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="storia">
					<code code="11329-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia generale"/>
					<title>Storia clinica</title>
					<text>
						<paragraph><content ID="prob-1">Ipertensione arteriosa essenziale in trattamento</content>.</paragraph>
						<paragraph><content ID="prob-2">Gastrite acuta, risolta</content>.</paragraph>
						<paragraph><content ID="prob-3">Episodi di cardiopalmo serale, non documentati</content>.</paragraph>
						<paragraph><content ID="fam-1">Madre: infarto miocardico acuto a 62 anni.</content></paragraph>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Hypertension}}"/></effectiveTime>
							<value xsi:type="CD" code="401.1" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipertensione essenziale benigna">
								<originalText><reference value="#prob-1"/></originalText>
							</value>
							<entryRelationship typeCode="REFR">
								<observation classCode="OBS" moodCode="EVN">
									<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronicità"/>
									<value xsi:type="CD" code="LA28752-6" codeSystem="2.16.840.1.113883.2.9.77.22.11.10" codeSystemName="CronicitàProblema" displayName="Cronico"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<observation classCode="OBS" moodCode="EVN">
									<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
									<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.2.9.77.22.11.7" codeSystemName="StatoClinicoProblema" displayName="Attivo"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Gastritis}}"/><high value="{{.GastritisEnd}}"/></effectiveTime>
							<value xsi:type="CD" code="535.00" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Gastrite acuta senza emorragia"/>
							<entryRelationship typeCode="REFR">
								<observation classCode="OBS" moodCode="EVN">
									<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronicità"/>
									<value xsi:type="CD" code="LA18821-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Acuto"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<observation classCode="OBS" moodCode="EVN">
									<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
									<value xsi:type="CD" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Palpitations}}"/></effectiveTime>
							<value xsi:type="CD" nullFlavor="OTH"><originalText><reference value="#prob-3"/></originalText></value>
						</observation>
					</entry>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di malattie di membri familiari"/>
							<statusCode code="completed"/>
							<subject>
								<relatedSubject classCode="PRS">
									<code code="MTH" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="Madre"/>
									<subject><administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/></subject>
								</relatedSubject>
							</subject>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<code code="52797-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi codice ICD"/>
									<text><reference value="#fam-1"/></text>
									<statusCode code="completed"/>
									<effectiveTime nullFlavor="UNK"/>
									<value xsi:type="CD" code="410.90" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Infarto miocardico acuto di sede non specificata"/>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="35267-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età di insorgenza"/>
											<value xsi:type="PQ" value="62" unit="a"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="39016-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età di decesso"/>
											<value xsi:type="PQ" value="79" unit="a"/>
										</observation>
									</entryRelationship>
								</observation>
							</component>
						</organizer>
					</entry>
					<component>
						<section ID="allergie">
							<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e/o reazioni avverse"/>
							<title>Allergie</title>
							<text>
								<paragraph><content ID="all-1">Allergia al lattice</content>: <content ID="all-1-r">dermatite da contatto</content>, <content ID="all-1-c">criticità bassa</content>.</paragraph>
							</text>
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<code nullFlavor="NA"/>
									<statusCode code="active"/>
									<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#all-1"/></text>
											<statusCode code="completed"/>
											<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
											<value xsi:type="CD" code="ALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia"/>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code code="111088007" codeSystem="2.16.840.1.113883.2.9.77.22.11.2" codeSystemName="AllergenNoDrugs" displayName="Lattice"/>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST">
												<observation classCode="OBS" moodCode="EVN">
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<statusCode code="completed"/>
													<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
													<value xsi:type="CD" code="692.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Dermatite da contatto ed altri eczemi, da causa non specificata">
														<originalText><reference value="#all-1-r"/></originalText>
													</value>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Criticità"/>
													<text><reference value="#all-1-c"/></text>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="CRITL" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="CriticalityObservation" displayName="Rischio basso"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="REFR">
												<observation classCode="OBS" moodCode="EVN">
													<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<act classCode="ACT" moodCode="EVN">
													<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
													<text>Utilizzare guanti in nitrile per le procedure.</text>
												</act>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
					<component>
						<section ID="terapia-in-atto">
							<code code="10160-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Uso di farmaci"/>
							<title>Terapia farmacologica in atto</title>
							<text>Ramipril 5 mg, una compressa al mattino.</text>
							<entry>
								<substanceAdministration classCode="SBADM" moodCode="EVN">
									<statusCode code="active"/>
									<effectiveTime xsi:type="IVL_TS"><low value="{{.Ramipril}}"/></effectiveTime>
									<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Orale"/>
									<doseQuantity value="1"/>
									<consumable>
										<manufacturedProduct classCode="MANU">
											<manufacturedMaterial>
												<code code="C09AA05" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Ramipril">
													<translation code="012345678" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="Ramipril 5 mg 28 compresse (AIC di prova)"/>
												</code>
											</manufacturedMaterial>
										</manufacturedProduct>
									</consumable>
								</substanceAdministration>
							</entry>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="esami">
					<code code="30954-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Test diagnostici o dati di laboratorio rilevanti"/>
					<title>Precedenti esami eseguiti</title>
					<text>Colesterolo totale 212 mg/dL, colesterolo HDL 48 mg/dL, creatinina 0,9 mg/dL.</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="2093-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Colesterolo totale"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Labs}}"/>
							<value xsi:type="PQ" value="212" unit="mg/dL"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="2085-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Colesterolo HDL"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Labs}}"/>
							<value xsi:type="PQ" value="48" unit="mg/dL"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="2160-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Creatinina"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Labs}}"/>
							<value xsi:type="PQ" value="0.9" unit="mg/dL"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="obiettivo">
					<code code="29545-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame obiettivo"/>
					<title>Esame obiettivo</title>
					<text>Buone condizioni generali. Toni cardiaci validi, ritmici, pause libere. Murmure vescicolare conservato. Non edemi declivi. PA 138/86 mmHg.</text>
				</section>
			</component>
			<component>
				<section ID="prestazioni">
					<code code="62387-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Interventi"/>
					<title>Prestazioni</title>
					<text>Visita cardiologica di controllo; elettrocardiogramma a 12 derivazioni.</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="89.7" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Visita generale"/>
							<effectiveTime value="{{.Visit}}"/>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code code="8480-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pressione arteriosa sistolica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Visit}}"/>
									<value xsi:type="PQ" value="138" unit="mm[Hg]"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code code="8462-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pressione arteriosa diastolica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Visit}}"/>
									<value xsi:type="PQ" value="86" unit="mm[Hg]"/>
								</observation>
							</entryRelationship>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="89.52" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Elettrocardiogramma"/>
							<effectiveTime value="{{.ECG}}"/>
							<entryRelationship typeCode="COMP">
								<procedure classCode="PROC" moodCode="EVN">
									<code code="29303009" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Elettrocardiografia"/>
									<effectiveTime value="{{.ECG}}"/>
								</procedure>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code code="8867-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Frequenza cardiaca"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.ECG}}"/>
									<value xsi:type="PQ" value="68" unit="/min"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<act classCode="ACT" moodCode="EVN">
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
									<text>Tracciato registrato a riposo, in posizione supina.</text>
								</act>
							</entryRelationship>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="confronto">
					<code code="93126-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Confronto con precedenti esami eseguiti"/>
					<title>Confronto con precedenti esami eseguiti</title>
					<text>Rispetto all'elettrocardiogramma dell'anno precedente non si rilevano variazioni significative.</text>
				</section>
			</component>
			<component>
				<section ID="referto">
					<code code="47045-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Referto"/>
					<title>Referto</title>
					<text>ECG: ritmo sinusale a 68 bpm, PR 160 ms, QRS 90 ms, QTc 410 ms; asse elettrico nei limiti; non alterazioni della ripolarizzazione. Valori pressori non ancora a target.</text>
				</section>
			</component>
			<component>
				<section ID="diagnosi">
					<code code="29548-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
					<title>Diagnosi</title>
					<text>Ipertensione arteriosa essenziale non adeguatamente controllata. Cardiopalmo in assenza di aritmie documentate.</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
							<statusCode code="completed"/>
							<value xsi:type="CD" code="401.1" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipertensione essenziale benigna"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="conclusioni">
					<code code="55110-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Conclusioni"/>
					<title>Conclusioni</title>
					<text>Si potenzia la terapia antipertensiva con amlodipina; controllo pressorio domiciliare.</text>
				</section>
			</component>
			<component>
				<section ID="suggerimenti">
					<code code="62385-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Raccomandazioni"/>
					<title>Suggerimenti per il medico prescrittore</title>
					<text>Rivalutare funzionalità renale ed elettroliti dopo un mese dalla modifica della terapia.</text>
				</section>
			</component>
			<component>
				<section ID="accertamenti">
					<code code="80615-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Follow-up consigliato"/>
					<title>Accertamenti e controlli consigliati</title>
					<text>Ecocardiogramma transtoracico entro tre mesi; monitoraggio Holter ECG delle 24 ore se persiste il cardiopalmo.</text>
					<entry>
						<act classCode="ACT" moodCode="PRP">
							<code code="88.72" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Diagnostica ecografica del cuore"/>
							<effectiveTime value="{{.Echo}}"/>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="PRP">
							<code code="89.50" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Monitoraggio cardiaco ambulatoriale"/>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="terapia-consigliata">
					<code code="93341-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Farmaci consigliati"/>
					<title>Terapia farmacologica consigliata</title>
					<text>Amlodipina 5 mg, una compressa la sera, in aggiunta al ramipril, per sei mesi.</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="PRP">
							<effectiveTime xsi:type="IVL_TS"><low value="{{.Therapy}}"/><high value="{{.TherapyEnd}}"/></effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="24" unit="h"/></effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Orale"/>
							<doseQuantity value="1"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial>
										<code code="C08CA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Amlodipina">
											<translation code="012345680" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="Amlodipina 5 mg 28 compresse (AIC di prova)"/>
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<participant typeCode="REF">
								<participantRole>
									<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
									<playingEntity><name><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></playingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code code="C08CA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Dosaggio del principio attivo"/>
									<value xsi:type="PQ" value="5" unit="mg"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<quantity value="7"/>
								</supply>
							</entryRelationship>
						</substanceAdministration>
					</entry>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
