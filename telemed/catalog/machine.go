package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fsenet/fsenet/consensus"
)

// Machine applies the catalogue's commands. Apply is deterministic: it
// reads the time from the leader's clock in the entry and the proposing
// region from the authenticated stream, never from the local node.
type Machine struct{}

// New returns the catalogue's state machine.
func New() *Machine { return &Machine{} }

// Register registers the machine's command types.
func (m *Machine) Register(r interface {
	Register(typ string, h consensus.Handler) error
}) error {
	for _, t := range []string{TypePutService, TypeAdopt, TypePutTemplate, TypeAdoptTemplate} {
		if err := r.Register(t, m); err != nil {
			return err
		}
	}
	return nil
}

// SupportsVersion implements consensus.VersionedHandler.
func (m *Machine) SupportsVersion(_ string, v uint16) bool { return v == version1 }

// Apply implements consensus.Handler.
func (m *Machine) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	switch cmd.Type {
	case TypePutService:
		return m.applyPut(tx, cmd.Payload)
	case TypeAdopt:
		return m.applyAdopt(tx, cmd.Payload)
	case TypePutTemplate:
		return m.applyPutTemplate(tx, cmd.Payload)
	case TypeAdoptTemplate:
		return m.applyAdoptTemplate(tx, cmd.Payload)
	}
	return nil, invalid("unknown catalogue command %q", cmd.Type)
}

func invalid(format string, args ...any) error {
	return consensus.Errorf(consensus.CodeInvalid, format, args...)
}

// fromRegion refuses a command proposed by another region's node than
// the one it speaks for.
func fromRegion(tx *consensus.Tx, region, what string) error {
	if o := tx.Origin(); o != "" && o != region {
		return consensus.Errorf(consensus.CodeForbidden, "%s of region %s is written by that region's node, not by region %s", what, region, o)
	}
	return nil
}

func (m *Machine) applyPut(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var r PutServiceRequest
	if err := consensus.DecodeJSON(payload, &r); err != nil {
		return nil, err
	}
	s := r.Service
	if err := s.Validate(); err != nil {
		return nil, invalid("%v", err)
	}
	if err := fromRegion(tx, s.Region, "a service"); err != nil {
		return nil, err
	}
	cur, exists, err := GetService(tx, s.ID)
	switch {
	case err != nil:
		return nil, err
	case r.IfVersion == 0 && exists:
		return nil, consensus.Errorf(consensus.CodeAlreadyExists, "service %s exists (version %d); update it", s.ID, cur.Version)
	case r.IfVersion > 0 && !exists:
		return nil, consensus.Errorf(consensus.CodeNotFound, "service %s is not in the catalogue", s.ID)
	case exists && cur.Version != r.IfVersion:
		return nil, consensus.Errorf(consensus.CodeConflict, "service %s is at version %d, not %d: read it again", s.ID, cur.Version, r.IfVersion)
	}
	s.Version, s.Updated = cur.Version+1, tx.Now()
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	tx.Set(serviceKey(s.ID), b)
	return b, nil
}

func (m *Machine) applyAdopt(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var r AdoptRequest
	if err := consensus.DecodeJSON(payload, &r); err != nil {
		return nil, err
	}
	if err := fromRegion(tx, r.Region, "an adoption"); err != nil {
		return nil, err
	}
	s, ok, err := GetService(tx, r.Service)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, consensus.Errorf(consensus.CodeNotFound, "service %s is not in the catalogue", r.Service)
	case !s.Active:
		return nil, consensus.Errorf(consensus.CodeConflict, "service %s is retired", r.Service)
	case s.Region == r.Region:
		return nil, invalid("region %s provides service %s: there is nothing to adopt", r.Region, r.Service)
	case r.By == "" || len(r.By) > maxName:
		return nil, invalid("an adoption names the operator who made it")
	}
	a := Adoption{Service: s.ID, Version: s.Version, Region: r.Region, By: r.By, At: tx.Now()}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	tx.Set(adoptionKey(s.ID, r.Region), b)
	return b, nil
}

// GetService reads a service.
func GetService(r consensus.Reader, id string) (Service, bool, error) {
	var s Service
	b, ok, err := r.Get(serviceKey(id))
	if err != nil || !ok {
		return s, ok, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("catalogue: service %s: %w", id, err)
	}
	return s, true, nil
}

// Query filters the catalogue; empty fields match everything.
type Query struct {
	Type, Specialty, Scope, Region, Language string
	// Active, when set, keeps only active (true) or retired (false)
	// services.
	Active *bool
}

func (q Query) match(s Service) bool {
	return (q.Type == "" || s.Type == q.Type) &&
		(q.Specialty == "" || slices.Contains(s.Specialties, q.Specialty)) &&
		(q.Scope == "" || s.Scope == q.Scope) &&
		(q.Region == "" || s.Region == q.Region) &&
		(q.Language == "" || slices.Contains(s.Languages, q.Language)) &&
		(q.Active == nil || s.Active == *q.Active)
}

// Search lists the services that match, in id order.
func Search(r consensus.Reader, q Query) ([]Service, error) {
	var out []Service
	err := r.Iterate(servicePrefix, func(k, v []byte) error {
		var s Service
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("catalogue: %s: %w", k, err)
		}
		if q.match(s) {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// Adoptions lists a service's adoptions, by region.
func Adoptions(r consensus.Reader, service string) ([]Adoption, error) {
	var out []Adoption
	prefix := append(append(bytes.Clone(adoptionPrefix), service...), 0)
	err := r.Iterate(prefix, func(k, v []byte) error {
		var a Adoption
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("catalogue: %s: %w", k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// Adopted reports whether region may use the service: it provides it,
// the service is national, or the region adopted it.
func Adopted(r consensus.Reader, s Service, region string) (bool, error) {
	if s.Region == region || s.Scope == ScopeNational {
		return true, nil
	}
	_, ok, err := r.Get(adoptionKey(s.ID, region))
	return ok, err
}
