package gateway

import (
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// loadCache keeps what a load produced that the next load can reuse when
// the input did not change: each file's decoded documents (config.Cache),
// the compiled VirtualServices of those documents (the served snapshot
// holds them anyway), and compiled regular expressions. With 10 000
// VirtualServices a reload after editing one file parses and compiles one
// file. It is used by one load at a time.
type loadCache struct {
	files    *config.Cache
	compiler *router.Compiler
	// vs holds the compiled VirtualServices of the last load by resource:
	// a resource of an unchanged file is the same pointer from load to
	// load, and compiling it again would give the same result. next
	// collects this load's, swapped in by sweep.
	vs, next map[*config.Resource]cachedVS
}

type cachedVS struct {
	order int
	vs    *router.VS
	errs  []error
}

func newLoadCache() *loadCache {
	return &loadCache{files: config.NewCache(), compiler: router.NewCompiler(),
		vs: map[*config.Resource]cachedVS{}, next: map[*config.Resource]cachedVS{}}
}

// decoded returns the file cache, nil when c is nil.
func (c *loadCache) decoded() *config.Cache {
	if c == nil {
		return nil
	}
	return c.files
}

// virtualService compiles a VirtualService, sharing compiled regular
// expressions with the other VirtualServices of this and earlier loads.
func (c *loadCache) virtualService(r *config.Resource, spec *router.VirtualService) (*router.VS, []error) {
	if c == nil {
		return router.CompileVirtualService(r.Meta, r.Order, spec)
	}
	e, ok := c.vs[r]
	if !ok || e.order != r.Order {
		e.order = r.Order
		e.vs, e.errs = c.compiler.VirtualService(r.Meta, r.Order, spec)
	}
	c.next[r] = e
	return e.vs, e.errs
}

// sweep drops the compiled expressions this load did not use.
func (c *loadCache) sweep() {
	if c != nil {
		c.compiler.Sweep()
		c.vs, c.next = c.next, make(map[*config.Resource]cachedVS, len(c.next))
	}
}
