// Command gen ports the national schematrons (the FSE 2.0 gateway's, as
// published in ministero-salute/it-fse-catalogs) into Go: one file of
// rules per schematron, for package schematron to evaluate without
// Java. Run it when the Ministry publishes new versions:
//
//	go run ./repository/cda/schematron/gen -from DIR -out repository/cda/schematron
package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// elem is an element of a schematron file.
type elem struct {
	name  string
	attrs map[string]string
	kids  []any // *elem or string
}

func (e *elem) attr(n string) string { return e.attrs[n] }

func (e *elem) children(name string) []*elem {
	var out []*elem
	for _, k := range e.kids {
		if c, ok := k.(*elem); ok && c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func read(path string) (*elem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*elem
	var root *elem
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &elem{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, string(t))
			}
		}
	}
	return root, nil
}

type part struct {
	Text    string
	Name    bool
	ValueOf string
}

type assert struct {
	ID, Test string
	Message  []part
}

type let struct{ Name, Value string }

type rule struct {
	Context string
	Lets    []let
	Asserts []assert
}

type pattern struct {
	ID    string
	Lets  []let
	Rules []rule
}

type schema struct {
	Name, Source, Title, Template, Code string
	NS                                  map[string]string
	Lets                                []let
	Patterns                            []pattern
}

func lets(e *elem) []let {
	var out []let
	for _, l := range e.children("let") {
		v := l.attr("value")
		if v == "" {
			// The one let with content the schematrons hold: the path of
			// the context's ancestors but the ClinicalDocument, for a
			// message (xsl:for-each over them, concat('/', name())).
			fe := l.children("for-each")
			if len(fe) != 1 || fe[0].attr("select") != "ancestor::*[not(self::hl7:ClinicalDocument)]" {
				log.Fatalf("let %s: content other than the ancestors' path", l.attr("name"))
			}
			v = "ancestor-path()"
		}
		out = append(out, let{l.attr("name"), v})
	}
	return out
}

// message splits an assertion's content into its id and message parts.
func message(a *elem) (string, []part) {
	var parts []part
	var walk func(e *elem)
	walk = func(e *elem) {
		for _, k := range e.kids {
			switch k := k.(type) {
			case string:
				parts = append(parts, part{Text: k})
			case *elem:
				switch k.name {
				case "name":
					parts = append(parts, part{Name: true})
				case "value-of":
					parts = append(parts, part{ValueOf: k.attr("select")})
				default:
					walk(k)
				}
			}
		}
	}
	walk(a)
	if len(parts) == 0 || parts[0].Text == "" {
		return "", parts
	}
	id, rest, ok := strings.Cut(parts[0].Text, "|")
	if !ok {
		// The national gateway names a rule by the text before "|"; a
		// message without one has no id ("-"), its text says which.
		return "-", parts
	}
	parts[0].Text = rest
	return strings.TrimSpace(id), parts
}

var (
	templateRE = regexp.MustCompile(`templateId\[@root\s*=\s*'([0-9.]+)'\]`)
	codeRE     = regexp.MustCompile(`^count\(hl7:code\[@code\s*=\s*'([0-9]+-[0-9])'\]`)
)

func port(path string) (schema, error) {
	root, err := read(path)
	if err != nil {
		return schema{}, err
	}
	s := schema{Source: filepath.Base(path), NS: map[string]string{}, Lets: lets(root)}
	s.Name = nameOf(s.Source)
	if t := root.children("title"); len(t) > 0 {
		for _, k := range t[0].kids {
			if str, ok := k.(string); ok {
				s.Title += str
			}
		}
		s.Title = strings.Join(strings.Fields(s.Title), " ")
	}
	for _, n := range root.children("ns") {
		s.NS[n.attr("prefix")] = n.attr("uri")
	}
	for _, p := range root.children("pattern") {
		pt := pattern{ID: p.attr("id"), Lets: lets(p)}
		for _, r := range p.children("rule") {
			if r.attr("abstract") == "true" {
				return s, fmt.Errorf("%s: abstract rules are not supported", path)
			}
			ru := rule{Context: r.attr("context"), Lets: lets(r)}
			for _, a := range r.children("assert") {
				id, msg := message(a)
				ru.Asserts = append(ru.Asserts, assert{ID: id, Test: a.attr("test"), Message: msg})
				if m := codeRE.FindStringSubmatch(strings.TrimSpace(a.attr("test"))); m != nil && s.Code == "" && ru.Context == "hl7:ClinicalDocument" {
					s.Code = m[1]
				}
				if s.Template == "" && ru.Context == "hl7:ClinicalDocument" {
					if m := templateRE.FindStringSubmatch(a.attr("test")); m != nil && m[1] != "2.16.840.1.113883.2.9.10.1.100" {
						s.Template = m[1]
					}
				}
			}
			if len(r.children("extends")) > 0 {
				return s, fmt.Errorf("%s: rule extensions are not supported", path)
			}
			pt.Rules = append(pt.Rules, ru)
		}
		s.Patterns = append(s.Patterns, pt)
	}
	return s, nil
}

var nameRE = regexp.MustCompile(`^schematron(?:FSE)?_(.*?)_v?[0-9][0-9.]*\.sch$`)

func nameOf(file string) string {
	if m := nameRE.FindStringSubmatch(file); m != nil {
		return m[1]
	}
	return strings.TrimSuffix(file, ".sch")
}

func goName(name string) string {
	return "schema" + strings.NewReplacer("_", "", "-", "").Replace(name)
}

func emit(s schema) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by gen from %s; DO NOT EDIT.\n\npackage schematron\n\n", s.Source)
	fmt.Fprintf(&b, "var %s = &Schema{\n\tName: %q,\n\tSource: %q,\n\tTitle: %q,\n\tTemplate: %q,\n\tCode: %q,\n", goName(s.Name), s.Name, s.Source, s.Title, s.Template, s.Code)
	var prefixes []string
	for p := range s.NS {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	b.WriteString("\tNS: map[string]string{")
	for _, p := range prefixes {
		fmt.Fprintf(&b, "%q: %q, ", p, s.NS[p])
	}
	b.WriteString("},\n")
	writeLets(&b, "\t", s.Lets)
	b.WriteString("\tPatterns: []Pattern{\n")
	for _, p := range s.Patterns {
		fmt.Fprintf(&b, "\t\t{ID: %q,\n", p.ID)
		writeLets(&b, "\t\t", p.Lets)
		b.WriteString("\t\tRules: []Rule{\n")
		for _, r := range p.Rules {
			fmt.Fprintf(&b, "\t\t\t{Context: %q,\n", r.Context)
			writeLets(&b, "\t\t\t", r.Lets)
			b.WriteString("\t\t\tAsserts: []Assert{\n")
			for _, a := range r.Asserts {
				fmt.Fprintf(&b, "\t\t\t\t{ID: %q, Test: %q, Message: []Part{", a.ID, a.Test)
				for _, m := range a.Message {
					switch {
					case m.Name:
						b.WriteString("{Name: true}, ")
					case m.ValueOf != "":
						fmt.Fprintf(&b, "{ValueOf: %q}, ", m.ValueOf)
					default:
						fmt.Fprintf(&b, "{Text: %q}, ", m.Text)
					}
				}
				b.WriteString("}},\n")
			}
			b.WriteString("\t\t\t}},\n")
		}
		b.WriteString("\t\t}},\n")
	}
	b.WriteString("\t},\n}\n")
	return format.Source(b.Bytes())
}

func writeLets(b *bytes.Buffer, indent string, ls []let) {
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(b, "%sLets: []Let{", indent)
	for _, l := range ls {
		fmt.Fprintf(b, "{%q, %q}, ", l.Name, l.Value)
	}
	b.WriteString("},\n")
}

func main() {
	from := flag.String("from", "", "the directory of the national schematrons (*.sch)")
	out := flag.String("out", ".", "where the Go files go")
	flag.Parse()
	files, err := filepath.Glob(filepath.Join(*from, "*.sch"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no schematron in %q", *from)
	}
	var names []string
	for _, f := range files {
		s, err := port(f)
		if err != nil {
			log.Fatal(err)
		}
		src, err := emit(s)
		if err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		name := "rules_" + strings.ToLower(s.Name) + ".go"
		if err := os.WriteFile(filepath.Join(*out, name), src, 0o644); err != nil {
			log.Fatal(err)
		}
		names = append(names, goName(s.Name))
		fmt.Printf("%-24s %-44s template %-36s code %s\n", s.Name, s.Source, s.Template, s.Code)
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by gen; DO NOT EDIT.\n\npackage schematron\n\n// schemas are the national schematrons ported.\nvar schemas = []*Schema{\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t%s,\n", n)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "schemas.go"), src, 0o644); err != nil {
		log.Fatal(err)
	}
}
