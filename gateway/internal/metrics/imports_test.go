package metrics

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins the package's dependencies: the standard library,
// Prometheus and the access log's entries; never gateway or its upstreams.
func TestImports(t *testing.T) {
	t.Parallel()
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
			if !std && !allowed(path) {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

func allowed(path string) bool {
	return path == "github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog" ||
		strings.HasPrefix(path, "github.com/prometheus/")
}
