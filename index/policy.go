package index

import (
	"slices"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// Caller is who asks, as their verified token says.
type Caller struct {
	Subject string // sub: the person's codice fiscale
	Role    string // subject_role
	Purpose string // purpose_of_use
	// Region is subject_organization_id: the region whose identity
	// provider issued the token (the verifier refuses a token whose
	// region is not its issuer's).
	Region string
	// Organization is subject_organization: the organisation's name, for
	// the audit trail and display. Authorship never rests on it; the one
	// decision that still reads it is ActReadWorkflow, which matches it
	// against the organisation a producer is registered for.
	Organization string
	// Locality is the code of the caller's structure or ASL, as the
	// region's identity provider asserts it: with Region, the identifier
	// of the caller's organisation.
	Locality  string
	Authority bool // the national authority
}

// CallerFromClaims is the policy's view of a verified token.
func CallerFromClaims(c federation.Claims) Caller {
	return Caller{Subject: c.Subject, Role: c.SubjectRole, Purpose: c.PurposeOfUse, Region: c.OrganizationID,
		Organization: c.Organization, Locality: c.Locality, Authority: c.Issuer == federation.AuthorityIssuer}
}

// OperatorOf reports whether the caller is an operator of region: a
// SYSADMIN token of that region's identity provider. This is the one
// meaning of "operator"; the national authority is not an operator of
// any region and is named as such (Caller.Authority).
func (c Caller) OperatorOf(region string) bool {
	return !c.Authority && region != "" && c.Purpose == PurposeSysadmin && c.Region == region
}

// treating reports whether the caller is a clinician consulting for
// treatment or emergency.
func (c Caller) treating() bool {
	return !c.Authority && slices.Contains(clinicalRoles, c.Role) && (c.Purpose == PurposeTreatment || c.Purpose == PurposeEmergency)
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

// IsAuthor reports whether the caller speaks for the organisation that
// wrote the version: the token was issued by the identity provider of the
// region that keeps the version (its subject_organization_id is the
// custodian region, which the verifier binds to the issuer) and its
// locality is the identifier of the version's author organisation
// (Entry.AuthorOrgID). Names count for nothing: neither the token's
// subject_organization nor the entry's AuthorOrg. A version without an
// author organisation identifier (one indexed before identifiers were
// kept) has no author organisation.
func (c Caller) IsAuthor(e Entry) bool {
	return !c.Authority && c.Region != "" && c.Region == e.Custodian &&
		c.Locality != "" && e.AuthorOrgID != "" && c.Locality == e.AuthorOrgID
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

// FactAccess is the policy's verdict on the structured data extracted
// from a version (its Observations, Conditions, ...): exactly who may
// have the version's content, and only while it is current — a replaced
// or withdrawn version's data goes with it, a hidden one's is hidden as
// the document is.
func FactAccess(c Caller, p Patient, e Entry) Access {
	acc := EntryAccess(c, p, e)
	if !acc.Content || e.Status != StatusCurrent {
		return Access{}
	}
	return acc
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

// Action is something a caller asks to do; Authorize judges it.
type Action string

// The actions of the node's API. Reads of clinical data are judged per
// version by EntryAccess and per patient by PatientAccess; every other
// decision is an Action.
const (
	// The registry. ActWriteRegistry is the gate checked before a write's
	// body is read: may this caller write the registry at all?
	ActWriteRegistry  Action = "registry.write"
	ActCreatePatient  Action = "patient.create"  // Target.NewHome: the home region of the new record
	ActUpdatePatient  Action = "patient.update"  // Target.Patient: the current record; NewHome: the one asked for
	ActMergePatients  Action = "patient.merge"   // Patient: the survivor; Other: the identity merged into it
	ActChangeConsent  Action = "patient.consent" // Patient
	ActReadPatientLog Action = "audit.patient"   // Patient: whose access log
	ActReadAgentLog   Action = "audit.agent"     // an agent's accesses across patients

	// Documents.
	ActBlindDocument Action = "document.blind" // Patient and Entry; also unblinding
	ActPublish       Action = "document.publish"
	ActReadWorkflow  Action = "document.workflow" // Region; Organization: the organisation that started it

	// The region's node.
	ActRegisterProducer Action = "producer.register" // Region: this node's
	ActSnapshot         Action = "node.snapshot"     // Region: this node's
	ActBackup           Action = "node.backup"       // Region: this node's (its documents too)
	// ActExtractionStatus reads how the region's documents' structured
	// data was extracted. Region: this node's.
	ActExtractionStatus Action = "node.extraction"

	// Telemedicine's national catalogue.
	ActReadCatalogue  Action = "telemed.catalogue.read"  // any authenticated caller: nothing clinical
	ActManageService  Action = "telemed.service.write"   // Region: the providing region (of the current record, if any)
	ActAdoptService   Action = "telemed.service.adopt"   // Region: the providing region
	ActCatalogueReuse Action = "telemed.catalogue.reuse" // the authority's view of reuse per service
	// A provider's schedule. Region: the providing region; Usable: the
	// caller's region may use the service (it provides it, the service is
	// national, or the region adopted it).
	ActManageSchedule Action = "telemed.schedule.write" // add slots
	ActSearchSlots    Action = "telemed.slots.search"
	ActBook           Action = "telemed.appointment.book" // Patient: the patient's current record
	ActReadBooking    Action = "telemed.appointment.read" // Patient; Organization: the booker's subject
	// Care delivered at the provider: a televisit's encounter and report,
	// a teleconsult's task and report, a teleassistance plan's sessions
	// and final report. Region: the providing region; Patient: the
	// patient's current record; Usable: the plan's template may be used
	// there (always true for visits and teleconsults); Organization: for
	// a teleconsult, the requesting clinician's subject, who does not
	// answer their own request.
	ActDeliverCare Action = "telemed.care.write"
	// ActRequestConsult asks another region's service for a teleconsult.
	// Patient; Usable: as for a booking.
	ActRequestConsult Action = "telemed.consult.request"
	// ActConsultMessage writes into a teleconsult (questions, answers,
	// attachments by reference) or cancels it. Region: the providing
	// region; Organization: the requesting clinician's subject.
	ActConsultMessage Action = "telemed.consult.message"
	// Telemonitoring, at the patient's home node. Region: that node's;
	// Patient; Usable: the plan's template may be used there; Team: the
	// plan's care team.
	ActEnrolMonitoring Action = "telemed.monitoring.enrol"  // a plan, its devices
	ActSendReadings    Action = "telemed.monitoring.ingest" // readings from the patient's devices
	ActReadMonitoring  Action = "telemed.monitoring.read"   // the plan, its readings and alerts
	ActAckAlert        Action = "telemed.monitoring.ack"    // acknowledge an alert: a member of the plan's care team
	// ActReadCare reads an encounter, a teleconsult or a care plan.
	// Region, Patient; Organization: the requester's subject.
	ActReadCare Action = "telemed.care.read"

	// The federation.
	ActClusterStatus Action = "federation.status"
	ActVerifyAudit   Action = "federation.audit-verify"
	ActFeeding       Action = "authority.feeding"
	ActCertify       Action = "authority.certify"
	ActRevoke        Action = "authority.revoke"
	// ActPopulationQuery asks every region an aggregate over its
	// structured data (only suppressed aggregates leave a region).
	ActPopulationQuery Action = "authority.population"
)

// Target is the current state an action is judged on. Each action reads
// the fields its comment names; the others are ignored.
type Target struct {
	Region       string   // the region that owns what is acted on (for a node's actions, the node's region)
	Patient      *Patient // the patient's current record; nil when not registered
	Other        *Patient // a merge: the identity merged away
	NewHome      string   // a registry write: the home region the written record names
	Entry        *Entry   // the document version acted on
	Organization string   // a workflow: the organisation that started it; a booking: its booker's subject
	Usable       bool     // a telemedicine service the caller's region may use
	Team         []string // a telemonitoring plan's care team (subjects)
}

// Decision is the policy's answer.
type Decision int

const (
	// Hide: to this caller the target does not exist (404, the same answer
	// as for one that does not).
	Hide Decision = iota
	// Deny: the caller may know the target but may not do this (403).
	Deny
	// Allow: go on.
	Allow
)

func (d Decision) String() string {
	return [...]string{"hide", "deny", "allow"}[d]
}

// Err is the decision as an error, nil for Allow: what is hidden is
// answered as absent ("no such <what>", consensus.ErrNotFound), what is
// denied as forbidden (consensus.ErrForbidden); the API's one status
// table answers both.
func (d Decision) Err(what string) error {
	switch d {
	case Allow:
		return nil
	case Hide:
		return consensus.Errorf(consensus.CodeNotFound, "no such %s", what)
	}
	return consensus.Errorf(consensus.CodeForbidden, "this token does not grant this operation")
}

func allowIf(ok bool) Decision {
	if ok {
		return Allow
	}
	return Deny
}

// hideUnless answers a caller who may not act as if there were nothing.
func hideUnless(ok bool) Decision {
	if ok {
		return Allow
	}
	return Hide
}

// Authorize is the one access policy for every decision but the
// per-version read filter (EntryAccess): a pure function of the caller,
// the action and the current state.
//
//   - The registry is written by the operators of the patient's current
//     home region and by the authority. A new record names its home
//     region, whose operators register it; a record is changed — a move
//     of home region included — by the operators of its current home; a
//     merge needs that right over both identities.
//   - Consent is changed by the patient or by whoever may write the
//     record; to anyone who may not read the record, it does not exist.
//   - A document's blinding is changed by its patient or its author
//     organisation; to anyone else the document does not exist.
//   - A patient's access log is read by the patient and the authority;
//     an agent's, by the authority.
//   - A region's node is administered by that region's operators (producer
//     registration; snapshots also by the authority); the federation's
//     status and audit chain by any member region's operator and the
//     authority; feeding statistics, certificates and revocations by the
//     authority alone; so are population questions (research asks with
//     a token the authority issues).
//   - The telemedicine catalogue is read by anyone authenticated (it holds
//     nothing clinical); a region's services are written by its
//     operators; another region's operators adopt them; the authority
//     sees their reuse. A provider's schedule is kept by its operators;
//     its free slots are searched, and booked, by clinicians (for
//     treatment or emergency) and patients (for themselves) of a region
//     that may use the service; a booking is read by its patient, its
//     booker and the provider's clinicians.
//   - A region's documents are published, and their workflows read, by
//     callers of that region: a producer sees the workflows its
//     organisation started, the region's operators all of them.
func Authorize(c Caller, a Action, t Target) Decision {
	switch a {
	case ActWriteRegistry:
		return allowIf(c.Authority || c.OperatorOf(c.Region))
	case ActCreatePatient:
		return allowIf(c.Authority || c.OperatorOf(t.NewHome))
	case ActUpdatePatient:
		if t.Patient == nil {
			return Hide
		}
		return allowIf(c.Authority || c.OperatorOf(t.Patient.HomeRegion))
	case ActMergePatients:
		if t.Patient == nil || t.Other == nil {
			return Hide
		}
		return allowIf(c.Authority || c.OperatorOf(t.Patient.HomeRegion) && c.OperatorOf(t.Other.HomeRegion))
	case ActChangeConsent:
		switch {
		case t.Patient == nil:
			return Hide
		case c.IsPatient(*t.Patient), c.Authority, c.OperatorOf(t.Patient.HomeRegion):
			return Allow
		case PatientAccess(c, *t.Patient):
			return Deny
		}
		return Hide
	case ActReadPatientLog:
		return allowIf(c.Authority || t.Patient != nil && c.IsPatient(*t.Patient))
	case ActReadAgentLog:
		return allowIf(c.Authority)
	case ActBlindDocument:
		if t.Patient == nil || t.Entry == nil || !(c.IsPatient(*t.Patient) || c.IsAuthor(*t.Entry)) {
			return Hide
		}
		return Allow
	case ActPublish:
		return allowIf(!c.Authority && t.Region != "" && c.Region == t.Region && c.Role != RolePatient && c.Role != RoleGuardian)
	case ActReadWorkflow:
		if c.OperatorOf(t.Region) || !c.Authority && c.Region == t.Region && c.Organization != "" && c.Organization == t.Organization {
			return Allow
		}
		return Hide
	case ActRegisterProducer, ActExtractionStatus:
		return allowIf(c.OperatorOf(t.Region))
	case ActSnapshot:
		return allowIf(c.Authority || c.OperatorOf(t.Region))
	case ActBackup:
		// The region's documents stay in the region: only its operator.
		return allowIf(c.OperatorOf(t.Region))
	case ActClusterStatus, ActVerifyAudit:
		return allowIf(c.Authority || c.OperatorOf(c.Region))
	case ActFeeding, ActCertify, ActRevoke, ActCatalogueReuse, ActPopulationQuery:
		return allowIf(c.Authority)
	case ActReadCatalogue:
		return Allow
	case ActManageSchedule:
		return allowIf(c.OperatorOf(t.Region))
	case ActSearchSlots:
		return allowIf(t.Usable && (c.Role == RolePatient || c.Role == RoleGuardian || c.treating()))
	case ActBook:
		// Whether a patient is registered is no one's to learn by
		// booking: a caller who may not book for them is told what an
		// unregistered patient's booking is told.
		switch {
		case t.Patient == nil || !(c.IsPatient(*t.Patient) || c.treating()):
			return Hide
		case !t.Usable:
			return Deny
		}
		return Allow
	case ActDeliverCare:
		switch {
		case t.Patient == nil || !c.treating() || c.Region != t.Region:
			return Hide
		case !t.Usable || t.Organization != "" && c.Subject == t.Organization:
			return Deny
		}
		return Allow
	case ActRequestConsult:
		switch {
		case t.Patient == nil || !c.treating():
			return Hide
		case !t.Usable:
			return Deny
		}
		return Allow
	case ActConsultMessage:
		return hideUnless(c.treating() && (c.Region == t.Region || c.Subject == t.Organization))
	case ActEnrolMonitoring:
		switch {
		case t.Patient == nil || !c.treating() || c.Region != t.Region || t.Patient.HomeRegion != t.Region:
			return Hide
		case !t.Usable:
			return Deny
		}
		return Allow
	case ActSendReadings:
		// The patient's own app, or their home region's clinicians and
		// operators (a region's device gateway speaks as its operator).
		return hideUnless(t.Patient != nil && t.Patient.HomeRegion == t.Region && (c.IsPatient(*t.Patient) ||
			c.Region == t.Region && (c.treating() || c.OperatorOf(t.Region))))
	case ActReadMonitoring:
		return hideUnless(t.Patient != nil && (c.IsPatient(*t.Patient) || c.treating() && (c.Region == t.Region || slices.Contains(t.Team, c.Subject))))
	case ActAckAlert:
		return hideUnless(t.Patient != nil && c.treating() && slices.Contains(t.Team, c.Subject))
	case ActReadBooking, ActReadCare:
		// The booker (or requester) reads as the clinician they are, not
		// with any other token of theirs.
		if t.Patient != nil && (c.IsPatient(*t.Patient) || c.treating() && (c.Subject != "" && c.Subject == t.Organization || c.Region == t.Region)) {
			return Allow
		}
		return Hide
	case ActManageService:
		return allowIf(c.OperatorOf(t.Region))
	case ActAdoptService:
		return allowIf(c.OperatorOf(c.Region) && c.Region != t.Region)
	}
	return Deny
}
