package telemed

import (
	"context"
	"errors"
	"time"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/monitor"
	"github.com/fsenet/fsenet/telemed/tmdoc"
)

// A plan's kit and documents, at the patient's home node: devices are
// registered there when the kit is delivered, and the Piano, the
// Tesserino dispositivi, the Report rilevazione and the Relazione finale
// are made there (telemed/tmdoc) for the region's producer to sign and
// publish through the region's gateway. Managing a plan is what starting
// it is: a treating clinician of the patient's home region.

// maxReportPeriod bounds a Report rilevazione's period.
const maxReportPeriod = 366 * 24 * time.Hour

// managedPlan reads a plan kept here that the caller manages; who may not
// learns nothing of it, and a refusal about a registered patient is in
// their log.
func (m *Module) managedPlan(ctx context.Context, c index.Caller, id, what string) (monitor.Plan, *index.Patient, error) {
	st, err := m.monitorStore()
	if err != nil {
		return monitor.Plan{}, nil, err
	}
	plan, err := st.Plan(id)
	if err != nil {
		return plan, nil, monitorError(err, "CarePlan")
	}
	p, err := m.registered(ctx, plan.Patient)
	if err != nil {
		return plan, nil, err
	}
	refused := index.Authorize(c, index.ActEnrolMonitoring, index.Target{Region: m.cfg.Region, Patient: p, Usable: true}).Err("CarePlan")
	if refused == nil && plan.MovedTo != "" {
		refused = httpapi.E(httpapi.ErrNotFound, "no such CarePlan")
	}
	if refused != nil && p != nil {
		return plan, nil, m.audited(ctx, c, what, index.ActionUpdate, p.ID, refused)
	}
	return plan, p, refused
}

// provideDevice registers a device of a plan's kit, delivered now.
func (m *Module) provideDevice(ctx context.Context, c index.Caller, req Request) (Response, error) {
	if req.Kit == nil {
		return Response{}, httpapi.E(httpapi.ErrInvalid, "the device is required")
	}
	plan, p, err := m.managedPlan(ctx, c, req.Plan, "Device.create")
	if err != nil {
		return Response{}, err
	}
	d := *req.Kit
	d.By, d.Delivered = c.Subject, time.Now().UTC()
	out, dup, err := m.monitor.RegisterDevice(plan.ID, d)
	if err := m.audited(ctx, c, "Device.create", index.ActionCreate, p.ID, err); err != nil {
		return Response{}, monitorError(err, "CarePlan")
	}
	return Response{Monitoring: &out, Duplicate: dup}, nil
}

// provideDocument makes one of a plan's documents.
func (m *Module) provideDocument(ctx context.Context, c index.Caller, req Request) (Response, error) {
	plan, p, err := m.managedPlan(ctx, c, req.Plan, "CarePlan.document")
	if err != nil {
		return Response{}, err
	}
	doc, err := m.document(ctx, c, tmdoc.Kind(req.DocumentKind), plan, *p, req.From, req.To)
	if err != nil {
		return Response{}, err
	}
	return Response{Monitoring: &plan, Document: doc}, nil
}

// provideClose closes a plan and answers its Relazione finale; closing a
// closed plan answers the document of its closure.
func (m *Module) provideClose(ctx context.Context, c index.Caller, req Request) (Response, error) {
	plan, p, err := m.managedPlan(ctx, c, req.Plan, "CarePlan.monitoring.close")
	if err != nil {
		return Response{}, err
	}
	closed, dup, err := m.monitor.ClosePlan(plan.ID, monitor.Closure{At: time.Now().UTC(), By: c.Subject, Text: req.Text})
	if err := m.audited(ctx, c, "CarePlan.monitoring.close", index.ActionUpdate, p.ID, err); err != nil {
		return Response{}, monitorError(err, "CarePlan")
	}
	doc, err := m.document(ctx, c, tmdoc.Relazione, closed, *p, time.Time{}, time.Time{})
	if err != nil {
		return Response{}, err
	}
	return Response{Monitoring: &closed, Document: doc, Duplicate: dup}, nil
}

// document makes a document of a plan at its moment, and audits the
// reading of the plan's data it took.
func (m *Module) document(ctx context.Context, c index.Caller, kind tmdoc.Kind, plan monitor.Plan, p index.Patient, from, to time.Time) ([]byte, error) {
	in := tmdoc.Input{Plan: plan, Patient: p, Author: tmdoc.Author{CF: c.Subject, Region: c.Region, Organization: c.Organization}}
	switch kind {
	case tmdoc.Piano:
		in.At = plan.Start
	case tmdoc.Tesserino:
		for _, d := range plan.Kit {
			if d.Delivered.After(in.At) {
				in.At = d.Delivered
			}
		}
	case tmdoc.Report:
		now := time.Now()
		switch {
		case from.IsZero() || to.IsZero() || !from.Before(to):
			return nil, httpapi.E(httpapi.ErrInvalid, "a report's period needs a start before its end")
		case to.After(now):
			return nil, httpapi.E(httpapi.ErrInvalid, "a report's period ends in the past: its end is a moment already measured")
		case to.Sub(from) > maxReportPeriod:
			return nil, httpapi.E(httpapi.ErrInvalid, "a report covers at most a year")
		}
		in.From, in.At = from, to
	case tmdoc.Relazione:
		in.At = plan.Start // not closed: Build says so
		if plan.Closed != nil {
			in.From, in.At = plan.Start, plan.Closed.At
		}
	default:
		return nil, httpapi.E(httpapi.ErrInvalid, "unknown document "+string(kind)+": want piano, tesserino, report or relazione")
	}
	if kind == tmdoc.Report || kind == tmdoc.Relazione && plan.Closed != nil {
		var err error
		if in.Summaries, err = m.summaries(plan, in.From, in.At); err != nil {
			return nil, monitorError(err, "CarePlan")
		}
	}
	if kind == tmdoc.Tesserino && in.At.IsZero() {
		in.At = plan.Start // no device yet: Build says so
	}
	doc, err := tmdoc.Build(kind, in)
	switch {
	case errors.Is(err, tmdoc.ErrNotReady):
		return nil, httpapi.E(httpapi.ErrConflict, "the "+string(kind)+" of plan "+plan.ID+" cannot be made yet: "+err.Error())
	case err != nil:
		return nil, httpapi.Wrap(httpapi.ErrUnavailable, "the document could not be made", err)
	}
	return doc, m.audited(ctx, c, "CarePlan.document."+string(kind), index.ActionRead, p.ID, nil)
}

// summaries are a plan's parameters over [from, to).
func (m *Module) summaries(plan monitor.Plan, from, to time.Time) ([]tmdoc.Summary, error) {
	var out []tmdoc.Summary
	start, end := from, to
	if first := plan.Start.Add(-monitor.EarlyReadings); first.After(start) {
		start = first // the plan's readings only
	}
	if plan.Closed != nil && plan.Closed.At.Before(end) {
		end = plan.Closed.At
	}
	span := end.Sub(start)
	for _, code := range monitor.Codes {
		t, ok := plan.Thresholds[code]
		if !ok {
			continue
		}
		var st monitor.Stats
		if end.After(start) { // the plan's own readings only
			var err error
			if st, err = m.monitor.Summarize(plan.Patient, code, start, end, t); err != nil {
				return nil, err
			}
		}
		s := tmdoc.Summary{Code: code, Readings: st.Count, Min: st.Min, Max: st.Max, Breaches: st.Breaches,
			DaysActive: st.Days, FirstMean: st.FirstDay, LastMean: st.LastDay}
		if st.Count > 0 {
			s.Mean = st.Sum / float64(st.Count)
		}
		if plan.Every >= 24*time.Hour && span > 0 {
			s.Expected = max(1, int(span/plan.Every)) // days (slots of the pace) that want a reading
		}
		out = append(out, s)
	}
	return out, nil
}
