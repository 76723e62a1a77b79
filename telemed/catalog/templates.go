package catalog

// Templates: versioned care protocols a region writes once and others
// reuse (a teleassistance plan's activities, a televisit's protocol).
// Every version stays readable, since a plan made from one names it.
//
//	tm/t/<template id>                    -> Template (JSON): the latest version
//	tm/v/<template id>\x00<version, 8 digits> -> Template (JSON): each version
//	tm/u/<template id>\x00<region>        -> Adoption (JSON): the latest adoption by that region

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
)

// Command types of templates.
const (
	TypePutTemplate   = "telemed.template.put"
	TypeAdoptTemplate = "telemed.template.adopt"
)

var (
	templatePrefix         = []byte("tm/t/")
	templateVersionPrefix  = []byte("tm/v/")
	templateAdoptionPrefix = []byte("tm/u/")
	professionRE           = regexp.MustCompile(`^[a-z][a-z-]{1,31}$`)
)

func templateKey(id string) []byte { return append(bytes.Clone(templatePrefix), id...) }
func templateVersionKey(id string, v int) []byte {
	return fmt.Appendf(append(bytes.Clone(templateVersionPrefix), id...), "\x00%08d", v)
}
func templateAdoptionKey(id, region string) []byte {
	return append(append(append(bytes.Clone(templateAdoptionPrefix), id...), 0), region...)
}

// Template is one version of a care protocol.
type Template struct {
	// ID is "<region>-<local id>", naming the region that writes it.
	ID      string `json:"id"`
	Region  string `json:"region"`
	Version int    `json:"version"`
	// Type is the service it is a protocol of (teleassistenza, televisita…).
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Purpose    string     `json:"purpose,omitempty"`
	Activities []Activity `json:"activities"`
	Active     bool       `json:"active"`
	Updated    time.Time  `json:"updated"`
}

// Activity is one kind of session a plan holds.
type Activity struct {
	// Profession is who holds it: infermiere, fisioterapista, logopedista,
	// medico, psicologo…
	Profession  string `json:"profession"`
	Description string `json:"description"`
	// Sessions is how many the plan foresees; EveryDays how often.
	Sessions  int `json:"sessions"`
	EveryDays int `json:"every_days,omitempty"`
}

// Validate reports what makes a template unfit for the catalogue.
func (t Template) Validate() error {
	region, local, ok := cutID(t.ID)
	switch {
	case !ok || !federation.ValidRegionCode(region) || !localIDRE.MatchString(local):
		return fmt.Errorf("id %q: want <region code>-<local id> (letters, digits, '.', '-'; at most %d)", t.ID, maxServiceLocal)
	case region != t.Region || federation.RegionNames[t.Region] == "":
		return fmt.Errorf("id %q does not name a region that writes it", t.ID)
	case !slices.Contains(serviceTypes, t.Type):
		return fmt.Errorf("type %q: want one of %v", t.Type, serviceTypes)
	case t.Title == "" || len(t.Title) > maxName || len(t.Purpose) > 4096:
		return fmt.Errorf("title: want 1 to %d characters (purpose at most 4096)", maxName)
	case len(t.Activities) == 0 || len(t.Activities) > maxCodes:
		return fmt.Errorf("activities: want 1 to %d", maxCodes)
	}
	for i, a := range t.Activities {
		switch {
		case !professionRE.MatchString(a.Profession):
			return fmt.Errorf("activity %d: profession %q: want a lower-case word such as infermiere", i+1, a.Profession)
		case a.Description == "" || len(a.Description) > 1024:
			return fmt.Errorf("activity %d: description: want 1 to 1024 characters", i+1)
		case a.Sessions < 1 || a.Sessions > 1000 || a.EveryDays < 0 || a.EveryDays > 366:
			return fmt.Errorf("activity %d: want 1 to 1000 sessions, every 0 to 366 days", i+1)
		}
	}
	return nil
}

// PutTemplateRequest writes a new version of a template; IfVersion as
// for services.
type PutTemplateRequest struct {
	Template  Template `json:"template"`
	IfVersion int      `json:"if_version"`
}

// PutTemplate returns the command that records a template's new version.
func PutTemplate(r PutTemplateRequest) (consensus.Command, error) {
	if err := r.Template.Validate(); err != nil {
		return consensus.Command{}, err
	}
	return command(TypePutTemplate, r)
}

// AdoptTemplate returns the command that records a region's adoption of
// a template at its current version (AdoptRequest.Service names it).
func AdoptTemplate(r AdoptRequest) (consensus.Command, error) { return command(TypeAdoptTemplate, r) }

func (m *Machine) applyPutTemplate(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var r PutTemplateRequest
	if err := consensus.DecodeJSON(payload, &r); err != nil {
		return nil, err
	}
	t := r.Template
	if err := t.Validate(); err != nil {
		return nil, invalid("%v", err)
	}
	if err := fromRegion(tx, t.Region, "a template"); err != nil {
		return nil, err
	}
	cur, exists, err := GetTemplate(tx, t.ID, 0)
	switch {
	case err != nil:
		return nil, err
	case r.IfVersion == 0 && exists:
		return nil, consensus.Errorf(consensus.CodeAlreadyExists, "template %s exists (version %d); update it", t.ID, cur.Version)
	case r.IfVersion > 0 && !exists:
		return nil, consensus.Errorf(consensus.CodeNotFound, "template %s is not in the catalogue", t.ID)
	case exists && cur.Version != r.IfVersion:
		return nil, consensus.Errorf(consensus.CodeConflict, "template %s is at version %d, not %d: read it again", t.ID, cur.Version, r.IfVersion)
	}
	t.Version, t.Updated = cur.Version+1, tx.Now()
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	tx.Set(templateKey(t.ID), b)
	tx.Set(templateVersionKey(t.ID, t.Version), b)
	return b, nil
}

func (m *Machine) applyAdoptTemplate(tx *consensus.Tx, payload []byte) ([]byte, error) {
	var r AdoptRequest
	if err := consensus.DecodeJSON(payload, &r); err != nil {
		return nil, err
	}
	if err := fromRegion(tx, r.Region, "an adoption"); err != nil {
		return nil, err
	}
	t, ok, err := GetTemplate(tx, r.Service, 0)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, consensus.Errorf(consensus.CodeNotFound, "template %s is not in the catalogue", r.Service)
	case !t.Active:
		return nil, consensus.Errorf(consensus.CodeConflict, "template %s is retired", r.Service)
	case t.Region == r.Region:
		return nil, invalid("region %s writes template %s: there is nothing to adopt", r.Region, r.Service)
	case r.By == "" || len(r.By) > maxName:
		return nil, invalid("an adoption names the operator who made it")
	}
	a := Adoption{Service: t.ID, Version: t.Version, Region: r.Region, By: r.By, At: tx.Now()}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	tx.Set(templateAdoptionKey(t.ID, r.Region), b)
	return b, nil
}

// GetTemplate reads a template at a version (0: the latest).
func GetTemplate(r consensus.Reader, id string, version int) (Template, bool, error) {
	var t Template
	key := templateKey(id)
	if version > 0 {
		key = templateVersionKey(id, version)
	}
	b, ok, err := r.Get(key)
	if err != nil || !ok {
		return t, ok, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, false, fmt.Errorf("catalogue: template %s: %w", id, err)
	}
	return t, true, nil
}

// Templates lists the latest version of every template of a type ("":
// all), in id order.
func Templates(r consensus.Reader, typ string) ([]Template, error) {
	var out []Template
	err := r.Iterate(templatePrefix, func(k, v []byte) error {
		var t Template
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("catalogue: %s: %w", k, err)
		}
		if typ == "" || t.Type == typ {
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// TemplateUsable reports whether region may make plans from a template at
// a version: its own templates at any version, another region's at the
// version it adopted.
func TemplateUsable(r consensus.Reader, t Template, region string) (bool, error) {
	if t.Region == region {
		return true, nil
	}
	b, ok, err := r.Get(templateAdoptionKey(t.ID, region))
	if err != nil || !ok {
		return false, err
	}
	var a Adoption
	if err := json.Unmarshal(b, &a); err != nil {
		return false, fmt.Errorf("catalogue: adoption of %s: %w", t.ID, err)
	}
	return a.Version == t.Version, nil
}

// TemplateAdoptions lists a template's adoptions, by region.
func TemplateAdoptions(r consensus.Reader, id string) ([]Adoption, error) {
	var out []Adoption
	prefix := append(append(bytes.Clone(templateAdoptionPrefix), id...), 0)
	err := r.Iterate(prefix, func(k, v []byte) error {
		var a Adoption
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("catalogue: %s: %w", k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}
