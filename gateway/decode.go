package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// resource is one decoded configuration document.
type resource struct {
	File       string
	Doc        *yaml.Node // the document, for turning field paths into lines
	Line       int        // line of the document's first key
	APIVersion string
	Kind       string
	Meta       api.Meta
	Spec       any // a pointer to the kind's spec type
	order      int // position in load order, for stable sorting
}

// problem attributes err to r, at the line of the field it names.
func (r *resource) problem(err error, warning bool) Problem {
	line := r.Line
	if fe, ok := errors.AsType[*api.FieldError](err); ok && fe.Path != "" {
		if l := lineOf(r.Doc, fe.Path); l > 0 {
			line = l
		}
	}
	return Problem{File: r.File, Line: line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: err, Warning: warning}
}

// envelope is the typed form of one document, decoded with unknown fields
// refused. Metadata is decoded separately and leniently: Kubernetes puts
// many fields there that mean nothing to gatehouse.
type envelope[T any] struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Metadata   yaml.Node `yaml:"metadata"`
	Spec       T         `yaml:"spec"`
	Status     yaml.Node `yaml:"status"`
}

func (e *envelope[T]) spec() any { return &e.Spec }

type specHolder interface{ spec() any }

// decoded is everything a load read: resources, problems and notes about
// skipped documents.
type decoded struct {
	resources []*resource
	problems  problems
	notes     []string
}

// decodeFiles decodes every document of files.
func decodeFiles(files []file) *decoded {
	d := &decoded{}
	for _, f := range files {
		d.decodeFile(f)
	}
	return d
}

func (d *decoded) decodeFile(f file) {
	docs, err := splitDocuments(f)
	if err != nil {
		d.problems.list = append(d.problems.list, yamlProblems(f.Path, err, nil)...)
	}
	holders := make([]specHolder, len(docs))
	var metas []*resource
	nonEmpty := 0
	for i, doc := range docs {
		r := d.header(f, doc)
		if r == nil {
			continue
		}
		nonEmpty++
		k := lookupKind(r.APIVersion, r.Kind)
		switch {
		case k == nil:
			d.notes = append(d.notes, fmt.Sprintf("%s:%d: skipping %s %s: gatehouse does not implement this kind", f.Path, r.Line, r.Kind, r.Meta.Key()))
			continue
		case k.err != "":
			d.problems.add(Problem{File: f.Path, Line: r.Line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: errors.New(k.err)})
			continue
		case k.newSpec == nil:
			d.notes = append(d.notes, fmt.Sprintf("%s:%d: ignoring %s %s: %s", f.Path, r.Line, r.Kind, r.Meta.Key(), k.ignoreWhy))
			continue
		}
		holders[i] = k.newSpec()
		metas = append(metas, r)
	}
	if err == nil && nonEmpty == 0 {
		d.problems.add(Problem{File: f.Path, Err: errors.New("file holds no configuration (empty, or only comments); delete it rather than leave it empty")})
	}
	d.decodeSpecs(f, holders, metas)
}

// decodeSpecs re-reads the stream with unknown fields refused, so that
// yaml.v3 reports absolute line numbers, and keeps the documents that
// decoded cleanly.
func (d *decoded) decodeSpecs(f file, holders []specHolder, metas []*resource) {
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	dec.KnownFields(true)
	next := 0
	for _, h := range holders {
		if h == nil {
			var skip yaml.Node
			if dec.Decode(&skip) != nil {
				return
			}
			continue
		}
		r := metas[next]
		next++
		err := dec.Decode(h)
		if err != nil {
			d.specProblems(r, err)
			continue
		}
		r.Spec = h.spec()
		r.order = len(d.resources)
		d.resources = append(d.resources, r)
	}
}

func (d *decoded) specProblems(r *resource, err error) {
	var lines []string
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		lines = te.Errors
	}
	for _, p := range yamlProblems(r.File, err, lines) {
		msg := friendlyYAML(p.Err.Error())
		if path := pathAt(r.Doc, p.Line); path != "" {
			msg = path + ": " + msg
		}
		p.Err = errors.New(msg)
		p.Kind, p.Namespace, p.Name = r.Kind, r.Meta.Namespace, r.Meta.Name
		d.problems.add(p)
	}
}

// header reads apiVersion, kind and metadata of one document. It returns
// nil for an empty document and for one it cannot use (recording why).
func (d *decoded) header(f file, doc *yaml.Node) *resource {
	root := root(doc)
	if root == nil || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.problems.add(Problem{File: f.Path, Line: root.Line, Err: errors.New("document is not a mapping with apiVersion, kind and metadata")})
		return nil
	}
	r := &resource{File: f.Path, Doc: doc, Line: root.Line}
	r.APIVersion, _ = scalar(doc, "apiVersion")
	r.Kind, _ = scalar(doc, "kind")
	if md, _ := child(root, segment{key: "metadata"}); md != nil {
		if err := md.Decode(&r.Meta); err != nil {
			d.problems.add(Problem{File: f.Path, Line: md.Line, Err: fmt.Errorf("metadata: %s", friendlyYAML(err.Error()))})
			return nil
		}
	}
	if r.Meta.Namespace == "" {
		r.Meta.Namespace = "default"
	}
	var missing []string
	for field, v := range map[string]string{"apiVersion": r.APIVersion, "kind": r.Kind, "metadata.name": r.Meta.Name} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		d.problems.add(Problem{File: f.Path, Line: r.Line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name,
			Err: fmt.Errorf("missing %s", strings.Join(sortStrings(missing), ", "))})
		return nil
	}
	return r
}
