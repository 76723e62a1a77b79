package synth

// Prescrizione Farmaceutica non a carico del SSN (PrFNoSSN, LOINC
// 57833-6, the ricetta bianca elettronica): a prescription the patient
// pays for, of two branded medicines — a pain-therapy one (with its
// diagnosis, the reasons it may not be substituted, explanatory notes, a
// regional message and the patient's printable reminder) and a
// gastroprotective one (with a Nota AIFA and a free-text diagnosis) —
// each with its PIN-NRBE, the pain-therapy flag and the packs to supply;
// no exemption, the annotations, a regional message, vital signs,
// allergies and the patient's state. The header is PrF's (see
// national_prf.go: the NRBE, here d.LocalID, is the document's id under
// the NRE root), with the addresses PrFNoSSN demands complete.

func init() { registerNational("PrFNoSSN", buildPrFNoSSN) }

func buildPrFNoSSN(d Document) []byte { return prfRender(prfNoSSNTemplate, newPrfData(d)) }

var prfNoSSNTemplate = rxTemplate("PrFNoSSN", `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.3.1" extension="1.2"/>
	<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
	<code code="57833-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prescrizione Farmaceutica">
		<translation code="PRESC_FARMA" codeSystem="2.16.840.1.113883.2.9.5.2.1" codeSystemName="Tipo Prescrizione" displayName="Prescrizione farmaceutica">
			<qualifier>
				<name code="TR" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Tipo ricetta"/>
				<value code="RB" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Ricetta bianca"/>
			</qualifier>
		</translation>
	</code>
	<title>Prescrizione farmaceutica non a carico del SSN (documento sintetico)</title>
{{template "rxParties" .}}
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
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Via dell'Azienda Sintetica 4</streetAddressLine>
				</addr>
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
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.773"/>
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="57827-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esenzioni"/>
					<title>Esenzioni</title>
					<text>
						<paragraph><content ID="ese1">Nessuna esenzione</content>: prescrizione non a carico del SSN.</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="NE" codeSystem="2.16.840.1.113883.2.9.5.2.2" displayName="Nessuna esenzione">
								<originalText><reference value="#ese1"/></originalText>
							</code>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.775"/>
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="57828-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prescrizioni"/>
					<title>Prescrizioni</title>
					<text>
						<table>
							<thead><tr><th>PIN</th><th>Farmaco</th><th>Posologia</th><th>Confezioni</th><th>Note</th></tr></thead>
							<tbody>
								<tr ID="farm1"><td>00001</td><td ID="farm1nome">Tramadolo Prova 50 mg, 20 capsule rigide</td><td>1 capsula ogni 8 ore, per 10 giorni</td><td>1</td><td>Diagnosi: <content ID="farm1diag">lombalgia acuta</content>. Terapia del dolore. Non sostituibile: <content ID="farm1nonsost">continuità terapeutica</content>. <content ID="farm1note">Assumere a stomaco pieno.</content> <content ID="farm1msg">Messaggio regionale di prova.</content></td></tr>
								<tr ID="farm2"><td>00002</td><td ID="farm2nome">Omeprazolo Prova 20 mg, 14 capsule gastroresistenti</td><td>da 1 a 2 capsule al giorno, prima di colazione</td><td>2</td><td>Nota AIFA 1. Diagnosi: <content ID="farm2diag">gastroprotezione in corso di terapia con FANS</content></td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="RQO">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.776"/>
							<id root="2.16.840.1.113883.2.9.4.3.9" extension="00001"/>
							<text><reference value="#farm1"/></text>
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.Start}}"/>
								<high value="{{.End}}"/>
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="8" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity value="1" unit="1"/>
							<consumable typeCode="CSM">
								<manufacturedProduct classCode="MANU">
									<manufacturedLabeledDrug classCode="MMAT" determinerCode="KIND">
										<code code="000000029" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="Tramadolo Prova 50 mg 20 capsule (sintetico)">
											<originalText><reference value="#farm1nome"/></originalText>
											<translation code="N02AX02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Tramadolo"/>
										</code>
									</manufacturedLabeledDrug>
								</manufacturedProduct>
							</consumable>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.800"/>
									<independentInd value="false"/>
									<quantity value="1"/>
								</supply>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.798"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<text><reference value="#farm1diag"/></text>
									<value xsi:type="CD" code="724.2" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Lombalgia"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ" inversionInd="true">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.797"/>
									<code code="N02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Analgesici"/>
									<value xsi:type="BL" value="true"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ" inversionInd="true">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.795"/>
									<code code="N" codeSystem="2.16.840.1.113883.3.1937.777.63.11.26" displayName="Non sostituibile"/>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.796"/>
											<code code="3" codeSystem="2.16.840.1.113883.2.9.6.1.52" codeSystemName="Motivazioni di non sostituibilità" displayName="Continuità terapeutica"/>
											<text><reference value="#farm1nonsost"/></text>
										</observation>
									</entryRelationship>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.803"/>
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Note esplicative"/>
									<text><reference value="#farm1note"/></text>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.804"/>
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
									<text><reference value="#farm1msg"/></text>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<observationMedia classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.802"/>
									<value xsi:type="ED" mediaType="application/pdf" representation="B64">JVBERi0xLjQKJSBQcm9tZW1vcmlhIHNpbnRldGljbzogbmVzc3VuIGRhdG8gcmVhbGUuCiUlRU9GCg==</value>
								</observationMedia>
							</entryRelationship>
						</substanceAdministration>
					</entry>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="RQO">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.776"/>
							<id root="2.16.840.1.113883.2.9.4.3.9" extension="00002"/>
							<text><reference value="#farm2"/></text>
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.Start2}}"/>
								<width value="28" unit="d"/>
							</effectiveTime>
							<effectiveTime xsi:type="EIVL_TS" operator="A">
								<event code="ACM" codeSystem="2.16.840.1.113883.5.139" displayName="Prima di colazione"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity>
								<low value="1" unit="1"/>
								<high value="2" unit="1"/>
							</doseQuantity>
							<consumable typeCode="CSM">
								<manufacturedProduct classCode="MANU">
									<manufacturedLabeledDrug classCode="MMAT" determinerCode="KIND">
										<code code="000000031" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="Omeprazolo Prova 20 mg 14 capsule (sintetico)">
											<originalText><reference value="#farm2nome"/></originalText>
											<translation code="A02BC01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Omeprazolo"/>
										</code>
									</manufacturedLabeledDrug>
								</manufacturedProduct>
							</consumable>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.800"/>
									<independentInd value="false"/>
									<quantity value="2"/>
								</supply>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.801"/>
									<code code="1" codeSystem="2.16.840.1.113883.2.9.6.1.24" codeSystemName="Note AIFA" displayName="Nota AIFA 1 - gastroprotezione"/>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.798"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<value xsi:type="ST">Gastroprotezione in corso di terapia con FANS</value>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.797"/>
									<code code="N02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Analgesici"/>
									<value xsi:type="BL" value="false"/>
								</observation>
							</entryRelationship>
						</substanceAdministration>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.777"/>
					<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}"/>
					<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni"/>
					<title>Annotazioni</title>
					<text>
						<paragraph ID="ann1">Elemento 30: 0000PROV</paragraph>
						<paragraph ID="ann2">Ricetta bianca sintetica generata per prove: nessun dato reale.</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.778"/>
							<code code="EL30" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Elemento 30"/>
							<text><reference value="#ann1"/></text>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.778"/>
							<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Note generali"/>
							<text><reference value="#ann2"/></text>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.779"/>
					<code code="51851-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
					<title>Messaggio regionale</title>
					<text><paragraph>Servizio sanitario regionale {{x .D.Region}}: ricetta di prova, non valida per la dispensazione.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.780"/>
					<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
					<title>Parametri vitali</title>
					<text><paragraph>Peso 64 kg; frequenza cardiaca 72 bpm; pressione arteriosa 120/80 mmHg (valori sintetici).</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.781"/>
					<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e intolleranze"/>
					<title>Allergie e intolleranze</title>
					<text><paragraph>Nessuna allergia nota a farmaci.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.782"/>
					<code code="47420-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del paziente"/>
					<title>Stato del paziente</title>
					<text><paragraph>Paziente deambulante, dolore lombare acuto in miglioramento.</paragraph></text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`)
