package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

func cardio() Service {
	return Service{ID: "030-tv-cardio", Region: "030", Type: Televisit, Specialties: []string{"08"}, Scope: ScopeRegional,
		Languages: []string{"it", "en"}, Name: "Televisita cardiologica", Active: true}
}

func TestServiceValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Service)
	}{
		{"no id", func(s *Service) { s.ID = "" }},
		{"id of another region", func(s *Service) { s.ID = "150-tv-cardio" }},
		{"unknown region", func(s *Service) { s.ID, s.Region = "999-x", "999" }},
		{"id with a slash", func(s *Service) { s.ID = "030-a/b" }},
		{"unknown type", func(s *Service) { s.Type = "telepathy" }},
		{"unknown scope", func(s *Service) { s.Scope = "EU" }},
		{"no name", func(s *Service) { s.Name = "" }},
		{"bad language", func(s *Service) { s.Languages = []string{"Italiano"} }},
		{"bad specialty", func(s *Service) { s.Specialties = []string{"a b"} }},
		{"sync televisit", func(s *Service) { s.Sync = true }},
		{"a practitioner without a codice fiscale", func(s *Service) { s.Practitioners = []Practitioner{{CF: "X", Name: "A", Specialty: "08"}} }},
		{"a practitioner without a name", func(s *Service) { s.Practitioners = []Practitioner{{CF: "BNCLCU75A01H501T", Specialty: "08"}} }},
		{"a practitioner listed twice", func(s *Service) {
			p := Practitioner{CF: "BNCLCU75A01H501T", Name: "Luca Bianchi", Specialty: "08"}
			s.Practitioners = []Practitioner{p, p}
		}},
	}
	if err := cardio().Validate(); err != nil {
		t.Fatalf("a good service: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cardio()
			tt.mutate(&s)
			if err := s.Validate(); err == nil {
				t.Fatalf("accepted %+v", s)
			}
		})
	}
}

// The catalogue's commands on a real replica (region 030): versions,
// conflicts, the origin rule, adoption, search.
func TestCatalogue(t *testing.T) {
	n := consensustest.NewReplica(t, New())
	apply := func(cmd consensus.Command, err error) ([]byte, error) {
		if err != nil {
			return nil, err
		}
		res, err := n.Apply(context.Background(), cmd)
		return res.Value, err
	}
	retired := cardio()
	retired.Active = false
	foreign := cardio()
	foreign.ID, foreign.Region = "150-tc-derma", "150"
	steps := []struct {
		name string
		cmd  func() (consensus.Command, error)
		want error
	}{
		{"create", func() (consensus.Command, error) { return PutService(PutServiceRequest{Service: cardio()}) }, nil},
		{"create again", func() (consensus.Command, error) { return PutService(PutServiceRequest{Service: cardio()}) }, consensus.ErrAlreadyExists},
		{"update judged on version 1", func() (consensus.Command, error) {
			return PutService(PutServiceRequest{Service: cardio(), IfVersion: 1})
		}, nil},
		{"update judged on a stale version", func() (consensus.Command, error) {
			return PutService(PutServiceRequest{Service: cardio(), IfVersion: 1})
		}, consensus.ErrConflict},
		{"another region's service from this node", func() (consensus.Command, error) { return PutService(PutServiceRequest{Service: foreign}) }, consensus.ErrForbidden},
		{"adopt one's own service", func() (consensus.Command, error) {
			return Adopt(AdoptRequest{Service: "030-tv-cardio", Region: "030", By: "RSSMRA80A01H501U"})
		}, consensus.ErrInvalid},
		{"adopt for another region from this node", func() (consensus.Command, error) {
			return Adopt(AdoptRequest{Service: "030-tv-cardio", Region: "150", By: "RSSMRA80A01H501U"})
		}, consensus.ErrForbidden},
		{"adopt an unknown service", func() (consensus.Command, error) {
			return Adopt(AdoptRequest{Service: "150-nothing", Region: "030", By: "RSSMRA80A01H501U"})
		}, consensus.ErrNotFound},
		{"garbage", func() (consensus.Command, error) {
			return consensus.Command{Type: TypePutService, Version: 1, Payload: []byte(`{"service":{"id":1}}`)}, nil
		}, consensus.ErrInvalid},
		{"unknown field", func() (consensus.Command, error) {
			return consensus.Command{Type: TypeAdopt, Version: 1, Payload: []byte(`{"service":"030-tv-cardio","admin":true}`)}, nil
		}, consensus.ErrInvalid},
		{"retire", func() (consensus.Command, error) {
			return PutService(PutServiceRequest{Service: retired, IfVersion: 2})
		}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			_, err := apply(st.cmd())
			if (st.want == nil) != (err == nil) || (st.want != nil && !errors.Is(err, st.want)) {
				t.Fatalf("err %v, want %v", err, st.want)
			}
		})
	}
	_, err := n.Read(context.Background(), consensus.Local, func(r consensus.Reader) error {
		s, ok, err := GetService(r, "030-tv-cardio")
		if err != nil || !ok || s.Version != 3 || s.Active || s.Updated.IsZero() {
			t.Fatalf("stored %+v %v %v", s, ok, err)
		}
		active := true
		for _, q := range []struct {
			q    Query
			want int
		}{
			{Query{}, 1}, {Query{Type: Televisit}, 1}, {Query{Type: Teleconsult}, 0}, {Query{Specialty: "08"}, 1},
			{Query{Language: "en"}, 1}, {Query{Language: "de"}, 0}, {Query{Region: "150"}, 0}, {Query{Active: &active}, 0},
		} {
			got, err := Search(r, q.q)
			if err != nil || len(got) != q.want {
				t.Fatalf("search %+v: %d %v, want %d", q.q, len(got), err, q.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
