package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/index/doctype"
	"github.com/fsenet/fsenet/repository/synth"
)

func TestDecodePublication(t *testing.T) {
	good, _ := json.Marshal(pubBody("x", "REF"))
	if _, err := DecodePublication(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"empty", ``, "JSON"},
		{"array", `[]`, "JSON"},
		{"two objects", string(good) + `{}`, "after the JSON object"},
		{"unknown field", strings.Replace(string(good), `{`, `{"x":1,`, 1), `unknown field "x"`},
		{"wrong type", strings.Replace(string(good), `"tipoAttivitaClinica":"CON"`, `"tipoAttivitaClinica":7`, 1), "JSON"},
		{"missing required", `{}`, "tipologiaStruttura: is required"},
		{"bad enum", strings.Replace(string(good), `"AD_PSC001"`, `"AD_PSC000"`, 1), "assettoOrganizzativo"},
		{"bad administrativeRequest", strings.Replace(string(good), `{`, `{"administrativeRequest":["SSN","GRATIS"],`, 1), "GRATIS"},
		{"P99 and P00", strings.Replace(string(good), `{`, `{"attiCliniciRegoleAccesso":["P99","P00"],`, 1), "together"},
		{"control characters", strings.Replace(string(good), `"identificativoRep":"`, `"identificativoRep":"\n`, 1), "control"},
		{"stop before start", strings.Replace(string(good), `"20220325120000"`, `"20220324120000"`, 1), "before"},
		{"huge", `{"descriptions":["` + strings.Repeat("a", maxRequestBody) + `"]}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePublication([]byte(tc.body))
			if !errors.Is(err, ErrBody) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBody naming %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeRequestBody(f *testing.F) {
	good, _ := json.Marshal(pubBody("x", "REF"))
	f.Add(good)
	f.Add([]byte(`{"activity":"VALIDATION"}`))
	f.Add([]byte(`{"tipologiaStruttura":"Ospedale","attiCliniciRegoleAccesso":["P99"]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePublication(in)
		if err != nil && !errors.Is(err, ErrBody) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil && (p.IdentificativoDoc == "" || p.TipologiaStruttura == "") {
			t.Fatalf("accepted without required fields: %+v", p)
		}
		if _, err := DecodeValidation(in); err != nil && !errors.Is(err, ErrBody) {
			t.Fatalf("unclassified error %v", err)
		}
		if _, err := DecodeMetadata(in); err != nil && !errors.Is(err, ErrBody) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

func FuzzReadProvideBundle(f *testing.F) {
	k, _ := synth.KindOf("11502-2")
	d := synth.Document{Kind: k, Region: "030", LocalID: "f", Patient: synth.Patient{CF: samplePatient, Family: "Prova", Given: "Anna", Gender: "F"}, Org: "o"}
	doc := synth.FHIRDocument(d)
	f.Add(synth.ProvideBundle(d, doc, "eyJhbGciOiJFZERTQSJ9..c2ln"), doc)
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`), []byte(`{"resourceType":"Bundle","type":"document"}`))
	embedded := bytes.Replace(synth.ProvideBundle(d, doc, ""), []byte(`"url":"Binary"},"resource":{"contentType"`), []byte(`"url":"Bundle"},"resource":{"contentType"`), 1)
	f.Add(embedded, doc)
	f.Fuzz(func(t *testing.T, bundle, doc []byte) {
		if _, l, dr, bin, err := readProvideBundle(bundle); err == nil && (l.kind != "List" || dr.kind != "DocumentReference" || (bin.kind != "Binary" && bin.kind != "Bundle")) {
			t.Fatalf("accepted a transaction without its three entries")
		}
		if fd, err := readFHIRDocument(doc); err == nil {
			if _, ok := doctype.Lookup(fd.Type); !ok || fd.Patient.Value == "" {
				t.Fatalf("accepted a document without an FSE type or a patient: %+v", fd)
			}
		}
	})
}
