// Package tmdoc makes the four documents of a telemonitoring plan as HL7
// Italia's telemonitoring guide (hl7-it/telemonitoraggio) shapes them —
// FHIR document Bundles whose first entry is the Composition — for the
// region's producer to sign and publish through its gateway (IHE MHD
// ITI-65):
//
//   - Piano di telemonitoraggio, at activation (Composition 53576-5,
//     section 18776-5 with the plan; the thresholds as
//     ObservationDefinition.qualifiedInterval.range);
//   - Tesserino dispositivi, at kit delivery (Composition 75496-0 as the
//     guide's example, section 104972-5 with a DeviceUseStatement per
//     device);
//   - Report rilevazione, for a period (Composition 64296-7, section
//     18776-5 with a completed CarePlan whose activities' outcomes are
//     the period's summary per parameter: trend, breaches, adherence);
//   - Relazione finale, at closure (Composition 53576-5, sections 18776-5
//     and 55110-1 with the closing text).
//
// Every document is signed off by its author (attester mode legal, the
// guide's legalAuthenticator). A document is a function of the plan and
// its stated moment (activation, delivery, the period's end, closure), so
// asking for it twice gives the same bytes.
package tmdoc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// Kind is one of the four documents.
type Kind string

// The documents of a plan.
const (
	Piano     Kind = "piano"
	Tesserino Kind = "tesserino"
	Report    Kind = "report"
	Relazione Kind = "relazione"
)

// Kinds lists the documents.
var Kinds = []Kind{Piano, Tesserino, Report, Relazione}

// Codes of the documents and sections (LOINC).
const (
	TypePiano        = "53576-5" // Personal health monitoring report Document (the guide's Piano example)
	TypeTesserino    = "75496-0" // Telehealth Note (the guide's Tesserino example)
	TypeReport       = "64296-7" // Personal health monitoring report Automated
	TypeRelazione    = "53576-5"
	SectionPlan      = "18776-5" // pianoDiCura
	SectionDevices   = "104972-5"
	SectionConclude  = "55110-1" // conclusioni
	SystemLOINC      = "http://loinc.org"
	SystemCF         = "http://hl7.it/sid/codiceFiscale"
	SystemPlanKind   = "http://hl7.it/fhir/telemonitoraggio/CodeSystem/csTipologiaPiano"
	SystemStatistics = "urn:fsenet:telemonitoraggio:statistica" // the summary's components
)

// Titles are the Compositions' titles (the guide fixes the Piano's and
// the Relazione's).
var Titles = map[Kind]string{
	Piano:     "Piano di Telemonitoraggio",
	Tesserino: "Tesserino dispositivi di telemonitoraggio",
	Report:    "Report rilevazione di telemonitoraggio",
	Relazione: "Relazione Finale di Telemonitoraggio",
}

// Types are the Compositions' LOINC types.
var Types = map[Kind]string{Piano: TypePiano, Tesserino: TypeTesserino, Report: TypeReport, Relazione: TypeRelazione}

// Author is the clinician who signs a document off, in their region.
type Author struct {
	CF           string // codice fiscale
	Region       string
	Organization string // the organisation's id, when the token names one
}

// Summary is one parameter over a report's period.
type Summary struct {
	Code       string  `json:"code"`
	Readings   int     `json:"readings"`
	Min        float64 `json:"min"`
	Max        float64 `json:"max"`
	Mean       float64 `json:"mean"`
	Breaches   int     `json:"breaches"`  // readings beyond the plan's thresholds
	Expected   int     `json:"expected"`  // slots of the plan's pace in the period, each wanting a reading (0: no pace)
	FirstMean  float64 `json:"first_day"` // the mean of the first day with readings
	LastMean   float64 `json:"last_day"`  // and of the last: the trend
	DaysActive int     `json:"days"`      // days with at least one reading
}

// Adherence is the share of the pace's slots that have a reading (days
// with readings over the days the pace wants one); ok is false when the
// plan sets no pace.
func (s Summary) Adherence() (share float64, ok bool) {
	if s.Expected <= 0 {
		return 0, false
	}
	return math.Min(1, float64(s.DaysActive)/float64(s.Expected)), true
}

// Input is what every document is made of.
type Input struct {
	Plan    monitor.Plan
	Patient index.Patient
	Author  Author
	// At is the document's moment: the plan's activation, the kit's
	// delivery, the period's end, the closure.
	At time.Time
	// From is a report's period start (At its end).
	From time.Time
	// Summaries are a report's or a final report's per-parameter figures.
	Summaries []Summary
}

// ErrNotReady says a document cannot be made yet (no device delivered,
// plan not closed).
var ErrNotReady = errors.New("not ready")

// Build makes a document of a plan.
func Build(kind Kind, in Input) ([]byte, error) {
	if in.Patient.ID == "" || in.Author.CF == "" || in.At.IsZero() {
		return nil, errors.New("tmdoc: a document needs its patient, its author and its moment")
	}
	d := newDoc(kind, in)
	switch kind {
	case Piano:
		d.piano()
	case Tesserino:
		if len(in.Plan.Kit) == 0 {
			return nil, fmt.Errorf("%w: no device of the plan has been delivered", ErrNotReady)
		}
		d.tesserino()
	case Report:
		if !in.From.Before(in.At) {
			return nil, errors.New("tmdoc: a report's period must start before it ends")
		}
		d.report()
	case Relazione:
		if in.Plan.Closed == nil {
			return nil, fmt.Errorf("%w: the plan is not closed", ErrNotReady)
		}
		d.relazione()
	default:
		return nil, fmt.Errorf("tmdoc: unknown document %q", kind)
	}
	return d.bundle()
}

// doc is a document being made.
type doc struct {
	kind    Kind
	in      Input
	seed    string
	comp    fhir.Composition
	entries []fhir.BundleEntry
	err     error
	patient string // fullUrl of the Patient
	role    string // of the author's PractitionerRole
}

func newDoc(kind Kind, in Input) *doc {
	d := &doc{kind: kind, in: in}
	d.seed = strings.Join([]string{string(kind), in.Plan.ID, in.At.UTC().Format(time.RFC3339Nano), in.From.UTC().Format(time.RFC3339Nano), in.Author.CF}, "\x00")
	d.patient = d.url("Patient")
	d.role = d.url("PractitionerRole")
	at := stamp(in.At)
	d.comp = fhir.Composition{
		Identifier: &fhir.Identifier{System: fhirres.Ptr("urn:ietf:rfc:3986"), Value: fhirres.Ptr(d.url("Composition"))},
		Status:     fhir.CompositionStatusFinal,
		Type:       fhirres.Coding(SystemLOINC, Types[kind], ""),
		Subject:    &fhir.Reference{Reference: fhirres.Ptr(d.patient)},
		Date:       at,
		Author:     []fhir.Reference{{Reference: fhirres.Ptr(d.role)}},
		Title:      Titles[kind],
		Attester:   []fhir.CompositionAttester{{Mode: fhir.CompositionAttestationModeLegal, Time: fhirres.Ptr(at), Party: &fhir.Reference{Reference: fhirres.Ptr(d.role)}}},
	}
	pt := fhirres.Patient(in.Patient)
	pt.Id, pt.Meta = nil, nil
	d.add(d.patient, pt)
	practitioner := d.url("Practitioner")
	d.add(d.role, fhir.PractitionerRole{Practitioner: &fhir.Reference{Reference: fhirres.Ptr(practitioner)},
		Organization: organization(in.Author)})
	d.add(practitioner, fhir.Practitioner{Identifier: []fhir.Identifier{{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(in.Author.CF)}}})
	return d
}

func organization(a Author) *fhir.Reference {
	if a.Organization == "" {
		return &fhir.Reference{Display: fhirres.Ptr("Regione " + a.Region)}
	}
	return &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr("urn:fsenet:organization:" + a.Region), Value: fhirres.Ptr(a.Organization)}}
}

// url is a stable urn:uuid for one resource of the document.
func (d *doc) url(name string) string {
	h := sha256.Sum256([]byte(d.seed + "\x00" + name))
	h[6] = h[6]&0x0f | 0x50 // name-based
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return "urn:uuid:" + x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func (d *doc) add(fullURL string, resource any) {
	b, err := json.Marshal(resource)
	if err != nil && d.err == nil {
		d.err = err
	}
	d.entries = append(d.entries, fhir.BundleEntry{FullUrl: fhirres.Ptr(fullURL), Resource: b})
}

func (d *doc) section(code, title, text string, entries ...string) {
	s := fhir.CompositionSection{Title: fhirres.Ptr(title), Code: ptrCC(fhirres.Coding(SystemLOINC, code, "")),
		Text: &fhir.Narrative{Status: fhir.NarrativeStatusGenerated, Div: div(text)}}
	for _, e := range entries {
		s.Entry = append(s.Entry, fhir.Reference{Reference: fhirres.Ptr(e)})
	}
	d.comp.Section = append(d.comp.Section, s)
}

func (d *doc) bundle() ([]byte, error) {
	comp, err := json.Marshal(d.comp)
	if err != nil {
		return nil, err
	}
	if d.err != nil {
		return nil, d.err
	}
	b := fhir.Bundle{Type: fhir.BundleTypeDocument, Timestamp: fhirres.Ptr(stamp(d.in.At)),
		Entry: append([]fhir.BundleEntry{{FullUrl: d.comp.Identifier.Value, Resource: comp}}, d.entries...)}
	// The Bundle's identifier names its content: the same document asked
	// again is the same Bundle; anything changed (a late reading, the
	// registry's name of the patient) makes another.
	content, err := json.Marshal(b.Entry)
	if err != nil {
		return nil, err
	}
	d.seed = string(content)
	b.Identifier = &fhir.Identifier{System: fhirres.Ptr("urn:ietf:rfc:3986"), Value: fhirres.Ptr(d.url("Bundle"))}
	return json.Marshal(b)
}

// piano: the plan as activated, with its thresholds and care team.
func (d *doc) piano() {
	p := d.in.Plan
	plan, team := d.url("CarePlan"), d.url("CareTeam")
	cp := d.carePlan(fhir.RequestStatusActive, fhir.CarePlanActivityStatusScheduled)
	cp.CareTeam = []fhir.Reference{{Reference: fhirres.Ptr(team)}}
	var lines []string
	for _, code := range codes(p) {
		t, v := p.Thresholds[code], monitor.Vitals[code]
		od := d.url("ObservationDefinition/" + code)
		cp.SupportingInfo = append(cp.SupportingInfo, fhir.Reference{Reference: fhirres.Ptr(od)})
		d.add(od, observationDefinition(code, t))
		lines = append(lines, fmt.Sprintf("%s: soglie %s, %s", v.Display, bounds(t, v.Unit), sustained(t)))
	}
	d.add(plan, cp)
	ct := fhir.CareTeam{Status: fhirres.Ptr(fhir.CareTeamStatusActive), Subject: &fhir.Reference{Reference: fhirres.Ptr(d.patient)},
		ManagingOrganization: []fhir.Reference{{Display: fhirres.Ptr("Regione " + p.Team.Region)}}}
	for _, m := range p.Team.Members {
		ct.Participant = append(ct.Participant, fhir.CareTeamParticipant{Member: &fhir.Reference{
			Identifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(m)}}})
	}
	d.add(team, ct)
	text := fmt.Sprintf("Piano di telemonitoraggio (tipo %s) attivato il %s. Dispositivi: %s. %s.", tipo(p.Tipo),
		day(p.Start), strings.Join(p.Devices, ", "), strings.Join(lines, "; "))
	if p.Every > 0 {
		text += fmt.Sprintf(" Frequenza delle rilevazioni: ogni %s.", pace(p.Every))
	}
	d.section(SectionPlan, "Piano di cura", text, plan)
}

// tesserino: the devices delivered and bound to the patient.
func (d *doc) tesserino() {
	var statements, lines []string
	for _, k := range d.in.Plan.Kit {
		dev, dus := d.url("Device/"+k.ID), d.url("DeviceUseStatement/"+k.ID)
		d.add(dev, device(k))
		status := fhir.DeviceUseStatementStatusActive
		if d.in.Plan.Closed != nil {
			status = fhir.DeviceUseStatementStatusCompleted
		}
		d.add(dus, fhir.DeviceUseStatement{Status: status,
			Subject: fhir.Reference{Reference: fhirres.Ptr(d.patient)}, Device: fhir.Reference{Reference: fhirres.Ptr(dev)},
			TimingPeriod: &fhir.Period{Start: fhirres.Ptr(stamp(k.Delivered))}, RecordedOn: fhirres.Ptr(stamp(k.Delivered))})
		statements = append(statements, dus)
		name := k.Name
		if name == "" {
			name = k.ID
		}
		lines = append(lines, fmt.Sprintf("%s (UDI %s), consegnato il %s", name, k.UDI[0].DeviceIdentifier, day(k.Delivered)))
	}
	d.section(SectionDevices, "Informazioni sul dispositivo", strings.Join(lines, "; ")+".", statements...)
}

// report: the period's figures per parameter.
func (d *doc) report() {
	plan := d.url("CarePlan")
	cp := d.summaryPlan(plan)
	d.add(plan, cp)
	d.section(SectionPlan, "Riepilogo del piano e delle rilevazioni del periodo",
		fmt.Sprintf("Rilevazioni dal %s al %s. %s", day(d.in.From), day(d.in.At.Add(-time.Nanosecond)), d.figures()), plan)
}

// relazione: the closure, with the whole plan's figures.
func (d *doc) relazione() {
	c := d.in.Plan.Closed
	plan := d.url("CarePlan")
	d.add(plan, d.summaryPlan(plan))
	d.section(SectionPlan, "Piano di cura", fmt.Sprintf("Piano attivo dal %s al %s. %s", day(d.in.Plan.Start), day(c.At), d.figures()), plan)
	obs := d.url("Observation/conclusioni")
	d.add(obs, fhir.Observation{Status: fhir.ObservationStatusFinal, Code: fhirres.Coding(SystemLOINC, SectionConclude, "Conclusioni"),
		Subject: &fhir.Reference{Reference: fhirres.Ptr(d.patient)}, EffectiveDateTime: fhirres.Ptr(stamp(c.At)), ValueString: fhirres.Ptr(c.Text)})
	d.section(SectionConclude, "Conclusioni", c.Text, obs)
}

// summaryPlan is a completed CarePlan over the period whose activities'
// outcomes are the parameters' summaries.
func (d *doc) summaryPlan(self string) fhir.CarePlan {
	status := fhir.RequestStatusCompleted
	if d.kind == Report && d.in.Plan.Closed == nil {
		status = fhir.RequestStatusActive
	}
	cp := d.carePlan(status, fhir.CarePlanActivityStatusCompleted)
	cp.Period = &fhir.Period{Start: fhirres.Ptr(stamp(d.in.From)), End: fhirres.Ptr(stamp(d.in.At))}
	if d.kind == Relazione {
		cp.Period.Start = fhirres.Ptr(stamp(d.in.Plan.Start))
	}
	cp.Activity = nil
	for _, s := range d.in.Summaries {
		obs := d.url("Observation/" + s.Code)
		d.add(obs, d.summaryObservation(s))
		cp.Activity = append(cp.Activity, fhir.CarePlanActivity{OutcomeReference: []fhir.Reference{{Reference: fhirres.Ptr(obs)}},
			Detail: &fhir.CarePlanActivityDetail{Status: fhir.CarePlanActivityStatusCompleted, Code: ptrCC(fhirres.Coding(SystemLOINC, s.Code, monitor.Vitals[s.Code].Display))}})
	}
	return cp
}

func (d *doc) carePlan(status fhir.RequestStatus, activity fhir.CarePlanActivityStatus) fhir.CarePlan {
	p := d.in.Plan
	cp := fhir.CarePlan{Status: status, Intent: fhir.CarePlanIntentPlan, Title: fhirres.Ptr(Titles[Piano]),
		Identifier: []fhir.Identifier{{System: fhirres.Ptr("urn:fsenet:telemonitoraggio:piano"), Value: fhirres.Ptr(p.ID)}},
		Category:   []fhir.CodeableConcept{fhirres.Coding(SystemPlanKind, "01", "Piano di Telemonitoraggio")},
		Subject:    fhir.Reference{Reference: fhirres.Ptr(d.patient)},
		Author:     &fhir.Reference{Identifier: &fhir.Identifier{System: fhirres.Ptr(SystemCF), Value: fhirres.Ptr(p.Author)}},
		Period:     &fhir.Period{Start: fhirres.Ptr(stamp(p.Start))}}
	if p.Template != "" {
		cp.InstantiatesCanonical = []string{"PlanDefinition/" + p.Template + "|" + strconv.Itoa(p.TemplateVersion)}
	}
	for _, code := range codes(p) {
		detail := &fhir.CarePlanActivityDetail{Status: activity, Code: ptrCC(fhirres.Coding(SystemLOINC, code, monitor.Vitals[code].Display))}
		for _, dev := range p.Devices {
			detail.Performer = append(detail.Performer, fhir.Reference{Display: fhirres.Ptr("Device/" + dev)})
		}
		if p.Every > 0 {
			detail.ScheduledString = fhirres.Ptr("ogni " + pace(p.Every))
		}
		cp.Activity = append(cp.Activity, fhir.CarePlanActivity{Detail: detail})
	}
	return cp
}

func (d *doc) summaryObservation(s Summary) fhir.Observation {
	v := monitor.Vitals[s.Code]
	q := func(x float64) *fhir.Quantity {
		return &fhir.Quantity{Value: jsonNumber(x), Unit: fhirres.Ptr(v.Unit), System: fhirres.Ptr(monitor.SystemUCUM), Code: fhirres.Ptr(v.Unit)}
	}
	stat := func(code, display string) fhir.CodeableConcept {
		return fhirres.Coding(SystemStatistics, code, display)
	}
	o := fhir.Observation{Status: fhir.ObservationStatusFinal, Code: fhirres.Coding(SystemLOINC, s.Code, v.Display),
		Subject:         &fhir.Reference{Reference: fhirres.Ptr(d.patient)},
		EffectivePeriod: &fhir.Period{Start: fhirres.Ptr(stamp(d.in.From)), End: fhirres.Ptr(stamp(d.in.At))},
		Component: []fhir.ObservationComponent{
			{Code: stat("letture", "Letture"), ValueInteger: fhirres.Ptr(s.Readings)},
			{Code: stat("fuori-soglia", "Letture fuori soglia"), ValueInteger: fhirres.Ptr(s.Breaches)},
			{Code: stat("giorni", "Giorni con letture"), ValueInteger: fhirres.Ptr(s.DaysActive)},
		}}
	if share, ok := s.Adherence(); ok {
		o.Component = append(o.Component, fhir.ObservationComponent{Code: stat("aderenza", "Aderenza (%)"),
			ValueQuantity: &fhir.Quantity{Value: jsonNumber(math.Round(share*1000) / 10), Unit: fhirres.Ptr("%"), System: fhirres.Ptr(monitor.SystemUCUM), Code: fhirres.Ptr("%")}})
	}
	if d.kind == Relazione {
		o.EffectivePeriod.Start = fhirres.Ptr(stamp(d.in.Plan.Start))
	}
	if s.Readings > 0 {
		o.ValueQuantity = q(s.Mean)
		o.Component = append(o.Component,
			fhir.ObservationComponent{Code: stat("minimo", "Minimo"), ValueQuantity: q(s.Min)},
			fhir.ObservationComponent{Code: stat("massimo", "Massimo"), ValueQuantity: q(s.Max)},
			fhir.ObservationComponent{Code: stat("primo-giorno", "Media del primo giorno"), ValueQuantity: q(s.FirstMean)},
			fhir.ObservationComponent{Code: stat("ultimo-giorno", "Media dell'ultimo giorno"), ValueQuantity: q(s.LastMean)})
	} else {
		o.DataAbsentReason = ptrCC(fhirres.Coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed", "Not Performed"))
	}
	return o
}

// figures is the summaries as text.
func (d *doc) figures() string {
	var out []string
	for _, s := range d.in.Summaries {
		v := monitor.Vitals[s.Code]
		if s.Readings == 0 {
			out = append(out, v.Display+": nessuna rilevazione")
			continue
		}
		line := fmt.Sprintf("%s: %d letture in %d giorni, media %s %s (min %s, max %s; da %s a %s), %d fuori soglia",
			v.Display, s.Readings, s.DaysActive, num(math.Round(s.Mean*100)/100), v.Unit, num(s.Min), num(s.Max),
			num(math.Round(s.FirstMean*100)/100), num(math.Round(s.LastMean*100)/100), s.Breaches)
		if share, ok := s.Adherence(); ok {
			line += fmt.Sprintf(", aderenza %s%%", num(math.Round(share*1000)/10))
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return "Nessun parametro."
	}
	return strings.Join(out, "; ") + "."
}

func observationDefinition(code string, t monitor.Threshold) fhir.ObservationDefinition {
	v := monitor.Vitals[code]
	r := &fhir.Range{}
	q := func(x *float64) *fhir.Quantity {
		if x == nil {
			return nil
		}
		return &fhir.Quantity{Value: jsonNumber(*x), Unit: fhirres.Ptr(v.Unit), System: fhirres.Ptr(monitor.SystemUCUM), Code: fhirres.Ptr(v.Unit)}
	}
	r.Low, r.High = q(t.Low), q(t.High)
	od := fhir.ObservationDefinition{Code: fhirres.Coding(SystemLOINC, code, v.Display),
		PermittedDataType: []fhir.ObservationDataType{fhir.ObservationDataTypeQuantity}}
	if r.Low != nil || r.High != nil {
		// The range readings are expected in: outside it, the rule of
		// Condition alerts (the guide's shape; "reference" as FHIR names a
		// range that is not itself critical).
		od.QualifiedInterval = []fhir.ObservationDefinitionQualifiedInterval{{Category: fhirres.Ptr(fhir.ObservationRangeCategoryReference), Range: r,
			Condition: fhirres.Ptr(sustained(t))}}
	}
	return od
}

func device(k monitor.Device) fhir.Device {
	dv := fhir.Device{Status: fhirres.Ptr(fhir.FHIRDeviceStatusActive), Manufacturer: opt(k.Manufacturer), SerialNumber: opt(k.Serial), LotNumber: opt(k.Lot)}
	for _, id := range k.Identifiers {
		dv.Identifier = append(dv.Identifier, fhir.Identifier{System: fhirres.Ptr(id.System), Value: fhirres.Ptr(id.Value)})
	}
	for _, u := range k.UDI {
		dv.UdiCarrier = append(dv.UdiCarrier, fhir.DeviceUdiCarrier{DeviceIdentifier: fhirres.Ptr(u.DeviceIdentifier), Issuer: opt(u.Issuer), CarrierHRF: opt(u.CarrierHRF)})
	}
	if k.Name != "" {
		dv.DeviceName = append(dv.DeviceName, fhir.DeviceDeviceName{Name: k.Name, Type: fhir.DeviceNameTypeUserFriendlyName})
	}
	if k.Model != "" {
		dv.DeviceName = append(dv.DeviceName, fhir.DeviceDeviceName{Name: k.Model, Type: fhir.DeviceNameTypeModelName})
	}
	if k.Type != nil {
		dv.Type = ptrCC(fhirres.Coding(k.Type.System, k.Type.Code, k.Type.Display))
	}
	return dv
}

// codes are a plan's parameters in a stable order.
func codes(p monitor.Plan) []string {
	var out []string
	for _, c := range monitor.Codes {
		if _, ok := p.Thresholds[c]; ok {
			out = append(out, c)
		}
	}
	return out
}

func bounds(t monitor.Threshold, unit string) string {
	switch {
	case t.Low != nil && t.High != nil:
		return fmt.Sprintf("%s–%s %s", num(*t.Low), num(*t.High), unit)
	case t.Low != nil:
		return fmt.Sprintf("minimo %s %s", num(*t.Low), unit)
	case t.High != nil:
		return fmt.Sprintf("massimo %s %s", num(*t.High), unit)
	}
	return "nessuna"
}

func sustained(t monitor.Threshold) string {
	n := max(t.Sustained, 1)
	if n == 1 {
		return "allarme alla prima lettura fuori soglia"
	}
	return fmt.Sprintf("allarme dopo %d letture consecutive fuori soglia", n)
}

func tipo(t string) string {
	switch t {
	case "I":
		return "I, revisione periodica"
	case "II":
		return "II, allarmi automatici"
	}
	return t
}

func pace(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n > 1 {
			return fmt.Sprintf("%d giorni", n)
		}
		return "giorno"
	}
	return d.String()
}

var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return l
}()

func stamp(t time.Time) string { return t.In(rome).Format(time.RFC3339) }
func day(t time.Time) string   { return t.In(rome).Format("02/01/2006") }
func num(x float64) string     { return strconv.FormatFloat(x, 'f', -1, 64) }

func jsonNumber(x float64) *json.Number {
	n := json.Number(strconv.FormatFloat(math.Round(x*100)/100, 'f', -1, 64))
	return &n
}

func div(text string) string {
	return `<div xmlns="http://www.w3.org/1999/xhtml"><p>` + html.EscapeString(text) + `</p></div>`
}

func ptrCC(c fhir.CodeableConcept) *fhir.CodeableConcept { return &c }

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
