package schematron

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/repository/synth"
)

// The oracle: the national schematrons run as the national gateway runs
// them (Saxon-HE and SchXslt), outside the repository.
const (
	oracle     = "../../../../shared/tools/schematron/run"
	schDir     = "../../../../shared/samples/fse-it/schematron"
	minVariant = 50
	// errorVerdict: the rules could not be evaluated on the document.
	errorVerdict = "(dynamic error)"
)

// span is an element's bytes in a document: its start tag and, for an
// element with content, its end.
type span struct {
	local      string
	start, end int // [start, end) of the whole element
	tagEnd     int // end of the start tag
	depth      int
}

// elements lists the elements of doc with their byte spans.
func elements(doc []byte) ([]span, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var out []span
	var stack []int
	for {
		off := int(dec.InputOffset())
		tok, err := dec.RawToken()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			out = append(out, span{local: t.Name.Local, start: off, tagEnd: int(dec.InputOffset()), depth: len(stack)})
			stack = append(stack, len(out)-1)
			if bytes.HasSuffix(bytes.TrimSpace(doc[off:dec.InputOffset()]), []byte("/>")) {
				// a self-closing element has no EndElement from RawToken? it does: handled below
			}
		case xml.EndElement:
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			out[i].end = int(dec.InputOffset())
		}
	}
}

var attrRE = regexp.MustCompile(`\s([A-Za-z_:][-\w.:]*)\s*=\s*("[^"]*"|'[^']*')`)

// mutate makes a variant of doc by one change to element e: removed,
// duplicated, an attribute removed, or an attribute's value replaced by
// a wrong code, a wrong OID, a wrong date or an empty one.
func mutate(doc []byte, e span, op int, rng *rand.Rand) ([]byte, string) {
	splice := func(from, to int, with []byte) []byte {
		out := append([]byte(nil), doc[:from]...)
		out = append(out, with...)
		return append(out, doc[to:]...)
	}
	tag := doc[e.start:e.tagEnd]
	attrs := attrRE.FindAllSubmatchIndex(tag, -1)
	if e.depth == 0 {
		op = 2 + op%4 // never remove or duplicate the root
	}
	switch op % 6 {
	case 0:
		return splice(e.start, e.end, nil), "remove " + e.local
	case 1:
		return splice(e.end, e.end, doc[e.start:e.end]), "duplicate " + e.local
	}
	if len(attrs) == 0 {
		return splice(e.start, e.end, nil), "remove " + e.local
	}
	a := attrs[rng.IntN(len(attrs))]
	name := string(tag[a[2]:a[3]])
	if strings.HasPrefix(name, "xmlns") {
		return splice(e.end, e.end, doc[e.start:e.end]), "duplicate " + e.local
	}
	vFrom, vTo := e.start+a[4]+1, e.start+a[5]-1
	switch op % 6 {
	case 2:
		return splice(e.start+a[0], e.start+a[1], nil), "remove " + e.local + "/@" + name
	case 3:
		wrong := []string{"XXX", "1.2.3.4", "99999-9", "", "2024-01-01", "20240101", "abc"}[rng.IntN(7)]
		return splice(vFrom, vTo, []byte(wrong)), fmt.Sprintf("%s/@%s = %q", e.local, name, wrong)
	case 4:
		v := string(doc[vFrom:vTo])
		if len(v) > 1 {
			v = v[:len(v)-1]
		}
		return splice(vFrom, vTo, []byte(v)), fmt.Sprintf("%s/@%s truncated", e.local, name)
	}
	return splice(vFrom, vTo, []byte("2.16.840.1.113883.2.9.4.3.2")), fmt.Sprintf("%s/@%s = an OID of another thing", e.local, name)
}

// runOracle judges documents with the national schematron: the rule ids
// failed, per document. The tool judges a batch or, when the rules cannot
// be evaluated on one document of it (a dynamic error, which makes the
// gateway refuse that document), nothing; so the batch is judged by the
// tool's own compiled schematron and Saxon, document by document within
// one run, and a document without a report is one the rules could not
// evaluate.
func runOracle(t *testing.T, sch string, docs []string) map[string][]string {
	t.Helper()
	// The tool compiles and caches the schematron, and judges the first
	// document.
	first, err := exec.Command(oracle, sch, docs[0]).Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("oracle on %s: %v", docs[0], err)
	}
	got := map[string][]string{}
	collect(got, first, nil)
	if len(docs) == 1 {
		return got
	}
	jar, _ := filepath.Glob("/usr/share/java/Saxon-HE*.jar")
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	b, err := os.ReadFile(sch)
	if err != nil || len(jar) == 0 {
		t.Fatalf("oracle: %v (Saxon %v)", err, jar)
	}
	sum := sha256.Sum256(b)
	xsl := filepath.Join(cache, "fse-schematron", hex.EncodeToString(sum[:])[:16]+".xsl")
	work := t.TempDir()
	in, out := filepath.Join(work, "in"), filepath.Join(work, "out")
	names := map[string]string{}
	if err := errors.Join(os.Mkdir(in, 0o700), os.Mkdir(out, 0o700)); err != nil {
		t.Fatal(err)
	}
	for i, d := range docs[1:] {
		n := fmt.Sprintf("%d.xml", i)
		names[n] = d
		if err := os.Symlink(d, filepath.Join(in, n)); err != nil {
			t.Fatal(err)
		}
	}
	// Exit status 2 says some documents failed; the others are judged.
	_ = exec.Command("java", "-cp", jar[0], "net.sf.saxon.Transform", "-s:"+in, "-xsl:"+xsl, "-o:"+out).Run()
	for n, d := range names {
		svrl, err := os.ReadFile(filepath.Join(out, n))
		if err != nil {
			got[d] = []string{errorVerdict}
			continue
		}
		got[d] = failedAsserts(t, svrl)
	}
	return got
}

// collect reads the tool's lines, DOC<TAB>id<TAB>message.
func collect(got map[string][]string, out []byte, _ error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) >= 2 && !slices.Contains(got[f[0]], f[1]) {
			got[f[0]] = append(got[f[0]], f[1])
		}
	}
	for k := range got {
		slices.Sort(got[k])
	}
}

// failedAsserts reads an SVRL report as the tool does: the id of each
// failed assertion is the text before "|".
func failedAsserts(t *testing.T, svrl []byte) []string {
	var report struct {
		Failed []struct {
			Text struct {
				Inner string `xml:",innerxml"`
			} `xml:"text"`
		} `xml:"failed-assert"`
	}
	if err := xml.Unmarshal(svrl, &report); err != nil {
		t.Fatalf("SVRL: %v", err)
	}
	var ids []string
	for _, f := range report.Failed {
		text := strings.Join(strings.Fields(stripTags(f.Text.Inner)), " ")
		id, _, ok := strings.Cut(text, "|")
		if !ok {
			id = "-"
		}
		if id = strings.TrimSpace(id); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string { return html.UnescapeString(tagRE.ReplaceAllString(s, "")) }

// differential judges a valid document and its variants both ways and
// reports the agreement.
func differential(t *testing.T, valid []byte, variants int) (agree, total int) {
	t.Helper()
	s, fails, err := Check(valid)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 0 {
		t.Fatalf("%s: the valid document fails %v", s.Name, IDs(fails))
	}
	spans, err := elements(valid)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(len(valid)), 17))
	dir := t.TempDir()
	docs := []string{filepath.Join(dir, "valid.xml")}
	what := map[string]string{docs[0]: "the valid document"}
	if err := os.WriteFile(docs[0], valid, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range variants {
		e := spans[rng.IntN(len(spans))]
		if i < len(spans) && i < variants/2 { // the header first: every early element once
			e = spans[i]
		}
		v, desc := mutate(valid, e, rng.IntN(6), rng)
		p := filepath.Join(dir, fmt.Sprintf("v%03d.xml", i))
		if err := os.WriteFile(p, v, 0o600); err != nil {
			t.Fatal(err)
		}
		docs, what[p] = append(docs, p), desc
	}
	want := runOracle(t, filepath.Join(schDir, s.Source), docs)
	for _, p := range docs {
		doc, _ := os.ReadFile(p)
		fails, err := s.Validate(doc) // the valid document's rules, as the oracle is run
		var got []string
		switch {
		case err != nil:
			got = []string{errorVerdict}
			if want[p] == nil || want[p][0] != errorVerdict {
				t.Logf("%s: not judged: %v", what[p], err)
			}
		default:
			got = IDs(fails)
		}
		total++
		if slices.Equal(got, want[p]) {
			agree++
			continue
		}
		t.Errorf("%s, %s: fsenet %v, the national schematron %v", s.Name, what[p], got, want[p])
	}
	return agree, total
}

func TestDifferentialNationalSamples(t *testing.T) {
	if _, err := os.Stat(oracle); err != nil {
		t.Skipf("the schematron oracle is not at %s", oracle)
	}
	files, _ := filepath.Glob(filepath.Join(samples, "*.xml"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			agree, total := differential(t, doc, 2*minVariant)
			t.Logf("%d of %d variants judged alike", agree, total)
		})
	}
}

// TestDifferentialNational: a valid document of every national type the
// synthetic generator makes, and its mutations, judged alike by fsenet
// and by the national tool. FSENET_CONFORMANCE_REPORT names a file that
// gets the agreement per type (docs/CONFORMANCE.md's table).
func TestDifferentialNational(t *testing.T) {
	if _, err := os.Stat(oracle); err != nil {
		t.Skipf("the schematron oracle is not at %s", oracle)
	}
	var report strings.Builder
	for _, name := range synth.NationalTypes() {
		t.Run(name, func(t *testing.T) {
			doc, err := synth.National(name, synth.Document{})
			if err != nil {
				t.Fatal(err)
			}
			agree, total := differential(t, doc, 2*minVariant)
			s, _ := schemaNamed(name)
			fmt.Fprintf(&report, "| %s | %s | %d | %d | %.1f %% |\n", name, s.Source, total-1, agree, 100*float64(agree)/float64(total))
		})
	}
	if p := os.Getenv("FSENET_CONFORMANCE_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func schemaNamed(name string) (*Schema, bool) {
	for _, s := range schemas {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}
