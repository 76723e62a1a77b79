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

// custodian is region 030's side of facts searches over a real index
// replica and the facts kept: apply writes to the replica, ask is a
// clinician's search for a patient's Observations.
type custodian struct {
	t     *testing.T
	node  *consensus.Node
	kept  factsByPatient
	audit *countingAudit
	api   *API
}

func newCustodian(t *testing.T) *custodian {
	c := &custodian{t: t, node: consensustest.NewReplica(t, index.New()), kept: factsByPatient{}, audit: &countingAudit{}}
	c.api = New(Deps{Region: "030", Facts: c.kept, Audit: c.audit, Read: func(ctx context.Context, fn func(index.Reader) error) error {
		_, err := c.node.Read(ctx, consensus.Local, fn)
		return err
	}})
	return c
}

func (c *custodian) apply(cmd consensus.Command, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.node.Apply(context.Background(), cmd); err != nil {
		c.t.Fatal(err)
	}
}

// patient registers a patient of region 030.
func (c *custodian) patient(id string, consent bool) {
	c.t.Helper()
	c.apply(index.PutPatient(index.Patient{ID: id, Family: "Rossi", Given: []string{"Mario"}, BirthDate: "1980-01-01", Gender: "male", HomeRegion: "030"}))
	if consent {
		c.apply(index.SetConsent(index.ConsentChange{Patient: id, Given: true}))
	}
}

// publish indexes a LAB version of patient kept at 030 and keeps its facts.
func (c *custodian) publish(local, patient string, fs ...facts.Fact) string {
	c.t.Helper()
	sum := sha256.Sum256([]byte(local))
	e := index.Entry{ID: index.DocumentID("030", local), Patient: patient, Type: "11502-2", Class: "REF", Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		AuthorOrg: "030-ASST-01", Custodian: "030", Hash: hex.EncodeToString(sum[:]), Size: 10, MIME: "application/pdf"}
	c.apply(index.Publish(e))
	for _, f := range fs {
		c.kept[patient] = append(c.kept[patient], store.StoredFact{Doc: e.ID, Fact: f})
	}
	return e.ID
}

func (c *custodian) ask(patient string) answer {
	c.t.Helper()
	clinician := index.Caller{Subject: "DCTDCT70A01H501X", Role: "AAS", Purpose: index.PurposeTreatment, Region: "160"}
	ans, err := c.api.answer(context.Background(), clinician, patient, Query{Type: facts.Observation})
	if err != nil {
		c.t.Fatal(err)
	}
	return ans
}

func observation(seq int, effective string) facts.Fact {
	return facts.Fact{Seq: seq, Type: facts.Observation, Effective: effective,
		Code: []facts.Coding{{System: facts.SystemLOINC, Code: "718-7"}}, Resource: []byte(`{"resourceType":"Observation"}`)}
}

// After a merge the custodian judges the facts kept under the merged-away
// identity as the survivor's: a request naming the merged-away identity
// (whose consent is frozen as it was) gets nothing, and the survivor's
// consent decides.
func TestCustodianJudgesMergedIdentityAsSurvivor(t *testing.T) {
	c := newCustodian(t)
	survivor, dup := "CF:RSSMRA80A01H501U", "CF:MRTMTT25D09F205Z"
	c.patient(survivor, false)
	c.patient(dup, true)
	c.publish("lab-1", dup, observation(1, "2026-01-01"))
	c.apply(index.Merge(index.MergeRequest{Survivor: survivor, Merged: dup}))
	aud := c.audit
	ask := func(patient string) int { return len(c.ask(patient).Facts) }
	if n, m := ask(survivor), ask(dup); n != 0 || m != 0 || aud.n != 0 {
		t.Fatalf("no consent on the survivor: %d facts asked by the survivor, %d by the merged-away identity, %d audited; want none", n, m, aud.n)
	}
	c.apply(index.SetConsent(index.ConsentChange{Patient: survivor, Given: true}))
	if n, m := ask(survivor), ask(dup); n != 1 || m != 0 || aud.n != 1 {
		t.Fatalf("consent on the survivor: %d facts asked by the survivor, %d by the merged-away identity, %d audited; want 1, 0, 1", n, m, aud.n)
	}
}

// A patient with more facts than an answer holds gets the newest ones,
// marked truncated; only the versions answered are audited as read.
func TestCustodianAnswersTheNewestFacts(t *testing.T) {
	c := newCustodian(t)
	pt := "CF:RSSMRA80A01H501U"
	c.patient(pt, true)
	old := []facts.Fact{observation(1, "2001-01-01"), observation(2, "")}
	c.publish("lab-old", pt, old...)
	var recent []facts.Fact
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxFacts {
		recent = append(recent, observation(i+1, day.AddDate(0, 0, i).Format(time.DateOnly)))
	}
	// The old version's facts come first in the store's order.
	recentDoc := c.publish("lab-recent", pt, recent...)
	ans := c.ask(pt)
	if !ans.Truncated || len(ans.Facts) != maxFacts {
		t.Fatalf("%d facts, truncated %v; want the newest %d, truncated", len(ans.Facts), ans.Truncated, maxFacts)
	}
	for _, f := range ans.Facts {
		if f.Doc != recentDoc {
			t.Fatalf("answered %s's fact %d (%q), older than every one left out", f.Doc, f.Fact.Seq, f.Fact.Effective)
		}
	}
	if c.audit.n != 1 {
		t.Fatalf("%d audit records, want one", c.audit.n)
	}
}
