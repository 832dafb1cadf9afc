package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// fieldChecker reports mapping keys that the target Go type has no field
// for, as yaml.v3's Decoder.KnownFields does, and fractions given to
// integer fields, which yaml.v3 would truncate. Doing it on the parsed node
// tree lets each document be parsed once (yaml.Node.Decode has no strict
// mode) and names the exact field path. Field sets are cached per type
// for the duration of one load.
type fieldChecker struct {
	fields map[reflect.Type]map[string]reflect.Type
}

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// unknown appends to out an error for every key under n (of type t, at
// path) that t does not declare.
func (fc *fieldChecker) unknown(n *yaml.Node, t reflect.Type, path string, out *[]problemAt) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return
	}
	switch {
	case isInteger(t.Kind()) && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float":
		// yaml.v3 silently truncates 1.5 into an integer field.
		*out = append(*out, problemAt{line: n.Line, msg: fmt.Sprintf("%s: %s is not a whole number", path, n.Value)})
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := fc.structFields(t)
		_, open := fields[openFields]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			p := joinPath(path, k.Value)
			if !ok && open {
				continue
			}
			if !ok {
				*out = append(*out, problemAt{line: k.Line, msg: fmt.Sprintf("%s: unknown field %q", p, k.Value)})
				continue
			}
			fc.unknown(n.Content[i+1], ft, p, out)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			fc.unknown(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), out)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			fc.unknown(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// openFields marks a struct with an inline map, which accepts any key.
const openFields = "\x00open"

// problemAt is a problem found at a line of the document.
type problemAt struct {
	line int
	msg  string
}

// structFields maps the YAML names of t's fields to their types, with
// inlined structs flattened, as yaml.v3 names them.
func (fc *fieldChecker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fc.fields[t]; ok {
		return f
	}
	f := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
			continue
		case strings.Contains(opts, "inline") && sf.Type.Kind() == reflect.Map:
			f[openFields] = sf.Type // an inline map takes every other key
			continue
		case strings.Contains(opts, "inline"):
			for k, v := range fc.structFields(sf.Type) {
				f[k] = v
			}
			continue
		case name == "":
			name = strings.ToLower(sf.Name)
		}
		f[name] = sf.Type
	}
	if fc.fields == nil {
		fc.fields = map[reflect.Type]map[string]reflect.Type{}
	}
	fc.fields[t] = f
	return f
}
