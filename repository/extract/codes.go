package extract

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/fsenet/fsenet/repository/facts"
)

// OIDs of the code systems CDA documents name.
const (
	oidLOINC   = "2.16.840.1.113883.6.1"
	oidSNOMED  = "2.16.840.1.113883.6.96"
	oidICD9Dx  = "2.16.840.1.113883.6.103"
	oidICD9Px  = "2.16.840.1.113883.6.104"
	oidATC     = "2.16.840.1.113883.6.73"
	oidAIC     = "2.16.840.1.113883.2.9.6.1.5"
	oidUCUM    = "2.16.840.1.113883.6.8"
	oidActCode = "2.16.840.1.113883.5.4"
)

// systems maps CDA code system OIDs to FHIR system URIs: the HL7 FHIR
// names where FHIR has one, as the national mapping writes them (HL7 v3
// vocabularies under terminology.hl7.org); any other OID stays
// urn:oid:<oid>.
var systems = map[string]string{
	oidLOINC:                   facts.SystemLOINC,
	oidSNOMED:                  facts.SystemSNOMED,
	oidICD9Dx:                  facts.SystemICD9CM,
	oidICD9Px:                  facts.SystemICD9CM,
	oidATC:                     facts.SystemATC,
	oidAIC:                     facts.SystemAIC,
	oidUCUM:                    facts.SystemUCUM,
	oidActCode:                 "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	"2.16.840.1.113883.5.83":   "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
	"2.16.840.1.113883.5.112":  "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
	"2.16.840.1.113883.5.1052": "http://terminology.hl7.org/CodeSystem/v3-ActSite",
	"2.16.840.1.113883.5.1063": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"2.16.840.1.113883.5.8":    "http://terminology.hl7.org/CodeSystem/v3-ActReason",
	"2.16.840.1.113883.5.1":    "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender",
	"2.16.840.1.113883.5.129":  "http://terminology.hl7.org/CodeSystem/v3-SpecimenType",
	"2.16.840.1.113883.5.25":   "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
}

// System is the FHIR system URI of a CDA code system OID.
func System(oid string) string {
	if s, ok := systems[oid]; ok {
		return s
	}
	return "urn:oid:" + oid
}

// coding reads one CD/CE (without its translations); ok is false when it
// has no code or no code system (a nullFlavor).
func coding(e *el) (facts.Coding, bool) {
	code, sys := strings.TrimSpace(e.attr("code")), strings.TrimSpace(e.attr("codeSystem"))
	if e == nil || code == "" || sys == "" || e.attr("nullFlavor") != "" {
		return facts.Coding{}, false
	}
	return facts.Coding{System: System(sys), Code: code, Display: strings.TrimSpace(e.attr("displayName"))}, true
}

// codings reads a CD with its translations, the document's own code first.
func codings(e *el) []facts.Coding {
	if e == nil {
		return nil
	}
	var out []facts.Coding
	if c, ok := coding(e); ok {
		out = append(out, c)
	}
	for _, t := range e.children("translation") {
		if c, ok := coding(t); ok {
			out = append(out, c)
		}
	}
	return out
}

// concept is a FHIR CodeableConcept.
type concept struct {
	Coding []facts.Coding `json:"coding,omitempty"`
	Text   string         `json:"text,omitempty"`
}

func cc(cs ...facts.Coding) *concept {
	if len(cs) == 0 {
		return nil
	}
	return &concept{Coding: cs}
}

// quantity is a FHIR Quantity. Value keeps the document's decimal (its
// precision is part of the value in FHIR).
type quantity struct {
	Value      json.Number `json:"value"`
	Comparator string      `json:"comparator,omitempty"`
	Unit       string      `json:"unit,omitempty"`
	System     string      `json:"system,omitempty"`
	Code       string      `json:"code,omitempty"`
}

// number reads an HL7 REAL/INT literal as a JSON number.
func number(s string) (json.Number, float64, bool) {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || s == "" || strings.ContainsAny(s, "xXnNiI_") {
		return "", 0, false
	}
	if !json.Valid([]byte(s)) {
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return json.Number(s), f, true
}

// pq reads a PQ (value and UCUM unit).
func pq(e *el) (*quantity, *facts.Quantity, bool) {
	if e == nil || e.attr("nullFlavor") != "" {
		return nil, nil, false
	}
	n, f, ok := number(e.attr("value"))
	if !ok {
		return nil, nil, false
	}
	q := &quantity{Value: n}
	fq := &facts.Quantity{Value: f}
	if u := strings.TrimSpace(e.attr("unit")); u != "" && u != "1" {
		q.Unit, q.System, q.Code = u, facts.SystemUCUM, u
		fq.Unit = u
	}
	return q, fq, true
}

// dateTime converts an HL7 TS (YYYYMMDDHHMMSS.UUUU[+|-ZZzz]) to a FHIR
// dateTime, keeping its precision and time zone. A time without a zone
// cannot be a FHIR dateTime: it is kept to the day. "" when the literal
// is not a valid TS.
func dateTime(ts string) string {
	ts = strings.TrimSpace(ts)
	tz := ""
	if i := strings.IndexAny(ts, "+-"); i >= 0 {
		tz, ts = ts[i:], ts[:i]
		if len(tz) != 5 || !digits(tz[1:]) {
			return ""
		}
		h, m := atoi(tz[1:3]), atoi(tz[3:5])
		if h > 14 || m > 59 {
			return ""
		}
		tz = tz[:3] + ":" + tz[3:]
	}
	frac := ""
	if i := strings.IndexByte(ts, '.'); i >= 0 {
		frac, ts = ts[i:], ts[:i]
		if len(frac) < 2 || !digits(frac[1:]) || len(ts) != 14 {
			return ""
		}
	}
	if !digits(ts) {
		return ""
	}
	switch len(ts) {
	case 4, 6, 8, 10, 12, 14:
	default:
		return ""
	}
	y := ts[:4]
	if len(ts) == 4 {
		return y
	}
	mo := atoi(ts[4:6])
	if mo < 1 || mo > 12 {
		return ""
	}
	if len(ts) == 6 {
		return y + "-" + ts[4:6]
	}
	d := atoi(ts[6:8])
	if d < 1 || d > daysIn(atoi(y), mo) {
		return ""
	}
	date := y + "-" + ts[4:6] + "-" + ts[6:8]
	if len(ts) == 8 || tz == "" {
		return date
	}
	hh, mm, ss := ts[8:10], "00", "00"
	if len(ts) >= 12 {
		mm = ts[10:12]
	}
	if len(ts) == 14 {
		ss = ts[12:14]
	}
	if atoi(hh) > 23 || atoi(mm) > 59 || atoi(ss) > 59 {
		return ""
	}
	return date + "T" + hh + ":" + mm + ":" + ss + frac + tz
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// times reads an effectiveTime (a TS, or an IVL_TS with low/high, or its
// center): the start and the end, as FHIR dateTimes.
func times(e *el) (start, end string) {
	if e == nil || e.attr("nullFlavor") != "" && len(e.kids) == 0 {
		return "", ""
	}
	if v := e.attr("value"); v != "" {
		return dateTime(v), ""
	}
	if c := e.child("center"); c != nil {
		return dateTime(c.attr("value")), ""
	}
	return dateTime(e.child("low").attr("value")), dateTime(e.child("high").attr("value"))
}
