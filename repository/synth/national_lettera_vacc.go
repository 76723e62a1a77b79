package synth

import (
	"fmt"
	"text/template"
	"time"
)

func init() { registerNational("Lettera_VACC", buildLetteraVACC) }

// vaccLetter is what the Lettera_VACC template takes.
type vaccLetter struct {
	H vaccHeader
	// Reminder: a letter of reminder, after an invitation (Previous, its
	// document PreviousID) whose appointment was missed.
	Reminder   bool
	Previous   time.Time
	PreviousID string
	// Appointment is the date fixed (zero: the patient is to book one).
	Appointment time.Time
	Doses       []vaccLetterDose
}

type vaccLetterDose struct {
	Ref string
	vaccDose
}

// buildLetteraVACC makes a Lettera di invito per vaccinazione: an
// invitation to the doses the calendar asks of the patient next (due by
// three months after the letter), with an appointment three weeks on at
// the earliest, or asking the patient to book one; one letter in three is
// a reminder, after an invitation two months before whose appointment
// was missed.
func buildLetteraVACC(d Document) []byte {
	h := vaccNewHeader(d)
	h.TemplateRoot, h.TemplateExt = "2.16.840.1.113883.2.9.10.1.15.1", "1.0"
	h.Code, h.CodeDisplay, h.Title = "111490-9", "Immunization invitation letter", "Lettera di invito per vaccinazione"
	h.ServiceCode, h.ServiceDisplay = "111490-9", "Immunization invitation letter"

	l := vaccLetter{H: h}
	due := vaccDue(vaccCalendar(d.Patient, d.Time.AddDate(30, 0, 0)), d.Time.AddDate(0, 3, 0))
	for i, c := range due {
		l.Doses = append(l.Doses, vaccLetterDose{fmt.Sprintf("vacc%d", i+1), c})
	}
	appointment := func(from time.Time) time.Time {
		if w := d.Time.AddDate(0, 0, 21); from.Before(w) {
			from = w
		}
		a := time.Date(from.Year(), from.Month(), from.Day(), 9, 30, 0, 0, vaccRome)
		for a.Weekday() == time.Saturday || a.Weekday() == time.Sunday {
			a = a.AddDate(0, 0, 1)
		}
		return a
	}
	switch vaccHash(d, "letter") % 3 {
	case 0:
		l.Appointment = appointment(due[0].When)
	case 1: // the patient books
	case 2:
		l.Reminder, l.Previous = true, d.Time.AddDate(0, -2, 0)
		l.PreviousID = h.SetID + ".invito"
		l.Appointment = appointment(due[0].When)
		l.H.ServiceCode, l.H.ServiceDisplay = "112074-0", "Immunization reminder letter"
	}
	return vaccRender("lettera", l)
}

var _ = template.Must(vaccTemplates.Parse(`
{{- define "lettera"}}{{template "header" .H}}
	<component>
		<structuredBody>
			<component>
				<section>
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.944"/>
					<code code="112069-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization invitation letter"/>
					<title>Invito alla vaccinazione</title>
					<text>
						<paragraph>Gentile {{x .H.Patient.Given}} {{x .H.Patient.Family}},</paragraph>
{{- if .Reminder}}
						<paragraph>non risulta che Lei si sia presentato/a all'appuntamento proposto con il nostro invito del {{day .Previous}}. La invitiamo nuovamente, secondo il calendario del Piano nazionale di prevenzione vaccinale, alle vaccinazioni seguenti, offerte gratuitamente:</paragraph>
{{- else}}
						<paragraph>secondo il calendario del Piano nazionale di prevenzione vaccinale, La invitiamo alle vaccinazioni seguenti, offerte gratuitamente:</paragraph>
{{- end}}
						<list>
{{- range .Doses}}
							<item ID="{{.Ref}}">{{x .V.Name}}, dose {{.N}}, contro: {{$ref := .Ref}}{{range $i, $c := .V.Diseases}}{{if $i}}, {{end}}<content ID="{{$ref}}-m{{inc $i}}">{{x $c.Display}}</content>{{end}}.</item>
{{- end}}
						</list>
{{- if .Appointment.IsZero}}
						<paragraph ID="appuntamento">La preghiamo di prenotare l'appuntamento presso {{x .H.OrgName}} - Ambulatorio vaccinale, Via dell'Ambulatorio 1, {{x .H.Home.City}}, telefonando al numero 00 0000 0000 o dal portale regionale dei servizi sanitari.</paragraph>
{{- else}}
						<paragraph ID="appuntamento">L'appuntamento è fissato per il giorno {{day .Appointment}} alle ore {{hm .Appointment}} presso {{x .H.OrgName}} - Ambulatorio vaccinale, Via dell'Ambulatorio 1, {{x .H.Home.City}}. Se non potesse presentarsi, La preghiamo di avvisarci per fissare una nuova data.</paragraph>
{{- end}}
						<paragraph ID="indicazioni">Porti con sé la tessera sanitaria e il certificato delle vaccinazioni; segnali al personale sanitario eventuali allergie, terapie in corso o reazioni a vaccinazioni precedenti.</paragraph>
						<paragraph>Documento sintetico generato per prove: nessun dato reale.</paragraph>
					</text>
					<entry>
						<encounter classCode="ENC" moodCode="{{if .Appointment.IsZero}}RQO{{else}}APT{{end}}">
							<code code="AMB" codeSystem="2.16.840.1.113883.5.4" codeSystemName="HL7 ActCode" displayName="ambulatory"/>
							<text><reference value="#appuntamento"/></text>
							<statusCode code="active"/>
{{- if .Appointment.IsZero}}
							<effectiveTime nullFlavor="UNK"/>
{{- else}}
							<effectiveTime value="{{ts .Appointment}}"/>
{{- end}}
							<participant typeCode="LOC">
								<participantRole classCode="SDLOC">
									<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .H.Org}}" assigningAuthorityName="Ministero della Salute"/>
									<addr use="WP">{{template "addr" .H.Home}}<streetAddressLine>Via dell'Ambulatorio 1</streetAddressLine></addr>
									<telecom use="WP" value="tel:+390000000003"/>
									<playingEntity classCode="PLC"><name>{{x .H.OrgName}} - Ambulatorio vaccinale</name></playingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4" codeSystemName="HL7 ActCode"/>
									<text><reference value="#indicazioni"/></text>
									<statusCode code="completed"/>
									<value xsi:type="ST">Portare tessera sanitaria e certificato delle vaccinazioni.</value>
								</observation>
							</entryRelationship>
						</encounter>
					</entry>
{{- range .Doses}}
					<entry>
						<act classCode="ACT" moodCode="INT">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.945"/>
							<code code="112072-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization letter"/>
							<text><reference value="#{{.Ref}}"/></text>
							<statusCode code="active"/>
{{- $dose := .N}}{{$ref := .Ref}}
{{- range $i, $c := .V.Diseases}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.675"/>
									<code code="75323-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Condition"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" {{template "coded" $c}}>
										<originalText><reference value="#{{$ref}}-m{{inc $i}}"/></originalText>
									</value>
									<entryRelationship typeCode="RSON" inversionInd="false">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.672"/>
											<code code="30973-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dose number"/>
											<statusCode code="completed"/>
											<value xsi:type="INT" value="{{$dose}}"/>
										</observation>
									</entryRelationship>
								</observation>
							</entryRelationship>
{{- end}}
						</act>
					</entry>
{{- end}}
				</section>
			</component>
{{- if .Reminder}}
			<component>
				<section>
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.680"/>
					<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Addendum Document"/>
					<title>Riferimento a invito precedente</title>
					<text>
						<paragraph ID="invito-precedente">Lettera di invito del {{day .Previous}} (documento {{x .PreviousID}}): appuntamento non effettuato.</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.679"/>
							<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Addendum Document"/>
							<text><reference value="#invito-precedente"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{ts .Previous}}"/>
							<reference typeCode="REFR">
								<externalDocument classCode="DOC" moodCode="EVN">
									<id root="2.16.840.1.113883.2.9.2.{{x .H.Region}}.4.4" extension="{{x .PreviousID}}" assigningAuthorityName="Documento sintetico"/>
									<code code="111490-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization invitation letter"/>
								</externalDocument>
							</reference>
						</act>
					</entry>
				</section>
			</component>
{{- end}}
		</structuredBody>
	</component>
</ClinicalDocument>
{{end}}
`))
