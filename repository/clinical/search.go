package clinical

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirres"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/facts"
)

// found is a fact the caller may have, from the region that keeps its
// document.
type found struct {
	wireFact
	entry index.Entry
	from  time.Time // when it holds, for sorting (zero: unknown)
}

// regionFailure names a region whose facts are missing and why.
type regionFailure struct {
	region, reason string
}

// gathered is a patient's facts from every region.
type gathered struct {
	patient index.Patient
	facts   []found
	failed  []regionFailure
}

// search is GET /fhir/{type}?patient=...: a patient's facts of one type
// from every region that keeps documents of theirs, merged, sorted (the
// newest first unless _sort=date) and paged with absolute links.
func (a *API) search(w http.ResponseWriter, r *http.Request, typ string) {
	if typ == facts.Observation && a.d.Readings != nil && isReadings(r.URL.Query()) {
		a.d.Readings(w, r)
		return
	}
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	strict := strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "handling=strict")
	rid, q, pg, err := parseSearch(typ, r.URL.Query(), strict)
	if err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrInvalid, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "), err))
		return
	}
	g, err := a.gather(r, c, rid, q)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	sortFound(g.facts, pg.Ascending)
	a.writeSearchset(w, r, g, pg)
}

// isReadings tells a search of telemonitoring readings (served by the
// patient's home region) from one of documents' data.
func isReadings(v url.Values) bool {
	return v.Get("category") == "telemonitoring" || v.Has("_device")
}

// gather asks every region that keeps documents of the patient the
// caller may see for their facts, in parallel, each within the region
// deadline, and audits what the answer discloses. A patient that does
// not exist, or that the caller may not see, has no facts.
func (a *API) gather(r *http.Request, c index.Caller, rid string, q Query) (*gathered, error) {
	g := &gathered{}
	entries, err := a.visible(r.Context(), c, rid, q, g)
	if err != nil || g.patient.ID == "" {
		return g, err
	}
	a.askRegions(r, c, entries, q, g)
	docs := make([]string, 0, len(g.facts))
	override := false
	for _, f := range g.facts {
		docs = append(docs, f.Doc)
		override = override || index.FactAccess(c, g.patient, f.entry).Override
	}
	if err := a.audit(r.Context(), c, g.patient.ID, auditWhat(q), docs, override); err != nil {
		return nil, httpapi.Wrap(httpapi.ErrUnavailable, "the access could not be audited, so nothing is disclosed; retry", err)
	}
	return g, nil
}

// visible reads, from this node's replica, the patient (into g, left
// empty when absent or not for this caller) and the versions of theirs
// whose facts the caller may have, by id.
func (a *API) visible(ctx context.Context, c index.Caller, rid string, q Query, g *gathered) (map[string]index.Entry, error) {
	entries := map[string]index.Entry{}
	pid, valid := fhirres.PatientIDOf(rid)
	if !valid {
		return entries, nil
	}
	err := a.d.Read(ctx, func(rd index.Reader) error {
		p, found, err := index.GetPatient(rd, pid)
		if err != nil || !found || !index.PatientAccess(c, p) {
			// A patient the caller may not see is one that does not
			// exist: nothing of the record is kept to answer with.
			return err
		}
		g.patient = p
		es, err := index.PatientEntries(rd, p.ID)
		for _, e := range es {
			if index.FactAccess(c, p, e).Content && (q.Doc == "" || q.Doc == e.ID) {
				entries[e.ID] = e
			}
		}
		return err
	})
	if err != nil {
		g.patient = index.Patient{}
		return nil, httpapi.Wrap(httpapi.ErrUnavailable, "the index could not be read; retry", err)
	}
	return entries, nil
}

// askRegions asks every region that keeps one of entries for the
// patient's facts, in parallel, each within the region deadline (this
// node's own region answers here), and gathers into g what it accepts of
// each answer and the regions that failed.
func (a *API) askRegions(r *http.Request, c index.Caller, entries map[string]index.Entry, q Query, g *gathered) {
	regions := map[string]bool{}
	for _, e := range entries {
		regions[e.Custodian] = true
	}
	_, tok, _ := bearerOf(r)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, region := range slices.Sorted(maps.Keys(regions)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.d.RegionDeadline)
			defer cancel()
			var ans answer
			var err error
			if region == a.d.Region {
				ans, err = a.answer(ctx, c, g.patient.ID, q)
			} else {
				ans, err = a.ask(ctx, region, tok, g.patient.ID, q)
			}
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			a.count(region, "facts", err)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				g.failed = append(g.failed, regionFailure{region, reason(err)})
				return
			}
			if ans.Truncated {
				g.failed = append(g.failed, regionFailure{region, fmt.Sprintf("it answered its newest %d facts only: narrow the search", maxFacts)})
			}
			g.facts = append(g.facts, a.accept(region, entries, q, ans.Facts)...)
		}()
	}
	wg.Wait()
	slices.SortFunc(g.failed, func(x, y regionFailure) int { return cmp.Compare(x.region, y.region) })
}

// accept keeps, of a region's answer, the facts of documents that region
// keeps and this node's replica lets the caller have, that match the
// query: a region cannot answer for another's documents, nor for one the
// caller may no longer see here.
func (a *API) accept(region string, entries map[string]index.Entry, q Query, fs []wireFact) []found {
	var out []found
	for _, f := range fs {
		e, ok := entries[f.Doc]
		if !ok || e.Custodian != region || len(f.Fact.Code) == 0 || !q.Matches(&f.Fact) || !validResource(f.Fact) {
			continue
		}
		from, _, _ := factRange(&f.Fact)
		out = append(out, found{wireFact: f, entry: e, from: from})
	}
	return out
}

// validResource reports whether a fact's resource is a JSON object of
// its type.
func validResource(f facts.Fact) bool {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	return json.Unmarshal(f.Resource, &head) == nil && head.ResourceType == f.Type
}

// sortFound orders facts by when they hold (the newest first unless
// ascending; undated last), then by document and sequence.
func sortFound(fs []found, ascending bool) {
	slices.SortStableFunc(fs, func(x, y found) int {
		switch {
		case x.from.IsZero() != y.from.IsZero():
			if x.from.IsZero() {
				return 1
			}
			return -1
		case !x.from.Equal(y.from):
			if ascending {
				return x.from.Compare(y.from)
			}
			return y.from.Compare(x.from)
		}
		return cmp.Or(cmp.Compare(x.Doc, y.Doc), cmp.Compare(x.Fact.Seq, y.Fact.Seq))
	})
}

// writeSearchset answers one page of the merged facts, with absolute
// self, next and previous links, and an OperationOutcome entry for each
// region whose facts are missing.
func (a *API) writeSearchset(w http.ResponseWriter, r *http.Request, g *gathered, pg Page) {
	base := fhirres.Base(r, a.d.PublicURL)
	total := len(g.facts)
	b := fhir.Bundle{Type: fhir.BundleTypeSearchset, Total: &total}
	// The links carry the parameters the search used, as FHIR asks: an
	// ignored one is left out, so a client can see it was not applied.
	used := url.Values{}
	for k, vs := range r.URL.Query() {
		if slices.Contains(searchParams, k) {
			used[k] = vs
		}
	}
	link := func(rel string, offset int) {
		v := maps.Clone(used)
		v.Set("_offset", strconv.Itoa(offset))
		v.Set("_count", strconv.Itoa(pg.Count))
		b.Link = append(b.Link, fhir.BundleLink{Relation: rel, Url: base + strings.TrimPrefix(r.URL.Path, "/fhir") + "?" + v.Encode()})
	}
	link("self", pg.Offset)
	// _count=0 asks for the total only: a page of no entries has no next
	// or previous page (both would link back to it).
	if pg.Count > 0 && pg.Offset+pg.Count < total {
		link("next", pg.Offset+pg.Count)
	}
	if pg.Count > 0 && pg.Offset > 0 {
		link("previous", max(0, pg.Offset-pg.Count))
	}
	page := g.facts[min(pg.Offset, total):min(pg.Offset+pg.Count, total)]
	for _, f := range page {
		id, raw, err := a.resource(f, g.patient, base)
		if err != nil {
			continue // validResource let it in; a resource that cannot be decorated is dropped
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullUrl: fhirres.Ptr(fhirres.FullURL(base, f.Fact.Type, id)), Resource: raw,
			Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeMatch)}})
	}
	for _, f := range g.failed {
		raw, _ := json.Marshal(fhirres.Incomplete("region " + f.region + ": " + f.reason + "; its data is missing from this answer"))
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: raw, Search: &fhir.BundleEntrySearch{Mode: fhirres.Ptr(fhir.SearchEntryModeOutcome)}})
	}
	writeFHIR(w, b)
}

func writeFHIR(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(v)
}

// FactID is the FHIR id of a fact: its document version's resource id
// and its sequence, so a read finds the custodian and the fact.
func FactID(doc string, seq int) string { return index.ResourceID(doc) + "." + strconv.Itoa(seq) }

// parseFactID reverses FactID into the version's resource id and the
// sequence.
func parseFactID(id string) (rid string, seq int, ok bool) {
	rid, s, ok := strings.Cut(id, ".")
	if !ok || len(rid) != 32 || strings.Trim(rid, "0123456789abcdef") != "" {
		return "", 0, false
	}
	seq, err := strconv.Atoi(s)
	return rid, seq, err == nil && seq >= 0 && strconv.Itoa(seq) == s
}

// patientField is the element that names the patient in each type.
func patientField(typ string) string {
	switch typ {
	case facts.AllergyIntolerance, facts.Immunization:
		return "patient"
	}
	return "subject"
}

// resource is a fact as the API serves it: its id, its patient, the
// document version it comes from (meta.source, the source-document
// extension and, for an Observation, derivedFrom) and the region that
// keeps it (a meta tag).
func (a *API) resource(f found, p index.Patient, base string) (string, json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(f.Fact.Resource, &m); err != nil {
		return "", nil, err
	}
	id := FactID(f.Doc, f.Fact.Seq)
	docRef := "DocumentReference/" + index.ResourceID(f.Doc)
	m["id"] = id
	m[patientField(f.Fact.Type)] = map[string]any{"reference": "Patient/" + fhirres.PatientResourceID(p.ID)}
	m["meta"] = map[string]any{"source": base + "/" + docRef,
		"tag": []any{map[string]any{"system": facts.SystemRegions, "code": f.entry.Custodian}}}
	ref := map[string]any{"reference": docRef}
	ext, _ := m["extension"].([]any)
	m["extension"] = append(ext, map[string]any{"url": ExtSourceDocument, "valueReference": ref})
	if f.Fact.Type == facts.Observation {
		m["derivedFrom"] = []any{ref}
	}
	raw, err := json.Marshal(m)
	return id, raw, err
}

// read is GET /fhir/{type}/{id}: one fact, asked of the region that
// keeps its document, answered exactly as a search would serve it. A
// fact the caller may not have is answered as one that does not exist.
func (a *API) read(w http.ResponseWriter, r *http.Request, typ string) {
	c, ok := a.d.Caller(r)
	if !ok {
		httpapi.Outcome(w, http.StatusUnauthorized, fhir.IssueTypeLogin, "a valid bearer token is required")
		return
	}
	notFound := httpapi.E(httpapi.ErrNotFound, "no such "+typ)
	rid, seq, ok := parseFactID(r.PathValue("id"))
	if !ok {
		httpapi.Fail(w, r, notFound)
		return
	}
	var e index.Entry
	var found bool
	if err := a.d.Read(r.Context(), func(rd index.Reader) error {
		var err error
		e, found, err = index.EntryByResourceID(rd, rid)
		return err
	}); err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the index could not be read; retry", err))
		return
	}
	if !found {
		httpapi.Fail(w, r, notFound)
		return
	}
	g, err := a.gather(r, c, fhirres.PatientResourceID(e.Patient), Query{Type: typ, Doc: e.ID})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if len(g.failed) > 0 && len(g.facts) == 0 {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable, "region "+g.failed[0].region+": "+g.failed[0].reason))
		return
	}
	for _, f := range g.facts {
		if f.Fact.Seq == seq {
			if _, raw, err := a.resource(f, g.patient, fhirres.Base(r, a.d.PublicURL)); err == nil {
				w.Header().Set("Content-Type", "application/fhir+json")
				_, _ = w.Write(raw)
				return
			}
		}
	}
	httpapi.Fail(w, r, notFound)
}
