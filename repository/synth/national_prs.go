package synth

// Prescrizione Specialistica (PrS, LOINC 57832-8): an SSN referral for
// two outpatient services — a neurological visit (routine priority, in a
// hospital clinic, first access, an outpatient visit, with an explanatory
// note, the disease code behind the exemption and the prescription's
// progressive number) and a cycle of ten physiotherapy sessions (deferred,
// in a clinic the region names, a later access) — with the patient's
// exemption (from the region's catalogue), the annotations, a regional
// message, vital signs, allergies and the patient's state. The header is
// PrF's (see national_prf.go: the NRE, here d.LocalID, is the document's
// id), with an outpatient encounter, the author's organisation part of
// its ASL and the legal authenticator's role and address.

func init() { registerNational("PrS", buildPrS) }

type prsData struct {
	prfData
	ExemptionCode, ExemptionName      string
	ExemptionSystem, ExemptionCatalog string
}

func buildPrS(d Document) []byte {
	// The exemption comes from the region's catalogue, whose OID embeds
	// the region's code (2.16.840.1.113883.2.9.2.<region>.6.22).
	data := prsData{prfData: newPrfData(d),
		ExemptionCode: "RPR01", ExemptionName: "Esenzione regionale di prova (patologia cronica)",
		ExemptionSystem: "2.16.840.1.113883.2.9.2." + d.Region + ".6.22", ExemptionCatalog: "Catalogo regionale delle esenzioni"}
	return prfRender(prsTemplate, data)
}

var prsTemplate = rxTemplate("PrS", `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.2.2" extension="1.2"/>
	<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
	<code code="57832-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prescrizione Specialistica">
		<translation code="PRESC_SPEC" codeSystem="2.16.840.1.113883.2.9.5.2.1" codeSystemName="Tipo Prescrizione" displayName="Prescrizione specialistica">
			<qualifier>
				<name code="TP" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Tipo prescrizione"/>
				<value code="SSN" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Assistito SSN"/>
			</qualifier>
		</translation>
	</code>
	<title>Prescrizione specialistica (documento sintetico)</title>
{{template "rxParties" .}}
				<asOrganizationPartOf classCode="PART">
					<wholeOrganization classCode="ORG" determinerCode="INSTANCE">
						<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Azienda sanitaria sintetica {{x .ASL}}</name>
					</wholeOrganization>
				</asOrganizationPartOf>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer typeCode="ENT" contextControlCode="OP">
		<time value="{{.EnteredTS}}"/>
		<assignedEntity classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Medico</family>
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
			<code code="MMG" codeSystem="2.16.840.1.113883.2.9.5.1.111" codeSystemName="Ruoli" displayName="Medico di medicina generale"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via dello Studio Sintetico 2</streetAddressLine>
			</addr>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Medico</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="IND">
		<functionCode code="MEDSOST" codeSystem="2.16.840.1.113883.2.9.5.1.88" displayName="Medico sostituto"/>
		<time value="{{.Day}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .SubstCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<code code="004" codeSystem="2.16.840.1.113883.2.9.5.1.111" displayName="ASL del medico titolare"/>
			<associatedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Sostituto</family>
					<given>Medico</given>
				</name>
			</associatedPerson>
			<scopingOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Azienda sanitaria sintetica {{x .ASL}}</name>
				<asOrganizationPartOf classCode="PART">
					<wholeOrganization classCode="ORG" determinerCode="INSTANCE">
						<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
					</wholeOrganization>
				</asOrganizationPartOf>
			</scopingOrganization>
		</associatedEntity>
	</participant>
	<participant typeCode="IND">
		<associatedEntity classCode="GUAR">
			<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
			<code code="003" codeSystem="2.16.840.1.113883.2.9.5.1.111" displayName="ASL di residenza"/>
			<scopingOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Azienda sanitaria sintetica {{x .ASL}}</name>
			</scopingOrganization>
		</associatedEntity>
	</participant>
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
			<effectiveTime value="{{.TS}}"/>
			<location typeCode="LOC">
				<healthCareFacility classCode="SDLOC">
					<serviceProviderOrganization classCode="ORG" determinerCode="INSTANCE">
						<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Azienda sanitaria sintetica {{x .ASL}}</name>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody classCode="DOCBODY" moodCode="EVN">
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="57827-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esenzioni"/>
					<title>Esenzioni</title>
					<text>
						<paragraph>Esenzione: <content ID="ese1">{{x .ExemptionCode}} - {{x .ExemptionName}}</content></paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="{{x .ExemptionCode}}" codeSystem="{{x .ExemptionSystem}}" codeSystemName="{{x .ExemptionCatalog}}" displayName="{{x .ExemptionName}}">
								<originalText><reference value="#ese1"/></originalText>
							</code>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="57828-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prescrizioni"/>
					<title>Prescrizioni</title>
					<text>
						<table>
							<thead><tr><th>Prestazione</th><th>Quantità</th><th>Priorità</th><th>Note</th></tr></thead>
							<tbody>
								<tr ID="pre1"><td ID="pre1nome">89.13 Visita neurologica</td><td>1</td><td>Programmata</td><td ID="pre1nota">Cefalea ricorrente da approfondire (quesito sintetico).</td></tr>
								<tr ID="pre2"><td ID="pre2nome">93.11.4 Rieducazione motoria individuale</td><td>10 sedute</td><td>Differita</td><td>Ciclo di sedute presso ambulatorio regionale.</td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="RQO">
							<code code="89.13" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Visita neurologica">
								<originalText><reference value="#pre1nome"/></originalText>
								<translation code="89.13" codeSystem="2.16.840.1.113883.2.9.2.{{x .D.Region}}.6.11" codeSystemName="Catalogo regionale delle prestazioni" displayName="Visita neurologica"/>
							</code>
							<text><reference value="#pre1"/></text>
							<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Routine">
								<translation code="P" codeSystem="2.16.840.1.113883.2.9.5.2.3" displayName="Programmata"/>
							</priorityCode>
							<repeatNumber value="1"/>
							<participant typeCode="LOC">
								<participantRole classCode="SDLOC">
									<scopingEntity classCode="ORG" determinerCode="INSTANCE">
										<code code="H" codeSystem="2.16.840.1.113883.2.9.6.3.1.1" displayName="Ambulatorio in struttura di ricovero"/>
									</scopingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="SUBJ" inversionInd="true">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.274"/>
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Nota esplicativa"/>
									<text><reference value="#pre1nota"/></text>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<encounter classCode="ENC" moodCode="INT">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.276"/>
									<code code="1" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Primo accesso"/>
								</encounter>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<encounter classCode="ENC" moodCode="INT">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.281"/>
									<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Visita ambulatoriale"/>
								</encounter>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.275"/>
									<code code="{{x .ExemptionCode}}" codeSystem="2.16.840.1.113883.2.9.6.3.1.3" displayName="{{x .ExemptionName}}"/>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="AUTH">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.278"/>
									<code code="NP" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Numero progressivo">
										<translation code="1" codeSystem="2.16.840.1.113883.2.9.6.1.55" displayName="Prima prescrizione del ciclo">
											<qualifier>
												<name code="NP" codeSystem="2.16.840.1.113883.2.9.6.1.55" displayName="Numero progressivo"/>
												<value code="1" codeSystem="2.16.840.1.113883.2.9.6.1.55" displayName="1 di 1"/>
											</qualifier>
										</translation>
									</code>
								</act>
							</entryRelationship>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="RQO">
							<code code="93.11.4" codeSystem="2.16.840.1.113883.2.9.2.{{x .D.Region}}.6.11" codeSystemName="Catalogo regionale delle prestazioni" displayName="Rieducazione motoria individuale">
								<originalText><reference value="#pre2nome"/></originalText>
							</code>
							<text><reference value="#pre2"/></text>
							<priorityCode code="EL" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Elective">
								<translation code="D" codeSystem="2.16.840.1.113883.2.9.5.2.3" displayName="Differita"/>
							</priorityCode>
							<participant typeCode="LOC">
								<participantRole classCode="SDLOC">
									<scopingEntity classCode="ORG" determinerCode="INSTANCE">
										<code code="R" codeSystem="2.16.840.1.113883.2.9.6.3.1.1" displayName="Ambulatori e laboratori individuati dalla Regione"/>
									</scopingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="REFR">
								<encounter classCode="ENC" moodCode="INT">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.276"/>
									<code code="0" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Accesso successivo"/>
								</encounter>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="RQO">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.277"/>
									<code code="SEDUTE" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Numero di sedute"/>
									<repeatNumber value="10"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni"/>
					<title>Annotazioni</title>
					<text>
						<paragraph ID="ann1">Elemento 30: 0000PROV</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="EL30" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Elemento 30"/>
							<text><reference value="#ann1"/></text>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<code code="51851-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
					<title>Messaggio regionale</title>
					<text><paragraph>Servizio sanitario regionale {{x .D.Region}}: prescrizione di prova, non prenotabile.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.263"/>
					<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
					<title>Parametri vitali</title>
					<text><paragraph>Pressione arteriosa 135/85 mmHg; frequenza cardiaca 68 bpm (valori sintetici).</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.265"/>
					<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e intolleranze"/>
					<title>Allergie e intolleranze</title>
					<text><paragraph>Allergia al nichel (dermatite da contatto).</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.270"/>
					<code code="47420-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del paziente"/>
					<title>Stato del paziente</title>
					<text><paragraph>Autonomia conservata; esiti di distorsione di caviglia in riabilitazione.</paragraph></text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`)
