package synth

import (
	"fmt"
	"slices"
	"time"
)

func init() { registerNational("certificato_VACC", buildCertificatoVACC) }

// vaccRegistryStart is when the regional vaccination registries begin:
// the certificate lists the doses given since; before 2010 they were
// recorded without the product's AIC code.
var (
	vaccRegistryStart = time.Date(2000, 1, 1, 0, 0, 0, 0, vaccRome)
	vaccAICStart      = time.Date(2010, 1, 1, 0, 0, 0, 0, vaccRome)
)

// vaccCertificateDoses is how many of the latest doses the certificate
// lists.
const vaccCertificateDoses = 12

// buildCertificatoVACC makes a Certificato vaccinale: the doses of the
// patient's calendar given since the registry began (at most the latest
// twelve; the oldest with a fever it caused), the latest of them first
// deferred, three weeks before, for a fever, and, from three years of age
// and unless a dose against it was given, the exemption from the
// varicella vaccine for a varicella the patient has had. A newborn's
// certificate holds only the first dose, deferred.
func buildCertificatoVACC(d Document) []byte {
	h := vaccNewHeader(d)
	h.TemplateRoot, h.TemplateExt = "2.16.840.1.113883.2.9.10.1.11.1.2", "1.1"
	h.Code, h.CodeDisplay, h.Title = "82593-5", "Immunization summary report", "Certificato vaccinale"

	cal := vaccCalendar(d.Patient, d.Time.AddDate(30, 0, 0))
	var given []vaccDose
	for _, c := range cal {
		if !c.When.Before(vaccRegistryStart) && c.When.Before(d.Time) {
			given = append(given, c)
		}
	}
	if len(given) > vaccCertificateDoses {
		given = given[len(given)-vaccCertificateDoses:]
	}

	var entries []vaccEntry
	for i, c := range given {
		e := vaccGiven(d, h, "", c, c.When)
		e.UnknownProduct = c.When.Before(vaccAICStart)
		if e.UnknownProduct {
			e.Lot = ""
		}
		if i == 0 {
			e.Note = "Febbre nei due giorni successivi, risolta senza terapia."
			e.Reaction = &vaccTimed{C: vaccFebbre, Low: c.When.Add(6 * time.Hour), High: c.When.Add(54 * time.Hour)}
		}
		entries = append(entries, e)
	}
	late, visit := cal[0], d.Patient.BirthDate.Add(d.Time.Sub(d.Patient.BirthDate)/2)
	if len(given) > 0 {
		late, visit = given[len(given)-1], given[len(given)-1].When.AddDate(0, 0, -21)
	}
	if visit.After(d.Patient.BirthDate) {
		e := vaccGiven(d, h, "", late, visit)
		e.Cancelled, e.Outcome, e.Note = true, "differita", "Vaccinazione differita per malattia febbrile acuta."
		e.Next, e.CoverUntil, e.Risk, e.Condition, e.Lot = time.Time{}, time.Time{}, nil, nil, ""
		e.Reason = &vaccTimed{C: vaccFebbre, Low: visit, High: visit.AddDate(0, 0, 20)}
		entries = append(entries, e)
	}
	if three := d.Patient.BirthDate.AddDate(3, 0, 0); !d.Time.Before(three) && !slices.ContainsFunc(given, func(c vaccDose) bool {
		return slices.Contains(c.V.Diseases, vaccVaricellaD)
	}) {
		when := d.Time.AddDate(0, 0, -400)
		if when.Before(three) {
			when = three
		}
		when = time.Date(when.Year(), when.Month(), when.Day(), 11, 0, 0, 0, vaccRome)
		e := vaccGiven(d, h, "", vaccDose{V: vaccVaricella, When: when}, when)
		e.Cancelled, e.Outcome, e.Note = true, "esonero", "Esonero per immunità da pregressa malattia documentata."
		e.Next, e.CoverUntil, e.Risk, e.Condition, e.Lot = time.Time{}, time.Time{}, nil, nil, ""
		e.Reason = &vaccTimed{C: vaccCode{"IMMUNE", "2.16.840.1.113883.5.8", "HL7 ActReason", "immunity"}}
		e.Immunity = &vaccVaricellaD
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b vaccEntry) int { return a.When.Compare(b.When) })
	for i := range entries {
		entries[i].Ref = fmt.Sprintf("vac%d", i+1)
	}
	return vaccRender("vaccdoc", vaccDoc{
		H: h, SectionTemplate: "2.16.840.1.113883.2.9.10.1.11.3.2", SectionTitle: "Certificato vaccinale",
		Intro: fmt.Sprintf("Si certifica che %s %s, nato/a il %s, codice fiscale %s, risulta sottoposto/a alle vaccinazioni seguenti.",
			d.Patient.Given, d.Patient.Family, d.Patient.BirthDate.Format("02/01/2006"), d.Patient.CF),
		E: entries,
	})
}
