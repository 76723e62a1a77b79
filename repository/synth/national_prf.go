package synth

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Prescrizione Farmaceutica (PrF, LOINC 57833-6): an electronic
// prescription of the SSN for two medicines — a branded one (AIC code,
// with its ATC translation, a Nota AIFA, the diagnosis, a free-text
// suspected diagnosis, a prescription note and the reasons why it may not
// be substituted) and a generic one (by active ingredient and form, with a
// dosing interval and a meal-related schedule) — with the patient's
// exemption, the annotations (elemento 30 and a general note), a regional
// message, vital signs, allergies and the patient's state. The header
// carries the medico sostituto and the ASL of residence as participants.
//
// The national rules make the prescription's NRE the document's id (root
// 2.16.840.1.113883.2.9.4.3.9) and repeat it in the sections: the
// builder uses d.LocalID as the NRE, so the document id is
// 2.16.840.1.113883.2.9.4.3.9^LocalID rather than d.ID(). A replacement
// (d.Version > 1 with d.Replaces, an id root^extension) keeps the set
// id of the document it replaces.

func init() { registerNational("PrF", buildPrF) }

type prfData struct {
	D                     Document
	NRE, SetExt           string
	ParentRoot, ParentExt string
	TS, Day, Birth        string
	Start, End, Start2    string
	EnteredTS             string
	ASL, SubstCF          string
}

func buildPrF(d Document) []byte { return prfRender(prfTemplate, newPrfData(d)) }

// newPrfData is what a prescription's template needs of d (PrF's and
// PrFNoSSN's).
func newPrfData(d Document) prfData {
	rome := time.FixedZone("", 3600)
	t := d.Time.In(rome)
	data := prfData{
		D: d, NRE: d.LocalID, SetExt: d.LocalID,
		TS: t.Format("20060102150405-0700"), Day: t.Format("20060102"),
		Birth:     d.Patient.BirthDate.Format("20060102"),
		Start:     t.Format("20060102"),
		End:       t.AddDate(0, 0, 30).Format("20060102"),
		Start2:    t.AddDate(0, 0, 1).Format("20060102"),
		EnteredTS: t.Add(-5 * time.Minute).Format("20060102150405-0700"),
		ASL:       prfASL(d.Region),
		SubstCF:   "SSTMDC70C03F205K",
	}
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
	}
	return data
}

// prfRender executes a national builder's template (PrF's, PrFNoSSN's,
// PrS's, RAD's, CC's) on its data.
func prfRender(t *template.Template, data any) []byte {
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		panic(fmt.Sprintf("synth: %s template: %v", t.Name(), err)) // a bug, not input
	}
	return out.Bytes()
}

// prfASL is a synthetic ASL code (FLS11 style: the region's code and a
// district) of a region's code.
func prfASL(region string) string {
	return region + "201"
}

var prfTemplate = rxTemplate("PrF", `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.2.1" extension="1.2"/>
	<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
	<code code="57833-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prescrizione Farmaceutica">
		<translation code="PRESC_FARMA" codeSystem="2.16.840.1.113883.2.9.5.2.1" codeSystemName="Tipo Prescrizione" displayName="Prescrizione farmaceutica">
			<qualifier>
				<name code="TR" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Tipo ricetta"/>
				<value code="SSN" codeSystem="2.16.840.1.113883.2.9.5.2.1" displayName="Assistito SSN"/>
			</qualifier>
		</translation>
	</code>
	<title>Prescrizione farmaceutica (documento sintetico)</title>
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
						<paragraph>Esenzione per patologia: <content ID="ese1">013 - Diabete mellito</content></paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="013" codeSystem="2.16.840.1.113883.2.9.6.1.22" codeSystemName="Catalogo nazionale delle esenzioni" displayName="Diabete mellito">
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
							<thead><tr><th>Farmaco</th><th>Posologia</th><th>Confezioni</th><th>Note</th></tr></thead>
							<tbody>
								<tr ID="farm1"><td ID="farm1nome">Atorvastatina Prova 20 mg, 30 compresse rivestite (specialità)</td><td>1 compressa ogni 24 ore, per 30 giorni</td><td>2</td><td ID="farm1nota">Nota AIFA 13; non sostituibile: <content ID="farm1nonsost">intolleranza documentata all'eccipiente del generico</content>. <content ID="farm1note">Controllo del profilo lipidico tra tre mesi.</content> Sospetto: <content ID="farm1sosp">dislipidemia familiare</content></td></tr>
								<tr ID="farm2"><td ID="farm2nome">Metformina cloridrato 500 mg compresse (principio attivo)</td><td>da 1 a 2 compresse ogni 12 ore, ai pasti</td><td>3</td><td ID="farm2sosp">Sospetto diagnostico: controllo glicemico insufficiente</td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="RQO">
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.Start}}"/>
								<high value="{{.End}}"/>
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="24" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity value="1" unit="1"/>
							<consumable typeCode="CSM">
								<manufacturedProduct classCode="MANU">
									<manufacturedLabeledDrug classCode="MMAT" determinerCode="KIND">
										<code code="000000017" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="Atorvastatina Prova 20 mg 30 compresse (sintetico)">
											<originalText><reference value="#farm1nome"/></originalText>
											<translation code="C10AA05" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Atorvastatina"/>
										</code>
									</manufacturedLabeledDrug>
								</manufacturedProduct>
							</consumable>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<independentInd value="false"/>
									<quantity value="2"/>
								</supply>
							</entryRelationship>
							<entryRelationship typeCode="REFR">
								<act classCode="ACT" moodCode="EVN">
									<code code="13" codeSystem="2.16.840.1.113883.2.9.6.1.24" codeSystemName="Note AIFA" displayName="Nota AIFA 13 - ipolipemizzanti"/>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<code code="272.0" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipercolesterolemia pura"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<templateId root="2.16.840.1.113883.3.1937.777.63.10.77.1"/>
								<observation classCode="OBS" moodCode="EVN">
									<code code="272.4" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Iperlipidemia, altra e non specificata">
										<originalText><reference value="#farm1sosp"/></originalText>
									</code>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ">
								<act classCode="ACT" moodCode="EVN">
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Note"/>
									<text><reference value="#farm1note"/></text>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="SUBJ" inversionInd="true">
								<observation classCode="OBS" moodCode="EVN">
									<code code="N" codeSystem="2.16.840.1.113883.3.1937.777.63.11.26" displayName="Non sostituibile"/>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<code code="2" codeSystem="2.16.840.1.113883.2.9.6.1.52" codeSystemName="Motivazioni di non sostituibilità" displayName="Intolleranza o allergia documentata"/>
											<text><reference value="#farm1nonsost"/></text>
										</observation>
									</entryRelationship>
								</observation>
							</entryRelationship>
						</substanceAdministration>
					</entry>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="RQO">
							<effectiveTime xsi:type="IVL_TS">
								<low value="{{.Start2}}"/>
								<width value="60" unit="d"/>
							</effectiveTime>
							<effectiveTime xsi:type="EIVL_TS" operator="A">
								<event code="CM" codeSystem="2.16.840.1.113883.5.139" displayName="Ai pasti"/>
							</effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true">
								<period value="12" unit="h"/>
							</effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity>
								<low value="1" unit="1"/>
								<high value="2" unit="1"/>
							</doseQuantity>
							<consumable typeCode="CSM">
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
										<code code="A10BA02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="ATC" displayName="Metformina">
											<originalText><reference value="#farm2nome"/></originalText>
										</code>
										<name>Metformina cloridrato 500 mg</name>
										<formCode code="COM" codeSystem="0.4.0.127.0.16.1.1.2.1" codeSystemName="EDQM Standard Terms" displayName="Compressa"/>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<independentInd value="false"/>
									<quantity value="3"/>
								</supply>
							</entryRelationship>
							<entryRelationship typeCode="RSON">
								<templateId root="2.16.840.1.113883.3.1937.777.63.10.77.1"/>
								<observation classCode="OBS" moodCode="EVN">
									<code code="29548-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi sospetta"/>
									<text><reference value="#farm2sosp"/></text>
								</observation>
							</entryRelationship>
						</substanceAdministration>
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
						<paragraph ID="ann2">Ricetta sintetica generata per prove: nessun dato reale.</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="EL30" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Elemento 30"/>
							<text><reference value="#ann1"/></text>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Note generali"/>
							<text><reference value="#ann2"/></text>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<code code="51851-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Messaggio regionale"/>
					<title>Messaggio regionale</title>
					<text><paragraph>Servizio sanitario regionale {{x .D.Region}}: ricetta di prova, non valida per l'erogazione.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.263"/>
					<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
					<title>Parametri vitali</title>
					<text><paragraph>Peso 78 kg; altezza 172 cm; pressione arteriosa 130/85 mmHg (valori sintetici).</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.265"/>
					<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e intolleranze"/>
					<title>Allergie e intolleranze</title>
					<text><paragraph>Intolleranza al lattosio (eccipiente). Nessuna allergia a farmaci nota.</paragraph></text>
				</section>
			</component>
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.270"/>
					<code code="47420-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del paziente"/>
					<title>Stato del paziente</title>
					<text><paragraph>Paziente autosufficiente, in buon compenso clinico.</paragraph></text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`)
