package index

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// Command types of the registry and the document index.
const (
	TypePutPatient  = "index.patient.put"
	TypeConsent     = "index.patient.consent"
	TypeDeceased    = "index.patient.deceased"
	TypeMerge       = "index.patient.merge"
	TypePublish     = "index.doc.publish"
	TypeUpdateEntry = "index.doc.update"
	TypeWithdraw    = "index.doc.withdraw"
)

const version1 uint16 = 1

// version2 is TypePublish's version for an entry that carries its author
// organisation's identifier (27 CBOR fields; version 1 has the first 25).
// A node that knows only version 1 stops at it rather than refuse it
// while the others index it.
const version2 uint16 = 2

// Key layout. Every key starts with "ix/"; the parts after a prefix are
// separated by 0x00, which no id or code may contain.
var (
	patientPrefix = []byte("ix/p/") // + patient id -> Patient
	entryPrefix   = []byte("ix/e/") // + entry id -> Entry
	chainPrefix   = []byte("ix/c/") // + chain id -> current entry id
	resPrefix     = []byte("ix/r/") // + FHIR resource id -> entry id
	// Patient indexes: ix/px/<name>/<value>\x00<patient id> -> empty.
	patientFamily = "fam"
	patientBirth  = "bd"
	// Secondary indexes: ix/x/<name>/<value>\x00<created>\x00<entry id>.
	// Every clinician's query is about one patient (MHD requires it), so
	// the patient index keeps the version's type, class, status, setting
	// and facility in its value (Attrs) and serves those filters and date
	// ranges without reading other patients' keys or non-matching entries;
	// the custodian index lists a region's own versions.
	byPatient   = "pat"
	byCustodian = "custodian"
)

func patientKey(id string) []byte { return append(bytes.Clone(patientPrefix), id...) }
func entryKey(id string) []byte   { return append(bytes.Clone(entryPrefix), id...) }
func chainKey(id string) []byte   { return append(bytes.Clone(chainPrefix), id...) }
func resKey(rid string) []byte    { return append(bytes.Clone(resPrefix), rid...) }

func patientIndexKey(name, value, id string) []byte {
	k := []byte("ix/px/" + name + "/" + value)
	k = append(k, 0)
	return append(k, id...)
}

// patientIndexValues are the search keys of a patient: the family name
// folded to lower case (FHIR string search matches its start, ignoring
// case) and the birth date.
func patientIndexValues(p *Patient) [][2]string {
	var out [][2]string
	if p.Family != "" {
		out = append(out, [2]string{patientFamily, FoldName(p.Family)})
	}
	if p.BirthDate != "" {
		out = append(out, [2]string{patientBirth, p.BirthDate})
	}
	return out
}

// indexPrefix is the prefix of one secondary index value.
func indexPrefix(name, value string) []byte {
	k := []byte("ix/x/" + name + "/")
	k = append(k, value...)
	return append(k, 0)
}

// timeKey orders by time: fixed-width UTC, nanoseconds.
func timeKey(t time.Time) string { return t.UTC().Format("20060102150405.000000000") }

func indexKey(name, value string, e *Entry) []byte {
	k := indexPrefix(name, value)
	k = append(k, timeKey(e.Created)...)
	k = append(k, 0)
	return append(k, e.ID...)
}

// setIndexes writes the secondary index keys of a version.
func setIndexes(tx *consensus.Tx, e *Entry) {
	tx.Set(indexKey(byPatient, e.Patient, e), attrsOf(e))
	tx.Set(indexKey(byCustodian, e.Custodian, e), nil)
}

// Machine is the registry and document index state machine.
type Machine struct{}

// New returns the state machine; register it with Register.
func New() *Machine { return &Machine{} }

// Register routes the index command types to r (a consensus node).
func (m *Machine) Register(r interface {
	Register(typ string, h consensus.Handler) error
}) error {
	for _, t := range []string{TypePutPatient, TypeConsent, TypeDeceased, TypeMerge, TypePublish, TypeUpdateEntry, TypeWithdraw, TypeAudit} {
		if err := r.Register(t, m); err != nil {
			return err
		}
	}
	return nil
}

// SupportsVersion implements consensus.VersionedHandler.
func (m *Machine) SupportsVersion(typ string, v uint16) bool {
	return v == version1 || typ == TypePublish && v == version2
}

func command(typ string, v any) (consensus.Command, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return consensus.Command{}, err
	}
	return consensus.Command{Type: typ, Version: version1, Payload: b}, nil
}

// PutPatient registers a patient or updates the demographics and home
// region; a new home region is appended to the history, and nothing in
// the document index moves.
func PutPatient(p Patient) (consensus.Command, error) {
	if err := p.validate(); err != nil {
		return consensus.Command{}, err
	}
	return command(TypePutPatient, p)
}

// PutPatientIf is PutPatient applied only if the record is still as the
// access policy judged it: not registered (cur nil), or registered with
// the same home region. Otherwise the command is refused as a conflict,
// so a decision never holds for a record that changed in between.
func PutPatientIf(p Patient, cur *Patient) (consensus.Command, error) {
	if err := p.validate(); err != nil {
		return consensus.Command{}, err
	}
	home := ""
	if cur != nil {
		home = cur.HomeRegion
	}
	return command(TypePutPatient, patientPut{Patient: p, IfHome: &home})
}

// patientPut is the payload of TypePutPatient: the record, and the home
// region the write was judged on ("" for none: not registered).
type patientPut struct {
	Patient
	IfHome *string `json:"if_home,omitempty"`
}

// checkHome refuses a registry write judged on a record that has changed.
func checkHome(want *string, p Patient, exists bool) error {
	switch {
	case want == nil:
		return nil
	case *want == "" && exists:
		return consensus.Errorf(consensus.CodeConflict, "patient %s was registered meanwhile", p.ID)
	case *want != "" && !exists:
		return consensus.Errorf(consensus.CodeNotFound, "patient %s is not registered", p.ID)
	case exists && p.HomeRegion != *want:
		return consensus.Errorf(consensus.CodeConflict, "the home region of patient %s changed meanwhile; read it again", p.ID)
	}
	return nil
}

// ConsentChange gives or withdraws consent to consultation.
type ConsentChange struct {
	Patient string `json:"patient"`
	Given   bool   `json:"given"`
}

// SetConsent returns the command recording a consent change.
func SetConsent(c ConsentChange) (consensus.Command, error) { return command(TypeConsent, c) }

// Death records a patient's death.
type Death struct {
	Patient string `json:"patient"`
	Date    string `json:"date"` // YYYY-MM-DD
}

// SetDeceased returns the command recording a death.
func SetDeceased(d Death) (consensus.Command, error) { return command(TypeDeceased, d) }

// MergeRequest merges a duplicate identity into the surviving one.
type MergeRequest struct {
	Survivor string `json:"survivor"`
	Merged   string `json:"merged"`
	// The home regions the merge was judged on; when set, the merge is
	// refused as a conflict if either identity has moved since.
	IfSurvivorHome *string `json:"if_survivor_home,omitempty"`
	IfMergedHome   *string `json:"if_merged_home,omitempty"`
}

// Merge returns the command that merges two identities: the merged one
// points to the survivor, and every index entry of the merged patient is
// re-pointed to the survivor, all in one entry.
func Merge(r MergeRequest) (consensus.Command, error) { return command(TypeMerge, r) }

// Publish returns the command that indexes a new document version. Its
// payload and its answer are the entry in CBOR (EncodeEntry, DecodeEntry):
// the answer carries what the index set (status, chain, version, time).
func Publish(e Entry) (consensus.Command, error) {
	if err := e.validate(); err != nil {
		return consensus.Command{}, err
	}
	v := version1
	if e.AuthorOrgSystem != "" || e.AuthorOrgID != "" {
		v = version2
	}
	return consensus.Command{Type: TypePublish, Version: v, Payload: EncodeEntry(&e)}, nil
}

// EntryUpdate changes the metadata of a version in place: its events
// (blinding: add P99, or P00 to show it again) and confidentiality.
type EntryUpdate struct {
	ID              string   `json:"id"`
	Events          []string `json:"events"`
	Confidentiality string   `json:"confidentiality,omitempty"`
	// The producer's metadata (the FSE gateway's metadata update); empty
	// fields keep their values.
	Setting      string    `json:"setting,omitempty"`
	Facility     string    `json:"facility,omitempty"`
	ServiceStart time.Time `json:"service_start,omitzero"`
	ServiceStop  time.Time `json:"service_stop,omitzero"`
}

// UpdateEntry returns the metadata update command.
func UpdateEntry(u EntryUpdate) (consensus.Command, error) { return command(TypeUpdateEntry, u) }

// Withdraw marks a version entered-in-error.
func Withdraw(id string) (consensus.Command, error) {
	return command(TypeWithdraw, map[string]string{"id": id})
}

func invalid(format string, args ...any) error {
	return consensus.Errorf(consensus.CodeInvalid, format, args...)
}

func putPatient(tx *consensus.Tx, p *Patient) { tx.Set(patientKey(p.ID), encodePatient(p)) }

// putEntry stores e and returns its encoding (also the commands' answer).
func putEntry(tx *consensus.Tx, e *Entry) []byte {
	b := EncodeEntry(e)
	tx.Set(entryKey(e.ID), b)
	return b
}

func put(tx *consensus.Tx, k []byte, v any) {
	b, _ := json.Marshal(v)
	tx.Set(k, b)
}

// now is the entry's time by the leader's clock, the same on every
// replica.

// Apply implements consensus.Handler.
func (m *Machine) Apply(tx *consensus.Tx, cmd consensus.Command) ([]byte, error) {
	if !m.SupportsVersion(cmd.Type, cmd.Version) {
		return nil, fmt.Errorf("%s version %d is not supported by this node: upgrade it", cmd.Type, cmd.Version)
	}
	switch cmd.Type {
	case TypePutPatient:
		return m.applyPutPatient(tx, cmd.Payload)
	case TypeConsent:
		return m.applyConsent(tx, cmd.Payload)
	case TypeDeceased:
		return m.applyDeceased(tx, cmd.Payload)
	case TypeMerge:
		return m.applyMerge(tx, cmd.Payload)
	case TypePublish:
		return m.applyPublish(tx, cmd.Payload)
	case TypeUpdateEntry:
		return m.applyUpdate(tx, cmd.Payload)
	case TypeWithdraw:
		return m.applyWithdraw(tx, cmd.Payload)
	case TypeAudit:
		return m.applyAudit(tx, cmd.Payload)
	}
	return nil, invalid("unknown index command %q", cmd.Type)
}

func (m *Machine) applyPutPatient(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var put patientPut
	if err := consensus.DecodeJSON(payload, &put); err != nil {
		return nil, err
	}
	p := put.Patient
	if err := p.validate(); err != nil {
		return nil, invalid("%v", err)
	}
	at := tx.Now()
	old, exists, err := GetPatient(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if err := checkHome(put.IfHome, old, exists); err != nil {
		return nil, err
	}
	if exists && old.MergedInto != "" {
		return nil, consensus.Errorf(consensus.CodeConflict, "patient %s was merged into %s", p.ID, old.MergedInto)
	}
	// What only commands change is kept from the stored record.
	if exists {
		p.Homes, p.Consent, p.Deceased, p.Merged = old.Homes, old.Consent, old.Deceased, old.Merged
	} else {
		p.Homes, p.Consent, p.Deceased, p.Merged, p.MergedInto = nil, Consent{}, "", nil, ""
	}
	if len(p.Homes) == 0 || p.Homes[len(p.Homes)-1].Region != p.HomeRegion {
		p.Homes = append(p.Homes, HomeChange{Region: p.HomeRegion, From: at})
	}
	p.Updated = at
	if exists {
		for _, iv := range patientIndexValues(&old) {
			tx.Delete(patientIndexKey(iv[0], iv[1], old.ID))
		}
	}
	for _, iv := range patientIndexValues(&p) {
		tx.Set(patientIndexKey(iv[0], iv[1], p.ID), nil)
	}
	putPatient(tx, &p)
	return json.Marshal(p)
}

func (m *Machine) livePatient(tx *consensus.Tx, id string) (Patient, error) {
	p, ok, err := GetPatient(tx, id)
	switch {
	case err != nil:
		return p, err
	case !ok:
		return p, consensus.Errorf(consensus.CodeNotFound, "patient %s is not registered", id)
	case p.MergedInto != "":
		return p, consensus.Errorf(consensus.CodeConflict, "patient %s was merged into %s", id, p.MergedInto)
	}
	return p, nil
}

func (m *Machine) applyConsent(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var c ConsentChange
	if err := consensus.DecodeJSON(payload, &c); err != nil {
		return nil, err
	}
	p, err := m.livePatient(tx, c.Patient)
	if err != nil {
		return nil, err
	}
	p.Consent = Consent{Given: c.Given, At: tx.Now()}
	p.Updated = p.Consent.At
	putPatient(tx, &p)
	return json.Marshal(p)
}

func (m *Machine) applyDeceased(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var d Death
	if err := consensus.DecodeJSON(payload, &d); err != nil {
		return nil, err
	}
	if _, err := time.Parse(time.DateOnly, d.Date); err != nil || !dateRe.MatchString(d.Date) {
		return nil, invalid("date %q: want YYYY-MM-DD", d.Date)
	}
	p, err := m.livePatient(tx, d.Patient)
	if err != nil {
		return nil, err
	}
	p.Deceased, p.Updated = d.Date, tx.Now()
	putPatient(tx, &p)
	return json.Marshal(p)
}

// applyMerge merges one identity into another and re-points every index
// entry of the merged one, in this one command: a reader sees either
// none of it or all of it.
func (m *Machine) applyMerge(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var r MergeRequest
	if err := consensus.DecodeJSON(payload, &r); err != nil {
		return nil, err
	}
	if r.Survivor == r.Merged {
		return nil, invalid("a patient cannot be merged into itself")
	}
	surv, err := m.livePatient(tx, r.Survivor)
	if err != nil {
		return nil, err
	}
	dup, err := m.livePatient(tx, r.Merged)
	if err != nil {
		return nil, err
	}
	if err := checkHome(r.IfSurvivorHome, surv, true); err != nil {
		return nil, err
	}
	if err := checkHome(r.IfMergedHome, dup, true); err != nil {
		return nil, err
	}
	at := tx.Now()
	var ids []string
	err = tx.Iterate(indexPrefix(byPatient, dup.ID), func(k, _ []byte) error {
		ids = append(ids, string(k[bytes.LastIndexByte(k, 0)+1:]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		e, ok, err := GetEntry(tx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("index entry %s of patient %s is missing", id, dup.ID)
		}
		tx.Delete(indexKey(byPatient, e.Patient, &e))
		e.Patient = surv.ID
		tx.Set(indexKey(byPatient, e.Patient, &e), attrsOf(&e))
		putEntry(tx, &e)
	}
	if err := moveMarkers(tx, dup.ID, surv.ID); err != nil {
		return nil, err
	}
	dup.MergedInto, dup.Updated = surv.ID, at
	surv.Merged = append(surv.Merged, append([]string{dup.ID}, dup.Merged...)...)
	// The survivor keeps its own consent; a withdrawal on either side wins.
	if dup.Consent.At.After(surv.Consent.At) && !dup.Consent.Given {
		surv.Consent = dup.Consent
	}
	surv.Updated = at
	putPatient(tx, &dup)
	putPatient(tx, &surv)
	return json.Marshal(map[string]any{"survivor": surv.ID, "merged": dup.ID, "entries": len(ids)})
}

func (m *Machine) applyPublish(tx *consensus.Tx, payload []byte) ([]byte, error) {
	e, err := DecodeEntry(payload)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	if err := e.validate(); err != nil {
		return nil, invalid("%v", err)
	}
	if err := custodianOnly(tx, e.Custodian); err != nil {
		return nil, err
	}
	if _, exists, err := tx.Get(entryKey(e.ID)); err != nil {
		return nil, err
	} else if exists {
		return nil, consensus.Errorf(consensus.CodeAlreadyExists, "document %s is already indexed", e.ID)
	}
	p, err := m.livePatient(tx, e.Patient)
	if err != nil {
		return nil, err
	}
	e.Patient = p.ID
	e.Status, e.Indexed = StatusCurrent, tx.Now()
	e.Chain, e.Version = e.ID, 1
	if e.Replaces != "" {
		old, ok, err := GetEntry(tx, e.Replaces)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			return nil, consensus.Errorf(consensus.CodeNotFound, "document %s to replace is not indexed", e.Replaces)
		case old.Status != StatusCurrent:
			return nil, consensus.Errorf(consensus.CodeConflict, "document %s is %s: only the current version of a document can be replaced", old.ID, old.Status)
		case old.Patient != e.Patient:
			return nil, consensus.Errorf(consensus.CodeConflict, "document %s belongs to another patient", old.ID)
		case old.Custodian != e.Custodian:
			return nil, consensus.Errorf(consensus.CodeForbidden, "document %s is kept by region %s", old.ID, old.Custodian)
		}
		setStatus(tx, &old, StatusSuperseded)
		e.Chain, e.Version = old.Chain, old.Version+1
	}
	for _, rel := range []string{e.Appends, e.Transforms} {
		if rel == "" {
			continue
		}
		if _, ok, err := tx.Get(entryKey(rel)); err != nil {
			return nil, err
		} else if !ok {
			return nil, consensus.Errorf(consensus.CodeNotFound, "related document %s is not indexed", rel)
		}
	}
	if err := countPublish(tx, &e); err != nil {
		return nil, err
	}
	b := putEntry(tx, &e)
	tx.Set(resKey(ResourceID(e.ID)), []byte(e.ID))
	tx.Set(chainKey(e.Chain), []byte(e.ID))
	setIndexes(tx, &e)
	return b, nil
}

// custodianOnly refuses a change to a region's documents proposed by
// another region's node: only the custodian's repository publishes,
// updates or withdraws them. (Entries of the log format without an origin
// predate the rule.)
func custodianOnly(tx *consensus.Tx, custodian string) error {
	if o := tx.Origin(); o != "" && o != custodian {
		return consensus.Errorf(consensus.CodeForbidden, "documents of region %s are changed by that region's node, not by region %s", custodian, o)
	}
	return nil
}

// setStatus changes a stored version's status and the attributes its
// patient index key carries.
func setStatus(tx *consensus.Tx, e *Entry, status string) {
	e.Status = status
	tx.Set(indexKey(byPatient, e.Patient, e), attrsOf(e))
	putEntry(tx, e)
}

func (m *Machine) entry(tx *consensus.Tx, id string) (Entry, error) {
	e, ok, err := GetEntry(tx, id)
	if err != nil {
		return e, err
	}
	if !ok {
		return e, consensus.Errorf(consensus.CodeNotFound, "document %s is not indexed", id)
	}
	return e, nil
}

func (m *Machine) applyUpdate(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var u EntryUpdate
	if err := consensus.DecodeJSON(payload, &u); err != nil {
		return nil, err
	}
	if err := validEvents(u.Events); err != nil {
		return nil, invalid("%v", err)
	}
	if u.Confidentiality != "" && !confLevel[u.Confidentiality] {
		return nil, invalid("confidentiality %q: want N, R or V", u.Confidentiality)
	}
	e, err := m.entry(tx, u.ID)
	if err != nil {
		return nil, err
	}
	if err := custodianOnly(tx, e.Custodian); err != nil {
		return nil, err
	}
	if e.Status == StatusEnteredErr {
		return nil, consensus.Errorf(consensus.CodeConflict, "document %s was withdrawn", e.ID)
	}
	e.Events = slices.Clone(u.Events)
	if u.Confidentiality != "" {
		e.Confidentiality = u.Confidentiality
	}
	before := attrsOf(&e)
	if u.Setting != "" {
		e.Setting = u.Setting
	}
	if u.Facility != "" {
		e.Facility = u.Facility
	}
	if !u.ServiceStart.IsZero() {
		e.ServiceStart = u.ServiceStart
	}
	if !u.ServiceStop.IsZero() {
		e.ServiceStop = u.ServiceStop
	}
	if err := e.validate(); err != nil {
		return nil, invalid("%v", err)
	}
	// The patient index carries setting and facility: keep it in step.
	if after := attrsOf(&e); !bytes.Equal(after, before) {
		tx.Set(indexKey(byPatient, e.Patient, &e), after)
	}
	return putEntry(tx, &e), nil
}

func (m *Machine) applyWithdraw(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var w struct {
		ID string `json:"id"`
	}
	if err := consensus.DecodeJSON(payload, &w); err != nil {
		return nil, err
	}
	e, err := m.entry(tx, w.ID)
	if err != nil {
		return nil, err
	}
	if err := custodianOnly(tx, e.Custodian); err != nil {
		return nil, err
	}
	if e.Status == StatusEnteredErr {
		return EncodeEntry(&e), nil // already withdrawn
	}
	wasCurrent := e.Status == StatusCurrent
	setStatus(tx, &e, StatusEnteredErr)
	// Withdrawing the current version makes the one it replaced current
	// again, so the chain keeps exactly one current version while any
	// version stands.
	if wasCurrent && e.Replaces != "" {
		prev, err := m.entry(tx, e.Replaces)
		if err != nil {
			return nil, err
		}
		if prev.Status == StatusSuperseded {
			setStatus(tx, &prev, StatusCurrent)
			tx.Set(chainKey(e.Chain), []byte(prev.ID))
		}
	}
	return EncodeEntry(&e), nil
}

var _ consensus.VersionedHandler = (*Machine)(nil)
