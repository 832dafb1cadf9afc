package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize caps one configuration file; a larger file is refused
// rather than read (security.md CFG-07).
const MaxFileSize = 10 << 20

// File is one configuration File read from disk.
type File struct {
	Path string
	Data []byte
	// Sum is the SHA-256 of Data: what the load cache and the digest of
	// a configuration compare.
	Sum [sha256.Size]byte
}

// NewFile returns the file at path holding data.
func NewFile(path string, data []byte) File {
	return File{Path: path, Data: data, Sum: sha256.Sum256(data)}
}

// ReadSources lists and reads every YAML file under paths: files are taken
// as given, directories are walked recursively for *.yaml and *.yml, entries
// whose name starts with "." are skipped (ConfigMap "..data" internals,
// editor swap files) and symbolic links are followed. The result is sorted
// by path so that loads are deterministic.
func ReadSources(paths []string) ([]File, error) {
	var files []File
	var errs []error
	seen := map[string]bool{}
	add := func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		data, err := readCapped(p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		files = append(files, NewFile(p, data))
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			errs = append(errs, fmt.Errorf("config path: %w", err))
			continue
		}
		if !info.IsDir() {
			add(root)
			continue
		}
		found, err := listYAML(root)
		if err != nil {
			errs = append(errs, err)
		}
		for _, p := range found {
			add(p)
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	if len(files) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no configuration files (*.yaml, *.yml) in %s", strings.Join(paths, ", ")))
	}
	return files, errors.Join(errs...)
}

// listYAML walks dir, following symbolic links to files and directories.
func listYAML(dir string) ([]string, error) {
	var out []string
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > 16 {
			return fmt.Errorf("%s: directories nested too deep (symlink loop?)", dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading config directory: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			info, err := os.Stat(p) // follows symlinks
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && IsYAMLName(e.Name()) {
					// A ConfigMap swapped to files not written yet: loading
					// without them would drop their resources.
					return fmt.Errorf("config file %s is a link to a missing file", p)
				}
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return fmt.Errorf("config path: %w", err)
			}
			switch {
			case info.IsDir():
				if err := walk(p, depth+1); err != nil {
					return err
				}
			case IsYAMLName(e.Name()):
				out = append(out, p)
			}
		}
		return nil
	}
	return out, walk(dir, 0)
}

func IsYAMLName(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

func readCapped(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	// Read into a buffer of the file's size: the data is kept for as long as
	// the configuration is, and io.ReadAll's growth would waste up to half.
	size := 512
	if fi, err := f.Stat(); err == nil && fi.Size() < MaxFileSize {
		size = int(fi.Size()) + 1
	}
	data := make([]byte, 0, size)
	for len(data) <= MaxFileSize {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, rerr := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", p, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: file is larger than %d MiB", p, MaxFileSize>>20)
	}
	return data, nil
}

// Digest hashes the (path, content) pairs of the configuration
// files and of the certificate files they name.
func Digest(files []File, certFiles []string) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00", f.Path)
		h.Write(f.Sum[:])
	}
	for _, p := range certFiles {
		data, err := os.ReadFile(p)
		fmt.Fprintf(h, "cert %s\x00%d\x00%v\x00", p, len(data), err != nil)
		h.Write(data)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// splitDocuments decodes each YAML document of data into a node, so that
// apiVersion, kind and metadata can be read before the typed decode. A
// syntax error ends the file: YAML cannot resynchronise after it.
func splitDocuments(f File) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if deep := tooDeep(&n, maxNesting); deep != nil {
			return docs, fmt.Errorf("line %d: nesting deeper than %d levels", deep.Line, maxNesting)
		}
		docs = append(docs, &n)
	}
}

// maxNesting bounds how deep a configuration document may nest. Real
// resources stay under 20 levels (an EnvoyFilter patch included); a
// document nested hundreds deep is a mistake or an attack on every later
// walk of the tree, so it is refused where it is read.
const maxNesting = 100

// tooDeep returns the first node nested more than limit levels below n,
// or nil. It walks with an explicit stack so that a hostile document
// cannot exhaust the goroutine stack.
func tooDeep(n *yaml.Node, limit int) *yaml.Node {
	type item struct {
		n     *yaml.Node
		depth int
	}
	stack := []item{{n, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > limit {
			return it.n
		}
		for _, c := range it.n.Content {
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return nil
}
