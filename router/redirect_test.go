package router

import "testing"

func TestRedirectLocation(t *testing.T) {
	tests := []struct {
		name         string
		route        string
		serverPort   uint32
		scheme, host string
		path, query  string
		listenerPort uint32
		want         string
		code         int
	}{
		{name: "uri keeps query", route: "{redirect: {uri: /new}}", scheme: "http", host: "a.com", path: "/old", query: "x=1",
			want: "http://a.com/new?x=1", code: 301},
		{name: "uri with query replaces it", route: "{redirect: {uri: '/new?y=2'}}", scheme: "http", host: "a.com", path: "/old", query: "x=1",
			want: "http://a.com/new?y=2"},
		{name: "uri without slash", route: "{redirect: {uri: new}}", scheme: "http", host: "a.com", path: "/old",
			want: "http://a.com/new"},
		{name: "request port kept", route: "{redirect: {uri: /new}}", scheme: "http", host: "a.com:8080", path: "/old",
			want: "http://a.com:8080/new"},
		{name: "authority drops request port", route: "{redirect: {authority: b.com}}", scheme: "http", host: "a.com:8080", path: "/old",
			want: "http://b.com/old"},
		{name: "scheme https", route: "{redirect: {scheme: https}}", scheme: "http", host: "a.com", path: "/old", query: "q",
			want: "https://a.com/old?q"},
		{name: "scheme change drops old default port", route: "{redirect: {scheme: https}}", scheme: "http", host: "a.com:80", path: "/",
			want: "https://a.com/"},
		{name: "scheme change keeps other port", route: "{redirect: {scheme: https}}", scheme: "http", host: "a.com:8080", path: "/",
			want: "https://a.com:8080/"},
		{name: "same scheme keeps default port", route: "{redirect: {uri: /x}}", scheme: "http", host: "a.com:80", path: "/",
			want: "http://a.com:80/x"},
		{name: "explicit port", route: "{redirect: {port: 8443}}", scheme: "http", host: "a.com:8080", path: "/p",
			want: "http://a.com:8443/p"},
		{name: "port 443 with https omitted", route: "{redirect: {scheme: https, port: 443}}", scheme: "http", host: "a.com:8080", path: "/p",
			want: "https://a.com/p"},
		{name: "port 80 with http omitted", route: "{redirect: {scheme: http, port: 80}}", scheme: "https", host: "a.com:8443", path: "/p",
			want: "http://a.com/p"},
		{name: "authority and port", route: "{redirect: {authority: b.com, port: 9000}}", scheme: "http", host: "a.com", path: "/p",
			want: "http://b.com:9000/p"},
		{name: "FROM_REQUEST_PORT uses listener port", route: "{redirect: {scheme: https, derivePort: FROM_REQUEST_PORT}}",
			scheme: "http", host: "a.com:1234", path: "/p", listenerPort: 8443, want: "https://a.com:8443/p"},
		{name: "FROM_REQUEST_PORT falls back to server port", route: "{redirect: {scheme: https, derivePort: FROM_REQUEST_PORT}}",
			serverPort: 443, scheme: "http", host: "a.com:1234", path: "/p", want: "https://a.com/p"},
		{name: "FROM_PROTOCOL_DEFAULT drops any port", route: "{redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}}",
			scheme: "http", host: "a.com:8080", path: "/p", want: "https://a.com/p"},
		{name: "prefixRewrite", route: "{match: [{uri: {prefix: /foo}}], redirect: {prefixRewrite: /bar}}", scheme: "http", host: "a.com",
			path: "/foo/baz", query: "k=v", want: "http://a.com/bar/baz?k=v"},
		{name: "prefixRewrite slash quirk", route: "{match: [{uri: {prefix: /foo}}], redirect: {prefixRewrite: /}}", scheme: "http", host: "a.com",
			path: "/foo/baz", want: "http://a.com//baz"},
		{name: "prefixRewrite with trailing-slash prefix", route: "{match: [{uri: {prefix: /foo/}}], redirect: {prefixRewrite: /}}", scheme: "http",
			host: "a.com", path: "/foo/baz", want: "http://a.com/baz"},
		{name: "prefixRewrite without match replaces /", route: "{redirect: {prefixRewrite: /v2/}}", scheme: "http", host: "a.com",
			path: "/x", want: "http://a.com/v2/x"},
		{name: "prefixRewrite ignoreUriCase", route: "{match: [{uri: {prefix: /FOO}, ignoreUriCase: true}], redirect: {prefixRewrite: /bar}}",
			scheme: "http", host: "a.com", path: "/foo/x", want: "http://a.com/bar/x"},
		{name: "IPv6 host with new port", route: "{redirect: {port: 9090}}", scheme: "http", host: "[::1]:8080", path: "/",
			want: "http://[::1]:9090/"},
		{name: "IPv6 host kept", route: "{redirect: {uri: /n}}", scheme: "http", host: "[::1]", path: "/",
			want: "http://[::1]/n"},
		{name: "code 308", route: "{redirect: {uri: /n, redirectCode: 308}}", scheme: "http", host: "a", path: "/",
			want: "http://a/n", code: 308},
		{name: "code 302", route: "{redirect: {uri: /n, redirectCode: 302}}", scheme: "http", host: "a", path: "/",
			want: "http://a/n", code: 302},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.serverPort
			if port == 0 {
				port = 80
			}
			rt := oneRoute(t, port, tc.route)
			rd := rt.Action.Redirect
			if rt.Action.Kind != ActionRedirect || rd == nil {
				t.Fatalf("kind %v, want redirect", rt.Action.Kind)
			}
			if got := rd.Location(tc.scheme, tc.host, tc.path, tc.query, rt, tc.listenerPort); got != tc.want {
				t.Errorf("Location = %q, want %q", got, tc.want)
			}
			if tc.code != 0 && rd.Code != tc.code {
				t.Errorf("Code = %d, want %d", rd.Code, tc.code)
			}
		})
	}
}

func TestRedirectErrors(t *testing.T) {
	runCompileCases(t, []compileCase{
		{name: "empty", spec: "{redirect: {}}", want: "redirect must specify"},
		{name: "uri and prefixRewrite", spec: "{redirect: {uri: /a, prefixRewrite: /b}}", want: "only one of uri or prefixRewrite"},
		{name: "prefixRewrite with exact", spec: "{match: [{uri: {exact: /a}}], redirect: {prefixRewrite: /b}}", want: "match[0] is exact"},
		{name: "code not 3xx", spec: "{redirect: {uri: /a, redirectCode: 200}}", want: "not a valid redirect code"},
		{name: "code 304", spec: "{redirect: {uri: /a, redirectCode: 304}}", want: "redirect code 304 is not supported"},
		{name: "scheme", spec: "{redirect: {scheme: ftp}}", want: "invalid redirect scheme"},
		{name: "port range", spec: "{redirect: {port: 70000}}", want: "out of range"},
		{name: "port and derivePort", spec: "{redirect: {port: 80, derivePort: FROM_REQUEST_PORT}}", want: "only one of port or derivePort"},
		{name: "derivePort unknown", spec: "{redirect: {derivePort: SOMETIMES}}", want: "unknown derivePort"},
		{name: "CRLF in uri", spec: "{redirect: {uri: \"/a\\r\\nSet-Cookie: x\"}}", want: "control character"},
		{name: "with route", spec: "{redirect: {uri: /a}, route: [{destination: {host: a}}]}", want: "only one of route"},
		{name: "with rewrite", spec: "{redirect: {uri: /a}, rewrite: {uri: /b}}", want: "both redirect and rewrite"},
		{name: "with fault", spec: "{redirect: {uri: /a}, fault: {abort: {httpStatus: 500}}}", want: "both redirect and fault"},
		{name: "with directResponse", spec: "{redirect: {uri: /a}, directResponse: {status: 200}}", want: "only one of route"},
	})
}
