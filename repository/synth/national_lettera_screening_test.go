package synth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The Lettera_Screening builder's documents — with the defaults, for a
// patient of each screening programme, and a replacement — pass the
// ported national schematron with no failed assertion, and are the same
// every time.
func TestNationalLetteraScreening(t *testing.T) {
	cf := func(s string) string { return s + string(ident.CheckChar(s)) }
	at := time.Date(2026, 5, 20, 9, 0, 0, 0, time.UTC)
	born := func(y int) time.Time { return time.Date(y, 3, 10, 0, 0, 0, 0, time.UTC) }
	docs := map[string]Document{"defaults": {}}
	for name, p := range map[string]Patient{
		"breast":         {CF: cf("PRVNNA71C50F205"), Family: "Prova", Given: "Anna", Gender: "F", BirthDate: born(1971)},
		"colorectal":     {CF: cf("SNTLCU64C10H501"), Family: "Sintetico", Given: "Luca", Gender: "M", BirthDate: born(1964)},
		"cervix":         {CF: cf("SMPGLI91C50L219"), Family: "Esempio", Given: "Giulia", Gender: "F", BirthDate: born(1991)},
		"hepatitis C":    {CF: cf("FTTPLA80C10A662"), Family: "Fittizio", Given: "Paolo", Gender: "M", BirthDate: born(1980)},
		"cardiovascular": {CF: cf("CMPMRC40C10F839"), Family: "Campione", Given: "Marco", Gender: "M", BirthDate: born(1940)},
	} {
		docs[name] = Document{Region: "080", LocalID: "SCR-2026-" + strings.ReplaceAll(name, " ", "-"), Org: "080105", AuthorCF: cf("VRDLNE72H52F205"), Patient: p, Time: at}
	}
	second := docs["breast"]
	second.LocalID, second.Version, second.Replaces, second.Confidentiality = "SCR-2026-breast-2", 2, docs["breast"].ID(), "R"
	docs["replacement"] = second
	for name, d := range docs {
		doc, err := National("Lettera_Screening", d)
		if err != nil {
			t.Fatal(err)
		}
		s, fails, err := schematron.Check(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name != "Lettera_Screening" || len(fails) != 0 {
			t.Errorf("%s: judged by %s, fails %v", name, s.Name, schematron.IDs(fails))
		}
		if again, _ := National("Lettera_Screening", d); !bytes.Equal(doc, again) {
			t.Errorf("%s: two builds differ", name)
		}
	}
}
