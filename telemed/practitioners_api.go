package telemed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// Who delivers a service and where it is reached, as the catalogue
// states them: PractitionerRole (HL7 Italia's PractitionerRoleTeleconsulto:
// the practitioner, the organisation, the specialty) and the Endpoint of
// the providing region.

// Systems of practitioners and endpoints.
const (
	SystemCF = "http://hl7.it/sid/codiceFiscale"
	// SystemConnection holds how an Endpoint is reached: fsenet-telemed,
	// the telemed protocol between the federation's nodes.
	SystemConnection = "urn:fsenet:connection-type"
)

func (m *Module) registerPractitioners(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("GET /fhir/PractitionerRole", m.searchRoles)
	r.HandleFunc("GET /fhir/PractitionerRole/{id}", m.readRole)
	r.HandleFunc("POST /fhir/PractitionerRole", m.putRole)
	r.HandleFunc("DELETE /fhir/PractitionerRole/{id}", m.deleteRole)
	r.HandleFunc("GET /fhir/Endpoint/{id}", m.readEndpoint)
	caps.Interactions(fhir.ResourceTypePractitionerRole, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead,
		fhir.TypeRestfulInteractionSearchType, fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionDelete},
		fhirres.SearchParam{Name: "service", Type: fhir.SearchParamTypeReference}, fhirres.SearchParam{Name: "specialty", Type: fhir.SearchParamTypeToken})
	caps.Interactions(fhir.ResourceTypeEndpoint, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead})
}

// roleID names a practitioner's role in a service without the
// practitioner's codice fiscale in the URL.
func roleID(service, cf string) string {
	h := sha256.Sum256([]byte(cf))
	return service + "." + hex.EncodeToString(h[:6])
}

// serviceOfRole is the service a role id names (service ids may hold
// dots too: the role's part is after the last).
func serviceOfRole(id string) (string, bool) {
	i := strings.LastIndexByte(id, '.')
	return id[:max(i, 0)], i > 0
}

func practitionerRole(s catalog.Service, p catalog.Practitioner) fhir.PractitionerRole {
	return fhir.PractitionerRole{Id: fhirres.Ptr(roleID(s.ID, p.CF)), Active: fhirres.Ptr(s.Active),
		Practitioner:      &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(p.CF)}, Display: fhirres.Ptr(p.Name)},
		Organization:      &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr(fhirres.SystemRegion), Value: fhirres.Ptr(s.Region)}, Display: fhirres.Ptr(providerName(s))},
		Specialty:         []fhir.CodeableConcept{fhirres.Coding(SystemSpecialty, p.Specialty, "")},
		HealthcareService: []fhir.Reference{{Reference: fhirres.Ptr("HealthcareService/" + s.ID)}},
		Endpoint:          []fhir.Reference{{Reference: fhirres.Ptr("Endpoint/" + s.Region)}}}
}

// searchRoles is GET /fhir/PractitionerRole?service=HealthcareService/<id>[&specialty=<code>].
func (m *Module) searchRoles(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	q := r.URL.Query()
	id := strings.TrimPrefix(q.Get("service"), "HealthcareService/")
	specialty := q.Get("specialty")
	if i := lastBar(specialty); i >= 0 {
		specialty = specialty[i+1:]
	}
	if len(q["service"]) != 1 || id == "" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "give service=HealthcareService/<id>"))
		return
	}
	s, applied, err := m.catalogued(r, id, "HealthcareService")
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Link: []fhir.BundleLink{{Relation: "self", Url: base + "/PractitionerRole?" + r.URL.RawQuery}}}
	for _, p := range s.Practitioners {
		if specialty != "" && p.Specialty != specialty {
			continue
		}
		raw, _ := json.Marshal(practitionerRole(s, p))
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, "PractitionerRole", roleID(s.ID, p.CF))), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	b.Total = fhirres.Ptr(len(b.Entry))
	writeFHIR(w, http.StatusOK, applied, b)
}

// roleOf finds the service and practitioner a role id names.
func (m *Module) roleOf(r *http.Request, id string, strong bool) (catalog.Service, int, uint64, error) {
	notFound := httpapi.E(httpapi.ErrNotFound, "no such PractitionerRole")
	service, ok := serviceOfRole(id)
	if !ok {
		return catalog.Service{}, -1, 0, notFound
	}
	var s catalog.Service
	var found bool
	applied, err := m.read(r, strong, func(rd consensus.Reader) error {
		var err error
		s, found, err = catalog.GetService(rd, service)
		return err
	})
	if err != nil {
		return s, -1, 0, err
	}
	i := slices.IndexFunc(s.Practitioners, func(p catalog.Practitioner) bool { return roleID(s.ID, p.CF) == id })
	if !found || i < 0 {
		return s, -1, 0, notFound
	}
	return s, i, applied, nil
}

func (m *Module) readRole(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	s, i, applied, err := m.roleOf(r, r.PathValue("id"), false)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, applied, practitionerRole(s, s.Practitioners[i]))
}

// putRole is POST /fhir/PractitionerRole: a practitioner (identifier
// codice fiscale, display name) added to one of this region's services
// (healthcareService) with a specialty, by the region's operator; the same
// practitioner again is changed in place.
func (m *Module) putRole(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	service, p, err := roleFrom(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m.changeRoster(w, r, service, func(s *catalog.Service) {
		if i := slices.IndexFunc(s.Practitioners, func(q catalog.Practitioner) bool { return q.CF == p.CF }); i >= 0 {
			s.Practitioners[i] = p
		} else {
			s.Practitioners = append(s.Practitioners, p)
		}
	}, func(s catalog.Service) { writeFHIR(w, http.StatusCreated, 0, practitionerRole(s, p)) })
}

func roleFrom(b []byte) (string, catalog.Practitioner, error) {
	bad := httpapi.E(httpapi.ErrInvalid, "want a FHIR PractitionerRole with practitioner (identifier of system "+SystemCF+
		" and display), one healthcareService and one specialty")
	pr, err := fhir.UnmarshalPractitionerRole(b)
	if err != nil || resourceType(b) != "PractitionerRole" || pr.Practitioner == nil || pr.Practitioner.Identifier == nil ||
		len(pr.HealthcareService) != 1 || len(pr.Specialty) != 1 {
		return "", catalog.Practitioner{}, bad
	}
	id := pr.Practitioner.Identifier
	if ptrValue(id.System) != SystemCF {
		return "", catalog.Practitioner{}, bad
	}
	p := catalog.Practitioner{CF: strings.ToUpper(ptrValue(id.Value)), Name: ptrValue(pr.Practitioner.Display),
		Specialty: first(codes(pr.Specialty, SystemSpecialty))}
	if err := p.Validate(); err != nil {
		return "", p, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	return strings.TrimPrefix(ptrValue(pr.HealthcareService[0].Reference), "HealthcareService/"), p, nil
}

// deleteRole is DELETE /fhir/PractitionerRole/{id}.
func (m *Module) deleteRole(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	service, _ := serviceOfRole(id)
	m.changeRoster(w, r, service, func(s *catalog.Service) {
		s.Practitioners = slices.DeleteFunc(s.Practitioners, func(p catalog.Practitioner) bool { return roleID(s.ID, p.CF) == id })
	}, func(catalog.Service) { w.WriteHeader(http.StatusNoContent) })
}

// changeRoster changes a service's practitioners at its region's node, by
// its operator, judged on the version read.
func (m *Module) changeRoster(w http.ResponseWriter, r *http.Request, service string, change func(*catalog.Service), answer func(catalog.Service)) {
	region, ok := regionOf(w, r, service, "HealthcareService")
	if !ok {
		return
	}
	if _, ok := m.decide(w, r, index.ActManageService, index.Target{Region: region}); !ok {
		return
	}
	if region != m.cfg.Region {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrMisdirected, "the service is provided by region "+region+": send the request to that region's node"))
		return
	}
	var s catalog.Service
	var found bool
	_, err := m.read(r, true, func(rd consensus.Reader) error {
		var err error
		s, found, err = catalog.GetService(rd, service)
		return err
	})
	if err == nil && !found {
		err = httpapi.E(httpapi.ErrNotFound, "no such HealthcareService")
	}
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	version := s.Version
	change(&s)
	cmd, err := catalog.PutService(catalog.PutServiceRequest{Service: s, IfVersion: version})
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	res, err := m.apply(r, cmd)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if s, err = decodeService(res); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	answer(s)
}

// readEndpoint is GET /fhir/Endpoint/{region}: where a region's services
// are reached. Any node answers for any region, forwarding over the
// telemed protocol to the region's node, named here by its peer ID.
func (m *Module) readEndpoint(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	region := r.PathValue("id")
	var id peer.ID
	ok := federation.RegionNames[region] != "" && m.d.RegionPeer != nil
	if ok {
		id, ok = m.d.RegionPeer(region)
	}
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such Endpoint: region "+region+" is not a member of the federation"))
		return
	}
	writeFHIR(w, http.StatusOK, 0, fhir.Endpoint{Id: fhirres.Ptr(region), Status: fhir.EndpointStatusActive,
		ConnectionType:       fhir.Coding{System: fhirres.Ptr(SystemConnection), Code: fhirres.Ptr("fsenet-telemed")},
		Name:                 fhirres.Ptr("Telemedicina - " + federation.RegionNames[region]),
		ManagingOrganization: &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr(fhirres.SystemRegion), Value: fhirres.Ptr(region)}},
		PayloadType:          []fhir.CodeableConcept{{Text: fhirres.Ptr("FHIR R4 resources of the telemed protocol")}},
		Address:              "/p2p/" + id.String() + string(Protocol)})
}
