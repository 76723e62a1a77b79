package fhirapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/node/httpapi"
)

// registerWrites mounts the registry's write operations, for the region
// operators (a SYSADMIN token of the patient's home region) and the
// authority; the patient may change their own consent.
func (a *API) registerWrites(mux Router) {
	mux.HandleFunc("POST /fhir/Patient", a.createPatient)
	mux.HandleFunc("PUT /fhir/Patient/{id}", a.updatePatient)
	mux.HandleFunc("POST /fhir/Patient/$merge", a.mergePatients)
	mux.HandleFunc("POST /fhir/Patient/{id}/$consent", a.setConsent)
}

const maxBody = 64 << 10

func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrInvalid, "the body could not be read", err))
		return nil, false
	}
	return b, true
}

// patientFromResource maps a FHIR Patient to a registry record.
func patientFromResource(b []byte) (index.Patient, string, error) {
	var p index.Patient
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || probe.ResourceType != "Patient" {
		return p, "", errors.New("want a FHIR Patient resource (resourceType Patient)")
	}
	res, err := fhir.UnmarshalPatient(b)
	if err != nil {
		return p, "", errors.New("not a valid FHIR R4 Patient: " + err.Error())
	}
	for _, id := range res.Identifier {
		if id.Value == nil {
			continue
		}
		system := ""
		if id.System != nil {
			system = *id.System
		}
		pid, err := ident.ParseSystem(system, *id.Value)
		if err == nil {
			p.ID = pid.String()
			break
		}
	}
	if p.ID == "" {
		return p, "", errors.New("identifier: want a codice fiscale (" + ident.SystemCF + "), STP or ENI code")
	}
	if len(res.Name) > 0 {
		if res.Name[0].Family != nil {
			p.Family = *res.Name[0].Family
		}
		p.Given = res.Name[0].Given
	}
	if res.Gender != nil {
		p.Gender = res.Gender.Code()
	}
	if res.BirthDate != nil {
		p.BirthDate = *res.BirthDate
	}
	if m := res.ManagingOrganization; m != nil && m.Identifier != nil && m.Identifier.Value != nil {
		p.HomeRegion = *m.Identifier.Value
	}
	deceased := ""
	if res.DeceasedDateTime != nil {
		if deceased, err = deceasedDate(*res.DeceasedDateTime); err != nil {
			return p, "", err
		}
	}
	return p, deceased, nil
}

// deceasedDate is the day the registry records of a FHIR deceasedDateTime:
// a full date, alone or opening a dateTime with its time and zone. A
// partial date (a year, a month) is refused here, before the record is
// written, rather than by the registry after it.
func deceasedDate(v string) (string, error) {
	if _, err := time.Parse(time.DateOnly, v); err == nil {
		return v, nil
	}
	if _, err := time.Parse(time.RFC3339, v); err == nil && len(v) > len(time.DateOnly) {
		return v[:len(time.DateOnly)], nil
	}
	return "", errors.New("deceasedDateTime: want a date (YYYY-MM-DD) or a dateTime with its time zone")
}

// apply replicates a registry write; a refusal is answered as the error
// table says.
func (a *API) apply(w http.ResponseWriter, r *http.Request, cmd consensus.Command, err error) (consensus.Result, bool) {
	if err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrInvalid, err.Error(), err))
		return consensus.Result{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	res, err := a.d.Apply(ctx, cmd)
	if err != nil {
		httpapi.Fail(w, r, err)
		return res, false
	}
	return res, true
}

// may asks the access policy; a refusal is answered. It returns whether
// to go on.
func may(w http.ResponseWriter, r *http.Request, c index.Caller, act index.Action, t index.Target) bool {
	if err := index.Authorize(c, act, t).Err("Patient"); err != nil {
		httpapi.Fail(w, r, err)
		return false
	}
	return true
}

// currentPatient reads a patient's record, strongly (a write decides on it).
func (a *API) currentPatient(w http.ResponseWriter, r *http.Request, id string) (index.Patient, bool, bool) {
	var p index.Patient
	var found bool
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	_, err := a.d.Read(ctx, true, func(rd index.Reader) error {
		var err error
		p, found, err = index.GetPatient(rd, id)
		return err
	})
	if err != nil {
		httpapi.Outcome(w, http.StatusServiceUnavailable, fhir.IssueTypeTransient, "the registry could not be read; retry")
		return p, false, false
	}
	return p, found, true
}

// writePatient registers (create) or updates a patient. The caller's
// right to write the registry at all is checked before the body is read;
// then the write is judged on the record as it is now — its current home
// region, not the one the body names — and replicated on the condition
// that the record has not changed meanwhile.
func (a *API) writePatient(w http.ResponseWriter, r *http.Request, create bool) {
	c, ok := a.caller(w, r)
	if !ok || !may(w, r, c, index.ActWriteRegistry, index.Target{}) {
		return
	}
	b, ok := readJSON(w, r)
	if !ok {
		return
	}
	p, deceased, err := patientFromResource(b)
	if err == nil {
		err = p.Validate()
	}
	if err == nil && !create {
		if id, ok := fhirres.PatientIDOf(r.PathValue("id")); !ok || id != p.ID {
			err = errors.New("the resource's identifier does not match the id in the URL")
		}
	}
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	old, exists, ok := a.currentPatient(w, r, p.ID)
	if !ok {
		return
	}
	var cur *index.Patient
	act := index.ActCreatePatient
	if exists {
		cur = &old
	}
	switch {
	case create && exists:
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrDuplicate, "the patient is already registered; update it with PUT"))
		return
	case !create:
		act = index.ActUpdatePatient
	}
	if !may(w, r, c, act, index.Target{Patient: cur, NewHome: p.HomeRegion}) {
		return
	}
	cmd, err := index.PutPatientIf(p, cur)
	res, ok := a.apply(w, r, cmd, err)
	if !ok {
		return
	}
	if deceased != "" {
		cmd, err := index.SetDeceased(index.Death{Patient: p.ID, Date: deceased})
		if res, ok = a.apply(w, r, cmd, err); !ok {
			return
		}
	}
	var stored index.Patient
	_ = json.Unmarshal(res.Value, &stored)
	action, status := index.ActionUpdate, http.StatusOK
	if create {
		action, status = index.ActionCreate, http.StatusCreated
	}
	if !a.audit(w, r, event(c, "Patient.write", action, p.ID)) {
		return
	}
	w.Header().Set("Location", "Patient/"+fhirres.PatientResourceID(p.ID))
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(fhirres.Patient(stored))
}

func (a *API) createPatient(w http.ResponseWriter, r *http.Request) { a.writePatient(w, r, true) }
func (a *API) updatePatient(w http.ResponseWriter, r *http.Request) { a.writePatient(w, r, false) }

// parameters reads a FHIR Parameters resource into name -> value string
// (valueString, valueBoolean, valueReference.reference).
func parameters(b []byte) (map[string]string, error) {
	var ps struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name           string `json:"name"`
			ValueString    *string
			ValueBoolean   *bool
			ValueReference *struct {
				Reference string `json:"reference"`
			}
		} `json:"parameter"`
	}
	if err := json.Unmarshal(b, &ps); err != nil || ps.ResourceType != "Parameters" {
		return nil, errors.New("want a FHIR Parameters resource")
	}
	out := map[string]string{}
	for _, p := range ps.Parameter {
		switch {
		case p.ValueString != nil:
			out[p.Name] = *p.ValueString
		case p.ValueBoolean != nil:
			out[p.Name] = map[bool]string{true: "true", false: "false"}[*p.ValueBoolean]
		case p.ValueReference != nil:
			out[p.Name] = p.ValueReference.Reference
		}
	}
	return out, nil
}

// mergePatients merges source-patient into target-patient (the parameter
// names of FHIR's $merge): every index entry of the source moves to the
// target in one replicated step.
func (a *API) mergePatients(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok || !may(w, r, c, index.ActWriteRegistry, index.Target{}) {
		return
	}
	b, ok := readJSON(w, r)
	if !ok {
		return
	}
	ps, err := parameters(b)
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, err.Error()))
		return
	}
	src, ok1 := fhirres.PatientIDOf(strings.TrimPrefix(ps["source-patient"], "Patient/"))
	dst, ok2 := fhirres.PatientIDOf(strings.TrimPrefix(ps["target-patient"], "Patient/"))
	if !ok1 || !ok2 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "give source-patient and target-patient as references Patient/CF-..."))
		return
	}
	target, ok := a.existingPatient(w, r, dst, "target")
	if !ok {
		return
	}
	source, ok := a.existingPatient(w, r, src, "source")
	if !ok || !may(w, r, c, index.ActMergePatients, index.Target{Patient: &target, Other: &source}) {
		return
	}
	cmd, err := index.Merge(index.MergeRequest{Survivor: dst, Merged: src, IfSurvivorHome: &target.HomeRegion, IfMergedHome: &source.HomeRegion})
	res, ok := a.apply(w, r, cmd, err)
	if !ok {
		return
	}
	if !a.audit(w, r, event(c, "Patient.merge", index.ActionUpdate, dst), event(c, "Patient.merge", index.ActionUpdate, src)) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(res.Value)
}

// existingPatient reads a registered patient, strongly; an unknown one is
// answered 404 naming its role in the request.
func (a *API) existingPatient(w http.ResponseWriter, r *http.Request, id, role string) (index.Patient, bool) {
	p, found, ok := a.currentPatient(w, r, id)
	if ok && !found {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrNotFound, "no such "+role+" Patient"))
		return p, false
	}
	return p, ok
}

// setConsent records the patient's consent to consultation: by the
// patient, or by an operator of their home region.
func (a *API) setConsent(w http.ResponseWriter, r *http.Request) {
	c, ok := a.caller(w, r)
	if !ok {
		return
	}
	id, valid := fhirres.PatientIDOf(r.PathValue("id"))
	b, ok := readJSON(w, r)
	if !ok {
		return
	}
	ps, err := parameters(b)
	if err != nil || !valid || (ps["given"] != "true" && ps["given"] != "false") {
		httpapi.Outcome(w, http.StatusBadRequest, fhir.IssueTypeInvalid, "want Parameters with given (valueBoolean) for Patient/CF-...")
		return
	}
	p, found, ok := a.currentPatient(w, r, id)
	if !ok {
		return
	}
	var t index.Target
	if found {
		t.Patient = &p
	}
	if !may(w, r, c, index.ActChangeConsent, t) {
		return
	}
	cmd, err := index.SetConsent(index.ConsentChange{Patient: id, Given: ps["given"] == "true"})
	res, ok := a.apply(w, r, cmd, err)
	if !ok {
		return
	}
	if !a.audit(w, r, event(c, "Patient.consent", index.ActionUpdate, id)) {
		return
	}
	var stored index.Patient
	_ = json.Unmarshal(res.Value, &stored)
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(fhirres.Patient(stored))
}
