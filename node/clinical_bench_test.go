package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/synth"
)

// benchPublishLab registers a producer at region n and publishes docs
// synthetic lab reports of the patient through its gateway.
func benchPublishLab(b *testing.B, f *fed, n *Node, region string, pt synth.Patient, docs int) {
	b.Helper()
	ctx := context.Background()
	url := "http://" + n.HTTPAddr()
	key, err := federation.GenerateIdPKey(filepath.Join(b.TempDir(), "producer.jwk"))
	if err != nil {
		b.Fatal(err)
	}
	pub, err := federation.PublicJWKS(key)
	if err != nil {
		b.Fatal(err)
	}
	org := region + "901"
	issuer := "lis." + region + ".example"
	reg, _ := json.Marshal(map[string]any{"issuer": issuer, "organization": "Ospedale " + region, "keys": pub})
	operator := f.token(region, index.PurposeSysadmin, func(c *federation.Claims) { c.SubjectRole = "DSA" })
	if code, body := do(b, http.MethodPost, url+"/v1/producers", operator, "application/json", string(reg)); code != http.StatusOK {
		b.Fatalf("register the producer: %d %s", code, body)
	}
	bearer := f.token(region, index.PurposeTreatment, func(c *federation.Claims) {
		c.Subject, c.SubjectRole, c.Organization, c.Locality = "VRDGPP70A01F205X", "PSS", "Ospedale "+region, org
	})
	client := &gateway.Client{BaseURL: url, Bearer: bearer, Key: key, Issuer: issuer, Subject: "VRDGPP70A01F205X", Role: "PSS", Region: region, Organization: "Ospedale " + region}
	kind, _ := synth.KindOf("11502-2")
	for i := range docs {
		doc := synth.Document{Kind: kind, Region: region, LocalID: fmt.Sprintf("bench-lab-%d", i), Patient: pt, AuthorCF: "VRDGPP70A01F205X", Org: org,
			Time: time.Date(2026, 10, 1+i, 9, 0, 0, 0, time.UTC)}
		pdf, err := synth.PDF(doc)
		if err != nil {
			b.Fatal(err)
		}
		req := gateway.Request{Action: "CREATE", LOINC: kind.LOINC, PatientCF: pt.CF}
		if a, err := client.Do(ctx, http.MethodPost, "/v1/documents/validation", map[string]string{"activity": "VALIDATION"}, pdf, req); err != nil || !a.OK() {
			b.Fatalf("validate: %v %v", a, err)
		}
		if a, err := client.Do(ctx, http.MethodPost, "/v1/documents", gateway.Publication(region, doc.LocalID, kind.Class), pdf, req); err != nil || a.Status != http.StatusCreated {
			b.Fatalf("publish: %v %v", a, err)
		}
	}
}

// BenchmarkObservationsAcrossRegions is a clinician at Puglia's node
// asking for a patient's Observations, kept by three regions (Lombardia,
// Campania and Puglia itself: two lab reports each), over real nodes on
// loopback: one op is one search, answered merged. It reports the
// latency's median and 99th percentile.
func BenchmarkObservationsAcrossRegions(b *testing.B) {
	f := newFed(b)
	nodes := map[string]*Node{"030": f.add("030", federation.RoleVoter), "150": f.add("150", federation.RoleVoter), "160": f.add("160", federation.RoleVoter)}
	pt := synth.NewPatient(rand.New(rand.NewPCG(7, 19)))
	pid := "CF:" + pt.CF
	for _, cmd := range []func() (consensus.Command, error){
		func() (consensus.Command, error) {
			return index.PutPatient(index.Patient{ID: pid, Family: pt.Family, Given: []string{pt.Given}, HomeRegion: "030"})
		},
		func() (consensus.Command, error) {
			return index.SetConsent(index.ConsentChange{Patient: pid, Given: true})
		},
	} {
		c, err := cmd()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nodes["030"].cons.Apply(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	consensustest.Eventually(b, 30*time.Second, func() error {
		for code, n := range nodes {
			for _, idp := range []string{"030", "150", "160"} {
				if _, ok := n.members.Members().View().IdP(idp); !ok {
					return fmt.Errorf("%s does not know %s's IdP yet", code, idp)
				}
			}
		}
		return nil
	}, "IdP keys replicated")
	for _, region := range []string{"030", "150", "160"} {
		benchPublishLab(b, f, nodes[region], region, pt, 2)
	}
	clinician := f.token("160", index.PurposeTreatment, func(c *federation.Claims) { c.Subject, c.SubjectRole = "BNCLCU75A01H501Z", "AAS" })
	url := "http://" + nodes["160"].HTTPAddr() + "/fhir/Observation?patient=Patient/CF-" + pt.CF
	var want int
	consensustest.Eventually(b, 60*time.Second, func() error {
		code, body := do(b, http.MethodGet, url, clinician, "", "")
		var bundle struct {
			Total int `json:"total"`
			Entry []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
					Meta         struct {
						Tag []struct{ Code string } `json:"tag"`
					} `json:"meta"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &bundle) != nil {
			return fmt.Errorf("%d %.300s", code, body)
		}
		regions := map[string]bool{}
		for _, e := range bundle.Entry {
			if e.Resource.ResourceType == "OperationOutcome" {
				return fmt.Errorf("partial: %.300s", body)
			}
			for _, t := range e.Resource.Meta.Tag {
				regions[t.Code] = true
			}
		}
		if len(regions) != 3 {
			return fmt.Errorf("observations from %d regions", len(regions))
		}
		want = bundle.Total
		return nil
	}, "every region's observations")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		code, body := do(b, http.MethodGet, url, clinician, "", "")
		lat = append(lat, time.Since(start))
		if code != http.StatusOK || len(body) < 100 {
			b.Fatalf("%d %.300s", code, body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(want), "observations")
}
