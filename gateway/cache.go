package gateway

import (
	"crypto/sha256"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// loadCache keeps what a load produced that the next load can reuse when
// the input did not change: each file's decoded documents, by the SHA-256
// of its content (the content itself is not kept), the compiled
// VirtualServices of those documents (the served snapshot holds them
// anyway), and compiled regular expressions. Parsing YAML is the most
// expensive part of a load, so with 10 000 VirtualServices a reload after
// editing one file parses and compiles one file. It is used by one load at
// a time.
type loadCache struct {
	files    map[string]cachedFile
	compiler *router.Compiler
	// vs holds the compiled VirtualServices of the last load by resource:
	// a resource of an unchanged file is the same pointer from load to
	// load, and compiling it again would give the same result. next
	// collects this load's, swapped in by sweep.
	vs, next map[*resource]cachedVS
}

type cachedVS struct {
	order int
	vs    *router.VS
	errs  []error
}

type cachedFile struct {
	sum    [sha256.Size]byte
	result *fileResult
}

func newLoadCache() *loadCache {
	return &loadCache{files: map[string]cachedFile{}, compiler: router.NewCompiler(), vs: map[*resource]cachedVS{}, next: map[*resource]cachedVS{}}
}

// decoded returns the cached decoding of f if its content is unchanged.
// The resources get f.Data back for the lines of the problems this load
// finds; compile drops it again.
func (c *loadCache) decoded(f file) *fileResult {
	if c == nil {
		return nil
	}
	e, ok := c.files[f.Path]
	if !ok || e.sum != f.Sum {
		return nil
	}
	for _, r := range e.result.resources {
		r.src = f.Data
	}
	return e.result
}

// keepFiles replaces the file cache with this load's files.
func (c *loadCache) keepFiles(files []file, results []*fileResult) {
	if c == nil {
		return
	}
	c.files = make(map[string]cachedFile, len(files))
	for i, f := range files {
		c.files[f.Path] = cachedFile{sum: f.Sum, result: results[i]}
	}
}

// virtualService compiles a VirtualService, sharing compiled regular
// expressions with the other VirtualServices of this and earlier loads.
func (c *loadCache) virtualService(r *resource, spec *router.VirtualService) (*router.VS, []error) {
	if c == nil {
		return router.CompileVirtualService(r.Meta, r.order, spec)
	}
	e, ok := c.vs[r]
	if !ok || e.order != r.order {
		e.order = r.order
		e.vs, e.errs = c.compiler.VirtualService(r.Meta, r.order, spec)
	}
	c.next[r] = e
	return e.vs, e.errs
}

// sweep drops the compiled expressions this load did not use.
func (c *loadCache) sweep() {
	if c != nil {
		c.compiler.Sweep()
		c.vs, c.next = c.next, make(map[*resource]cachedVS, len(c.next))
	}
}
