// Package report writes the three national HL7 CDA R2 documents of
// telemedicine — the Referto di Televisita, the Relazione di Teleconsulto
// and the Relazione finale di Teleassistenza — and checks documents of
// those types with rules that carry the ERRORE ids of the national
// schematrons (schematron_Referto_Televisita_v1.0,
// schematron_Relazione_CTC_v1.0, schematron_Rel_Fin_Teleassistenza_v1.0).
//
// Build makes a document that the national schematron of its type
// accepts; PDF wraps it as the FSE gateway takes it (a PDF carrying
// cda.xml). Check reads untrusted bytes: it bounds its input, never
// resolves entities, never panics, and names every broken rule by the id
// the national validator would print, so that a region learns of a
// rejection before the gateway's.
//
// The package owns the documents' shape only: it stores nothing, signs
// nothing and publishes nothing.
package report

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/ident"
)

// Kind is one of the three telemedicine report types.
type Kind string

// The report types.
const (
	Televisita     Kind = "televisita"     // Referto di Televisita, 75496-0
	Teleconsulto   Kind = "teleconsulto"   // Relazione di Teleconsulto, 85208-7
	Teleassistenza Kind = "teleassistenza" // Relazione finale di Teleassistenza
)

// Kinds are the report types, in a fixed order.
var Kinds = []Kind{Televisita, Teleconsulto, Teleassistenza}

// spec is what a report type is made of: its codes, its national template
// and the schematron that judges it.
type spec struct {
	loinc, display, title string
	template              string // HL7 Italia templateId root
	schematron            string // base name of the national schematron
	// findings is the title of the section (47045-0) carrying the text.
	findings string
	// service names the service performed when a report lists none.
	service string
	// quesito: the schematron requires the Quesito diagnostico section.
	quesito bool
	// media: the schematron requires one observationMedia in the
	// Prestazioni section.
	media bool
	// participant: the schematron requires a participant (the requester).
	participant bool
}

var specs = map[Kind]spec{
	Televisita: {loinc: "75496-0", display: "Telehealth note", title: "Referto di Televisita",
		template: "2.16.840.1.113883.2.9.10.1.16.1.1", schematron: "schematron_Referto_Televisita_v1.0.sch",
		findings: "Referto", service: "Televisita", media: true},
	Teleconsulto: {loinc: "85208-7", display: "Nota di teleconsulto (teleconsultation note)", title: "Relazione di Teleconsulto",
		template: "2.16.840.1.113883.2.9.10.1.16.2.1", schematron: "schematron_Relazione_CTC_v1.0.sch",
		findings: "Relazione", service: "Teleconsulto", quesito: true, participant: true},
	// The Relazione finale di Teleassistenza has no LOINC code of its own:
	// its schematron (ERRORE-5) demands 75496-0, "Telehealth note".
	Teleassistenza: {loinc: "75496-0", display: "Telehealth note", title: "Relazione finale di Teleassistenza",
		template: "2.16.840.1.113883.2.9.10.1.16.4.1", schematron: "schematron_Rel_Fin_Teleassistenza_v1.0.sch",
		findings: "Relazione finale", service: "Teleassistenza", quesito: true, media: true},
}

// LOINC is the document code of a report type ("" for an unknown kind).
func LOINC(kind Kind) string { return specs[kind].loinc }

// Schematron is the base file name of the national schematron that judges
// a report type ("" for an unknown kind).
func Schematron(kind Kind) string { return specs[kind].schematron }

// Template is the HL7 Italia templateId root of a report type.
func Template(kind Kind) string { return specs[kind].template }

// Title is the Italian name of a report type.
func Title(kind Kind) string { return specs[kind].title }

// Person is a health professional.
type Person struct {
	CF string // codice fiscale (id root 2.16.840.1.113883.2.9.4.3.2)
	// Family and Given may be empty: the document then says the name is
	// not known (nullFlavor NI), which the schematrons accept, and
	// identifies the professional by the CF alone.
	Family string
	Given  string
}

// Patient is the document's subject, as the national registry knows them.
type Patient struct {
	// CF is the codice fiscale (16 chars) or, for a foreigner without one,
	// the STP or ENI code, as the registry keys the patient.
	CF        string
	Family    string
	Given     string
	Gender    string // "M", "F" or "UN"
	BirthDate time.Time
	// BirthPlace is the ISTAT code (6 digits) of the comune of birth when
	// known. Without it the document names only the country of birth:
	// Italy, unless the codice fiscale's place code is a foreign country's
	// (Z...), when the country is not known.
	BirthPlace string
}

// Organization is the providing health authority.
type Organization struct {
	ID   string // e.g. "030901" (region code + azienda), used with root 2.16.840.1.113883.2.9.4.1.2
	Name string
}

// Prestazione is one service performed, from the national catalogue of
// outpatient services when known.
type Prestazione struct {
	Code    string // e.g. "89.01"; codeSystem 2.16.840.1.113883.2.9.6.1.11 (catalogo nazionale prestazioni)
	Display string
	// Branca is the code of the branca specialistica (e.g. "02",
	// Cardiologia) and Disciplina that of the disciplina (e.g. "08"),
	// when known; the schematrons require both observations, which say
	// "unknown" without them.
	Branca     string
	Disciplina string
}

// Attachment is a file carried in the Prestazioni section
// (observationMedia, base64).
type Attachment struct {
	MediaType string // e.g. "image/jpeg", "application/pdf", "text/plain"
	Data      []byte
}

// Report is everything a report says.
type Report struct {
	Kind   Kind
	Region string    // 3-digit region code, e.g. "030" (document id root 2.16.840.1.113883.2.9.2.<region>.4.4)
	ID     string    // document id extension (unique), e.g. "030-tv-1a2b3c"
	Time   time.Time // effectiveTime
	// Patient is the subject.
	Patient Patient
	// Author is the clinician who wrote it; also legalAuthenticator
	// (signatureCode S).
	Author Person
	// Organization is the custodian and the serviceProviderOrganization.
	Organization Organization
	// Order is the inFulfillmentOf/order id: the appointment, teleconsult
	// request or care plan the report fulfils.
	Order string
	// Encounter is the encompassingEncounter id (optional).
	Encounter string
	// Start and End are the encounter's (or plan's) period; End may be
	// zero (still open) but not before Start.
	Start, End time.Time
	// Quesito is the quesito diagnostico. The teleconsult and
	// teleassistance schematrons require its section: without it the
	// section says none was stated.
	Quesito string
	// Findings is the report's text: referto, relazione, conclusioni.
	Findings string
	// Prestazioni are the services performed; a televisit needs at least
	// one. A teleconsult or a teleassistance plan without them is
	// reported as one unnamed service.
	Prestazioni []Prestazione
	// Requester is the requesting clinician (participant typeCode REF):
	// required for a teleconsult, optional otherwise.
	Requester Person
	// RequesterOrganization is the requester's health authority, when
	// known (the participant's scopingOrganization).
	RequesterOrganization Organization
	// Sessions are a teleassistance plan's sessions, one line each.
	Sessions []string
	// Attachment is a file of the encounter (an image, a recording's
	// transcript). Televisit and teleassistance reports must carry one:
	// without it they carry the session record as text/plain.
	Attachment *Attachment
}

// Errors of Validate, Build, PDF and Check.
var (
	// ErrInvalid is wrapped by every reason a Report cannot be written.
	ErrInvalid = errors.New("report: invalid report")
	// ErrNotCDA is wrapped by Check when the bytes are not a CDA
	// ClinicalDocument it can read.
	ErrNotCDA = errors.New("report: not a readable CDA ClinicalDocument")
	// ErrUnknownKind is wrapped when a Kind is none of the three.
	ErrUnknownKind = errors.New("report: unknown report kind")
)

// Limits of what a report holds.
const (
	// MaxTextBytes bounds Findings and Quesito.
	MaxTextBytes = 256 << 10
	// MaxPrestazioni bounds Prestazioni and Sessions.
	MaxPrestazioni = 200
	// MaxSessionBytes bounds one line of Sessions.
	MaxSessionBytes = 2000
	// MaxAttachmentBytes bounds the attachment (base64 grows it by 4/3;
	// the whole document stays under MaxDocumentBytes).
	MaxAttachmentBytes = 2 << 20
)

var (
	cfShape       = regexp.MustCompile(`^[A-Z0-9]{16}$`)
	istatComune   = regexp.MustCompile(`^[0-9]{6}$`)
	mediaTypeRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$`)
	prestazioneRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.\-]{0,15}$`)
	codeRe        = regexp.MustCompile(`^[0-9A-Za-z]{1,8}$`)
)

// Validate reports every reason r cannot be written as a report, all at
// once; each wraps ErrInvalid.
func (r Report) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	sp, known := specs[r.Kind]
	if !known {
		errs = append(errs, fmt.Errorf("%w: %w %q (want televisita, teleconsulto or teleassistenza)", ErrInvalid, ErrUnknownKind, r.Kind))
	}
	if _, ok := federation.RegionNames[r.Region]; !ok || !federation.ValidRegionCode(r.Region) {
		bad("region %q is not an ISTAT region code such as 030", r.Region)
	}
	if err := checkIdentifier("id", r.ID, true); err != nil {
		bad("%v", err)
	}
	if r.Time.IsZero() {
		bad("the report has no time")
	}
	p := r.Patient
	if id, err := ident.Parse(p.CF); err != nil {
		bad("patient: %v", err)
	} else if id.Value != p.CF {
		bad("patient: identifier %q is not written as the registry keys it (%s)", p.CF, id.Value)
	}
	if strings.TrimSpace(p.Family) == "" && strings.TrimSpace(p.Given) == "" {
		bad("patient: no name")
	}
	switch p.Gender {
	case "M", "F", "UN":
	default:
		bad("patient: gender %q is not M, F or UN", p.Gender)
	}
	if !p.BirthDate.IsZero() && !r.Time.IsZero() && p.BirthDate.After(r.Time) {
		bad("patient: born after the report")
	}
	if p.BirthPlace != "" && !istatComune.MatchString(p.BirthPlace) {
		bad("patient: birth place %q is not an ISTAT comune code (6 digits)", p.BirthPlace)
	}
	for _, s := range []string{p.Family, p.Given} {
		if err := checkText("patient name", s, 200); err != nil {
			bad("%v", err)
		}
	}
	checkPerson := func(who string, q Person) {
		if !cfShape.MatchString(q.CF) {
			bad("%s: codice fiscale %q is not 16 upper-case letters and digits", who, q.CF)
		}
		for _, s := range []string{q.Family, q.Given} {
			if err := checkText(who+" name", s, 200); err != nil {
				bad("%v", err)
			}
		}
	}
	checkPerson("author", r.Author)
	if err := checkIdentifier("organization id", r.Organization.ID, true); err != nil {
		bad("%v", err)
	}
	if strings.TrimSpace(r.Organization.Name) == "" {
		bad("organization: no name")
	} else if err := checkText("organization name", r.Organization.Name, 500); err != nil {
		bad("%v", err)
	}
	if err := checkIdentifier("order", r.Order, true); err != nil {
		bad("%v (the appointment, request or plan the report fulfils)", err)
	}
	if err := checkIdentifier("encounter", r.Encounter, false); err != nil {
		bad("%v", err)
	}
	switch {
	case r.Start.IsZero():
		bad("the encounter has no start")
	case !r.End.IsZero() && r.End.Before(r.Start):
		bad("the encounter ends (%s) before it starts (%s)", r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
	}
	if strings.TrimSpace(r.Findings) == "" {
		bad("the report has no text (findings)")
	}
	for name, s := range map[string]string{"findings": r.Findings, "quesito": r.Quesito} {
		if err := checkText(name, s, MaxTextBytes); err != nil {
			bad("%v", err)
		}
	}
	if r.Kind == Televisita && len(r.Prestazioni) == 0 {
		bad("a televisit report needs at least one prestazione")
	}
	if len(r.Prestazioni) > MaxPrestazioni || len(r.Sessions) > MaxPrestazioni {
		bad("at most %d prestazioni and %d sessions", MaxPrestazioni, MaxPrestazioni)
	}
	for i, pr := range r.Prestazioni {
		if pr.Code != "" && !prestazioneRe.MatchString(pr.Code) {
			bad("prestazione %d: code %q is not a catalogue code such as 89.01", i+1, pr.Code)
		}
		if pr.Code == "" && strings.TrimSpace(pr.Display) == "" {
			bad("prestazione %d: neither a code nor a description", i+1)
		}
		if err := checkText("prestazione", pr.Display, 500); err != nil {
			bad("prestazione %d: %v", i+1, err)
		}
		if pr.Branca != "" && !codeRe.MatchString(pr.Branca) {
			bad("prestazione %d: branca %q is not a code", i+1, pr.Branca)
		}
		if pr.Disciplina != "" && !codeRe.MatchString(pr.Disciplina) {
			bad("prestazione %d: disciplina %q is not a code", i+1, pr.Disciplina)
		}
	}
	for i, s := range r.Sessions {
		if err := checkText("session", s, MaxSessionBytes); err != nil {
			bad("session %d: %v", i+1, err)
		}
	}
	if known && sp.participant && r.Requester.CF == "" {
		bad("a teleconsult report needs the requesting clinician")
	}
	if r.Requester.CF != "" || r.Requester.Family != "" || r.Requester.Given != "" {
		checkPerson("requester", r.Requester)
	}
	if o := r.RequesterOrganization; o.ID != "" || o.Name != "" {
		if err := checkIdentifier("requester organization id", o.ID, true); err != nil {
			bad("%v", err)
		}
		if err := checkText("requester organization name", o.Name, 500); err != nil {
			bad("%v", err)
		}
	}
	if a := r.Attachment; a != nil {
		if !mediaTypeRe.MatchString(a.MediaType) {
			bad("attachment: media type %q is not of the form type/subtype", a.MediaType)
		}
		if len(a.Data) == 0 || len(a.Data) > MaxAttachmentBytes {
			bad("attachment: %d bytes (want 1 to %d)", len(a.Data), MaxAttachmentBytes)
		}
	}
	return errors.Join(errs...)
}

// checkIdentifier checks an identifier's extension: printable, no spaces
// at its ends, at most 128 bytes.
func checkIdentifier(name, s string, required bool) error {
	switch {
	case s == "":
		if required {
			return fmt.Errorf("no %s", name)
		}
		return nil
	case len(s) > 128:
		return fmt.Errorf("%s is %d bytes long (at most 128)", name, len(s))
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s %q has spaces at its ends", name, s)
	}
	return checkText(name, s, 128)
}

// CheckText refuses text a report could not carry: invalid UTF-8,
// characters XML 1.0 does not allow, more than max bytes. What a report
// will be made from is checked with it when it is written.
func CheckText(name, s string, max int) error { return checkText(name, s, max) }

// checkText refuses what XML cannot carry (invalid UTF-8, control
// characters other than tab, newline and carriage return) and text beyond
// max bytes.
func checkText(name, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long (at most %d)", name, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	for _, c := range s {
		if !xmlChar(c) {
			return fmt.Errorf("%s contains the character %U, which XML cannot carry", name, c)
		}
	}
	return nil
}

// xmlChar reports whether XML 1.0 allows c in text (Build turns carriage
// returns into newlines).
func xmlChar(c rune) bool {
	switch {
	case c == '\t' || c == '\n' || c == '\r':
		return true
	case c < 0x20:
		return false
	case c >= 0xD800 && c <= 0xDFFF, c == 0xFFFE, c == 0xFFFF:
		return false
	}
	return c <= 0x10FFFF
}
