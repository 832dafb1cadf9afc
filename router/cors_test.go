package router

import (
	"reflect"
	"testing"
)

func corsOf(t *testing.T, policy string) *CORS {
	t.Helper()
	c := oneRoute(t, 80, "{corsPolicy: "+policy+", route: [{destination: {host: a}}]}").Action.CORS
	if c == nil {
		t.Fatal("no CORS policy compiled")
	}
	return c
}

func TestCORSPreflight(t *testing.T) {
	full := `{allowOrigins: [{exact: 'https://a.com'}, {prefix: 'https://dev.'}, {regex: 'https://[a-z]+\.b\.com'}],
		allowMethods: [GET, POST], allowHeaders: [x-token, content-type], exposeHeaders: [x-id], maxAge: 24h, allowCredentials: true}`
	ignore := "{allowOrigins: [{exact: 'https://a.com'}], allowMethods: [GET], unmatchedPreflights: IGNORE}"
	star := "{allowOrigins: [{exact: '*'}], allowMethods: ['GET'], allowHeaders: ['*']}"
	allowed := [][2]string{
		{HeaderAllowOrigin, "https://a.com"}, {HeaderAllowCredentials, "true"}, {HeaderAllowMethods, "GET,POST"},
		{HeaderAllowHeaders, "x-token,content-type"}, {HeaderMaxAge, "86400"},
	}
	tests := []struct {
		name, policy, origin, method, headers string
		want                                  [][2]string
		handled                               bool
	}{
		{"exact origin", full, "https://a.com", "PUT", "x-token", allowed, true},
		{"prefix origin", full, "https://dev.c.org", "GET", "", append([][2]string{{HeaderAllowOrigin, "https://dev.c.org"}}, allowed[1:]...), true},
		{"regex origin", full, "https://x.b.com", "GET", "", append([][2]string{{HeaderAllowOrigin, "https://x.b.com"}}, allowed[1:]...), true},
		{"regex is anchored", full, "https://x.b.com.evil", "GET", "", nil, false},
		{"foreign origin forwarded", full, "https://evil.com", "GET", "", nil, false},
		{"not a preflight without request method", full, "https://a.com", "", "", nil, false},
		{"not a preflight without origin", full, "", "GET", "", nil, false},
		{"foreign origin ignored", ignore, "https://evil.com", "GET", "", [][2]string{{HeaderAllowMethods, "GET"}}, true},
		{"star allows any and echoes", star, "https://any.org", "DELETE", "x-a, x-b",
			[][2]string{{HeaderAllowOrigin, "https://any.org"}, {HeaderAllowMethods, "GET"}, {HeaderAllowHeaders, "x-a, x-b"}}, true},
		{"deprecated allowOrigin", "{allowOrigin: ['https://old.com']}", "https://old.com", "GET", "",
			[][2]string{{HeaderAllowOrigin, "https://old.com"}}, true},
		{"no origins allow nothing", "{allowMethods: [GET]}", "https://a.com", "GET", "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, handled := corsOf(t, tc.policy).Preflight(tc.origin, tc.method, tc.headers)
			if handled != tc.handled || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Preflight = %q, %v; want %q, %v", got, handled, tc.want, tc.handled)
			}
		})
	}
}

func TestCORSResponseHeaders(t *testing.T) {
	full := "{allowOrigins: [{exact: 'https://a.com'}], exposeHeaders: [x-id, x-trace], allowCredentials: true}"
	plain := "{allowOrigins: [{prefix: 'https://'}]}"
	tests := []struct {
		name, policy, origin string
		want                 [][2]string
	}{
		{"allowed with credentials", full, "https://a.com",
			[][2]string{{HeaderAllowOrigin, "https://a.com"}, {HeaderAllowCredentials, "true"}, {HeaderExposeHeaders, "x-id,x-trace"}}},
		{"foreign untouched", full, "https://b.com", nil},
		{"no origin untouched", full, "", nil},
		{"credentials false omitted", plain, "https://z.org", [][2]string{{HeaderAllowOrigin, "https://z.org"}}},
		{"prefix mismatch", plain, "http://z.org", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := corsOf(t, tc.policy).ResponseHeaders(tc.origin); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ResponseHeaders(%q) = %q, want %q", tc.origin, got, tc.want)
			}
		})
	}
}

func TestCORSOriginAllowed(t *testing.T) {
	tests := []struct {
		name, policy, origin string
		want                 bool
	}{
		{"exact", "{allowOrigins: [{exact: 'https://a.com'}]}", "https://a.com", true},
		{"exact is case-sensitive", "{allowOrigins: [{exact: 'https://a.com'}]}", "https://A.com", false},
		{"exact is not prefix", "{allowOrigins: [{exact: 'https://a.com'}]}", "https://a.com.evil", false},
		{"prefix", "{allowOrigins: [{prefix: 'https://a.'}]}", "https://a.org", true},
		{"regex full match", "{allowOrigins: [{regex: 'https://(a|b)\\.com'}]}", "https://b.com", true},
		{"regex partial", "{allowOrigins: [{regex: 'https://(a|b)\\.com'}]}", "xhttps://b.com", false},
		{"exact star allows all", "{allowOrigins: [{exact: '*'}]}", "null", true},
		{"prefix star allows all", "{allowOrigins: [{prefix: '*'}]}", "https://z", true},
		{"regex .* allows all", "{allowOrigins: [{regex: '.*'}]}", "https://z", true},
		{"empty origin", "{allowOrigins: [{regex: '.*'}]}", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := corsOf(t, tc.policy).OriginAllowed(tc.origin); got != tc.want {
				t.Errorf("OriginAllowed(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
	var none *CORS
	if none.OriginAllowed("https://a.com") || none.ResponseHeaders("https://a.com") != nil {
		t.Error("a nil policy allowed an origin")
	}
	if _, handled := none.Preflight("https://a.com", "GET", ""); handled {
		t.Error("a nil policy handled a preflight")
	}
}

func TestCORSErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "method", spec: "{corsPolicy: {allowMethods: [FETCH]}" + dst, want: `"FETCH" is not a supported HTTP method`},
		{name: "header name", spec: "{corsPolicy: {allowHeaders: ['x a']}" + dst, want: "allowHeaders[0]: invalid header name"},
		{name: "expose name", spec: "{corsPolicy: {exposeHeaders: ['a:b']}" + dst, want: "exposeHeaders[0]: invalid header name"},
		{name: "maxAge precision", spec: "{corsPolicy: {maxAge: 1500ms}" + dst, want: "seconds precision"},
		{name: "empty origin", spec: "{corsPolicy: {allowOrigins: [{exact: ''}]}" + dst, want: "non-empty exact, prefix or regex"},
		{name: "bad regex", spec: "{corsPolicy: {allowOrigins: [{regex: '('}]}" + dst, want: "allowOrigins[0].regex: regex does not compile"},
		{name: "preflights", spec: "{corsPolicy: {unmatchedPreflights: DROP}" + dst, want: "unknown value"},
		{name: "deprecated allowOrigin", spec: "{corsPolicy: {allowOrigin: [a]}" + dst, want: "deprecated", warning: true},
		{name: "both origin forms", spec: "{corsPolicy: {allowOrigin: [a], allowOrigins: [{exact: b}]}" + dst, want: "ignored: allowOrigins is set", warning: true},
	})
}
