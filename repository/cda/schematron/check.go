package schematron

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNoSchema says no national schematron judges the document's type.
var ErrNoSchema = errors.New("schematron: no national schematron for this document's template")

// ByTemplate returns the schematron that judges documents of a
// ClinicalDocument templateId root.
func ByTemplate(root string) (*Schema, bool) {
	for _, s := range schemas {
		if s.Template == root {
			return s, true
		}
	}
	return nil, false
}

// All lists the ported schematrons.
func All() []*Schema { return slices.Clone(schemas) }

// ByCode returns the schematron that judges a LOINC document type (the
// SSN one of a type judged by two).
func ByCode(loinc string) (*Schema, bool) {
	for _, s := range schemas {
		if s.Code == loinc {
			return s, true
		}
	}
	return nil, false
}

// Check judges a CDA document by the schematron of its template (the
// first templateId of its ClinicalDocument that one judges), or else of
// its type (its code): a document of a known type with a wrong template
// is judged by its type's rules, which say so.
func Check(doc []byte) (*Schema, []Failure, error) {
	root, err := parse(doc)
	if err != nil {
		return nil, nil, err
	}
	cd := root.kids[0]
	if cd.kind != elementNode || cd.local != "ClinicalDocument" || cd.space != "urn:hl7-org:v3" {
		return nil, nil, fmt.Errorf("%w: the root is not an HL7 v3 ClinicalDocument", ErrNotXML)
	}
	s := schemaOf(cd)
	if s == nil {
		return nil, nil, ErrNoSchema
	}
	c, err := s.compile()
	if err != nil {
		return s, nil, err
	}
	fails, err := c.validate(root)
	return s, fails, err
}

// schemaOf picks the schematron of a ClinicalDocument: by templateId
// root, else by code.
func schemaOf(cd *node) *Schema {
	attr := func(n *node, name string) string {
		for _, a := range n.attrs {
			if a.local == name && a.space == "" {
				return a.value
			}
		}
		return ""
	}
	var byCode *Schema
	for _, k := range cd.kids {
		if k.kind != elementNode || k.space != "urn:hl7-org:v3" {
			continue
		}
		switch k.local {
		case "templateId":
			if s, ok := ByTemplate(attr(k, "root")); ok {
				return s
			}
		case "code":
			if s, ok := ByCode(attr(k, "code")); ok && byCode == nil {
				byCode = s
			}
		}
	}
	return byCode
}

// IDs is the set of rule ids of failures, sorted.
func IDs(fails []Failure) []string {
	var out []string
	for _, f := range fails {
		if !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	slices.Sort(out)
	return out
}
