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

// Check judges a CDA document by the schematron of its template (the
// first templateId of its ClinicalDocument that one judges).
func Check(doc []byte) (*Schema, []Failure, error) {
	root, err := parse(doc)
	if err != nil {
		return nil, nil, err
	}
	cd := root.kids[0]
	if cd.kind != elementNode || cd.local != "ClinicalDocument" || cd.space != "urn:hl7-org:v3" {
		return nil, nil, fmt.Errorf("%w: the root is not an HL7 v3 ClinicalDocument", ErrNotXML)
	}
	for _, k := range cd.kids {
		if k.kind != elementNode || k.local != "templateId" || k.space != "urn:hl7-org:v3" {
			continue
		}
		for _, a := range k.attrs {
			if a.local != "root" || a.space != "" {
				continue
			}
			if s, ok := ByTemplate(a.value); ok {
				c, err := s.compile()
				if err != nil {
					return s, nil, err
				}
				fails, err := c.validate(root)
				return s, fails, err
			}
		}
	}
	return nil, nil, ErrNoSchema
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
