package synth

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// vaccDocuments are documents of a vaccination type for patients of every
// age (newborns to the elderly, several regions), and first versions with
// their replacements.
func vaccDocuments(name string) []Document {
	rng := rand.New(rand.NewPCG(41, 42))
	docs := []Document{{}}
	for i := range 16 {
		p := NewPatient(rng)
		if i%4 == 0 { // a child: the doses of the first years
			p.BirthDate = time.Date(2024, time.Month(1+i%12), 1+i, 0, 0, 0, 0, time.UTC)
		}
		docs = append(docs, Document{
			Patient: p, LocalID: name + "-" + string(rune('a'+i)), AuthorCF: NewPatient(rng).CF, Org: "120-ASL-PROVA",
			Region: []string{"120", "130", "030", "150"}[i%4],
			Time:   time.Date(2025+i%2, time.Month(1+i*5%12), 1+i, 9+i%8, 15, 0, 0, time.UTC),
		})
	}
	for i, p := range []Patient{{}, NewPatient(rng), NewPatient(rng), NewPatient(rng)} {
		first := Document{Patient: p, Region: "120", LocalID: name + "-v1-" + string(rune('a'+i)), Time: time.Date(2026, 3, 10+i, 11, 0, 0, 0, time.UTC)}
		second := first
		second.LocalID, second.Version, second.Replaces, second.Confidentiality = name+"-v2-"+string(rune('a'+i)), 2, first.ID(), "V"
		second.Time = first.Time.AddDate(0, 0, 5)
		docs = append(docs, first, second)
	}
	return docs
}

// vaccCheck builds name's documents for docs, checks them with the
// ported schematron (no failed assertion, judged by name's schematron) and
// returns them; the same Document builds the same bytes.
func vaccCheck(t *testing.T, name string, docs []Document) [][]byte {
	t.Helper()
	var out [][]byte
	for _, d := range docs {
		x, err := National(name, d)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := National(name, d); !bytes.Equal(x, again) {
			t.Fatalf("%s: two builds of %+v differ", name, d)
		}
		s, fails, err := schematron.Check(x)
		if err != nil {
			t.Fatalf("%s %s: %v", name, d.LocalID, err)
		}
		if s.Name != name || len(fails) > 0 {
			t.Fatalf("%s %s: judged by %s: %v\n%s", name, d.LocalID, s.Name, fails, x)
		}
		out = append(out, x)
	}
	return out
}

func TestSingolaVACCPassesItsSchematron(t *testing.T) {
	docs := vaccCheck(t, "singola_VACC", vaccDocuments("singola"))
	// Across the documents, each kind of entry the schematron has rules
	// for: doses given (to infants and adults), deferred, exempted, a
	// reaction, risk categories and conditions.
	for _, want := range []string{
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.1"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.2"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.5"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.6"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.7"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.8"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.10"/>`,
		`code="59778-1"`, `code="30980-7"`, `displayName="left thigh"`, `<relatedDocument typeCode="RPLC">`,
	} {
		if !vaccContains(docs, want) {
			t.Errorf("no document holds %s", want)
		}
	}
}

func vaccContains(docs [][]byte, s string) bool {
	for _, d := range docs {
		if strings.Contains(string(d), s) {
			return true
		}
	}
	return false
}
