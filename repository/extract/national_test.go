package extract

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/facts"
)

// samples holds the national mapping's input (cda/) and output (fhir/):
// shared test data outside the repository, absent from a user's clone.
const samples = "../../../shared/samples/fse-it"

// fact is a clinical fact as the differential check compares it.
type fact struct {
	Type, System, Code, Value, Effective, Status string
}

func (f fact) String() string {
	return fmt.Sprintf("%s %s|%s value=%q effective=%q status=%q", f.Type, f.System, f.Code, f.Value, f.Effective, f.Status)
}

// systemAliases: code system URIs the national mapping writes that name
// the same codes as fsenet's. The national mapping writes ICD-9-CM codes
// (OIDs 2.16.840.1.113883.6.103/.104) under the FHIR URI of WHO ICD-9;
// fsenet writes the ICD-9-CM URI.
var systemAliases = map[string]string{"http://hl7.org/fhir/sid/icd-9": facts.SystemICD9CM}

// deliberate is a difference between fsenet and the national mapping
// that is meant: a fact on one side (Side) with no equal on the other.
type deliberate struct {
	Doc, Side, Type, Code string
	Reason                string
}

const (
	rNarrative   = "the national mapping turns a section's narrative into an Observation coded with the section (no value, the text as a note): not a clinical fact, fsenet does not derive it"
	rCourse      = "the national mapping emits a problem's clinical course (89261-2, acute/chronic) as an Observation of its own, detached from the problem it qualifies"
	rReason      = "the national mapping emits a procedure's reason (an RSON observation without a value) as an Observation; it is part of the procedure, not a fact of its own"
	rDiagnosis   = "LDO admission and discharge diagnoses: the national mapping keeps an Observation coded 8646-2/8651-2 with the diagnosis as value; fsenet derives the Condition (encounter-diagnosis) coded with the diagnosis itself"
	rComplic     = "the LDO complication is the same problem template (75326-9) the national mapping makes a Condition elsewhere; it makes an Observation here; fsenet derives a Condition every time"
	rAllergyCode = "AllergyIntolerance: the national mapping leaves code empty (LDO, RAD) or puts the allergy/intolerance kind (ALG) there (PSS), the agent only under reaction.substance; fsenet codes it with the agent"
	rAllergyTime = "the national mapping dates the LDO allergy by the concern act (2022-03-01) where it dates the RAD one by the allergy observation; fsenet always takes the observation's onset (2022-03-19)"
	rAdminister  = "a medication given during the stay (substanceAdministration EVN, completed): the national mapping invents a MedicationRequest (and a MedicationAdministration); fsenet derives a MedicationStatement, completed"
	rNarrMed     = "the national mapping makes a MedicationStatement out of the admission therapy section's narrative (no code); fsenet derives no fact without a code"
	rLabStatus   = "report act with statusCode active: the national mapping writes DiagnosticReport status registered (nothing available yet) though a final result is attached; fsenet writes partial"
	rRADReport   = "the RAD report itself: the national mapping writes status registered and no date; a published, signed report is final, and fsenet dates it by the exam (serviceEvent)"
	rRADExam     = "the exam performed (an act coded ICD-9-CM 87.3, active): the national mapping writes an Observation with no value; fsenet derives the Procedure (in-progress, as its statusCode says)"
	rRADComplic  = "the RAD complication's value is a nullFlavor: the national mapping writes an Observation with no value; fsenet derives nothing (counted as skipped)"
	rPlan        = "a planned observation or procedure (moodCode RQO) is not a fact: the national mapping writes a future Observation as final, a planned Procedure as unknown; fsenet derives only planned medications (MedicationRequest)"
	rDevice      = "a device (supply, J010103): the national mapping writes a Procedure with no code; devices are out of fsenet's scope"
	rAlcohol     = "the national mapping recodes the document's 11295-3 as 74013-4; fsenet keeps the code the document gives"
	rPanel       = "the national mapping writes the vital signs organizer as an Observation 8716-3 with no value; fsenet derives its members"
	rLoneVital   = "the height (8302-2) outside the vital signs organizer: the national mapping drops it; fsenet derives it"
	rNormal      = "functional status 8693-4 (statusCode normal): the national mapping drops it; fsenet derives it with status unknown"
)

// deliberateDifferences lists, per sample, every fact on one side that
// has no equal on the other. The check fails on any difference not here,
// and on any entry here that no difference uses.
var deliberateDifferences = []deliberate{
	{"LAB", "national", "DiagnosticReport", "14957-5", rLabStatus},
	{"LAB", "fsenet", "DiagnosticReport", "14957-5", rLabStatus},

	{"LDO", "national", "Observation", "42346-7", rNarrative},
	{"LDO", "national", "Observation", "29545-1", rNarrative},
	{"LDO", "national", "Observation", "11329-0", rNarrative},
	{"LDO", "national", "Observation", "8648-8", rNarrative},
	{"LDO", "national", "Observation", "47039-3", rNarrative},
	{"LDO", "national", "Observation", "11493-4", rNarrative},
	{"LDO", "national", "MedicationStatement", "", rNarrMed},
	{"LDO", "national", "Observation", "89261-2", rCourse},
	{"LDO", "national", "Observation", "396.0", rReason},
	{"LDO", "national", "Observation", "8646-2", rDiagnosis},
	{"LDO", "fsenet", "Condition", "300.01", rDiagnosis},
	{"LDO", "national", "Observation", "8651-2", rDiagnosis},
	{"LDO", "fsenet", "Condition", "428.0", rDiagnosis},
	{"LDO", "national", "Observation", "75326-9", rComplic},
	{"LDO", "fsenet", "Condition", "97835-3", rComplic},
	{"LDO", "national", "AllergyIntolerance", "", rAllergyCode + "; " + rAllergyTime},
	{"LDO", "fsenet", "AllergyIntolerance", "260152009", rAllergyCode + "; " + rAllergyTime},
	{"LDO", "national", "MedicationRequest", "035606033", rAdminister},
	{"LDO", "fsenet", "MedicationStatement", "035606033", rAdminister},

	{"PSS", "national", "Observation", "47420-5", rNarrative},
	{"PSS", "national", "Observation", "42348-3", rNarrative},
	{"PSS", "national", "Observation", "410", rReason},
	{"PSS", "national", "Observation", "89261-2", rCourse},
	{"PSS", "national", "Procedure", "68692-3", rPlan},
	{"PSS", "national", "Observation", "28564-3", rPlan},
	{"PSS", "national", "Procedure", "", rDevice},
	{"PSS", "national", "Observation", "74013-4", rAlcohol},
	{"PSS", "fsenet", "Observation", "11295-3", rAlcohol},
	{"PSS", "national", "AllergyIntolerance", "ALG", rAllergyCode},
	{"PSS", "fsenet", "AllergyIntolerance", "260152009", rAllergyCode},
	{"PSS", "national", "Observation", "8716-3", rPanel},
	{"PSS", "fsenet", "Observation", "8302-2", rLoneVital},
	{"PSS", "fsenet", "Observation", "8693-4", rNormal},

	{"RAD", "national", "Observation", "55110-1", rNarrative},
	{"RAD", "national", "Observation", "48765-2", rNarrative},
	{"RAD", "national", "Observation", "11329-0", rNarrative},
	{"RAD", "national", "Observation", "18783-1", rNarrative},
	{"RAD", "national", "Observation", "55107-7", rNarrative},
	{"RAD", "national", "Observation", "18782-3", rNarrative},
	{"RAD", "national", "Observation", "89261-2", rCourse},
	{"RAD", "national", "Observation", "75326-9", rRADComplic},
	{"RAD", "national", "DiagnosticReport", "68604-8", rRADReport},
	{"RAD", "fsenet", "DiagnosticReport", "68604-8", rRADReport},
	{"RAD", "national", "Observation", "87.3", rRADExam},
	{"RAD", "fsenet", "Procedure", "87.3", rRADExam},
	{"RAD", "national", "AllergyIntolerance", "", rAllergyCode},
	{"RAD", "fsenet", "AllergyIntolerance", "260152009", rAllergyCode},
}

func TestNationalMappingAgreement(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samples, "cda", "*.xml"))
	if len(files) == 0 {
		t.Skipf("the national samples are not at %s", samples)
	}
	used := map[int]bool{}
	var summary []string
	for _, name := range []string{"LAB", "LDO", "PSS", "RAD"} {
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(samples, "cda", name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			bundle, err := os.ReadFile(filepath.Join(samples, "fhir", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			ex, err := CDA(doc)
			if err != nil {
				t.Fatal(err)
			}
			national, patient := nationalFacts(t, bundle)
			if ex.Subject.BirthDate != patient.BirthDate || ex.Subject.Gender != patient.Gender {
				t.Errorf("subject: fsenet %+v, national birthDate %q gender %q", ex.Subject, patient.BirthDate, patient.Gender)
			}
			var ours []fact
			for _, f := range ex.Facts {
				ours = append(ours, tupleOf(t, f.Resource, nil))
			}
			nOnly, oOnly := diff(national, ours)
			explain := func(side string, fs []fact) {
				for _, f := range fs {
					i := slices.IndexFunc(deliberateDifferences, func(d deliberate) bool {
						return d.Doc == name && d.Side == side && d.Type == f.Type && d.Code == f.Code
					})
					if i < 0 {
						t.Errorf("only in %s: %s", side, f)
						continue
					}
					used[i] = true
					t.Logf("only in %s (deliberate): %s", side, f)
				}
			}
			explain("national", nOnly)
			explain("fsenet", oOnly)
			for _, typ := range facts.Types {
				n, o := count(national, typ), count(ours, typ)
				m := n - count(nOnly, typ)
				if n == 0 && o == 0 {
					continue
				}
				summary = append(summary, fmt.Sprintf("| %s | %s | %d | %d | %d |", name, typ, n, o, m))
			}
		})
	}
	for i, d := range deliberateDifferences {
		if !used[i] {
			t.Errorf("deliberate difference no longer seen: %+v", d)
		}
	}
	t.Logf("agreement (document, resource, national, fsenet, matched):\n%s", strings.Join(summary, "\n"))
}

func count(fs []fact, typ string) int {
	n := 0
	for _, f := range fs {
		if f.Type == typ {
			n++
		}
	}
	return n
}

// diff pairs equal facts; what is left on each side is returned.
func diff(national, ours []fact) (nOnly, oOnly []fact) {
	left := slices.Clone(ours)
	for _, n := range national {
		if i := slices.Index(left, n); i >= 0 {
			left = slices.Delete(left, i, i+1)
			continue
		}
		nOnly = append(nOnly, n)
	}
	return nOnly, left
}

type bundlePatient struct {
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
}

// nationalFacts reads the clinical facts of a national Bundle, and its
// one patient.
func nationalFacts(t *testing.T, bundle []byte) ([]fact, bundlePatient) {
	t.Helper()
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		t.Fatal(err)
	}
	medications := map[string]json.RawMessage{}
	var patients []bundlePatient
	for _, e := range b.Entry {
		var r struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(e.Resource, &r); err != nil {
			t.Fatal(err)
		}
		switch r.ResourceType {
		case "Medication":
			medications[e.FullURL] = e.Resource
			medications["Medication/"+r.ID] = e.Resource
		case "Patient":
			var p bundlePatient
			if err := json.Unmarshal(e.Resource, &p); err != nil {
				t.Fatal(err)
			}
			patients = append(patients, p)
		}
	}
	if len(patients) != 1 {
		t.Fatalf("the national Bundle has %d patients, want 1", len(patients))
	}
	var out []fact
	for _, e := range b.Entry {
		var r struct {
			ResourceType string `json:"resourceType"`
		}
		_ = json.Unmarshal(e.Resource, &r)
		if slices.Contains(facts.Types, r.ResourceType) {
			out = append(out, tupleOf(t, e.Resource, medications))
		}
	}
	return out, patients[0]
}

type coded struct {
	Coding []facts.Coding `json:"coding"`
}

func (c *coded) first() facts.Coding {
	if c == nil || len(c.Coding) == 0 {
		return facts.Coding{}
	}
	return c.Coding[0]
}

type span struct {
	Start string `json:"start"`
}

// resource is the union of the fields the comparison reads.
type resource struct {
	ResourceType              string `json:"resourceType"`
	Status                    string `json:"status"`
	ClinicalStatus            *coded `json:"clinicalStatus"`
	Code                      *coded `json:"code"`
	VaccineCode               *coded `json:"vaccineCode"`
	MedicationCodeableConcept *coded `json:"medicationCodeableConcept"`
	MedicationReference       *struct {
		Reference string `json:"reference"`
	} `json:"medicationReference"`
	ValueQuantity *struct {
		Value json.Number `json:"value"`
		Unit  string      `json:"unit"`
	} `json:"valueQuantity"`
	ValueInteger         *json.Number `json:"valueInteger"`
	ValueCodeableConcept *coded       `json:"valueCodeableConcept"`
	ValueString          *string      `json:"valueString"`
	EffectiveDateTime    string       `json:"effectiveDateTime"`
	EffectivePeriod      *span        `json:"effectivePeriod"`
	OnsetDateTime        string       `json:"onsetDateTime"`
	OnsetPeriod          *span        `json:"onsetPeriod"`
	PerformedDateTime    string       `json:"performedDateTime"`
	PerformedPeriod      *span        `json:"performedPeriod"`
	OccurrenceDateTime   string       `json:"occurrenceDateTime"`
	DosageInstruction    []struct {
		Timing *struct {
			Repeat *struct {
				BoundsPeriod *span `json:"boundsPeriod"`
			} `json:"repeat"`
		} `json:"timing"`
	} `json:"dosageInstruction"`
}

func (p *span) start() string {
	if p == nil {
		return ""
	}
	return p.Start
}

// tupleOf reads the compared fields of a FHIR resource (fsenet's or the
// national mapping's; medications resolves a medicationReference).
func tupleOf(t *testing.T, raw json.RawMessage, medications map[string]json.RawMessage) fact {
	t.Helper()
	var r resource
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	f := fact{Type: r.ResourceType, Status: r.Status}
	var code facts.Coding
	switch r.ResourceType {
	case facts.Immunization:
		code = r.VaccineCode.first()
	case facts.MedicationStatement, facts.MedicationRequest:
		code = r.MedicationCodeableConcept.first()
		if r.MedicationReference != nil {
			ref := r.MedicationReference.Reference
			m, ok := medications[ref]
			if !ok {
				if i := strings.Index(ref, "Medication/"); i >= 0 {
					m, ok = medications[ref[i:]]
				}
			}
			if ok {
				var med struct {
					Code *coded `json:"code"`
				}
				_ = json.Unmarshal(m, &med)
				code = med.Code.first()
			}
		}
	default:
		code = r.Code.first()
	}
	f.System, f.Code = code.System, code.Code
	if a, ok := systemAliases[f.System]; ok {
		f.System = a
	}
	switch {
	case r.ValueQuantity != nil:
		v, _ := strconv.ParseFloat(string(r.ValueQuantity.Value), 64)
		f.Value = strings.TrimSpace(fmt.Sprintf("%g %s", v, r.ValueQuantity.Unit))
	case r.ValueInteger != nil:
		f.Value = r.ValueInteger.String()
	case r.ValueCodeableConcept != nil:
		c := r.ValueCodeableConcept.first()
		if a, ok := systemAliases[c.System]; ok {
			c.System = a
		}
		f.Value = c.System + "|" + c.Code
	case r.ValueString != nil:
		f.Value = "string:" + *r.ValueString
	}
	switch r.ResourceType {
	case facts.Observation, facts.DiagnosticReport, facts.MedicationStatement:
		f.Effective = first(r.EffectiveDateTime, r.EffectivePeriod.start())
	case facts.Condition, facts.AllergyIntolerance:
		f.Effective = first(r.OnsetDateTime, r.OnsetPeriod.start())
		f.Status = r.ClinicalStatus.first().Code
	case facts.Procedure:
		f.Effective = first(r.PerformedDateTime, r.PerformedPeriod.start())
	case facts.Immunization:
		f.Effective = r.OccurrenceDateTime
	case facts.MedicationRequest:
		for _, d := range r.DosageInstruction {
			if d.Timing != nil && d.Timing.Repeat != nil && d.Timing.Repeat.BoundsPeriod != nil && f.Effective == "" {
				f.Effective = d.Timing.Repeat.BoundsPeriod.Start
			}
		}
	}
	return f
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
