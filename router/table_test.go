package router

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// mustVS compiles VirtualService YAML (the spec only) in namespace ns.
func mustVS(t testing.TB, name, ns, spec string) *VS {
	t.Helper()
	var s VirtualService
	dec := yaml.NewDecoder(strings.NewReader(spec))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	vs, errs := CompileVirtualService(api.Meta{Name: name, Namespace: ns}, 0, &s)
	for _, err := range errs {
		if !api.IsWarning(err) {
			t.Fatalf("compile %s: %v", name, err)
		}
	}
	return vs
}

// hostResolver maps a destination to an ID by host, for assertions.
func hostResolver(ids map[string]UpstreamID) Resolver {
	return func(d Destination, ns string, port uint32) UpstreamID {
		if id, ok := ids[d.Host+"|"+d.Subset]; ok {
			return id
		}
		return NoUpstream
	}
}

var testIDs = map[string]UpstreamID{"a|": 1, "b|": 2, "c|": 3, "d|": 4, "b|v2": 5}

func httpServer(gw string, hosts ...string) Server {
	return Server{Gateway: gw, Hosts: hosts, Port: 80}
}

func route(t *testing.T, tab *Table, host string, r Request) UpstreamID {
	t.Helper()
	v := tab.VHost(NormalizeHost(host))
	if v == nil {
		return -100
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	rt := v.Match(&r)
	if rt == nil {
		return -200
	}
	return rt.Forward.Dests[0].Upstream
}

func TestVirtualHostSelection(t *testing.T) {
	vss := []*VS{
		mustVS(t, "star", "default", "{hosts: ['*'], gateways: [gw], http: [{route: [{destination: {host: a}}]}]}"),
		mustVS(t, "exact", "default", "{hosts: [a.b.com], gateways: [gw], http: [{match: [{uri: {prefix: /x}}], route: [{destination: {host: b}}]}]}"),
		mustVS(t, "wild", "default", "{hosts: ['*.b.com'], gateways: [gw], http: [{route: [{destination: {host: c}}]}]}"),
		mustVS(t, "wilder", "default", "{hosts: ['*.com'], gateways: [gw], http: [{route: [{destination: {host: d}}]}]}"),
	}
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, vss, hostResolver(testIDs))
	tests := []struct {
		host, path string
		want       UpstreamID
	}{
		{"a.b.com", "/x", 2},
		{"A.B.COM:8090", "/x/y", 2},
		{"a.b.com", "/other", -200}, // no fallback to a less specific vhost
		{"z.b.com", "/", 3},
		{"z.y.b.com", "/", 3},
		{"b.com", "/", 4},
		{"q.com", "/", 4},
		{"example.org", "/", 1},
		{"", "/", 1},
	}
	for _, tc := range tests {
		if got := route(t, tab, tc.host, Request{Path: tc.path}); got != tc.want {
			t.Errorf("host %q path %q -> %d, want %d", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestNoVirtualHost(t *testing.T) {
	vs := mustVS(t, "exact", "default", "{hosts: [a.com], gateways: [gw], http: [{route: [{destination: {host: a}}]}]}")
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	if got := route(t, tab, "b.com", Request{}); got != -100 {
		t.Errorf("unknown host routed to %d, want no virtual host", got)
	}
}

func TestUnboundVirtualService(t *testing.T) {
	vss := []*VS{
		mustVS(t, "nogw", "default", "{hosts: ['*'], http: [{route: [{destination: {host: a}}]}]}"),
		mustVS(t, "othergw", "default", "{hosts: ['*'], gateways: [other], http: [{route: [{destination: {host: a}}]}]}"),
	}
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, vss, hostResolver(testIDs))
	if len(tab.VHosts()) != 0 {
		t.Errorf("VirtualServices without this gateway attached: %d vhosts", len(tab.VHosts()))
	}
}

func TestGatewayReferenceForms(t *testing.T) {
	servers := []Server{{Gateway: "sacl/sa-client-gateway", Hosts: []string{"client.sa.com"}, Port: 80}}
	for _, ref := range []string{"sacl/sa-client-gateway", "sa-client-gateway.sacl.svc.cluster.local"} {
		vs := mustVS(t, "vs", "sa", "{hosts: [client.sa.com], gateways: ['"+ref+"'], http: [{route: [{destination: {host: a}}]}]}")
		tab := BuildTable(servers, []*VS{vs}, hostResolver(testIDs))
		if got := route(t, tab, "client.sa.com:8090", Request{}); got != 1 {
			t.Errorf("gateway ref %q: routed to %d, want 1", ref, got)
		}
	}
	local := mustVS(t, "vs", "sacl", "{hosts: [client.sa.com], gateways: [sa-client-gateway], http: [{route: [{destination: {host: a}}]}]}")
	if tab := BuildTable(servers, []*VS{local}, hostResolver(testIDs)); route(t, tab, "client.sa.com", Request{}) != 1 {
		t.Errorf("bare gateway name in the gateway's namespace did not bind")
	}
}

func TestServerHostNamespaces(t *testing.T) {
	servers := []Server{{Gateway: "gw/gw", Hosts: []string{"team/*"}, Port: 80}}
	in := mustVS(t, "in", "team", "{hosts: [a.com], gateways: [gw/gw], http: [{route: [{destination: {host: a}}]}]}")
	out := mustVS(t, "out", "other", "{hosts: [b.com], gateways: [gw/gw], http: [{route: [{destination: {host: b}}]}]}")
	tab := BuildTable(servers, []*VS{in, out}, hostResolver(testIDs))
	if got := route(t, tab, "a.com", Request{}); got != 1 {
		t.Errorf("VirtualService in the allowed namespace: %d, want 1", got)
	}
	if got := route(t, tab, "b.com", Request{}); got != -100 {
		t.Errorf("VirtualService in another namespace bound anyway: %d", got)
	}
}

func TestRouteOrder(t *testing.T) {
	// Two VirtualServices for one host merge in name order; catch-alls
	// move last; nothing after a catch-all within one VirtualService.
	vss := []*VS{
		mustVS(t, "b-second", "default", `{hosts: [h.com], gateways: [gw], http: [
			{match: [{uri: {prefix: /b}}], route: [{destination: {host: b}}]}]}`),
		mustVS(t, "a-first", "default", `{hosts: [h.com], gateways: [gw], http: [
			{match: [{uri: {prefix: /a}}], route: [{destination: {host: a}}]},
			{route: [{destination: {host: c}}]},
			{match: [{uri: {prefix: /d}}], route: [{destination: {host: d}}]}]}`),
	}
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, vss, hostResolver(testIDs))
	tests := []struct {
		path string
		want UpstreamID
	}{{"/a", 1}, {"/b", 2}, {"/d", 3}, {"/zzz", 3}}
	for _, tc := range tests {
		if got := route(t, tab, "h.com", Request{Path: tc.path}); got != tc.want {
			t.Errorf("path %q -> %d, want %d", tc.path, got, tc.want)
		}
	}
	v := tab.VHost("h.com")
	if len(v.Routes) != 3 || !v.Routes[2].catchAll {
		t.Errorf("routes = %d, last catch-all = %v; want 3 with the catch-all last", len(v.Routes), v.Routes[len(v.Routes)-1].catchAll)
	}
}

func TestMatchConditions(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: ['*'], gateways: [gw], http: [
		{match: [{uri: {exact: /exact}}], route: [{destination: {host: a}}]},
		{match: [{uri: {regex: '/b[io]t'}}], route: [{destination: {host: b}}]},
		{match: [{uri: {prefix: /CaSe}, ignoreUriCase: true}], route: [{destination: {host: c}}]},
		{match: [{headers: {end-user: {exact: jason}}}], route: [{destination: {host: d}}]},
		{match: [{headers: {x-ua: {regex: '.*Mobile.*'}}, uri: {prefix: /m}}], route: [{destination: {host: a}}]},
		{match: [{headers: {x-present: {}}}], route: [{destination: {host: b}}]},
		{match: [{queryParams: {v: {exact: '2'}}}], route: [{destination: {host: b, subset: v2}}]},
		{match: [{queryParams: {id: {regex: '\d+'}}}], route: [{destination: {host: c}}]},
		{match: [{method: {exact: DELETE}}], route: [{destination: {host: d}}]},
		{match: [{authority: {exact: 'p.com:8080'}}], route: [{destination: {host: a}}]},
		{match: [{scheme: {exact: https}, uri: {prefix: /s}}], route: [{destination: {host: b}}]},
		{match: [{port: 81, uri: {prefix: /port}}], route: [{destination: {host: a}}]},
		{match: [{uri: {prefix: /w}, withoutHeaders: {x-skip: {exact: yes}}}], route: [{destination: {host: d}}]},
		{match: [{uri: {prefix: /n}, withoutHeaders: {x-absent: {}}}], route: [{destination: {host: c}}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		r    Request
		want UpstreamID
	}{
		{"exact", Request{Path: "/exact"}, 1},
		{"exact is not prefix", Request{Path: "/exact/x"}, -200},
		{"regex whole path", Request{Path: "/bit"}, 2},
		{"regex not partial", Request{Path: "/bite"}, -200},
		{"ignoreUriCase", Request{Path: "/case/x"}, 3},
		{"header exact", Request{Header: h("End-User", "jason")}, 4},
		{"header exact mismatch", Request{Header: h("End-User", "jasonx")}, -200},
		{"header regex", Request{Path: "/m", Header: h("X-Ua", "Foo Mobile Safari")}, 1},
		{"header presence", Request{Header: h("X-Present", "")}, 2},
		{"query exact", Request{RawQuery: "a=1&v=2"}, 5},
		{"query regex whole", Request{RawQuery: "id=123"}, 3},
		{"query regex not partial", Request{RawQuery: "id=a123"}, -200},
		{"query escaped", Request{RawQuery: "%76=%32"}, 5},
		{"method", Request{Method: "DELETE"}, 4},
		{"authority includes port", Request{Authority: "p.com:8080"}, 1},
		{"authority without port differs", Request{Authority: "p.com"}, -200},
		{"scheme", Request{Scheme: "https", Path: "/s"}, 2},
		{"scheme mismatch", Request{Scheme: "http", Path: "/s"}, -200},
		{"port filtered out at build", Request{Path: "/port"}, -200},
		{"withoutHeaders missing header", Request{Path: "/w"}, 4},
		{"withoutHeaders value present", Request{Path: "/w", Header: h("X-Skip", "yes")}, -200},
		{"withoutHeaders other value", Request{Path: "/w", Header: h("X-Skip", "no")}, 4},
		{"withoutHeaders presence absent", Request{Path: "/n"}, 3},
		{"withoutHeaders presence present", Request{Path: "/n", Header: h("X-Absent", "1")}, -200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := route(t, tab, "any", tc.r); got != tc.want {
				t.Errorf("routed to %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRepeatedHeaderJoined(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: ['*'], gateways: [gw], http: [
		{match: [{headers: {x-a: {exact: 'one,two'}}}], route: [{destination: {host: a}}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	if got := route(t, tab, "x", Request{Header: http.Header{"X-A": {"one", "two"}}}); got != 1 {
		t.Errorf("repeated header not matched as the comma-joined value: %d", got)
	}
}

func TestPerMatchGateways(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: ['*'], gateways: [gw1, gw2], http: [
		{match: [{gateways: [gw2], uri: {prefix: /}}], route: [{destination: {host: b}}]},
		{route: [{destination: {host: a}}]}]}`)
	t1 := BuildTable([]Server{httpServer("default/gw1", "*")}, []*VS{vs}, hostResolver(testIDs))
	t2 := BuildTable([]Server{httpServer("default/gw2", "*")}, []*VS{vs}, hostResolver(testIDs))
	if got := route(t, t1, "x", Request{}); got != 1 {
		t.Errorf("gw1 -> %d, want 1", got)
	}
	if got := route(t, t2, "x", Request{}); got != 2 {
		t.Errorf("gw2 -> %d, want 2", got)
	}
}

func TestWeights(t *testing.T) {
	vs := mustVS(t, "w", "default", `{hosts: ['*'], gateways: [gw], http: [{route: [
		{destination: {host: a}, weight: 1}, {destination: {host: b}, weight: 3}, {destination: {host: c}, weight: 0}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	f := tab.VHost("x").Routes[0].Forward
	counts := map[UpstreamID]int{}
	for n := uint32(0); n < 400; n++ {
		counts[f.Pick(n).Upstream]++
	}
	if counts[1] != 100 || counts[2] != 300 || counts[3] != 0 {
		t.Errorf("weights 1:3:0 gave %v", counts)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"{hosts: [a], http: [{match: [{uri: {regex: '('}}], route: [{destination: {host: a}}]}]}", "spec.http[0].match[0].uri.regex: regex does not compile"},
		{"{hosts: [a], http: [{route: [{destination: {host: a}}], redirect: {uri: /x}}]}", "spec.http[0]: only one of"},
		{"{hosts: [a], http: [{}]}", "spec.http[0]: one of route"},
		{"{hosts: [a], http: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: 0}]}]}", "spec.http[0].route: every destination has weight 0"},
		{"{hosts: [a], http: [{timeout: 0s, route: [{destination: {host: a}}]}]}", "spec.http[0].timeout: duration 0s is below the 1ms minimum"},
		{"{hosts: [a], http: [{route: [{destination: {host: '*'}}]}]}", "spec.http[0].route[0].destination.host: a destination host cannot be a wildcard"},
		{"{hosts: [a], http: [{route: [{destination: {}}]}]}", "spec.http[0].route[0].destination.host: required"},
		{"{hosts: [a], http: [{match: [{uri: {exact: /a, prefix: /b}}], route: [{destination: {host: a}}]}]}", "spec.http[0].match[0].uri: only one of exact"},
		{"{hosts: [a.com, '*.com'], http: [{route: [{destination: {host: a}}]}]}", "spec.hosts[1]: duplicate host"},
		{"{hosts: [a]}", "spec: at least one of http"},
		{"{hosts: [a], http: [{match: [{uri: {regex: '" + strings.Repeat("a", 1025) + "'}}], route: [{destination: {host: a}}]}]}", "the limit is 1024"},
	}
	for _, tc := range tests {
		var s VirtualService
		if err := yaml.Unmarshal([]byte(tc.spec), &s); err != nil {
			t.Fatal(err)
		}
		_, errs := CompileVirtualService(api.Meta{Name: "x", Namespace: "default"}, 0, &s)
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tc.want)
		}
		if !found {
			t.Errorf("spec %.60s: errors %v, want one containing %q", tc.spec, errs, tc.want)
		}
	}
}

func TestTimeoutCompiled(t *testing.T) {
	vs := mustVS(t, "t", "default", "{hosts: ['*'], gateways: [gw], http: [{timeout: 4s, route: [{destination: {host: a}}]}]}")
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	if got := tab.VHost("x").Routes[0].Action.Timeout; got != 4*time.Second {
		t.Errorf("timeout = %v, want 4s", got)
	}
}

func TestHTTPSRedirectVHost(t *testing.T) {
	s := Server{Gateway: "default/gw", Hosts: []string{"secure.com"}, Port: 80, HTTPSRedirect: true}
	tab := BuildTable([]Server{s}, nil, hostResolver(testIDs))
	if v := tab.VHost("secure.com"); v == nil || !v.RequireTLS {
		t.Errorf("httpsRedirect server without VirtualService: vhost %+v, want RequireTLS", v)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: ['*.example.com', a.example.org], gateways: [gw], http: [
		{match: [{headers: {x-version: {exact: v2}}}], route: [{destination: {host: b}}]},
		{match: [{uri: {regex: '/api/v[0-9]+/.*'}, queryParams: {debug: {exact: '1'}}}], route: [{destination: {host: c}}]},
		{match: [{uri: {prefix: /status}}, {uri: {prefix: /delay}}], route: [{destination: {host: a}}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	r := &Request{Method: "GET", Path: "/delay/1", RawQuery: "a=b&debug=0", Header: http.Header{"X-Version": {"v1"}, "Accept": {"*/*"}}}
	allocs := testing.AllocsPerRun(1000, func() {
		v := tab.VHost(NormalizeHost("b.example.com:8080"))
		if v.Match(r) == nil {
			t.Fatal("no route")
		}
	})
	if allocs != 0 {
		t.Errorf("VHost+Match allocate %v times per request, want 0", allocs)
	}
}
