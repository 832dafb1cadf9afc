package router

import (
	"net/http"
	"testing"
)

func TestRuntimeAllocs(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: ['*.example.com'], gateways: [gw], http: [
		{match: [{uri: {prefix: /api}}], rewrite: {uri: /v1}, fault: {abort: {httpStatus: 503, percentage: {value: 1}}},
		 corsPolicy: {allowOrigins: [{regex: 'https://.*\.example\.com'}]}, retries: {attempts: 2, retryOn: '5xx,429'},
		 mirror: {host: b}, route: [{destination: {host: a}}]},
		{match: [{uri: {regex: '/r/.*'}}], rewrite: {uriRegexRewrite: {match: '^/r/(.*)$', rewrite: '/s/\1'}}, route: [{destination: {host: a}}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	req := &Request{Authority: "b.example.com:8443", Path: "/api/x", Header: http.Header{}}
	rt := tab.Match(req)
	regexRoute := tab.VHost("b.example.com").Routes[1]
	a := rt.Action
	tests := []struct {
		name string
		f    func()
	}{
		{"Table.Match", func() { tab.Match(req) }},
		{"Rewrite.Path replacing the whole path", func() { a.Rewrite.Path("/api", rt) }},
		{"regex Rewrite.Path without a match", func() { regexRoute.Action.Rewrite.Path("/q/x", regexRoute) }},
		{"Fault", func() { a.Fault.Delay(12345); a.Fault.Abort(12345) }},
		{"RetryStatus", func() { a.Retry.RetryStatus(503, "14") }},
		{"Backoff", func() { a.Retry.Backoff(3, 99) }},
		{"OriginAllowed", func() { a.CORS.OriginAllowed("https://www.example.com") }},
		{"Mirror.Sample", func() { rt.Mirrors[0].Sample(7) }},
		{"Forward.Pick", func() { rt.Forward.Pick(7) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(500, tc.f); n != 0 {
				t.Errorf("allocates %v times, want 0", n)
			}
		})
	}
}

func TestTableMatch(t *testing.T) {
	vs := mustVS(t, "m", "default", `{hosts: [a.example.com], gateways: [gw], http: [
		{match: [{uri: {prefix: /x}}], route: [{destination: {host: b}}]}]}`)
	tab := BuildTable([]Server{httpServer("default/gw", "*")}, []*VS{vs}, hostResolver(testIDs))
	tests := []struct {
		name, authority, path string
		found                 bool
	}{
		{"match", "a.example.com:8080", "/x/1", true},
		{"upper-case host", "A.Example.COM", "/x", true},
		{"no route", "a.example.com", "/y", false},
		{"no vhost", "b.example.com", "/x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Authority: tc.authority, Path: tc.path, Header: http.Header{}}
			if got := tab.Match(r); (got != nil) != tc.found {
				t.Errorf("Match = %v, want found=%v", got, tc.found)
			}
		})
	}
}

func BenchmarkHeaderOpsApply(b *testing.B) {
	var vars FormatVars = fakeVars{hdr: map[string]string{"X-User": "alice"}, vars: map[FormatVar]string{VarDownstreamRemoteAddressWithoutPort: "10.0.0.1"}}
	for _, bc := range []struct{ name, ops string }{
		{"literal", "{set: {x-a: v, x-b: w}, add: {x-c: z}, remove: [x-d]}"},
		{"formatter", "{set: {x-user: 'u=%REQ(x-user)%', x-ip: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%'}}"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := oneRoute(b, 80, "{headers: {request: "+bc.ops+"}, route: [{destination: {host: a}}]}")
			ops := rt.Forward.Dests[0].RequestHeaders
			h := http.Header{"X-A": {"1"}, "X-B": {"2"}, "X-User": {"u"}, "X-Ip": {"i"}}
			b.ReportAllocs()
			for b.Loop() {
				delete(h, "X-C")
				ops.Apply(h, vars)
			}
		})
	}
}

func BenchmarkRedirectLocation(b *testing.B) {
	for _, bc := range []struct{ name, route string }{
		{"https", "{redirect: {scheme: https, derivePort: FROM_REQUEST_PORT}}"},
		{"prefixRewrite", "{match: [{uri: {prefix: /old}}], redirect: {prefixRewrite: /new}}"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := oneRoute(b, 80, bc.route)
			rd := rt.Action.Redirect
			b.ReportAllocs()
			for b.Loop() {
				rd.Location("http", "www.example.com:8080", "/old/path/to/page", "a=1&b=2", rt, 8443)
			}
		})
	}
}

func BenchmarkRewritePath(b *testing.B) {
	for _, bc := range []struct{ name, route, path string }{
		{"prefix", "{match: [{uri: {prefix: /api}}], rewrite: {uri: /v1}, route: [{destination: {host: a}}]}", "/api/users/42"},
		{"regex", `{rewrite: {uriRegexRewrite: {match: '^/api/([^/]+)/(.*)$', rewrite: '/\2/\1'}}, route: [{destination: {host: a}}]}`, "/api/users/42"},
		{"regex no match", `{rewrite: {uriRegexRewrite: {match: '^/zzz/(.*)$', rewrite: '/\1'}}, route: [{destination: {host: a}}]}`, "/api/users/42"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := oneRoute(b, 80, bc.route)
			rw := rt.Action.Rewrite
			b.ReportAllocs()
			for b.Loop() {
				rw.Path(bc.path, rt)
			}
		})
	}
}
