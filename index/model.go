package index

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/index/ident"
)

// Patient is a person in the national registry (ANA).
type Patient struct {
	ID         string       `json:"id"` // ident.ID.String(), e.g. "CF:RSSMRA80A01H501U"
	Family     string       `json:"family,omitempty"`
	Given      []string     `json:"given,omitempty"`
	BirthDate  string       `json:"birth_date,omitempty"` // YYYY-MM-DD
	Gender     string       `json:"gender,omitempty"`     // male, female, other, unknown
	HomeRegion string       `json:"home_region"`          // regione di assistenza
	Homes      []HomeChange `json:"homes,omitempty"`      // every home region, oldest first
	Deceased   string       `json:"deceased,omitempty"`   // date of death, YYYY-MM-DD
	Consent    Consent      `json:"consent"`
	MergedInto string       `json:"merged_into,omitempty"` // set on a duplicate merged into another identity
	Merged     []string     `json:"merged,omitempty"`      // identities merged into this one
	Updated    time.Time    `json:"updated"`
}

// HomeChange is one region that assisted the patient, from a time on.
type HomeChange struct {
	Region string    `json:"region"`
	From   time.Time `json:"from"`
}

// Consent is the patient's consent to consultation of the FSE.
type Consent struct {
	Given bool      `json:"given"`
	At    time.Time `json:"at,omitzero"` // when it was last given or withdrawn
}

// Status of a document version.
const (
	StatusCurrent     = "current"
	StatusSuperseded  = "superseded"
	StatusEnteredErr  = "entered-in-error"
	EventHidden       = "P99" // oscuramento
	EventNotHidden    = "P00"
	maxEvents         = 16
	maxFieldLen       = 256
	docIDPrefixFormat = "2.16.840.1.113883.2.9.2.%s.4.4^"
)

// Entry is one document version in the national index (INI).
//
// Its author organisation is named by AuthorOrg, for display only (the
// gateway keeps there the organisation its producer is registered for),
// and identified by AuthorOrgID: the code of the structure or ASL (of the
// form of a token's locality, federation.ValidLocality), as the document
// gives it (a CDA's author/assignedAuthor/representedOrganization
// id extension, a DocumentReference's author Organization identifier
// value), in the system AuthorOrgSystem (urn:oid:<the CDA id's root>, the
// FHIR identifier's system). A caller acts as the author organisation only
// by that identifier (Caller.IsAuthor). A version indexed before
// identifiers were kept has none, and so no author organisation, whatever
// its name.
type Entry struct {
	ID              string        `json:"id"`    // 2.16.840.1.113883.2.9.2.<region>.4.4^<local id>
	Chain           string        `json:"chain"` // id of the chain's first version
	Version         int           `json:"version"`
	Patient         string        `json:"patient"`
	Type            string        `json:"type"`               // LOINC
	Class           doctype.Class `json:"class"`              // tipoDocumentoLivAlto
	Setting         string        `json:"setting,omitempty"`  // assettoOrganizzativo, AD_PSCnnn
	Facility        string        `json:"facility,omitempty"` // tipologiaStruttura
	ServiceStart    time.Time     `json:"service_start,omitzero"`
	ServiceStop     time.Time     `json:"service_stop,omitzero"`
	Created         time.Time     `json:"created"`
	Author          string        `json:"author,omitempty"`
	AuthorOrg       string        `json:"author_org"`                  // the author organisation's name, for display
	AuthorOrgSystem string        `json:"author_org_system,omitempty"` // its identifier's system
	AuthorOrgID     string        `json:"author_org_id,omitempty"`     // its identifier: the structure or ASL code
	Custodian       string        `json:"custodian"`                   // region code holding the content
	Repository      string        `json:"repository,omitempty"`
	Hash            string        `json:"hash"` // SHA-256, hex
	Size            int64         `json:"size"`
	MIME            string        `json:"mime"`
	Confidentiality string        `json:"confidentiality"` // N, R, V
	Events          []string      `json:"events,omitempty"`
	Status          string        `json:"status"`
	Replaces        string        `json:"replaces,omitempty"`
	Appends         string        `json:"appends,omitempty"`
	Transforms      string        `json:"transforms,omitempty"`
	Indexed         time.Time     `json:"indexed"`
}

// Hidden reports whether the document is blinded (P99).
func (e Entry) Hidden() bool {
	for _, ev := range e.Events {
		if ev == EventHidden {
			return true
		}
	}
	return false
}

var (
	dateRe    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	hashRe    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	docIDRe   = regexp.MustCompile(`^2\.16\.840\.1\.113883\.2\.9\.2\.(\d{3})\.4\.4\^([\x21-\x7e]{1,128})$`)
	codeRe    = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
	genders   = map[string]bool{"": true, "male": true, "female": true, "other": true, "unknown": true}
	confLevel = map[string]bool{"N": true, "R": true, "V": true}
)

// DocumentID returns the FSE id of a region's document.
func DocumentID(region, local string) string { return fmt.Sprintf(docIDPrefixFormat, region) + local }

// ParseDocumentID returns the region and local part of an FSE document id.
func ParseDocumentID(id string) (region, local string, err error) {
	m := docIDRe.FindStringSubmatch(id)
	if m == nil {
		return "", "", fmt.Errorf("document id %q: want 2.16.840.1.113883.2.9.2.<region>.4.4^<local id>", id)
	}
	if !federation.ValidRegionCode(m[1]) {
		return "", "", fmt.Errorf("document id %q: %s is not a region code", id, m[1])
	}
	return m[1], m[2], nil
}

func checkText(name, v string, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is required", name)
	case len(v) > maxFieldLen:
		return fmt.Errorf("%s: at most %d bytes", name, maxFieldLen)
	case strings.ContainsAny(v, "\x00\n\r"):
		return fmt.Errorf("%s: control characters", name)
	}
	return nil
}

// validate checks the demographics of a patient record.
// Validate reports what makes the record unfit for the registry.
func (p Patient) Validate() error { return p.validate() }

func (p *Patient) validate() error {
	id, err := ident.Parse(p.ID)
	if err != nil {
		// Accept "CF:..." keys too.
		if _, v, ok := strings.Cut(p.ID, ":"); ok {
			id, err = ident.Parse(v)
		}
		if err != nil {
			return err
		}
	}
	p.ID = id.String()
	errs := []error{checkText("family", p.Family, false)}
	if len(p.Given) > 8 {
		errs = append(errs, errors.New("given: at most 8 names"))
	}
	for _, g := range p.Given {
		errs = append(errs, checkText("given", g, true))
	}
	if p.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, p.BirthDate); err != nil || !dateRe.MatchString(p.BirthDate) {
			errs = append(errs, fmt.Errorf("birth_date %q: want YYYY-MM-DD", p.BirthDate))
		}
	}
	if !genders[p.Gender] {
		errs = append(errs, fmt.Errorf("gender %q: want male, female, other or unknown", p.Gender))
	}
	if !federation.ValidRegionCode(p.HomeRegion) || federation.RegionNames[p.HomeRegion] == "" {
		errs = append(errs, fmt.Errorf("home_region %q: want a region code", p.HomeRegion))
	}
	return errors.Join(errs...)
}

// validate checks a new document version's metadata.
func (e *Entry) validate() error {
	region, _, err := ParseDocumentID(e.ID)
	if err != nil {
		return err
	}
	var errs []error
	if e.Custodian != region {
		errs = append(errs, fmt.Errorf("custodian %q: a document of region %s is kept by region %s", e.Custodian, region, region))
	}
	if err := doctype.Check(e.Type, e.Class); err != nil {
		errs = append(errs, err)
	}
	for name, v := range map[string]string{"setting": e.Setting, "facility": e.Facility, "author": e.Author, "repository": e.Repository} {
		errs = append(errs, checkText(name, v, false))
	}
	errs = append(errs, checkText("author_org", e.AuthorOrg, true), checkText("mime", e.MIME, true),
		checkText("author_org_system", e.AuthorOrgSystem, false))
	switch {
	case e.AuthorOrgID != "" && !federation.ValidLocality(e.AuthorOrgID):
		errs = append(errs, errors.New("author_org_id: want a structure or ASL code, of the form of a token's locality"))
	case e.AuthorOrgSystem != "" && e.AuthorOrgID == "":
		errs = append(errs, errors.New("author_org_system without author_org_id"))
	}
	if !hashRe.MatchString(e.Hash) {
		errs = append(errs, errors.New("hash: want the SHA-256 of the content, 64 lower-case hex digits"))
	}
	if e.Size < 0 {
		errs = append(errs, errors.New("size must not be negative"))
	}
	if e.Confidentiality == "" {
		e.Confidentiality = "N"
	}
	if !confLevel[e.Confidentiality] {
		errs = append(errs, fmt.Errorf("confidentiality %q: want N, R or V", e.Confidentiality))
	}
	errs = append(errs, validEvents(e.Events))
	if e.Created.IsZero() {
		errs = append(errs, errors.New("created is required"))
	}
	for name, t := range map[string]time.Time{"created": e.Created, "service_start": e.ServiceStart, "service_stop": e.ServiceStop} {
		if !t.IsZero() && (t.Before(minTime) || !t.Before(maxTime)) {
			errs = append(errs, fmt.Errorf("%s %s: want a time between 1900 and 2200", name, t.Format(time.RFC3339)))
		}
	}
	if !e.ServiceStart.IsZero() && !e.ServiceStop.IsZero() && e.ServiceStop.Before(e.ServiceStart) {
		errs = append(errs, errors.New("service_stop is before service_start"))
	}
	rel := 0
	for _, r := range []string{e.Replaces, e.Appends, e.Transforms} {
		if r != "" {
			rel++
			if _, _, err := ParseDocumentID(r); err != nil {
				errs = append(errs, fmt.Errorf("relation: %w", err))
			}
		}
	}
	if rel > 1 {
		errs = append(errs, errors.New("a version replaces, appends or transforms one document, not several"))
	}
	return errors.Join(errs...)
}

func validEvents(events []string) error {
	if len(events) > maxEvents {
		return fmt.Errorf("events: at most %d", maxEvents)
	}
	hidden, shown := false, false
	for _, ev := range events {
		if !codeRe.MatchString(ev) {
			return fmt.Errorf("event code %q: want 1 to 64 printable characters", ev)
		}
		hidden = hidden || ev == EventHidden
		shown = shown || ev == EventNotHidden
	}
	if hidden && shown {
		return errors.New("events: P99 (hidden) and P00 (not hidden) together")
	}
	return nil
}
