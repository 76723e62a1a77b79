package schematron

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotXML says a document could not be read as one bounded, well-formed
// XML tree.
var ErrNotXML = errors.New("schematron: not a well-formed XML document")

// Bounds of the documents read.
const (
	MaxDocumentBytes = 16 << 20
	maxDepth         = 256
	maxNodes         = 1_000_000
)

type nodeKind uint8

const (
	documentNode nodeKind = iota
	elementNode
	attributeNode
	textNode
)

// node is a node of a parsed document: the document itself, an element
// (with its attributes and children in order), an attribute or a text.
type node struct {
	kind   nodeKind
	space  string // namespace URI
	local  string
	value  string // of an attribute or a text
	parent *node
	kids   []*node // elements and texts
	attrs  []*node
	order  int // document order
}

// stringValue is the node's string value: an element's is its
// descendant texts joined.
func (n *node) stringValue() string {
	switch n.kind {
	case attributeNode, textNode:
		return n.value
	}
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		for _, k := range n.kids {
			if k.kind == textNode {
				b.WriteString(k.value)
			} else {
				walk(k)
			}
		}
	}
	walk(n)
	return b.String()
}

// parse reads doc into a tree.
func parse(doc []byte) (*node, error) {
	if len(doc) == 0 || len(doc) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: %d bytes (1 to %d)", ErrNotXML, len(doc), MaxDocumentBytes)
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	root := &node{kind: documentNode}
	cur, order, depth := root, 1, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotXML, err)
		}
		if order > maxNodes {
			return nil, fmt.Errorf("%w: more than %d nodes", ErrNotXML, maxNodes)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", ErrNotXML, maxDepth)
			}
			if cur == root && len(root.kids) > 0 {
				return nil, fmt.Errorf("%w: more than one root element", ErrNotXML)
			}
			e := &node{kind: elementNode, space: t.Name.Space, local: t.Name.Local, parent: cur, order: order}
			order++
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				e.attrs = append(e.attrs, &node{kind: attributeNode, space: a.Name.Space, local: a.Name.Local, value: a.Value, parent: e, order: order})
				order++
			}
			cur.kids = append(cur.kids, e)
			cur = e
		case xml.EndElement:
			depth--
			cur = cur.parent
		case xml.CharData:
			if cur == root {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, fmt.Errorf("%w: text outside the root element", ErrNotXML)
				}
				continue
			}
			if n := len(cur.kids); n > 0 && cur.kids[n-1].kind == textNode {
				cur.kids[n-1].value += string(t)
				continue
			}
			cur.kids = append(cur.kids, &node{kind: textNode, value: string(t), parent: cur, order: order})
			order++
		case xml.Directive:
			return nil, fmt.Errorf("%w: a DTD or directive", ErrNotXML)
		}
	}
	if len(root.kids) == 0 {
		return nil, fmt.Errorf("%w: no root element", ErrNotXML)
	}
	return root, nil
}
