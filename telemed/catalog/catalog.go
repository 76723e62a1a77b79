// Package catalog is the national telemedicine catalogue, replicated to
// every node: the services each region offers (type, specialty, delivery
// scope, languages, status), the versioned templates of care protocols
// (templates.go), and the adoptions by which one region reuses another's
// service or template at a version. It holds nothing clinical: schedules,
// appointments, requests and plans stay at the providing region's node.
//
// Key layout (every key under "tm/"):
//
//	tm/s/<service id>                 -> Service (JSON)
//	tm/a/<service id>\x00<region>     -> Adoption (JSON): the latest adoption by that region
//
// The catalogue is small (a few hundred services): searches scan the
// services and filter, rather than keep secondary indexes.
package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/ident"
)

// Command types.
const (
	TypePutService = "telemed.service.put"
	TypeAdopt      = "telemed.service.adopt"
)

const version1 uint16 = 1

var (
	servicePrefix  = []byte("tm/s/")
	adoptionPrefix = []byte("tm/a/")
)

func serviceKey(id string) []byte { return append(bytes.Clone(servicePrefix), id...) }
func adoptionKey(service, region string) []byte {
	return append(append(append(bytes.Clone(adoptionPrefix), service...), 0), region...)
}

// Service types: the four national minimum services (DM 21/09/2022), and
// the delivery scopes of HL7 Italia's csRaggioErogazione.
const (
	Televisit       = "televisita"
	Teleconsult     = "teleconsulto"
	Telemonitoring  = "telemonitoraggio"
	Teleassistance  = "teleassistenza"
	ScopeCompany    = "AZI" // delivered within the providing health authority (azienda)
	ScopeRegional   = "REG" // within the providing region
	ScopeNational   = "NAZ" // to patients of every region
	maxName         = 256
	maxCodes        = 16
	maxServiceLocal = 64
)

var (
	serviceTypes = []string{Televisit, Teleconsult, Telemonitoring, Teleassistance}
	scopes       = []string{ScopeCompany, ScopeRegional, ScopeNational}
	localIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$`)
	codeRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	languageRE   = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
)

// Service is one telemedicine service a region offers.
type Service struct {
	// ID is "<region>-<local id>": unique nationally, and naming its
	// provider.
	ID string `json:"id"`
	// Region is the providing region, whose node serves the service's
	// schedules, appointments and requests.
	Region string `json:"region"`
	// Version counts the service's changes, from 1; adoptions name one.
	Version int `json:"version"`
	// Type is one of the four national services.
	Type string `json:"type"`
	// Specialties are ministerial discipline codes (e.g. 08 Cardiologia).
	Specialties []string `json:"specialties,omitempty"`
	// Scope is who the service is delivered to: AZI, REG or NAZ.
	Scope string `json:"scope"`
	// Languages the service is delivered in (BCP 47), e.g. "it", "de".
	Languages []string `json:"languages,omitempty"`
	Name      string   `json:"name"`
	// Organization is the providing health authority (azienda) within the
	// region, as the region names it.
	Organization string `json:"organization,omitempty"`
	// Sync says whether a teleconsult is held live (with an appointment)
	// or answered asynchronously; meaningful for teleconsults only.
	Sync   bool `json:"sync,omitempty"`
	Active bool `json:"active"`
	// Practitioners are the professionals who deliver the service
	// (PractitionerRole): a professional's identity, not a patient's.
	Practitioners []Practitioner `json:"practitioners,omitempty"`
	// Updated is when the leader appended the last change.
	Updated time.Time `json:"updated"`
}

// Validate reports what makes a service unfit for the catalogue.
func (s Service) Validate() error {
	region, local, ok := cutID(s.ID)
	switch {
	case !ok || !federation.ValidRegionCode(region) || !localIDRE.MatchString(local):
		return fmt.Errorf("id %q: want <region code>-<local id> (letters, digits, '.', '-'; at most %d)", s.ID, maxServiceLocal)
	case region != s.Region:
		return fmt.Errorf("id %q does not name the providing region %s", s.ID, s.Region)
	case federation.RegionNames[s.Region] == "":
		return fmt.Errorf("region %q is not a region code", s.Region)
	case !slices.Contains(serviceTypes, s.Type):
		return fmt.Errorf("type %q: want one of %v", s.Type, serviceTypes)
	case !slices.Contains(scopes, s.Scope):
		return fmt.Errorf("scope %q: want one of %v", s.Scope, scopes)
	case s.Name == "" || len(s.Name) > maxName:
		return fmt.Errorf("name: want 1 to %d characters", maxName)
	case len(s.Organization) > maxName:
		return fmt.Errorf("organization: at most %d characters", maxName)
	case len(s.Specialties) > maxCodes || len(s.Languages) > maxCodes:
		return fmt.Errorf("at most %d specialties and %d languages", maxCodes, maxCodes)
	case s.Sync && s.Type != Teleconsult:
		return fmt.Errorf("sync applies to teleconsults only")
	case len(s.Practitioners) > maxPractitioners:
		return fmt.Errorf("at most %d practitioners", maxPractitioners)
	}
	seen := map[string]bool{}
	for _, p := range s.Practitioners {
		if err := p.Validate(); err != nil {
			return err
		}
		if seen[p.CF] {
			return fmt.Errorf("practitioner %s is listed twice", p.CF)
		}
		seen[p.CF] = true
	}
	for _, c := range s.Specialties {
		if !codeRE.MatchString(c) {
			return fmt.Errorf("specialty %q: not a code", c)
		}
	}
	for _, l := range s.Languages {
		if !languageRE.MatchString(l) {
			return fmt.Errorf("language %q: want a BCP 47 tag such as it, de or sl", l)
		}
	}
	return nil
}

// Practitioner is a professional who delivers a service, as HL7 Italia's
// PractitionerRoleTeleconsulto shapes one: the person (codice fiscale and
// name) and their specialty.
type Practitioner struct {
	CF        string `json:"cf"`
	Name      string `json:"name"`
	Specialty string `json:"specialty"`
}

const maxPractitioners = 64

// Validate reports what makes a practitioner unfit for the catalogue.
func (p Practitioner) Validate() error {
	switch {
	case ident.ValidCF(p.CF) != nil:
		return fmt.Errorf("practitioner: %q is not a codice fiscale", p.CF)
	case p.Name == "" || len(p.Name) > maxName:
		return fmt.Errorf("practitioner %s: name: want 1 to %d characters", p.CF, maxName)
	case !codeRE.MatchString(p.Specialty):
		return fmt.Errorf("practitioner %s: specialty %q: not a code", p.CF, p.Specialty)
	}
	return nil
}

// cutID splits a service id into region and local id.
func cutID(id string) (region, local string, ok bool) {
	if len(id) < 5 || id[3] != '-' {
		return "", "", false
	}
	return id[:3], id[4:], true
}

// RegionOf is the providing region a service id names.
func RegionOf(id string) (string, bool) {
	r, _, ok := cutID(id)
	return r, ok && federation.ValidRegionCode(r)
}

// Adoption records that a region reuses another region's service at a
// version: its clinicians and patients may then book it.
type Adoption struct {
	Service string    `json:"service"`
	Version int       `json:"version"`
	Region  string    `json:"region"` // the adopting region
	By      string    `json:"by"`     // the adopting operator (codice fiscale)
	At      time.Time `json:"at"`
}

// PutServiceRequest creates or changes a service. IfVersion is the
// version the write was judged on (0: the service must not exist); the
// command is refused as a conflict if the service changed meanwhile.
type PutServiceRequest struct {
	Service   Service `json:"service"`
	IfVersion int     `json:"if_version"`
}

// PutService returns the command that records a service.
func PutService(r PutServiceRequest) (consensus.Command, error) {
	if err := r.Service.Validate(); err != nil {
		return consensus.Command{}, err
	}
	return command(TypePutService, r)
}

// AdoptRequest adopts a service at its current version.
type AdoptRequest struct {
	Service string `json:"service"`
	Region  string `json:"region"`
	By      string `json:"by"`
}

// Adopt returns the command that records an adoption.
func Adopt(r AdoptRequest) (consensus.Command, error) { return command(TypeAdopt, r) }

func command(typ string, v any) (consensus.Command, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: typ, Version: version1, Payload: b}, nil
}
