package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// azServiceConfig routes /other to the recorder directly and everything
// else to the service httpbin (ServiceEntry
// httpbin.default.svc.cluster.local, written "httpbin" in the
// VirtualService as Istio users do), whose qualified name is what legacy
// Policy targets and ServiceRole services match.
func azServiceConfig(port uint32, security string) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("httpbin", "httpbin.default.svc.cluster.local", fmt.Sprint(port)),
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - route: [{destination: {host: httpbin, port: {number: 8000}}}]
`, port),
		"security.yaml": security,
	}
}

// azCheck is one request and the status and body the client must see.
type azCheck struct {
	name string
	path string
	hdr  []string
	code int
	body string
}

// run sends each request; one answered 200 must have reached the
// upstream, any other must not.
func azRun(t *testing.T, g *gw, ch chan seen, checks []azCheck) {
	t.Helper()
	for _, c := range checks {
		code, body, _ := g.get(80, "", c.path, c.hdr...)
		if code != c.code || body != c.body {
			t.Errorf("%s: got %d %q, want %d %q", c.name, code, body, c.code, c.body)
		}
		if code == 200 {
			<-ch
		} else {
			azNothing(t, ch, c.name)
		}
	}
}

// A legacy authentication.istio.io Policy with a JWT origin and
// principalBinding USE_ORIGIN, targeting the service by its short name.
func TestAuthzLegacyOriginPolicy(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azServiceConfig(startUpstream(t, recorder(ch)), fmt.Sprintf(`apiVersion: authentication.istio.io/v1alpha1
kind: Policy
metadata: {name: httpbin-origin, namespace: default}
spec:
  targets: [{name: httpbin}]
  origins:
  - jwt: {issuer: https://idp-a.example, jwksUri: %s}
  principalBinding: USE_ORIGIN
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: alice-only, namespace: default}
spec:
  action: DENY
  rules:
  - from: [{source: {notRequestPrincipals: ["https://idp-a.example/alice"]}}]
    to: [{operation: {paths: ["/alice-only"]}}]
`, idp.URL)))
	alice := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice"))
	bob := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "bob"))
	expired := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice", "exp", 1))
	const failed = "Origin authentication failed."
	azRun(t, g, ch, []azCheck{
		{"no token", "/headers", nil, 401, failed},
		{"expired token", "/headers", []string{"Authorization", "Bearer " + expired}, 401, failed},
		{"garbage token", "/headers", []string{"Authorization", "Bearer x.y.z"}, 401, failed},
		{"valid token", "/headers", []string{"Authorization", "Bearer " + alice}, 200, "ok"},
		{"not a target", "/other", nil, 200, "ok"},
		{"USE_ORIGIN: the origin is the request principal", "/alice-only", []string{"Authorization", "Bearer " + alice}, 200, "ok"},
		{"USE_ORIGIN: another principal", "/alice-only", []string{"Authorization", "Bearer " + bob}, 403, "RBAC: access denied"},
	})
	// The legacy filter ran jwt_authn with forward: true.
	g.get(80, "", "/headers", "Authorization", "Bearer "+alice)
	if s := <-ch; s.Header.Get("Authorization") != "Bearer "+alice {
		t.Errorf("upstream Authorization %q, want the origin token forwarded", s.Header.Get("Authorization"))
	}
}

// Legacy rbac.istio.io: RbacConfig ON denies by default; a binding's
// subjects (a header property, a source.ip property, a user that needs a
// peer certificate) grant its ServiceRole's rules.
func TestAuthzLegacyRBAC(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	g := startGW(t, azServiceConfig(startUpstream(t, recorder(ch)), `apiVersion: rbac.istio.io/v1alpha1
kind: RbacConfig
metadata: {name: default, namespace: istio-system}
spec: {mode: "ON"}
---
apiVersion: rbac.istio.io/v1alpha1
kind: ServiceRole
metadata: {name: reader, namespace: default}
spec:
  rules: [{services: [httpbin.default.svc.cluster.local], methods: [GET], paths: ["/read/*"]}]
---
apiVersion: rbac.istio.io/v1alpha1
kind: ServiceRoleBinding
metadata: {name: readers, namespace: default}
spec:
  subjects:
  - {user: "*", properties: {"request.headers[X-User]": alice}}
  - properties: {source.ip: 127.0.0.2}
  roleRef: {kind: ServiceRole, name: reader}
---
apiVersion: rbac.istio.io/v1alpha1
kind: ServiceRole
metadata: {name: writer, namespace: default}
spec:
  rules: [{services: ["*"], paths: ["/write/*"]}]
---
apiVersion: rbac.istio.io/v1alpha1
kind: ServiceRoleBinding
metadata: {name: writers, namespace: default}
spec:
  subjects: [{user: cluster.local/ns/default/sa/writer}]
  roleRef: {kind: ServiceRole, name: writer}
`))
	azRun(t, g, ch, []azCheck{
		{"header subject", "/read/x", []string{"X-User", "alice"}, 200, "ok"},
		{"another header value", "/read/x", []string{"X-User", "bob"}, 403, "RBAC: access denied"},
		{"no subject matches", "/read/x", nil, 403, "RBAC: access denied"},
		{"outside the role's paths", "/write/x", []string{"X-User", "alice"}, 403, "RBAC: access denied"},
		{"user subject without a peer certificate", "/write/x", nil, 403, "RBAC: access denied"},
		// RbacConfig ON covers every routed service; /other goes to
		// 127.0.0.1, which is not among the reader role's services.
		{"a service outside the role's services", "/other/read/x", []string{"X-User", "alice"}, 403, "RBAC: access denied"},
	})
	addr := g.srv.Addr(80).String()
	for _, tc := range []struct{ from, req, want string }{
		{"127.0.0.2", "GET /read/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "200 ok"},
		{"127.0.0.3", "GET /read/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "403 RBAC: access denied"},
		{"127.0.0.2", "POST /read/x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "403 RBAC: access denied"},
	} {
		out, _ := rawExchange(t, addr, tc.from, []byte(tc.req))
		if got := bodyOf(t, out); got != tc.want {
			t.Errorf("from %s %s: %q, want %q", tc.from, strings.Fields(tc.req)[0], got, tc.want)
		}
		if strings.HasPrefix(tc.want, "200") {
			<-ch
		} else {
			azNothing(t, ch, "from "+tc.from)
		}
	}
}

// requestPrincipals and request.auth.claims conditions, nested claims
// written request.auth.claims[a][b] (Istio's form; a dotted name is one
// claim), lists, and scope split on spaces.
func TestAuthzClaims(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["security.yaml"] = fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules: [{issuer: https://idp-a.example, jwksUri: %s}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: claims, namespace: istio-system}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["https://idp-a.example/alice"]}}]
    to: [{operation: {paths: ["/alice"]}}]
  - from: [{source: {requestPrincipals: ["*/svc-*"]}}]
    to: [{operation: {paths: ["/services"]}}]
  - to: [{operation: {paths: ["/team"]}}]
    when: [{key: "request.auth.claims[org][team]", values: [blue]}]
  - to: [{operation: {paths: ["/group"]}}]
    when:
    - {key: "request.auth.claims[groups]", values: [admins]}
    - {key: "request.auth.claims[scope]", values: [write]}
  - to: [{operation: {paths: ["/open"]}}]
`, idp.URL)
	g := startGW(t, cfg)
	tok := func(sub string, kv ...any) []string {
		return []string{"Authorization", "Bearer " + idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", sub, kv...))}
	}
	const denied = "RBAC: access denied"
	azRun(t, g, ch, []azCheck{
		{"principal alice", "/alice", tok("alice"), 200, "ok"},
		{"principal bob", "/alice", tok("bob"), 403, denied},
		{"no token", "/alice", nil, 403, denied},
		{"sub prefix", "/services", tok("svc-billing"), 200, "ok"},
		{"sub prefix, other sub", "/services", tok("user-svc-billing"), 403, denied},
		{"nested claim", "/team", tok("x", "org", map[string]any{"team": "blue"}), 200, "ok"},
		{"nested claim, other value", "/team", tok("x", "org", map[string]any{"team": "red"}), 403, denied},
		{"dotted claim name is not nested", "/team", tok("x", "org.team", "blue"), 403, denied},
		{"nested number never matches", "/team", tok("x", "org", map[string]any{"team": 7}), 403, denied},
		{"list claim and space-split scope", "/group", tok("x", "groups", []string{"users", "admins"}, "scope", "read write"), 200, "ok"},
		{"string claim", "/group", tok("x", "groups", "admins", "scope", "write"), 200, "ok"},
		{"missing scope", "/group", tok("x", "groups", []string{"admins"}, "scope", "read"), 403, denied},
		{"no token, open path", "/open", nil, 200, "ok"},
	})
}
