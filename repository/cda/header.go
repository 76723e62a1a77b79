// Package cda reads the header of an HL7 CDA R2 document as the Italian
// FSE 2.0 uses it, and checks it against the header rules of the national
// schematrons and the FSE document type table. It reads untrusted bytes:
// it never resolves entities or fetches anything, bounds its input, and
// answers every malformed document with an error, never a panic.
//
// Only the header is checked here; the clinical sections of each document
// type are the producer's responsibility and the national validator's.
package cda

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// NS is the HL7 v3 namespace of a CDA document.
const NS = "urn:hl7-org:v3"

// MaxBytes bounds the CDA documents this package reads.
const MaxBytes = 16 << 20

// ErrMalformed wraps every failure to read a document as CDA XML.
var ErrMalformed = errors.New("cda: not a well-formed CDA document")

// II is an HL7 instance identifier.
type II struct {
	Root                   string `xml:"root,attr"`
	Extension              string `xml:"extension,attr"`
	AssigningAuthorityName string `xml:"assigningAuthorityName,attr"`
}

// String returns root^extension, the FSE form of an identifier.
func (i II) String() string {
	if i.Extension == "" {
		return i.Root
	}
	return i.Root + "^" + i.Extension
}

// CD is an HL7 coded value.
type CD struct {
	Code           string `xml:"code,attr"`
	CodeSystem     string `xml:"codeSystem,attr"`
	CodeSystemName string `xml:"codeSystemName,attr"`
	DisplayName    string `xml:"displayName,attr"`
	NullFlavor     string `xml:"nullFlavor,attr"`
}

// TS is an HL7 time stamp (its value attribute, e.g. 20220330112426+0100).
type TS struct {
	Value string `xml:"value,attr"`
}

// Name is a person's name.
type Name struct {
	Family []string `xml:"urn:hl7-org:v3 family"`
	Given  []string `xml:"urn:hl7-org:v3 given"`
}

// Patient is the recordTarget's patient role.
type Patient struct {
	IDs       []II      `xml:"urn:hl7-org:v3 patientRole>id"`
	Names     []Name    `xml:"urn:hl7-org:v3 patientRole>patient>name"`
	Gender    CD        `xml:"urn:hl7-org:v3 patientRole>patient>administrativeGenderCode"`
	BirthTime *TSOrNull `xml:"urn:hl7-org:v3 patientRole>patient>birthTime"`
	// HasBirthTime: the element is there, with a value or a nullFlavor
	// (which the schematrons allow).
	HasBirthTime bool `xml:"-"`
}

// TSOrNull is a time stamp that may carry a nullFlavor instead.
type TSOrNull struct {
	Value      string `xml:"value,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

// Author is one author of the document.
type Author struct {
	Time    TS     `xml:"urn:hl7-org:v3 time"`
	IDs     []II   `xml:"urn:hl7-org:v3 assignedAuthor>id"`
	Names   []Name `xml:"urn:hl7-org:v3 assignedAuthor>assignedPerson>name"`
	OrgIDs  []II   `xml:"urn:hl7-org:v3 assignedAuthor>representedOrganization>id"`
	OrgName string `xml:"urn:hl7-org:v3 assignedAuthor>representedOrganization>name"`
}

// Custodian is the organisation that keeps the document.
type Custodian struct {
	IDs  []II   `xml:"urn:hl7-org:v3 assignedCustodian>representedCustodianOrganization>id"`
	Name string `xml:"urn:hl7-org:v3 assignedCustodian>representedCustodianOrganization>name"`
}

// Authenticator is a legal authenticator (or authenticator).
type Authenticator struct {
	Time          TS     `xml:"urn:hl7-org:v3 time"`
	SignatureCode CD     `xml:"urn:hl7-org:v3 signatureCode"`
	IDs           []II   `xml:"urn:hl7-org:v3 assignedEntity>id"`
	Names         []Name `xml:"urn:hl7-org:v3 assignedEntity>assignedPerson>name"`
}

// RelatedDocument is a relation to an earlier document (RPLC, APND, XFRM).
type RelatedDocument struct {
	TypeCode string `xml:"typeCode,attr"`
	Parents  []II   `xml:"urn:hl7-org:v3 parentDocument>id"`
}

// Header is what the FSE index and the header rules need from a CDA.
type Header struct {
	XMLName            xml.Name
	RealmCodes         []CD              `xml:"urn:hl7-org:v3 realmCode"`
	TypeID             *II               `xml:"urn:hl7-org:v3 typeId"`
	TemplateIDs        []II              `xml:"urn:hl7-org:v3 templateId"`
	ID                 *II               `xml:"urn:hl7-org:v3 id"`
	Code               *CD               `xml:"urn:hl7-org:v3 code"`
	Title              string            `xml:"urn:hl7-org:v3 title"`
	EffectiveTime      *TS               `xml:"urn:hl7-org:v3 effectiveTime"`
	Confidentiality    *CD               `xml:"urn:hl7-org:v3 confidentialityCode"`
	Language           *CD               `xml:"urn:hl7-org:v3 languageCode"`
	SetID              *II               `xml:"urn:hl7-org:v3 setId"`
	VersionNumber      *TS               `xml:"urn:hl7-org:v3 versionNumber"`
	RecordTargets      []Patient         `xml:"urn:hl7-org:v3 recordTarget"`
	Authors            []Author          `xml:"urn:hl7-org:v3 author"`
	Custodian          *Custodian        `xml:"urn:hl7-org:v3 custodian"`
	LegalAuthenticator *Authenticator    `xml:"urn:hl7-org:v3 legalAuthenticator"`
	RelatedDocuments   []RelatedDocument `xml:"urn:hl7-org:v3 relatedDocument"`
	// Body is whether the document has a component (structured or not).
	Body *struct{} `xml:"urn:hl7-org:v3 component"`
}

// Read parses a CDA document and returns its header. The whole input must
// be one well-formed XML document whose root is an HL7 v3
// ClinicalDocument; DTDs and entities other than XML's own are refused.
func Read(r io.Reader) (*Header, error) {
	lr := &io.LimitedReader{R: r, N: MaxBytes + 1}
	dec := xml.NewDecoder(lr)
	dec.Strict = true
	dec.Entity = nil // only XML's five predefined entities
	var h Header
	if err := decodeRoot(dec, &h); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBytes)
		}
		return nil, err
	}
	// Nothing but comments, processing instructions and white space may
	// follow the root.
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: after the root element: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, fmt.Errorf("%w: text after the root element", ErrMalformed)
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, fmt.Errorf("%w: content after the root element", ErrMalformed)
		}
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxBytes)
	}
	h.finish()
	return &h, nil
}

// ReadHeader parses a CDA document's header only: it stops at the body
// (the root's component), so it neither reads nor checks what follows.
// Use it for bytes that Read has already accepted (the gateway publishes
// only a CDA whose SHA-256 passed validation); Read for anything else.
func ReadHeader(r io.Reader) (*Header, error) {
	dec := xml.NewDecoder(&io.LimitedReader{R: r, N: MaxBytes + 1})
	dec.Strict = true
	dec.Entity = nil
	var h Header
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if t, ok := tok.(xml.StartElement); ok {
			if t.Name.Space != NS || t.Name.Local != "ClinicalDocument" {
				return nil, fmt.Errorf("%w: root element is {%s}%s, want {%s}ClinicalDocument", ErrMalformed, t.Name.Space, t.Name.Local, NS)
			}
			h.XMLName = t.Name
			break
		}
		if _, ok := tok.(xml.Directive); ok {
			return nil, fmt.Errorf("%w: document type declarations are not accepted", ErrMalformed)
		}
	}
	fields := headerFields()
	v := reflect.ValueOf(&h).Elem()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			h.finish()
			return &h, nil // the root ended: a document without a body
		case xml.StartElement:
			if t.Name.Space == NS && t.Name.Local == "component" {
				h.Body = &struct{}{}
				h.finish()
				return &h, nil
			}
			i, ok := fields[t.Name.Space+" "+t.Name.Local]
			if !ok {
				if err := dec.Skip(); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
				}
				continue
			}
			f := v.Field(i)
			var dst reflect.Value
			switch f.Kind() {
			case reflect.Slice:
				dst = reflect.New(f.Type().Elem())
			case reflect.Pointer:
				dst = reflect.New(f.Type().Elem())
			default:
				dst = f.Addr()
			}
			if err := dec.DecodeElement(dst.Interface(), &t); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			switch f.Kind() {
			case reflect.Slice:
				f.Set(reflect.Append(f, dst.Elem()))
			case reflect.Pointer:
				f.Set(dst)
			}
		}
	}
}

// headerFields maps "namespace local-name" to the Header field holding
// that child of the root.
func headerFields() map[string]int {
	t := reflect.TypeFor[Header]()
	out := map[string]int{}
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("xml")
		if tag == "" || strings.Contains(tag, ">") {
			continue
		}
		out[tag] = i
	}
	return out
}

func (h *Header) finish() {
	for i := range h.RecordTargets {
		rt := &h.RecordTargets[i]
		rt.HasBirthTime = rt.BirthTime != nil && (rt.BirthTime.Value != "" || rt.BirthTime.NullFlavor != "")
	}
}

func decodeRoot(dec *xml.Decoder, h *Header) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: no root element", ErrMalformed)
			}
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != NS || t.Name.Local != "ClinicalDocument" {
				return fmt.Errorf("%w: root element is {%s}%s, want {%s}ClinicalDocument", ErrMalformed, t.Name.Space, t.Name.Local, NS)
			}
			if err := dec.DecodeElement(h, &t); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			return nil
		case xml.Directive:
			return fmt.Errorf("%w: document type declarations are not accepted", ErrMalformed)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("%w: text before the root element", ErrMalformed)
			}
		case xml.Comment, xml.ProcInst:
		default:
			return fmt.Errorf("%w: unexpected %T before the root element", ErrMalformed, tok)
		}
	}
}

// PatientID returns the first recordTarget patient identifier with the
// given root (e.g. the codice fiscale's OID).
func (h *Header) PatientID(root string) (string, bool) {
	for _, rt := range h.RecordTargets {
		for _, id := range rt.IDs {
			if id.Root == root && strings.TrimSpace(id.Extension) != "" {
				return strings.TrimSpace(id.Extension), true
			}
		}
	}
	return "", false
}

// tsLayouts are the precisions of an HL7 TS this package reads.
var tsLayouts = []string{"20060102150405-0700", "20060102150405", "200601021504-0700", "200601021504", "20060102-0700", "20060102"}

// Time returns the time stamp as a time; a value without a zone is read
// as Italian local time.
func (t TS) Time() (time.Time, error) {
	v := t.Value
	if i := strings.IndexByte(v, '.'); i >= 0 { // fractional seconds
		j := i + 1
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		v = v[:i] + v[j:]
	}
	for _, l := range tsLayouts {
		var tm time.Time
		var err error
		if strings.Contains(l, "-0700") {
			tm, err = time.Parse(l, v)
		} else {
			tm, err = time.ParseInLocation(l, v, rome)
		}
		if err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("time stamp %q: want yyyyMMdd[HHmm[ss]][+zzzz]", t.Value)
}

// rome is Italian local time; a fixed +01:00 where the zone database is
// missing.
var rome = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Rome"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}()
