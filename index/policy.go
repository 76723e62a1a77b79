package index

import (
	"slices"

	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// Caller is who asks, as their verified token says.
type Caller struct {
	Subject      string // sub: the person's codice fiscale
	Role         string // subject_role
	Purpose      string // purpose_of_use
	Region       string // subject_organization_id
	Organization string // subject_organization: the caller's organisation id
	Authority    bool   // the national authority
}

// Roles and purposes the policy names.
const (
	RolePatient  = "ASS"
	RoleGuardian = "TUT"

	PurposeTreatment    = "TREATMENT"
	PurposeEmergency    = "EMERGENCY"
	PurposePersonal     = "PERSONAL"
	PurposeSysadmin     = "SYSADMIN"
	PurposePublicHealth = "PUBLICHEALTH"
)

// clinicalRoles are the professionals who may consult a patient's record
// for treatment.
var clinicalRoles = []string{"AAS", "APR", "PSS", "INF", "FAR", "MRP", "DRS", "RSA", "DSA"}

// Access is the policy's verdict on one document version for one caller.
type Access struct {
	// Visible: the caller may know the version exists and read its
	// metadata. A version that is not visible must be treated exactly like
	// one that does not exist.
	Visible bool
	// Content: the caller may also fetch the document itself.
	Content bool
	// Override: visible only through the emergency override of a missing
	// consent; the access is flagged for the patient.
	Override bool
}

// IsPatient reports whether the caller is the patient (by codice
// fiscale), acting for themselves.
func (c Caller) IsPatient(p Patient) bool {
	if c.Role != RolePatient || c.Subject == "" {
		return false
	}
	id, err := ident.Parse(c.Subject)
	if err != nil {
		return false
	}
	return id.String() == p.ID || slices.Contains(p.Merged, id.String())
}

// IsAuthor reports whether the caller belongs to the organisation that
// wrote the version.
func (c Caller) IsAuthor(e Entry) bool {
	return c.Organization != "" && c.Organization == e.AuthorOrg && c.Region == e.Custodian && !c.Authority
}

// EntryAccess is the one access policy over role, purpose of use,
// consent, blinding and authorship, used by every read path:
//
//   - the patient sees all of their own record, blinded versions included;
//   - the author organisation sees what it wrote, with or without consent
//     (it never loses access to its own documents);
//   - a blinded (P99) version, a very restricted one (V) and a withdrawn
//     one are seen by nobody else;
//   - a clinician consulting for treatment or emergency sees the rest when
//     the patient consents; without consent, purpose EMERGENCY still opens
//     the patient summary and the emergency report, flagged;
//   - the national authority sees metadata (never content) of what is not
//     blinded;
//   - anyone else sees nothing.
func EntryAccess(c Caller, p Patient, e Entry) Access {
	switch {
	case c.IsPatient(p):
		return Access{Visible: true, Content: e.Status != StatusEnteredErr}
	case c.IsAuthor(e):
		return Access{Visible: true, Content: true}
	case e.Hidden() || e.Confidentiality == "V" || e.Status == StatusEnteredErr:
		return Access{}
	case c.Authority:
		return Access{Visible: true}
	case !slices.Contains(clinicalRoles, c.Role):
		return Access{}
	case c.Purpose != PurposeTreatment && c.Purpose != PurposeEmergency:
		return Access{}
	case p.Consent.Given:
		return Access{Visible: true, Content: true}
	case c.Purpose == PurposeEmergency && (e.Type == doctype.PatientSummary || e.Type == doctype.EmergencyReport):
		return Access{Visible: true, Content: true, Override: true}
	}
	return Access{}
}

// PatientAccess says whether the caller may read a patient's registry
// record (demographics, home region, consent): the patient, clinicians
// consulting for treatment or emergency, the region operators and the
// authority.
func PatientAccess(c Caller, p Patient) bool {
	switch {
	case c.IsPatient(p), c.Authority:
		return true
	case c.Purpose == PurposeSysadmin:
		return true
	case slices.Contains(clinicalRoles, c.Role) && (c.Purpose == PurposeTreatment || c.Purpose == PurposeEmergency):
		return true
	}
	return false
}
