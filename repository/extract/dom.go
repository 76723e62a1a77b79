package extract

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// ns is the HL7 v3 namespace of CDA elements.
const ns = "urn:hl7-org:v3"

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// Bounds of the documents read. The repository accepts CDA documents up
// to 64 MiB; real ones are a few MiB at most, so the tree is bounded by
// elements and depth as well as bytes.
const (
	MaxBytes    = 64 << 20
	maxDepth    = 128
	maxElements = 2_000_000
	// maxFacts bounds what one document yields; the rest is counted as
	// skipped.
	maxFacts = 20_000
)

// el is an element of the light tree the extraction reads: only the
// HL7-namespace structure, its attributes and, for value elements, their
// text. The narrative (section/text) is not kept.
type el struct {
	space, local string
	attrs        []xml.Attr
	kids         []*el
	text         string
}

func (e *el) attr(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.attrs {
		if a.Name.Local == name && (a.Name.Space == "" || a.Name.Space == ns) {
			return a.Value
		}
	}
	return ""
}

// xsiType is the element's xsi:type without a namespace prefix.
func (e *el) xsiType() string {
	if e == nil {
		return ""
	}
	for _, a := range e.attrs {
		if a.Name.Local == "type" && (a.Name.Space == xsiNS || a.Name.Space == "xsi") {
			if i := strings.IndexByte(a.Value, ':'); i >= 0 {
				return a.Value[i+1:]
			}
			return a.Value
		}
	}
	return ""
}

// content is the element's character data, as kept (see keepText); ""
// for an element that is not there.
func (e *el) content() string {
	if e == nil {
		return ""
	}
	return e.text
}

// child is the first HL7 child element named local.
func (e *el) child(local string) *el {
	if e == nil {
		return nil
	}
	for _, k := range e.kids {
		if k.local == local && k.space == ns {
			return k
		}
	}
	return nil
}

// children are the HL7 child elements named local.
func (e *el) children(local string) []*el {
	if e == nil {
		return nil
	}
	var out []*el
	for _, k := range e.kids {
		if k.local == local && k.space == ns {
			out = append(out, k)
		}
	}
	return out
}

// path follows child elements by name.
func (e *el) path(locals ...string) *el {
	for _, l := range locals {
		e = e.child(l)
	}
	return e
}

// keepText: elements whose character data the extraction reads.
func keepText(local string) bool {
	return local == "value" || local == "county"
}

// skipSubtree: subtrees the extraction never reads (the narrative block).
func skipSubtree(local string) bool { return local == "text" }

// parse reads doc into a bounded tree. It resolves no entity and fetches
// nothing; anything that is not one well-formed XML tree is ErrMalformed.
func parse(doc []byte) (*el, error) {
	if len(doc) == 0 || len(doc) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes (1 to %d)", ErrMalformed, len(doc), MaxBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	var (
		root  *el
		stack []*el
		n     int
		skip  int // depth inside a skipped subtree
		// open are the raw names of the open elements, to check that
		// every end element closes the last one opened; scopes the
		// namespace declarations in force. The tokenizer is asked for
		// raw tokens: resolving only the prefixes the tree keeps costs a
		// quarter of what the decoder's own translation does.
		open   []xml.Name
		scopes nsScopes
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack)+skip >= maxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
			}
			if n++; n > maxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrMalformed, maxElements)
			}
			open = append(open, t.Name)
			scopes.push(len(open), t.Attr)
			if skip > 0 {
				skip++
				continue
			}
			t.Name.Space = scopes.resolve(t.Name.Space, true)
			for i := range t.Attr {
				if sp := t.Attr[i].Name.Space; sp != "" && sp != "xmlns" {
					t.Attr[i].Name.Space = scopes.resolve(sp, false)
				}
			}
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("%w: more than one root element", ErrMalformed)
			}
			e := &el{local: t.Name.Local, space: t.Name.Space, attrs: t.Attr}
			if len(stack) == 0 {
				root = e
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			}
			stack = append(stack, e)
			if len(stack) > 1 && skipSubtree(e.local) && e.space == ns {
				// Keep the element (an entry's text may be referenced)
				// but none of its content.
				stack = stack[:len(stack)-1]
				skip = 1
			}
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return nil, fmt.Errorf("%w: end element %s:%s does not close the element open", ErrMalformed, t.Name.Space, t.Name.Local)
			}
			scopes.pop(len(open))
			open = open[:len(open)-1]
			if skip > 0 {
				skip--
				continue
			}
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: unbalanced end element", ErrMalformed)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if skip > 0 || len(stack) == 0 {
				if len(stack) == 0 && skip == 0 && len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrMalformed)
				}
				continue
			}
			if cur := stack[len(stack)-1]; keepText(cur.local) && len(cur.text) < 1<<16 {
				cur.text += string(t)
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w: a DTD or directive", ErrMalformed)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	if len(stack) != 0 || skip != 0 {
		return nil, fmt.Errorf("%w: unclosed element", ErrMalformed)
	}
	return root, nil
}

// nsScopes are the namespace declarations in force while a document is
// read: each binds a prefix ("" the default namespace) at the depth of
// the element that declared it.
type nsScopes []nsBinding

type nsBinding struct {
	depth         int
	prefix, space string
}

// push records the declarations among an element's attributes.
func (s *nsScopes) push(depth int, attrs []xml.Attr) {
	for _, a := range attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			*s = append(*s, nsBinding{depth, "", a.Value})
		case a.Name.Space == "xmlns":
			*s = append(*s, nsBinding{depth, a.Name.Local, a.Value})
		}
	}
}

// pop drops the declarations of the element at depth, which ends.
func (s *nsScopes) pop(depth int) {
	for len(*s) > 0 && (*s)[len(*s)-1].depth >= depth {
		*s = (*s)[:len(*s)-1]
	}
}

// resolve is the namespace a prefix names. An unprefixed element is in
// the default namespace; an unprefixed attribute in none. A prefix never
// declared is kept as it is, as the decoder's own translation does.
func (s nsScopes) resolve(prefix string, element bool) string {
	if prefix == "" && !element {
		return ""
	}
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace"
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].prefix == prefix {
			return s[i].space
		}
	}
	return prefix
}
