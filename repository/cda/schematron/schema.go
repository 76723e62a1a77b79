package schematron

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Schema is one national schematron, ported: its namespaces, variables,
// and patterns of rules, each rule a context and the assertions checked
// on every node it matches. Reports (warnings) are not kept: the gateway
// refuses a document for failed assertions only.
type Schema struct {
	Name     string // fsenet's name of it: LAB, LDO, Referto_Televisita…
	Source   string // the national file it was ported from
	Title    string
	Template string // the ClinicalDocument templateId root it judges
	Code     string // the LOINC document type it judges
	NS       map[string]string
	Lets     []Let
	Patterns []Pattern

	once     sync.Once
	compiled *compiledSchema
	err      error
}

// Pattern is a set of rules: a node is judged by the first of them whose
// context it matches.
type Pattern struct {
	ID    string
	Lets  []Let
	Rules []Rule
}

// Rule is a context and what holds there.
type Rule struct {
	Context string
	Lets    []Let
	Asserts []Assert
}

// Let binds a variable to an expression's value.
type Let struct{ Name, Value string }

// Assert is one assertion: its id (ERRORE-n), its test, and its message
// in parts: text, the context's name (Name), or an expression's value
// (ValueOf).
type Assert struct {
	ID      string
	Test    string
	Message []Part
}

// Part is a piece of a message.
type Part struct {
	Text    string
	Name    bool
	ValueOf string
}

// Failure is one failed assertion on one node.
type Failure struct {
	Rule    string `json:"rule"` // the schematron's id, e.g. ERRORE-12
	Message string `json:"message"`
}

func (f Failure) String() string { return f.Rule + ": " + f.Message }

type compiledSchema struct {
	lets     []compiledLet
	patterns []compiledPattern
}

type compiledLet struct {
	name string
	e    expr
}

type compiledPattern struct {
	lets  []compiledLet
	rules []compiledRule
}

type compiledRule struct {
	context expr
	lets    []compiledLet
	asserts []compiledAssert
}

type compiledAssert struct {
	id      string
	test    expr
	message []compiledPart
}

type compiledPart struct {
	text    string
	name    bool
	valueOf expr
}

// compile compiles the schema's expressions once.
func (s *Schema) compile() (*compiledSchema, error) {
	s.once.Do(func() { s.compiled, s.err = s.build() })
	return s.compiled, s.err
}

func (s *Schema) build() (*compiledSchema, error) {
	c := &compiledSchema{}
	var err error
	lets := func(ls []Let) []compiledLet {
		var out []compiledLet
		for _, l := range ls {
			e, cerr := compile(l.Value, s.NS)
			if cerr != nil && err == nil {
				err = fmt.Errorf("%s: let %s = %q: %w", s.Name, l.Name, l.Value, cerr)
			}
			out = append(out, compiledLet{l.Name, e})
		}
		return out
	}
	c.lets = lets(s.Lets)
	for _, p := range s.Patterns {
		cp := compiledPattern{lets: lets(p.Lets)}
		for _, r := range p.Rules {
			src := r.Context
			if !strings.HasPrefix(src, "/") {
				src = "//" + src
			}
			ctx, cerr := compile(src, s.NS)
			if cerr != nil {
				return nil, fmt.Errorf("%s: context %q: %w", s.Name, r.Context, cerr)
			}
			cr := compiledRule{context: ctx, lets: lets(r.Lets)}
			for _, a := range r.Asserts {
				t, cerr := compile(a.Test, s.NS)
				if cerr != nil {
					return nil, fmt.Errorf("%s: %s: test %q: %w", s.Name, a.ID, a.Test, cerr)
				}
				ca := compiledAssert{id: a.ID, test: t}
				for _, part := range a.Message {
					cpart := compiledPart{text: part.Text, name: part.Name}
					if part.ValueOf != "" {
						if cpart.valueOf, cerr = compile(part.ValueOf, s.NS); cerr != nil {
							return nil, fmt.Errorf("%s: %s: value-of %q: %w", s.Name, a.ID, part.ValueOf, cerr)
						}
					}
					ca.message = append(ca.message, cpart)
				}
				cr.asserts = append(cr.asserts, ca)
			}
			cp.rules = append(cp.rules, cr)
		}
		c.patterns = append(c.patterns, cp)
	}
	return c, err
}

// Validate judges a document by the schema: every failed assertion on
// every node, in document order. It fails when the document is not XML
// it can read (ErrNotXML) or a rule cannot be evaluated on it.
func (s *Schema) Validate(doc []byte) ([]Failure, error) {
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	root, err := parse(doc)
	if err != nil {
		return nil, err
	}
	return c.validate(root)
}

func (c *compiledSchema) validate(root *node) (out []Failure, err error) {
	vars := map[string]value{}
	base := env{node: root, pos: 1, size: 1, vars: vars, root: root}
	if err := bind(c.lets, base); err != nil {
		return nil, err
	}
	for _, p := range c.patterns {
		if err := bind(p.lets, base); err != nil {
			return nil, err
		}
		// Each node is judged by the first rule of the pattern it matches.
		judged := map[*node]bool{}
		type firing struct {
			n *node
			r *compiledRule
		}
		var fired []firing
		for i := range p.rules {
			v, err := evaluate(p.rules[i].context, base)
			if err != nil {
				return nil, err
			}
			for _, n := range nodesOf(v) {
				if !judged[n] {
					judged[n] = true
					fired = append(fired, firing{n, &p.rules[i]})
				}
			}
		}
		slices.SortStableFunc(fired, func(a, b firing) int { return a.n.order - b.n.order })
		for _, f := range fired {
			fails, err := f.r.judge(f.n, root, vars)
			if err != nil {
				return nil, err
			}
			out = append(out, fails...)
		}
	}
	return out, nil
}

func bind(lets []compiledLet, en env) error {
	for _, l := range lets {
		v, err := evaluate(l.e, en)
		if err != nil {
			return fmt.Errorf("let %s: %w", l.name, err)
		}
		en.vars[l.name] = v
	}
	return nil
}

func (r *compiledRule) judge(n, root *node, global map[string]value) ([]Failure, error) {
	vars := global
	if len(r.lets) > 0 {
		vars = make(map[string]value, len(global)+len(r.lets))
		for k, v := range global {
			vars[k] = v
		}
	}
	en := env{node: n, pos: 1, size: 1, vars: vars, root: root}
	if err := bind(r.lets, en); err != nil {
		return nil, err
	}
	var out []Failure
	for _, a := range r.asserts {
		v, err := evaluate(a.test, en)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.id, err)
		}
		if ebv(v) {
			continue
		}
		out = append(out, Failure{Rule: a.id, Message: a.render(en)})
	}
	return out, nil
}

func (a compiledAssert) render(en env) string {
	var b strings.Builder
	for _, p := range a.message {
		switch {
		case p.name:
			b.WriteString(en.node.local)
		case p.valueOf != nil:
			if v, err := evaluate(p.valueOf, en); err == nil {
				b.WriteString(toString(v))
			}
		default:
			b.WriteString(p.text)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
