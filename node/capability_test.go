package node

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/federation"
)

// capability is what one FHIR route stands for in a CapabilityStatement.
type capability struct{ resource, kind, code string } // kind: interaction | operation | system

// capabilityOf reads a route pattern the way FHIR does: /fhir alone is
// the system, /fhir/T the type, /fhir/T/{id} an instance,
// /fhir/T/{id}/_history/{vid} a version of it, $name an operation.
func capabilityOf(pattern string) (capability, bool) {
	method, path, _ := strings.Cut(pattern, " ")
	if path != "/fhir" && !strings.HasPrefix(path, "/fhir/") {
		return capability{}, false
	}
	parts := strings.Split(strings.TrimPrefix(strings.TrimPrefix(path, "/fhir"), "/"), "/")
	if parts[0] == "" {
		if method == http.MethodPost {
			return capability{"", "system", "transaction"}, true
		}
		return capability{"", "system", method}, true
	}
	if parts[0] == "metadata" {
		return capability{}, false
	}
	if last := parts[len(parts)-1]; strings.HasPrefix(last, "$") {
		return capability{parts[0], "operation", strings.TrimPrefix(last, "$")}, true
	}
	code := map[string]string{"GET": "search-type", "POST": "create"}[method]
	switch {
	case len(parts) == 2:
		code = map[string]string{"GET": "read", "PUT": "update", "DELETE": "delete"}[method]
	case len(parts) == 4 && parts[2] == "_history" && method == http.MethodGet:
		code = "vread"
	}
	return capability{parts[0], "interaction", code}, true
}

// The CapabilityStatement lists exactly what the node's routes serve:
// every FHIR route has its interaction or operation in the statement, and
// the statement names nothing no route serves.
func TestCapabilityStatementMatchesTheRoutes(t *testing.T) {
	f := newFed(t)
	n := f.add("030", federation.RoleVoter)
	code, body := do(t, "GET", "http://"+n.HTTPAddr()+"/fhir/metadata", "", "", "")
	if code != http.StatusOK {
		t.Fatalf("metadata: %d %s", code, body)
	}
	cs, err := fhir.UnmarshalCapabilityStatement([]byte(body))
	if err != nil || len(cs.Rest) != 1 {
		t.Fatalf("not a CapabilityStatement: %v", err)
	}
	declared := map[capability]bool{}
	for _, i := range cs.Rest[0].Interaction {
		declared[capability{"", "system", i.Code.Code()}] = true
	}
	for _, r := range cs.Rest[0].Resource {
		for _, i := range r.Interaction {
			declared[capability{r.Type.Code(), "interaction", i.Code.Code()}] = true
		}
		for _, o := range r.Operation {
			declared[capability{r.Type.Code(), "operation", o.Name}] = true
		}
	}
	served := map[capability]bool{}
	for _, p := range n.routes.Patterns() {
		if c, ok := capabilityOf(p); ok {
			served[c] = true
			if !declared[c] {
				t.Errorf("route %q is not in the CapabilityStatement (as %+v)", p, c)
			}
		}
	}
	for c := range declared {
		if !served[c] {
			t.Errorf("the CapabilityStatement declares %+v, which no route serves", c)
		}
	}
	// What the issue tracker and the README promise is there.
	for _, want := range []capability{
		{"Binary", "interaction", "read"}, {"Patient", "operation", "everything"}, {"DocumentReference", "operation", "blind"},
		{"DocumentReference", "operation", "unblind"}, {"Patient", "operation", "merge"}, {"Patient", "operation", "consent"},
		{"Patient", "interaction", "create"}, {"Patient", "interaction", "update"}, {"", "system", "transaction"},
	} {
		if !declared[want] {
			t.Errorf("the CapabilityStatement lacks %+v", want)
		}
	}
	if names := n.routes.Patterns(); !slices.IsSorted(names) || len(names) < 20 {
		t.Fatalf("routes: %v", names)
	}
	raw, _ := json.Marshal(cs)
	if !strings.Contains(string(raw), `"fhirVersion":"4.0.1"`) {
		t.Fatalf("statement %s", raw)
	}
}
