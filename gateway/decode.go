package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// resource is one decoded configuration document.
type resource struct {
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
	order      int // position in load order, for stable sorting

	src     []byte // the whole file, while a load uses the resource
	endLine int    // first line after the document, 0 for the end of the file
}

// node returns the document's node tree, parsing it again if it was
// dropped. Lines in it are lines of the file.
func (r *resource) node() *yaml.Node {
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
func (r *resource) problem(err error, warning bool) Problem {
	line := r.Line
	if fe, ok := errors.AsType[*api.FieldError](err); ok && fe.Path != "" {
		if l := lineOf(r.node(), fe.Path); l > 0 {
			line = l
		}
	}
	return Problem{File: r.File, Line: line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: err, Warning: warning}
}

// envelope is the typed form of one document, decoded with unknown fields
// refused. Metadata is decoded separately and leniently: Kubernetes puts
// many fields there that mean nothing to gatehouse.
type envelope[T any] struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   ignored `yaml:"metadata"`
	Spec       T       `yaml:"spec"`
	Status     ignored `yaml:"status"`
}

// ignored accepts any YAML and keeps nothing of it.
type ignored struct{}

// UnmarshalYAML discards the node.
func (*ignored) UnmarshalYAML(*yaml.Node) error { return nil }

func (e *envelope[T]) spec() any { return &e.Spec }

type specHolder interface{ spec() any }

// decoded is everything a load read: resources, problems and notes about
// skipped documents.
type decoded struct {
	resources []*resource
	problems  problems
	notes     []string
}

// fileResult is what one file decoded into.
type fileResult struct {
	resources []*resource
	problems  []Problem
	notes     []string
}

// decodeFiles decodes every document of files, several files at a time,
// and merges the results in file order.
func decodeFiles(files []file, cache *loadCache) *decoded {
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
				results[i] = decodeFile(files[i], fc)
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	cache.keepFiles(files, results)
	d := &decoded{}
	for _, fr := range results {
		for _, r := range fr.resources {
			r.order = len(d.resources)
			d.resources = append(d.resources, r)
		}
		d.problems.list = append(d.problems.list, fr.problems...)
		d.notes = append(d.notes, fr.notes...)
	}
	return d
}

// decodeFile parses each document of f once, reads its envelope, checks
// its fields against the kind's schema and decodes it.
func decodeFile(f file, fc *fieldChecker) *fileResult {
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
		k := lookupKind(r.APIVersion, r.Kind)
		switch {
		case k == nil:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: skipping %s %s: gatehouse does not implement this kind", f.Path, r.Line, r.Kind, r.Meta.Key()))
		case k.err != "":
			fr.problems = append(fr.problems, Problem{File: f.Path, Line: r.Line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: errors.New(k.err)})
		case k.onlyName != "" && r.Meta.Name != k.onlyName:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: skipping %s %s: only the %s %s means something to gatehouse", f.Path, r.Line, r.Kind, r.Meta.Key(), r.Kind, k.onlyName))
		case k.newSpec == nil:
			fr.notes = append(fr.notes, fmt.Sprintf("%s:%d: ignoring %s %s: %s", f.Path, r.Line, r.Kind, r.Meta.Key(), k.ignoreWhy))
		default:
			fr.decodeSpec(r, k.newSpec(), fc)
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
	if r := root(doc); r != nil {
		return r.Line
	}
	return doc.Line
}

// decodeSpec decodes one document into its typed envelope, refusing
// unknown fields, and keeps it when it decoded cleanly.
func (fr *fileResult) decodeSpec(r *resource, h specHolder, fc *fieldChecker) {
	var issues []problemAt
	fc.unknown(root(r.Doc), reflect.TypeOf(h), "", &issues)
	for _, is := range issues {
		fr.problems = append(fr.problems, Problem{File: r.File, Line: is.line, Kind: r.Kind, Namespace: r.Meta.Namespace, Name: r.Meta.Name, Err: errors.New(is.msg)})
	}
	if err := r.Doc.Decode(h); err != nil {
		fr.specProblems(r, err)
		return
	}
	if len(issues) == 0 {
		r.Spec = h.spec()
		fr.resources = append(fr.resources, r)
	}
}

func (fr *fileResult) specProblems(r *resource, err error) {
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
		fr.problems = append(fr.problems, p)
	}
}

// header reads apiVersion, kind and metadata of one document. It returns
// nil for an empty document and for one it cannot use (recording why).
func (fr *fileResult) header(f file, doc *yaml.Node) *resource {
	root := root(doc)
	if root == nil || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		fr.addProblem(Problem{File: f.Path, Line: root.Line, Err: errors.New("document is not a mapping with apiVersion, kind and metadata")})
		return nil
	}
	r := &resource{File: f.Path, Doc: doc, Line: root.Line}
	r.APIVersion, _ = scalar(doc, "apiVersion")
	r.Kind, _ = scalar(doc, "kind")
	if md, _ := child(root, segment{key: "metadata"}); md != nil {
		if err := md.Decode(&r.Meta); err != nil {
			fr.addProblem(Problem{File: f.Path, Line: md.Line, Err: fmt.Errorf("metadata: %s", friendlyYAML(err.Error()))})
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
			Err: fmt.Errorf("missing %s", strings.Join(sortStrings(missing), ", "))})
		return nil
	}
	return r
}

func (fr *fileResult) addProblem(p Problem) { fr.problems = append(fr.problems, p) }
