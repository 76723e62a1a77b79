package index

import (
	"fmt"
	"maps"
	"slices"
)

// AuditVerification is a node's verdict on the replicated audit trail,
// as GET /v1/audit/verify answers it.
type AuditVerification struct {
	OK           bool   `json:"ok"`
	Region       string `json:"region"` // the node that recomputed the chain
	AppliedIndex uint64 `json:"applied_index"`
	Batches      int    `json:"batches"`
	Events       int    `json:"events"`
	Head         string `json:"head"`
	// Missing counts, per region, event numbers absent from the trail.
	Missing map[string]uint64 `json:"missing,omitempty"`
	// Spooled is how many of this node's events wait to be replicated.
	Spooled int `json:"spooled"`
	// Quarantined is how many of this node's events the trail refused for
	// good; they are kept in its spool directory.
	Quarantined int    `json:"quarantined,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Verdict sets OK and Error and returns what fails the verification: a
// broken chain (chainErr), numbers missing from a region's sequence, or
// events of this node the trail refused — even the newest one, whose
// number shows as missing only once a later event arrives.
func (v *AuditVerification) Verdict(chainErr error) error {
	err := chainErr
	if err == nil && len(v.Missing) > 0 {
		err = fmt.Errorf("the chain is intact but events are missing from the sequences of regions %v", slices.Sorted(maps.Keys(v.Missing)))
	}
	if v.Quarantined > 0 {
		q := fmt.Errorf("region %s holds %d events the trail refused, set aside in its audit spool (see its log)", v.Region, v.Quarantined)
		if err == nil {
			err = q
		} else {
			err = fmt.Errorf("%w; %v", err, q)
		}
	}
	v.OK = err == nil
	v.Error = ""
	if err != nil {
		v.Error = err.Error()
	}
	return err
}
