package synth

import (
	"strings"
	"testing"
	"time"
)

func TestNationalErS(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Document
		has  []string
	}{
		{"defaults", Document{}, []string{`codeSystem="2.16.840.1.113883.2.9.6.1.11"`, "<repeatNumber", `code="V"`, `code="B"`}},
		{"woman", Document{Region: "120", LocalID: "ers-w-1", Patient: nationalWoman, AuthorCF: "SNTMDC70A01F205Z", Org: "120201",
			Time: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC), Confidentiality: "V"},
			[]string{`<city>Roma</city>`, `extension="ers-w-1.1"`}},
		{"replacement", Document{Region: "030", LocalID: "ers-c-2", Patient: nationalChild, AuthorCF: "PDTCHR75B41L219K", Org: "030101",
			Time: time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC), Version: 2, Replaces: "2.16.840.1.113883.2.9.2.030.4.4^ers-c-1"},
			[]string{`<relatedDocument typeCode="RPLC">`, `<setId root="2.16.840.1.113883.2.9.2.030.4.4" extension="ers-c-1"`}},
		{"escaped", Document{LocalID: `ers <&> "1"`, Org: "A&B", Patient: nationalElder, Version: 3},
			[]string{`extension="ers &lt;&amp;&gt; &#34;1&#34;.v2"`, "Poliambulatorio sintetico A&amp;B"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := nationalJudged(t, "ErS", c.d)
			for _, s := range c.has {
				if !strings.Contains(doc, s) {
					t.Errorf("no %s", s)
				}
			}
		})
	}
}
