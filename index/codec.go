package index

import (
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/fsenet/fsenet/index/doctype"
)

// Index entries (and, stored, patient records) are in CBOR (RFC 8949): an
// entry is written once per replica and read on every search, and CBOR
// arrays are about half the size of the JSON and several times faster to
// decode. The wire form is an array whose element order is the format:
// fields are only ever appended, and a decoder refuses an array of another
// length, so a replica never half-reads a newer entry.

// entryWire is the CBOR form of an Entry, one array element per field.
// The last two, the author organisation's identifier, were appended to
// the 25 of entryWireV1: an entry without that identifier is still
// written in the 25 fields, and an entry of 25 fields reads as one
// without it (entries indexed before the identifier was kept).
type entryWire struct {
	_               struct{} `cbor:",toarray"`
	ID              string
	Chain           string
	Version         int
	Patient         string
	Type            string
	Class           string
	Setting         string
	Facility        string
	ServiceStart    int64 // Unix nanoseconds; noTime when unset
	ServiceStop     int64
	Created         int64
	Author          string
	AuthorOrg       string
	Custodian       string
	Repository      string
	Hash            []byte // SHA-256, raw
	Size            int64
	MIME            string
	Confidentiality string
	Events          []string
	Status          string
	Replaces        string
	Appends         string
	Transforms      string
	Indexed         int64
	AuthorOrgSystem string
	AuthorOrgID     string
}

// entryWireV1 is entryWire without the author organisation's identifier.
type entryWireV1 struct {
	_               struct{} `cbor:",toarray"`
	ID              string
	Chain           string
	Version         int
	Patient         string
	Type            string
	Class           string
	Setting         string
	Facility        string
	ServiceStart    int64
	ServiceStop     int64
	Created         int64
	Author          string
	AuthorOrg       string
	Custodian       string
	Repository      string
	Hash            []byte
	Size            int64
	MIME            string
	Confidentiality string
	Events          []string
	Status          string
	Replaces        string
	Appends         string
	Transforms      string
	Indexed         int64
}

// v1 is the entry in the 25 fields, without the identifier.
func (w *entryWire) v1() *entryWireV1 {
	return &entryWireV1{ID: w.ID, Chain: w.Chain, Version: w.Version, Patient: w.Patient, Type: w.Type, Class: w.Class,
		Setting: w.Setting, Facility: w.Facility, ServiceStart: w.ServiceStart, ServiceStop: w.ServiceStop,
		Created: w.Created, Author: w.Author, AuthorOrg: w.AuthorOrg, Custodian: w.Custodian, Repository: w.Repository,
		Hash: w.Hash, Size: w.Size, MIME: w.MIME, Confidentiality: w.Confidentiality, Events: w.Events, Status: w.Status,
		Replaces: w.Replaces, Appends: w.Appends, Transforms: w.Transforms, Indexed: w.Indexed}
}

// wire is the entry of 25 fields as one without the identifier.
func (v *entryWireV1) wire() entryWire {
	return entryWire{ID: v.ID, Chain: v.Chain, Version: v.Version, Patient: v.Patient, Type: v.Type, Class: v.Class,
		Setting: v.Setting, Facility: v.Facility, ServiceStart: v.ServiceStart, ServiceStop: v.ServiceStop,
		Created: v.Created, Author: v.Author, AuthorOrg: v.AuthorOrg, Custodian: v.Custodian, Repository: v.Repository,
		Hash: v.Hash, Size: v.Size, MIME: v.MIME, Confidentiality: v.Confidentiality, Events: v.Events, Status: v.Status,
		Replaces: v.Replaces, Appends: v.Appends, Transforms: v.Transforms, Indexed: v.Indexed}
}

// entryV1Head is the CBOR head of a 25-element array: an entryWireV1.
var entryV1Head = [2]byte{0x98, 25}

// noTime stands for an unset time.Time.
const noTime = math.MinInt64

// Times an entry may carry: what Unix nanoseconds represent.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func wireTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func fromWireTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:       cbor.DupMapKeyEnforcedAPF,
		IndefLength:     cbor.IndefLengthForbidden,
		TagsMd:          cbor.TagsForbidden,
		MaxNestedLevels: 4,
		// Records grow (a patient's homes and merged identities): only
		// the nesting is tight; sizes are bounded by the command size.
		MaxArrayElements:  1 << 17,
		MaxMapPairs:       64,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// EncodeEntry returns the CBOR form of an entry: the payload of a publish
// command and the answer to one.
func EncodeEntry(e *Entry) []byte {
	w := entryWire{
		ID: e.ID, Chain: e.Chain, Version: e.Version, Patient: e.Patient, Type: e.Type, Class: string(e.Class),
		Setting: e.Setting, Facility: e.Facility, ServiceStart: wireTime(e.ServiceStart), ServiceStop: wireTime(e.ServiceStop),
		Created: wireTime(e.Created), Author: e.Author, AuthorOrg: e.AuthorOrg, Custodian: e.Custodian, Repository: e.Repository,
		Size: e.Size, MIME: e.MIME, Confidentiality: e.Confidentiality, Events: e.Events, Status: e.Status,
		Replaces: e.Replaces, Appends: e.Appends, Transforms: e.Transforms, Indexed: wireTime(e.Indexed),
	}
	if h, err := hex.DecodeString(e.Hash); err == nil && hex.EncodeToString(h) == e.Hash {
		w.Hash = h
	} else {
		// Not a lower-case hex digest: carried as is, so that validation
		// on the replica reports it rather than the encoder losing it.
		w.Hash = append([]byte{0}, e.Hash...)
	}
	var v any = &w
	if e.AuthorOrgSystem == "" && e.AuthorOrgID == "" {
		v = w.v1()
	} else {
		w.AuthorOrgSystem, w.AuthorOrgID = e.AuthorOrgSystem, e.AuthorOrgID
	}
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("index: encoding entry: %v", err)) // strings, ints and slices always encode
	}
	return b
}

// DecodeEntry parses the CBOR form of an entry (a publish command's
// payload or answer, or a stored version): an array of 27 fields, or of
// the first 25 for an entry without its author organisation's
// identifier. It refuses anything else: trailing bytes, arrays of another
// length, invalid UTF-8.
func DecodeEntry(b []byte) (Entry, error) {
	var w entryWire
	if len(b) >= 2 && [2]byte(b[:2]) == entryV1Head {
		var v1 entryWireV1
		if err := decMode.Unmarshal(b, &v1); err != nil {
			return Entry{}, fmt.Errorf("index entry: %w", err)
		}
		w = v1.wire()
	} else if err := decMode.Unmarshal(b, &w); err != nil {
		return Entry{}, fmt.Errorf("index entry: %w", err)
	}
	e := Entry{
		ID: w.ID, Chain: w.Chain, Version: w.Version, Patient: w.Patient, Type: w.Type, Class: doctype.Class(w.Class),
		Setting: w.Setting, Facility: w.Facility, ServiceStart: fromWireTime(w.ServiceStart), ServiceStop: fromWireTime(w.ServiceStop),
		Created: fromWireTime(w.Created), Author: w.Author, AuthorOrg: w.AuthorOrg, Custodian: w.Custodian, Repository: w.Repository,
		Size: w.Size, MIME: w.MIME, Confidentiality: w.Confidentiality, Events: w.Events, Status: w.Status,
		Replaces: w.Replaces, Appends: w.Appends, Transforms: w.Transforms, Indexed: fromWireTime(w.Indexed),
		AuthorOrgSystem: w.AuthorOrgSystem, AuthorOrgID: w.AuthorOrgID,
	}
	switch {
	case len(w.Hash) == 32:
		e.Hash = hex.EncodeToString(w.Hash)
	case len(w.Hash) > 0 && w.Hash[0] == 0:
		e.Hash = string(w.Hash[1:])
	case len(w.Hash) > 0:
		return Entry{}, fmt.Errorf("index entry: hash of %d bytes", len(w.Hash))
	}
	return e, nil
}

// Attrs are the attributes of a version kept in the patient index beside
// its key, so that a search filters a patient's versions without reading
// the ones that do not match.
type Attrs struct {
	_        struct{} `cbor:",toarray"`
	Type     string
	Class    string
	Status   string
	Setting  string
	Facility string
}

func attrsOf(e *Entry) []byte {
	b, err := encMode.Marshal(&Attrs{Type: e.Type, Class: string(e.Class), Status: e.Status, Setting: e.Setting, Facility: e.Facility})
	if err != nil {
		panic(fmt.Sprintf("index: encoding attributes: %v", err))
	}
	return b
}

func decodeAttrs(b []byte) (Attrs, error) {
	var a Attrs
	if err := decMode.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("patient index value: %w", err)
	}
	return a, nil
}

// patientWire is the stored CBOR form of a Patient, read on every publish.
type patientWire struct {
	_            struct{} `cbor:",toarray"`
	ID           string
	Family       string
	Given        []string
	BirthDate    string
	Gender       string
	HomeRegion   string
	Homes        []homeWire
	Deceased     string
	ConsentGiven bool
	ConsentAt    int64
	MergedInto   string
	Merged       []string
	Updated      int64
}

type homeWire struct {
	_      struct{} `cbor:",toarray"`
	Region string
	From   int64
}

func encodePatient(p *Patient) []byte {
	w := patientWire{ID: p.ID, Family: p.Family, Given: p.Given, BirthDate: p.BirthDate, Gender: p.Gender, HomeRegion: p.HomeRegion,
		Deceased: p.Deceased, ConsentGiven: p.Consent.Given, ConsentAt: wireTime(p.Consent.At), MergedInto: p.MergedInto,
		Merged: p.Merged, Updated: wireTime(p.Updated)}
	for _, h := range p.Homes {
		w.Homes = append(w.Homes, homeWire{Region: h.Region, From: wireTime(h.From)})
	}
	b, err := encMode.Marshal(&w)
	if err != nil {
		panic(fmt.Sprintf("index: encoding patient: %v", err))
	}
	return b
}

func decodePatient(b []byte) (Patient, error) {
	var w patientWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return Patient{}, fmt.Errorf("patient record: %w", err)
	}
	p := Patient{ID: w.ID, Family: w.Family, Given: w.Given, BirthDate: w.BirthDate, Gender: w.Gender, HomeRegion: w.HomeRegion,
		Deceased: w.Deceased, Consent: Consent{Given: w.ConsentGiven, At: fromWireTime(w.ConsentAt)}, MergedInto: w.MergedInto,
		Merged: w.Merged, Updated: fromWireTime(w.Updated)}
	for _, h := range w.Homes {
		p.Homes = append(p.Homes, HomeChange{Region: h.Region, From: fromWireTime(h.From)})
	}
	return p, nil
}
