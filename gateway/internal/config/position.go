package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// lineOf returns the line of the node at a field path such as
// "spec.http[2].route[0].destination.host" in a document. When the path
// ends in a field that is absent, it returns the line of the deepest node
// that exists, so "required" errors point at the enclosing block.
func lineOf(doc *yaml.Node, path string) int {
	n := Root(doc)
	if n == nil {
		return 0
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		next, keyLine := Child(n, seg)
		if next == nil {
			if keyLine > 0 {
				return keyLine
			}
			return line
		}
		n = next
		line = keyLine
		if line == 0 {
			line = n.Line
		}
	}
	return line
}

// Segment is one step of a field path: a mapping key, optionally followed
// by sequence indexes.
type Segment struct {
	Key     string
	indexes []int
}

func splitPath(path string) []Segment {
	var out []Segment
	for _, part := range strings.Split(path, ".") {
		s := Segment{Key: part}
		if i := strings.IndexByte(part, '['); i > 0 {
			s.Key = part[:i]
			for _, idx := range strings.Split(strings.TrimSuffix(part[i+1:], "]"), "][") {
				n, err := strconv.Atoi(idx)
				if err != nil {
					break
				}
				s.indexes = append(s.indexes, n)
			}
		}
		out = append(out, s)
	}
	return out
}

// Child follows one segment; it also returns the line of the key.
func Child(n *yaml.Node, s Segment) (*yaml.Node, int) {
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != s.Key {
			continue
		}
		v, line := n.Content[i+1], n.Content[i].Line
		for _, idx := range s.indexes {
			if v.Kind != yaml.SequenceNode || idx >= len(v.Content) {
				return nil, line
			}
			v = v.Content[idx]
			line = v.Line
		}
		return v, line
	}
	return nil, 0
}

func Root(doc *yaml.Node) *yaml.Node {
	if doc == nil {
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		return doc.Content[0]
	}
	return doc
}

// pathAt returns the field path of the first mapping key on line, or of
// the first node on that line. It is how a yaml.v3 type error ("line 13:
// field hostz not found") becomes "spec.http[0].hostz".
func pathAt(doc *yaml.Node, line int) string {
	var found string
	var walk func(n *yaml.Node, path string) bool
	walk = func(n *yaml.Node, path string) bool {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := joinPath(path, k.Value)
				if k.Line == line {
					found = p
					return true
				}
				if walk(v, p) {
					return true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && c.Kind != yaml.MappingNode {
					found = p
					return true
				}
				if walk(c, p) {
					return true
				}
			}
		}
		return false
	}
	if r := Root(doc); r != nil {
		walk(r, "")
	}
	return found
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// scalar returns the value of a top-level scalar field of a document.
func scalar(doc *yaml.Node, key string) (string, int) {
	r := Root(doc)
	if r == nil || r.Kind != yaml.MappingNode {
		return "", 0
	}
	for i := 0; i+1 < len(r.Content); i += 2 {
		if r.Content[i].Value == key && r.Content[i+1].Kind == yaml.ScalarNode {
			return r.Content[i+1].Value, r.Content[i].Line
		}
	}
	return "", 0
}
