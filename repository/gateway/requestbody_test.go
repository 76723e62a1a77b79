package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
