package index

import (
	"context"
	"errors"
	"testing"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// A registry write or merge carries the home regions it was judged on;
// the index refuses it if the record changed in between, so an access
// decision never holds for a record that moved.
func TestRegistryWritesHoldOnlyForTheRecordJudged(t *testing.T) {
	n := consensustest.NewReplica(t, New())
	apply := func(cmd consensus.Command, err error) error {
		if err != nil {
			return err
		}
		_, err = n.Apply(context.Background(), cmd)
		return err
	}
	mario := Patient{ID: "CF:RSSMRA80A01H501U", Family: "Rossi", HomeRegion: "030"}
	teo := Patient{ID: "CF:MRTMTT25D09F205Z", Family: "Moretti", HomeRegion: "150"}
	lombardia, campania := mario, teo
	moved := mario
	moved.HomeRegion = "160"
	tests := []struct {
		name string
		cmd  func() (consensus.Command, error)
		want error
	}{
		{"register, judged absent", func() (consensus.Command, error) { return PutPatientIf(mario, nil) }, nil},
		{"register again, judged absent", func() (consensus.Command, error) { return PutPatientIf(mario, nil) }, consensus.ErrConflict},
		{"register teo", func() (consensus.Command, error) { return PutPatientIf(teo, nil) }, nil},
		{"move, judged at 030", func() (consensus.Command, error) { return PutPatientIf(moved, &lombardia) }, nil},
		{"a write judged at 030 after the move", func() (consensus.Command, error) { return PutPatientIf(mario, &lombardia) }, consensus.ErrConflict},
		{"a write judged on a record that is not there", func() (consensus.Command, error) {
			return PutPatientIf(Patient{ID: "CF:LCNLVC95L47H501Q", HomeRegion: "030"}, &lombardia)
		}, consensus.ErrNotFound},
		{"a merge judged before the move", func() (consensus.Command, error) {
			return Merge(MergeRequest{Survivor: teo.ID, Merged: mario.ID, IfSurvivorHome: &campania.HomeRegion, IfMergedHome: &lombardia.HomeRegion})
		}, consensus.ErrConflict},
		{"a merge judged after it", func() (consensus.Command, error) {
			return Merge(MergeRequest{Survivor: teo.ID, Merged: mario.ID, IfSurvivorHome: &campania.HomeRegion, IfMergedHome: &moved.HomeRegion})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apply(tt.cmd())
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}
