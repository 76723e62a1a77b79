package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Enumerations of the FSE 2.0 gateway's request bodies (swagger_gtw.yaml).
var (
	healthDataFormats  = []string{"CDA"}
	modes              = []string{"ATTACHMENT", "RESOURCE"}
	activities         = []string{activityVerify, activityValidation}
	tipologieStruttura = []string{"Ospedale", "Prevenzione", "Territorio", "SistemaTS", "Cittadino", "MdsPN_DGC"}
	tipiDocLivAlto     = []string{"WOR", "REF", "LDO", "RIC", "SUM", "TAC", "PRS", "PRE", "ESE", "PDC", "VAC", "CER", "VRB", "CON", "CNT", "CRT", "LET", "PRO", "COL"}
	tipiAttivita       = []string{"PHR", "CON", "DIS", "ERP", "Sistema_TS", "INI", "PN_DGC", "OBS"}
	adminRequests      = []string{"SSN", "INPATIENT", "NOSSN", "SSR", "DONOR", "AUTO"}
	assetti            = []string{
		"AD_PSC001", "AD_PSC002", "AD_PSC003", "AD_PSC004", "AD_PSC005", "AD_PSC006", "AD_PSC007", "AD_PSC008", "AD_PSC009", "AD_PSC010",
		"AD_PSC011", "AD_PSC012", "AD_PSC013", "AD_PSC014", "AD_PSC015", "AD_PSC018", "AD_PSC019", "AD_PSC020", "AD_PSC021", "AD_PSC024",
		"AD_PSC025", "AD_PSC026", "AD_PSC027", "AD_PSC028", "AD_PSC029", "AD_PSC030", "AD_PSC031", "AD_PSC032", "AD_PSC033", "AD_PSC034",
		"AD_PSC035", "AD_PSC036", "AD_PSC037", "AD_PSC038", "AD_PSC039", "AD_PSC040", "AD_PSC041", "AD_PSC042", "AD_PSC043", "AD_PSC046",
		"AD_PSC047", "AD_PSC048", "AD_PSC049", "AD_PSC050", "AD_PSC051", "AD_PSC052", "AD_PSC054", "AD_PSC055", "AD_PSC056", "AD_PSC057",
		"AD_PSC058", "AD_PSC060", "AD_PSC061", "AD_PSC062", "AD_PSC064", "AD_PSC065", "AD_PSC066", "AD_PSC067", "AD_PSC068", "AD_PSC069",
		"AD_PSC070", "AD_PSC071", "AD_PSC072", "AD_PSC073", "AD_PSC074", "AD_PSC075", "AD_PSC076", "AD_PSC077", "AD_PSC078", "AD_PSC094",
		"AD_PSC096", "AD_PSC097", "AD_PSC098", "AD_PSC099", "AD_PSC100", "AD_PSC101", "AD_PSC102", "AD_PSC103", "AD_PSC104", "AD_PSC107",
		"AD_PSC109", "AD_PSC121", "AD_PSC122", "AD_PSC126", "AD_PSC129", "AD_PSC130", "AD_PSC131", "AD_PSC199", "AD_PSC999",
	}
)

// The activities of a validation request: VERIFICA only checks the CDA,
// VALIDATION also records that it passed, for its publication.
const (
	activityVerify     = "VERIFICA"
	activityValidation = "VALIDATION"
)

// maxRequestBody bounds the requestBody part.
const maxRequestBody = 64 << 10

// ValidationRequest is the requestBody of POST /v1/documents/validation.
type ValidationRequest struct {
	HealthDataFormat string `json:"healthDataFormat,omitempty"`
	Mode             string `json:"mode,omitempty"`
	Activity         string `json:"activity"`
}

// Metadata are the index metadata a producer declares: the requestBody of
// a metadata update, and part of a publication's.
type Metadata struct {
	TipologiaStruttura          string   `json:"tipologiaStruttura"`
	AttiCliniciRegoleAccesso    []string `json:"attiCliniciRegoleAccesso,omitempty"`
	TipoDocumentoLivAlto        string   `json:"tipoDocumentoLivAlto"`
	AssettoOrganizzativo        string   `json:"assettoOrganizzativo"`
	DataInizioPrestazione       string   `json:"dataInizioPrestazione,omitempty"`
	DataFinePrestazione         string   `json:"dataFinePrestazione,omitempty"`
	ConservazioneANorma         string   `json:"conservazioneANorma,omitempty"`
	TipoAttivitaClinica         string   `json:"tipoAttivitaClinica"`
	IdentificativoSottomissione string   `json:"identificativoSottomissione"`
	Descriptions                []string `json:"descriptions,omitempty"`
	AdministrativeRequest       []string `json:"administrativeRequest,omitempty"`
}

// PublicationRequest is the requestBody of a publication or a replace.
type PublicationRequest struct {
	Metadata
	IdentificativoDoc  string `json:"identificativoDoc"`
	IdentificativoRep  string `json:"identificativoRep"`
	Mode               string `json:"mode,omitempty"`
	HealthDataFormat   string `json:"healthDataFormat,omitempty"`
	WorkflowInstanceID string `json:"workflowInstanceId,omitempty"`
	Priorita           *bool  `json:"priorita,omitempty"`
}

// FieldError is one invalid field of a request body.
type FieldError struct {
	Field, Reason string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ErrBody wraps every refusal of a request body.
var ErrBody = errors.New("invalid requestBody")

// decodeStrict decodes one JSON object into v: unknown members, trailing
// data and wrong types are refused, as additionalProperties: false says.
func decodeStrict(b []byte, v any) error {
	if len(b) > maxRequestBody {
		return fmt.Errorf("%w: larger than %d bytes", ErrBody, maxRequestBody)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: not the expected JSON object: %v", ErrBody, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the JSON object", ErrBody)
	}
	return nil
}

type checker struct{ errs []error }

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, FieldError{field, fmt.Sprintf(format, args...)})
}

func (c *checker) enum(field, v string, allowed []string, required bool) {
	switch {
	case v == "" && required:
		c.fail(field, "is required")
	case v != "" && !slices.Contains(allowed, v):
		c.fail(field, "%q is not one of the allowed values", v)
	}
}

func (c *checker) text(field, v string, max int, required bool) {
	switch {
	case strings.TrimSpace(v) == "" && required:
		c.fail(field, "is required")
	case len(v) > max:
		c.fail(field, "longer than %d characters", max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		c.fail(field, "contains control characters")
	}
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBody, errors.Join(c.errs...))
}

// DecodeValidation reads and checks a validation requestBody.
func DecodeValidation(b []byte) (ValidationRequest, error) {
	var r ValidationRequest
	if err := decodeStrict(b, &r); err != nil {
		return r, err
	}
	var c checker
	c.enum("activity", r.Activity, activities, true)
	c.enum("healthDataFormat", r.HealthDataFormat, healthDataFormats, false)
	c.enum("mode", r.Mode, modes, false)
	return r, c.err()
}

// DecodeMetadata reads and checks a metadata update's requestBody.
func DecodeMetadata(b []byte) (Metadata, error) {
	var m Metadata
	if err := decodeStrict(b, &m); err != nil {
		return m, err
	}
	var c checker
	m.check(&c)
	return m, c.err()
}

// DecodePublication reads and checks a publication's (or a replace's)
// requestBody.
func DecodePublication(b []byte) (PublicationRequest, error) {
	var r PublicationRequest
	if err := decodeStrict(b, &r); err != nil {
		return r, err
	}
	var c checker
	r.check(&c)
	c.text("identificativoDoc", r.IdentificativoDoc, 256, true)
	c.text("identificativoRep", r.IdentificativoRep, 100, true)
	c.text("workflowInstanceId", r.WorkflowInstanceID, 256, false)
	c.enum("healthDataFormat", r.HealthDataFormat, healthDataFormats, false)
	c.enum("mode", r.Mode, modes, false)
	return r, c.err()
}

// Access rules the index understands among attiCliniciRegoleAccesso.
const maxAccessRules = 16

func (m *Metadata) check(c *checker) {
	c.enum("tipologiaStruttura", m.TipologiaStruttura, tipologieStruttura, true)
	c.enum("tipoDocumentoLivAlto", m.TipoDocumentoLivAlto, tipiDocLivAlto, true)
	c.enum("assettoOrganizzativo", m.AssettoOrganizzativo, assetti, true)
	c.enum("tipoAttivitaClinica", m.TipoAttivitaClinica, tipiAttivita, true)
	c.text("identificativoSottomissione", m.IdentificativoSottomissione, 100, true)
	c.text("conservazioneANorma", m.ConservazioneANorma, 100, false)
	if len(m.AttiCliniciRegoleAccesso) > maxAccessRules {
		c.fail("attiCliniciRegoleAccesso", "at most %d rules", maxAccessRules)
	}
	for _, a := range m.AttiCliniciRegoleAccesso {
		if a == "" || len(a) > 64 || strings.ContainsFunc(a, func(r rune) bool { return r <= 0x20 || r >= 0x7f }) {
			c.fail("attiCliniciRegoleAccesso", "rule %q: want 1 to 64 printable characters", a)
		}
	}
	if slices.Contains(m.AttiCliniciRegoleAccesso, "P99") && slices.Contains(m.AttiCliniciRegoleAccesso, "P00") {
		c.fail("attiCliniciRegoleAccesso", "P99 (hidden) and P00 (not hidden) together")
	}
	if len(m.Descriptions) > 100 {
		c.fail("descriptions", "at most 100")
	}
	for _, d := range m.Descriptions {
		c.text("descriptions", d, 1000, false)
	}
	if len(m.AdministrativeRequest) > 1000 {
		c.fail("administrativeRequest", "at most 1000")
	}
	for _, a := range m.AdministrativeRequest {
		c.enum("administrativeRequest", a, adminRequests, true)
	}
	start, errS := parseDate(m.DataInizioPrestazione)
	if errS != nil {
		c.fail("dataInizioPrestazione", "%v", errS)
	}
	stop, errE := parseDate(m.DataFinePrestazione)
	if errE != nil {
		c.fail("dataFinePrestazione", "%v", errE)
	}
	if errS == nil && errE == nil && !start.IsZero() && !stop.IsZero() && stop.Before(start) {
		c.fail("dataFinePrestazione", "before dataInizioPrestazione")
	}
}

// ServicePeriod returns the declared start and stop of the service.
func (m *Metadata) ServicePeriod() (start, stop time.Time) {
	start, _ = parseDate(m.DataInizioPrestazione)
	stop, _ = parseDate(m.DataFinePrestazione)
	return start, stop
}

// dateLayouts are the forms of dataInizioPrestazione and
// dataFinePrestazione accepted: the gateway's yyyyMMddHHmmss (with or
// without a zone offset), a date, and RFC 3339.
var dateLayouts = []string{"20060102150405-0700", "20060102150405", "20060102", time.RFC3339, time.DateOnly}

func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) > 100 {
		return time.Time{}, errors.New("longer than 100 characters")
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() < 1900 || t.Year() >= 2200 {
				return time.Time{}, fmt.Errorf("%q: want a year between 1900 and 2199", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want yyyyMMddHHmmss, yyyyMMdd or RFC 3339", s)
}
