package index

import (
	"fmt"
	"testing"
)

// The whole matrix of Authorize: every caller kind × every action × the
// ownership of what is acted on. Each row names the decision for every
// caller; a caller missing from a row is a test bug.
func TestAuthorizeMatrix(t *testing.T) {
	lombardia := &Patient{ID: "CF:RSSMRA80A01H501U", HomeRegion: "030"}
	campania := &Patient{ID: "CF:VRDLGU85M41F839J", HomeRegion: "150"}
	entry030 := &Entry{ID: "x", Patient: lombardia.ID, Custodian: "030", AuthorOrg: "030-ASST-01", AuthorOrgID: "030901"}

	callers := map[string]Caller{
		"patient":           {Subject: "RSSMRA80A01H501U", Role: RolePatient, Purpose: PurposePersonal, Region: "160"},
		"other patient":     {Subject: "MRTMTT25D09F205Z", Role: RolePatient, Purpose: PurposePersonal, Region: "030"},
		"clinician 030":     {Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASL-1"},
		"emergency 160":     {Subject: "DBRCRL70A41F205K", Role: "AAS", Purpose: PurposeEmergency, Region: "160", Organization: "160-ASL-BA"},
		"author 030":        {Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01", Locality: "030901"},
		"operator 030":      {Subject: "BNCLCU75A01H501Z", Role: "DRS", Purpose: PurposeSysadmin, Region: "030"},
		"operator 150":      {Subject: "BNCLCU75A01H501Z", Role: "DRS", Purpose: PurposeSysadmin, Region: "150"},
		"public health 030": {Subject: "BNCLCU75A01H501Z", Role: "DRS", Purpose: PurposePublicHealth, Region: "030"},
		"authority":         {Subject: "BNCLCU75A01H501Z", Role: "MDS", Purpose: PurposeSysadmin, Region: "950", Authority: true},
	}
	const (
		H = Hide
		D = Deny
		A = Allow
	)
	// Columns, in this order, for every row.
	cols := []string{"patient", "other patient", "clinician 030", "emergency 160", "author 030", "operator 030", "operator 150", "public health 030", "authority"}
	rows := []struct {
		name   string
		action Action
		target Target
		want   [9]Decision
	}{
		{"gate before reading a registry write", ActWriteRegistry, Target{}, [9]Decision{D, D, D, D, D, A, A, D, A}},
		{"register a patient of 030", ActCreatePatient, Target{NewHome: "030"}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		{"update a 030 patient in place", ActUpdatePatient, Target{Patient: lombardia, NewHome: "030"}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		// Hole 1: judged on the current home, not the one in the new body.
		{"re-home a 030 patient to 150", ActUpdatePatient, Target{Patient: lombardia, NewHome: "150"}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		{"re-home a 030 patient to 160", ActUpdatePatient, Target{Patient: lombardia, NewHome: "160"}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		{"update an unregistered patient", ActUpdatePatient, Target{NewHome: "030"}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		// Hole 2: a merge needs the right over both identities.
		{"merge 030 into 030", ActMergePatients, Target{Patient: lombardia, Other: &Patient{ID: "CF:X", HomeRegion: "030"}}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		{"merge 030 into 150", ActMergePatients, Target{Patient: campania, Other: lombardia}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"merge 150 into 030", ActMergePatients, Target{Patient: lombardia, Other: campania}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"merge with an unregistered identity", ActMergePatients, Target{Patient: lombardia}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"consent of a 030 patient", ActChangeConsent, Target{Patient: lombardia}, [9]Decision{A, H, D, D, D, A, D, H, A}},
		{"consent of an unregistered patient", ActChangeConsent, Target{}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"a patient's access log", ActReadPatientLog, Target{Patient: lombardia}, [9]Decision{A, D, D, D, D, D, D, D, A}},
		{"an agent's access log", ActReadAgentLog, Target{}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"blind a 030 document", ActBlindDocument, Target{Patient: lombardia, Entry: entry030}, [9]Decision{A, H, H, H, A, H, H, H, H}},
		{"publish at 030's node", ActPublish, Target{Region: "030"}, [9]Decision{D, D, A, D, A, A, D, A, D}},
		{"a workflow of 030-ASST-01 at 030's node", ActReadWorkflow, Target{Region: "030", Organization: "030-ASST-01"}, [9]Decision{H, H, H, H, A, A, H, H, H}},
		{"register a producer at 030's node", ActRegisterProducer, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, D, D, D}},
		{"snapshot of 030's node", ActSnapshot, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, D, D, A}},
		{"backup of 030's node with its documents", ActBackup, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, D, D, D}},
		{"federation status", ActClusterStatus, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, A, D, A}},
		{"verify the audit chain", ActVerifyAudit, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, A, D, A}},
		{"feeding statistics", ActFeeding, Target{}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"record a certificate", ActCertify, Target{}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"apply a revocation", ActRevoke, Target{}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"read the telemedicine catalogue", ActReadCatalogue, Target{}, [9]Decision{A, A, A, A, A, A, A, A, A}},
		{"write a 030 service", ActManageService, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, D, D, D}},
		{"adopt a 030 service", ActAdoptService, Target{Region: "030"}, [9]Decision{D, D, D, D, D, D, A, D, D}},
		{"adopt a 150 service", ActAdoptService, Target{Region: "150"}, [9]Decision{D, D, D, D, D, A, D, D, D}},
		{"the catalogue's reuse", ActCatalogueReuse, Target{}, [9]Decision{D, D, D, D, D, D, D, D, A}},
		{"add slots to a 030 service", ActManageSchedule, Target{Region: "030"}, [9]Decision{D, D, D, D, D, A, D, D, D}},
		{"search slots of a usable service", ActSearchSlots, Target{Region: "030", Usable: true}, [9]Decision{A, A, A, A, A, D, D, D, D}},
		{"search slots of a service not adopted", ActSearchSlots, Target{Region: "030"}, [9]Decision{D, D, D, D, D, D, D, D, D}},
		// Who may not book for a patient is answered as for an unregistered one.
		{"book for a patient", ActBook, Target{Region: "030", Patient: lombardia, Usable: true}, [9]Decision{A, H, A, A, A, H, H, H, H}},
		{"book a service not adopted", ActBook, Target{Region: "030", Patient: lombardia}, [9]Decision{D, H, D, D, D, H, H, H, H}},
		{"book for an unregistered patient", ActBook, Target{Region: "030", Usable: true}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"read a booking at 030 made by Puglia's clinician", ActReadBooking, Target{Region: "030", Patient: lombardia, Organization: "DBRCRL70A41F205K"},
			[9]Decision{A, H, A, A, A, H, H, H, H}},
		{"read a booking at 150 made by someone else", ActReadBooking, Target{Region: "150", Patient: lombardia, Organization: "XXXXXX00X00X000X"},
			[9]Decision{A, H, H, H, H, H, H, H, H}},
		{"deliver care at 030 (visit, teleconsult)", ActDeliverCare, Target{Region: "030", Patient: lombardia, Usable: true}, [9]Decision{H, H, A, H, A, H, H, H, H}},
		{"start a plan at 030 from a template not adopted", ActDeliverCare, Target{Region: "030", Patient: lombardia}, [9]Decision{H, H, D, H, D, H, H, H, H}},
		{"answer a 030 teleconsult asked by clinician 030 itself", ActDeliverCare, Target{Region: "030", Patient: lombardia, Usable: true, Organization: "BNCLCU75A01H501Z"},
			[9]Decision{H, H, D, H, A, H, H, H, H}},
		{"read a booking made by clinician 030, with other tokens of the same person", ActReadBooking, Target{Region: "150", Patient: lombardia, Organization: "BNCLCU75A01H501Z"},
			[9]Decision{A, H, A, H, H, H, H, H, H}},
		{"enrol a 030 patient at 030's node", ActEnrolMonitoring, Target{Region: "030", Patient: lombardia, Usable: true}, [9]Decision{H, H, A, H, A, H, H, H, H}},
		{"enrol a 030 patient at 150's node", ActEnrolMonitoring, Target{Region: "150", Patient: lombardia, Usable: true}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"enrol from a template not adopted", ActEnrolMonitoring, Target{Region: "030", Patient: lombardia}, [9]Decision{H, H, D, H, D, H, H, H, H}},
		{"send a 030 patient's readings to 030's node", ActSendReadings, Target{Region: "030", Patient: lombardia}, [9]Decision{A, H, A, H, A, A, H, H, H}},
		{"send a 030 patient's readings to 150's node", ActSendReadings, Target{Region: "150", Patient: lombardia}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"read the monitoring of a 030 patient with Puglia's emergency doctor in the team", ActReadMonitoring,
			Target{Region: "030", Patient: lombardia, Team: []string{"DBRCRL70A41F205K"}}, [9]Decision{A, H, A, A, A, H, H, H, H}},
		{"read the monitoring of a 030 patient, no team", ActReadMonitoring, Target{Region: "030", Patient: lombardia}, [9]Decision{A, H, A, H, A, H, H, H, H}},
		{"acknowledge an alert of a team with Puglia's emergency doctor", ActAckAlert,
			Target{Region: "030", Patient: lombardia, Team: []string{"DBRCRL70A41F205K"}}, [9]Decision{H, H, H, A, H, H, H, H, H}},
		{"deliver care to an unregistered patient", ActDeliverCare, Target{Region: "030", Usable: true}, [9]Decision{H, H, H, H, H, H, H, H, H}},
		{"ask a usable service for a teleconsult", ActRequestConsult, Target{Region: "030", Patient: lombardia, Usable: true}, [9]Decision{H, H, A, A, A, H, H, H, H}},
		{"ask a service not adopted for a teleconsult", ActRequestConsult, Target{Region: "030", Patient: lombardia}, [9]Decision{H, H, D, D, D, H, H, H, H}},
		{"write into a 030 teleconsult asked by Puglia's clinician", ActConsultMessage, Target{Region: "030", Organization: "DBRCRL70A41F205K"},
			[9]Decision{H, H, A, A, A, H, H, H, H}},
		{"write into a 150 teleconsult asked by someone else", ActConsultMessage, Target{Region: "150", Organization: "XXXXXX00X00X000X"},
			[9]Decision{H, H, H, H, H, H, H, H, H}},
		{"read care at 030 asked by Puglia's clinician", ActReadCare, Target{Region: "030", Patient: lombardia, Organization: "DBRCRL70A41F205K"},
			[9]Decision{A, H, A, A, A, H, H, H, H}},
		{"read care at 150 asked by someone else", ActReadCare, Target{Region: "150", Patient: lombardia, Organization: "XXXXXX00X00X000X"},
			[9]Decision{A, H, H, H, H, H, H, H, H}},
		{"an action the policy does not know", Action("telemed.unknown"), Target{Region: "030"}, [9]Decision{D, D, D, D, D, D, D, D, D}},
	}
	if len(cols) != len(callers) {
		t.Fatalf("%d columns for %d callers", len(cols), len(callers))
	}
	for _, row := range rows {
		for i, name := range cols {
			c, ok := callers[name]
			if !ok {
				t.Fatalf("no caller %q", name)
			}
			t.Run(fmt.Sprintf("%s/%s", row.name, name), func(t *testing.T) {
				if got := Authorize(c, row.action, row.target); got != row.want[i] {
					t.Fatalf("Authorize(%s, %s) = %v, want %v", name, row.action, got, row.want[i])
				}
			})
		}
	}
}

func TestOperatorOf(t *testing.T) {
	tests := []struct {
		name   string
		c      Caller
		region string
		want   bool
	}{
		{"its region's SYSADMIN", Caller{Purpose: PurposeSysadmin, Region: "030"}, "030", true},
		{"another region's SYSADMIN", Caller{Purpose: PurposeSysadmin, Region: "150"}, "030", false},
		{"its region's clinician", Caller{Purpose: PurposeTreatment, Region: "030"}, "030", false},
		{"the authority is not an operator", Caller{Purpose: PurposeSysadmin, Region: "030", Authority: true}, "030", false},
		{"no region", Caller{Purpose: PurposeSysadmin}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.OperatorOf(tt.region); got != tt.want {
				t.Fatalf("OperatorOf(%q) = %v, want %v", tt.region, got, tt.want)
			}
		})
	}
}
