package cda

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// Failure is one header rule a document breaks.
type Failure struct {
	// Rule is the national schematron's id of the rule (ERRORE-n) where
	// the document type's schematron names one, else fsenet's own id
	// (HDR-name).
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (f Failure) String() string { return f.Rule + ": " + f.Message }

// OIDs the header rules name.
const (
	OIDTypeID      = "2.16.840.1.113883.1.3"
	TypeIDExt      = "POCD_MT000040UV02"
	OIDLOINC       = "2.16.840.1.113883.6.1"
	OIDConfidCodes = "2.16.840.1.113883.5.25"
	// OIDDocPrefix starts the root of every FSE document id:
	// 2.16.840.1.113883.2.9.2.<region>.4.4.
	OIDDocPrefix = "2.16.840.1.113883.2.9.2."
)

// Checks, by fsenet's name. A document type's schematron maps some of
// them to its own ERRORE ids (ruleIDs).
const (
	ckRealm           = "realmCode"
	ckTypeID          = "typeId"
	ckTemplate        = "templateId"
	ckID              = "id"
	ckCode            = "code"
	ckEffectiveTime   = "effectiveTime"
	ckConfidentiality = "confidentialityCode"
	ckLanguage        = "languageCode"
	ckSetID           = "setId"
	ckVersion         = "versionNumber"
	ckRecordTarget    = "recordTarget"
	ckPatientID       = "recordTarget.id"
	ckPatientName     = "recordTarget.name"
	ckGender          = "recordTarget.administrativeGenderCode"
	ckBirthTime       = "recordTarget.birthTime"
	ckAuthor          = "author"
	ckAuthorID        = "author.id"
	ckAuthorTime      = "author.time"
	ckCustodian       = "custodian"
	ckLegalAuth       = "legalAuthenticator"
	ckSignatureCode   = "legalAuthenticator.signatureCode"
	ckLegalAuthID     = "legalAuthenticator.id"
	ckRelated         = "relatedDocument"
	ckBody            = "component"
)

// Template is what the header rules know of one document type.
type Template struct {
	LOINC string
	Name  string
	// Root is the templateId root of the document type (HL7 Italia).
	Root string
	// LegalAuthenticator: the schematron requires one.
	LegalAuthenticator bool
	// RuleIDs maps fsenet's checks to the schematron's ERRORE ids.
	RuleIDs map[string]string
}

// templates are the document types whose national schematrons are
// known, with the ERRORE ids of their header rules (schematronFSE_LAB
// v27.1, schematronFSE_LDO v5.5, schematron_PSS v4.0, schematronFSE_RAD
// v4.1). The ids differ from one schematron to the next.
var templates = map[string]Template{
	"11502-2": {LOINC: "11502-2", Name: "Referto di laboratorio", Root: "2.16.840.1.113883.2.9.10.1.1", LegalAuthenticator: true,
		RuleIDs: map[string]string{ckRealm: "ERRORE-2", ckTemplate: "ERRORE-4", ckCode: "ERRORE-5", ckConfidentiality: "ERRORE-6",
			ckLanguage: "ERRORE-7", ckRelated: "ERRORE-9", ckRecordTarget: "ERRORE-10", ckPatientID: "ERRORE-11",
			ckPatientName: "ERRORE-15", ckGender: "ERRORE-16", ckBirthTime: "ERRORE-18", ckCustodian: "ERRORE-24",
			ckLegalAuth: "ERRORE-26", ckSignatureCode: "ERRORE-27", ckLegalAuthID: "ERRORE-28"}},
	"34105-7": {LOINC: "34105-7", Name: "Lettera di dimissione ospedaliera", Root: "2.16.840.1.113883.2.9.10.1.5", LegalAuthenticator: true,
		RuleIDs: map[string]string{ckRealm: "ERRORE-2", ckTemplate: "ERRORE-4", ckCode: "ERRORE-5", ckConfidentiality: "ERRORE-6",
			ckLanguage: "ERRORE-7", ckRelated: "ERRORE-9", ckRecordTarget: "ERRORE-10", ckPatientID: "ERRORE-10a",
			ckPatientName: "ERRORE-14", ckGender: "ERRORE-15", ckBirthTime: "ERRORE-17", ckCustodian: "ERRORE-27",
			ckLegalAuth: "ERRORE-29", ckSignatureCode: "ERRORE-30", ckLegalAuthID: "ERRORE-31"}},
	"60591-5": {LOINC: "60591-5", Name: "Profilo sanitario sintetico", Root: "2.16.840.1.113883.2.9.10.1.4.1.1", LegalAuthenticator: true,
		RuleIDs: map[string]string{ckRealm: "ERRORE-2", ckTemplate: "ERRORE-4", ckCode: "ERRORE-5", ckConfidentiality: "ERRORE-6",
			ckLanguage: "ERRORE-7", ckRelated: "ERRORE-9", ckRecordTarget: "ERRORE-10", ckPatientID: "ERRORE-10a",
			ckPatientName: "ERRORE-14", ckGender: "ERRORE-15", ckBirthTime: "ERRORE-17", ckCustodian: "ERRORE-25",
			ckLegalAuth: "ERRORE-26a", ckSignatureCode: "ERRORE-27", ckLegalAuthID: "ERRORE-28"}},
	"68604-8": {LOINC: "68604-8", Name: "Referto di radiologia", Root: "2.16.840.1.113883.2.9.10.1.7.1", LegalAuthenticator: true,
		RuleIDs: map[string]string{ckRealm: "ERRORE-2", ckTemplate: "ERRORE-4", ckCode: "ERRORE-5", ckConfidentiality: "ERRORE-6",
			ckLanguage: "ERRORE-7", ckRelated: "ERRORE-9", ckRecordTarget: "ERRORE-10", ckPatientID: "ERRORE-10a",
			ckPatientName: "ERRORE-14", ckGender: "ERRORE-15", ckBirthTime: "ERRORE-17", ckCustodian: "ERRORE-27",
			ckLegalAuth: "ERRORE-29", ckSignatureCode: "ERRORE-30", ckLegalAuthID: "ERRORE-31"}},
}

// TemplateOf returns the template of a LOINC document type.
func TemplateOf(loinc string) (Template, bool) {
	t, ok := templates[loinc]
	return t, ok
}

var (
	tsRe      = regexp.MustCompile(`^\d{8}(\d{4}(\d{2}(\.\d{1,4})?)?)?([+-]\d{4})?$`)
	docRootRe = regexp.MustCompile(`^2\.16\.840\.1\.113883\.2\.9\.2\.(\d{1,3})\.4\.4$`)
	langRe    = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
)

// Check returns every header rule h breaks; none means the header is
// valid. The document type's own template (by its LOINC code) decides
// the rule ids and the type-specific rules; a type FSE lists but whose
// schematron is not known is checked against the common rules.
func Check(h *Header) []Failure {
	var tmpl Template
	if h.Code != nil {
		tmpl = templates[h.Code.Code]
	}
	var out []Failure
	fail := func(check, format string, args ...any) {
		id := tmpl.RuleIDs[check]
		if id == "" {
			id = "HDR-" + check
		}
		out = append(out, Failure{Rule: id, Message: fmt.Sprintf(format, args...)})
	}

	if len(h.RealmCodes) != 1 || h.RealmCodes[0].Code != "IT" {
		fail(ckRealm, "the document must have one realmCode, with code IT")
	}
	if h.TypeID == nil || h.TypeID.Root != OIDTypeID || h.TypeID.Extension != TypeIDExt {
		fail(ckTypeID, "typeId must have root %s and extension %s", OIDTypeID, TypeIDExt)
	}
	if len(h.TemplateIDs) == 0 {
		fail(ckTemplate, "the document must have a templateId")
	} else if tmpl.Root != "" && !slices.ContainsFunc(h.TemplateIDs, func(i II) bool { return i.Root == tmpl.Root }) {
		fail(ckTemplate, "a %s must have templateId root %s", tmpl.Name, tmpl.Root)
	}
	switch {
	case h.ID == nil:
		fail(ckID, "the document must have an id")
	case !docRootRe.MatchString(h.ID.Root) || strings.TrimSpace(h.ID.Extension) == "":
		fail(ckID, "id must have root %s<region>.4.4 and an extension", OIDDocPrefix)
	}
	switch {
	case h.Code == nil || h.Code.Code == "":
		fail(ckCode, "the document must have a code")
	case h.Code.CodeSystem != OIDLOINC:
		fail(ckCode, "code must be in codeSystem %s (LOINC)", OIDLOINC)
	default:
		if _, ok := doctype.Lookup(h.Code.Code); !ok {
			fail(ckCode, "code %q is not an FSE document type", h.Code.Code)
		}
	}
	if h.EffectiveTime == nil || !tsRe.MatchString(h.EffectiveTime.Value) {
		fail(ckEffectiveTime, "effectiveTime must have a value of the form yyyyMMdd[HHmm[ss]][+zzzz]")
	}
	if c := h.Confidentiality; c == nil || !slices.Contains([]string{"N", "R", "V"}, c.Code) || c.CodeSystem != OIDConfidCodes {
		fail(ckConfidentiality, "confidentialityCode must be N, R or V in codeSystem %s", OIDConfidCodes)
	}
	if h.Language == nil || !langRe.MatchString(h.Language.Code) {
		fail(ckLanguage, "languageCode must be a language code such as it-IT")
	}
	switch {
	case h.SetID == nil:
		fail(ckSetID, "the document must have a setId")
	case strings.TrimSpace(h.SetID.Root) == "" || strings.TrimSpace(h.SetID.Extension) == "":
		fail(ckSetID, "setId must have a root and an extension")
	}
	version := 0
	if h.VersionNumber != nil {
		version, _ = strconv.Atoi(h.VersionNumber.Value)
	}
	if version < 1 {
		fail(ckVersion, "versionNumber must be a positive integer")
	}
	checkRecordTarget(h, fail)
	if len(h.Authors) == 0 {
		fail(ckAuthor, "the document must have an author")
	}
	for _, a := range h.Authors {
		if !slices.ContainsFunc(a.IDs, func(i II) bool { return i.Root != "" && strings.TrimSpace(i.Extension) != "" }) {
			fail(ckAuthorID, "every author must have an assignedAuthor id with a root and an extension")
		}
		if !tsRe.MatchString(a.Time.Value) {
			fail(ckAuthorTime, "every author must have a time")
		}
	}
	if c := h.Custodian; c == nil || !slices.ContainsFunc(c.IDs, func(i II) bool { return i.Root != "" }) || strings.TrimSpace(c.Name) == "" {
		fail(ckCustodian, "custodian must have a representedCustodianOrganization with an id and a name")
	}
	if la := h.LegalAuthenticator; la == nil {
		if tmpl.LegalAuthenticator {
			fail(ckLegalAuth, "a %s must have a legalAuthenticator", tmpl.Name)
		}
	} else {
		if !tsRe.MatchString(la.Time.Value) {
			fail(ckLegalAuth, "legalAuthenticator must have a time")
		}
		if la.SignatureCode.Code != "S" {
			fail(ckSignatureCode, "legalAuthenticator/signatureCode must have code S")
		}
		if !slices.ContainsFunc(la.IDs, func(i II) bool { return i.Root == ident.OIDCF && i.Extension != "" }) {
			fail(ckLegalAuthID, "legalAuthenticator/assignedEntity must have an id with root %s", ident.OIDCF)
		}
	}
	for _, r := range h.RelatedDocuments {
		if !slices.Contains([]string{"RPLC", "APND", "XFRM"}, r.TypeCode) || len(r.Parents) == 0 {
			fail(ckRelated, "relatedDocument must have typeCode RPLC, APND or XFRM and a parentDocument id")
		}
	}
	if version > 1 && len(h.RelatedDocuments) == 0 {
		fail(ckRelated, "a document of version %d must name the document it replaces (relatedDocument)", version)
	}
	if h.Body == nil {
		fail(ckBody, "the document must have a body (component)")
	}
	return out
}

func checkRecordTarget(h *Header, fail func(check, format string, args ...any)) {
	if len(h.RecordTargets) != 1 {
		fail(ckRecordTarget, "the document must have exactly one recordTarget")
		return
	}
	var found bool
	for _, id := range h.RecordTargets[0].IDs {
		var kind ident.Kind
		switch id.Root {
		case ident.OIDCF:
			kind = ident.CF
		case ident.OIDSTP:
			kind = ident.STP
		case ident.OIDENI:
			kind = ident.ENI
		default:
			continue
		}
		found = true
		pid, err := ident.Parse(id.Extension)
		if err != nil || pid.Kind != kind {
			fail(ckPatientID, "patient id %q (root %s) is not a valid %s", id.Extension, id.Root, kind)
		}
	}
	if !found {
		fail(ckPatientID, "patientRole must have an id with root %s (codice fiscale), %s (STP) or %s (ENI)", ident.OIDCF, ident.OIDSTP, ident.OIDENI)
	}
	rt := h.RecordTargets[0]
	if len(rt.Names) == 0 || !slices.ContainsFunc(rt.Names, func(n Name) bool { return nonEmpty(n.Family) && nonEmpty(n.Given) }) {
		fail(ckPatientName, "patientRole/patient/name must have given and family")
	}
	if rt.Gender.Code == "" && rt.Gender.NullFlavor == "" {
		fail(ckGender, "patientRole/patient must have an administrativeGenderCode")
	}
	if !rt.HasBirthTime {
		fail(ckBirthTime, "patientRole/patient must have a birthTime")
	}
}

func nonEmpty(ss []string) bool {
	return slices.ContainsFunc(ss, func(s string) bool { return strings.TrimSpace(s) != "" })
}

// Patient returns the document's patient identifier (codice fiscale, STP
// or ENI), validated.
func (h *Header) Patient() (ident.ID, error) {
	for _, rt := range h.RecordTargets {
		for _, id := range rt.IDs {
			switch id.Root {
			case ident.OIDCF, ident.OIDSTP, ident.OIDENI:
				return ident.Parse(id.Extension)
			}
		}
	}
	return ident.ID{}, fmt.Errorf("%w: no patient identifier", ident.ErrInvalid)
}

// CheckOwn returns the header rules fsenet adds to a national
// schematron's, which a document its schematron judges must also keep
// (ids HDR-…): an id with a root and an extension (a prescription's is
// its NRE, not a regional one), a document type FSE lists,
// one patient with a valid identifier (the codice fiscale's check
// character), a positive version that names the version it replaces.
func CheckOwn(h *Header) []Failure {
	var out []Failure
	fail := func(check, format string, args ...any) {
		out = append(out, Failure{Rule: "HDR-" + check, Message: fmt.Sprintf(format, args...)})
	}
	if h.ID == nil || strings.TrimSpace(h.ID.Root) == "" || strings.TrimSpace(h.ID.Extension) == "" {
		fail(ckID, "the document must have an id with a root and an extension")
	}
	if h.Code == nil {
		fail(ckCode, "the document must have a code")
	} else if _, ok := doctype.Lookup(h.Code.Code); !ok || h.Code.CodeSystem != OIDLOINC {
		fail(ckCode, "code %q is not an FSE document type (LOINC)", h.Code.Code)
	}
	if len(h.RecordTargets) != 1 {
		fail(ckRecordTarget, "the document must have exactly one recordTarget")
	} else if _, err := h.Patient(); err != nil {
		fail(ckPatientID, "%v", err)
	}
	version := 0
	if h.VersionNumber != nil {
		version, _ = strconv.Atoi(h.VersionNumber.Value)
	}
	if version < 1 {
		fail(ckVersion, "versionNumber must be a positive integer")
	}
	if version > 1 && !slices.ContainsFunc(h.RelatedDocuments, func(r RelatedDocument) bool { return len(r.Parents) > 0 }) {
		fail(ckRelated, "a document of version %d must name the document it replaces (relatedDocument)", version)
	}
	return out
}
