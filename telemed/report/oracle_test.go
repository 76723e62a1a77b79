package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/cda/schematron"
)

// The oracle is the national schematrons run as the gateway runs them
// (../shared/tools/schematron/run beside the repository, or the script
// FSENET_SCHEMATRON_TOOL names). It is a test-time tool that a user's
// clone lacks: the tests that need it skip without it.

// oracle runs the national schematrons.
type oracle struct {
	tool, dir string // the script; the directory of the schematrons
}

// findOracle returns the oracle, or skips the test.
func findOracle(t *testing.T) oracle {
	t.Helper()
	if testing.Short() {
		t.Skip("the national schematrons' oracle starts Java: skipped in -short mode")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Skipf("cannot find the module root: %v", err)
	}
	o := oracle{tool: os.Getenv("FSENET_SCHEMATRON_TOOL")}
	if o.tool == "" {
		o.tool = filepath.Join(root, "..", "shared", "tools", "schematron", "run")
	}
	candidates := []string{
		filepath.Join(filepath.Dir(o.tool), "..", "..", "samples", "fse-it", "schematron"),
		filepath.Join(root, "..", "shared", "samples", "fse-it", "schematron"),
	}
	if st, err := os.Stat(o.tool); err != nil || st.IsDir() {
		t.Skipf("the schematron oracle %s is not here (set FSENET_SCHEMATRON_TOOL to run it): %v", o.tool, err)
	}
	for _, d := range candidates {
		if _, err := os.Stat(filepath.Join(d, Schematron(Televisita))); err == nil {
			o.dir = d
			break
		}
	}
	if o.dir == "" {
		t.Skipf("the national schematrons are not in %s", strings.Join(candidates, " or "))
	}
	for _, k := range Kinds {
		if _, err := os.Stat(filepath.Join(o.dir, Schematron(k))); err != nil {
			t.Skipf("the schematron of %s is missing: %v", k, err)
		}
	}
	return o
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// judge runs kind's schematron on the documents (one Java start for all)
// and returns, for each document by name, the ids of the failed asserts
// (the warnings, W..., are reports and not counted).
func (o oracle) judge(t *testing.T, kind Kind, docs map[string][]byte) map[string][]string {
	t.Helper()
	dir := t.TempDir()
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	slices.Sort(names)
	files := map[string]string{}
	args := []string{filepath.Join(o.dir, Schematron(kind))}
	for i, name := range names {
		f := filepath.Join(dir, fmt.Sprintf("%03d.xml", i))
		if err := os.WriteFile(f, docs[name], 0o644); err != nil {
			t.Fatal(err)
		}
		files[f] = name
		args = append(args, f)
	}
	cmd := exec.Command(o.tool, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 1:
	case errors.As(err, &exit) && exit.ExitCode() == 2 && strings.Contains(stderr.String(), "cannot install java"):
		t.Skipf("the schematron oracle cannot run here: %s", strings.TrimSpace(stderr.String()))
	default:
		t.Fatalf("the schematron oracle failed: %v: %s", err, stderr.String())
	}
	out := map[string][]string{}
	for _, name := range names {
		out[name] = []string{}
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		doc, rest, ok := strings.Cut(sc.Text(), "\t")
		id, _, _ := strings.Cut(rest, "\t")
		name, known := files[doc]
		if !ok || !known {
			t.Fatalf("unexpected oracle output: %q", sc.Text())
		}
		if strings.HasPrefix(id, "W") || slices.Contains(out[name], id) {
			continue
		}
		out[name] = append(out[name], id)
	}
	for _, ids := range out {
		slices.SortFunc(ids, compareIDs)
	}
	return out
}

// The national schematron of each kind accepts every built document.
func TestOracleAcceptsBuilt(t *testing.T) {
	o := findOracle(t)
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			docs := map[string][]byte{}
			for name, r := range variants(kind) {
				docs[name] = build(t, r)
			}
			verdicts := o.judge(t, kind, docs)
			for name, ids := range verdicts {
				if len(ids) != 0 {
					t.Errorf("%s: the national schematron fails %v", name, ids)
				}
			}
			t.Logf("%d documents, all accepted by %s", len(verdicts), Schematron(kind))
		})
	}
}

// mutation is an edit of a valid document that breaks it.
type mutation struct {
	name  string
	kinds []Kind // the kinds it applies to; none is all
	edit  func(doc string) (string, error)
}

// replace replaces old (which must be there) with new.
func replace(old, new string) func(string) (string, error) {
	return func(doc string) (string, error) {
		if !strings.Contains(doc, old) {
			return "", fmt.Errorf("%q is not in the document", old)
		}
		return strings.Replace(doc, old, new, 1), nil
	}
}

// replaceRe replaces the first match of the regular expression re.
func replaceRe(re, new string) func(string) (string, error) {
	rx := regexp.MustCompile(re)
	return func(doc string) (string, error) {
		loc := rx.FindStringIndex(doc)
		if loc == nil {
			return "", fmt.Errorf("%s does not match the document", re)
		}
		return doc[:loc[0]] + rx.ReplaceAllString(doc[loc[0]:loc[1]], new) + doc[loc[1]:], nil
	}
}

// drop removes the first match of the regular expression re but for its
// first group, when it has one (what comes before the dropped element).
func drop(re string) func(string) (string, error) {
	if regexp.MustCompile(re).NumSubexp() > 0 {
		return replaceRe(re, "$1")
	}
	return replaceRe(re, "")
}

// sectionRe matches the section of templateId tpl, with its component.
func sectionRe(tpl string) string {
	return `(?s)<component>\s*<section>\s*<templateId root="` + regexp.QuoteMeta(tpl) + `"/>.*?</section>\s*</component>`
}

func kinds(k ...Kind) []Kind { return k }

var mutations = []mutation{
	{"no realmCode", nil, drop(`<realmCode code="IT"/>`)},
	{"realmCode DE", nil, replace(`<realmCode code="IT"/>`, `<realmCode code="DE"/>`)},
	{"two realmCodes", nil, replace(`<realmCode code="IT"/>`, `<realmCode code="IT"/><realmCode code="IT"/>`)},
	{"templateId without extension", nil, replaceRe(`(<templateId root="2\.16\.840\.1\.113883\.2\.9\.10\.1\.16\.\d\.1") extension="1\.0"/>`, `$1/>`)},
	{"other document templateId", nil, replaceRe(`<templateId root="2\.16\.840\.1\.113883\.2\.9\.10\.1\.16\.\d\.1"`, `<templateId root="2.16.840.1.113883.2.9.10.1.1"`)},
	{"no templateId", nil, drop(`<templateId root="2\.16\.840\.1\.113883\.2\.9\.10\.1\.16\.\d\.1" extension="1\.0"/>`)},
	{"lab report code", nil, replaceRe(`<code code="(75496-0|85208-7)" codeSystem="2\.16\.840\.1\.113883\.6\.1"`, `<code code="11502-2" codeSystem="2.16.840.1.113883.6.1"`)},
	{"code outside LOINC", nil, replaceRe(`<code code="(75496-0|85208-7)" codeSystem="2\.16\.840\.1\.113883\.6\.1"`, `<code code="$1" codeSystem="2.16.840.1.113883.6.96"`)},
	{"confidentiality X", nil, replace(`<confidentialityCode code="N"`, `<confidentialityCode code="X"`)},
	{"no languageCode", nil, drop(`<languageCode code="it-IT"/>`)},
	{"setId of another document", nil, replaceRe(`(<setId root="[^"]*" extension=")[^"]*"`, `${1}other-1"`)},
	{"version 2 replacing nothing", nil, replace(`<versionNumber value="1"/>`, `<versionNumber value="2"/>`)},
	{"two relatedDocuments RPLC", nil, replace(`<recordTarget>`, `<relatedDocument typeCode="RPLC"><parentDocument><id root="2.16.840.1.113883.2.9.2.030.4.4" extension="a"/></parentDocument></relatedDocument><relatedDocument typeCode="RPLC"><parentDocument><id root="2.16.840.1.113883.2.9.2.030.4.4" extension="b"/></parentDocument></relatedDocument><recordTarget>`)},
	{"patient id of no known root", nil, replace(`<id root="2.16.840.1.113883.2.9.4.3.2" extension="`+patientCF+`"/>`, `<id root="1.2.3" extension="`+patientCF+`"/>`)},
	{"patient with CF and a regional id", nil, replace(`<patientRole>`, `<patientRole><id root="2.16.840.1.113883.2.9.2.30.4.1.1" extension="123"/>`)},
	{"patient CF of 15 characters", nil, replace(`extension="`+patientCF+`"`, `extension="`+patientCF[:15]+`"`)},
	{"patient CF in lower case", nil, replace(`extension="`+patientCF+`"`, `extension="`+strings.ToLower(patientCF)+`"`)},
	{"patient TEAM card alone", nil, replace(`<patient>`, `<id root="2.16.840.1.113883.2.9.4.3.7" extension="80380000000000000001"/><patient>`)},
	{"patient without birthTime", nil, drop(`<birthTime value="\d+"/>`)},
	{"patient without gender", nil, drop(`<administrativeGenderCode [^>]*/>`)},
	{"gender in another code system", nil, replace(`codeSystem="2.16.840.1.113883.5.1"`, `codeSystem="2.16.840.1.113883.5.2"`)},
	{"patient name without given", nil, drop(`<given>Mario</given>`)},
	{"patient without name", nil, drop(`<name><family>Prova</family><given>Mario</given></name>`)},
	{"patient without birthplace", kinds(Televisita, Teleconsulto), drop(`(?s)<birthplace>.*?</birthplace>`)},
	{"birthplace without country", kinds(Teleconsulto, Teleassistenza), drop(`<country>100</country>`)},
	{"patient address without use", nil, replace(`<patient>`, `<addr><country>100</country><city>Roma</city><streetAddressLine>Via Prova 1</streetAddressLine></addr><patient>`)},
	{"patient telecom without use", nil, replace(`<patient>`, `<telecom value="tel:+390612345678"/><patient>`)},
	{"no author", nil, drop(`(?s)<author>.*?</author>`)},
	{"author identified by another root", kinds(Televisita, Teleassistenza), replace(`<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2"`, `<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.99"`)},
	{"author without name", nil, drop(`(?s)(<assignedAuthor>.*?<assignedPerson>)<name>.*?</name>`)},
	{"no custodian", nil, drop(`(?s)<custodian>.*?</custodian>`)},
	{"custodian without name", nil, drop(`(?s)(<representedCustodianOrganization>.*?)<name>[^<]*</name>`)},
	{"custodian home address", nil, replace(`</representedCustodianOrganization>`, `<addr use="H"><country>100</country><city>Milano</city><streetAddressLine>Via Prova 2</streetAddressLine></addr></representedCustodianOrganization>`)},
	{"no legalAuthenticator", nil, drop(`(?s)<legalAuthenticator>.*?</legalAuthenticator>`)},
	{"legalAuthenticator without signatureCode", nil, drop(`<signatureCode code="S"/>`)},
	{"signatureCode X", nil, replace(`<signatureCode code="S"/>`, `<signatureCode code="X"/>`)},
	{"legalAuthenticator with two CFs", nil, replaceRe(`(?s)(<legalAuthenticator>.*?<assignedEntity>)`, `$1<id root="2.16.840.1.113883.2.9.4.3.2" extension="`+requesterCF+`"/>`)},
	{"no inFulfillmentOf", kinds(Televisita, Teleassistenza), drop(`(?s)<inFulfillmentOf>.*?</inFulfillmentOf>`)},
	{"order without id", kinds(Teleassistenza), drop(`<id root="2\.16\.840\.1\.113883\.2\.9\.2\.030\.4\.6" extension="[^"]*"/>`)},
	{"order priority without code system", kinds(Televisita, Teleconsulto), replace(`<order classCode="ACT" moodCode="RQO">`, `<order classCode="ACT" moodCode="RQO"><priorityCode code="R"/>`)},
	{"serviceEvent code HOME", kinds(Televisita, Teleconsulto), replace(`<code code="PROG" codeSystem="2.16.840.1.113883.2.9.5.1.4"/>`, `<code code="HOME" codeSystem="2.16.840.1.113883.2.9.5.1.4"/>`)},
	{"serviceEvent code system", nil, replace(`<code code="PROG" codeSystem="2.16.840.1.113883.2.9.5.1.4"/>`, `<code code="PROG" codeSystem="2.16.840.1.113883.2.9.5.1.3"/>`)},
	{"no componentOf", nil, drop(`(?s)<componentOf>.*?</componentOf>`)},
	{"encounter without location", nil, drop(`(?s)<location>.*?</location>`)},
	{"encounter ends before it starts", nil, replaceRe(`(?s)(<encompassingEncounter>.*?<high value=")\d+`, `${1}20200101000000`)},
	{"provider without classCode", nil, replace(`<serviceProviderOrganization classCode="ORG">`, `<serviceProviderOrganization>`)},
	{"provider without asOrganizationPartOf", kinds(Televisita), drop(`(?s)<asOrganizationPartOf>.*?</asOrganizationPartOf>`)},
	{"provider id of another root", kinds(Teleconsulto, Teleassistenza), replaceRe(`(?s)(<serviceProviderOrganization classCode="ORG">\s*<id root=")[^"]*`, `${1}2.16.840.1.113883.2.9.4.1.1`)},
	{"azienda id of another root", kinds(Teleassistenza), replaceRe(`(?s)(<asOrganizationPartOf>\s*<id root=")[^"]*`, `${1}2.16.840.1.113883.2.9.4.1.2`)},
	{"facility id of another root", kinds(Teleconsulto, Teleassistenza), replace(`<healthCareFacility>`, `<healthCareFacility><id root="2.16.840.1.113883.2.9.4.1.2" extension="x"/>`)},
	{"no participant", kinds(Teleconsulto), drop(`(?s)<participant typeCode="REF">.*?</participant>`)},
	{"participant without scopingOrganization", kinds(Teleconsulto), drop(`<scopingOrganization nullFlavor="UNK"/>`)},
	{"participant without id", kinds(Teleconsulto), drop(`<id root="2\.16\.840\.1\.113883\.2\.9\.4\.3\.2" extension="` + requesterCF + `"/>`)},
	{"participant name without given", kinds(Teleconsulto), drop(`(?s)(<associatedPerson><name><family nullFlavor="NI"/>)<given nullFlavor="NI"/>`)},
	{"no Quesito section", kinds(Teleconsulto, Teleassistenza), drop(sectionRe(tplQuesito))},
	{"Quesito section of another templateId", kinds(Teleconsulto, Teleassistenza), replace(`<templateId root="`+tplQuesito+`"/>`, `<templateId root="2.16.840.1.113883.3.1937.777.63.10.1"/>`)},
	{"Quesito section without text", kinds(Teleconsulto, Teleassistenza), drop(`(?s)(<code code="29299-5"[^>]*/>\s*<title>[^<]*</title>\s*)<text>.*?</text>`)},
	{"Quesito coded outside ICD-9-CM", kinds(Teleconsulto, Teleassistenza), replaceRe(`(?s)(<code code="29299-5".*?</text>)`, `$1<entry><observation classCode="OBS" moodCode="EVN"><code code="29298-7" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" code="401.9" codeSystem="2.16.840.1.113883.6.3"/></observation></entry>`)},
	{"no Prestazioni section", nil, drop(sectionRe(tplPrestazioni))},
	{"Prestazioni section of another templateId", nil, replace(`<templateId root="`+tplPrestazioni+`"/>`, `<templateId root="2.16.840.1.113883.3.1937.777.63.10.1"/>`)},
	{"Prestazioni without text", nil, drop(`(?s)(<code code="62387-6"[^>]*/>\s*<title>[^<]*</title>\s*)<text>.*?</text>`)},
	{"Prestazioni without observationMedia", kinds(Televisita, Teleassistenza), drop(`(?s)<entry>\s*<observationMedia.*?</entry>`)},
	{"observationMedia not base64", kinds(Televisita, Teleassistenza), replace(`representation="B64"`, `representation="TXT"`)},
	{"two observationMedia", nil, replaceRe(`(?s)(<code code="62387-6".*?</text>)`, `$1<entry><observationMedia classCode="OBS" moodCode="EVN"><value mediaType="text/plain" representation="B64">YQ==</value></observationMedia></entry><entry><observationMedia classCode="OBS" moodCode="EVN"><value mediaType="text/plain" representation="B64">Yg==</value></observationMedia></entry>`)},
	{"act in intent mood", nil, replace(`<act classCode="ACT" moodCode="EVN">`, `<act classCode="ACT" moodCode="INT">`)},
	{"act without effectiveTime", nil, drop(`(?s)(<act classCode="ACT" moodCode="EVN">.*?)<effectiveTime value="\d+\+0000"/>`)},
	{"act without branca", nil, drop(`<templateId root="` + regexp.QuoteMeta(tplBranca) + `"/>`)},
	{"act without disciplina", nil, drop(`<templateId root="` + regexp.QuoteMeta(tplDisciplina) + `"/>`)},
	{"act with an empty entryRelationship", nil, replace(`<statusCode code="completed"/>`, `<statusCode code="completed"/><entryRelationship typeCode="COMP"/>`)},
	{"observation in intent mood", nil, replace(`<observation classCode="OBS" moodCode="EVN">`, `<observation classCode="OBS" moodCode="INT">`)},
	{"observation of class COND", nil, replace(`<observation classCode="OBS" moodCode="EVN">`, `<observation classCode="COND" moodCode="EVN">`)},
	{"statusCode done", nil, replace(`<statusCode code="completed"/>`, `<statusCode code="done"/>`)},
	{"no Referto section", nil, drop(sectionRe(tplReferto))},
	{"Referto section of another templateId", nil, replace(`<templateId root="`+tplReferto+`"/>`, `<templateId root="2.16.840.1.113883.3.1937.777.63.10.1"/>`)},
	{"Referto without text", nil, drop(`(?s)(<code code="47045-0"[^>]*/>\s*<title>[^<]*</title>\s*)<text>.*?</text>`)},
	{"Referto coded as an unknown section", nil, replace(`<code code="47045-0"`, `<code code="11111-1"`)},
	{"Conclusioni section without text", nil, replace(`</structuredBody>`, `<component><section><code code="55110-1" codeSystem="2.16.840.1.113883.6.1"/><title>Conclusioni</title></section></component></structuredBody>`)},
	{"Diagnosi section of another templateId", nil, replace(`</structuredBody>`, `<component><section><templateId root="2.16.840.1.113883.3.1937.777.63.10.1"/><code code="29548-5" codeSystem="2.16.840.1.113883.6.1"/><title>Diagnosi</title><text>x</text></section></component></structuredBody>`)},
	{"unknown sub-section", nil, replaceRe(`(?s)(<code code="47045-0".*?</text>)`, `$1<component><section><code code="10164-2" codeSystem="2.16.840.1.113883.6.1"/><text>x</text></section></component>`)},
	{"name with a delimiter", nil, replace(`<given>Mario</given>`, `<given>Mario</given><delimiter>,</delimiter>`)},
	{"organization name with a prefix", nil, replace(`<name>ASST di prova</name>`, `<name><prefix>Spett.</prefix>ASST di prova</name>`)},
	{"originalText with an empty reference", nil, replace(`<originalText>Disciplina</originalText>`, `<originalText><reference value=""/></originalText>`)},
}

// For each kind, every mutation of a valid document fails the same rules
// by Check as by the national schematron, and at least one.
func TestDifferential(t *testing.T) {
	o := findOracle(t)
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			base := string(build(t, sample(kind)))
			docs := map[string][]byte{}
			for _, m := range mutations {
				if len(m.kinds) > 0 && !slices.Contains(m.kinds, kind) {
					continue
				}
				doc, err := m.edit(base)
				if err != nil {
					t.Fatalf("mutation %q: %v", m.name, err)
				}
				if doc == base {
					t.Fatalf("mutation %q changed nothing", m.name)
				}
				docs[m.name] = []byte(doc)
			}
			mutated := len(docs)
			if mutated < 12 {
				t.Fatalf("%d mutations, want at least 12", mutated)
			}
			// The other kinds' reports, judged as this kind.
			for _, other := range Kinds {
				if other != kind {
					docs["a valid "+string(other)+" report"] = build(t, sample(other))
				}
			}
			// A document with nothing in it.
			docs["an empty ClinicalDocument"] = []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
			verdicts := o.judge(t, kind, docs)
			agree, ported := 0, portOf(t, kind)
			for name, doc := range docs {
				// The port of every national schematron agrees as well.
				if pf, err := ported.Validate(doc); err != nil || !slices.Equal(schematron.IDs(pf), slices.Sorted(slices.Values(verdicts[name]))) {
					t.Errorf("%s: the ported schematron fails %v (%v), the national one %v", name, schematron.IDs(pf), err, verdicts[name])
				}
				fails, err := Check(kind, doc)
				if err != nil {
					t.Errorf("%s: Check: %v", name, err)
					continue
				}
				got, want := ruleIDs(fails), verdicts[name]
				switch {
				case len(want) == 0:
					t.Errorf("%s: the national schematron accepts it (Check: %v)", name, got)
				case !slices.Equal(got, want):
					t.Errorf("%s: Check fails %v, the national schematron %v", name, got, want)
				default:
					agree++
				}
			}
			t.Logf("%d documents (%d mutations, the other kinds' reports, an empty document): Check and %s agree on %d",
				len(docs), mutated, Schematron(kind), agree)
		})
	}
}

// portOf is the ported schematron of a kind.
func portOf(t *testing.T, kind Kind) *schematron.Schema {
	t.Helper()
	for _, s := range schematron.All() {
		if s.Source == Schematron(kind) {
			return s
		}
	}
	t.Fatalf("no ported schematron %s", Schematron(kind))
	return nil
}

// On documents of other types (the national samples of lab reports,
// discharge letters, patient summaries and radiology reports), Check and
// the national schematron agree on every rule Check implements.
func TestDifferentialSamples(t *testing.T) {
	o := findOracle(t)
	dir := filepath.Join(o.dir, "..", "cda")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("no sample CDA documents in %s", dir)
	}
	docs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = b
	}
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			implemented := Rules(kind)
			verdicts := o.judge(t, kind, docs)
			compared := 0
			for name, doc := range docs {
				fails, err := Check(kind, doc)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var want []string
				for _, id := range verdicts[name] {
					if slices.Contains(implemented, id) {
						want = append(want, id)
					}
				}
				if got := ruleIDs(fails); !slices.Equal(got, want) {
					t.Errorf("%s: Check fails %v, the national schematron %v (of the rules Check implements)", name, got, want)
				}
				compared += len(want)
			}
			t.Logf("%d documents, %d failed rules found alike", len(docs), compared)
		})
	}
}
