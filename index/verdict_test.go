package index

import (
	"errors"
	"strings"
	"testing"
)

// The verification fails on a broken chain, on numbers missing from a
// region's sequence, and on any event this node's trail refused — even
// when it is the newest, which leaves no hole yet.
func TestAuditVerdict(t *testing.T) {
	broken := errors.New("batch 7: hash mismatch")
	for _, tc := range []struct {
		name     string
		v        AuditVerification
		chainErr error
		ok       bool
		says     string
	}{
		{"intact", AuditVerification{Region: "030"}, nil, true, ""},
		{"chain broken", AuditVerification{Region: "030"}, broken, false, "hash mismatch"},
		{"numbers missing", AuditVerification{Region: "030", Missing: map[string]uint64{"150": 2}}, nil, false, "regions [150]"},
		{"newest event quarantined", AuditVerification{Region: "030", Quarantined: 1}, nil, false, "region 030 holds 1 events the trail refused"},
		{"missing and quarantined", AuditVerification{Region: "030", Quarantined: 1, Missing: map[string]uint64{"030": 1}}, nil, false, "regions [030]; region 030 holds 1"},
		{"broken and quarantined", AuditVerification{Region: "030", Quarantined: 2}, broken, false, "hash mismatch; region 030 holds 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Verdict(tc.chainErr)
			if tc.v.OK != tc.ok || (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("ok %v, err %v; want ok %v saying %q", tc.v.OK, err, tc.ok, tc.says)
			}
		})
	}
}
