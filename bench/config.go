// Package bench holds gatehouse's benchmarks: Go benchmarks of the hot path
// (route match, table compile, an in-process proxy round trip) in this
// package, and peers.sh, which compares whole processes against nginx,
// HAProxy, Caddy and a naive Go proxy on loopback. See README.md.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Shape of the "realistic" configuration shared by BenchmarkProxy and the
// sanity test; peers.sh writes the same shape from bash.
const (
	// RealisticHosts is the number of Gateway hosts, each with its own
	// VirtualService.
	RealisticHosts = 50
	// RoutesPerHost is the number of HTTP routes of each VirtualService.
	RoutesPerHost = 10
	// BackendHost is the ServiceEntry host every route forwards to.
	BackendHost = "backend.bench.internal"
)

// HostName returns the name of host i: "h007.bench.test".
func HostName(i int) string { return fmt.Sprintf("h%03d.bench.test", i) }

// MeasuredHost and MeasuredPath address the route requests are sent to:
// the last route of the last host, so every earlier route is tried first.
var (
	MeasuredHost = HostName(RealisticHosts - 1)
	MeasuredPath = fmt.Sprintf("/r%d/hello", RoutesPerHost-1)
)

// routeMatchYAML returns the match block of route r of a host: a mix of
// prefix, exact, regex and header matches, as real configs have. The last
// route is a plain prefix match on /r<N>, the one requests are sent to.
func routeMatchYAML(r, last int) string {
	switch {
	case r == last:
		return fmt.Sprintf("- uri: {prefix: /r%d}", r)
	case r%4 == 0:
		return fmt.Sprintf("- uri: {prefix: /r%d/}\n  method: {exact: POST}", r)
	case r%4 == 1:
		return fmt.Sprintf("- uri: {exact: /r%d/health}", r)
	case r%4 == 2:
		return fmt.Sprintf("- uri: {regex: '/r%d/[0-9]+/items'}", r)
	default:
		return fmt.Sprintf("- uri: {prefix: /r%d}\n  headers: {x-tenant: {exact: t%d}}", r, r)
	}
}

// RealisticConfig returns the YAML files of a realistic gateway
// configuration: one Gateway on port with hosts HostName(0..hosts-1) spread
// over servers of ten hosts each, one VirtualService of routes routes per
// host, and a STATIC ServiceEntry sending BackendHost to upstream
// ("127.0.0.1:PORT").
func RealisticConfig(port uint32, hosts, routes int, upstream string) (map[string]string, error) {
	upHost, upPort, ok := strings.Cut(upstream, ":")
	if !ok {
		return nil, fmt.Errorf("upstream %q: want host:port", upstream)
	}
	files := map[string]string{}
	var gw strings.Builder
	fmt.Fprintf(&gw, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bench-gw, namespace: default}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n")
	for first := 0; first < hosts; first += 10 {
		fmt.Fprintf(&gw, "  - port: {number: %d, name: http-%d, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts:\n", port, first)
		for i := first; i < min(first+10, hosts); i++ {
			fmt.Fprintf(&gw, "    - %s\n", HostName(i))
		}
	}
	files["gateway.yaml"] = gw.String()
	files["backend.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [%s]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: %s
    ports: {http: %s}
`, BackendHost, upHost, upPort)
	for i := range hosts {
		var vs strings.Builder
		fmt.Fprintf(&vs, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%03d, namespace: default}\nspec:\n  hosts: [%s]\n  gateways: [bench-gw]\n  http:\n", i, HostName(i))
		for r := range routes {
			fmt.Fprintf(&vs, "  - name: r%d\n    match:\n    %s\n    route:\n    - destination: {host: %s, port: {number: 8080}}\n    timeout: 10s\n",
				r, strings.ReplaceAll(routeMatchYAML(r, routes-1), "\n", "\n    "), BackendHost)
		}
		files[fmt.Sprintf("vs/vs-%03d.yaml", i)] = vs.String()
	}
	return files, nil
}

// WriteFiles writes files (relative names) under dir.
func WriteFiles(dir string, files map[string]string) error {
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// strp returns a pointer to s.
func strp(s string) *string { return &s }

// routeSpecs returns the HTTP routes of one host for the router
// benchmarks: the same mix of matches as RealisticConfig.
func routeSpecs(routes int) []router.HTTPRoute {
	out := make([]router.HTTPRoute, routes)
	dest := []router.HTTPRouteDestination{{Destination: router.Destination{Host: BackendHost, Port: &router.PortSelector{Number: 8080}}}}
	for r := range routes {
		var m router.HTTPMatchRequest
		switch {
		case r == routes-1:
			m.URI = &router.StringMatch{Prefix: strp(fmt.Sprintf("/r%d", r))}
		case r%4 == 0:
			m.URI = &router.StringMatch{Prefix: strp(fmt.Sprintf("/r%d/", r))}
			m.Method = &router.StringMatch{Exact: strp("POST")}
		case r%4 == 1:
			m.URI = &router.StringMatch{Exact: strp(fmt.Sprintf("/r%d/health", r))}
		case r%4 == 2:
			m.URI = &router.StringMatch{Regex: strp(fmt.Sprintf("/r%d/[0-9]+/items", r))}
		default:
			m.URI = &router.StringMatch{Prefix: strp(fmt.Sprintf("/r%d", r))}
			m.Headers = map[string]*router.StringMatch{"x-tenant": {Exact: strp(fmt.Sprintf("t%d", r))}}
		}
		out[r] = router.HTTPRoute{Name: fmt.Sprintf("r%d", r), Match: []router.HTTPMatchRequest{m}, Route: dest}
	}
	return out
}

// BuildRouteTable compiles one VirtualService of routes routes for each of
// hosts hosts and builds the route table of one port-80 Gateway server.
// With explicitHosts the server lists every host (as a Gateway with many
// hosts does); otherwise it serves "*".
func BuildRouteTable(hosts, routes int, explicitHosts bool) (*router.Table, error) {
	vss := make([]*router.VS, 0, hosts)
	serverHosts := []string{"*"}
	if explicitHosts {
		serverHosts = make([]string, 0, hosts)
	}
	rc := router.NewCompiler() // as the gateway compiles one configuration
	for i := range hosts {
		spec := &router.VirtualService{
			Hosts:    []string{HostName(i)},
			Gateways: []string{"bench-gw"},
			HTTP:     routeSpecs(routes),
		}
		vs, errs := rc.VirtualService(api.Meta{Name: fmt.Sprintf("vs-%05d", i), Namespace: "default"}, i, spec)
		for _, err := range errs {
			if !api.IsWarning(err) {
				return nil, fmt.Errorf("VirtualService %d: %w", i, err)
			}
		}
		vss = append(vss, vs)
		if explicitHosts {
			serverHosts = append(serverHosts, HostName(i))
		}
	}
	resolve := func(router.Destination, string, uint32) router.UpstreamID { return 0 }
	server := router.Server{Gateway: "default/bench-gw", Hosts: serverHosts, Port: 80}
	return router.BuildTable([]router.Server{server}, vss, resolve), nil
}
