package router

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins the package's dependencies: the standard library, the
// api package and the shared Envoy format parser, never authz, tls or
// gateway.
func TestImports(t *testing.T) {
	t.Parallel()
	allowed := map[string]bool{
		"github.com/gatehouse-proxy/gatehouse/api":      true,
		"github.com/gatehouse-proxy/gatehouse/envoyfmt": true,
		"gopkg.in/yaml.v3":                              true, // tests only
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			if !std && !allowed[path] {
				t.Errorf("%s imports %s", name, path)
			}
			if path == "gopkg.in/yaml.v3" && !strings.HasSuffix(name, "_test.go") {
				t.Errorf("%s: yaml.v3 is for tests only", name)
			}
		}
	}
}
