package synth

import (
	"strings"
	"testing"
	"time"
)

func TestNationalLAB(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Document
		has  []string
	}{
		{"defaults", Document{}, []string{`classCode="CLUSTER"`, `<statusCode code="aborted"/>`, `representation="B64"`, `code="ALGM"`}},
		{"woman", Document{Region: "120", LocalID: "lab-w-1", Patient: nationalWoman, AuthorCF: "SNTMDC70A01F205Z", Org: "120201",
			Time: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), Confidentiality: "V"},
			[]string{`<low value="12.0" unit="g/dL"/>`, `extension="120A`}},
		{"child replacement", Document{Region: "030", LocalID: "lab-c-2", Patient: nationalChild, AuthorCF: "PDTCHR75B41L219K", Org: "030101",
			Time: time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC), Version: 2, Replaces: "2.16.840.1.113883.2.9.2.030.4.4^lab-c-1"},
			[]string{`<low value="11.0" unit="g/dL"/>`, `<relatedDocument typeCode="RPLC">`, `<setId root="2.16.840.1.113883.2.9.2.030.4.4" extension="lab-c-1"`}},
		{"elderly", Document{Region: "160", LocalID: "lab-e-1", Patient: nationalElder, AuthorCF: "FTTMRC68C12A662T", Org: "160114",
			Time: time.Date(2026, 5, 20, 11, 0, 0, 0, time.UTC), Confidentiality: "R"},
			[]string{`<city>Bari</city>`}},
		{"escaped", Document{LocalID: `lab <&> "1"`, Org: "A&B", Version: 3},
			[]string{`extension="lab &lt;&amp;&gt; &#34;1&#34;.v2"`, "Laboratorio analisi sintetico A&amp;B"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := nationalJudged(t, "LAB", c.d)
			for _, s := range c.has {
				if !strings.Contains(doc, s) {
					t.Errorf("no %s", s)
				}
			}
		})
	}
}
