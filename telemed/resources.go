package telemed

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// Code systems of the catalogue's HealthcareService. HL7 Italia's
// telemedicine guides profile no HealthcareService and name no code system
// for the four services; where they do name one — the delivery scope
// (raggio di erogazione: AZI, REG, NAZ), a teleconsult's synchronous or
// asynchronous mode, the clinical discipline — it is reused here.
const (
	// SystemServiceType holds the four national telemedicine services
	// (fsenet's own: the guides name none).
	SystemServiceType = "urn:fsenet:telemedicina:tipo-servizio"
	// SystemSpecialty holds the ministerial discipline codes (e.g. 08
	// Cardiologia), as the guides bind PractitionerRole.specialty.
	SystemSpecialty = "http://hl7.it/fhir/teleconsulto/CodeSystem/csspecialityPractitionerRole"
	// SystemScope holds the delivery scope AZI, REG, NAZ (the guides put it
	// on ServiceRequest.orderDetail; the catalogue states it of the
	// service, as a characteristic).
	SystemScope = "http://hl7.it/fhir/teleconsulto/CodeSystem/csRaggioErogazione"
	// SystemMode holds a teleconsult's mode: SINC (synchronous) or ASINC.
	SystemMode = "http://hl7.it/fhir/teleconsulto/CodeSystem/csModalitaTC"
	// SystemLanguage holds BCP 47 language tags.
	SystemLanguage = "urn:ietf:bcp:47"
)

// healthcareService is the FHIR HealthcareService of a catalogue service.
func healthcareService(s catalog.Service) fhir.HealthcareService {
	h := fhir.HealthcareService{
		Id:     fhirres.Ptr(s.ID),
		Meta:   &fhir.Meta{VersionId: fhirres.Ptr(strconv.Itoa(s.Version)), LastUpdated: fhirres.Ptr(s.Updated.UTC().Format(time.RFC3339))},
		Active: fhirres.Ptr(s.Active),
		ProvidedBy: &fhir.Reference{
			Identifier: &fhir.Identifier{System: fhirres.Ptr(fhirres.SystemRegion), Value: fhirres.Ptr(s.Region)},
			Display:    fhirres.Ptr(providerName(s)),
		},
		Type:           []fhir.CodeableConcept{fhirres.Coding(SystemServiceType, s.Type, "")},
		Name:           fhirres.Ptr(s.Name),
		Characteristic: []fhir.CodeableConcept{fhirres.Coding(SystemScope, s.Scope, "")},
		Endpoint:       []fhir.Reference{{Reference: fhirres.Ptr("Endpoint/" + s.Region)}},
	}
	for _, c := range s.Specialties {
		h.Specialty = append(h.Specialty, fhirres.Coding(SystemSpecialty, c, ""))
	}
	for _, l := range s.Languages {
		h.Communication = append(h.Communication, fhirres.Coding(SystemLanguage, l, ""))
	}
	if s.Type == catalog.Teleconsult {
		mode := "ASINC"
		if s.Sync {
			mode = "SINC"
		}
		h.Characteristic = append(h.Characteristic, fhirres.Coding(SystemMode, mode, ""))
	}
	return h
}

func providerName(s catalog.Service) string {
	if s.Organization != "" {
		return s.Organization
	}
	return federation.RegionNames[s.Region]
}

// serviceFrom reads a HealthcareService a client sends into a catalogue
// service of region (the node's). Codes of other systems are ignored;
// unknown ones of ours are refused by catalog.Service.Validate.
// A service without an id gets newID.
func serviceFrom(b []byte, region, newID string) (catalog.Service, error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || probe.ResourceType != "HealthcareService" {
		return catalog.Service{}, errors.New("want a FHIR HealthcareService (resourceType HealthcareService)")
	}
	h, err := fhir.UnmarshalHealthcareService(b)
	if err != nil {
		return catalog.Service{}, fmt.Errorf("not a valid FHIR R4 HealthcareService: %v", err)
	}
	s := catalog.Service{Region: region, Active: h.Active == nil || *h.Active}
	s.ID = newID
	if h.Id != nil {
		s.ID = *h.Id
	}
	if h.Name != nil {
		s.Name = *h.Name
	}
	if h.ProvidedBy != nil && h.ProvidedBy.Display != nil && *h.ProvidedBy.Display != federation.RegionNames[region] {
		s.Organization = *h.ProvidedBy.Display
	}
	s.Type = first(codes(h.Type, SystemServiceType))
	s.Specialties = codes(h.Specialty, SystemSpecialty)
	s.Languages = codes(h.Communication, SystemLanguage)
	s.Scope = first(codes(h.Characteristic, SystemScope))
	s.Sync = first(codes(h.Characteristic, SystemMode)) == "SINC"
	if err := s.Validate(); err != nil {
		return catalog.Service{}, err
	}
	return s, nil
}

// codes lists the codes of one system in a list of concepts.
func codes(ccs []fhir.CodeableConcept, system string) []string {
	var out []string
	for _, cc := range ccs {
		for _, c := range cc.Coding {
			if c.System != nil && *c.System == system && c.Code != nil {
				out = append(out, *c.Code)
			}
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
