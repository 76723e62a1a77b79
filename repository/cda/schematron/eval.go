package schematron

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// value is a node sequence ([]*node, in document order, no duplicates),
// a string, a float64, a bool, or a sequence of those (atoms: what a
// path whose last step is a function call yields).
type value any

type atoms []value

// env is what an expression is evaluated in.
type env struct {
	node      *node
	pos, size int
	vars      map[string]value
	root      *node
}

type evalError struct{ msg string }

func (e evalError) Error() string { return e.msg }

func fail(format string, args ...any) { panic(evalError{fmt.Sprintf(format, args...)}) }

// evaluate runs e; a dynamic error (an unknown variable, a bad regular
// expression) is returned, not thrown.
func evaluate(e expr, en env) (v value, err error) {
	defer func() {
		if r := recover(); r != nil {
			ee, ok := r.(evalError)
			if !ok {
				panic(r)
			}
			err = ee
		}
	}()
	return eval(e, en), nil
}

func eval(e expr, en env) value {
	switch e := e.(type) {
	case literal:
		return e.v
	case varRef:
		v, ok := en.vars[e.name]
		if !ok {
			fail("unknown variable $%s", e.name)
		}
		return v
	case contextItem:
		return []*node{en.node}
	case negate:
		return -toNumber(eval(e.e, en))
	case ifExpr:
		if ebv(eval(e.cond, en)) {
			return eval(e.then, en)
		}
		return eval(e.els, en)
	case call:
		return funcs[e.name](e.args, en)
	case filter:
		return applyPreds(nodesOf(eval(e.e, en)), e.preds, en)
	case path:
		return evalPath(e, en)
	case binary:
		return evalBinary(e, en)
	}
	fail("unknown expression %T", e)
	return nil
}

func evalBinary(e binary, en env) value {
	switch e.op {
	case "or":
		return ebv(eval(e.l, en)) || ebv(eval(e.r, en))
	case "and":
		return ebv(eval(e.l, en)) && ebv(eval(e.r, en))
	case "|":
		return union(nodesOf(eval(e.l, en)), nodesOf(eval(e.r, en)))
	case "+", "-", "*", "div", "mod":
		x, y := atomize(single(eval(e.l, en))), atomize(single(eval(e.r, en)))
		if len(x) == 0 || len(y) == 0 {
			return atoms{} // an empty operand makes the result empty
		}
		a, b := arithmetic(x[0]), arithmetic(y[0])
		switch e.op {
		case "+":
			return a + b
		case "-":
			return a - b
		case "*":
			return a * b
		case "div":
			return a / b
		}
		return math.Mod(a, b)
	case "eq", "ne", "lt", "le", "gt", "ge":
		a, b := atomize(single(eval(e.l, en))), atomize(single(eval(e.r, en)))
		if len(a) != 1 || len(b) != 1 {
			return false // an empty operand makes the comparison empty
		}
		// A value comparison reads a node's value as a string.
		a[0].untyped, b[0].untyped = false, false
		return compareAtoms(map[string]string{"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[e.op], a[0], b[0])
	}
	// General comparison: true when some pair of the operands' atoms
	// compares so.
	a, b := atomize(eval(e.l, en)), atomize(eval(e.r, en))
	for _, x := range a {
		for _, y := range b {
			if compareAtoms(e.op, x, y) {
				return true
			}
		}
	}
	return false
}

// atom is an atomic value; untyped is the value of a node (compared as a
// number with a number, as a string with a string).
type atom struct {
	v       value // string, float64 or bool
	untyped bool
}

func atomize(v value) []atom {
	switch v := v.(type) {
	case atoms:
		out := make([]atom, len(v))
		for i, x := range v {
			out[i] = atom{x, false}
		}
		return out
	case []*node:
		out := make([]atom, len(v))
		for i, n := range v {
			out[i] = atom{n.stringValue(), true}
		}
		return out
	}
	return []atom{{v, false}}
}

// compareAtoms compares two atoms as XPath 2.0 does: a node's value
// (untyped) takes the other operand's type — a number it cannot be is
// an error (FORG0001) — two node values compare as strings, and a
// number with a string is a type error (XPTY0004).
func compareAtoms(op string, x, y atom) bool {
	kind := func(a atom) string {
		if a.untyped {
			return "untyped"
		}
		switch a.v.(type) {
		case float64:
			return "number"
		case bool:
			return "boolean"
		}
		return "string"
	}
	kx, ky := kind(x), kind(y)
	switch {
	case kx == "untyped" && ky == "untyped", kx == "untyped" && ky == "string", kx == "string" && ky == "untyped", kx == "string" && ky == "string":
		return compareStrings(op, toString(x.v), toString(y.v))
	case kx == "number" && ky == "number":
		return compareNumbers(op, x.v.(float64), y.v.(float64))
	case kx == "untyped" && ky == "number":
		return compareNumbers(op, castDouble(toString(x.v)), y.v.(float64))
	case kx == "number" && ky == "untyped":
		return compareNumbers(op, x.v.(float64), castDouble(toString(y.v)))
	case kx == "boolean" && ky == "boolean":
		return compareNumbers(op, b2f(x.v.(bool)), b2f(y.v.(bool)))
	case kx == "untyped" && ky == "boolean":
		return compareNumbers(op, b2f(castBoolean(toString(x.v))), b2f(y.v.(bool)))
	case kx == "boolean" && ky == "untyped":
		return compareNumbers(op, b2f(x.v.(bool)), b2f(castBoolean(toString(y.v))))
	}
	fail("XPTY0004: cannot compare a %s with a %s", kx, ky)
	return false
}

func compareStrings(op, a, b string) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	}
	return a >= b
}

// castDouble casts a node's value to a number as xs:double does: an
// error when it is not one.
func castDouble(s string) float64 {
	f := toNumber(s)
	if math.IsNaN(f) && strings.TrimSpace(s) != "NaN" {
		fail("FORG0001: cannot convert %q to a number", s)
	}
	return f
}

func castBoolean(s string) bool {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	fail("FORG0001: cannot convert %q to a boolean", s)
	return false
}

// arithmetic is an operand's number: a node's value cast (an error when
// it is not a number), a string a type error.
func arithmetic(a atom) float64 {
	if a.untyped {
		return castDouble(toString(a.v))
	}
	switch v := a.v.(type) {
	case float64:
		return v
	case string:
		fail("XPTY0004: arithmetic on a string")
	}
	fail("XPTY0004: arithmetic on a %T", a.v)
	return 0
}

func compareNumbers(op string, a, b float64) bool {
	switch op {
	case "=":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	}
	return a >= b
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ebv is a value's effective boolean value.
func ebv(v value) bool {
	switch v := v.(type) {
	case atoms:
		return len(v) > 1 || len(v) == 1 && ebv(v[0])
	case []*node:
		return len(v) > 0
	case string:
		return v != ""
	case float64:
		return v != 0 && !math.IsNaN(v)
	case bool:
		return v
	}
	return false
}

func toString(v value) string {
	switch v := v.(type) {
	case atoms:
		if len(v) == 0 {
			return ""
		}
		return toString(v[0])
	case []*node:
		if len(v) == 0 {
			return ""
		}
		return v[0].stringValue()
	case string:
		return v
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN"
		case math.IsInf(v, 1):
			return "INF"
		case math.IsInf(v, -1):
			return "-INF"
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func toNumber(v value) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case bool:
		return b2f(v)
	}
	s := strings.TrimSpace(toString(v))
	if s == "" || strings.ContainsAny(s, "xX_") || strings.HasPrefix(s, "+") && false {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") || strings.EqualFold(s, "nan") {
		switch s {
		case "INF":
			return math.Inf(1)
		case "-INF":
			return math.Inf(-1)
		}
		return math.NaN()
	}
	return f
}

func nodesOf(v value) []*node {
	switch v := v.(type) {
	case []*node:
		return v
	case nil:
		return nil
	case atoms:
		if len(v) == 0 {
			return nil
		}
	}
	fail("a path step on a %T, not on nodes", v)
	return nil
}

func union(a, b []*node) []*node {
	out := append(append([]*node(nil), a...), b...)
	return sortUnique(out)
}

func sortUnique(ns []*node) []*node {
	slices.SortFunc(ns, func(a, b *node) int { return a.order - b.order })
	return slices.Compact(ns)
}

func evalPath(p path, en env) value {
	var cur []*node
	switch {
	case p.root:
		cur = []*node{en.root}
	case p.start != nil:
		cur = nodesOf(eval(p.start, en))
	default:
		cur = []*node{en.node}
	}
	for i, st := range p.steps {
		if st.call != nil {
			// A function-call step (XPath 2.0): its value for each node.
			if i != len(p.steps)-1 {
				fail("a function-call step must be the path's last")
			}
			var out atoms
			for j, n := range cur {
				v := eval(st.call, env{node: n, pos: j + 1, size: len(cur), vars: en.vars, root: en.root})
				if ns, ok := v.([]*node); ok {
					if len(out) > 0 {
						fail("a function-call step mixing nodes and values")
					}
					return union(nil, ns) // a node-valued step
				}
				out = append(out, v)
			}
			return out
		}
		var next []*node
		for _, n := range cur {
			next = append(next, applyPreds(axis(n, st), st.preds, en)...)
		}
		if len(cur) > 1 || st.axis != "child" && st.axis != "attribute" {
			next = sortUnique(next)
		}
		cur = next
	}
	return cur
}

// axis lists the nodes of a step from n that pass its name test, in the
// axis's order (ancestors nearest first).
func axis(n *node, st step) []*node {
	var out []*node
	add := func(m *node) {
		if st.test.matches(m, st.axis == "attribute") {
			out = append(out, m)
		}
	}
	switch st.axis {
	case "child":
		for _, k := range n.kids {
			add(k)
		}
	case "attribute":
		for _, a := range n.attrs {
			add(a)
		}
	case "parent":
		if n.parent != nil {
			add(n.parent)
		}
	case "ancestor", "ancestor-or-self":
		if st.axis == "ancestor-or-self" {
			add(n)
		}
		for m := n.parent; m != nil; m = m.parent {
			add(m)
		}
	case "self":
		add(n)
	case "descendant", "descendant-or-self":
		if st.axis == "descendant-or-self" {
			add(n)
		}
		var walk func(*node)
		walk = func(m *node) {
			for _, k := range m.kids {
				add(k)
				walk(k)
			}
		}
		walk(n)
	case "following-sibling", "preceding-sibling":
		if n.parent != nil && n.kind != attributeNode {
			sib := n.parent.kids
			i := slices.Index(sib, n)
			if st.axis == "following-sibling" {
				for _, k := range sib[i+1:] {
					add(k)
				}
			} else {
				for j := i - 1; j >= 0; j-- {
					add(sib[j])
				}
			}
		}
	}
	return out
}

func (t nameTest) matches(n *node, attr bool) bool {
	switch t.kind {
	case "node":
		return true
	case "text":
		return n.kind == textNode
	}
	if attr && n.kind != attributeNode || !attr && n.kind != elementNode {
		return false
	}
	if t.kind == "any" {
		return t.anyNS || n.space == t.space
	}
	return n.local == t.local && n.space == t.space
}

func applyPreds(ns []*node, preds []expr, en env) []*node {
	for _, p := range preds {
		var kept []*node
		for i, n := range ns {
			v := eval(p, env{node: n, pos: i + 1, size: len(ns), vars: en.vars, root: en.root})
			if f, ok := v.(float64); ok {
				if f == float64(i+1) {
					kept = append(kept, n)
				}
			} else if ebv(v) {
				kept = append(kept, n)
			}
		}
		ns = kept
	}
	return ns
}

// funcs are the functions the schematrons call.
var funcs map[string]func(args []expr, en env) value

var regexps sync.Map // pattern -> *regexp.Regexp

func init() {
	str := func(args []expr, en env, i int) string {
		if i >= len(args) {
			return en.node.stringValue()
		}
		return toString(single(eval(args[i], en)))
	}
	arity := func(name string, args []expr, lo, hi int) {
		if len(args) < lo || len(args) > hi {
			fail("%s() takes %d to %d arguments", name, lo, hi)
		}
	}
	funcs = map[string]func([]expr, env) value{
		"count": func(a []expr, en env) value {
			arity("count", a, 1, 1)
			return float64(len(nodesOf(eval(a[0], en))))
		},
		"not":     func(a []expr, en env) value { arity("not", a, 1, 1); return !ebv(eval(a[0], en)) },
		"true":    func(a []expr, en env) value { return true },
		"false":   func(a []expr, en env) value { return false },
		"boolean": func(a []expr, en env) value { arity("boolean", a, 1, 1); return ebv(eval(a[0], en)) },
		"exists": func(a []expr, en env) value {
			arity("exists", a, 1, 1)
			return ebv(eval(a[0], en)) || isAtomic(eval(a[0], en))
		},
		"empty": func(a []expr, en env) value {
			arity("empty", a, 1, 1)
			v := eval(a[0], en)
			return !isAtomic(v) && !ebv(v)
		},
		"string": func(a []expr, en env) value { arity("string", a, 0, 1); return str(a, en, 0) },
		"number": func(a []expr, en env) value {
			arity("number", a, 0, 1)
			if len(a) == 0 {
				return toNumber(en.node.stringValue())
			}
			return toNumber(single(eval(a[0], en)))
		},
		"string-length": func(a []expr, en env) value {
			arity("string-length", a, 0, 1)
			return float64(len([]rune(str(a, en, 0))))
		},
		"normalize-space": func(a []expr, en env) value {
			arity("normalize-space", a, 0, 1)
			return strings.Join(strings.Fields(str(a, en, 0)), " ")
		},
		"contains": func(a []expr, en env) value {
			arity("contains", a, 2, 2)
			return strings.Contains(str(a, en, 0), str(a, en, 1))
		},
		"starts-with": func(a []expr, en env) value {
			arity("starts-with", a, 2, 2)
			return strings.HasPrefix(str(a, en, 0), str(a, en, 1))
		},
		"ends-with": func(a []expr, en env) value {
			arity("ends-with", a, 2, 2)
			return strings.HasSuffix(str(a, en, 0), str(a, en, 1))
		},
		"substring-after": func(a []expr, en env) value {
			arity("substring-after", a, 2, 2)
			_, after, _ := strings.Cut(str(a, en, 0), str(a, en, 1))
			return after
		},
		"substring-before": func(a []expr, en env) value {
			arity("substring-before", a, 2, 2)
			before, _, ok := strings.Cut(str(a, en, 0), str(a, en, 1))
			if !ok {
				return ""
			}
			return before
		},
		"concat": func(a []expr, en env) value {
			var b strings.Builder
			for i := range a {
				b.WriteString(str(a, en, i))
			}
			return b.String()
		},
		"local-name": func(a []expr, en env) value { arity("local-name", a, 0, 1); return nameOf(a, en) },
		"name":       func(a []expr, en env) value { arity("name", a, 0, 1); return nameOf(a, en) },
		// ancestor-path is not XPath: it is what the schematrons compute
		// with xsl:for-each for messages, /a/b of the context's ancestors
		// below the ClinicalDocument.
		"ancestor-path": func(a []expr, en env) value {
			var parts []string
			for m := en.node.parent; m != nil && m.kind == elementNode; m = m.parent {
				if m.local == "ClinicalDocument" && m.space == "urn:hl7-org:v3" {
					break
				}
				parts = append([]string{"/" + m.local}, parts...)
			}
			return strings.Join(parts, "")
		},
		"matches": func(a []expr, en env) value {
			arity("matches", a, 2, 2)
			return compileRegexp(str(a, en, 1)).MatchString(str(a, en, 0))
		},
	}
}

// single checks that a function's argument is at most one item, as
// XPath 2.0 does (XPTY0004).
func single(v value) value {
	switch v := v.(type) {
	case []*node:
		if len(v) > 1 {
			fail("XPTY0004: a sequence of %d items where at most one is allowed", len(v))
		}
	case atoms:
		if len(v) > 1 {
			fail("XPTY0004: a sequence of %d items where at most one is allowed", len(v))
		}
		if len(v) == 1 {
			return v[0]
		}
		return []*node(nil)
	}
	return v
}

func isAtomic(v value) bool {
	_, nodes := v.([]*node)
	return !nodes && v != nil
}

func nameOf(a []expr, en env) string {
	n := en.node
	if len(a) == 1 {
		ns := nodesOf(single(eval(a[0], en)))
		if len(ns) == 0 {
			return ""
		}
		n = ns[0]
	}
	if n.kind == elementNode || n.kind == attributeNode {
		return n.local
	}
	return ""
}

// compileRegexp compiles an XML Schema regular expression (the subset Go
// reads the same way), once.
func compileRegexp(p string) *regexp.Regexp {
	if re, ok := regexps.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		fail("regular expression %q: %v", p, err)
	}
	regexps.Store(p, re)
	return re
}
