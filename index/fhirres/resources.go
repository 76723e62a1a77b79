// Package fhirres builds the FHIR R4 resources of fsenet's national
// state — Patient, DocumentReference, AuditEvent, Binary — and the
// absolute URLs they are served under, for every API that answers them
// (the index's registry and document API, the repository's MHD
// retrieval and history). It only builds: it reads no state, decides no
// access and writes no errors.
package fhirres

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// Systems fsenet uses where FSE names no URI of its own.
const (
	SystemRegion          = "urn:fsenet:region"               // ISTAT region codes
	SystemClass           = "urn:fsenet:tipoDocumentoLivAlto" // document classes
	SystemSetting         = "urn:fsenet:assettoOrganizzativo"
	SystemFacility        = "urn:fsenet:tipologiaStruttura"
	SystemEvent           = "urn:fsenet:eventCode" // P99, P00…
	SystemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
	ExtensionSHA256       = "urn:fsenet:attachment-sha256"
)

// Ptr returns a pointer to v, for the models' optional fields.
func Ptr[T any](v T) *T { return &v }

// PatientResourceID is the FHIR id of a patient: "CF-RSSMRA80A01H501U".
func PatientResourceID(id string) string { return strings.Replace(id, ":", "-", 1) }

// PatientIDOf reverses PatientResourceID.
func PatientIDOf(rid string) (string, bool) {
	kind, v, ok := strings.Cut(rid, "-")
	if !ok {
		return "", false
	}
	id, err := ident.Parse(v)
	if err != nil || id.Kind.String() != kind {
		return "", false
	}
	return id.String(), true
}

// Patient is the FHIR Patient of a registry record.
func Patient(p index.Patient) fhir.Patient {
	kind, value, _ := strings.Cut(p.ID, ":")
	system := ident.SystemCF
	for _, k := range []ident.Kind{ident.CF, ident.STP, ident.ENI} {
		if k.String() == kind {
			system = k.System()
		}
	}
	out := fhir.Patient{
		Id:         Ptr(PatientResourceID(p.ID)),
		Meta:       &fhir.Meta{LastUpdated: Ptr(p.Updated.UTC().Format(time.RFC3339))},
		Identifier: []fhir.Identifier{{System: Ptr(system), Value: Ptr(value)}},
		Active:     Ptr(p.MergedInto == ""),
	}
	if p.Family != "" || len(p.Given) > 0 {
		n := fhir.HumanName{Given: p.Given}
		if p.Family != "" {
			n.Family = Ptr(p.Family)
		}
		out.Name = []fhir.HumanName{n}
	}
	switch p.Gender {
	case "male":
		out.Gender = Ptr(fhir.AdministrativeGenderMale)
	case "female":
		out.Gender = Ptr(fhir.AdministrativeGenderFemale)
	case "other":
		out.Gender = Ptr(fhir.AdministrativeGenderOther)
	case "unknown":
		out.Gender = Ptr(fhir.AdministrativeGenderUnknown)
	}
	if p.BirthDate != "" {
		out.BirthDate = Ptr(p.BirthDate)
	}
	if p.Deceased != "" {
		out.DeceasedDateTime = Ptr(p.Deceased)
	}
	out.ManagingOrganization = &fhir.Reference{
		Identifier: &fhir.Identifier{System: Ptr(SystemRegion), Value: Ptr(p.HomeRegion)},
		Display:    Ptr(federation.RegionNames[p.HomeRegion]),
	}
	if p.MergedInto != "" {
		out.Link = []fhir.PatientLink{{Other: fhir.Reference{Reference: Ptr("Patient/" + PatientResourceID(p.MergedInto))}, Type: fhir.LinkTypeReplacedBy}}
	}
	for _, m := range p.Merged {
		out.Link = append(out.Link, fhir.PatientLink{Other: fhir.Reference{Reference: Ptr("Patient/" + PatientResourceID(m))}, Type: fhir.LinkTypeReplaces})
	}
	return out
}

// Coding is a CodeableConcept of one coding.
func Coding(system, code, display string) fhir.CodeableConcept {
	c := fhir.Coding{System: Ptr(system), Code: Ptr(code)}
	if display != "" {
		c.Display = Ptr(display)
	}
	return fhir.CodeableConcept{Coding: []fhir.Coding{c}}
}

// DocumentReference is the FHIR DocumentReference of an index entry;
// content says whether the caller may fetch the document (else the
// attachment has no URL), base is the server's absolute FHIR base URL
// (Base) that the attachment's URL starts with.
func DocumentReference(e index.Entry, content bool, base string) fhir.DocumentReference {
	status := fhir.DocumentReferenceStatusCurrent
	switch e.Status {
	case index.StatusSuperseded:
		status = fhir.DocumentReferenceStatusSuperseded
	case index.StatusEnteredErr:
		status = fhir.DocumentReferenceStatusEnteredInError
	}
	t, _ := doctype.Lookup(e.Type)
	d := fhir.DocumentReference{
		Id:               Ptr(index.ResourceID(e.ID)),
		Meta:             &fhir.Meta{LastUpdated: Ptr(e.Indexed.UTC().Format(time.RFC3339))},
		MasterIdentifier: &fhir.Identifier{Value: Ptr(e.ID)},
		Status:           status,
		Type:             Ptr(Coding(doctype.LOINCSystem, e.Type, t.Name)),
		Category:         []fhir.CodeableConcept{Coding(SystemClass, string(e.Class), "")},
		Subject:          &fhir.Reference{Reference: Ptr("Patient/" + PatientResourceID(e.Patient))},
		Date:             Ptr(e.Created.UTC().Format(time.RFC3339)),
		Custodian: &fhir.Reference{
			Identifier: &fhir.Identifier{System: Ptr(SystemRegion), Value: Ptr(e.Custodian)},
			Display:    Ptr(federation.RegionNames[e.Custodian]),
		},
		SecurityLabel: []fhir.CodeableConcept{Coding(SystemConfidentiality, e.Confidentiality, "")},
	}
	if e.Author != "" {
		d.Author = append(d.Author, fhir.Reference{Display: Ptr(e.Author)})
	}
	// The author organisation: its name for display, and its identifier
	// (the structure or ASL code) when the index has one.
	org := fhir.Reference{Type: Ptr("Organization"), Display: Ptr(e.AuthorOrg)}
	if e.AuthorOrgID != "" {
		org.Identifier = &fhir.Identifier{Value: Ptr(e.AuthorOrgID)}
		if e.AuthorOrgSystem != "" {
			org.Identifier.System = Ptr(e.AuthorOrgSystem)
		}
	}
	d.Author = append(d.Author, org)
	for code, target := range map[fhir.DocumentRelationshipType]string{
		fhir.DocumentRelationshipTypeReplaces:   e.Replaces,
		fhir.DocumentRelationshipTypeAppends:    e.Appends,
		fhir.DocumentRelationshipTypeTransforms: e.Transforms,
	} {
		if target != "" {
			d.RelatesTo = append(d.RelatesTo, fhir.DocumentReferenceRelatesTo{Code: code, Target: fhir.Reference{Reference: Ptr("DocumentReference/" + index.ResourceID(target))}})
		}
	}
	att := fhir.Attachment{ContentType: Ptr(e.MIME), Size: Ptr(int(min(e.Size, int64(^uint32(0)>>1))))}
	if sum, err := hex.DecodeString(e.Hash); err == nil {
		att.Extension = []fhir.Extension{{Url: ExtensionSHA256, ValueBase64Binary: Ptr(base64.StdEncoding.EncodeToString(sum))}}
	}
	if content {
		att.Url = Ptr(base + "/Binary/" + index.ResourceID(e.ID))
	}
	d.Content = []fhir.DocumentReferenceContent{{Attachment: att}}
	ctx := &fhir.DocumentReferenceContext{}
	for _, ev := range e.Events {
		ctx.Event = append(ctx.Event, Coding(SystemEvent, ev, ""))
	}
	if !e.ServiceStart.IsZero() || !e.ServiceStop.IsZero() {
		ctx.Period = &fhir.Period{}
		if !e.ServiceStart.IsZero() {
			ctx.Period.Start = Ptr(e.ServiceStart.UTC().Format(time.RFC3339))
		}
		if !e.ServiceStop.IsZero() {
			ctx.Period.End = Ptr(e.ServiceStop.UTC().Format(time.RFC3339))
		}
	}
	if e.Facility != "" {
		ctx.FacilityType = Ptr(Coding(SystemFacility, e.Facility, ""))
	}
	if e.Setting != "" {
		ctx.PracticeSetting = Ptr(Coding(SystemSetting, e.Setting, ""))
	}
	if len(ctx.Event) > 0 || ctx.Period != nil || ctx.FacilityType != nil || ctx.PracticeSetting != nil {
		d.Context = ctx
	}
	return d
}

// AuditEvent is the FHIR AuditEvent of an audit trail event.
func AuditEvent(e index.Event) fhir.AuditEvent {
	action := fhir.AuditEventActionR
	switch e.Action {
	case index.ActionCreate:
		action = fhir.AuditEventActionC
	case index.ActionUpdate:
		action = fhir.AuditEventActionU
	case index.ActionDelete:
		action = fhir.AuditEventActionD
	case index.ActionExecute:
		action = fhir.AuditEventActionE
	}
	outcome := fhir.AuditEventOutcome0
	if e.Outcome == index.OutcomeRefused {
		outcome = fhir.AuditEventOutcome4
	} else if e.Outcome == index.OutcomeSeriousFailure {
		outcome = fhir.AuditEventOutcome8
	}
	ae := fhir.AuditEvent{
		// The serving node and its number for the event identify it.
		Id:       Ptr(fmt.Sprintf("%s-%d", e.Node, e.NodeSeq)),
		Type:     fhir.Coding{System: Ptr("http://terminology.hl7.org/CodeSystem/audit-event-type"), Code: Ptr("rest"), Display: Ptr(e.What)},
		Action:   &action,
		Recorded: e.Time.UTC().Format(time.RFC3339Nano),
		Outcome:  &outcome,
		Agent: []fhir.AuditEventAgent{{
			Who:          &fhir.Reference{Identifier: &fhir.Identifier{System: Ptr(ident.SystemCF), Value: Ptr(e.Actor)}, Display: Ptr(e.Org)},
			Role:         []fhir.CodeableConcept{Coding("urn:fsenet:subject_role", e.Role, "")},
			Requestor:    true,
			PurposeOfUse: []fhir.CodeableConcept{Coding("urn:fsenet:purpose_of_use", e.Purpose, "")},
		}},
		Source: fhir.AuditEventSource{Observer: fhir.Reference{Identifier: &fhir.Identifier{System: Ptr(SystemRegion), Value: Ptr(e.Node)}}},
	}
	if e.Override {
		ae.OutcomeDesc = Ptr("emergency access without consent")
	}
	if e.Patient != "" {
		ae.Entity = append(ae.Entity, fhir.AuditEventEntity{What: &fhir.Reference{Reference: Ptr("Patient/" + PatientResourceID(e.Patient))}})
	}
	for _, d := range e.Documents {
		ae.Entity = append(ae.Entity, fhir.AuditEventEntity{What: &fhir.Reference{Reference: Ptr("DocumentReference/" + index.ResourceID(d))}})
	}
	return ae
}

// SystemAuditIntegrity is the system of the tag that marks an AuditEvent
// whose record fails the audit trail's hash-chain verification.
const SystemAuditIntegrity = "urn:fsenet:audit-integrity"

// AuditHit is the FHIR AuditEvent of an event an access-log search found.
// An event whose batch fails the hash chain's verification is still shown
// (hiding it would hide the tampering) but tagged: meta.tag
// urn:fsenet:audit-integrity|failed, whose display says why.
func AuditHit(h index.AuditHit) fhir.AuditEvent {
	ae := AuditEvent(h.Event)
	if h.Broken != "" {
		ae.Meta = &fhir.Meta{Tag: []fhir.Coding{{System: Ptr(SystemAuditIntegrity), Code: Ptr("failed"),
			Display: Ptr("fails the audit trail's hash-chain verification: " + h.Broken)}}}
	}
	return ae
}

// AuditIntegrity is the OperationOutcome entry of an access-log search
// that met batches failing the hash chain's verification: one warning
// (security) per batch, saying why, and whether its events are shown
// (tagged) or withheld (unreadable).
func AuditIntegrity(problems []string) fhir.OperationOutcome {
	var oo fhir.OperationOutcome
	for _, p := range problems {
		oo.Issue = append(oo.Issue, fhir.OperationOutcomeIssue{Severity: fhir.IssueSeverityWarning, Code: fhir.IssueTypeSecurity, Diagnostics: Ptr(p)})
	}
	return oo
}
