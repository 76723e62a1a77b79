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

// homePatient reads a registered patient whose home is this region; a
// patient of another region is answered naming it.
func (m *Module) homePatient(ctx context.Context, id string) (*index.Patient, error) {
	p, err := m.registered(ctx, id)
	if err != nil || p == nil {
		return p, err
	}
	if p.HomeRegion != m.cfg.Region {
		return p, httpapi.E(httpapi.ErrMisdirected, "the patient's home region is "+p.HomeRegion+": telemonitoring is kept by that region's node")
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
	p, err := m.homePatient(ctx, req.Patient)
	if err != nil {
		return Response{}, err
	}
	if refused := index.Authorize(c, index.ActEnrolMonitoring, index.Target{Region: m.cfg.Region, Patient: p, Usable: usable}).Err("Patient"); refused != nil {
		if p != nil {
			return Response{}, m.audited(ctx, c, "CarePlan.monitoring.create", index.ActionCreate, p.ID, refused)
		}
		return Response{}, refused
	}
	plan := *req.Monitoring
	plan.ID, plan.Patient, plan.Template, plan.TemplateVersion = m.cfg.Region+"-tm-"+newLocalID(), p.ID, t.ID, t.Version
	plan.Author, plan.ClientKey, plan.Start = c.Subject, req.ClientKey, time.Now().UTC()
	plan.Every = measuredEvery(t)
	out, dup, err := st.Enrol(plan)
	if err := m.audited(ctx, c, "CarePlan.monitoring.create", index.ActionCreate, p.ID, err); err != nil {
		return Response{}, monitorError(err)
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
		return Response{}, monitorError(err)
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
	refused := index.Authorize(c, index.ActReadMonitoring, index.Target{Region: m.cfg.Region, Patient: p, Team: plan.Team.Members}).Err(what)
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
		p, err := m.homePatient(ctx, id)
		if err != nil {
			return monitor.Result{}, err
		}
		if err := index.Authorize(c, index.ActSendReadings, index.Target{Region: m.cfg.Region, Patient: p}).Err("Patient"); err != nil {
			return monitor.Result{}, err
		}
	}
	res, err := st.Ingest(readings)
	if err != nil {
		return res, monitorError(err)
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
	plan, err := st.PlanOf(req.Patient)
	if err != nil {
		return Response{}, monitorError(err)
	}
	if err := m.monitoringReadable(ctx, c, plan, "Patient"); err != nil {
		return Response{}, err
	}
	code := monitor.Canonical(req.Code)
	var resp Response
	if req.Op == opDaily {
		resp.Days, err = st.Daily(plan.Patient, code, req.From, req.To)
	} else {
		resp.Readings, resp.Next, err = st.Series(plan.Patient, code, req.From, req.To, req.Count)
	}
	if err != nil {
		return Response{}, monitorError(err)
	}
	resp.Monitoring = &plan
	return resp, m.audited(ctx, c, "Observation.read", index.ActionRead, plan.Patient, nil)
}

// monitorError maps the store's errors.
func monitorError(err error) error {
	var inv *monitor.InvalidReading
	switch {
	case errors.As(err, &inv), errors.Is(err, monitor.ErrInvalid):
		return httpapi.E(httpapi.ErrInvalid, err.Error())
	case errors.Is(err, monitor.ErrNoPlan):
		return httpapi.E(httpapi.ErrNotFound, "the patient has no active telemonitoring plan at this node")
	case errors.Is(err, monitor.ErrNotFound):
		return httpapi.E(httpapi.ErrNotFound, "no such CarePlan")
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
