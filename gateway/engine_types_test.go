package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// belowAdapters are the packages below the HTTP engines' adapters: they
// see a client's request as a downstream.Request and answer through a
// downstream.ResponseWriter, never an engine's own types. (The upstream
// transport builds net/http requests of its own for its HTTP/2 client;
// those are the upstream's, not a client's.)
var belowAdapters = []string{"proxy", "proxy/relay", "proxy/forwarded", "accesslog", "metrics", "upstream"}

// engineTypes are net/http's server-side types.
var engineTypes = map[string]bool{
	"Request": true, "ResponseWriter": true, "ResponseController": true, "NewResponseController": true,
	"Handler": true, "HandlerFunc": true, "Flusher": true, "Hijacker": true, "ErrAbortHandler": true,
	"LocalAddrContextKey": true, "ServerContextKey": true,
}

// TestNoEngineTypesBelowAdapters keeps net/http's request and writer in
// the adapter (internal/downstream/nethttp), so that another engine can
// serve the same pipeline.
func TestNoEngineTypesBelowAdapters(t *testing.T) {
	t.Parallel()
	for _, pkg := range belowAdapters {
		files, err := filepath.Glob(filepath.Join("internal", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("internal/%s: no Go files (%v)", pkg, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			for _, use := range engineUses(t, name) {
				t.Errorf("%s uses net/http's %s below the engine adapters", use.pos, use.name)
			}
		}
	}
}

type engineUse struct{ pos, name string }

// engineUses lists the uses of engineTypes in the file name.
func engineUses(t *testing.T, name string) []engineUse {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	local := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "net/http" {
			local = "http"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	if local == "" {
		return nil
	}
	var uses []engineUse
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == local && engineTypes[sel.Sel.Name] {
			uses = append(uses, engineUse{fset.Position(sel.Pos()).String(), "http." + sel.Sel.Name})
		}
		return true
	})
	return uses
}
