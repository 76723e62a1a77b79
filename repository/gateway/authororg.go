package gateway

import (
	"regexp"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/repository/cda"
)

// The author organisation of a published version is identified by a code
// (index.Entry.AuthorOrgID), never by its name: the author organisation's
// rights over its documents rest on that code and on the locality that
// the custodian region's identity provider puts in its clinicians' tokens
// (index.Caller.IsAuthor). The code is the document's own:
//
//   - a CDA: the first author/assignedAuthor/representedOrganization/id
//     with both a root and an extension (system urn:oid:<root>, code the
//     extension);
//   - a FHIR document: the DocumentReference's first author of type
//     Organization given by identifier (its system and value).
//
// A document that names none is credited to the locality of the
// producer's FSE-JWT-Signature token, when it carries one. A code that is
// not a well-formed structure or ASL code (federation.ValidLocality: a
// name, say) is not kept: the version then has no author organisation,
// and nobody but its patient, and clinicians as the policy allows, sees it.

// uuidRe is an II root that is a UUID rather than an OID.
var uuidRe = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// cdaAuthorOrg is the identifier a CDA gives its author organisation;
// named is false when it gives none.
func cdaAuthorOrg(h *cda.Header) (system, code string, named bool) {
	for _, a := range h.Authors {
		for _, id := range a.OrgIDs {
			if id.Root == "" || id.Extension == "" {
				continue
			}
			if uuidRe.MatchString(id.Root) {
				return "urn:uuid:" + id.Root, id.Extension, true
			}
			return "urn:oid:" + id.Root, id.Extension, true
		}
	}
	return "", "", false
}

// docRefAuthorOrg is the identifier a DocumentReference gives its author
// organisation; named is false when it gives none.
func docRefAuthorOrg(dr fhir.DocumentReference) (system, code string, named bool) {
	for _, a := range dr.Author {
		if a.Type == nil || *a.Type != "Organization" || a.Identifier == nil || a.Identifier.Value == nil || *a.Identifier.Value == "" {
			continue
		}
		if a.Identifier.System != nil {
			system = *a.Identifier.System
		}
		return system, *a.Identifier.Value, true
	}
	return "", "", false
}

// authorOrgID is the identifier kept in the index entry: the document's,
// when it is a well-formed code; when the document names none, the
// signature token's locality (which the verifier has checked).
func (q *request) authorOrgID(system, code string, named bool) (string, string) {
	switch {
	case named && federation.ValidLocality(code):
		return system, code
	case named:
		q.log.Info("the document's author organisation identifier is not a structure or ASL code: the version has no author organisation")
		return "", ""
	}
	return "", q.sig.Locality
}
