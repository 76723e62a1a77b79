package tmdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/telemed/monitor"
)

func fixture() Input {
	high, low := 90.0, 90.0
	start := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	plan := monitor.Plan{ID: "030-tm-abc", Patient: "CF:RSSMRA80A01H501U", Devices: []string{"bilancia-1", "sfigmo-1"},
		Thresholds: map[string]monitor.Threshold{monitor.Weight: {High: &high, Sustained: 2}, monitor.Systolic: {Low: &low}},
		Start:      start, Active: true, Template: "030-tmpl-1", TemplateVersion: 1, Tipo: "II",
		Team: monitor.Team{Region: "150", Members: []string{"DBRCRL70A41F205E"}}, Author: "BNCLCU75A01H501T", Every: 24 * time.Hour,
		Kit: []monitor.Device{{ID: "bilancia-1", Identifiers: []monitor.Identifier{{System: "urn:oid:1.2.3", Value: "SN-1"}},
			UDI: []monitor.UDI{{DeviceIdentifier: "08012345678901"}}, Name: "Bilancia", Delivered: start.Add(2 * time.Hour)}}}
	return Input{Plan: plan, Patient: index.Patient{ID: plan.Patient, Family: "Rossi", Given: []string{"Mario"}, HomeRegion: "030"},
		Author: Author{CF: "BNCLCU75A01H501T", Region: "030"}, At: start, From: start,
		Summaries: []Summary{{Code: monitor.Weight, Readings: 30, Min: 80, Max: 92, Mean: 85, Breaches: 3, Expected: 31, FirstMean: 81, LastMean: 90, DaysActive: 30},
			{Code: monitor.Systolic}}}
}

// document is what every test reads of a built Bundle.
type document struct {
	bundle  fhir.Bundle
	comp    fhir.Composition
	urls    map[string]string // fullUrl -> resourceType
	content string
}

func parse(t *testing.T, b []byte) document {
	t.Helper()
	var d document
	var err error
	if d.bundle, err = fhir.UnmarshalBundle(b); err != nil {
		t.Fatal(err)
	}
	if d.bundle.Type != fhir.BundleTypeDocument || d.bundle.Identifier == nil || d.bundle.Timestamp == nil || len(d.bundle.Entry) < 3 {
		t.Fatalf("not a document Bundle: %s", b)
	}
	if d.comp, err = fhir.UnmarshalComposition(d.bundle.Entry[0].Resource); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	d.urls = map[string]string{}
	for _, e := range d.bundle.Entry {
		var probe struct{ ResourceType string }
		if e.FullUrl == nil || json.Unmarshal(e.Resource, &probe) != nil || probe.ResourceType == "" {
			t.Fatalf("an entry without fullUrl or resourceType: %s", e.Resource)
		}
		if _, dup := d.urls[*e.FullUrl]; dup {
			t.Fatalf("fullUrl %s twice", *e.FullUrl)
		}
		d.urls[*e.FullUrl] = probe.ResourceType
	}
	d.content = string(b)
	return d
}

// resolves checks that a reference names an entry of a type.
func (d document) resolves(t *testing.T, ref *fhir.Reference, typ string) {
	t.Helper()
	if ref == nil || ref.Reference == nil || d.urls[*ref.Reference] != typ {
		t.Fatalf("reference %v does not name a %s of the document", ref, typ)
	}
}

func TestDocumentsHaveTheGuidesShape(t *testing.T) {
	closed := fixture()
	closed.Plan.Active, closed.Plan.Closed = false, &monitor.Closure{At: closed.At.Add(90 * 24 * time.Hour), By: "BNCLCU75A01H501T", Text: "Obiettivi raggiunti"}
	report := fixture()
	report.At = report.From.Add(30 * 24 * time.Hour)
	tesserino := fixture()
	tesserino.At = tesserino.Plan.Kit[0].Delivered
	for _, tt := range []struct {
		kind     Kind
		in       Input
		sections []string
		entry    string // the type the first section's entries are
		contains []string
	}{
		{Piano, fixture(), []string{SectionPlan}, "CarePlan", []string{`"ObservationDefinition"`, `"qualifiedInterval"`, `"CareTeam"`, "DBRCRL70A41F205E", "2 letture consecutive"}},
		{Tesserino, tesserino, []string{SectionDevices}, "DeviceUseStatement", []string{`"udiCarrier"`, "08012345678901", `"Device"`}},
		{Report, report, []string{SectionPlan}, "CarePlan", []string{`"outcomeReference"`, "fuori-soglia", "aderenza", `"dataAbsentReason"`, "dal 01/10/2026 al 31/10/2026"}},
		{Relazione, closed, []string{SectionPlan, SectionConclude}, "CarePlan", []string{"Obiettivi raggiunti", `"completed"`}},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			b, err := Build(tt.kind, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			d := parse(t, b)
			c := d.comp
			if c.Status != fhir.CompositionStatusFinal || c.Title != Titles[tt.kind] || len(c.Type.Coding) != 1 || *c.Type.Coding[0].Code != Types[tt.kind] {
				t.Fatalf("composition: %+v", c)
			}
			d.resolves(t, c.Subject, "Patient")
			if len(c.Author) != 1 || len(c.Attester) != 1 || c.Attester[0].Mode != fhir.CompositionAttestationModeLegal || c.Attester[0].Time == nil {
				t.Fatalf("author and legal attester: %+v %+v", c.Author, c.Attester)
			}
			d.resolves(t, &c.Author[0], "PractitionerRole")
			d.resolves(t, c.Attester[0].Party, "PractitionerRole")
			if len(c.Section) != len(tt.sections) {
				t.Fatalf("%d sections, want %v", len(c.Section), tt.sections)
			}
			for i, s := range c.Section {
				if *s.Code.Coding[0].Code != tt.sections[i] || s.Text == nil || !strings.HasPrefix(s.Text.Div, `<div xmlns="http://www.w3.org/1999/xhtml">`) || len(s.Entry) == 0 {
					t.Fatalf("section %d: %+v", i, s)
				}
			}
			for _, e := range c.Section[0].Entry {
				d.resolves(t, &e, tt.entry)
			}
			if !strings.Contains(d.content, `"system":"http://hl7.it/sid/codiceFiscale","value":"RSSMRA80A01H501U"`) {
				t.Fatal("the Patient is not identified by codice fiscale")
			}
			for _, s := range tt.contains {
				if !strings.Contains(d.content, s) {
					t.Errorf("the document lacks %s", s)
				}
			}
			again, _ := Build(tt.kind, tt.in)
			if !bytes.Equal(b, again) {
				t.Fatal("the same plan and moment made two different documents")
			}
			other := tt.in
			other.Author.CF = "VRDGPP70A01F205V"
			if b2, _ := Build(tt.kind, other); bytes.Equal(b, b2) || parse(t, b2).bundle.Identifier.Value == d.bundle.Identifier.Value {
				t.Fatal("another author's document has the same identity")
			}
		})
	}
}

func TestDocumentsNotReady(t *testing.T) {
	noKit := fixture()
	noKit.Plan.Kit = nil
	badPeriod := fixture()
	noAuthor := fixture()
	noAuthor.Author.CF = ""
	for _, tt := range []struct {
		name     string
		kind     Kind
		in       Input
		notReady bool
	}{
		{"tesserino without devices", Tesserino, noKit, true},
		{"relazione of a running plan", Relazione, fixture(), true},
		{"report of an empty period", Report, badPeriod, false},
		{"no author", Piano, noAuthor, false},
		{"unknown kind", Kind("ricetta"), fixture(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.kind, tt.in)
			if err == nil || errors.Is(err, ErrNotReady) != tt.notReady {
				t.Fatalf("err = %v, want not-ready %v", err, tt.notReady)
			}
		})
	}
}

func TestSummaryAdherence(t *testing.T) {
	for _, tt := range []struct {
		s    Summary
		want float64
		ok   bool
	}{
		{Summary{Readings: 15, DaysActive: 15, Expected: 30}, 0.5, true},
		{Summary{Readings: 30, DaysActive: 1, Expected: 30}, 1.0 / 30, true}, // thirty readings on one day
		{Summary{Readings: 45, DaysActive: 31, Expected: 30}, 1, true},
		{Summary{Readings: 3, DaysActive: 3}, 0, false}, // no pace
	} {
		if got, ok := tt.s.Adherence(); ok != tt.ok || got != tt.want {
			t.Errorf("%+v: %g %v, want %g %v", tt.s, got, ok, tt.want, tt.ok)
		}
	}
}
