package node

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus/consensustest"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// The author organisation's rights over a blinded document, through the
// nodes' HTTP API: a hospital of Lombardia (structure code 030901,
// registered as producer under its name) publishes a lab report that its
// patient then blinds. Only a token of Lombardia's IdP with locality
// 030901 still reads it; a token carrying the hospital's name with another
// locality or none, or locality 030901 from another region's IdP, gets
// the same 404 as for a document that does not exist, and may not change
// its blinding.
func TestAuthorOrganisationRestsOnLocality(t *testing.T) {
	const (
		orgName = "ASST Santi Paolo e Carlo"
		orgCode = "030901"
	)
	f := newFed(t)
	lom := f.add("030", federation.RoleVoter)
	cam := f.add("150", federation.RoleVoter)
	lomURL, camURL := "http://"+lom.HTTPAddr(), "http://"+cam.HTTPAddr()

	pt := synth.NewPatient(rand.New(rand.NewPCG(6, 6)))
	register(t, lom, pt, "030", true)
	// The hospital's producer software, registered by Lombardia's
	// operator under the hospital's name; the CDA names its author
	// organisation by its structure code.
	doc, pdf := f.producer(lom, "030", orgName, orgCode).publishLab(t, pt, "author-1", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	rid := index.ResourceID(doc.ID())

	// The patient blinds it.
	patient := f.token("030", index.PurposePersonal, func(c *federation.Claims) { c.Subject, c.SubjectRole = pt.CF, index.RolePatient })
	if code, body := do(t, http.MethodPost, lomURL+"/fhir/DocumentReference/"+rid+"/$blind", patient, "", ""); code != http.StatusOK {
		t.Fatalf("the patient blinding: %d %s", code, body)
	}
	consensustest.Eventually(t, 10*time.Second, func() error {
		for _, n := range []*Node{lom, cam} {
			if _, ok := n.members.Members().View().IdP("030"); !ok {
				return errors.New("Lombardia's IdP keys not replicated yet")
			}
			if _, ok := n.members.Members().View().IdP("150"); !ok {
				return errors.New("Campania's IdP keys not replicated yet")
			}
		}
		// The patient sees the blinded version from Campania's replica.
		code, body := do(t, http.MethodGet, camURL+"/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|"+pt.CF, patient, "", "")
		if code != http.StatusOK || !strings.Contains(body, `"total":1`) {
			return fmt.Errorf("the patient's search at Campania: %d %s", code, body)
		}
		return nil
	}, "the blinded version replicated")

	clinician := func(region string, mutate func(*federation.Claims)) string {
		return f.token(region, index.PurposeTreatment, func(c *federation.Claims) {
			c.Subject, c.SubjectRole = "BNCLCU75A01H501Z", "AAS"
			mutate(c)
		})
	}
	absent := index.ResourceID(index.DocumentID("030", "never-published"))
	tests := []struct {
		name   string
		node   string
		token  string
		author bool
	}{
		{"Lombardia's IdP, the hospital's name, another locality", lomURL,
			clinician("030", func(c *federation.Claims) { c.Organization, c.Locality = orgName, "030555" }), false},
		{"Lombardia's IdP, the hospital's name, no locality", lomURL,
			clinician("030", func(c *federation.Claims) { c.Organization = orgName }), false},
		{"Campania's IdP, the hospital's locality and name", lomURL,
			clinician("150", func(c *federation.Claims) { c.Organization, c.Locality = orgName, orgCode }), false},
		{"Campania's IdP, the hospital's locality, at Campania's node", camURL,
			clinician("150", func(c *federation.Claims) { c.Organization, c.Locality = orgName, orgCode }), false},
		{"Lombardia's IdP, the hospital's locality", lomURL,
			clinician("030", func(c *federation.Claims) { c.Locality = orgCode }), true},
		{"Lombardia's IdP, the hospital's locality, at Campania's node (fetched from Lombardia)", camURL,
			clinician("030", func(c *federation.Claims) { c.Organization, c.Locality = "any name", orgCode }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, http.MethodGet, tt.node+"/fhir/Binary/"+rid, tt.token, "", "")
			if tt.author {
				if code != http.StatusOK || body != string(pdf) {
					t.Fatalf("the author organisation's read: %d, %d bytes", code, len(body))
				}
			} else {
				absentCode, absentBody := do(t, http.MethodGet, tt.node+"/fhir/Binary/"+absent, tt.token, "", "")
				if code != http.StatusNotFound || absentCode != http.StatusNotFound || body != absentBody {
					t.Fatalf("blinded document: %d (%d bytes); absent one: %d (%d bytes): not the same answer", code, len(body), absentCode, len(absentBody))
				}
			}
			// The search: the version is there for the author organisation
			// only.
			code, body = do(t, http.MethodGet, tt.node+"/fhir/DocumentReference?patient.identifier=http://hl7.it/sid/codiceFiscale|"+pt.CF, tt.token, "", "")
			if code != http.StatusOK || strings.Contains(body, rid) != tt.author {
				t.Fatalf("search: %d, lists the blinded version: %v, want %v: %s", code, strings.Contains(body, rid), tt.author, body)
			}
			// Blinding, at the custodian's node: to anyone but the author
			// organisation (and the patient) the document does not exist.
			if tt.author {
				return
			}
			code, body = do(t, http.MethodPost, lomURL+"/fhir/DocumentReference/"+rid+"/$unblind", tt.token, "", "")
			if code != http.StatusNotFound {
				t.Fatalf("$unblind: %d %s", code, body)
			}
		})
	}

	// The author organisation may change the blinding: it shows the
	// version again, and a clinician without its locality reads it.
	author := clinician("030", func(c *federation.Claims) { c.Locality = orgCode })
	if code, body := do(t, http.MethodPost, lomURL+"/fhir/DocumentReference/"+rid+"/$unblind", author, "", ""); code != http.StatusOK {
		t.Fatalf("the author organisation's $unblind: %d %s", code, body)
	}
	other := clinician("030", func(c *federation.Claims) { c.Organization = orgName })
	if code, body := do(t, http.MethodGet, lomURL+"/fhir/Binary/"+rid, other, "", ""); code != http.StatusOK || body != string(pdf) {
		t.Fatalf("a clinician with consent, after $unblind: %d, %d bytes", code, len(body))
	}
}
