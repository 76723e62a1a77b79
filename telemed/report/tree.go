package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespaces the rules name.
const (
	nsHL7 = "urn:hl7-org:v3"
	nsXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// Bounds of the documents Check reads.
const (
	maxDepth = 128
	maxNodes = 200_000
)

// node is an element of a parsed document: its name, attributes and
// child elements (the rules need no text).
type node struct {
	space, local string
	attrs        []xml.Attr
	parent       *node
	kids         []*node
}

// parse reads doc into a tree of elements. It refuses what is not one
// well-formed XML element tree within the bounds, and a root other than
// the HL7 v3 ClinicalDocument.
func parse(doc []byte) (*node, error) {
	if len(doc) == 0 {
		return nil, fmt.Errorf("%w: the document is empty", ErrNotCDA)
	}
	if len(doc) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: the document is %d bytes (at most %d)", ErrNotCDA, len(doc), MaxDocumentBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	// No CharsetReader: a document in another encoding than UTF-8 is
	// refused. Entities beyond the five of XML are refused too, and no
	// DTD is read.
	var root, cur *node
	nodes, depth := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotCDA, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && cur == nil {
				return nil, fmt.Errorf("%w: content after the root element", ErrNotCDA)
			}
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("%w: elements nested more than %d deep", ErrNotCDA, maxDepth)
			}
			if nodes++; nodes > maxNodes {
				return nil, fmt.Errorf("%w: more than %d elements", ErrNotCDA, maxNodes)
			}
			n := &node{parent: cur, attrs: t.Copy().Attr}
			n.space, n.local = t.Name.Space, t.Name.Local
			if cur == nil {
				root = n
			} else {
				cur.kids = append(cur.kids, n)
			}
			cur = n
		case xml.EndElement:
			depth--
			cur = cur.parent
		case xml.CharData:
			if cur == nil && len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", ErrNotCDA)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrNotCDA)
	}
	if root.space != nsHL7 || root.local != "ClinicalDocument" {
		return nil, fmt.Errorf("%w: the root element is {%s}%s, not {%s}ClinicalDocument", ErrNotCDA, root.space, root.local, nsHL7)
	}
	return root, nil
}

var errNoAttr = errors.New("no such attribute")

// attr is the value of the attribute of no namespace called name.
func (n *node) attr(name string) (string, error) {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, nil
		}
	}
	return "", errNoAttr
}

// has reports whether n has the attribute of no namespace called name.
func (n *node) has(name string) bool {
	_, err := n.attr(name)
	return err == nil
}

// is reports whether n has the attribute name with the value v.
func (n *node) is(name, v string) bool {
	got, err := n.attr(name)
	return err == nil && got == v
}

// xsiType is n's xsi:type attribute, as written.
func (n *node) xsiType() (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == nsXSI && a.Name.Local == "type" {
			return a.Value, true
		}
	}
	return "", false
}

// nodes is a node-set in document order.
type nodes []*node

// at is the node-set p (a slash-separated path of HL7 element names)
// reaches from ns: the XPath ns/hl7:a/hl7:b.
func (ns nodes) at(p string) nodes {
	cur := ns
	for step := range strings.SplitSeq(p, "/") {
		var next nodes
		for _, n := range cur {
			for _, k := range n.kids {
				if k.space == nsHL7 && k.local == step {
					next = append(next, k)
				}
			}
		}
		cur = next
	}
	return cur
}

// where is the nodes of ns for which f holds: ns[f].
func (ns nodes) where(f func(*node) bool) nodes {
	var out nodes
	for _, n := range ns {
		if f(n) {
			out = append(out, n)
		}
	}
	return out
}

// withAttr is ns[@name='v'].
func (ns nodes) withAttr(name, v string) nodes {
	return ns.where(func(n *node) bool { return n.is(name, v) })
}

// withChild is ns[hl7:child[@name='v']].
func (ns nodes) withChild(child, name, v string) nodes {
	return ns.where(func(n *node) bool { return len(nodes{n}.at(child).withAttr(name, v)) > 0 })
}

// n is count(ns).
func (ns nodes) n() int { return len(ns) }

// attrs is ns/@name: the values of the nodes that have it.
func (ns nodes) attrs(name string) []string {
	var out []string
	for _, n := range ns {
		if v, err := n.attr(name); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// descendants is //hl7:local under (and including) root, in document
// order; local "*" is every element of any namespace.
func descendants(root *node, local string) nodes {
	var out nodes
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if local == "*" || (n.space == nsHL7 && n.local == local) {
			out = append(out, n)
		}
		for i := len(n.kids) - 1; i >= 0; i-- {
			stack = append(stack, n.kids[i])
		}
	}
	return out
}

// hasAncestor reports whether an ancestor of n is the HL7 element local.
func (n *node) hasAncestor(local string) bool {
	for p := n.parent; p != nil; p = p.parent {
		if p.space == nsHL7 && p.local == local {
			return true
		}
	}
	return false
}

// parentIs reports whether n's parent is the HL7 element local.
func (n *node) parentIs(local string) bool {
	return n.parent != nil && n.parent.space == nsHL7 && n.parent.local == local
}
