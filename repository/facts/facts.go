// Package facts is the shape of the structured clinical data a region
// derives from its own documents: the FHIR resources extracted from a
// document version (Fact), what the document says of its patient that
// population questions group by (Subject), and the coarse row each fact
// becomes for those questions (Row). Facts stay in the store of the
// region that keeps the document; only answers to a caller the access
// policy allows, and suppressed aggregates, leave it.
package facts

import (
	"encoding/json"
	"time"
)

// Code systems the extraction names (FHIR URIs of the CDA OIDs).
const (
	SystemLOINC   = "http://loinc.org"
	SystemSNOMED  = "http://snomed.info/sct"
	SystemICD9CM  = "http://hl7.org/fhir/sid/icd-9-cm"
	SystemATC     = "http://www.whocc.no/atc"
	SystemAIC     = "urn:oid:2.16.840.1.113883.2.9.6.1.5"
	SystemUCUM    = "http://unitsofmeasure.org"
	SystemISTAT   = "urn:oid:2.16.840.1.113883.2.9.4.2.2" // ISTAT municipalities
	SystemRegions = "urn:fsenet:region"
)

// Resource types the extraction produces.
const (
	Observation         = "Observation"
	DiagnosticReport    = "DiagnosticReport"
	Condition           = "Condition"
	AllergyIntolerance  = "AllergyIntolerance"
	MedicationStatement = "MedicationStatement"
	MedicationRequest   = "MedicationRequest"
	Immunization        = "Immunization"
	Procedure           = "Procedure"
	// DocumentReference stands for the document itself in population
	// questions (one row per document version: its type, date and
	// facility); it is never stored as a fact.
	DocumentReference = "DocumentReference"
)

// Types lists the resource types facts are searched by, in the order the
// patient summary presents them.
var Types = []string{Condition, AllergyIntolerance, MedicationStatement, MedicationRequest, Immunization, Observation, DiagnosticReport, Procedure}

// Coding is one code of a concept.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Quantity is a measured value with its unit (UCUM when the document
// gives one).
type Quantity struct {
	Value      float64 `json:"value"`
	Unit       string  `json:"unit,omitempty"`
	Comparator string  `json:"comparator,omitempty"` // <, <=, >=, >
}

// Fact is one FHIR resource extracted from a document version, with the
// fields searches and questions filter on pulled out of it.
type Fact struct {
	// Seq orders the document's facts; with the document id it names the
	// fact (stable across re-extractions of the same content).
	Seq  int    `json:"seq"`
	Type string `json:"type"` // a FHIR resource type, one of Types
	// Category is the resource's category code (laboratory, vital-signs,
	// problem-list-item, ...), "" when it has none.
	Category string `json:"category,omitempty"`
	// Code is the concept, most specific first; Code[0] is the one
	// questions count by. Never empty.
	Code []Coding `json:"code"`
	// Status is the resource's status as the mapping gives it (final,
	// active, completed, ...).
	Status string `json:"status,omitempty"`
	// Effective is when the fact holds (observation time, onset,
	// administration, start of a therapy), as the FHIR dateTime the
	// document gives (precision kept); End, the end of its period.
	Effective string    `json:"effective,omitempty"`
	End       string    `json:"end,omitempty"`
	Value     *Quantity `json:"value,omitempty"`
	ValueCode *Coding   `json:"value_code,omitempty"`
	// Resource is the FHIR R4 resource (JSON) without id, subject or
	// patient, meta and links to the document: the store adds those when
	// it serves the fact.
	Resource json.RawMessage `json:"resource"`
}

// Subject is what a document says of its patient that questions group
// by: never a name or an identifier.
type Subject struct {
	BirthDate string `json:"birth_date,omitempty"` // YYYY-MM-DD, or YYYY-MM, YYYY
	Gender    string `json:"gender,omitempty"`     // male, female, other, unknown
	// Province is the sigla of the patient's province of residence (the
	// recordTarget's home address county), "" when not given.
	Province string `json:"province,omitempty"`
}

// Extraction is what one document version yields.
type Extraction struct {
	Subject Subject `json:"subject"`
	Facts   []Fact  `json:"facts"`
	// Skipped counts the entries the document holds that the extraction
	// did not understand (no code, no value where one is required, a
	// shape it does not know). They are counted, never guessed at.
	Skipped int `json:"skipped,omitempty"`
}

// Row is a fact (or a document) as population questions see it: coarse
// attributes only, never an identity. Patient is a pseudonym local to the
// region that computes the answer; it never leaves that region.
type Row struct {
	Resource string    // a FHIR resource type, or DocumentReference
	System   string    // of Code
	Code     string    // the concept counted (Fact.Code[0], or the document's LOINC type)
	Date     time.Time // the fact's day (UTC midnight); zero when unknown
	Value    float64
	HasValue bool
	Unit     string
	Status   string
	Patient  uint64 // region-local pseudonym
	Age      int    // age in whole years on Date; -1 unknown
	Gender   string // male, female, other, unknown, ""
	Province string // sigla, "" unknown
	Facility string // the author organisation's code (structure or ASL), "" unknown
	Region   string // the custodian region's code
}

// Rome is Italy's time zone: a fact's day (Row.Date) and a search's
// dates without a zone are Italian calendar days.
var Rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}()
