package router

import (
	"bytes"
	"strings"
	"testing"
)

func TestRewritePath(t *testing.T) {
	dst := "route: [{destination: {host: a}}]"
	tests := []struct {
		name, route, path, want string
	}{
		{"prefix", "{match: [{uri: {prefix: /ratings}}], rewrite: {uri: /v1/bookRatings}, " + dst + "}", "/ratings/2", "/v1/bookRatings/2"},
		{"prefix slash quirk", "{match: [{uri: {prefix: /foo}}], rewrite: {uri: /}, " + dst + "}", "/foo/bar", "//bar"},
		{"prefix whole path", "{match: [{uri: {prefix: /foo}}], rewrite: {uri: /bar}, " + dst + "}", "/foo", "/bar"},
		{"prefix not segment aware", "{match: [{uri: {prefix: /foo}}], rewrite: {uri: /bar}, " + dst + "}", "/foobar", "/barbar"},
		{"exact replaces whole path", "{match: [{uri: {exact: /a/b}}], rewrite: {uri: /c}, " + dst + "}", "/a/b", "/c"},
		{"regex replaces whole path", "{match: [{uri: {regex: '/b[io]t/.*'}}], rewrite: {uri: /x}, " + dst + "}", "/bit/y", "/x"},
		{"ignoreUriCase replaces matched length", "{match: [{uri: {prefix: /CaSe}, ignoreUriCase: true}], rewrite: {uri: /n}, " + dst + "}", "/case/x", "/n/x"},
		{"no uri match replaces /", "{rewrite: {uri: /v1}, " + dst + "}", "/foo", "/v1foo"},
		{"empty prefix prepends", "{match: [{uri: {prefix: ''}}], rewrite: {uri: /v1}, " + dst + "}", "/foo", "/v1/foo"},
		{"regex rewrite backrefs", `{rewrite: {uriRegexRewrite: {match: '^/service/([^/]+)(/.*)$', rewrite: '\2/instance/\1'}}, ` + dst + "}",
			"/service/foo/v1/api", "/v1/api/instance/foo"},
		{"regex rewrite every match", "{rewrite: {uriRegexRewrite: {match: a, rewrite: b}}, " + dst + "}", "/aXa", "/bXb"},
		{"regex rewrite no match", "{rewrite: {uriRegexRewrite: {match: zzz, rewrite: b}}, " + dst + "}", "/a", "/a"},
		{"regex rewrite whole match", `{rewrite: {uriRegexRewrite: {match: '^/(.*)$', rewrite: '/api/\0'}}, ` + dst + "}", "/x", "/api//x"},
		{"regex rewrite dollar literal", `{rewrite: {uriRegexRewrite: {match: '^/p$', rewrite: '/$1'}}, ` + dst + "}", "/p", "/$1"},
		{"regex rewrite emptying keeps path", `{rewrite: {uriRegexRewrite: {match: '^/x()$', rewrite: '\1'}}, ` + dst + "}", "/x", "/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := oneRoute(t, 80, tc.route)
			if rt.Action.Rewrite == nil {
				t.Fatal("no rewrite compiled")
			}
			if got := rt.Action.Rewrite.Path(tc.path, rt); got != tc.want {
				t.Errorf("Path(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestRewriteAuthority(t *testing.T) {
	tests := []struct {
		name, route string
		want        []string // Dest.Authority per destination
	}{
		{"rewrite.authority", "{rewrite: {authority: new.host}, route: [{destination: {host: a}}]}", []string{"new.host"}},
		{"headers set host", "{headers: {request: {set: {host: h.example}}}, route: [{destination: {host: a}}]}", []string{"h.example"}},
		{"headers add :authority", "{headers: {request: {add: {':authority': h2}}}, route: [{destination: {host: a}}]}", []string{"h2"}},
		{"destination host", "{route: [{destination: {host: a}, headers: {request: {set: {Host: d.example}}}}]}", []string{"d.example"}},
		{"route wins over destination", `{rewrite: {authority: r.example}, route: [
			{destination: {host: a}, weight: 50, headers: {request: {set: {host: d.example}}}},
			{destination: {host: b}, weight: 50}]}`, []string{"r.example", "r.example"}},
		{"weighted destination host", `{route: [
			{destination: {host: a}, weight: 50, headers: {request: {set: {host: d.example}}}},
			{destination: {host: b}, weight: 50}]}`, []string{"d.example", ""}},
		{"none", "{route: [{destination: {host: a}}]}", []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := oneRoute(t, 80, tc.route)
			if rt.Action.Rewrite != nil {
				t.Errorf("authority-only rewrite compiled a path Rewrite %v", rt.Action.Rewrite)
			}
			for i, want := range tc.want {
				if got := rt.Forward.Dests[i].Authority; got != want {
					t.Errorf("Dests[%d].Authority = %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestRE2Template(t *testing.T) {
	tests := []struct {
		in, want, err string
		groups        int
	}{
		{in: `\1-\2`, groups: 2, want: "${1}-${2}"},
		{in: `$x\\y\0`, groups: 0, want: `$$x\y${0}`},
		{in: `\3`, groups: 2, err: "has 2 capture groups"},
		{in: `\n`, groups: 1, err: "invalid escape"},
		{in: `a\`, groups: 1, err: "lone"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := re2Template(tc.in, tc.groups)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("re2Template(%q) error %v, want %q", tc.in, err, tc.err)
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("re2Template(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	runCompileCases(t, []compileCase{
		{name: "empty", spec: "{rewrite: {}, route: [{destination: {host: a}}]}", want: "rewrite must specify"},
		{name: "uri and regex", spec: "{rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}, route: [{destination: {host: a}}]}", want: "only contain one of uri or uriRegexRewrite"},
		{name: "regex needs both", spec: "{rewrite: {uriRegexRewrite: {match: a}}, route: [{destination: {host: a}}]}", want: "requires both match and rewrite"},
		{name: "bad regex", spec: "{rewrite: {uriRegexRewrite: {match: '(', rewrite: b}}, route: [{destination: {host: a}}]}", want: "uriRegexRewrite.match: regex does not compile"},
		{name: "bad backref", spec: `{rewrite: {uriRegexRewrite: {match: '(a)', rewrite: '\2'}}, route: [{destination: {host: a}}]}`, want: "capture groups"},
		{name: "with directResponse", spec: "{rewrite: {uri: /a}, directResponse: {status: 200}}", want: "both directResponse and rewrite"},
		{name: "authority twice", spec: "{rewrite: {authority: a}, headers: {request: {set: {host: b}}}, route: [{destination: {host: a}}]}", want: "authority header cannot be set multiple times"},
		{name: "bad authority", spec: "{rewrite: {authority: 'a b'}, route: [{destination: {host: a}}]}", want: "invalid authority"},
		{name: "slash warning", spec: "{match: [{uri: {prefix: /foo}}], rewrite: {uri: /}, route: [{destination: {host: a}}]}", want: `turns "/foo/x" into "//x"`, warning: true},
	})
}

func TestDirectResponse(t *testing.T) {
	tests := []struct {
		name, route string
		status      int
		body        []byte
	}{
		{"string", "{directResponse: {status: 503, body: {string: 'unavailable'}}}", 503, []byte("unavailable")},
		{"bytes", "{directResponse: {status: 200, body: {bytes: 'aGVsbG8='}}}", 200, []byte("hello")},
		{"bytes unpadded url-safe", "{directResponse: {status: 200, body: {bytes: '_-8'}}}", 200, []byte{0xff, 0xef}},
		{"no body", "{directResponse: {status: 204}}", 204, nil},
		{"status 600", "{directResponse: {status: 600}}", 600, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := oneRoute(t, 80, tc.route)
			d := rt.Action.DirectResponse
			if rt.Action.Kind != ActionDirectResponse || d == nil {
				t.Fatalf("kind %v, want direct response", rt.Action.Kind)
			}
			if d.Status != tc.status || !bytes.Equal(d.Body, tc.body) {
				t.Errorf("got %d %q, want %d %q", d.Status, d.Body, tc.status, tc.body)
			}
		})
	}
}

func TestDirectResponseErrors(t *testing.T) {
	big := strings.Repeat("x", MaxDirectResponseBody+1)
	large := strings.Repeat("x", WarnDirectResponseBody+1)
	runCompileCases(t, []compileCase{
		{name: "status low", spec: "{directResponse: {status: 199}}", want: "not in range 200-600"},
		{name: "status high", spec: "{directResponse: {status: 601}}", want: "not in range 200-600"},
		{name: "both bodies", spec: "{directResponse: {status: 200, body: {string: a, bytes: YQ==}}}", want: "only one of string or bytes"},
		{name: "bad base64", spec: "{directResponse: {status: 200, body: {bytes: '!!'}}}", want: "not valid base64"},
		{name: "too big", spec: "{directResponse: {status: 200, body: {string: " + big + "}}}", want: "at most 1 MiB"},
		{name: "large warns", spec: "{directResponse: {status: 200, body: {string: " + large + "}}}", want: "large direct responses", warning: true},
		{name: "with route", spec: "{directResponse: {status: 200}, route: [{destination: {host: a}}]}", want: "only one of route"},
		{name: "with fault", spec: "{directResponse: {status: 200}, fault: {abort: {httpStatus: 500}}}", want: "both directResponse and fault"},
	})
}
