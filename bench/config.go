// Package bench holds gatehouse's benchmarks: Go benchmarks of the hot path
// (route match, table compile, an in-process proxy round trip) in this
// package, and peers.sh, which compares whole processes against nginx,
// HAProxy, Caddy and a naive Go proxy on loopback. See README.md.
package bench

import (
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/bench/internal/ghconf"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Shape of the "realistic" configuration shared by BenchmarkProxy and the
// sanity test; peers.sh writes the same one with bench/ghconfig, and both
// come from internal/ghconf.
const (
	// RealisticHosts is the number of Gateway hosts, each with its own
	// VirtualService.
	RealisticHosts = 50
	// RoutesPerHost is the number of HTTP routes of each VirtualService.
	RoutesPerHost = 10
	// BackendHost is the ServiceEntry host every route forwards to.
	BackendHost = ghconf.BackendHost
)

// HostName returns the name of host i: "h007.bench.test".
func HostName(i int) string { return ghconf.HostName(i) }

// MeasuredHost and MeasuredPath address the route requests are sent to:
// the last route of the last host, so every earlier route is tried first.
var (
	MeasuredHost = HostName(RealisticHosts - 1)
	MeasuredPath = ghconf.MeasuredPath(RoutesPerHost)
)

// RealisticConfig returns the YAML files of the realistic gateway
// configuration (see ghconf.Realistic).
func RealisticConfig(port uint32, hosts, routes int, upstream string) (map[string]string, error) {
	return ghconf.Realistic(port, hosts, routes, upstream)
}

// WriteFiles writes files (relative names) under dir.
func WriteFiles(dir string, files map[string]string) error { return ghconf.WriteFiles(dir, files) }

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
