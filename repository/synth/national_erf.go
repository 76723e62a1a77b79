package synth

import (
	"fmt"
	"text/template"
)

// The Erogazione farmaceutica (dispensing of drugs on a prescription,
// LOINC 60593-1), as the national schematron (schematronFSE_ErF_1.1)
// shapes it: one section of the drugs a pharmacy dispensed on an SSN
// prescription, each a supply; the first, a generic equivalent of the
// prescribed brand, says why the pharmacist substituted it (the
// prescribed drug as a substanceAdministration) and under which regime it
// was dispensed; the second is a labelled drug dispensed as prescribed.
// Its header is shared with the Erogazione specialistica (national_ers.go):
// every id has a root and an extension, every address a use, every code a
// code system, as both schematrons demand.

func init() { registerNational("ErF", buildErF) }

// erogData is the data of an Erogazione document's header, and of its
// body.
type erogData struct {
	nationalHeader
	Template, Code, DisplayName, Title        string
	Dispenser, Enterer, Colleague, Prescriber nationalPerson
	ASL, NRE, Facility                        string
}

func newErogData(d Document, template, code, display, title, role, facility string) erogData {
	h := newNationalHeader(d)
	e := erogData{nationalHeader: h, Template: template, Code: code, DisplayName: display, Title: title,
		ASL: d.Region + "201", Facility: facility}
	e.Author.Given, e.Author.Family = role, "Sintetico"
	e.Dispenser = e.Author
	e.Enterer = h.staff(21, "Esempio", "Laura", "F", 1992)
	e.Colleague = h.staff(22, "Collaudo", "Paolo", "M", 1979)
	e.Prescriber = h.staff(23, "Fittizio", "Marco", "M", 1970)
	e.NRE = fmt.Sprintf("%sA%011d", d.Region, h.rand(3).Int64N(1e11))
	return e
}

// erogHeader is the header the two Erogazione documents share, as the
// template "header".
const erogHeader = `{{define "header" -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="{{.Template}}" extension="1.0"/>
	<id root="{{x .Root}}" extension="{{x .Ext}}" assigningAuthorityName="Documento sintetico"/>
	<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.DisplayName}}"/>
	<title>{{.Title}} (documento sintetico di prova)</title>
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
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Dispenser.CF}}" assigningAuthorityName="MEF"/>
			<addr use="WP">
				<country>100</country>
				<city>{{.Home.City}}</city>
				<postalCode>{{.Home.CAP}}</postalCode>
				<streetAddressLine>Corso dell'Esempio 3</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390200000040"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Dispenser.Given}}</given>
					<family>{{x .Dispenser.Family}}</family>
				</name>
			</assignedPerson>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.TS}}"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Enterer.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<given>{{x .Enterer.Given}}</given>
					<family>{{x .Enterer.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</dataEnterer>
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
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Dispenser.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Dispenser.Given}}</given>
					<family>{{x .Dispenser.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<authenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Colleague.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Colleague.Given}}</given>
					<family>{{x .Colleague.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</authenticator>
	<participant typeCode="REF">
		<time value="{{.At 0 0 -12}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Prescriber.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="tel:+390200000050"/>
			<associatedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Prescriber.Given}}</given>
					<family>{{x .Prescriber.Family}}</family>
				</name>
			</associatedPerson>
			<scopingOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .ASL}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Azienda sanitaria sintetica {{x .ASL}}</name>
				<telecom use="WP" value="tel:+390200000060"/>
				<addr>
					<country>100</country>
					<city>{{.Home.City}}</city>
					<streetAddressLine>Via dell'Azienda Sanitaria 5</streetAddressLine>
				</addr>
			</scopingOrganization>
		</associatedEntity>
	</participant>
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Ordinaria"/>
		</order>
	</inFulfillmentOf>
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<effectiveTime value="{{.TS}}"/>
		</serviceEvent>
	</documentationOf>
{{- if gt .Version 1}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
{{- end}}`

func buildErF(d Document) []byte {
	e := newErogData(d, "2.16.840.1.113883.2.9.10.1.13.1.1", "60593-1", "Erogazione Farmaceutica", "Erogazione farmaceutica", "Farmacista",
		"Farmacia sintetica "+d.Org)
	return nationalRender(erogFTemplate, e)
}

var erogFTemplate = template.Must(template.New("ErF").Funcs(nationalFuncs).Parse(erogHeader + `{{template "header" .}}
	<component>
		<structuredBody>
			<component>
				<section>
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.294"/>
					<code code="60590-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Farmaci erogati"/>
					<title>Erogazione farmaceutica</title>
					<text>
						<paragraph>{{x .Facility}}: erogazione del {{.Show 0 0 0}} sulla ricetta {{x .NRE}} del {{.Show 0 0 -12}}.</paragraph>
						<table>
							<thead>
								<tr><th>Farmaco erogato</th><th>Confezioni</th><th>Farmaco prescritto</th><th>Sostituzione</th><th>Regime di erogazione</th></tr>
							</thead>
							<tbody>
								<tr ID="erog1">
									<td>VERAPAMIL SINTETICO*30 cpr riv 80 mg (AIC 999000011)</td>
									<td>2</td>
									<td ID="erog1-prescritto">ISOPTIN*30 cpr riv 80 mg (AIC 020609083)</td>
									<td ID="erog1-sost">Sostituito con il medicinale equivalente di prezzo più basso, come previsto per legge</td>
									<td ID="erog1-regime">Convenzionata</td>
								</tr>
								<tr ID="erog2">
									<td>PANTORC - 28CPR GASTR 20MG (AIC 031981069)</td>
									<td>1</td>
									<td>Come prescritto</td>
									<td>Nessuna</td>
									<td>Convenzionata</td>
								</tr>
							</tbody>
						</table>
					</text>
					<entry>
						<supply classCode="SPLY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.295"/>
							<id root="{{x .Root}}" extension="{{x .Ext}}.1"/>
							<text><reference value="#erog1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<quantity value="2"/>
							<product>
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
										<code code="999000011" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="VERAPAMIL SINTETICO*30 cpr riv 80 mg">
											<translation code="C08DA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Verapamil"/>
										</code>
										<name>Verapamil cloridrato 80 mg compresse rivestite (medicinale equivalente)</name>
									</manufacturedMaterial>
								</manufacturedProduct>
							</product>
							<entryRelationship typeCode="COMP">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.296"/>
									<code nullFlavor="UNK"/>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.297"/>
											<code code="S" codeSystem="2.16.840.1.113883.2.9.6.1.53" codeSystemName="Codice sostituzione" displayName="Sostituzione del farmaco prevista per legge"/>
											<text><reference value="#erog1-sost"/></text>
											<statusCode code="completed"/>
											<entryRelationship typeCode="COMP">
												<substanceAdministration classCode="SBADM" moodCode="RQO">
													<text><reference value="#erog1-prescritto"/></text>
													<consumable>
														<manufacturedProduct classCode="MANU">
															<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
																<code code="020609083" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="ISOPTIN*30 cpr riv 80 mg">
																	<translation code="C08DA01" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="Verapamil"/>
																</code>
															</manufacturedMaterial>
														</manufacturedProduct>
													</consumable>
												</substanceAdministration>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.326"/>
									<code code="3" codeSystem="2.16.840.1.113883.3.1937.777.63.11.25" codeSystemName="Regime di erogazione" displayName="Convenzionata">
										<originalText><reference value="#erog1-regime"/></originalText>
									</code>
									<statusCode code="completed"/>
								</observation>
							</entryRelationship>
						</supply>
					</entry>
					<entry>
						<supply classCode="SPLY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.295"/>
							<id root="{{x .Root}}" extension="{{x .Ext}}.2"/>
							<text><reference value="#erog2"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<quantity value="1"/>
							<product>
								<manufacturedProduct classCode="MANU">
									<manufacturedLabeledDrug classCode="MMAT" determinerCode="KIND">
										<code code="031981069" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="PANTORC - 28CPR GASTR 20MG"/>
										<name>PANTORC 20 mg compresse gastroresistenti</name>
									</manufacturedLabeledDrug>
								</manufacturedProduct>
							</product>
						</supply>
					</entry>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
