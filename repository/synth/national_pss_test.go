package synth

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// nationalJudged builds a document of a national type twice (it must come
// out the same) and has the type's schematron judge it: no failed
// assertion.
func nationalJudged(t *testing.T, name string, d Document) string {
	t.Helper()
	doc, err := National(name, d)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := National(name, d)
	if !bytes.Equal(doc, again) {
		t.Fatal("two builds of the same document differ")
	}
	s, fails, err := schematron.Check(doc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != name {
		t.Fatalf("judged by the %s schematron, want %s", s.Name, name)
	}
	for _, f := range fails {
		t.Errorf("%s", f)
	}
	return string(doc)
}

// The patients of the national builders' tests: a woman, a child, an
// elderly man.
var (
	nationalWoman = Patient{CF: "PRVNNA85M41H501X", Family: "Prova", Given: "Anna", Gender: "F", BirthDate: time.Date(1985, 8, 1, 0, 0, 0, 0, time.UTC)}
	nationalChild = Patient{CF: "SNTLCU22C10F205Y", Family: "Sintetico", Given: "Luca", Gender: "M", BirthDate: time.Date(2022, 3, 10, 0, 0, 0, 0, time.UTC)}
	nationalElder = Patient{CF: "CMPPLA45D15A662W", Family: "Campione", Given: "Paolo", Gender: "M", BirthDate: time.Date(1945, 4, 15, 0, 0, 0, 0, time.UTC)}
)

func TestNationalPSS(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Document
		has  []string // what the summary of this patient tells
		not  []string
	}{
		{"defaults", Document{}, []string{`code="401.9"`, `code="J01CA04"`, `code="MMG"`}, []string{"<guardian", `code="10162-6"`, `code="PSSADI"`}},
		{"woman", Document{Region: "120", LocalID: "pss-w-1", Patient: nationalWoman, AuthorCF: "SNTMDC70A01F205Z", Org: "120201",
			Time: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), Confidentiality: "V"},
			[]string{`code="10162-6"`, `<city>Roma</city>`, `code="P0908"`}, []string{"<guardian"}},
		{"child replacement", Document{Region: "030", LocalID: "pss-c-2", Patient: nationalChild, AuthorCF: "PDTCHR75B41L219K", Org: "030101",
			Time: time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC), Version: 2, Replaces: "2.16.840.1.113883.2.9.2.030.4.4^pss-c-1"},
			[]string{"<guardian", `code="PLS"`, `code="no-known-allergies"`, `code="no-known-medications"`, `code="E01"`,
				`<relatedDocument typeCode="RPLC">`, `<setId root="2.16.840.1.113883.2.9.2.030.4.4" extension="pss-c-1"`},
			[]string{`code="10162-6"`, `code="P0908"`, `code="J01CA04"`}},
		{"elderly", Document{Region: "160", LocalID: "pss-e-1", Patient: nationalElder, AuthorCF: "FTTMRC68C12A662T", Org: "160114",
			Time: time.Date(2026, 5, 20, 11, 0, 0, 0, time.UTC), Confidentiality: "R"},
			[]string{`code="PSSADI"`, `code="E01"`, `code="031"`, `<city>Bari</city>`}, []string{"<guardian"}},
		{"escaped", Document{LocalID: `pss <&> "1"`, Org: "A&B", Patient: Patient{CF: "DRSGLI10T50L219A", Family: "D'Esempio & Co", Given: "Giulia <Prova>",
			Gender: "F", BirthDate: time.Date(2010, 12, 10, 0, 0, 0, 0, time.UTC)}, Version: 3},
			[]string{`extension="pss &lt;&amp;&gt; &#34;1&#34;.v2"`, "D&#39;Esempio &amp; Co"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := nationalJudged(t, "PSS", c.d)
			for _, s := range c.has {
				if !strings.Contains(doc, s) {
					t.Errorf("no %s", s)
				}
			}
			for _, s := range c.not {
				if strings.Contains(doc, s) {
					t.Errorf("%s", s)
				}
			}
		})
	}
}
