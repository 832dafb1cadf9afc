package authz

import (
	"net/url"
	"testing"
)

// A verified query token is removed from the query forwarded upstream,
// as the header carrying one is, unless the rule forwards it.
func TestQueryTokenRemoved(t *testing.T) {
	t.Parallel()
	k := testKeys()
	good := mint(t, k.a, "k1", claims())
	bad := mint(t, k.b, "k1", claims())
	forward := inlineRule(t)
	forward.ForwardOriginalToken = true
	custom := inlineRule(t)
	custom.FromParams = []string{"jwt"}
	j := legacyJWT(t)
	j.JWTParams = []string{"legacy"}
	legacy, errs := CompileLegacyPolicy(meta("default", "legacy"), &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: j}}}, false)
	noErrors(t, errs)
	def := jwtEngine(t, inlineRule(t))
	tests := []struct {
		name, query, want string
		e                 *Engine
		status            int
	}{
		{"only the token", "access_token=" + good, "", def, 200},
		{"between others", "a=1&access_token=" + good + "&b=%20x;y", "a=1&b=%20x;y", def, 200},
		{"first", "access_token=" + good + "&b=2&b=3", "b=2&b=3", def, 200},
		{"last", "a=1&access_token=" + good, "a=1", def, 200},
		{"empty parameters kept", "&a=&access_token=" + good + "&&", "&a=&&", def, 200},
		{"encoded name", "a=1&access%5Ftoken=" + good, "a=1", def, 200},
		{"encoded value", "access_token=" + url.QueryEscape(good) + "&x", "x", def, 200},
		{"forwardOriginalToken keeps it", "a=1&access_token=" + good, "a=1&access_token=" + good, jwtEngine(t, forward), 200},
		{"fromParams", "jwt=" + good + "&access_token=z", "access_token=z", jwtEngine(t, custom), 200},
		{"legacy origins keep it", "legacy=" + good, "legacy=" + good,
			NewEngine(Options{Now: fixedNow}, Config{LegacyPolicies: []*LegacyAuthn{legacy}}), 200},
		{"rejected: kept", "a=1&access_token=" + bad, "a=1&access_token=" + bad, def, 401},
		{"not unique: kept", "access_token=" + good + "&access_token=" + good, "access_token=" + good + "&access_token=" + good, def, 401},
		{"no token", "a=1&b=2", "a=1&b=2", def, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := withQuery(get("/"), tc.query)
			if status, body, _ := authn(t, tc.e, r); status != tc.status || r.RawQuery != tc.want {
				t.Errorf("got %d %q, query %q; want %d, query %q", status, body, r.RawQuery, tc.status, tc.want)
			}
		})
	}
}

// Removing a parameter allocates only when there is one to remove.
func TestRemoveParamAllocs(t *testing.T) {
	q := "a=1&b=2&access%5Ftokens=3"
	if n := testing.AllocsPerRun(100, func() { removeParam(q, "access_token") }); n != 0 {
		t.Errorf("removeParam allocates %v times when nothing is removed", n)
	}
	if got := removeParam(q+"&access%5ftoken=x", "access_token"); got != q {
		t.Errorf("removeParam = %q, want %q", got, q)
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	custom := inlineRule(t)
	custom.FromParams = []string{"jwt", "id token"}
	custom.FromHeaders = []JWTHeader{{Name: "x-jwt"}}
	j := legacyJWT(t)
	j.JWTParams = []string{"legacy"}
	legacy, errs := CompileLegacyPolicy(meta("default", "legacy"), &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: j}}}, false)
	noErrors(t, errs)
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t), custom}})
	e := NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, LegacyPolicies: []*LegacyAuthn{legacy}})
	tests := []struct{ name, in, want string }{
		{"issue example", "a=1&access_token=x&b=2", "a=1&access_token=<redacted>&b=2"},
		{"only the token", "access_token=eyJ.eyJ.sig", "access_token=<redacted>"},
		{"empty value", "access_token=&b=2", "access_token=<redacted>&b=2"},
		{"no value", "access_token&b=2", "access_token=<redacted>&b=2"},
		{"repeated", "access_token=a&access_token=b&jwt=c", "access_token=<redacted>&access_token=<redacted>&jwt=<redacted>"},
		{"encoded name kept as written", "access%5Ftoken=x&access%5ftoken=y", "access%5Ftoken=<redacted>&access%5ftoken=<redacted>"},
		{"plus is a space", "id+token=x&id%20token=y", "id+token=<redacted>&id%20token=<redacted>"},
		{"legacy jwtParams", "legacy=x", "legacy=<redacted>"},
		{"value with =", "jwt=a=b&c=d", "jwt=<redacted>&c=d"},
		{"empty segments kept", "&access_token=x&&", "&access_token=<redacted>&&"},
		{"other names", "access_tokens=x&xaccess_token=y&access%5=z", "access_tokens=x&xaccess_token=y&access%5=z"},
		{"no query", "", ""},
	}
	for _, tc := range tests {
		if got := e.RedactQuery(tc.in); got != tc.want {
			t.Errorf("%s: RedactQuery(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// RedactQuery allocates nothing when there is nothing to redact.
func TestRedactQueryNoAllocs(t *testing.T) {
	headerOnly := inlineRule(t)
	headerOnly.FromHeaders = []JWTHeader{{Name: "x-jwt"}}
	var nilEngine *Engine
	q := "a=1&access_token=x"
	for name, e := range map[string]*Engine{"nil engine": nilEngine, "no param locations": jwtEngine(t, headerOnly),
		"no policies": NewEngine(Options{}, Config{})} {
		if got := e.RedactQuery(q); got != q {
			t.Errorf("%s: RedactQuery = %q", name, got)
		}
		if n := testing.AllocsPerRun(100, func() { e.RedactQuery(q) }); n != 0 {
			t.Errorf("%s: RedactQuery allocates %v times", name, n)
		}
	}
	e := jwtEngine(t, inlineRule(t))
	if n := testing.AllocsPerRun(100, func() { e.RedactQuery("a=1&b=%41") }); n != 0 {
		t.Errorf("RedactQuery allocates %v times without a token parameter", n)
	}
}
