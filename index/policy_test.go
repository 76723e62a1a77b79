package index

import (
	"fmt"
	"os"
	"testing"

	"github.com/fsenet/fsenet/federation"
)

// The whole matrix: caller × consent × blinding × type × status.
func TestEntryAccessMatrix(t *testing.T) {
	pat := Patient{ID: mario}
	entry := func(loinc, class string, mutate ...func(*Entry)) Entry {
		e := doc("x", mario, loinc, class)
		e.Status = StatusCurrent
		e.AuthorOrgSystem, e.AuthorOrgID = structureOID, "030901"
		for _, m := range mutate {
			m(&e)
		}
		return e
	}
	blinded := func(e *Entry) { e.Events = []string{EventHidden} }
	veryRestricted := func(e *Entry) { e.Confidentiality = "V" }
	withdrawn := func(e *Entry) { e.Status = StatusEnteredErr }
	// legacy: indexed before identifiers were kept, AuthorOrg a name.
	legacy := func(e *Entry) { e.AuthorOrgSystem, e.AuthorOrgID = "", "" }

	patientSelf := Caller{Subject: "RSSMRA80A01H501U", Role: RolePatient, Purpose: PurposePersonal, Region: "160"}
	impostor := Caller{Subject: "MRTMTT25D09F205Z", Role: RolePatient, Purpose: PurposePersonal, Region: "160"}
	author := Caller{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01", Locality: "030901"}
	sameNameOtherRegion := Caller{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "150", Organization: "030-ASST-01", Locality: "030901"}
	// The same display name from the custodian's own IdP, with another
	// locality or none: a clinician like any other.
	sameNameOtherLocality := Caller{Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01", Locality: "030321"}
	sameNameNoLocality := Caller{Subject: "BNCLCU75A01H501Z", Role: "AAS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01"}
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
	legacyLab := entry("11502-2", "REF", legacy)
	legacyBlindLab := entry("11502-2", "REF", legacy, blinded)

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
		{"same locality, other region", sameNameOtherRegion, false, lab, none},
		{"same locality, other region", sameNameOtherRegion, true, blindLab, none},
		// A name is not an identifier: the same subject_organization with
		// another locality, or none, gets what any clinician gets.
		{"same name, other locality", sameNameOtherLocality, true, lab, full},
		{"same name, other locality", sameNameOtherLocality, false, lab, none},
		{"same name, other locality", sameNameOtherLocality, true, blindLab, none},
		{"same name, other locality", sameNameOtherLocality, true, vLab, none},
		{"same name, no locality", sameNameNoLocality, true, blindLab, none},
		{"same name, no locality", sameNameNoLocality, false, lab, none},
		// A version indexed before identifiers were kept has no author
		// organisation: not by its name, not by any locality.
		{"author", author, false, legacyLab, none},
		{"author", author, true, legacyBlindLab, none},
		{"same name, no locality", sameNameNoLocality, true, legacyBlindLab, none},
		{"patient", patientSelf, false, legacyBlindLab, full},
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
		name := fmt.Sprintf("%s/consent=%v/%s/%s/hidden=%v/%s/org=%s", tt.caller, tt.consent, tt.e.Type, tt.e.Confidentiality, tt.e.Hidden(), tt.e.Status, tt.e.AuthorOrgID)
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

// structureOID is the system of the Ministry's codes of health
// structures, as CDA documents name their author organisation.
const structureOID = "urn:oid:2.16.840.1.113883.2.9.4.1.2"

// Authorship rests on the custodian region's IdP and the locality, never
// on a name; blinding follows it.
func TestIsAuthor(t *testing.T) {
	pat := Patient{ID: mario}
	entry := Entry{ID: DocumentID("030", "x"), Patient: mario, Custodian: "030", Status: StatusCurrent,
		AuthorOrg: "ASST Santi Paolo e Carlo", AuthorOrgSystem: structureOID, AuthorOrgID: "030901"}
	legacy := entry
	legacy.AuthorOrgSystem, legacy.AuthorOrgID = "", ""
	nameAsID := entry
	nameAsID.AuthorOrgID = "ASST Santi Paolo e Carlo"
	withID := func(e Entry, id string) Entry { e.AuthorOrgID = id; return e }
	clinician := func(region, org, locality string) Caller {
		return Caller{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: region, Organization: org, Locality: locality}
	}
	tests := []struct {
		name string
		c    Caller
		e    Entry
		want bool
	}{
		{"custodian's IdP, the author's locality", clinician("030", "ASST Santi Paolo e Carlo", "030901"), entry, true},
		{"custodian's IdP, the author's locality, another name", clinician("030", "anything", "030901"), entry, true},
		{"custodian's IdP, the author's locality, no name", clinician("030", "", "030901"), entry, true},
		{"custodian's IdP, the same name, another locality", clinician("030", "ASST Santi Paolo e Carlo", "030902"), entry, false},
		{"custodian's IdP, the same name, no locality", clinician("030", "ASST Santi Paolo e Carlo", ""), entry, false},
		{"custodian's IdP, the name as locality", clinician("030", "", "ASST Santi Paolo e Carlo"), entry, false},
		{"custodian's IdP, the locality with a space", clinician("030", "", "030901 "), entry, false},
		{"custodian's IdP, the locality in another case", clinician("030", "", "asst-a"), withID(entry, "ASST-A"), false},
		{"custodian's IdP, the locality exactly", clinician("030", "", "ASST-A"), withID(entry, "ASST-A"), true},
		{"another region's IdP, the author's locality", clinician("150", "ASST Santi Paolo e Carlo", "030901"), entry, false},
		{"no region, the author's locality", clinician("", "", "030901"), entry, false},
		{"the authority, the author's locality", Caller{Subject: "BNCLCU75A01H501Z", Role: "MDS", Purpose: PurposeSysadmin,
			Region: "030", Locality: "030901", Authority: true}, entry, false},
		{"an entry indexed before identifiers, by its name", clinician("030", "ASST Santi Paolo e Carlo", ""), legacy, false},
		{"an entry indexed before identifiers, any locality", clinician("030", "ASST Santi Paolo e Carlo", "030901"), legacy, false},
		{"an entry whose identifier is a name, that name as subject_organization", clinician("030", "ASST Santi Paolo e Carlo", ""), nameAsID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.IsAuthor(tt.e); got != tt.want {
				t.Fatalf("IsAuthor = %v, want %v", got, tt.want)
			}
			// Blinding follows authorship: the author organisation may
			// blind, and to any other clinician the document does not
			// exist.
			want := Hide
			if tt.want {
				want = Allow
			}
			if got := Authorize(tt.c, ActBlindDocument, Target{Patient: &pat, Entry: &tt.e}); got != want {
				t.Fatalf("blind: %v, want %v", got, want)
			}
			// A blinded version: content for the author organisation,
			// nothing at all for anyone else.
			blinded := tt.e
			blinded.Events = []string{EventHidden}
			p := pat
			p.Consent.Given = true
			if got := EntryAccess(tt.c, p, blinded); got.Visible != tt.want || got.Content != tt.want {
				t.Fatalf("blinded version: %+v, want visible and content %v", got, tt.want)
			}
		})
	}
}

// An entry indexed before identifiers were kept (testdata/entry-v1.cbor:
// blinded, AuthorOrg "030-ASST-01") has no author organisation: a token
// naming that organisation, or giving its name as locality, sees nothing.
func TestLegacyEntryHasNoAuthorOrganisation(t *testing.T) {
	b, err := os.ReadFile("testdata/entry-v1.cbor")
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	p := Patient{ID: mario, Consent: Consent{Given: true}}
	for _, c := range []Caller{
		{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01"},
		{Subject: "VRDGPP70A01F205X", Role: "PSS", Purpose: PurposeTreatment, Region: "030", Organization: "030-ASST-01", Locality: "030-ASST-01"},
	} {
		if c.IsAuthor(e) {
			t.Fatalf("%+v is the author of an entry without an identifier", c)
		}
		if acc := EntryAccess(c, p, e); acc.Visible {
			t.Fatalf("%+v sees the blinded entry written before identifiers: %+v", c, acc)
		}
		if d := Authorize(c, ActBlindDocument, Target{Patient: &p, Entry: &e}); d != Hide {
			t.Fatalf("%+v may change the blinding of an entry written before identifiers: %v", c, d)
		}
	}
}

// The policy reads the locality of the verified token.
func TestCallerFromClaimsLocality(t *testing.T) {
	c := CallerFromClaims(federation.Claims{Issuer: "urn:idp:030", Subject: "VRDGPP70A01F205X", SubjectRole: "PSS",
		OrganizationID: "030", Organization: "ASST Santi Paolo e Carlo", Locality: "030901", PurposeOfUse: PurposeTreatment})
	if c.Locality != "030901" || c.Organization != "ASST Santi Paolo e Carlo" || c.Region != "030" || c.Authority {
		t.Fatalf("caller %+v", c)
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
