package fhirres

import (
	"cmp"
	"slices"
	"sync"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Capabilities collects what each API of a node serves, for the one
// CapabilityStatement the node answers at /fhir/metadata. APIs add to it
// when they register their routes; the statement is built when asked.
type Capabilities struct {
	mu        sync.Mutex
	resources map[fhir.ResourceType]*fhir.CapabilityStatementRestResource
	system    []fhir.SystemRestfulInteraction
	security  string
}

// SearchParam is one search parameter of a resource.
type SearchParam struct {
	Name string
	Type fhir.SearchParamType
}

func (c *Capabilities) resource(t fhir.ResourceType) *fhir.CapabilityStatementRestResource {
	if c.resources == nil {
		c.resources = map[fhir.ResourceType]*fhir.CapabilityStatementRestResource{}
	}
	r, ok := c.resources[t]
	if !ok {
		r = &fhir.CapabilityStatementRestResource{Type: t}
		c.resources[t] = r
	}
	return r
}

// Interactions declares interactions on a resource type, with its search
// parameters when it is searched.
func (c *Capabilities) Interactions(t fhir.ResourceType, codes []fhir.TypeRestfulInteraction, params ...SearchParam) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.resource(t)
	// Two modules may serve one type (Observation: telemonitoring
	// readings and documents' data): each interaction and parameter is
	// declared once.
	for _, code := range codes {
		if !slices.ContainsFunc(r.Interaction, func(i fhir.CapabilityStatementRestResourceInteraction) bool { return i.Code == code }) {
			r.Interaction = append(r.Interaction, fhir.CapabilityStatementRestResourceInteraction{Code: code})
		}
	}
	for _, p := range params {
		if !slices.ContainsFunc(r.SearchParam, func(sp fhir.CapabilityStatementRestResourceSearchParam) bool { return sp.Name == p.Name }) {
			r.SearchParam = append(r.SearchParam, fhir.CapabilityStatementRestResourceSearchParam{Name: p.Name, Type: p.Type})
		}
	}
}

// Operation declares an operation ($name) on a resource type.
func (c *Capabilities) Operation(t fhir.ResourceType, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.resource(t)
	r.Operation = append(r.Operation, fhir.CapabilityStatementRestResourceOperation{
		Name: name, Definition: "urn:fsenet:OperationDefinition/" + t.Code() + "-" + name})
}

// System declares a whole-system interaction (a transaction at the base).
func (c *Capabilities) System(code fhir.SystemRestfulInteraction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.system = append(c.system, code)
}

// Security sets the statement's description of the security every
// request passes.
func (c *Capabilities) Security(description string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.security = description
}

// Statement is the CapabilityStatement of what was declared, resources
// in alphabetical order, search parameters sorted by name.
func (c *Capabilities) Statement(description, date string) fhir.CapabilityStatement {
	c.mu.Lock()
	defer c.mu.Unlock()
	rest := fhir.CapabilityStatementRest{Mode: fhir.RestfulCapabilityModeServer}
	if c.security != "" {
		rest.Security = &fhir.CapabilityStatementRestSecurity{Description: Ptr(c.security)}
	}
	for _, code := range c.system {
		rest.Interaction = append(rest.Interaction, fhir.CapabilityStatementRestInteraction{Code: code})
	}
	types := make([]fhir.ResourceType, 0, len(c.resources))
	for t := range c.resources {
		types = append(types, t)
	}
	slices.SortFunc(types, func(a, b fhir.ResourceType) int { return cmp.Compare(a.Code(), b.Code()) })
	for _, t := range types {
		r := *c.resources[t]
		r.SearchParam = slices.Clone(r.SearchParam)
		slices.SortFunc(r.SearchParam, func(a, b fhir.CapabilityStatementRestResourceSearchParam) int { return cmp.Compare(a.Name, b.Name) })
		rest.Resource = append(rest.Resource, r)
	}
	return fhir.CapabilityStatement{
		Status:         fhir.PublicationStatusActive,
		Date:           date,
		Kind:           fhir.CapabilityStatementKindInstance,
		Software:       &fhir.CapabilityStatementSoftware{Name: "fsenet"},
		Implementation: &fhir.CapabilityStatementImplementation{Description: description},
		FhirVersion:    fhir.FHIRVersion4_0_1,
		Format:         []string{"application/fhir+json"},
		Rest:           []fhir.CapabilityStatementRest{rest},
	}
}
