package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

func rehab() Template {
	return Template{ID: "030-ta-riab", Region: "030", Type: Teleassistance, Title: "Riabilitazione motoria a domicilio", Active: true,
		Activities: []Activity{{Profession: "fisioterapista", Description: "Esercizi guidati", Sessions: 10, EveryDays: 3}}}
}

func TestTemplateValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Template)
	}{
		{"id of another region", func(t *Template) { t.ID = "150-ta-riab" }},
		{"unknown type", func(t *Template) { t.Type = "teleport" }},
		{"no title", func(t *Template) { t.Title = "" }},
		{"no activities", func(t *Template) { t.Activities = nil }},
		{"profession not a word", func(t *Template) { t.Activities[0].Profession = "Fisio terapista" }},
		{"no sessions", func(t *Template) { t.Activities[0].Sessions = 0 }},
		{"every year and more", func(t *Template) { t.Activities[0].EveryDays = 400 }},
	}
	if err := rehab().Validate(); err != nil {
		t.Fatalf("a good template: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := rehab()
			tt.mutate(&tm)
			if err := tm.Validate(); err == nil {
				t.Fatalf("accepted %+v", tm)
			}
		})
	}
}

// Every version of a template stays readable; an adoption is judged on
// the current one.
func TestTemplateVersions(t *testing.T) {
	n := consensustest.NewReplica(t, New())
	ctx := context.Background()
	v2 := rehab()
	v2.Activities[0].Sessions = 12
	steps := []struct {
		name string
		cmd  func() (consensus.Command, error)
		want error
	}{
		{"create", func() (consensus.Command, error) { return PutTemplate(PutTemplateRequest{Template: rehab()}) }, nil},
		{"create again", func() (consensus.Command, error) { return PutTemplate(PutTemplateRequest{Template: rehab()}) }, consensus.ErrAlreadyExists},
		{"version 2", func() (consensus.Command, error) { return PutTemplate(PutTemplateRequest{Template: v2, IfVersion: 1}) }, nil},
		{"stale", func() (consensus.Command, error) { return PutTemplate(PutTemplateRequest{Template: v2, IfVersion: 1}) }, consensus.ErrConflict},
		{"adopt one's own", func() (consensus.Command, error) {
			return AdoptTemplate(AdoptRequest{Service: "030-ta-riab", Region: "030", By: "RSSMRA80A01H501U"})
		}, consensus.ErrInvalid},
		{"adopt an unknown one", func() (consensus.Command, error) {
			return AdoptTemplate(AdoptRequest{Service: "150-ta-x", Region: "030", By: "RSSMRA80A01H501U"})
		}, consensus.ErrNotFound},
		{"garbage", func() (consensus.Command, error) {
			return consensus.Command{Type: TypePutTemplate, Version: 1, Payload: []byte(`{"template":[]}`)}, nil
		}, consensus.ErrInvalid},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			cmd, err := st.cmd()
			if err == nil {
				_, err = n.Apply(ctx, cmd)
			}
			if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
				t.Fatalf("err %v, want %v", err, st.want)
			}
		})
	}
	_, err := n.Read(ctx, consensus.Local, func(r consensus.Reader) error {
		for v, sessions := range map[int]int{0: 12, 1: 10, 2: 12} {
			got, ok, err := GetTemplate(r, "030-ta-riab", v)
			if err != nil || !ok || got.Activities[0].Sessions != sessions {
				t.Fatalf("version %d: %+v %v %v", v, got, ok, err)
			}
		}
		if _, ok, _ := GetTemplate(r, "030-ta-riab", 3); ok {
			t.Fatal("version 3 does not exist")
		}
		latest, _, _ := GetTemplate(r, "030-ta-riab", 0)
		for region, want := range map[string]bool{"030": true, "150": false} {
			if ok, err := TemplateUsable(r, latest, region); err != nil || ok != want {
				t.Fatalf("usable by %s: %v %v", region, ok, err)
			}
		}
		all, err := Templates(r, Teleassistance)
		if err != nil || len(all) != 1 {
			t.Fatalf("templates: %v %v", all, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
