package synth

import "text/template"

// The header parts the three prescription builders share (PrF,
// PrFNoSSN, PrS): from effectiveTime through the prescriber and the
// organisation's address, as one template each of them calls
// ({{template "rxParties" .}}).
const rxParties = `{{define "rxParties"}}	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .SetExt}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget typeCode="RCT" contextControlCode="OP">
		<patientRole classCode="PAT">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
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
			<code code="MMG" codeSystem="2.16.840.1.113883.2.9.5.1.111" codeSystemName="Ruoli" displayName="Medico di medicina generale"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via dello Studio Sintetico 2</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000001"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Medico</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
			<representedOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000002"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
				</addr>{{end}}`

// rxTemplate parses a prescription builder's template with the shared
// parts.
func rxTemplate(name, src string) *template.Template {
	t := template.Must(template.New(name).Funcs(template.FuncMap{"x": xmlText}).Parse(rxParties))
	return template.Must(t.Parse(src))
}
