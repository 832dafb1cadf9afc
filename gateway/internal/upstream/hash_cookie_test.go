package upstream

import (
	"net/http"
	"testing"
)

// netHTTPCookie is what net/http's r.Cookie makes of the Cookie lines,
// which cookie must agree with ("" when absent).
func netHTTPCookie(lines []string, name string) string {
	r := http.Request{Header: http.Header{"Cookie": lines}}
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

var cookieCases = [][]string{
	{"sticky=abc"},
	{"a=1; sticky=abc; b=2"},
	{"sticky =abc"},
	{" sticky= abc "},
	{"sticky"},
	{"sticky; sticky=later"},
	{"sticky=\"quoted\""},
	{"sticky=bad value; sticky=good"},
	{"other=1", "sticky=second-line"},
	{"sticky=a=b"},
	{";;sticky=x;;"},
	{"STICKY=upper"},
	{""},
}

// The consistent-hash cookie is read as net/http reads request cookies
// (a regression guard: the view's parser replaced r.Cookie).
func TestHashCookieAsNetHTTP(t *testing.T) {
	t.Parallel()
	for _, lines := range cookieCases {
		if got, want := cookie(http.Header{"Cookie": lines}, "sticky"), netHTTPCookie(lines, "sticky"); got != want {
			t.Errorf("Cookie %q: got %q, net/http reads %q", lines, got, want)
		}
	}
}

func FuzzHashCookie(f *testing.F) {
	for _, lines := range cookieCases {
		f.Add(lines[0], "sticky")
	}
	f.Fuzz(func(t *testing.T, line, name string) {
		if !validCookieName(name) {
			return // a configured cookie name is a token
		}
		if got, want := cookie(http.Header{"Cookie": {line}}, name), netHTTPCookie([]string{line}, name); got != want {
			t.Errorf("Cookie %q, name %q: got %q, net/http reads %q", line, name, got, want)
		}
	})
}

// validCookieName reports whether name is an HTTP token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' || c == ':' || c == ';' ||
			c == '<' || c == '=' || c == '>' || c == '?' || c == '@' || c == '[' || c == '\\' || c == ']' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}
