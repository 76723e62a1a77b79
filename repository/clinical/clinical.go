// Package clinical serves the structured data regions derive from their
// documents: a patient's Observations, Conditions, AllergyIntolerances,
// MedicationStatements and MedicationRequests, Immunizations, Procedures
// and DiagnosticReports, searched on any node (GET /fhir/{type}?patient=),
// a patient summary across regions (Patient/{id}/$summary), and the
// protocol through which a node asks the regions that keep a patient's
// documents for their facts (/fsenet/facts/1.0.0).
//
// The data never leaves the region that keeps the document except to a
// caller the access policy allows (index.FactAccess, the same verdict as
// for the document's content), decided by the custodian on its own
// replica and again by the asking node on its own, and audited on both
// sides. A node asks only the regions its replica of the index says keep
// documents of the patient the caller may see, in parallel, each within
// its deadline; a region that does not answer is named in the answer.
package clinical

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/store"
)

// DefaultRegionDeadline bounds the wait for one region's answer.
const DefaultRegionDeadline = 5 * time.Second

// ExtSourceDocument is the extension that names, on every resource the
// API serves, the document version it was extracted from (Observation
// also names it in derivedFrom).
const ExtSourceDocument = "https://fsenet.it/fhir/StructureDefinition/source-document"

// Facts is the region's store of structured data.
type Facts interface {
	PatientFacts(patients []string, typ string, fn func(store.StoredFact) error) error
}

// Recorder makes audit events durable before a disclosure.
type Recorder interface {
	Record(ctx context.Context, events ...index.Event) error
}

// Deps are what the API needs from the node.
type Deps struct {
	Region    string
	PublicURL string
	Facts     Facts
	// Read runs fn on the local replica of the index.
	Read   func(ctx context.Context, fn func(index.Reader) error) error
	Caller func(*http.Request) (index.Caller, bool)
	// Verify checks the token another region's node forwards.
	Verify     func(token string) (index.Caller, error)
	Audit      Recorder
	Host       host.Host
	RegionPeer func(code string) (peer.ID, bool)
	// RegionDeadline bounds each region's answer (0: the default).
	RegionDeadline time.Duration
	// Rows are the region's population rows; Regions lists the member
	// regions a population question is asked of; MinK is the region's
	// minimum cell size (0: population.DefaultMinK); QuestionDeadline bounds
	// each region's answer to one (0: the default).
	Rows             Rows
	Regions          func() []string
	MinK             int
	QuestionDeadline time.Duration
	// Readings serves GET /fhir/Observation?category=telemonitoring: the
	// readings of a patient's telemonitoring devices, kept by their home
	// region (nil: not served here).
	Readings http.HandlerFunc
	Log      *slog.Logger
}

// API is the structured-data API of a node.
type API struct {
	d Deps
	// questions holds a token for each population question answered.
	questions chan struct{}
	// asked counts the regions asked, by region, kind and outcome.
	asked *prometheus.CounterVec
}

// Collectors are the API's metrics.
func (a *API) Collectors() []prometheus.Collector { return []prometheus.Collector{a.asked} }

// count records the outcome of asking a region.
func (a *API) count(region, kind string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
		a.d.Log.Debug("a region asked could not answer", "region", region, "kind", kind, "err", err)
	}
	a.asked.WithLabelValues(region, kind, outcome).Inc()
}

// New returns the API.
func New(d Deps) *API {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.RegionDeadline <= 0 {
		d.RegionDeadline = DefaultRegionDeadline
	}
	if d.QuestionDeadline <= 0 {
		d.QuestionDeadline = DefaultQuestionDeadline
	}
	return &API{d: d, questions: make(chan struct{}, maxQuestionsAtOnce),
		asked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fsenet_clinical_regions_asked_total",
			Help: "Regions this node asked for a patient's structured data (kind facts) or a population question (kind question), by region and outcome (ok, failed: unreachable, late, refused or malformed)."},
			[]string{"custodian", "kind", "outcome"})}
}

// Routes is where the API mounts its handlers.
type Routes interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register mounts the searches, the reads and $summary.
func (a *API) Register(mux Routes) {
	for _, typ := range facts.Types {
		mux.HandleFunc("GET /fhir/"+typ, func(w http.ResponseWriter, r *http.Request) { a.search(w, r, typ) })
		mux.HandleFunc("GET /fhir/"+typ+"/{id}", func(w http.ResponseWriter, r *http.Request) { a.read(w, r, typ) })
	}
	mux.HandleFunc("GET /fhir/Patient/{id}/$summary", a.summary)
	mux.HandleFunc("POST /v1/population/query", a.query)
}

// bearerOf is the request's bearer token, to forward to the regions
// asked on the caller's behalf, read as the node's authentication reads
// it (spaces around the token are not part of it).
func bearerOf(r *http.Request) (scheme, token string, ok bool) {
	scheme, token, ok = strings.Cut(r.Header.Get("Authorization"), " ")
	return scheme, strings.TrimSpace(token), ok
}

// resourceTypes are the FHIR resource types the API searches.
var resourceTypes = map[string]fhir.ResourceType{
	facts.Observation: fhir.ResourceTypeObservation, facts.DiagnosticReport: fhir.ResourceTypeDiagnosticReport,
	facts.Condition: fhir.ResourceTypeCondition, facts.AllergyIntolerance: fhir.ResourceTypeAllergyIntolerance,
	facts.MedicationStatement: fhir.ResourceTypeMedicationStatement, facts.MedicationRequest: fhir.ResourceTypeMedicationRequest,
	facts.Immunization: fhir.ResourceTypeImmunization, facts.Procedure: fhir.ResourceTypeProcedure,
}

// Capabilities declares what the API serves.
func (a *API) Capabilities(c *fhirres.Capabilities) {
	for _, typ := range facts.Types {
		c.Interactions(resourceTypes[typ], []fhir.TypeRestfulInteraction{fhir.TypeRestfulInteractionRead, fhir.TypeRestfulInteractionSearchType},
			fhirres.SearchParam{Name: "patient", Type: fhir.SearchParamTypeReference}, fhirres.SearchParam{Name: "code", Type: fhir.SearchParamTypeToken},
			fhirres.SearchParam{Name: "date", Type: fhir.SearchParamTypeDate}, fhirres.SearchParam{Name: "category", Type: fhir.SearchParamTypeToken},
			fhirres.SearchParam{Name: "status", Type: fhir.SearchParamTypeToken})
	}
	c.Operation(fhir.ResourceTypePatient, "summary")
}
