package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// Resource is one decoded configuration document.
type Resource struct {
	File string
	// Doc is the document's node tree while the file is being decoded;
	// afterwards it is dropped (node trees of a large configuration take
	// far more memory than the configuration) and node parses the
	// document again when a problem needs a line.
	Doc        *yaml.Node
	Line       int // line of the document's first key
	APIVersion string
	Kind       string
	Meta       api.Meta
	Spec       any // a pointer to the kind's spec type
	Order      int // position in load order, for stable sorting

	src     []byte // the whole file, while a load uses the resource
	endLine int    // first line after the document, 0 for the end of the file
}

// Node returns the document's Node tree, parsing it again if it was
// dropped. Lines in it are lines of the file.
func (r *Resource) Node() *yaml.Node {
	if r.Doc != nil || r.src == nil {
		return r.Doc
	}
	lines := strings.SplitAfter(string(r.src), "\n")
	end := len(lines)
	if r.endLine > 0 && r.endLine-1 < end {
		end = r.endLine - 1
	}
	start := min(r.Line-1, end)
	text := strings.Repeat("\n", start) + strings.Join(lines[start:end], "")
	var doc yaml.Node
	if err := yaml.NewDecoder(strings.NewReader(text)).Decode(&doc); err == nil {
		r.Doc = &doc
	}
	return r.Doc
}

// problem attributes err to r, at the line of the field it names.
func (r *Resource) Problem(err error, warning bool) Problem {
	line := r.Line
	if fe, ok := errors.AsType[*api.FieldError](err); ok && fe.Path != "" {
		if l := lineOf(r.Node(), fe.Path); l > 0 {
			line = l
		}
	}
	return Problem{File: r.File, Line: line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: err, Warning: warning}
}

// Envelope is the typed form of one document, decoded with unknown fields
// refused. Metadata is decoded separately and leniently: Kubernetes puts
// many fields there that mean nothing to gatehouse.
type Envelope[T any] struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   Ignored `yaml:"metadata"`
	Spec       T       `yaml:"spec"`
	Status     Ignored `yaml:"status"`
}

// Ignored accepts any YAML and keeps nothing of it.
type Ignored struct{}

// UnmarshalYAML discards the node.
func (*Ignored) UnmarshalYAML(*yaml.Node) error { return nil }

func (e *Envelope[T]) SpecPtr() any { return &e.Spec }

type Holder interface{ SpecPtr() any }

// Decoded is everything a load read: resources, problems and notes about
// skipped documents.
type Decoded struct {
	Resources []*Resource
	Problems  Problems
	Notes     []string
}

// fileResult is what one file decoded into.
type fileResult struct {
	resources []*Resource
	problems  []Problem
	notes     []string
}

// Decode decodes every document of files, several files at a time,
// and merges the results in file order.
func Decode(files []File, cache *Cache, kinds Kinds) *Decoded {
	results := make([]*fileResult, len(files))
	var todo []int
	for i, f := range files {
		if results[i] = cache.decoded(f); results[i] == nil {
			todo = append(todo, i)
		}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Go(func() {
			fc := &fieldChecker{}
			for i := range next {
				results[i] = decodeFile(files[i], fc, kinds)
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	cache.keepFiles(files, results)
	d := &Decoded{}
	for _, fr := range results {
		for _, r := range fr.resources {
			r.Order = len(d.Resources)
			d.Resources = append(d.Resources, r)
		}
		d.Problems.List = append(d.Problems.List, fr.problems...)
		d.Notes = append(d.Notes, fr.notes...)
	}
	return d
}

// decodeFile parses each document of f once, reads its envelope, checks
// its fields against the kind's schema and decodes it.
func decodeFile(f File, fc *fieldChecker, kinds Kinds) *fileResult {
	fr := &fileResult{}
	docs, err := splitDocuments(f)
	if err != nil {
		fr.problems = append(fr.problems, yamlProblems(f.Path, err, nil)...)
	}
	nonEmpty := 0
	for i, doc := range docs {
		r := fr.header(f, doc)
		if r == nil {
			continue
		}
		r.src = f.Data
		if i+1 < len(docs) {
			r.endLine = firstLine(docs[i+1])
		}
		nonEmpty++
		k := kinds(r.APIVersion, r.Kind)
		switch {
		case k == nil:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: skipping %s %s: gatehouse does not implement this kind", f.Path, r.Line, r.Kind, r.Meta.Key()))
		case k.Err != "":
			fr.problems = append(fr.problems, Problem{File: f.Path, Line: r.Line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: errors.New(k.Err)})
		case k.OnlyName != "" && r.Meta.Name != k.OnlyName:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: skipping %s %s: only the %s %s means something to gatehouse", f.Path, r.Line, r.Kind, r.Meta.Key(), r.Kind, k.OnlyName))
		case k.NewSpec == nil:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: ignoring %s %s: %s", f.Path, r.Line, r.Kind, r.Meta.Key(), k.IgnoreWhy))
		default:
			fr.decodeSpec(r, k.NewSpec(), fc)
		}
	}
	if err == nil && nonEmpty == 0 {
		fr.problems = append(fr.problems, Problem{File: f.Path, Err: errors.New("file holds no configuration (empty, or only comments); delete it rather than leave it empty")})
	}
	for _, r := range fr.resources {
		r.Doc = nil // see resource.node
	}
	return fr
}

// firstLine returns the line a document starts on.
func firstLine(doc *yaml.Node) int {
	if r := Root(doc); r != nil {
		return r.Line
	}
	return doc.Line
}

// decodeSpec decodes one document into its typed envelope, refusing
// unknown fields, and keeps it when it decoded cleanly.
func (fr *fileResult) decodeSpec(r *Resource, h Holder, fc *fieldChecker) {
	var issues []problemAt
	fc.unknown(Root(r.Doc), reflect.TypeOf(h), "", &issues)
	for _, is := range issues {
		fr.problems = append(fr.problems, Problem{File: r.File, Line: is.line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: errors.New(is.msg)})
	}
	if err := r.Doc.Decode(h); err != nil {
		fr.specProblems(r, err)
		return
	}
	if len(issues) == 0 {
		r.Spec = h.SpecPtr()
		fr.resources = append(fr.resources, r)
	}
}

func (fr *fileResult) specProblems(r *Resource, err error) {
	var lines []string
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		lines = te.Errors
	}
	for _, p := range yamlProblems(r.File, err, lines) {
		msg := FriendlyYAML(p.Err.Error())
		if path := pathAt(r.Doc, p.Line); path != "" {
			msg = path + ": " + msg
		}
		p.Err = errors.New(msg)
		p.Kind, p.Namespace, p.Name = r.Kind, r.Meta.Namespace, r.Meta.Name
		fr.problems = append(fr.problems, p)
	}
}

// header reads apiVersion, kind and metadata of one document. It returns
// nil for an empty document and for one it cannot use (recording why).
func (fr *fileResult) header(f File, doc *yaml.Node) *Resource {
	root := Root(doc)
	if root == nil || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		fr.addProblem(Problem{File: f.Path, Line: root.Line, Err: errors.New("document is not a mapping with apiVersion, kind and metadata")})
		return nil
	}
	r := &Resource{File: f.Path, Doc: doc, Line: root.Line}
	r.APIVersion, _ = scalar(doc, "apiVersion")
	r.Kind, _ = scalar(doc, "kind")
	if md, _ := Child(root, Segment{Key: "metadata"}); md != nil {
		if err := md.Decode(&r.Meta); err != nil {
			fr.addProblem(Problem{File: f.Path, Line: md.Line, Err: fmt.Errorf("metadata: %s", FriendlyYAML(err.Error()))})
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
		fr.addProblem(Problem{File: f.Path, Line: r.Line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name,
			Err: fmt.Errorf("missing %s", strings.Join(slices.Sorted(slices.Values(missing)), ", "))})
		return nil
	}
	return r
}

func (fr *fileResult) addProblem(p Problem) { fr.problems = append(fr.problems, p) }

// Derive returns a resource generated from r (a legacy kind translated to
// an Istio one) that points at r's document for its problems' lines.
func (r *Resource) Derive(apiVersion, kind string, meta api.Meta, spec any) *Resource {
	return &Resource{File: r.File, Doc: r.Doc, Line: r.Line, APIVersion: apiVersion, Kind: kind, Meta: meta, Spec: spec,
		Order: r.Order, src: r.src, endLine: r.endLine}
}

// DropSource lets the file's text go once a load has found every problem:
// a large configuration's text is tens of megabytes, and a cached resource
// gets the text of the next read back when a load uses it.
func DropSource(d *Decoded) {
	for _, r := range d.Resources {
		r.src = nil
	}
}

// SortResources orders resources of one kind as Istio merges them: by
// creation time, then name, then namespace, then load order.
func SortResources(rs []*Resource) {
	slices.SortStableFunc(rs, func(a, b *Resource) int {
		if c := a.Meta.CreationTimestamp.Compare(b.Meta.CreationTimestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Meta.Name, b.Meta.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Meta.Namespace, b.Meta.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.Order, b.Order)
	})
}
