package synth

import (
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index/ident"
)

func TestCertificatoVACCPassesItsSchematron(t *testing.T) {
	docs := vaccDocuments("certificato")
	// A newborn's certificate: no dose given yet, the first one deferred.
	cf := "PRVNNT26E45H501"
	docs = append(docs, Document{LocalID: "certificato-neonato", Time: time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC),
		Patient: Patient{CF: cf + string(ident.CheckChar(cf)), Family: "Prova", Given: "Neonata", Gender: "F", BirthDate: time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)}})
	out := vaccCheck(t, "certificato_VACC", docs)
	for _, want := range []string{
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.1"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.2"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.5"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.6"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.7"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.8"/>`,
		`<templateId root="2.16.840.1.113883.2.9.10.1.11.4.10"/>`,
		`code="59778-1"`, `code="30980-7"`, `<code nullFlavor="UNK">`, `<relatedDocument typeCode="RPLC">`,
	} {
		if !vaccContains(out, want) {
			t.Errorf("no document holds %s", want)
		}
	}
	// A certificate lists at most the latest twelve doses given.
	for i, x := range out {
		if n := strings.Count(string(x), `<templateId root="2.16.840.1.113883.2.9.10.1.11.4.1"/>`); n > vaccCertificateDoses {
			t.Errorf("document %d lists %d doses", i, n)
		}
	}
}
