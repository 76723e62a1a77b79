package node

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// register writes, through n, a patient with their home region and
// their consent to consultation.
func register(t testing.TB, n *Node, pt synth.Patient, home string, consent bool) {
	t.Helper()
	pid := "CF:" + pt.CF
	for _, cmd := range []func() (consensus.Command, error){
		func() (consensus.Command, error) {
			return index.PutPatient(index.Patient{ID: pid, Family: pt.Family, Given: []string{pt.Given}, HomeRegion: home})
		},
		func() (consensus.Command, error) {
			return index.SetConsent(index.ConsentChange{Patient: pid, Given: consent})
		},
	} {
		c, err := cmd()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.cons.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// producer is an organisation's document-producing software registered
// at its region's node, with the gateway client it publishes through.
type producer struct {
	region, org string // the region, the organisation's structure code
	client      *gateway.Client
}

// producerAuthor is the codice fiscale of the producers' author.
const producerAuthor = "VRDGPP70A01F205X"

// producer registers, at region's node n, the software of the
// organisation orgName (structure code orgCode) as a producer, by the
// region's operator, and returns it, speaking with a token of the
// region's IdP for one of the organisation's clinicians.
func (f *fed) producer(n *Node, region, orgName, orgCode string) *producer {
	f.t.Helper()
	key, err := federation.GenerateIdPKey(filepath.Join(f.t.TempDir(), "producer.jwk"))
	if err != nil {
		f.t.Fatal(err)
	}
	pub, err := federation.PublicJWKS(key)
	if err != nil {
		f.t.Fatal(err)
	}
	url := "http://" + n.HTTPAddr()
	issuer := "lis." + orgCode + ".example"
	reg, _ := json.Marshal(map[string]any{"issuer": issuer, "organization": orgName, "keys": pub})
	operator := f.token(region, index.PurposeSysadmin, func(c *federation.Claims) { c.SubjectRole = "DSA" })
	if code, body := do(f.t, http.MethodPost, url+"/v1/producers", operator, "application/json", string(reg)); code != http.StatusOK {
		f.t.Fatalf("register the producer: %d %s", code, body)
	}
	bearer := f.token(region, index.PurposeTreatment, func(c *federation.Claims) {
		c.Subject, c.SubjectRole, c.Organization, c.Locality = producerAuthor, "PSS", orgName, orgCode
	})
	return &producer{region: region, org: orgCode, client: &gateway.Client{BaseURL: url, Bearer: bearer, Key: key, Issuer: issuer,
		Subject: producerAuthor, Role: "PSS", Region: region, Organization: orgName}}
}

// publishLab validates and publishes a synthetic lab report (the
// national LAB builder's CDA in a PDF) of the patient, written at the
// given time, and returns it with the PDF published.
func (p *producer) publishLab(t testing.TB, pt synth.Patient, local string, at time.Time) (synth.Document, []byte) {
	t.Helper()
	ctx := context.Background()
	kind, _ := synth.KindOf("11502-2")
	doc := synth.Document{Kind: kind, Region: p.region, LocalID: local, Patient: pt, AuthorCF: producerAuthor, Org: p.org, Time: at}
	pdf, err := synth.PDF(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := gateway.Request{Action: "CREATE", LOINC: kind.LOINC, PatientCF: pt.CF}
	if a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, req); err != nil || !a.OK() {
		t.Fatalf("validate %s: %v %v", local, a, err)
	}
	if a, err := p.client.Do(ctx, http.MethodPost, "/v1/documents", gateway.Publication(p.region, local, kind.Class), pdf, req); err != nil || a.Status != http.StatusCreated {
		t.Fatalf("publish %s: %v %v", local, a, err)
	}
	return doc, pdf
}
