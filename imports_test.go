package main

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// leafImports lists, for each leaf package, the imports outside the
// standard library its files may have (a path, or a prefix ending in
// "/"), and those its tests alone may add. Leaves never import gateway or
// each other (docs/architecture.md); gateway/arrows_test.go pins the
// packages under gateway/internal against the module's other packages.
var leafImports = map[string]struct{ code, tests []string }{
	"api":      {code: []string{"gopkg.in/yaml.v3"}},
	"envoyfmt": {},
	"router": {code: []string{"github.com/gatehouse-proxy/gatehouse/api", "github.com/gatehouse-proxy/gatehouse/envoyfmt"},
		tests: []string{"gopkg.in/yaml.v3"}},
	"authz": {code: []string{"github.com/gatehouse-proxy/gatehouse/api", "github.com/golang-jwt/jwt/v5",
		"github.com/MicahParks/jwkset", "github.com/MicahParks/keyfunc/v3", "golang.org/x/time/rate"},
		tests: []string{"gopkg.in/yaml.v3"}},
	"gateway/internal/accesslog": {code: []string{"github.com/gatehouse-proxy/gatehouse/envoyfmt",
		"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"}},
	"gateway/internal/downstream": {},
	"gateway/internal/metrics": {code: []string{"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog",
		"github.com/prometheus/"}},
}

// TestLeafImports pins what each leaf package imports.
func TestLeafImports(t *testing.T) {
	t.Parallel()
	for dir, allowed := range leafImports {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			ok := allowed.code
			if strings.HasSuffix(name, "_test.go") {
				ok = slices.Concat(ok, allowed.tests)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				std := !strings.Contains(strings.Split(path, "/")[0], ".")
				if !std && !slices.ContainsFunc(ok, func(a string) bool {
					return path == a || strings.HasSuffix(a, "/") && strings.HasPrefix(path, a)
				}) {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}
