package gateway

import (
	"slices"
	"testing"
)

// security.md AZ-06: query, matrix parameters and case. The query is no
// part of the path policy matches; ";" parameters are 400 by default
// and, with the Gateway annotation gatehouse.io/path-parameters: keep,
// forwarded and matched as received, as Istio does; paths match
// case-sensitively, as in Istio. The oracle's upstream profiles show
// what the last two mean: through "keep" a Java upstream, which drops
// parameters, serves /admin, and through "/ADMIN" so does a
// case-insensitive upstream. Each needs a policy of its own, which is
// why reject is the default.
func TestAZ06QueryParametersAndCase(t *testing.T) {
	t.Parallel()
	common := []azPathCase{
		{"query is not part of the path", "GET /admin?x=1 HTTP/1.1", 403, "", false},
		{"empty query after a slash", "GET /admin/? HTTP/1.1", 403, "", false},
		{"a path in the query", "GET /public?next=/admin HTTP/1.1", 200, "/public?next=/admin", false},
		{"upper case", "GET /ADMIN HTTP/1.1", 200, "/ADMIN", false},
		{"fragment", "GET /admin#x HTTP/1.1", 400, "", false},
		{"fragment hiding dot-dot", "GET /public#/../admin HTTP/1.1", 400, "", false},
		{"encoded fragment stays encoded", "GET /admin%23x HTTP/1.1", 200, "/admin%23x", false},
	}
	rejected := slices.Concat([]azPathCase{
		{"matrix parameter", "GET /admin;jsessionid=1 HTTP/1.1", 400, "", false},
		{"dot-dot with a parameter", "GET /public/..;/admin HTTP/1.1", 400, "", false},
		{"parameter on an allowed path", "GET /public;v=1 HTTP/1.1", 400, "", false},
	}, common)
	azPathModes(t, "", []string{"", "NONE"}, slices.Concat(rejected, []azPathCase{
		{"mixed case, encoded slash", "GET /Admin%2fx HTTP/1.1", 400, "", false}}))
	azPathModes(t, "", []string{"DECODE_AND_MERGE_SLASHES"}, slices.Concat(rejected, []azPathCase{
		{"mixed case, encoded slash", "GET /Admin%2fx HTTP/1.1", 200, "/Admin/x", false}}))
	t.Run("keep", func(t *testing.T) {
		t.Parallel()
		azPathModes(t, "gatehouse.io/path-parameters: keep", []string{"", "NONE"}, slices.Concat([]azPathCase{
			// "/admin;jsessionid=1" is not the exact path "/admin" nor
			// under "/admin/", so the DENY does not fire.
			{"matrix parameter reaches a Java upstream", "GET /admin;jsessionid=1 HTTP/1.1", 200, "/admin;jsessionid=1", true},
			{"dot-dot with a parameter reaches a Java upstream", "GET /public/..;/admin HTTP/1.1", 200, "/public/..;/admin", true},
			{"parameter below a denied prefix", "GET /admin/x;a=b HTTP/1.1", 403, "", false},
			{"parameter elsewhere", "GET /public;v=1 HTTP/1.1", 200, "/public;v=1", false},
		}, common))
	})
	t.Run("case-insensitive upstream", func(t *testing.T) {
		t.Parallel()
		ch := make(chan azHit, 1)
		g := startGW(t, azPathConfig(t, azTreasure(ch, true), "", ""))
		azRunPaths(t, g, ch, []azPathCase{
			{"control", "GET /admin HTTP/1.1", 403, "", false},
			{"upper case reaches it", "GET /ADMIN HTTP/1.1", 200, "/ADMIN", true},
			{"mixed case below reaches it", "GET /Admin/x HTTP/1.1", 200, "/Admin/x", true},
			{"another path", "GET /Public HTTP/1.1", 200, "/Public", false},
		})
	})
}

// security.md AZ-10: method normalization and override headers. A method
// that is not upper case is 400 and never forwarded. Method override and
// URL rewrite headers never reach the upstream, and authorization never
// reads them: a DENY on DELETE ignores X-HTTP-Method-Override, and one
// on /admin ignores X-Original-URL and X-Rewrite-URL either way.
func TestAZ10MethodsAndOverrideHeaders(t *testing.T) {
	t.Parallel()
	ch := make(chan azHit, 1)
	cfg := azPathConfig(t, azTreasure(ch, false), "", "")
	cfg["deny-delete.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
`
	g := startGW(t, cfg)
	azRunPaths(t, g, ch, []azPathCase{
		{"upper-case method", "GET /public HTTP/1.1", 200, "/public", false},
		{"lower-case method", "get /admin HTTP/1.1", 400, "", false},
		{"mixed-case method", "GeT /admin HTTP/1.1", 400, "", false},
		{"lower-case method on an allowed path", "get /public HTTP/1.1", 400, "", false},
		{"capitalized method", "Get /public HTTP/1.1", 400, "", false},
		{"lower-case POST", "post /public HTTP/1.1\r\nContent-Length: 0", 400, "", false},
		{"denied method", "DELETE /public HTTP/1.1", 403, "", false},
		{"lower-case denied method", "delete /public HTTP/1.1", 400, "", false},
	})

	addr := g.srv.Addr(80).String()
	overrides := map[string]string{"X-Http-Method-Override": "", "X-Http-Method": "", "X-Method-Override": "", "X-Original-Url": "", "X-Rewrite-Url": ""}
	tests := []struct {
		name, req, want, method, uri string
	}{
		{"method overrides to a denied method", "POST /public HTTP/1.1\r\nContent-Length: 0\r\nX-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\n",
			"200 normal", "POST", "/public"},
		{"rewrite headers to a denied path", "POST /public HTTP/1.1\r\nContent-Length: 0\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\n",
			"200 normal", "POST", "/public"},
		{"rewrite headers away from a denied path", "GET /admin HTTP/1.1\r\nX-Original-URL: /public\r\nX-Rewrite-URL: /public\r\n",
			"403 RBAC: access denied", "", ""},
	}
	for _, tc := range tests {
		out, _ := rawExchange(t, addr, "", []byte(tc.req+"Host: a\r\nConnection: close\r\n\r\n"))
		if got := bodyOf(t, out); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if tc.method == "" {
			select {
			case h := <-ch:
				t.Errorf("%s: refused, yet the upstream got %s %s", tc.name, h.method, h.uri)
			default:
			}
			continue
		}
		h := <-ch
		if h.method != tc.method || h.uri != tc.uri {
			t.Errorf("%s: the upstream got %s %s, want %s %s", tc.name, h.method, h.uri, tc.method, tc.uri)
		}
		azHeaders(t, h.header, overrides)
	}
}
