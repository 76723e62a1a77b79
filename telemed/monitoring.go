package telemed

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/catalog"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// Telemonitoring at the patient's home node: the plan, the readings and
// their alerts are kept there (telemed/monitor), never replicated; other
// regions read them through the telemed protocol, decided and audited
// here.

// monitorStore is the home node's telemonitoring store, or an error when
// this node keeps none.
func (m *Module) monitorStore() (*monitor.Store, error) {
	if m.monitor == nil {
		return nil, httpapi.E(httpapi.ErrUnavailable, "this node keeps no telemonitoring")
	}
	return m.monitor, nil
}

// atHome judges act on a patient as at the patient's home node: refused,
// hidden or allowed as the policy says there (a refusal about a
// registered patient audited); allowed but asked of another node, it is
// answered naming the home region — only a caller who may act learns it.
func (m *Module) atHome(ctx context.Context, c index.Caller, act index.Action, id string, usable bool, what string) (*index.Patient, error) {
	p, err := m.registered(ctx, id)
	if err != nil {
		return nil, err
	}
	home := m.cfg.Region
	if p != nil {
		home = p.HomeRegion
	}
	if refused := index.Authorize(c, act, index.Target{Region: home, Patient: p, Usable: usable}).Err("Patient"); refused != nil {
		if p != nil {
			return nil, m.audited(ctx, c, what, index.ActionCreate, p.ID, refused)
		}
		return nil, refused
	}
	if home != m.cfg.Region {
		return nil, httpapi.E(httpapi.ErrMisdirected, "the patient's home region is "+home+": telemonitoring is kept by that region's node")
	}
	return p, nil
}

// provideEnrol starts a telemonitoring plan from a template this region
// wrote or adopted, for a patient of this region.
func (m *Module) provideEnrol(ctx context.Context, c index.Caller, req Request) (Response, error) {
	st, err := m.monitorStore()
	if err != nil {
		return Response{}, err
	}
	t, usable, err := m.templateOf(ctx, req.Template, req.TemplateVersion, catalog.Telemonitoring)
	if err != nil {
		return Response{}, err
	}
	p, err := m.atHome(ctx, c, index.ActEnrolMonitoring, req.Patient, usable, "CarePlan.monitoring.create")
	if err != nil {
		return Response{}, err
	}
	if _, ok := m.d.RegionPeer(req.Monitoring.Team.Region); !ok && req.Monitoring.Team.Region != m.cfg.Region {
		return Response{}, httpapi.E(httpapi.ErrInvalid, "the care team's region "+req.Monitoring.Team.Region+" is not a member of the federation")
	}
	plan := *req.Monitoring
	plan.ID, plan.Patient, plan.Template, plan.TemplateVersion = m.cfg.Region+"-tm-"+newLocalID(), p.ID, t.ID, t.Version
	plan.Author, plan.ClientKey, plan.Start = c.Subject, req.ClientKey, time.Now().UTC()
	plan.Every = measuredEvery(t)
	out, dup, err := st.Enrol(plan)
	if err := m.audited(ctx, c, "CarePlan.monitoring.create", index.ActionCreate, p.ID, err); err != nil {
		return Response{}, monitorError(err, "CarePlan")
	}
	return Response{Monitoring: &out, Duplicate: dup}, nil
}

// templateOf reads a template of a type at a version and whether this
// region may use it.
func (m *Module) templateOf(ctx context.Context, id string, version int, typ string) (catalog.Template, bool, error) {
	t, usable, err := m.templateAt(ctx, id, version, typ)
	if err == nil && t.Type != typ {
		err = httpapi.E(httpapi.ErrInvalid, "PlanDefinition "+id+" is a "+t.Type+" template, not a "+typ+" one")
	}
	return t, usable, err
}

// provideReadMonitoring reads a telemonitoring plan.
func (m *Module) provideReadMonitoring(ctx context.Context, c index.Caller, req Request) (Response, error) {
	st, err := m.monitorStore()
	if err != nil {
		return Response{}, err
	}
	plan, err := st.Plan(req.Plan)
	if err != nil {
		return Response{}, monitorError(err, "CarePlan")
	}
	if err := m.monitoringReadable(ctx, c, plan, "CarePlan"); err != nil {
		return Response{}, err
	}
	return Response{Monitoring: &plan}, m.audited(ctx, c, "CarePlan.monitoring.read", index.ActionRead, plan.Patient, nil)
}

// monitoringReadable asks the policy whether the caller reads a plan's
// monitoring; a refusal is in the patient's log.
func (m *Module) monitoringReadable(ctx context.Context, c index.Caller, plan monitor.Plan, what string) error {
	p, err := m.registered(ctx, plan.Patient)
	if err != nil {
		return err
	}
	// A plan that moved is judged as where it is kept now: the new home's
	// clinicians learn where it went, to read it there.
	region := m.cfg.Region
	if plan.MovedTo != "" {
		region = plan.MovedTo
	}
	refused := index.Authorize(c, index.ActReadMonitoring, index.Target{Region: region, Patient: p, Team: plan.Team.Members}).Err(what)
	if refused != nil && p != nil {
		return m.audited(ctx, c, "Observation.read", index.ActionRead, p.ID, refused)
	}
	return refused
}

// ingest stores readings sent to this node (their patients' home node).
func (m *Module) ingest(ctx context.Context, c index.Caller, readings []monitor.Reading) (monitor.Result, error) {
	st, err := m.monitorStore()
	if err != nil {
		return monitor.Result{}, err
	}
	var patients []string
	for _, r := range readings {
		if !slices.Contains(patients, r.Patient) {
			patients = append(patients, r.Patient)
		}
	}
	if len(patients) > 100 {
		return monitor.Result{}, httpapi.E(httpapi.ErrInvalid, "a batch holds the readings of at most 100 patients")
	}
	for _, id := range patients {
		if _, err := m.atHome(ctx, c, index.ActSendReadings, id, false, "Observation.create"); err != nil {
			return monitor.Result{}, err
		}
	}
	res, err := st.Ingest(readings)
	if err != nil {
		return res, monitorError(err, "Patient")
	}
	if len(res.Alerts) > 0 {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	for _, id := range patients {
		if err := m.d.Audit.Record(ctx, visitEvent(c, "Observation.create", index.ActionCreate, id, index.OutcomeSuccess)); err != nil {
			return res, httpapi.Wrap(httpapi.ErrUnavailable, "the readings are stored but their audit failed; resending them is safe", err)
		}
	}
	return res, nil
}

// provideReadings reads a patient's series of one parameter, or (Op
// opDaily) its daily aggregates, at the patient's home node.
func (m *Module) provideReadings(ctx context.Context, c index.Caller, req Request) (Response, error) {
	st, err := m.monitorStore()
	if err != nil {
		return Response{}, err
	}
	// The policy first: who may not read learns nothing of the plan.
	plan, err := st.PlanOf(req.Patient)
	if err != nil && !errors.Is(err, monitor.ErrNoPlan) {
		return Response{}, monitorError(err, "Patient")
	}
	if plan.Patient == "" {
		plan.Patient = req.Patient
	}
	if err := m.monitoringReadable(ctx, c, plan, "Patient"); err != nil {
		return Response{}, err
	}
	if plan.ID == "" {
		return Response{}, httpapi.E(httpapi.ErrNotFound, "the patient has no active telemonitoring plan")
	}
	if _, ok := monitor.Vitals[monitor.Canonical(req.Code)]; !ok {
		return Response{}, httpapi.E(httpapi.ErrInvalid, "code "+req.Code+" is not a telemonitored parameter")
	}
	code := monitor.Canonical(req.Code)
	var resp Response
	if req.Op == opDaily {
		resp.Days, err = st.Daily(plan.Patient, code, req.From, req.To)
	} else {
		resp.Readings, resp.Next, err = st.Series(plan.Patient, code, monitor.Cursor{Time: req.From, Device: req.Device}, req.To, req.Count)
	}
	if err != nil {
		return Response{}, monitorError(err, "Patient")
	}
	resp.Monitoring = &plan
	return resp, m.audited(ctx, c, "Observation.read", index.ActionRead, plan.Patient, nil)
}

// monitorError maps the store's errors; what is absent is "no such
// <what>", as what is hidden is.
func monitorError(err error, what string) error {
	var inv *monitor.InvalidReading
	switch {
	case errors.As(err, &inv), errors.Is(err, monitor.ErrInvalid):
		return httpapi.E(httpapi.ErrInvalid, err.Error())
	case errors.Is(err, monitor.ErrNoPlan):
		return httpapi.E(httpapi.ErrNotFound, "the patient has no active telemonitoring plan")
	case errors.Is(err, monitor.ErrNotFound):
		return httpapi.E(httpapi.ErrNotFound, "no such "+what)
	case errors.Is(err, monitor.ErrState):
		return httpapi.E(httpapi.ErrConflict, err.Error())
	}
	if code := httpapi.StatusOf(err).Code; code >= 400 && code < 500 {
		return err
	}
	return httpapi.Wrap(httpapi.ErrUnavailable, "the telemonitoring store could not be read or written; retry", err)
}

// measuredEvery is how often a template's plans measure: its most
// frequent activity's pace (0 when none states one).
func measuredEvery(t catalog.Template) time.Duration {
	var every time.Duration
	for _, a := range t.Activities {
		if d := time.Duration(a.EveryDays) * 24 * time.Hour; d > 0 && (every == 0 || d < every) {
			every = d
		}
	}
	return every
}
