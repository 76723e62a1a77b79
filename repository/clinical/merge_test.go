package clinical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/store"
)

// factsByPatient is a store's facts by the patient id they were kept
// under.
type factsByPatient map[string][]store.StoredFact

func (f factsByPatient) PatientFacts(ps []string, _ string, fn func(store.StoredFact) error) error {
	for _, p := range ps {
		for _, sf := range f[p] {
			if err := fn(sf); err != nil {
				return err
			}
		}
	}
	return nil
}

type countingAudit struct{ n int }

func (a *countingAudit) Record(_ context.Context, ev ...index.Event) error {
	a.n += len(ev)
	return nil
}

// After a merge the custodian judges the facts kept under the merged-away
// identity as the survivor's: a request naming the merged-away identity
// (whose consent is frozen as it was) gets nothing, and the survivor's
// consent decides.
func TestCustodianJudgesMergedIdentityAsSurvivor(t *testing.T) {
	node := consensustest.NewReplica(t, index.New())
	ctx := context.Background()
	apply := func(c consensus.Command, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	survivor, dup := "CF:RSSMRA80A01H501U", "CF:MRTMTT25D09F205Z"
	for _, id := range []string{survivor, dup} {
		apply(index.PutPatient(index.Patient{ID: id, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: "030"}))
	}
	apply(index.SetConsent(index.ConsentChange{Patient: dup, Given: true}))
	sum := sha256.Sum256([]byte("x"))
	e := index.Entry{ID: index.DocumentID("030", "lab-1"), Patient: dup, Type: "11502-2", Class: "REF", Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		AuthorOrg: "030-ASST-01", Custodian: "030", Hash: hex.EncodeToString(sum[:]), Size: 10, MIME: "application/pdf"}
	apply(index.Publish(e))
	apply(index.Merge(index.MergeRequest{Survivor: survivor, Merged: dup}))

	kept := factsByPatient{dup: {{Doc: e.ID, Fact: facts.Fact{Seq: 1, Type: facts.Observation,
		Code: []facts.Coding{{System: facts.SystemLOINC, Code: "718-7"}}, Resource: []byte(`{"resourceType":"Observation"}`)}}}}
	aud := &countingAudit{}
	a := New(Deps{Region: "030", Facts: kept, Audit: aud, Read: func(ctx context.Context, fn func(index.Reader) error) error {
		_, err := node.Read(ctx, consensus.Local, fn)
		return err
	}})
	clinician := index.Caller{Subject: "DCTDCT70A01H501X", Role: "AAS", Purpose: index.PurposeTreatment, Region: "160"}
	ask := func(patient string) int {
		t.Helper()
		ans, err := a.answer(ctx, clinician, patient, Query{Type: facts.Observation})
		if err != nil {
			t.Fatal(err)
		}
		return len(ans.Facts)
	}
	if n, m := ask(survivor), ask(dup); n != 0 || m != 0 || aud.n != 0 {
		t.Fatalf("no consent on the survivor: %d facts asked by the survivor, %d by the merged-away identity, %d audited; want none", n, m, aud.n)
	}
	apply(index.SetConsent(index.ConsentChange{Patient: survivor, Given: true}))
	if n, m := ask(survivor), ask(dup); n != 1 || m != 0 || aud.n != 1 {
		t.Fatalf("consent on the survivor: %d facts asked by the survivor, %d by the merged-away identity, %d audited; want 1, 0, 1", n, m, aud.n)
	}
}
