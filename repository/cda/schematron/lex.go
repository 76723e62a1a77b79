package schematron

import (
	"fmt"
	"strings"
)

// The XPath 2.0 subset the national schematrons are written in: paths
// over the child, attribute, parent, ancestor, self and descendant axes
// with predicates; general (=, !=, <, <=, >, >=) and value (eq, ne, lt,
// le, gt, ge) comparisons; and, or, arithmetic, union; if-then-else;
// variables; and the functions they call (see funcs).

type tokKind uint8

const (
	tEOF  tokKind = iota
	tName         // an NCName or QName (prefix:local), or prefix:*
	tStar         // * as a name test
	tOp           // an operator or punctuation
	tString
	tNumber
	tVar // $name
)

type token struct {
	kind tokKind
	text string
	num  float64
}

// lex splits an expression into tokens, telling * and the operator names
// (and, or, div, mod, eq…) apart from name tests by what precedes them,
// as the XPath grammar does.
func lex(src string) ([]token, error) {
	var out []token
	// operatorNext: the previous token ends an operand, so a name or *
	// here is an operator.
	operatorNext := func() bool {
		if len(out) == 0 {
			return false
		}
		p := out[len(out)-1]
		switch p.kind {
		case tName, tStar, tString, tNumber, tVar:
			return true
		case tOp:
			return p.text == ")" || p.text == "]" || p.text == "." || p.text == ".."
		}
		return false
	}
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			var sb strings.Builder
			for {
				k := strings.IndexByte(src[j:], c)
				if k < 0 {
					return nil, fmt.Errorf("unterminated string at %d", i)
				}
				sb.WriteString(src[j : j+k])
				j += k + 1
				if j < len(src) && src[j] == c { // a doubled quote is one quote
					sb.WriteByte(c)
					j++
					continue
				}
				break
			}
			out = append(out, token{kind: tString, text: sb.String()})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			var f float64
			if _, err := fmt.Sscan(src[i:j], &f); err != nil {
				return nil, fmt.Errorf("number %q", src[i:j])
			}
			out = append(out, token{kind: tNumber, text: src[i:j], num: f})
			i = j
		case c == '$':
			j := i + 1
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("a variable without a name at %d", i)
			}
			out = append(out, token{kind: tVar, text: src[i+1 : j]})
			i = j
		case c == '*':
			if operatorNext() {
				out = append(out, token{kind: tOp, text: "*"})
			} else {
				out = append(out, token{kind: tStar, text: "*"})
			}
			i++
		case isNameStart(c):
			j := i
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			// prefix:local or prefix:* (not an axis's ::)
			if j+1 < len(src) && src[j] == ':' && src[j+1] != ':' {
				if src[j+1] == '*' {
					out = append(out, token{kind: tName, text: src[i : j+2]})
					i = j + 2
					continue
				}
				k := j + 1
				for k < len(src) && isNameChar(src[k]) {
					k++
				}
				if k > j+1 {
					j = k
				}
			}
			name := src[i:j]
			if operatorNext() {
				switch name {
				case "and", "or", "div", "mod", "eq", "ne", "lt", "le", "gt", "ge", "then", "else":
					out = append(out, token{kind: tOp, text: name})
					i = j
					continue
				}
			}
			if (name == "then" || name == "else") && len(out) > 0 {
				out = append(out, token{kind: tOp, text: name})
				i = j
				continue
			}
			out = append(out, token{kind: tName, text: name})
			i = j
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "//", "::", "!=", "<=", ">=", "..":
				out = append(out, token{kind: tOp, text: two})
				i += 2
				continue
			}
			switch c {
			case '/', '[', ']', '(', ')', '@', ',', '|', '=', '<', '>', '+', '-', '.':
				out = append(out, token{kind: tOp, text: string(c)})
				i++
			default:
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
		}
	}
	return append(out, token{kind: tEOF}), nil
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}
