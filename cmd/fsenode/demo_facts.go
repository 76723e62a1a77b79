package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// demoQuestion is the population question the demo asks: the documents
// of each type per region in the last years, counted on distinct
// patients (every cell of the demo's few patients is suppressed: the
// point is to see that nothing about so few people leaves a region).
const demoQuestion = `{
  "resource": "DocumentReference",
  "code": {"system": "http://loinc.org", "codes": ["11502-2", "34105-7", "60591-5", "59258-4"]},
  "from": "2025-01-01", "to": "2027-01-01",
  "group_by": ["region", "code"],
  "measure": "count"
}
`

// factsScenario shows the migrant patient's documents as data: her lab
// results and diagnoses from every region that keeps them, her summary,
// and a population question of the national authority over every region.
func factsScenario(ctx context.Context, w io.Writer, dir string, to *demoProducer, pt synth.Patient) error {
	clinician, err := demoClinician(to)
	if err != nil {
		return err
	}
	var found struct {
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
	regions := map[string]bool{}
	err = demoEventually(ctx, func() error {
		code, b, err := demoCall(ctx, http.MethodGet, to.url+"/fhir/Observation?patient=Patient/CF-"+pt.CF+"&_count=200", clinician, "", nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK || json.Unmarshal(b, &found) != nil || found.Total == 0 {
			return fmt.Errorf("the Observations from %s: %d", to.region.Code, code)
		}
		for _, e := range found.Entry {
			for _, t := range e.Resource.Meta.Tag {
				regions[t.Code] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var kept []string
	for code := range regions {
		kept = append(kept, code)
	}
	fmt.Fprintf(w, "  6. her documents as data: %d Observations (results and findings) extracted by the region that keeps each document (%s), asked from %s:\n",
		found.Total, strings.Join(kept, ", "), to.region.Code)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Observation?patient=Patient/CF-%s\"\n", to.region.Code, to.region.Code, pt.CF)
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Condition?patient=Patient/CF-%s\"\n", to.region.Code, to.region.Code, pt.CF)
	fmt.Fprintf(w, "     and her summary across regions (problems, allergies, medications, recent results, vaccinations):\n")
	fmt.Fprintf(w, "       curl -H \"Authorization: Bearer $FSENET_%s_TOKEN\" \"$FSENET_%s_URL/fhir/Patient/CF-%s/\\$summary\"\n", to.region.Code, to.region.Code, pt.CF)

	// The authority's population question.
	qpath := filepath.Join(dir, "question-documents.json")
	if err := os.WriteFile(qpath, []byte(demoQuestion), 0o600); err != nil {
		return err
	}
	auth, err := demoAuthorityToken(dir)
	if err != nil {
		return err
	}
	code, b, err := demoCall(ctx, http.MethodPost, to.url+"/v1/population/query", auth, "application/json", []byte(demoQuestion))
	if err != nil {
		return err
	}
	var res struct {
		Result struct {
			Answered []string `json:"answered"`
			Cells    []struct {
				Suppressed bool `json:"suppressed"`
			} `json:"cells"`
		} `json:"result"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &res) != nil {
		return errors.New("the population question: " + http.StatusText(code))
	}
	suppressed := 0
	for _, c := range res.Result.Cells {
		if c.Suppressed {
			suppressed++
		}
	}
	fmt.Fprintf(w, "  7. the national authority asks every region how many documents of each type it keeps, without any record moving:\n")
	fmt.Fprintf(w, "     %d regions answered, %d cells, %d of them suppressed (fewer than 10 patients behind them: nothing about so few people leaves a region):\n",
		len(res.Result.Answered), len(res.Result.Cells), suppressed)
	fmt.Fprintf(w, "       go run ./cmd/fsectl --node $FSENET_%s_URL --token $FSENET_AUTHORITY_TOKEN query %s\n", to.region.Code, qpath)
	return nil
}

// demoAuthorityToken is a token of the national authority, as demo.env's.
func demoAuthorityToken(dir string) (string, error) {
	priv, err := federation.LoadPrivateKeyFile(filepath.Join(dir, "authority.key"))
	if err != nil {
		return "", err
	}
	ak, err := federation.AuthorityJWK(priv)
	if err != nil {
		return "", err
	}
	return federation.IssueToken(ak, federation.Claims{Issuer: federation.AuthorityIssuer, Subject: "BNCLCU75A01H501Z", Expiry: time.Now().Add(time.Hour),
		SubjectRole: "MDS", OrganizationID: "950", Organization: "Ministero della Salute", PurposeOfUse: index.PurposeSysadmin})
}
