package telemed

import (
	"strings"
	"testing"

	"github.com/fsenet/fsenet/telemed/catalog"
)

const (
	seedConsult = `{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/CF-RSSMRA80A01H501U"},` +
		`"performer":[{"reference":"HealthcareService/030-tc-derma"}],"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"consult-0001"}],` +
		`"note":[{"text":"Parere?"}],"supportingInfo":[{"reference":"DocumentReference/0123456789abcdef0123456789abcdef"}]}`
	seedMessage = `{"resourceType":"Communication","basedOn":[{"reference":"ServiceRequest/030-abc"}],"inResponseTo":[{"reference":"Communication/030-q"}],` +
		`"payload":[{"contentString":"Sì"},{"contentReference":{"reference":"DocumentReference/0123456789abcdef0123456789abcdef"}}]}`
	seedPlan = `{"resourceType":"CarePlan","status":"active","intent":"plan","instantiatesCanonical":["PlanDefinition/030-ta|2"],` +
		`"subject":{"reference":"Patient/CF-RSSMRA80A01H501U"},"identifier":[{"system":"urn:fsenet:telemedicina:client-key","value":"plan-0001"}]}`
	seedTemplate = `{"resourceType":"PlanDefinition","status":"active","title":"Riabilitazione",` +
		`"type":{"coding":[{"system":"urn:fsenet:telemedicina:tipo-servizio","code":"teleassistenza"}]},` +
		`"action":[{"description":"Esercizi","code":[{"coding":[{"system":"urn:fsenet:telemedicina:professione","code":"fisioterapista"}]}],` +
		`"timingTiming":{"repeat":{"count":10,"period":3,"periodUnit":"d"}}}]}`
)

func TestCareDecoders(t *testing.T) {
	if r, err := consultRequest([]byte(seedConsult)); err != nil || r.Service != "030-tc-derma" || r.Patient != "CF:RSSMRA80A01H501U" ||
		r.ClientKey != "consult-0001" || r.Text != "Parere?" || len(r.Documents) != 1 {
		t.Fatalf("consult: %+v %v", r, err)
	}
	if r, err := messageRequest([]byte(seedMessage)); err != nil || r.Consult != "030-abc" || r.ReplyTo != "030-q" || r.Text != "Sì" || len(r.Documents) != 1 {
		t.Fatalf("message: %+v %v", r, err)
	}
	if r, err := planRequest([]byte(seedPlan)); err != nil || r.Template != "030-ta" || r.TemplateVersion != 2 || r.ClientKey != "plan-0001" {
		t.Fatalf("plan: %+v %v", r, err)
	}
	if tm, err := templateFrom([]byte(seedTemplate), "030", "030-new"); err != nil || tm.ID != "030-new" || tm.Activities[0].Sessions != 10 ||
		tm.Activities[0].EveryDays != 3 || tm.Type != catalog.Teleassistance {
		t.Fatalf("template: %+v %v", tm, err)
	}
	bad := []struct{ name, in string }{
		{"consult: not JSON", "{"},
		{"consult: another resource", strings.Replace(seedConsult, "ServiceRequest", "Observation", 1)},
		{"consult: two performers", strings.Replace(seedConsult, `"performer":[`, `"performer":[{"reference":"HealthcareService/030-x"},`, 1)},
		{"consult: no key", strings.Replace(seedConsult, "client-key", "other", 1)},
		{"consult: service of no region", strings.Replace(seedConsult, "030-tc-derma", "x", 1)},
		{"consult: patient not a CF", strings.Replace(seedConsult, "CF-RSSMRA80A01H501U", "CF-123", 1)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := consultRequest([]byte(tt.in)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	for name, in := range map[string]string{
		"message: no payload":       `{"resourceType":"Communication","basedOn":[{"reference":"ServiceRequest/030-abc"}]}`,
		"message: empty payload":    `{"resourceType":"Communication","basedOn":[{"reference":"ServiceRequest/030-abc"}],"payload":[{}]}`,
		"message: a URL":            strings.Replace(seedMessage, "DocumentReference/0123", "http://x/0123", 1),
		"message: no request":       strings.Replace(seedMessage, `"basedOn":[{"reference":"ServiceRequest/030-abc"}],`, "", 1),
		"plan: version not number":  strings.Replace(seedPlan, "|2", "|two", 1),
		"plan: no version":          strings.Replace(seedPlan, "|2", "", 1),
		"template: period in hours": strings.Replace(seedTemplate, `"periodUnit":"d"`, `"periodUnit":"h"`, 1),
		"template: fractional days": strings.Replace(seedTemplate, `"period":3`, `"period":2.5`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			switch {
			case strings.HasPrefix(name, "message"):
				_, err = messageRequest([]byte(in))
			case strings.HasPrefix(name, "plan"):
				_, err = planRequest([]byte(in))
			default:
				_, err = templateFrom([]byte(in), "030", "030-new")
			}
			if err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// Whatever a client sends, the care decoders refuse it or yield a request
// naming a region's record, a patient and a key where they need them.
func FuzzCareRequests(f *testing.F) {
	for _, s := range []string{seedConsult, seedMessage, seedPlan, seedTemplate} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := consultRequest(b); err == nil {
			if _, ok := catalog.RegionOf(r.Service); !ok || r.Patient == "" || r.ClientKey == "" || r.Text == "" {
				t.Fatalf("consult accepted %+v", r)
			}
		}
		if r, err := messageRequest(b); err == nil {
			if _, ok := catalog.RegionOf(r.Consult); !ok {
				t.Fatalf("message accepted %+v", r)
			}
		}
		if r, err := planRequest(b); err == nil {
			if _, ok := catalog.RegionOf(r.Template); !ok || r.TemplateVersion < 1 || r.Patient == "" || r.ClientKey == "" {
				t.Fatalf("plan accepted %+v", r)
			}
		}
		if tm, err := templateFrom(b, "030", "030-new"); err == nil {
			if tm.Validate() != nil || tm.Region != "030" {
				t.Fatalf("template accepted %+v", tm)
			}
		}
	})
}
