package fhirapi

import (
	"encoding/base64"
	"encoding/hex"
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

func ptr[T any](v T) *T { return &v }

// patientResourceID is the FHIR id of a patient: "CF-RSSMRA80A01H501U".
func patientResourceID(id string) string { return strings.Replace(id, ":", "-", 1) }

// patientFromResourceID reverses patientResourceID.
func patientFromResourceID(rid string) (string, bool) {
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

func toPatient(p index.Patient) fhir.Patient {
	kind, value, _ := strings.Cut(p.ID, ":")
	system := ident.SystemCF
	for _, k := range []ident.Kind{ident.CF, ident.STP, ident.ENI} {
		if k.String() == kind {
			system = k.System()
		}
	}
	out := fhir.Patient{
		Id:         ptr(patientResourceID(p.ID)),
		Meta:       &fhir.Meta{LastUpdated: ptr(p.Updated.UTC().Format(time.RFC3339))},
		Identifier: []fhir.Identifier{{System: ptr(system), Value: ptr(value)}},
		Active:     ptr(p.MergedInto == ""),
	}
	if p.Family != "" || len(p.Given) > 0 {
		n := fhir.HumanName{Given: p.Given}
		if p.Family != "" {
			n.Family = ptr(p.Family)
		}
		out.Name = []fhir.HumanName{n}
	}
	switch p.Gender {
	case "male":
		out.Gender = ptr(fhir.AdministrativeGenderMale)
	case "female":
		out.Gender = ptr(fhir.AdministrativeGenderFemale)
	case "other":
		out.Gender = ptr(fhir.AdministrativeGenderOther)
	case "unknown":
		out.Gender = ptr(fhir.AdministrativeGenderUnknown)
	}
	if p.BirthDate != "" {
		out.BirthDate = ptr(p.BirthDate)
	}
	if p.Deceased != "" {
		out.DeceasedDateTime = ptr(p.Deceased)
	}
	out.ManagingOrganization = &fhir.Reference{
		Identifier: &fhir.Identifier{System: ptr(SystemRegion), Value: ptr(p.HomeRegion)},
		Display:    ptr(federation.RegionNames[p.HomeRegion]),
	}
	if p.MergedInto != "" {
		out.Link = []fhir.PatientLink{{Other: fhir.Reference{Reference: ptr("Patient/" + patientResourceID(p.MergedInto))}, Type: fhir.LinkTypeReplacedBy}}
	}
	for _, m := range p.Merged {
		out.Link = append(out.Link, fhir.PatientLink{Other: fhir.Reference{Reference: ptr("Patient/" + patientResourceID(m))}, Type: fhir.LinkTypeReplaces})
	}
	return out
}

func coding(system, code, display string) fhir.CodeableConcept {
	c := fhir.Coding{System: ptr(system), Code: ptr(code)}
	if display != "" {
		c.Display = ptr(display)
	}
	return fhir.CodeableConcept{Coding: []fhir.Coding{c}}
}

// toDocumentReference maps an index entry; content says whether the
// caller may fetch the document (else the attachment has no URL).
func toDocumentReference(e index.Entry, content bool) fhir.DocumentReference {
	status := fhir.DocumentReferenceStatusCurrent
	switch e.Status {
	case index.StatusSuperseded:
		status = fhir.DocumentReferenceStatusSuperseded
	case index.StatusEnteredErr:
		status = fhir.DocumentReferenceStatusEnteredInError
	}
	t, _ := doctype.Lookup(e.Type)
	d := fhir.DocumentReference{
		Id:               ptr(index.ResourceID(e.ID)),
		Meta:             &fhir.Meta{LastUpdated: ptr(e.Indexed.UTC().Format(time.RFC3339))},
		MasterIdentifier: &fhir.Identifier{Value: ptr(e.ID)},
		Status:           status,
		Type:             ptr(coding(doctype.LOINCSystem, e.Type, t.Name)),
		Category:         []fhir.CodeableConcept{coding(SystemClass, string(e.Class), "")},
		Subject:          &fhir.Reference{Reference: ptr("Patient/" + patientResourceID(e.Patient))},
		Date:             ptr(e.Created.UTC().Format(time.RFC3339)),
		Custodian: &fhir.Reference{
			Identifier: &fhir.Identifier{System: ptr(SystemRegion), Value: ptr(e.Custodian)},
			Display:    ptr(federation.RegionNames[e.Custodian]),
		},
		SecurityLabel: []fhir.CodeableConcept{coding(SystemConfidentiality, e.Confidentiality, "")},
	}
	if e.Author != "" {
		d.Author = append(d.Author, fhir.Reference{Display: ptr(e.Author)})
	}
	d.Author = append(d.Author, fhir.Reference{Type: ptr("Organization"), Identifier: &fhir.Identifier{Value: ptr(e.AuthorOrg)}})
	for code, target := range map[fhir.DocumentRelationshipType]string{
		fhir.DocumentRelationshipTypeReplaces:   e.Replaces,
		fhir.DocumentRelationshipTypeAppends:    e.Appends,
		fhir.DocumentRelationshipTypeTransforms: e.Transforms,
	} {
		if target != "" {
			d.RelatesTo = append(d.RelatesTo, fhir.DocumentReferenceRelatesTo{Code: code, Target: fhir.Reference{Reference: ptr("DocumentReference/" + index.ResourceID(target))}})
		}
	}
	att := fhir.Attachment{ContentType: ptr(e.MIME), Size: ptr(int(min(e.Size, int64(^uint32(0)>>1))))}
	if sum, err := hex.DecodeString(e.Hash); err == nil {
		att.Extension = []fhir.Extension{{Url: ExtensionSHA256, ValueBase64Binary: ptr(base64.StdEncoding.EncodeToString(sum))}}
	}
	if content {
		att.Url = ptr("Binary/" + index.ResourceID(e.ID))
	}
	d.Content = []fhir.DocumentReferenceContent{{Attachment: att}}
	ctx := &fhir.DocumentReferenceContext{}
	for _, ev := range e.Events {
		ctx.Event = append(ctx.Event, coding(SystemEvent, ev, ""))
	}
	if !e.ServiceStart.IsZero() || !e.ServiceStop.IsZero() {
		ctx.Period = &fhir.Period{}
		if !e.ServiceStart.IsZero() {
			ctx.Period.Start = ptr(e.ServiceStart.UTC().Format(time.RFC3339))
		}
		if !e.ServiceStop.IsZero() {
			ctx.Period.End = ptr(e.ServiceStop.UTC().Format(time.RFC3339))
		}
	}
	if e.Facility != "" {
		ctx.FacilityType = ptr(coding(SystemFacility, e.Facility, ""))
	}
	if e.Setting != "" {
		ctx.PracticeSetting = ptr(coding(SystemSetting, e.Setting, ""))
	}
	if len(ctx.Event) > 0 || ctx.Period != nil || ctx.FacilityType != nil || ctx.PracticeSetting != nil {
		d.Context = ctx
	}
	return d
}

// PatientResource is the FHIR Patient of a registry record.
func PatientResource(p index.Patient) fhir.Patient { return toPatient(p) }

// DocumentReferenceOf is the FHIR DocumentReference of an index entry;
// content says whether the caller may fetch the document (else the
// attachment has no URL).
func DocumentReferenceOf(e index.Entry, content bool) fhir.DocumentReference {
	return toDocumentReference(e, content)
}

// PatientIDOf reads a Patient's FHIR id (CF-…, STP-…, ENI-…) as a registry
// id.
func PatientIDOf(rid string) (string, bool) { return patientFromResourceID(rid) }
