package telemed

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/catalog"
)

// readService is GET /fhir/HealthcareService/{id}, from this node's
// replica.
func (m *Module) readService(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	s, applied, err := m.catalogued(r, r.PathValue("id"), "HealthcareService")
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, applied, healthcareService(s))
}

// catalogued reads a service from this node's replica; an absent one is
// "no such <what>".
func (m *Module) catalogued(r *http.Request, id, what string) (catalog.Service, uint64, error) {
	var s catalog.Service
	var found bool
	applied, err := m.read(r, false, func(rd consensus.Reader) error {
		var err error
		s, found, err = catalog.GetService(rd, id)
		return err
	})
	if err == nil && !found {
		err = httpapi.E(httpapi.ErrNotFound, "no such "+what)
	}
	return s, applied, err
}

// searchParams maps the FHIR search parameters to the catalogue's query:
// service-type, specialty, characteristic (the delivery scope AZI, REG,
// NAZ), organization (the providing region), communication (a language)
// and active. A token may carry its system (system|code).
var searchParams = map[string]func(*catalog.Query, string) error{
	"service-type":   func(q *catalog.Query, v string) error { q.Type = v; return nil },
	"specialty":      func(q *catalog.Query, v string) error { q.Specialty = v; return nil },
	"characteristic": func(q *catalog.Query, v string) error { q.Scope = v; return nil },
	"organization":   func(q *catalog.Query, v string) error { q.Region = v; return nil },
	"communication":  func(q *catalog.Query, v string) error { q.Language = v; return nil },
	"active": func(q *catalog.Query, v string) error {
		if v != "true" && v != "false" {
			return httpapi.E(httpapi.ErrInvalid, "active: want true or false")
		}
		b := v == "true"
		q.Active = &b
		return nil
	},
}

var tokenValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// catalogueQuery reads a search's parameters; unknown ones are refused
// only under Prefer: handling=strict, as for every FHIR search.
func catalogueQuery(r *http.Request) (catalog.Query, error) {
	var q catalog.Query
	strict := r.Header.Get("Prefer") == "handling=strict"
	for name, vs := range r.URL.Query() {
		set, known := searchParams[name]
		switch {
		case !known && strict:
			return q, httpapi.E(httpapi.ErrInvalid, "unknown search parameter "+name)
		case !known:
			continue
		case len(vs) != 1:
			return q, httpapi.E(httpapi.ErrInvalid, name+": give it once")
		}
		v := vs[0]
		if i := lastBar(v); i >= 0 {
			v = v[i+1:]
		}
		if !tokenValueRE.MatchString(v) {
			return q, httpapi.E(httpapi.ErrInvalid, name+": not a code")
		}
		if err := set(&q, v); err != nil {
			return q, err
		}
	}
	return q, nil
}

func lastBar(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '|' {
			return i
		}
	}
	return -1
}

// searchServices is GET /fhir/HealthcareService?…: the catalogue of every
// region, from this node's replica.
func (m *Module) searchServices(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActReadCatalogue, index.Target{}); !ok {
		return
	}
	q, err := catalogueQuery(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	var found []catalog.Service
	applied, err := m.read(r, false, func(rd consensus.Reader) error {
		var err error
		found, err = catalog.Search(rd, q)
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: fhirres.Ptr(len(found)),
		Link: []fhir.BundleLink{{Relation: "self", Url: base + "/HealthcareService?" + r.URL.RawQuery}}}
	for _, s := range found {
		raw, err := healthcareService(s).MarshalJSON()
		if err != nil {
			httpapi.Fail(w, r, err)
			return
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, "HealthcareService", s.ID)), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	writeFHIR(w, http.StatusOK, applied, b)
}

// createService is POST /fhir/HealthcareService: a new service of this
// node's region, by the region's operators.
func (m *Module) createService(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActManageService, index.Target{Region: m.cfg.Region}); !ok {
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	s, err := serviceFrom(b, m.cfg.Region, m.cfg.Region+"-"+newLocalID())
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	m.put(w, r, catalog.PutServiceRequest{Service: s}, http.StatusCreated)
}

// updateService is PUT /fhir/HealthcareService/{id}: a change of a
// service of this node's region (active false retires it; services are
// never deleted, so adoptions keep what they adopted). It is judged on
// the service's current version, or on the one If-Match names.
func (m *Module) updateService(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := catalog.RegionOf(id)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such HealthcareService"))
		return
	}
	if _, ok := m.decide(w, r, index.ActManageService, index.Target{Region: region}); !ok {
		return
	}
	if region != m.cfg.Region {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrMisdirected, "the service is provided by region "+region+": send the request to that region's node"))
		return
	}
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	s, err := serviceFrom(b, m.cfg.Region, id)
	if err == nil && s.ID != id {
		err = errors.New("the resource's id does not match the id in the URL")
	}
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	version, err := m.versionToUpdate(r, id)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	// The practitioners are changed as PractitionerRoles, and kept here.
	if s.Practitioners, err = m.practitioners(r, id); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m.put(w, r, catalog.PutServiceRequest{Service: s, IfVersion: version}, http.StatusOK)
}

// practitioners reads a service's practitioners strongly.
func (m *Module) practitioners(r *http.Request, id string) ([]catalog.Practitioner, error) {
	var cur catalog.Service
	_, err := m.read(r, true, func(rd consensus.Reader) error {
		var err error
		cur, _, err = catalog.GetService(rd, id)
		return err
	})
	return cur.Practitioners, err
}

var ifMatchRE = regexp.MustCompile(`^W/"([1-9][0-9]{0,8})"$`)

// ifMatch reads If-Match: W/"<version>" (ok false when absent).
func ifMatch(r *http.Request) (int, bool, error) {
	im := r.Header.Get("If-Match")
	if im == "" {
		return 0, false, nil
	}
	g := ifMatchRE.FindStringSubmatch(im)
	if g == nil {
		return 0, false, httpapi.E(httpapi.ErrInvalid, `If-Match: want W/"<version>"`)
	}
	v, _ := strconv.Atoi(g[1]) // nine digits at most
	return v, true, nil
}

// versionToUpdate is the version an update is judged on: If-Match's, or
// the current one read strongly.
func (m *Module) versionToUpdate(r *http.Request, id string) (int, error) {
	if v, ok, err := ifMatch(r); ok || err != nil {
		return v, err
	}
	var cur catalog.Service
	var found bool
	_, err := m.read(r, true, func(rd consensus.Reader) error {
		var err error
		cur, found, err = catalog.GetService(rd, id)
		return err
	})
	switch {
	case err != nil:
		return 0, err
	case !found:
		return 0, httpapi.E(httpapi.ErrNotFound, "no such HealthcareService")
	}
	return cur.Version, nil
}

// put replicates a service and answers it.
func (m *Module) put(w http.ResponseWriter, r *http.Request, req catalog.PutServiceRequest, status int) {
	cmd, err := catalog.PutService(req)
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	res, err := m.apply(r, cmd)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	s, err := decodeService(res)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", m.base(r)+"/HealthcareService/"+s.ID)
	w.Header().Set("ETag", `W/"`+itoa(s.Version)+`"`)
	writeFHIR(w, status, 0, healthcareService(s))
}

// adoptService is POST /fhir/HealthcareService/{id}/$adopt: this node's
// region reuses another region's service at its current version, by the
// adopting region's operator at its own node.
func (m *Module) adoptService(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	region, ok := catalog.RegionOf(id)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such HealthcareService"))
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
	cmd, err := catalog.Adopt(catalog.AdoptRequest{Service: id, Region: c.Region, By: c.Subject})
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

// reuse is GET /v1/authority/telemed/reuse: for the authority, every
// service with the regions that adopted it and at which version.
func (m *Module) reuse(w http.ResponseWriter, r *http.Request) {
	if _, ok := m.decide(w, r, index.ActCatalogueReuse, index.Target{}); !ok {
		return
	}
	type row struct {
		catalog.Service
		Adoptions []catalog.Adoption `json:"adoptions"`
	}
	type templateRow struct {
		catalog.Template
		Adoptions []catalog.Adoption `json:"adoptions"`
	}
	var out []row
	var templates []templateRow
	applied, err := m.read(r, false, func(rd consensus.Reader) error {
		out, templates = out[:0], templates[:0]
		services, err := catalog.Search(rd, catalog.Query{})
		for _, s := range services {
			if err != nil {
				break
			}
			var as []catalog.Adoption
			as, err = catalog.Adoptions(rd, s.ID)
			out = append(out, row{s, as})
		}
		if err != nil {
			return err
		}
		ts, err := catalog.Templates(rd, "")
		for _, t := range ts {
			if err != nil {
				break
			}
			var as []catalog.Adoption
			as, err = catalog.TemplateAdoptions(rd, t.ID)
			templates = append(templates, templateRow{t, as})
		}
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set("Fsenet-Applied-Index", itoa(int(applied)))
	httpapi.JSON(w, http.StatusOK, map[string]any{"services": out, "templates": templates})
}
