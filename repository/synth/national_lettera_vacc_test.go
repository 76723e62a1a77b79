package synth

import "testing"

func TestLetteraVACCPassesItsSchematron(t *testing.T) {
	out := vaccCheck(t, "Lettera_VACC", vaccDocuments("lettera"))
	// Across the documents: appointments fixed and to be booked,
	// invitations and reminders with the previous invitation's section,
	// several doses in one letter, replacements.
	for _, want := range []string{
		`<encounter classCode="ENC" moodCode="APT">`,
		`<encounter classCode="ENC" moodCode="RQO">`,
		`<effectiveTime nullFlavor="UNK"/>`,
		`code="111490-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization invitation letter"/>
			<effectiveTime`,
		`code="112074-0"`,
		`<templateId root="2.16.840.1.113883.3.1937.777.63.10.680"/>`,
		`<item ID="vacc2">`,
		`<relatedDocument typeCode="RPLC">`,
	} {
		if !vaccContains(out, want) {
			t.Errorf("no document holds %s", want)
		}
	}
}
