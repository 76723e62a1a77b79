package telemed

import (
	"net/http"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/node/module"
	"github.com/fsenet/fsenet/telemed/monitor"
	"github.com/fsenet/fsenet/telemed/tmdoc"
)

// Routes of a telemonitoring plan's kit and documents. The documents are
// FHIR document Bundles, unsigned: the region's producer signs them and
// publishes them through the region's gateway (POST /fhir, ITI-65), as it
// does every document.
//
//	POST /fhir/CarePlan/{id}/$register-device   a Device of the plan's kit (its id one the plan names), delivered now
//	GET  /fhir/CarePlan/{id}/$piano              the Piano di telemonitoraggio
//	GET  /fhir/CarePlan/{id}/$tesserino          the Tesserino dispositivi
//	GET  /fhir/CarePlan/{id}/$report-rilevazione?start=&end=   the Report rilevazione of a period
//	POST /fhir/CarePlan/{id}/$relazione-finale   close the plan (Parameters relazione), answering the Relazione finale
//	GET  /fhir/CarePlan/{id}/$relazione-finale   a closed plan's Relazione finale
func (m *Module) registerMonitoringDocs(r module.Routes, caps *fhirres.Capabilities) {
	r.HandleFunc("POST /fhir/CarePlan/{id}/$register-device", m.registerDevice)
	r.HandleFunc("GET /fhir/CarePlan/{id}/$piano", m.planDocument(tmdoc.Piano))
	r.HandleFunc("GET /fhir/CarePlan/{id}/$tesserino", m.planDocument(tmdoc.Tesserino))
	r.HandleFunc("GET /fhir/CarePlan/{id}/$report-rilevazione", m.planDocument(tmdoc.Report))
	r.HandleFunc("GET /fhir/CarePlan/{id}/$relazione-finale", m.planDocument(tmdoc.Relazione))
	for _, op := range []string{"register-device", "piano", "tesserino", "report-rilevazione"} {
		caps.Operation(fhir.ResourceTypeCarePlan, op)
	}
}

// isMonitoringID reports whether a CarePlan id names a telemonitoring
// plan (<region>-tm-<local>).
func isMonitoringID(id string) bool {
	region, _, ok := strings.Cut(id, "-")
	return ok && strings.HasPrefix(id, region+"-tm-")
}

// monitoringRegion is the region whose node keeps a telemonitoring plan:
// where it started, or where it moved with its patient (followed over a
// few moves). A plan this node kept and that moved on is followed here;
// another node's is asked of it, under the policy.
func (m *Module) monitoringRegion(w http.ResponseWriter, r *http.Request, id string) (string, bool) {
	region, ok := regionOf(w, r, id, "CarePlan")
	if !ok {
		return "", false
	}
	if !isMonitoringID(id) {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such CarePlan"))
		return "", false
	}
	if st, err := m.monitorStore(); err == nil {
		if p, err := st.Plan(id); err == nil {
			if p.MovedTo == "" {
				return m.cfg.Region, true
			}
			region = p.MovedTo
		}
	}
	for range maxMoves {
		if region == m.cfg.Region {
			return region, true
		}
		resp, ok := m.ask(w, r, region, Request{Op: opReadMonitoring, Plan: id}, "CarePlan.read.request")
		if !ok {
			return "", false
		}
		if resp.Monitoring.MovedTo == "" {
			return region, true
		}
		region = resp.Monitoring.MovedTo
	}
	httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such CarePlan"))
	return "", false
}

// maxMoves bounds the moves of a plan followed to find it.
const maxMoves = 4

// registerDevice is POST /fhir/CarePlan/{id}/$register-device with a
// Device: its id is the plan's name for it (readings come from
// Device/<id>), with at least one identifier and one udiCarrier.
func (m *Module) registerDevice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	b, err := readBody(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	d, err := deviceOf(b)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	region, ok := m.monitoringRegion(w, r, id)
	if !ok {
		return
	}
	resp, ok := m.ask(w, r, region, Request{Op: opDevice, Plan: id, Kit: &d}, "Device.create.request")
	if !ok {
		return
	}
	status := http.StatusCreated
	if resp.Duplicate {
		status = http.StatusOK
	}
	for _, k := range resp.Monitoring.Kit {
		if k.ID == d.ID {
			writeFHIR(w, status, 0, deviceResource(k))
			return
		}
	}
	httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable, "the plan's node did not keep the device; retry"))
}

// planDocument answers one of a plan's documents.
func (m *Module) planDocument(kind tmdoc.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		req := Request{Op: opDocument, Plan: id, DocumentKind: string(kind)}
		if kind == tmdoc.Report {
			var err error
			if req.From, req.To, err = reportPeriod(r); err != nil {
				httpapi.Fail(w, r, err)
				return
			}
		}
		region, ok := m.monitoringRegion(w, r, id)
		if !ok {
			return
		}
		if resp, ok := m.ask(w, r, region, req, "CarePlan.document.request"); ok {
			writeDocument(w, http.StatusOK, resp.Document)
		}
	}
}

// closeMonitoring is POST /fhir/CarePlan/{id}/$relazione-finale on a
// telemonitoring plan, with Parameters relazione (valueString): the plan
// ends and its Relazione finale is answered.
func (m *Module) closeMonitoring(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := readParams(w, r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	text := p.get("relazione")
	if strings.TrimSpace(text) == "" || len(text) > monitor.MaxClosure {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "the relazione (valueString) is required, at most 16 KiB"))
		return
	}
	region, ok := m.monitoringRegion(w, r, id)
	if !ok {
		return
	}
	if resp, ok := m.ask(w, r, region, Request{Op: opClose, Plan: id, Text: text}, "CarePlan.close.request"); ok {
		writeDocument(w, http.StatusOK, resp.Document)
	}
}

// rome is the zone of Italian days (time/tzdata is linked by monitor).
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return l
}()

func writeDocument(w http.ResponseWriter, status int, doc []byte) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(doc)
}

// reportPeriod reads start and end: dates (Italian days, end inclusive)
// or dateTimes with a zone (end exclusive).
func reportPeriod(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	bad := httpapi.E(httpapi.ErrInvalid, "give start and end: YYYY-MM-DD (the end's day included) or RFC 3339 dateTimes")
	if len(q["start"]) != 1 || len(q["end"]) != 1 {
		return from, to, bad
	}
	parse := func(v string, end bool) (time.Time, bool) {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, true
		}
		t, err := time.ParseInLocation(time.DateOnly, v, rome)
		if err != nil {
			return t, false
		}
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, true
	}
	var ok1, ok2 bool
	from, ok1 = parse(q.Get("start"), false)
	to, ok2 = parse(q.Get("end"), true)
	if !ok1 || !ok2 {
		return from, to, bad
	}
	return from, to, nil
}

// deviceOf reads a Device to register.
func deviceOf(b []byte) (monitor.Device, error) {
	var d monitor.Device
	dv, err := fhir.UnmarshalDevice(b)
	if err != nil || resourceType(b) != "Device" {
		return d, httpapi.E(httpapi.ErrInvalid, "want a FHIR Device")
	}
	d.ID = ptrValue(dv.Id)
	for _, id := range dv.Identifier {
		d.Identifiers = append(d.Identifiers, monitor.Identifier{System: ptrValue(id.System), Value: ptrValue(id.Value)})
	}
	for _, u := range dv.UdiCarrier {
		d.UDI = append(d.UDI, monitor.UDI{DeviceIdentifier: ptrValue(u.DeviceIdentifier), Issuer: ptrValue(u.Issuer), CarrierHRF: ptrValue(u.CarrierHRF)})
	}
	for _, n := range dv.DeviceName {
		switch n.Type {
		case fhir.DeviceNameTypeUserFriendlyName:
			d.Name = n.Name
		case fhir.DeviceNameTypeModelName:
			d.Model = n.Name
		}
	}
	d.Manufacturer, d.Serial, d.Lot = ptrValue(dv.Manufacturer), ptrValue(dv.SerialNumber), ptrValue(dv.LotNumber)
	if dv.Type != nil && len(dv.Type.Coding) > 0 {
		c := dv.Type.Coding[0]
		d.Type = &monitor.Coding{System: ptrValue(c.System), Code: ptrValue(c.Code), Display: ptrValue(c.Display)}
	}
	d.Delivered = time.Now().UTC() // checked in full where the plan is kept
	if err := monitor.CheckDevice(d); err != nil {
		return d, httpapi.E(httpapi.ErrInvalid, err.Error())
	}
	return d, nil
}

func deviceResource(k monitor.Device) fhir.Device {
	dv := fhir.Device{Id: fhirres.Ptr(k.ID), Status: fhirres.Ptr(fhir.FHIRDeviceStatusActive)}
	for _, id := range k.Identifiers {
		dv.Identifier = append(dv.Identifier, fhir.Identifier{System: fhirres.Ptr(id.System), Value: fhirres.Ptr(id.Value)})
	}
	for _, u := range k.UDI {
		dv.UdiCarrier = append(dv.UdiCarrier, fhir.DeviceUdiCarrier{DeviceIdentifier: &u.DeviceIdentifier, Issuer: optional(u.Issuer), CarrierHRF: optional(u.CarrierHRF)})
	}
	if k.Name != "" {
		dv.DeviceName = append(dv.DeviceName, fhir.DeviceDeviceName{Name: k.Name, Type: fhir.DeviceNameTypeUserFriendlyName})
	}
	if k.Model != "" {
		dv.DeviceName = append(dv.DeviceName, fhir.DeviceDeviceName{Name: k.Model, Type: fhir.DeviceNameTypeModelName})
	}
	dv.Manufacturer, dv.SerialNumber, dv.LotNumber = optional(k.Manufacturer), optional(k.Serial), optional(k.Lot)
	if k.Type != nil {
		cc := fhirres.Coding(k.Type.System, k.Type.Code, k.Type.Display)
		dv.Type = &cc
	}
	return dv
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
