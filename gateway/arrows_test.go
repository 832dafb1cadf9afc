package gateway

import (
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is this module's import path.
const module = "github.com/gatehouse-proxy/gatehouse/"

// arrows lists, for each package under gateway/internal, the packages of
// this module it may depend on, directly or not (docs/architecture.md,
// "The next layout"): config <- mesh <- {listener, upstream} <- proxy <-
// gateway; accesslog <- metrics <- proxy. router, authz, tls, api and
// envoyfmt are leaves anyone may use; nothing depends on gateway itself.
var arrows = map[string][]string{
	"config": {"api"},
	"mesh":   {"api", "envoyfmt", "router", "gateway/internal/config"},
	"listener": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream"},
	"upstream": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/downstream", "gateway/internal/upstream/transport"},
	// transport is upstream's connections and exchanges: pools, the
	// HTTP/1.1 and HTTP/2 clients, their limits and errors.
	"upstream/transport": nil,
	// legacy builds Gateway specs (listener.GatewaySpec), so it comes
	// with what listener needs.
	"legacy": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream", "gateway/internal/listener", "gateway/internal/upstream", "gateway/internal/upstream/transport"},
	// proxy is the request pipeline: everything below gateway.
	"proxy": {"api", "authz", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream", "gateway/internal/listener", "gateway/internal/upstream", "gateway/internal/upstream/transport",
		"gateway/internal/proxy/relay", "gateway/internal/proxy/forwarded"},
	// forwarded is who the client is and what the upstream is told of it:
	// addresses, forwarding headers, XFCC.
	"proxy/forwarded": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream", "gateway/internal/listener", "gateway/internal/upstream/transport"},
	// relay copies bytes between connections, knowing nothing of HTTP; it
	// reads sockets under the listener's wrappers.
	"proxy/relay": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream", "gateway/internal/listener"},
	"accesslog": {"envoyfmt", "gateway/internal/downstream"},
	"metrics":   {"envoyfmt", "gateway/internal/accesslog", "gateway/internal/downstream"},
	// downstream is the engine-neutral request view and response
	// interface: the standard library only, so every engine's adapter and
	// everything below the adapters may use it.
	"downstream": nil,
	// nethttp is net/http's adapter: it fills the view and calls the
	// pipeline through downstream.Handler, never importing proxy.
	"downstream/nethttp": {"api", "envoyfmt", "router", "tls", "gateway/internal/config", "gateway/internal/mesh",
		"gateway/internal/h1guard", "gateway/internal/h2guard", "gateway/internal/handoff", "gateway/internal/accesslog", "gateway/internal/metrics",
		"gateway/internal/downstream", "gateway/internal/listener"},
	"h1guard": nil,
	"h2guard": nil,
	// handoff is a net.Listener the accept loop hands connections to.
	"handoff": nil,
}

// TestDependencyArrows pins the arrows with go list -deps, and makes a new
// package under gateway/internal state its place in them.
func TestDependencyArrows(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: cannot list dependencies")
	}
	err := filepath.WalkDir("internal", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || !d.IsDir() || path == "internal":
			return err
		case d.Name() == "testdata":
			return fs.SkipDir
		}
		pkg := filepath.ToSlash(strings.TrimPrefix(path, "internal"+string(filepath.Separator)))
		if _, ok := arrows[pkg]; !ok {
			t.Errorf("gateway/internal/%s is not in arrows: say what it may depend on", pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg, allowed := range arrows {
		out, err := exec.Command("go", "list", "-deps", "./internal/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		self := "gateway/internal/" + pkg
		for _, dep := range strings.Fields(string(out)) {
			rel, ours := strings.CutPrefix(dep, module)
			if !ours || rel == self {
				continue
			}
			if !slices.Contains(allowed, rel) {
				t.Errorf("%s depends on %s, against the arrows", self, rel)
			}
		}
	}
}
