package telemed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// Codes of telemonitoring plans. HL7 Italia's telemonitoring guide codes
// the plan's kind (csTipologiaPiano 01) and puts alarm thresholds in
// ObservationDefinition.qualifiedInterval.range; it is silent on the
// care team, on Tipo I/II and on "sustained for N readings", which are
// fsenet's own.
const (
	SystemPlanKind     = "http://hl7.it/fhir/telemonitoraggio/CodeSystem/csTipologiaPiano"
	PlanKindMonitoring = "01"
	SystemMonitorTipo  = "urn:fsenet:telemonitoraggio:tipo" // I: periodic review, II: automatic alerts
	ExtensionSustained = "urn:fsenet:telemonitoraggio:letture-consecutive"
)

func (m *Module) registerMonitoring(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("POST /fhir/Observation", m.postReadings)
	r.HandleFunc("GET /fhir/Observation/$daily", m.dailyReadings)
	caps.Interactions(fhir.ResourceTypeObservation, []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionCreate, fhir.TypeRestfulInteractionSearchType},
		fhirres.SearchParam{Name: "patient", Type: fhir.SearchParamTypeReference}, fhirres.SearchParam{Name: "code", Type: fhir.SearchParamTypeToken},
		fhirres.SearchParam{Name: "date", Type: fhir.SearchParamTypeDate}, fhirres.SearchParam{Name: "_count", Type: fhir.SearchParamTypeNumber})
	caps.Operation(fhir.ResourceTypeObservation, "daily")
}

// isMonitoringPlan reports whether a CarePlan is a telemonitoring plan.
func isMonitoringPlan(b []byte) bool {
	var cp struct {
		Category []struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"category"`
	}
	_ = json.Unmarshal(b, &cp)
	for _, c := range cp.Category {
		for _, cd := range c.Coding {
			if cd.System == SystemPlanKind && cd.Code == PlanKindMonitoring {
				return true
			}
		}
	}
	return false
}

// enrol is POST /fhir/CarePlan of category csTipologiaPiano 01: a
// telemonitoring plan at the patient's home node.
func (m *Module) enrol(w http.ResponseWriter, r *http.Request, b []byte) {
	req, err := enrolRequest(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp, ok := m.ask(w, r, m.cfg.Region, req, "")
	if !ok {
		return
	}
	status := http.StatusCreated
	if resp.Duplicate {
		status = http.StatusOK
	}
	w.Header().Set("Location", m.base(r)+"/CarePlan/"+resp.Monitoring.ID)
	writeFHIR(w, status, 0, monitoringPlanResource(*resp.Monitoring))
}

type monitoringPlanJSON struct {
	ResourceType          string   `json:"resourceType"`
	InstantiatesCanonical []string `json:"instantiatesCanonical"`
	Identifier            []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Category []struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"category"`
	Subject *struct {
		Reference string `json:"reference"`
	} `json:"subject"`
	Period *struct {
		End string `json:"end"`
	} `json:"period"`
	Contained []json.RawMessage `json:"contained"`
	Activity  []struct {
		Detail *struct {
			Performer []struct {
				Reference string `json:"reference"`
			} `json:"performer"`
		} `json:"detail"`
	} `json:"activity"`
}

type quantityJSON struct {
	Value  *float64 `json:"value"`
	System string   `json:"system"`
	Code   string   `json:"code"`
}

type containedJSON struct {
	ResourceType string `json:"resourceType"`
	Code         struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"code"`
	QualifiedInterval []struct {
		Range *struct {
			Low  *quantityJSON `json:"low"`
			High *quantityJSON `json:"high"`
		} `json:"range"`
	} `json:"qualifiedInterval"`
	Extension []struct {
		URL          string `json:"url"`
		ValueInteger *int   `json:"valueInteger"`
	} `json:"extension"`
	ManagingOrganization []struct {
		Identifier struct{ System, Value string } `json:"identifier"`
	} `json:"managingOrganization"`
	Participant []struct {
		Member struct {
			Identifier struct{ System, Value string } `json:"identifier"`
		} `json:"member"`
	} `json:"participant"`
}

// enrolRequest reads a telemonitoring CarePlan: the template
// (instantiatesCanonical PlanDefinition/<id>|<version>), the patient, a
// client key, the devices (activity.detail.performer Device/<id>), a
// contained ObservationDefinition per parameter with its thresholds, a
// contained CareTeam (its region, its members by codice fiscale, in the
// order alerts escalate), Tipo I or II, and the plan's end.
func enrolRequest(b []byte) (Request, error) {
	var cp monitoringPlanJSON
	if err := json.Unmarshal(b, &cp); err != nil || cp.ResourceType != "CarePlan" || len(cp.InstantiatesCanonical) != 1 || cp.Subject == nil {
		return Request{}, httpapi.E(httpapi.ErrInvalid, "want a FHIR CarePlan with instantiatesCanonical PlanDefinition/<id>|<version> and subject")
	}
	ref, version, _ := strings.Cut(strings.TrimPrefix(cp.InstantiatesCanonical[0], "PlanDefinition/"), "|")
	req := Request{Op: opEnrol, Template: ref, Monitoring: &monitor.Plan{Thresholds: map[string]monitor.Threshold{}, Tipo: "II"}}
	var err error
	if req.TemplateVersion, err = strconv.Atoi(version); err != nil {
		return Request{}, httpapi.E(httpapi.ErrInvalid, "instantiatesCanonical: want PlanDefinition/<id>|<version>")
	}
	if id, ok := fhirres.PatientIDOf(strings.TrimPrefix(cp.Subject.Reference, "Patient/")); ok {
		req.Patient = id
	}
	for _, id := range cp.Identifier {
		if id.System == SystemClientKey {
			req.ClientKey = id.Value
		}
	}
	for _, c := range cp.Category {
		for _, cd := range c.Coding {
			if cd.System == SystemMonitorTipo {
				req.Monitoring.Tipo = cd.Code
			}
		}
	}
	if cp.Period != nil && cp.Period.End != "" {
		if req.Monitoring.End, err = time.Parse(time.RFC3339, cp.Period.End); err != nil {
			return Request{}, httpapi.E(httpapi.ErrInvalid, "period.end: want an RFC 3339 time")
		}
	}
	for _, a := range cp.Activity {
		if a.Detail != nil {
			for _, p := range a.Detail.Performer {
				req.Monitoring.Devices = append(req.Monitoring.Devices, strings.TrimPrefix(p.Reference, "Device/"))
			}
		}
	}
	if err := readContained(cp.Contained, req.Monitoring); err != nil {
		return Request{}, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	switch {
	case req.Patient == "" || req.ClientKey == "" || req.TemplateVersion < 1:
		return Request{}, httpapi.E(httpapi.ErrInvalid, "a telemonitoring plan names its patient (Patient/CF-…) and a client key (identifier of system "+SystemClientKey+")")
	case req.Monitoring.Tipo != "I" && req.Monitoring.Tipo != "II":
		return Request{}, httpapi.E(httpapi.ErrInvalid, "tipo (system "+SystemMonitorTipo+") is I or II")
	case len(req.Monitoring.Team.Members) == 0 || req.Monitoring.Team.Region == "":
		return Request{}, httpapi.E(httpapi.ErrInvalid, "a telemonitoring plan has a care team (a contained CareTeam with its region and members)")
	}
	return req, nil
}

// readContained reads the plan's ObservationDefinitions and CareTeam.
func readContained(contained []json.RawMessage, p *monitor.Plan) error {
	for _, raw := range contained {
		var c containedJSON
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("contained: %v", err)
		}
		switch c.ResourceType {
		case "ObservationDefinition":
			code, t, err := thresholdOf(c)
			if err != nil {
				return err
			}
			p.Thresholds[code] = t
		case "CareTeam":
			for _, o := range c.ManagingOrganization {
				if o.Identifier.System == fhirres.SystemRegion {
					p.Team.Region = o.Identifier.Value
				}
			}
			for _, pt := range c.Participant {
				if pt.Member.Identifier.System == SystemCF && pt.Member.Identifier.Value != "" {
					p.Team.Members = append(p.Team.Members, strings.ToUpper(pt.Member.Identifier.Value))
				}
			}
		}
	}
	return nil
}

// thresholdOf reads a parameter's alarm range, normalised to the unit
// its readings are kept in.
func thresholdOf(c containedJSON) (string, monitor.Threshold, error) {
	var t monitor.Threshold
	code := ""
	for _, cd := range c.Code.Coding {
		if cd.System == monitor.SystemLOINC {
			code = monitor.Canonical(cd.Code)
		}
	}
	if _, ok := monitor.Vitals[code]; !ok {
		return "", t, fmt.Errorf("ObservationDefinition: %q is not a telemonitored parameter", code)
	}
	bound := func(q *quantityJSON) (*float64, error) {
		if q == nil {
			return nil, nil
		}
		if q.Value == nil || q.System != monitor.SystemUCUM {
			return nil, fmt.Errorf("ObservationDefinition %s: a threshold is a UCUM quantity", code)
		}
		v, err := monitor.Normalise(code, *q.Value, q.Code)
		return &v, err
	}
	var err error
	for _, qi := range c.QualifiedInterval {
		if qi.Range == nil {
			continue
		}
		if t.Low, err = bound(qi.Range.Low); err != nil {
			return "", t, err
		}
		if t.High, err = bound(qi.Range.High); err != nil {
			return "", t, err
		}
	}
	for _, x := range c.Extension {
		if x.URL == ExtensionSustained && x.ValueInteger != nil {
			t.Sustained = *x.ValueInteger
		}
	}
	return code, t, nil
}

// monitoringPlanResource is a telemonitoring plan as FHIR.
func monitoringPlanResource(p monitor.Plan) fhir.CarePlan {
	status := fhir.RequestStatusActive
	if !p.Active {
		status = fhir.RequestStatusCompleted
	}
	cp := fhir.CarePlan{Id: fhirres.Ptr(p.ID), Status: status, Intent: fhir.CarePlanIntentPlan, Subject: *patientRef(p.Patient),
		Category: []fhir.CodeableConcept{fhirres.Coding(SystemPlanKind, PlanKindMonitoring, "Piano di Telemonitoraggio"),
			fhirres.Coding(SystemMonitorTipo, p.Tipo, "")},
		InstantiatesCanonical: []string{"PlanDefinition/" + p.Template + "|" + strconv.Itoa(p.TemplateVersion)},
		Identifier:            []fhir.Identifier{{System: fhirres.Ptr(SystemClientKey), Value: fhirres.Ptr(p.ClientKey)}},
		Author:                &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(p.Author)}},
		Period:                period(p.Start, p.End)}
	for _, d := range p.Devices {
		cp.Activity = append(cp.Activity, fhir.CarePlanActivity{Detail: &fhir.CarePlanActivityDetail{Status: fhir.CarePlanActivityStatusInProgress,
			Performer: []fhir.Reference{{Reference: fhirres.Ptr("Device/" + d)}}}})
	}
	return cp
}

// postReadings is POST /fhir/Observation: readings of this region's
// patients, one Observation or a batch or transaction Bundle of them
// (monitor.DecodeObservations), answered with a batch-response Bundle:
// 201 for each reading stored, 200 for a resend.
func (m *Module) postReadings(w http.ResponseWriter, r *http.Request) {
	c, ok := m.d.Caller(r)
	if !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required"))
		return
	}
	b, err := readBodyMax(w, r, 2<<20)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	readings, err := monitor.DecodeObservations(b)
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	m.mu.RLock()
	res, err := m.ingest(r.Context(), c, readings)
	m.mu.RUnlock()
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, 0, batchResponse(readings, res))
}

// batchResponse answers each request entry in order: 201 when a reading
// of it was stored, 200 when all of its readings were resends.
func batchResponse(readings []monitor.Reading, res monitor.Result) fhir.Bundle {
	entries := 0
	if len(readings) > 0 {
		entries = readings[len(readings)-1].Entry + 1
	}
	stored := make([]bool, entries)
	for i, rd := range readings {
		if i < len(res.Resent) && !res.Resent[i] {
			stored[rd.Entry] = true
		}
	}
	out := fhir.Bundle{Type: fhir.BundleTypeBatchResponse}
	for _, s := range stored {
		status := "200 OK"
		if s {
			status = "201 Created"
		}
		out.Entry = append(out.Entry, fhir.BundleEntry{Response: &fhir.BundleEntryResponse{Status: status}})
	}
	return out
}

// readingsQuery reads patient, code and date (ge/lt) of a readings
// search, and the patient's home region that keeps them.
func (m *Module) readingsQuery(r *http.Request, op string) (Request, string, error) {
	q := r.URL.Query()
	req := Request{Op: op, Code: q.Get("code")}
	if i := lastBar(req.Code); i >= 0 {
		req.Code = req.Code[i+1:]
	}
	id, ok := fhirres.PatientIDOf(strings.TrimPrefix(q.Get("patient"), "Patient/"))
	if !ok || len(q["patient"]) != 1 || len(q["code"]) != 1 {
		return req, "", httpapi.E(httpapi.ErrInvalid, "give patient=Patient/CF-<codice fiscale> and code=<LOINC>")
	}
	req.Patient = id
	for _, v := range q["date"] {
		t, err := time.Parse(time.RFC3339, v[min(2, len(v)):])
		switch {
		case err != nil:
			return req, "", httpapi.E(httpapi.ErrInvalid, "date: want geT or ltT (RFC 3339)")
		case strings.HasPrefix(v, "ge"):
			req.From = t
		case strings.HasPrefix(v, "lt"):
			req.To = t
		default:
			return req, "", httpapi.E(httpapi.ErrInvalid, "date: want geT or ltT (RFC 3339)")
		}
	}
	// _device continues a page among readings of one instant (next links).
	if req.Device = q.Get("_device"); req.Device != "" && (len(q["date"]) == 0 || len(req.Device) > 64) {
		return req, "", httpapi.E(httpapi.ErrInvalid, "_device continues a page: it comes with date=ge")
	}
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return req, "", httpapi.E(httpapi.ErrInvalid, "_count: 1 to 1000")
		}
		req.Count = n
	}
	p, err := m.patient(r.Context(), req.Patient)
	if err != nil {
		return req, "", httpapi.Wrap(httpapi.ErrUnavailable, "the registry could not be read; retry", err)
	}
	if p == nil {
		return req, "", httpapi.E(httpapi.ErrNotFound, "no such Patient") // as a hidden one is answered
	}
	return req, p.HomeRegion, nil
}

// SearchReadings is GET /fhir/Observation?category=telemonitoring&patient=&code=[&date=geT&date=ltT][&_count=]:
// a patient's readings of one parameter, oldest first, asked of their
// home region's node, paged by a next link. The route is shared with the
// search of documents' Observations (the repository's), which hands this
// one the searches of readings.
func (m *Module) SearchReadings(w http.ResponseWriter, r *http.Request) {
	req, region, err := m.readingsQuery(r, opReadings)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp, ok := m.ask(w, r, region, req, "Observation.read.request")
	if !ok {
		return
	}
	base := m.base(r)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Link: []fhir.BundleLink{{Relation: "self", Url: base + "/Observation?" + r.URL.RawQuery}}}
	if !resp.Next.Time.IsZero() {
		q := r.URL.Query()
		q.Del("date")
		q.Add("date", "ge"+resp.Next.Time.Format(time.RFC3339Nano))
		q.Set("_device", resp.Next.Device)
		if !req.To.IsZero() {
			q.Add("date", "lt"+req.To.Format(time.RFC3339Nano))
		}
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", Url: base + "/Observation?" + q.Encode()})
	}
	for _, rd := range resp.Readings {
		raw, _ := json.Marshal(readingResource(rd))
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: raw, Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	writeFHIR(w, http.StatusOK, 0, b)
}

// readingResource is a stored reading as a FHIR Observation.
func readingResource(rd monitor.Reading) map[string]any {
	v := monitor.Vitals[rd.Code]
	return map[string]any{"resourceType": "Observation", "status": "final",
		"category": []any{map[string]any{"coding": []any{map[string]string{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
		"code":     map[string]any{"coding": []any{map[string]string{"system": monitor.SystemLOINC, "code": rd.Code, "display": v.Display}}},
		"subject":  map[string]string{"reference": "Patient/" + fhirres.PatientResourceID(rd.Patient)},
		"device":   map[string]string{"reference": "Device/" + rd.Device}, "effectiveDateTime": rd.Time.Format(time.RFC3339Nano),
		"valueQuantity": map[string]any{"value": rd.Value, "unit": v.Unit, "system": monitor.SystemUCUM, "code": v.Unit}}
}

// dailyReadings is GET /fhir/Observation/$daily?patient=&code=[&date=geT&date=ltT]:
// a parameter's daily count, minimum, maximum and mean, for charts.
func (m *Module) dailyReadings(w http.ResponseWriter, r *http.Request) {
	req, region, err := m.readingsQuery(r, opDaily)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if req.To.IsZero() {
		req.To = time.Now()
	}
	resp, ok := m.ask(w, r, region, req, "Observation.read.request")
	if !ok {
		return
	}
	type part struct {
		Name          string   `json:"name"`
		ValueDate     string   `json:"valueDate,omitempty"`
		ValueInteger  *int     `json:"valueInteger,omitempty"`
		ValueDecimal  *float64 `json:"valueDecimal,omitempty"`
		ValueQuantity any      `json:"valueQuantity,omitempty"`
		Part          []part   `json:"part,omitempty"`
	}
	unit := monitor.Vitals[monitor.Canonical(req.Code)].Unit
	q := func(v float64) map[string]any {
		return map[string]any{"value": v, "system": monitor.SystemUCUM, "code": unit}
	}
	out := struct {
		ResourceType string `json:"resourceType"`
		Parameter    []part `json:"parameter,omitempty"`
	}{ResourceType: "Parameters"}
	for _, d := range resp.Days {
		out.Parameter = append(out.Parameter, part{Name: "day", Part: []part{{Name: "date", ValueDate: d.Date}, {Name: "count", ValueInteger: fhirres.Ptr(d.Count)},
			{Name: "min", ValueQuantity: q(d.Min)}, {Name: "max", ValueQuantity: q(d.Max)}, {Name: "mean", ValueQuantity: q(d.Avg)}}})
	}
	writeFHIR(w, http.StatusOK, 0, out)
}
