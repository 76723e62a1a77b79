package schematron

import (
	"fmt"
	"strings"
)

// expr is a compiled expression.
type expr interface{}

type (
	binary struct {
		op   string
		l, r expr
	}
	negate  struct{ e expr }
	ifExpr  struct{ cond, then, els expr }
	literal struct{ v value }
	varRef  struct{ name string }
	call    struct {
		name string
		args []expr
	}
	// path is an optional start (an expression, or the root) and steps.
	path struct {
		root  bool // starts at the document
		start expr // a primary the steps start from (nil: the context)
		steps []step
	}
	step struct {
		axis  string // child, attribute, parent, ancestor, self, descendant-or-self, descendant
		test  nameTest
		preds []expr
		call  expr // a function-call step (XPath 2.0), instead of an axis step
	}
	// filter is a primary with predicates.
	filter struct {
		e     expr
		preds []expr
	}
	contextItem struct{}
)

// nameTest matches nodes: by namespace and local name, any element (or
// attribute) of a namespace, text(), node().
type nameTest struct {
	kind  string // name, any, text, node
	space string
	local string // "" with kind any: every namespace
	anyNS bool
}

type parser struct {
	toks []token
	pos  int
	ns   map[string]string
}

// compile parses an expression; prefixes resolve through ns.
func compile(src string, ns map[string]string) (expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, ns: ns}
	e, err := p.exprSingle()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }
func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}
func (p *parser) expect(s string) error {
	if !p.isOp(s) {
		return fmt.Errorf("want %q, have %q", s, p.peek().text)
	}
	p.pos++
	return nil
}

func (p *parser) exprSingle() (expr, error) {
	if t := p.peek(); t.kind == tName && t.text == "if" && p.toks[p.pos+1].kind == tOp && p.toks[p.pos+1].text == "(" {
		p.pos += 2
		cond, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		if err := p.expect("then"); err != nil {
			return nil, err
		}
		then, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		if err := p.expect("else"); err != nil {
			return nil, err
		}
		els, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		return ifExpr{cond, then, els}, nil
	}
	return p.binaryLevel(0)
}

// levels of binary operators, loosest first.
var levels = [][]string{
	{"or"},
	{"and"},
	{"=", "!=", "<", "<=", ">", ">=", "eq", "ne", "lt", "le", "gt", "ge"},
	{"+", "-"},
	{"*", "div", "mod"},
}

func (p *parser) binaryLevel(l int) (expr, error) {
	if l == len(levels) {
		return p.unary()
	}
	left, err := p.binaryLevel(l + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(levels[l], t.text) {
			return left, nil
		}
		p.pos++
		var right expr
		if t.text == "or" || t.text == "and" {
			// An if-expression may stand after or/and in the schematrons.
			right, err = p.exprSingleAt(l + 1)
		} else {
			right, err = p.binaryLevel(l + 1)
		}
		if err != nil {
			return nil, err
		}
		left = binary{t.text, left, right}
		if l == 2 { // comparisons do not chain
			return left, nil
		}
	}
}

func (p *parser) exprSingleAt(l int) (expr, error) {
	if t := p.peek(); t.kind == tName && t.text == "if" && p.toks[p.pos+1].kind == tOp && p.toks[p.pos+1].text == "(" {
		return p.exprSingle()
	}
	return p.binaryLevel(l)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) unary() (expr, error) {
	if p.isOp("-") {
		p.pos++
		e, err := p.unary()
		return negate{e}, err
	}
	return p.union()
}

func (p *parser) union() (expr, error) {
	left, err := p.pathExpr()
	if err != nil {
		return nil, err
	}
	for p.isOp("|") {
		p.pos++
		right, err := p.pathExpr()
		if err != nil {
			return nil, err
		}
		left = binary{"|", left, right}
	}
	return left, nil
}

func (p *parser) pathExpr() (expr, error) {
	var pa path
	switch {
	case p.isOp("/"):
		p.pos++
		pa.root = true
		if !p.startsStep() {
			return pa, nil
		}
	case p.isOp("//"):
		p.pos++
		pa.root = true
		pa.steps = append(pa.steps, step{axis: "descendant-or-self", test: nameTest{kind: "node"}})
	default:
		if p.startsPrimary() {
			prim, err := p.primary()
			if err != nil {
				return nil, err
			}
			preds, err := p.predicates()
			if err != nil {
				return nil, err
			}
			if len(preds) > 0 {
				prim = filter{prim, preds}
			}
			if !p.isOp("/") && !p.isOp("//") {
				return prim, nil
			}
			pa.start = prim
			if err := p.slash(&pa); err != nil {
				return nil, err
			}
		}
	}
	for {
		st, err := p.step()
		if err != nil {
			return nil, err
		}
		pa.steps = append(pa.steps, st)
		if !p.isOp("/") && !p.isOp("//") {
			return pa, nil
		}
		if err := p.slash(&pa); err != nil {
			return nil, err
		}
	}
}

func (p *parser) slash(pa *path) error {
	if p.next().text == "//" {
		pa.steps = append(pa.steps, step{axis: "descendant-or-self", test: nameTest{kind: "node"}})
	}
	return nil
}

func (p *parser) startsStep() bool {
	t := p.peek()
	return t.kind == tName || t.kind == tStar || t.kind == tOp && (t.text == "@" || t.text == "." || t.text == "..")
}

func (p *parser) startsPrimary() bool {
	t := p.peek()
	switch t.kind {
	case tString, tNumber, tVar:
		return true
	case tOp:
		return t.text == "(" || t.text == "."
	case tName:
		nt := p.toks[p.pos+1]
		return nt.kind == tOp && nt.text == "(" && !isNodeType(t.text)
	}
	return false
}

func isNodeType(name string) bool { return name == "text" || name == "node" }

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return literal{t.text}, nil
	case tNumber:
		return literal{t.num}, nil
	case tVar:
		return varRef{t.text}, nil
	case tOp:
		if t.text == "." {
			return contextItem{}, nil
		}
		if p.isOp(")") { // ()
			p.pos++
			return literal{[]*node(nil)}, nil
		}
		e, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	}
	// a function call
	p.pos++ // (
	c := call{name: t.text}
	if _, ok := funcs[c.name]; !ok {
		return nil, fmt.Errorf("unknown function %s()", c.name)
	}
	for !p.isOp(")") {
		a, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, a)
		if p.isOp(",") {
			p.pos++
		} else if !p.isOp(")") {
			return nil, fmt.Errorf("want , or ) in %s(), have %q", c.name, p.peek().text)
		}
	}
	p.pos++
	return c, nil
}

func (p *parser) predicates() ([]expr, error) {
	var out []expr
	for p.isOp("[") {
		p.pos++
		e, err := p.exprSingle()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (p *parser) step() (step, error) {
	var st step
	if t := p.peek(); t.kind == tName && !isNodeType(t.text) && t.text != "if" && p.toks[p.pos+1].kind == tOp && p.toks[p.pos+1].text == "(" {
		c, err := p.primary()
		st.call = c
		return st, err
	}
	switch {
	case p.isOp(".."):
		p.pos++
		return step{axis: "parent", test: nameTest{kind: "node"}}, nil
	case p.isOp("."):
		p.pos++
		return step{axis: "self", test: nameTest{kind: "node"}}, nil
	case p.isOp("@"):
		p.pos++
		st.axis = "attribute"
	default:
		st.axis = "child"
		if t := p.peek(); t.kind == tName && p.toks[p.pos+1].kind == tOp && p.toks[p.pos+1].text == "::" {
			switch t.text {
			case "child", "attribute", "parent", "ancestor", "ancestor-or-self", "self", "descendant", "descendant-or-self", "following-sibling", "preceding-sibling":
			default:
				return st, fmt.Errorf("unsupported axis %s::", t.text)
			}
			st.axis = t.text
			p.pos += 2
		}
	}
	t := p.next()
	switch {
	case t.kind == tStar:
		st.test = nameTest{kind: "any", anyNS: true}
	case t.kind == tName && isNodeType(t.text) && p.isOp("("):
		p.pos++
		if err := p.expect(")"); err != nil {
			return st, err
		}
		st.test = nameTest{kind: t.text}
	case t.kind == tName:
		prefix, local, ok := strings.Cut(t.text, ":")
		space := ""
		if ok {
			uri, known := p.ns[prefix]
			if !known {
				return st, fmt.Errorf("unknown prefix %q", prefix)
			}
			space = uri
		} else {
			local = prefix
		}
		if local == "*" {
			st.test = nameTest{kind: "any", space: space}
		} else {
			st.test = nameTest{kind: "name", space: space, local: local}
		}
	default:
		return st, fmt.Errorf("want a step, have %q", t.text)
	}
	preds, err := p.predicates()
	st.preds = preds
	return st, err
}
