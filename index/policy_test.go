package index

import (
	"fmt"
	"testing"
)

// The whole matrix: caller × consent × blinding × type × status.
func TestEntryAccessMatrix(t *testing.T) {
	pat := Patient{ID: mario}
	entry := func(loinc, class string, mutate ...func(*Entry)) Entry {
		e := doc("x", mario, loinc, class)
		e.Status = StatusCurrent
		for _, m := range mutate {
			m(&e)
		}
		return e
	}
	blinded := func(e *Entry) { e.Events = []string{EventHidden} }
	veryRestricted := func(e *Entry) { e.Confidentiality = "V" }
	withdrawn := func(e *Entry) { e.Status = StatusEnteredErr }

	patientSelf := Caller{Subject: "RSSMRA80A01H501U", Role: RolePatient, Purpose: PurposePersonal, Region: "160"}
	impostor := Caller{Subject: "MRTMTT25D09F205Z", Role: RolePatient, Purpose: PurposePersonal, Region: "160"}
	author := Caller{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01"}
	sameNameOtherRegion := Caller{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "150", Organization: "030-ASST-01"}
	clinician := Caller{Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: PurposeTreatment, Region: "160", Organization: "160-ASL-BA"}
	emergency := clinician
	emergency.Purpose = PurposeEmergency
	nurseSysadmin := Caller{Subject: "BNCLCU75A01H501Z", Role: "INF", Purpose: PurposeSysadmin, Region: "160"}
	operator := Caller{Subject: "BNCLCU75A01H501Z", Role: "DRS", Purpose: PurposeSysadmin, Region: "030"}
	authority := Caller{Subject: "BNCLCU75A01H501Z", Role: "MDS", Purpose: PurposeSysadmin, Region: "950", Authority: true}
	unknownRole := Caller{Subject: "BNCLCU75A01H501Z", Role: "ING", Purpose: PurposeTreatment, Region: "160"}

	lab := entry("11502-2", "REF")
	summary := entry("60591-5", "SUM")
	er := entry("59258-4", "VRB")
	blindLab := entry("11502-2", "REF", blinded)
	blindSummary := entry("60591-5", "SUM", blinded)
	vLab := entry("11502-2", "REF", veryRestricted)
	gone := entry("11502-2", "REF", withdrawn)

	type want struct{ visible, content, override bool }
	none := want{}
	full := want{true, true, false}
	meta := want{true, false, false}
	over := want{true, true, true}
	tests := []struct {
		caller  string
		c       Caller
		consent bool
		e       Entry
		want    want
	}{
		// The patient sees everything of their own, blinded included.
		{"patient", patientSelf, false, lab, full},
		{"patient", patientSelf, false, blindLab, full},
		{"patient", patientSelf, true, vLab, full},
		{"patient", patientSelf, true, gone, meta},
		{"another patient", impostor, true, lab, none},
		// The author organisation keeps its documents, without consent too.
		{"author", author, false, lab, full},
		{"author", author, false, blindLab, full},
		{"author", author, true, gone, full},
		{"same org id, other region", sameNameOtherRegion, false, lab, none},
		// A clinician for treatment: with consent only, never blinded.
		{"clinician", clinician, true, lab, full},
		{"clinician", clinician, false, lab, none},
		{"clinician", clinician, true, blindLab, none},
		{"clinician", clinician, true, vLab, none},
		{"clinician", clinician, true, gone, none},
		{"clinician", clinician, false, summary, none},
		// Emergency opens the summary and the emergency report without consent, flagged.
		{"emergency", emergency, false, summary, over},
		{"emergency", emergency, false, er, over},
		{"emergency", emergency, false, lab, none},
		{"emergency", emergency, true, lab, full},
		{"emergency", emergency, false, blindSummary, none},
		// Purposes and roles that give no clinical access.
		{"nurse as sysadmin", nurseSysadmin, true, lab, none},
		{"region operator", operator, true, lab, none},
		{"unknown role", unknownRole, true, lab, none},
		// The authority: metadata, never content, never what is blinded.
		{"authority", authority, true, lab, meta},
		{"authority", authority, false, lab, meta},
		{"authority", authority, true, blindLab, none},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/consent=%v/%s/%s/hidden=%v/%s", tt.caller, tt.consent, tt.e.Type, tt.e.Confidentiality, tt.e.Hidden(), tt.e.Status)
		t.Run(name, func(t *testing.T) {
			p := pat
			p.Consent.Given = tt.consent
			got := EntryAccess(tt.c, p, tt.e)
			if (want{got.Visible, got.Content, got.Override}) != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPatientAccess(t *testing.T) {
	p := Patient{ID: mario}
	tests := []struct {
		c    Caller
		want bool
	}{
		{Caller{Subject: "RSSMRA80A01H501U", Role: RolePatient, Purpose: PurposePersonal}, true},
		{Caller{Subject: "MRTMTT25D09F205Z", Role: RolePatient, Purpose: PurposePersonal}, false},
		{Caller{Role: "AAS", Purpose: PurposeTreatment}, true},
		{Caller{Role: "AAS", Purpose: PurposePublicHealth}, false},
		{Caller{Role: "DRS", Purpose: PurposeSysadmin}, true},
		{Caller{Role: "MDS", Purpose: PurposeSysadmin, Authority: true}, true},
		{Caller{Role: "ING", Purpose: PurposeTreatment}, false},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if got := PatientAccess(tt.c, p); got != tt.want {
				t.Fatalf("%+v: %v, want %v", tt.c, got, tt.want)
			}
		})
	}
}
