package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/index/ident"
	"github.com/fsenet/fsenet/repository/pdfcda"
)

// Synthetic people: the codici fiscali are well formed, no one's.
const (
	patientCF   = "RSSMRA80A01H501U"
	doctorCF    = "VRDGPP70A01F205X" // a professional's: shape only, as tokens carry them
	requesterCF = "BNCLCU75A01H501Z"
)

var (
	at    = time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	start = time.Date(2026, 11, 3, 9, 45, 0, 0, time.UTC)
	end   = time.Date(2026, 11, 3, 10, 15, 0, 0, time.UTC)
)

// cfOf completes the first 15 characters of a codice fiscale with its
// check character.
func cfOf(first15 string) string { return first15 + string(ident.CheckChar(first15)) }

// sample is a valid report of kind with the fields every kind needs.
func sample(kind Kind) Report {
	r := Report{
		Kind: kind, Region: "030", ID: "030-" + string(kind)[:2] + "-1a2b3c", Time: at,
		Patient: Patient{CF: patientCF, Family: "Prova", Given: "Mario", Gender: "M",
			BirthDate: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)},
		Author:       Person{CF: doctorCF},
		Organization: Organization{ID: "030901", Name: "ASST di prova"},
		Order:        "030-appt-77", Encounter: "030-enc-77", Start: start, End: end,
		Findings: "Paziente in buone condizioni generali.",
	}
	switch kind {
	case Televisita:
		r.Prestazioni = []Prestazione{{Code: "89.01", Display: "Anamnesi e valutazione, definite brevi"}}
	case Teleconsulto:
		r.Requester = Person{CF: requesterCF}
		r.Quesito = "Lesione cutanea pigmentata del dorso: asportare?"
	case Teleassistenza:
		r.Sessions = []string{"03/11/2026 09:45, fisioterapista: esercizi di deambulazione"}
	}
	return r
}

// variants are valid reports of kind, each exercising something: the
// fields each kind may leave out, and text that needs escaping.
func variants(kind Kind) map[string]Report {
	long := strings.Repeat("Controllo pressorio: valori < 140/90 & frequenza regolare; \"ok\" per l'attività fisica. Età, perché, più, città.\n", 200)
	out := map[string]Report{"minimal": sample(kind)}
	add := func(name string, f func(r *Report)) {
		r := sample(kind)
		f(&r)
		out[name] = r
	}
	add("with quesito", func(r *Report) { r.Quesito = "Sospetta ipertensione & cefalea <da chiarire>" })
	add("without quesito", func(r *Report) { r.Quesito = "" })
	add("several prestazioni", func(r *Report) {
		r.Prestazioni = []Prestazione{
			{Code: "89.01", Display: "Anamnesi e valutazione, definite brevi", Branca: "02", Disciplina: "08"},
			{Code: "89.7", Display: "Visita generale"},
			{Display: "Colloquio di controllo (senza codice)"},
		}
	})
	add("long text to escape", func(r *Report) {
		r.Findings = long
		r.Quesito = "Dolore toracico <non> tipico & dispnea: è cardiaco?"
		r.Organization.Name = `Azienda "Socio Sanitaria" <Territoriale> & C.`
		r.Patient.Family, r.Patient.Given = "D'Angelò", "Niccolò Maria"
	})
	add("named professionals", func(r *Report) {
		r.Author = Person{CF: doctorCF, Family: "Verdi", Given: "Giuseppe"}
		r.Requester = Person{CF: requesterCF, Family: "Bianchi", Given: "Luca"}
		r.RequesterOrganization = Organization{ID: "150201", Name: "ASL Napoli 1 Centro"}
	})
	add("unknown birth date, gender UN, known comune", func(r *Report) {
		r.Patient.BirthDate, r.Patient.Gender, r.Patient.BirthPlace = time.Time{}, "UN", "058091"
	})
	add("born abroad", func(r *Report) { r.Patient.CF = cfOf("RSSMRA80A01Z404") })
	add("foreigner with an STP code", func(r *Report) { r.Patient.CF = "STP0301234567890" })
	add("foreigner with an ENI code", func(r *Report) { r.Patient.CF = "ENI0301234567890" })
	add("open encounter", func(r *Report) { r.End = time.Time{} })
	add("instant encounter", func(r *Report) { r.End = r.Start })
	add("no encounter id", func(r *Report) { r.Encounter = "" })
	add("attachment", func(r *Report) {
		r.Attachment = &Attachment{MediaType: "image/png", Data: []byte("\x89PNG\r\n\x1a\nnot really a picture")}
	})
	add("sessions and carriage returns", func(r *Report) {
		r.Sessions = []string{"prima sessione", "seconda sessione: <nota> & altro"}
		r.Findings = "Riga uno\r\nRiga due\rRiga tre"
	})
	return out
}

func build(t testing.TB, r Report) []byte {
	t.Helper()
	doc, err := Build(r)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return doc
}

func TestBuildPassesCheck(t *testing.T) {
	for _, kind := range Kinds {
		for name, r := range variants(kind) {
			t.Run(string(kind)+"/"+name, func(t *testing.T) {
				doc := build(t, r)
				fails, err := Check(kind, doc)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if len(fails) != 0 {
					t.Fatalf("failures on a built document: %v", fails)
				}
				if !bytes.Contains(doc, []byte(r.Patient.CF)) || !bytes.Contains(doc, []byte(r.ID)) {
					t.Fatal("the document does not name its patient or its id")
				}
				again := build(t, r)
				if !bytes.Equal(doc, again) {
					t.Fatal("Build is not deterministic")
				}
			})
		}
	}
}

// The text a clinician writes comes back intact, whatever it contains.
func TestBuildKeepsText(t *testing.T) {
	r := sample(Televisita)
	r.Findings = "Valori < 140 & > 90: \"normali\"; l'esame è già fatto.\nSeconda riga àèìòù"
	doc := build(t, r)
	for _, want := range []string{
		"<paragraph>Valori &lt; 140 &amp; &gt; 90: &#34;normali&#34;; l&#39;esame è già fatto.</paragraph>",
		"<paragraph>Seconda riga àèìòù</paragraph>",
	} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("the document lacks %s", want)
		}
	}
}

// A document checked as another kind breaks that kind's template and code
// rules.
func TestCheckOtherKind(t *testing.T) {
	doc := build(t, sample(Televisita))
	fails, err := Check(Teleconsulto, doc)
	if err != nil {
		t.Fatal(err)
	}
	ids := ruleIDs(fails)
	for _, want := range []string{"ERRORE-4", "ERRORE-5", "ERRORE-45"} {
		if !slices.Contains(ids, want) {
			t.Errorf("a televisit checked as a teleconsult: %v, want %s among them", ids, want)
		}
	}
	if _, err := Check("televisione", doc); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("unknown kind: %v, want ErrUnknownKind", err)
	}
}

func ruleIDs(fails []Failure) []string {
	out := make([]string, 0, len(fails))
	for _, f := range fails {
		out = append(out, f.Rule)
	}
	return out
}

func TestCodesAndSchematrons(t *testing.T) {
	for _, tc := range []struct {
		kind              Kind
		loinc, schematron string
	}{
		{Televisita, "75496-0", "schematron_Referto_Televisita_v1.0.sch"},
		{Teleconsulto, "85208-7", "schematron_Relazione_CTC_v1.0.sch"},
		{Teleassistenza, "75496-0", "schematron_Rel_Fin_Teleassistenza_v1.0.sch"},
		{"altro", "", ""},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			if got := LOINC(tc.kind); got != tc.loinc {
				t.Errorf("LOINC = %q, want %q", got, tc.loinc)
			}
			if got := Schematron(tc.kind); got != tc.schematron {
				t.Errorf("Schematron = %q, want %q", got, tc.schematron)
			}
		})
	}
}

// Every kind has a meaningful set of rules, each id once (two rules with
// one id would make a failure of either look like the other).
func TestRulesPerKind(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			seen := map[string]bool{}
			for _, r := range rules {
				id := r.id(kind)
				if id == "" {
					continue
				}
				if seen[id] {
					t.Errorf("two rules carry %s", id)
				}
				seen[id] = true
			}
			ids := Rules(kind)
			if len(ids) < 20 {
				t.Errorf("%d rules, want at least 20", len(ids))
			}
			if !slices.IsSortedFunc(ids, compareIDs) {
				t.Errorf("Rules not sorted: %v", ids)
			}
			t.Logf("%d rules: %s", len(ids), strings.Join(ids, " "))
		})
	}
}

func TestCompareIDs(t *testing.T) {
	ids := []string{"ERRORE-b10", "ERRORE-10", "ERRORE-2", "ERRORE-b2", "ERRORE-22a", "ERRORE-22", "Errore 62", "ERRORE-50b", "ERRORE-50a", "ERRORE-50"}
	slices.SortFunc(ids, compareIDs)
	want := []string{"ERRORE-2", "ERRORE-10", "ERRORE-22", "ERRORE-22a", "ERRORE-50", "ERRORE-50a", "ERRORE-50b", "ERRORE-b2", "ERRORE-b10", "Errore 62"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("sorted %v, want %v", ids, want)
	}
}

func TestPDF(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			r := variants(kind)["long text to escape"]
			pdf, err := PDF(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 8)])
			}
			got, err := pdfcda.Extract(bytes.NewReader(pdf))
			if err != nil {
				t.Fatal(err)
			}
			if want := build(t, r); !bytes.Equal(got, want) {
				t.Fatal("the PDF's cda.xml is not the built document")
			}
		})
	}
	if _, err := PDF(Report{Kind: Televisita}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PDF of an empty report: %v, want ErrInvalid", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind Kind
		edit func(r *Report)
		want string
	}{
		{"unknown kind", Televisita, func(r *Report) { r.Kind = "telepatia" }, "unknown report kind"},
		{"no region", Televisita, func(r *Report) { r.Region = "" }, "region"},
		{"region not ISTAT", Televisita, func(r *Report) { r.Region = "031" }, "region"},
		{"region of two digits", Televisita, func(r *Report) { r.Region = "30" }, "region"},
		{"no id", Televisita, func(r *Report) { r.ID = "" }, "no id"},
		{"id with spaces around", Televisita, func(r *Report) { r.ID = " x " }, "spaces"},
		{"id too long", Televisita, func(r *Report) { r.ID = strings.Repeat("x", 129) }, "at most 128"},
		{"no time", Televisita, func(r *Report) { r.Time = time.Time{} }, "no time"},
		{"patient CF too short", Televisita, func(r *Report) { r.Patient.CF = "RSSMRA80A01H501" }, "codice fiscale"},
		{"patient CF bad check character", Televisita, func(r *Report) { r.Patient.CF = "RSSMRA80A01H501A" }, "check character"},
		{"patient CF lower case", Televisita, func(r *Report) { r.Patient.CF = strings.ToLower(patientCF) }, "not written as the registry keys it"},
		{"STP code too short", Televisita, func(r *Report) { r.Patient.CF = "STP030123456789" }, "STP code"},
		{"patient without name", Televisita, func(r *Report) { r.Patient.Family, r.Patient.Given = "", " " }, "no name"},
		{"patient gender", Televisita, func(r *Report) { r.Patient.Gender = "X" }, "gender"},
		{"patient born after the report", Televisita, func(r *Report) { r.Patient.BirthDate = at.Add(24 * time.Hour) }, "born after"},
		{"birth place not ISTAT", Televisita, func(r *Report) { r.Patient.BirthPlace = "H501" }, "ISTAT"},
		{"author CF", Televisita, func(r *Report) { r.Author.CF = "VRDGPP70A01F205" }, "author"},
		{"author CF missing", Televisita, func(r *Report) { r.Author = Person{Family: "Verdi"} }, "author"},
		{"no organization id", Televisita, func(r *Report) { r.Organization.ID = "" }, "organization id"},
		{"no organization name", Televisita, func(r *Report) { r.Organization.Name = "  " }, "organization: no name"},
		{"no order", Televisita, func(r *Report) { r.Order = "" }, "no order"},
		{"no start", Televisita, func(r *Report) { r.Start = time.Time{} }, "no start"},
		{"ends before it starts", Televisita, func(r *Report) { r.End = r.Start.Add(-time.Minute) }, "before it starts"},
		{"no findings", Televisita, func(r *Report) { r.Findings = " \n " }, "no text"},
		{"findings too long", Televisita, func(r *Report) { r.Findings = strings.Repeat("a", MaxTextBytes+1) }, "findings"},
		{"findings with a control character", Televisita, func(r *Report) { r.Findings = "a\x00b" }, "XML cannot carry"},
		{"findings not UTF-8", Televisita, func(r *Report) { r.Findings = "a\xffb" }, "UTF-8"},
		{"televisit without prestazioni", Televisita, func(r *Report) { r.Prestazioni = nil }, "at least one prestazione"},
		{"prestazione code", Televisita, func(r *Report) { r.Prestazioni[0].Code = "89 01" }, "catalogue code"},
		{"empty prestazione", Televisita, func(r *Report) { r.Prestazioni = append(r.Prestazioni, Prestazione{}) }, "neither a code"},
		{"branca", Televisita, func(r *Report) { r.Prestazioni[0].Branca = "cardio logia" }, "branca"},
		{"too many sessions", Teleassistenza, func(r *Report) { r.Sessions = make([]string, MaxPrestazioni+1) }, "at most"},
		{"teleconsult without requester", Teleconsulto, func(r *Report) { r.Requester = Person{} }, "requesting clinician"},
		{"requester CF", Teleconsulto, func(r *Report) { r.Requester.CF = "x" }, "requester"},
		{"requester organization without id", Teleconsulto, func(r *Report) { r.RequesterOrganization = Organization{Name: "ASL"} }, "requester organization id"},
		{"attachment media type", Televisita, func(r *Report) { r.Attachment = &Attachment{MediaType: "png", Data: []byte{1}} }, "media type"},
		{"empty attachment", Televisita, func(r *Report) { r.Attachment = &Attachment{MediaType: "image/png"} }, "attachment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sample(tc.kind)
			tc.edit(&r)
			err := r.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if _, berr := Build(r); !errors.Is(berr, ErrInvalid) {
				t.Errorf("Build: %v, want ErrInvalid", berr)
			}
		})
	}
}

// Validate names every problem at once.
func TestValidateReportsAll(t *testing.T) {
	err := Report{Kind: Teleconsulto}.Validate()
	for _, want := range []string{"region", "no id", "no time", "codice fiscale", "author", "no order", "no start", "no text", "requesting clinician"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not mention %q", err, want)
		}
	}
}

// What is not a readable ClinicalDocument is an error, never a panic nor a
// list of failures.
func TestCheckRefusesGarbage(t *testing.T) {
	valid := build(t, sample(Televisita))
	deep := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3">` + strings.Repeat("<x>", 10000) + strings.Repeat("</x>", 10000) + `</ClinicalDocument>`)
	wide := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3">` + strings.Repeat("<x/>", maxNodes+1) + `</ClinicalDocument>`)
	huge := append(bytes.Clone(valid[:len(valid)-len("</ClinicalDocument>\n")]), []byte("<!--")...)
	huge = append(huge, bytes.Repeat([]byte("x"), MaxDocumentBytes)...)
	huge = append(huge, []byte("--></ClinicalDocument>")...)
	cases := map[string][]byte{
		"empty":               nil,
		"spaces":              []byte(" \n\t"),
		"not XML":             []byte("this is not a document"),
		"JSON":                []byte(`{"resourceType":"Bundle"}`),
		"PDF":                 []byte("%PDF-1.7\n"),
		"truncated":           valid[:len(valid)/2],
		"mismatched tags":     []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><a></b></ClinicalDocument>`),
		"deeply nested":       deep,
		"too many elements":   wide,
		"huge":                huge,
		"two roots":           append(bytes.Clone(valid), []byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>")...),
		"text after the root": append(bytes.Clone(valid), []byte("trailing")...),
		"latin-1":             []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>`),
		"bad UTF-8":           []byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>\xff</title></ClinicalDocument>"),
		"no namespace":        []byte(`<ClinicalDocument/>`),
		"other namespace":     []byte(`<ClinicalDocument xmlns="urn:hl7-org:v2"/>`),
		"undeclared entity":   []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&nbsp;</title></ClinicalDocument>`),
	}
	for _, name := range []string{"not-a-cda.xml", "entities.xml", "prefixed-other-root.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		cases["testdata/"+name] = b
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			fails, err := Check(Televisita, doc)
			if !errors.Is(err, ErrNotCDA) {
				t.Fatalf("Check = %v, %v; want an error wrapping ErrNotCDA", fails, err)
			}
			if fails != nil {
				t.Errorf("failures with the error: %v", fails)
			}
			t.Logf("%v", err)
		})
	}
}

// A ClinicalDocument with nothing in it is readable, and breaks the rules.
func TestCheckEmptyDocument(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fails, err := Check(kind, []byte(`<hl7:ClinicalDocument xmlns:hl7="urn:hl7-org:v3"/>`))
			if err != nil {
				t.Fatal(err)
			}
			if len(fails) < 10 {
				t.Fatalf("only %v", fails)
			}
			if !slices.IsSortedFunc(fails, func(a, b Failure) int { return compareIDs(a.Rule, b.Rule) }) {
				t.Fatalf("not sorted: %v", fails)
			}
		})
	}
}

func FuzzCheck(f *testing.F) {
	for _, kind := range Kinds {
		f.Add(build(f, sample(kind)))
	}
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component><section><code code="62387-6"/></section></component></structuredBody></component></ClinicalDocument>`))
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><versionNumber value="2"/><setId root="a" extension="b"/><id root="a" extension="b"/></ClinicalDocument>`))
	f.Add([]byte("<a/>"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, doc []byte) {
		// One kind an input (the input's length picks it) keeps each
		// execution cheap; the corpus covers the three.
		kind := Kinds[len(doc)%len(Kinds)]
		fails, err := Check(kind, doc)
		again, err2 := Check(kind, doc)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(fails, again) {
			t.Fatalf("Check is not deterministic: %v, %v then %v, %v", fails, err, again, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrNotCDA) {
				t.Fatalf("error %v does not wrap ErrNotCDA", err)
			}
			return
		}
		known := Rules(kind)
		for i, f := range fails {
			if !slices.Contains(known, f.Rule) || f.Message == "" {
				t.Fatalf("failure %v is not one of the kind's rules", f)
			}
			if i > 0 && compareIDs(fails[i-1].Rule, f.Rule) >= 0 {
				t.Fatalf("failures not sorted and unique: %v", fails)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	doc := build(b, variants(Televisita)["several prestazioni"])
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Check(Televisita, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPDF is the cost of one report as a provider makes it: the CDA
// built and wrapped in its PDF; it reports the PDF's size.
func BenchmarkPDF(b *testing.B) {
	for _, kind := range Kinds {
		b.Run(string(kind), func(b *testing.B) {
			r := sample(kind)
			var size int
			for b.Loop() {
				pdf, err := PDF(r)
				if err != nil {
					b.Fatal(err)
				}
				size = len(pdf)
			}
			b.ReportMetric(float64(size), "pdf-bytes")
		})
	}
}
