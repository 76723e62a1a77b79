package synth

import (
	"hash/fnv"
	"math/big"
	"strings"
	"text/template"
	"time"
)

// Referto di Radiologia (RAD, LOINC 68604-8): the report of a chest
// X-ray in two views. The header has the PACS-less patient identifier the
// national rules allow (nullFlavor), the author and data enterer, the
// referring physician, the order it fulfils (an NRE), the service event
// with its performing technician, the encounter's responsible radiologist
// and place. The body has every section the RAD schematron knows: the
// DICOM object catalogue (study, series, image), the clinical question
// (ICD-9-CM), the clinical history (a coded and an uncoded problem with
// their chronicity and state, the family history, and the allergies
// sub-section with a drug allergy and a non-coded latex intolerance), the
// previous examinations, the examination performed, the report, the
// conclusions, additional information, complications and advice to the
// prescriber. The document id is d.ID(); the DICOM UIDs are 2.25 UIDs
// derived from it.

func init() { registerNational("RAD", buildRAD) }

type radData struct {
	D                        Document
	SetExt                   string
	ParentRoot, ParentExt    string
	TS, ExamTS, Birth        string
	PrevTS, OrderTS          string
	PrevDay, ExamDay         string
	HistLow, HistHigh        string
	AllergyLow, AllergyHigh  string
	FamilyTS                 string
	NRE                      string
	StudyUID, SeriesUID, SOP string
}

func buildRAD(d Document) []byte {
	rome := time.FixedZone("", 3600)
	t := d.Time.In(rome)
	const ts = "20060102150405-0700"
	data := radData{
		D: d, SetExt: d.LocalID,
		TS: t.Format(ts), ExamTS: t.Add(-90 * time.Minute).Format(ts), Birth: d.Patient.BirthDate.Format("20060102"),
		PrevTS: t.AddDate(-1, -2, 0).Format(ts), OrderTS: t.AddDate(0, 0, -7).Format(ts),
		HistLow: t.AddDate(-6, 0, 0).Format("20060102"), HistHigh: t.AddDate(0, 0, -3).Format("20060102"),
		AllergyLow: t.AddDate(-12, 0, 0).Format("20060102"), AllergyHigh: t.AddDate(-2, 0, 0).Format("20060102"),
		FamilyTS: t.AddDate(-10, 0, 0).Format("20060102"),
		PrevDay:  t.AddDate(-1, -2, 0).Format("02/01/2006"), ExamDay: t.Add(-90 * time.Minute).Format("02/01/2006 15:04"),
		NRE:      d.Region + "A" + radDigits(d, "nre", 11),
		StudyUID: radUID(d, "study"), SeriesUID: radUID(d, "series"), SOP: radUID(d, "image"),
	}
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
	}
	return prfRender(radTemplate, data)
}

// radUID is a DICOM UID under 2.25 (a UUID as a decimal integer),
// derived from the document's id and a salt.
func radUID(d Document, salt string) string {
	h := fnv.New128a()
	h.Write([]byte(d.ID() + "#" + salt))
	return "2.25." + new(big.Int).SetBytes(h.Sum(nil)).String()
}

// radDigits is n decimal digits derived from the document's id and a
// salt.
func radDigits(d Document, salt string, n int) string {
	s := radUID(d, salt)[len("2.25."):]
	for len(s) < n {
		s = "0" + s
	}
	return s[len(s)-n:]
}

var radTemplate = template.Must(template.New("RAD").Funcs(template.FuncMap{"x": xmlText}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.7.1" extension="1.1"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="68604-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Referto radiologico"/>
	<title>Referto radiologico (documento sintetico)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget typeCode="RCT" contextControlCode="OP">
		<patientRole classCode="PAT">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<id nullFlavor="NI"/>
			<addr use="H">
				<country>100</country>
				<county>RM</county>
				<city>Roma</city>
				<censusTract>058091</censusTract>
				<postalCode>00100</postalCode>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="HP" value="tel:+390600000000"/>
			<patient classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>{{x .D.Patient.Family}}</family>
					<given>{{x .D.Patient.Given}}</given>
				</name>
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<city>Roma</city>
							<censusTract>058091</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author typeCode="AUT" contextControlCode="OP">
		<time value="{{.TS}}"/>
		<assignedAuthor classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via della Radiologia Sintetica 5</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000005"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Radiologo</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
			<representedOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer typeCode="ENT" contextControlCode="OP">
		<time value="{{.TS}}"/>
		<assignedEntity classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="DTNPRV85M41H501V" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Trascrittore</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
		</assignedEntity>
	</dataEnterer>
	<custodian typeCode="CST">
		<assignedCustodian classCode="ASSIGNED">
			<representedCustodianOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000002"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator typeCode="LA" contextControlCode="OP">
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Radiologo</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="REF">
		<functionCode code="PCP" codeSystem="2.16.840.1.113883.5.88" codeSystemName="ParticipationFunction" displayName="Medico prescrittore"/>
		<time value="{{.OrderTS}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="PRSMDC70C03F205W" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via dello Studio Sintetico 2</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000001"/>
			<associatedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Prescrittore</family>
					<given>Medico</given>
				</name>
			</associatedPerson>
		</associatedEntity>
	</participant>
	<inFulfillmentOf typeCode="FLFS">
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Routine"/>
		</order>
	</inFulfillmentOf>
	<documentationOf typeCode="DOC">
		<serviceEvent classCode="ACT" moodCode="EVN">
			<code code="RAD_PROG" codeSystem="2.16.840.1.113883.2.9.5.1.4" codeSystemName="ActCode" displayName="Accesso programmato (radiologia)"/>
			<effectiveTime value="{{.ExamTS}}"/>
			<performer typeCode="PRF">
				<assignedEntity classCode="ASSIGNED">
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="TCNRDL80A01H501X" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
					<assignedPerson classCode="PSN" determinerCode="INSTANCE">
						<name>
							<family>Tecnico</family>
							<given>Sintetico</given>
						</name>
					</assignedPerson>
				</assignedEntity>
			</performer>
		</serviceEvent>
	</documentationOf>
{{- if .D.Replaces}}
	<relatedDocument typeCode="RPLC">
		<parentDocument classCode="DOCCLIN" moodCode="EVN">
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter classCode="ENC" moodCode="EVN">
			<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ambulatoriale"/>
			<effectiveTime value="{{.ExamTS}}"/>
			<responsibleParty>
				<assignedEntity classCode="ASSIGNED">
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
					<assignedPerson classCode="PSN" determinerCode="INSTANCE">
						<name>
							<family>Radiologo</family>
							<given>Sintetico</given>
						</name>
					</assignedPerson>
				</assignedEntity>
			</responsibleParty>
			<location typeCode="LOC">
				<healthCareFacility classCode="SDLOC">
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}01" assigningAuthorityName="Ministero della Salute"/>
					<location classCode="PLC" determinerCode="INSTANCE">
						<name>Radiologia, Struttura sintetica {{x .D.Org}}</name>
						<addr use="WP">
							<country>100</country>
							<city>Roma</city>
							<streetAddressLine>Via della Radiologia Sintetica 5</streetAddressLine>
						</addr>
					</location>
					<serviceProviderOrganization classCode="ORG" determinerCode="INSTANCE">
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Struttura sintetica {{x .D.Org}}</name>
						<telecom use="WP" value="tel:+390600000002"/>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody classCode="DOCBODY" moodCode="EVN">
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="DICOM_Object_Catalog">
					<code code="121181" codeSystem="1.2.840.10008.2.16.4" codeSystemName="DCM" displayName="DICOM Object Catalog"/>
					<title>Catalogo degli oggetti DICOM</title>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<id root="{{.StudyUID}}"/>
							<code code="113014" codeSystem="1.2.840.10008.2.16.4" codeSystemName="DCM" displayName="Study"/>
							<entryRelationship typeCode="COMP">
								<act classCode="ACT" moodCode="EVN">
									<id root="{{.SeriesUID}}"/>
									<code code="113015" codeSystem="1.2.840.10008.2.16.4" codeSystemName="DCM" displayName="Series">
										<qualifier>
											<name code="121139" codeSystem="1.2.840.10008.2.16.4" codeSystemName="DCM" displayName="Modality"/>
											<value code="DX" codeSystem="1.2.840.10008.2.16.4" codeSystemName="DCM" displayName="Digital Radiography"/>
										</qualifier>
									</code>
									<entryRelationship typeCode="COMP">
										<observation classCode="DGIMG" moodCode="EVN">
											<id root="{{.SOP}}"/>
											<code code="1.2.840.10008.5.1.4.1.1.1.1" codeSystem="1.2.840.10008.2.6.1" codeSystemName="DCMUID" displayName="Digital X-Ray Image Storage - For Presentation"/>
											<effectiveTime value="{{.ExamTS}}"/>
										</observation>
									</entryRelationship>
								</act>
							</entryRelationship>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Quesito_Diagnostico">
					<code code="18785-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo per lo studio - Radiologia"/>
					<title>Quesito diagnostico</title>
					<text>
						<paragraph><content ID="quesito">Tosse persistente da tre settimane con febbricola serale: escludere addensamenti parenchimali.</content></paragraph>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
							<text><reference value="#quesito"/></text>
							<value xsi:type="CD" code="786.2" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Tosse"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Storia_Clinica">
					<code code="11329-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia generale"/>
					<title>Storia clinica</title>
					<text>
						<paragraph>Anamnesi patologica: <content ID="asma">asma bronchiale intermittente</content>, in trattamento al bisogno.</paragraph>
						<paragraph>Anamnesi fisiologica: <content ID="fumo">pregresso tabagismo (circa 20 pacchetti/anno), cessato tre anni fa</content>.</paragraph>
						<paragraph>Anamnesi familiare: <content ID="familiare">padre con cardiopatia ischemica, insorta a 62 anni; deceduto a 75 anni</content>.</paragraph>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<text><reference value="#asma"/></text>
							<statusCode code="completed"/>
							<effectiveTime>
								<low value="{{.HistLow}}"/>
							</effectiveTime>
							<value xsi:type="CD" code="493.90" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Asma, non specificata"/>
							<entryRelationship typeCode="REFR" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Decorso clinico"/>
									<statusCode code="completed"/>
									<value xsi:type="CE" code="LA28752-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronico"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="REFR" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
									<statusCode code="completed"/>
									<value xsi:type="CE" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<text><reference value="#fumo"/></text>
							<statusCode code="completed"/>
							<effectiveTime>
								<low value="{{.HistLow}}"/>
								<high value="{{.HistHigh}}"/>
							</effectiveTime>
							<value xsi:type="CD">
								<originalText><reference value="#fumo"/></originalText>
							</value>
							<entryRelationship typeCode="REFR" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
									<statusCode code="completed"/>
									<value xsi:type="CE" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Storia di malattie di membri familiari"/>
							<statusCode code="completed"/>
							<subject typeCode="SBJ">
								<relatedSubject classCode="PRS">
									<code code="FTH" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="Padre"/>
									<subject>
										<administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
									</subject>
								</relatedSubject>
							</subject>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<code code="52797-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi codice ICD"/>
									<text><reference value="#familiare"/></text>
									<statusCode code="completed"/>
									<effectiveTime value="{{.FamilyTS}}"/>
									<value xsi:type="CD" code="414.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Cardiopatia ischemica cronica, non specificata"/>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="35267-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età di insorgenza"/>
											<value xsi:type="PQ" value="62" unit="a"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="39016-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età al decesso"/>
											<value xsi:type="PQ" value="75" unit="a"/>
										</observation>
									</entryRelationship>
								</observation>
							</component>
						</organizer>
					</entry>
					<component>
						<section classCode="DOCSECT" moodCode="EVN" ID="Allergie">
							<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e/o reazioni avverse"/>
							<title>Allergie</title>
							<text>
								<paragraph><content ID="all1">Allergia all'amoxicillina</content>: <content ID="all1reaz">orticaria generalizzata</content>, criticità moderata. <content ID="all1nota">Evitare le penicilline.</content></paragraph>
								<paragraph><content ID="all2">Intolleranza al lattice</content> (<content ID="all2agente">guanti in lattice</content>): <content ID="all2reaz">eritema da contatto</content>, risolta.</paragraph>
							</text>
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<code nullFlavor="NA"/>
									<statusCode code="active"/>
									<effectiveTime>
										<low value="{{.AllergyLow}}"/>
									</effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#all1"/></text>
											<statusCode code="completed"/>
											<effectiveTime>
												<low value="{{.AllergyLow}}"/>
											</effectiveTime>
											<value xsi:type="CD" code="DALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia a farmaco"/>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Amoxicillina"/>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST">
												<observation classCode="OBS" moodCode="EVN">
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<statusCode code="completed"/>
													<effectiveTime>
														<low value="{{.AllergyLow}}"/>
													</effectiveTime>
													<value xsi:type="CD" code="708.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Orticaria, non specificata">
														<originalText><reference value="#all1reaz"/></originalText>
													</value>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Criticità"/>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="M" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="ObservationValue" displayName="Moderata"/>
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
													<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Commenti"/>
													<text><reference value="#all1nota"/></text>
													<statusCode code="completed"/>
												</act>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entry>
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<code nullFlavor="NA"/>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.AllergyLow}}"/>
										<high value="{{.AllergyHigh}}"/>
									</effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#all2"/></text>
											<statusCode code="completed"/>
											<effectiveTime>
												<low value="{{.AllergyLow}}"/>
												<high value="{{.AllergyHigh}}"/>
											</effectiveTime>
											<value xsi:type="CD">
												<originalText><reference value="#all2"/></originalText>
											</value>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code nullFlavor="OTH">
															<originalText><reference value="#all2agente"/></originalText>
														</code>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST">
												<observation classCode="OBS" moodCode="EVN">
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<statusCode code="completed"/>
													<effectiveTime>
														<low value="{{.AllergyLow}}"/>
													</effectiveTime>
													<value xsi:type="CD">
														<originalText><reference value="#all2reaz"/></originalText>
													</value>
												</observation>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Precedenti_Esami">
					<code code="55114-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Precedente procedura di imaging, descrizioni"/>
					<title>Precedenti esami eseguiti</title>
					<text>
						<table>
							<thead><tr><th>Esame</th><th>Data</th><th>Esito</th></tr></thead>
							<tbody><tr><td>Radiografia del torace</td><td>{{.PrevDay}}</td><td ID="prec1">Nessuna alterazione pleuro-parenchimale in atto.</td></tr></tbody>
						</table>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="87.44" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Radiografia del torace di routine"/>
							<text><reference value="#prec1"/></text>
							<effectiveTime value="{{.PrevTS}}"/>
							<value xsi:type="ST">Nessuna alterazione pleuro-parenchimale in atto.</value>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Esame_Eseguito">
					<code code="55111-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Descrizioni attuale procedure di imaging"/>
					<title>Esame eseguito</title>
					<text>
						<table>
							<thead><tr><th>Esame</th><th>Data</th><th>Modalità</th><th>Dose</th></tr></thead>
							<tbody><tr ID="esame1"><td ID="esame1desc">Radiografia del torace in due proiezioni (PA e laterale)</td><td>{{.ExamDay}}</td><td>DX</td><td>0,05 mSv</td></tr></tbody>
						</table>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="87.44" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Radiografia del torace di routine">
								<originalText><reference value="#esame1desc"/></originalText>
							</code>
							<text><reference value="#esame1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.ExamTS}}"/>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Referto">
					<code code="18782-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Rilievo - Radiologia"/>
					<title>Referto</title>
					<text>
						<paragraph>Esame eseguito in ortostatismo, nelle proiezioni postero-anteriore e laterale.</paragraph>
						<paragraph>Lieve accentuazione della trama broncovasale ilo-perilare bilaterale. Non evidenti addensamenti parenchimali in atto. Seni costo-frenici liberi. Ombra cardiaca nei limiti per dimensioni e morfologia. Strutture ossee nella norma.</paragraph>
					</text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Conclusioni">
					<code code="55110-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Conclusioni"/>
					<title>Conclusioni</title>
					<text><paragraph>Reperto compatibile con bronchite; non segni di polmonite. Quadro invariato rispetto al precedente.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Informazioni_Aggiuntive">
					<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Appendice"/>
					<title>Informazioni aggiuntive</title>
					<text><paragraph>Immagini disponibili sul PACS aziendale. Documento sintetico generato per prove: nessun dato reale.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Complicanze">
					<code code="55109-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Complicazioni"/>
					<title>Complicanze</title>
					<text><paragraph ID="compl1">Nessuna complicanza durante o dopo l'esame.</paragraph></text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<text><reference value="#compl1"/></text>
							<effectiveTime value="{{.ExamTS}}"/>
							<value xsi:type="CD">
								<originalText><reference value="#compl1"/></originalText>
							</value>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="Suggerimenti">
					<code code="18783-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Raccomandazione studio - Radiologia"/>
					<title>Suggerimenti per il medico prescrittore</title>
					<text><paragraph>Controllo clinico; eventuale radiografia di controllo a quattro settimane se persiste la sintomatologia.</paragraph></text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
