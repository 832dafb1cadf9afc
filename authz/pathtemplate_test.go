package authz

import (
	"regexp"
	"strings"
	"testing"
)

// The examples of the AuthorizationPolicy proto (istio-api.md 8.4), as
// Envoy's uri_template evaluates them.
func TestPathTemplateMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tpl, path string
		match     bool
	}{
		{"/foo/{*}", "/foo/bar", true},
		{"/foo/{*}", "/foo/bar/baz", false},
		{"/foo/{*}", "/foo/", false},
		{"/foo/{**}/", "/foo/bar/", true},
		{"/foo/{**}/", "/foo//", true},
		{"/foo/{**}/", "/foo/bar", false},
		// The proto comment claims a match; Envoy's regex /foo/[...]*/ needs
		// the trailing slash, so it does not match (doc≠code).
		{"/foo/{**}/", "/foo/bar/baz.txt", false},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/baz", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar", false},
		{"/{**}", "/", true},
		{"/{**}", "/a/b/c", true},
		{"/{*}/foo/", "/x/foo/", true},
		{"/foo/{**}/bar", "/foo/a/b/bar", true},
		{"/foo/{**}/bar", "/foo//bar", true},
		{"/foo/{*}", "/foo/a=b", true},
		{"/foo/{*}", "/foo/a*b", false},
		{"/foo/{*}", "/foo/a b", false},
	}
	for _, tc := range tests {
		t.Run(tc.tpl+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			m, err := compilePath(tc.tpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.match(tc.path); got != tc.match {
				t.Errorf("match = %v, want %v", got, tc.match)
			}
		})
	}
}

// Istio's CheckValidPathTemplate cases.
func TestPathTemplateValidation(t *testing.T) {
	t.Parallel()
	valid := []string{"/{*}/foo", "/{*}/foo/", "/foo/{**}/bar", "/foo/bar/{**}", "/foo/{*}/a=b"}
	invalid := []string{"/*/baz/{*}", "/**/baz/{*}", "/{**}/foo/{*}", "/foo/{*}.txt", "/foo/{**}buzz/bar",
		"/{*}/foo/{}/bar", "/foo/{*}/bar/*", "/foo/{*}/bar/**/buzz", "/foo/{buzz}/bar", "/{buzz}",
		"/foo/{buzz=*}/bar/{**}", "/{*}/foo/{temp", "/{*}/foo/temp}/bar", "/{**}/{**}", "/{*}/foo/?abc",
		"foo/{*}", "/a//{*}"}
	for _, v := range valid {
		if _, err := compilePath(v); err != nil {
			t.Errorf("compilePath(%q) = %v, want valid", v, err)
		}
	}
	for _, v := range invalid {
		if _, err := compilePath(v); err == nil {
			t.Errorf("compilePath(%q) succeeded, want an error", v)
		}
	}
}

// envoyRegex converts a template as Envoy's uri_template library does.
func envoyRegex(tpl string) *regexp.Regexp {
	const lit = `a-zA-Z0-9\-._~%!$&'()+,;:@=`
	r := regexp.QuoteMeta(tpl)
	r = strings.ReplaceAll(r, regexp.QuoteMeta("{**}"), "["+lit+"/]*")
	r = strings.ReplaceAll(r, regexp.QuoteMeta("{*}"), "["+lit+"]+")
	return regexp.MustCompile("^" + r + "$")
}

// FuzzPathTemplate checks that compiling never panics and that matching
// agrees with Envoy's regular expression for every valid template.
func FuzzPathTemplate(f *testing.F) {
	for _, s := range []struct{ tpl, path string }{
		{"/foo/{*}", "/foo/bar"}, {"/foo/{**}/", "/foo/bar/baz.txt"}, {"/foo/{*}/bar/{**}", "/foo/buzz/bar/baz"},
		{"/{**}", "/"}, {"/{*}/foo/", "/x/foo/"}, {"/foo/{**}/bar", "/foo//bar"}, {"/{**}/foo/{*}", "/a/foo/b"},
		{"/a/{*}", "/a/%2F"}, {"/{*}", "/*"},
	} {
		f.Add(s.tpl, s.path)
	}
	f.Fuzz(func(t *testing.T, tpl, path string) {
		tp, err := compilePathTemplate(tpl)
		if err != nil {
			return
		}
		if got, want := tp.match(path), envoyRegex(tpl).MatchString(path); got != want {
			t.Errorf("template %q path %q: match = %v, Envoy regex = %v", tpl, path, got, want)
		}
	})
}
