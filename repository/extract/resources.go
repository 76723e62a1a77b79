package extract

// FHIR R4 resources as the extraction writes them: the clinical content
// only. The store adds id, meta, the subject or patient reference and
// the link to the document version (derivedFrom) when it serves a fact.

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type refRange struct {
	Low  *quantity `json:"low,omitempty"`
	High *quantity `json:"high,omitempty"`
}

type observation struct {
	ResourceType         string     `json:"resourceType"`
	Status               string     `json:"status"`
	Category             []concept  `json:"category,omitempty"`
	Code                 concept    `json:"code"`
	EffectiveDateTime    string     `json:"effectiveDateTime,omitempty"`
	EffectivePeriod      *period    `json:"effectivePeriod,omitempty"`
	ValueQuantity        *quantity  `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *concept   `json:"valueCodeableConcept,omitempty"`
	ValueString          string     `json:"valueString,omitempty"`
	ValueInteger         *int64     `json:"valueInteger,omitempty"`
	ValueBoolean         *bool      `json:"valueBoolean,omitempty"`
	Interpretation       []concept  `json:"interpretation,omitempty"`
	ReferenceRange       []refRange `json:"referenceRange,omitempty"`
}

type diagnosticReport struct {
	ResourceType      string    `json:"resourceType"`
	Status            string    `json:"status"`
	Category          []concept `json:"category,omitempty"`
	Code              concept   `json:"code"`
	EffectiveDateTime string    `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *period   `json:"effectivePeriod,omitempty"`
}

type condition struct {
	ResourceType      string    `json:"resourceType"`
	ClinicalStatus    *concept  `json:"clinicalStatus,omitempty"`
	Category          []concept `json:"category,omitempty"`
	Severity          *concept  `json:"severity,omitempty"`
	Code              concept   `json:"code"`
	OnsetDateTime     string    `json:"onsetDateTime,omitempty"`
	AbatementDateTime string    `json:"abatementDateTime,omitempty"`
}

type reaction struct {
	Manifestation []concept `json:"manifestation"`
	Onset         string    `json:"onset,omitempty"`
	Severity      string    `json:"severity,omitempty"`
}

type allergy struct {
	ResourceType   string     `json:"resourceType"`
	ClinicalStatus *concept   `json:"clinicalStatus,omitempty"`
	Type           string     `json:"type,omitempty"`
	Category       []string   `json:"category,omitempty"`
	Criticality    string     `json:"criticality,omitempty"`
	Code           concept    `json:"code"`
	OnsetDateTime  string     `json:"onsetDateTime,omitempty"`
	LastOccurrence string     `json:"lastOccurrence,omitempty"`
	Reaction       []reaction `json:"reaction,omitempty"`
}

type repeat struct {
	BoundsPeriod *period `json:"boundsPeriod,omitempty"`
}

type timing struct {
	Repeat *repeat `json:"repeat,omitempty"`
}

type doseAndRate struct {
	DoseQuantity *quantity `json:"doseQuantity,omitempty"`
}

type dosage struct {
	Timing      *timing       `json:"timing,omitempty"`
	Route       *concept      `json:"route,omitempty"`
	DoseAndRate []doseAndRate `json:"doseAndRate,omitempty"`
}

type medicationStatement struct {
	ResourceType              string   `json:"resourceType"`
	Status                    string   `json:"status"`
	MedicationCodeableConcept concept  `json:"medicationCodeableConcept"`
	EffectiveDateTime         string   `json:"effectiveDateTime,omitempty"`
	EffectivePeriod           *period  `json:"effectivePeriod,omitempty"`
	Dosage                    []dosage `json:"dosage,omitempty"`
}

type medicationRequest struct {
	ResourceType              string   `json:"resourceType"`
	Status                    string   `json:"status"`
	Intent                    string   `json:"intent"`
	MedicationCodeableConcept concept  `json:"medicationCodeableConcept"`
	DosageInstruction         []dosage `json:"dosageInstruction,omitempty"`
}

type protocol struct {
	DoseNumberPositiveInt int64 `json:"doseNumberPositiveInt,omitempty"`
}

type immunization struct {
	ResourceType       string     `json:"resourceType"`
	Status             string     `json:"status"`
	StatusReason       *concept   `json:"statusReason,omitempty"`
	VaccineCode        concept    `json:"vaccineCode"`
	OccurrenceDateTime string     `json:"occurrenceDateTime"`
	Route              *concept   `json:"route,omitempty"`
	ReasonCode         []concept  `json:"reasonCode,omitempty"`
	ProtocolApplied    []protocol `json:"protocolApplied,omitempty"`
}

type procedure struct {
	ResourceType      string  `json:"resourceType"`
	Status            string  `json:"status"`
	Code              concept `json:"code"`
	PerformedDateTime string  `json:"performedDateTime,omitempty"`
	PerformedPeriod   *period `json:"performedPeriod,omitempty"`
}
