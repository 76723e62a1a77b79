package telemed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// Templates are the catalogue's PlanDefinitions: a care protocol a region
// writes, versioned, which other regions adopt at a version and make
// plans from. Every version stays readable (…/_history/<version>).

// registerTemplates mounts the PlanDefinition routes (served from the
// replica, on every node).
func (m *Module) registerTemplates(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("GET /fhir/PlanDefinition", m.searchTemplates)
	r.HandleFunc("GET /fhir/PlanDefinition/{id}", m.readTemplate)
	r.HandleFunc("GET /fhir/PlanDefinition/{id}/_history/{version}", m.readTemplate)
	r.HandleFunc("POST /fhir/PlanDefinition", m.createTemplate)
	r.HandleFunc("PUT /fhir/PlanDefinition/{id}", m.updateTemplate)
	r.HandleFunc("POST /fhir/PlanDefinition/{id}/$adopt", m.adoptTemplate)
	caps.Interactions(fhir.ResourceTypePlanDefinition, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead,
		fhir.TypeRestfulInteractionVread, fhir.TypeRestfulInteractionSearchType, fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionUpdate},
		fhirres.SearchParam{Name: "type", Type: fhir.SearchParamTypeToken})
	caps.Operation(fhir.ResourceTypePlanDefinition, "adopt")
}

func (m *Module) readTemplate(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	version := 0
	if v := r.PathValue("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such PlanDefinition version"))
			return
		}
		version = n
	}
	var t catalog.Template
	var found bool
	applied, err := m.read(r, false, func(rd consensus.Reader) error {
		var err error
		t, found, err = catalog.GetTemplate(rd, r.PathValue("id"), version)
		return err
	})
	if err == nil && !found {
		err = httpapi.E(httpapi.ErrNotFound, "no such PlanDefinition")
	}
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("ETag", `W/"`+itoa(t.Version)+`"`)
	writeFHIR(w, http.StatusOK, applied, planDefinition(t))
}

// searchTemplates is GET /fhir/PlanDefinition[?type=<service type>].
func (m *Module) searchTemplates(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	typ := r.URL.Query().Get("type")
	if i := lastBar(typ); i >= 0 {
		typ = typ[i+1:]
	}
	var found []catalog.Template
	applied, err := m.read(r, false, func(rd consensus.Reader) error {
		var err error
		found, err = catalog.Templates(rd, typ)
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: fhirres.Ptr(len(found)),
		Link: []fhir.BundleLink{{Relation: "self", Url: base + "/PlanDefinition?" + r.URL.RawQuery}}}
	for _, t := range found {
		raw, _ := json.Marshal(planDefinition(t))
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, "PlanDefinition", t.ID)), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	writeFHIR(w, http.StatusOK, applied, b)
}

// createTemplate is POST /fhir/PlanDefinition, by this region's operators.
func (m *Module) createTemplate(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActManageService, index.Target{Region: m.cfg.Region}); !ok {
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	t, err := templateFrom(b, m.cfg.Region, m.cfg.Region+"-"+newLocalID())
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	m.putTemplate(w, r, catalog.PutTemplateRequest{Template: t}, http.StatusCreated)
}

// updateTemplate is PUT /fhir/PlanDefinition/{id}: the template's next
// version, judged on the version If-Match names (or the current one).
func (m *Module) updateTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := regionOf(w, r, id, "PlanDefinition")
	if !ok {
		return
	}
	if _, ok := m.decide(w, r, index.ActManageService, index.Target{Region: region}); !ok {
		return
	}
	if region != m.cfg.Region {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrMisdirected, "the template is written by region "+region+": send the request to that region's node"))
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	t, err := templateFrom(b, m.cfg.Region, id)
	if err == nil && t.ID != id {
		err = errors.New("the resource's id does not match the id in the URL")
	}
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	version, err := m.templateVersionToUpdate(r, id)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m.putTemplate(w, r, catalog.PutTemplateRequest{Template: t, IfVersion: version}, http.StatusOK)
}

func (m *Module) templateVersionToUpdate(r *http.Request, id string) (int, error) {
	if v, ok, err := ifMatch(r); ok || err != nil {
		return v, err
	}
	var cur catalog.Template
	var found bool
	_, err := m.read(r, true, func(rd consensus.Reader) error {
		var err error
		cur, found, err = catalog.GetTemplate(rd, id, 0)
		return err
	})
	if err == nil && !found {
		err = httpapi.E(httpapi.ErrNotFound, "no such PlanDefinition")
	}
	return cur.Version, err
}

func (m *Module) putTemplate(w http.ResponseWriter, r *http.Request, req catalog.PutTemplateRequest, status int) {
	cmd, err := catalog.PutTemplate(req)
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	res, err := m.apply(r, cmd)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var t catalog.Template
	if err := json.Unmarshal(res, &t); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", m.base(r)+"/PlanDefinition/"+t.ID)
	w.Header().Set("ETag", `W/"`+itoa(t.Version)+`"`)
	writeFHIR(w, status, 0, planDefinition(t))
}

func (m *Module) apply(r *http.Request, cmd consensus.Command) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	res, err := m.d.Replica.Apply(ctx, cmd)
	return res.Value, err
}

// adoptTemplate is POST /fhir/PlanDefinition/{id}/$adopt: this region
// adopts another region's template at its current version.
func (m *Module) adoptTemplate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := regionOf(w, r, id, "PlanDefinition")
	if !ok {
		return
	}
	c, ok := m.decide(w, r, index.ActAdoptService, index.Target{Region: region})
	if !ok {
		return
	}
	if c.Region != m.cfg.Region {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrMisdirected, "region "+c.Region+" adopts at its own node"))
		return
	}
	cmd, err := catalog.AdoptTemplate(catalog.AdoptRequest{Service: id, Region: c.Region, By: c.Subject})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	res, err := m.apply(r, cmd)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	httpapi.JSON(w, http.StatusOK, jsonRaw(res))
}

// planDefinition is a template as FHIR: each activity an action, its
// profession the action's code, its sessions and pace the timing.
func planDefinition(t catalog.Template) fhir.PlanDefinition {
	status := fhir.PublicationStatusActive
	if !t.Active {
		status = fhir.PublicationStatusRetired
	}
	pd := fhir.PlanDefinition{Id: fhirres.Ptr(t.ID), Version: fhirres.Ptr(itoa(t.Version)), Title: fhirres.Ptr(t.Title), Status: status,
		Meta:      &fhir.Meta{VersionId: fhirres.Ptr(itoa(t.Version)), LastUpdated: fhirres.Ptr(t.Updated.UTC().Format(time.RFC3339))},
		Type:      fhirres.Ptr(fhirres.Coding(SystemServiceType, t.Type, "")),
		Publisher: fhirres.Ptr(t.Region)}
	if t.Purpose != "" {
		pd.Purpose = fhirres.Ptr(t.Purpose)
	}
	for _, a := range t.Activities {
		act := fhir.PlanDefinitionAction{Description: fhirres.Ptr(a.Description),
			Code:         []fhir.CodeableConcept{fhirres.Coding(SystemProfession, a.Profession, "")},
			TimingTiming: &fhir.Timing{Repeat: &fhir.TimingRepeat{Count: fhirres.Ptr(a.Sessions)}}}
		if a.EveryDays > 0 {
			act.TimingTiming.Repeat.Period = fhirres.Ptr(json.Number(itoa(a.EveryDays)))
			act.TimingTiming.Repeat.PeriodUnit = fhirres.Ptr("d")
		}
		pd.Action = append(pd.Action, act)
	}
	return pd
}

// templateFrom reads a PlanDefinition a client sends into a template of
// region; one without an id gets newID.
func templateFrom(b []byte, region, newID string) (catalog.Template, error) {
	if resourceType(b) != "PlanDefinition" {
		return catalog.Template{}, errors.New("want a FHIR PlanDefinition (resourceType PlanDefinition)")
	}
	pd, err := fhir.UnmarshalPlanDefinition(b)
	if err != nil {
		return catalog.Template{}, fmt.Errorf("not a valid FHIR R4 PlanDefinition: %v", err)
	}
	t := catalog.Template{ID: newID, Region: region, Title: ptrValue(pd.Title), Purpose: ptrValue(pd.Purpose),
		Active: pd.Status != fhir.PublicationStatusRetired}
	if pd.Id != nil {
		t.ID = *pd.Id
	}
	if pd.Type != nil {
		t.Type = first(codes([]fhir.CodeableConcept{*pd.Type}, SystemServiceType))
	}
	for _, a := range pd.Action {
		act := catalog.Activity{Profession: first(codes(a.Code, SystemProfession)), Description: ptrValue(a.Description)}
		if a.TimingTiming != nil && a.TimingTiming.Repeat != nil {
			rep := a.TimingTiming.Repeat
			if rep.Count != nil {
				act.Sessions = *rep.Count
			}
			if rep.Period != nil {
				days, err := rep.Period.Int64()
				if err != nil || rep.PeriodUnit == nil || *rep.PeriodUnit != "d" {
					return catalog.Template{}, errors.New("an action's timing repeats every whole number of days (periodUnit d)")
				}
				act.EveryDays = int(days)
			}
		}
		t.Activities = append(t.Activities, act)
	}
	return t, t.Validate()
}
