package gateway

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// security.md AZ-12: evaluation order, defaults, TCP, matcher injection.
// Over HTTP: (a) a matching DENY wins over a matching ALLOW; (b) when
// ALLOW policies exist and none matches, the request is denied; (c) an
// empty ALLOW rule allows everything, while an ALLOW policy without rules
// allows nothing. Over raw TCP: (d) an ALLOW rule with an HTTP-only field
// is dropped, so nothing matches; (e) a DENY rule ignores the field and
// denies every connection; a denied connection is closed before anything
// is dialled. (f) principals, request principals and namespaces match
// literally (exact, "prefix*" or "*suffix"), never as regexes.
func TestAZ12EvaluationOrderAndTCP(t *testing.T) {
	t.Parallel()
	t.Run("HTTP", azOrderHTTP)
	t.Run("TCP", azOrderTCP)
	t.Run("literal request principals", azLiteralRequestPrincipals)
	t.Run("literal peer principals", azLiteralPeerPatterns)
}

// azPolicy is an AuthorizationPolicy document named name with spec.
func azPolicy(name, spec string) string {
	return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
		", namespace: istio-system}\nspec:\n  " + spec + "\n---\n"
}

func azOrderHTTP(t *testing.T) {
	t.Parallel()
	const denied = "RBAC: access denied"
	tests := []struct {
		name, policies string
		checks         []azCheck
	}{
		{"(a) DENY wins over ALLOW",
			azPolicy("allow", `rules: [{to: [{operation: {paths: ["/admin/*"]}}]}, {to: [{operation: {paths: ["/public"]}}]}]`) +
				azPolicy("deny", `action: DENY`+"\n  "+`rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]`),
			[]azCheck{{"matched by both", "/admin/x", nil, 403, denied}, {"matched by ALLOW only", "/public", nil, 200, "ok"}}},
		{"(b) no ALLOW matches",
			azPolicy("allow", `rules: [{to: [{operation: {paths: ["/public"]}}]}]`),
			[]azCheck{{"not matched", "/other", nil, 403, denied}, {"matched", "/public", nil, 200, "ok"}}},
		{"(c) an empty ALLOW rule",
			azPolicy("allow-all", `rules: [{}]`),
			[]azCheck{{"anything", "/anything", nil, 200, "ok"}, {"admin", "/admin", nil, 200, "ok"}}},
		{"ALLOW without rules",
			azPolicy("allow-nothing", `action: ALLOW`),
			[]azCheck{{"anything", "/anything", nil, 403, denied}}},
		{"an empty DENY rule next to an empty ALLOW rule",
			azPolicy("allow-all", `rules: [{}]`) + azPolicy("deny-all", "action: DENY\n  rules: [{}]"),
			[]azCheck{{"anything", "/anything", nil, 403, denied}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := make(chan seen, 1)
			cfg := oneRoute(startUpstream(t, recorder(ch)), "")
			cfg["ap.yaml"] = tc.policies
			azRun(t, startGW(t, cfg), ch, tc.checks)
		})
	}
}

func azOrderTCP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		from         string
		pass         bool
	}{
		{"DENY everything", "action: DENY\n  rules: [{}]", "", false},
		{"ALLOW ipBlocks not matching", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]", "", false},
		{"ALLOW ipBlocks matching", "rules: [{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]", "", true},
		// ports match the port the connection arrived on: %d is the one
		// the test listener was given for Gateway port 9000.
		{"ALLOW the listener's port", `rules: [{to: [{operation: {ports: ["%d"]}}]}]`, "", true},
		{"ALLOW another port", `rules: [{to: [{operation: {ports: ["1"]}}]}]`, "", false},
		// An HTTP-only field on TCP: an ALLOW rule using it is dropped, a
		// DENY rule ignores it and denies every connection.
		{"(d) ALLOW methods and the listener's port", `rules: [{to: [{operation: {methods: [GET], ports: ["%d"]}}]}]`, "", false},
		{"ALLOW methods", `rules: [{to: [{operation: {methods: [GET]}}]}]`, "", false},
		{"ALLOW paths", `rules: [{to: [{operation: {paths: ["/*"]}}]}]`, "", false},
		{"(e) DENY methods", "action: DENY\n  rules: [{to: [{operation: {methods: [GET]}}]}]", "", false},
		{"DENY paths", "action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]", "", false},
		{"DENY remoteIpBlocks, that client", "action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [127.0.0.2]}}]}]", "127.0.0.2", false},
		{"DENY remoteIpBlocks, another client", "action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [127.0.0.2]}}]}]", "127.0.0.3", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			accepted := make(chan struct{}, 1)
			cfg := tcpConfig(rawUpstream(t, func(c net.Conn) {
				defer c.Close()
				accepted <- struct{}{}
				io.Copy(c, c)
			}))
			if !strings.Contains(tc.policy, "%d") {
				cfg["ap.yaml"] = azPolicy("tcp", tc.policy)
			}
			g := startGW(t, cfg)
			addr := g.srv.Addr(9000)
			if strings.Contains(tc.policy, "%d") {
				g.write("ap.yaml", azPolicy("tcp", fmt.Sprintf(tc.policy, portOf(t, addr))))
				g.waitGen(2)
			}
			got, err := azTCPEcho(addr.String(), tc.from, "ping")
			if tc.pass {
				if got != "ping" {
					t.Fatalf("allowed connection echoed %q, %v; want ping", got, err)
				}
				<-accepted
				return
			}
			if got != "" {
				t.Errorf("denied connection got %q, want it closed without data", got)
			}
			select {
			case <-accepted:
				t.Error("a denied connection reached the upstream")
			default: // the gateway decides before dialling, and closes after
			}
		})
	}
}

// azLiteralRequestPrincipals is AZ-12 (f) for request principals
// (iss/sub of a verified JWT): "." and ".*" are literal characters.
func azLiteralRequestPrincipals(t *testing.T) {
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
`, idp.URL) + azPolicy("principals", `rules:
  - from: [{source: {requestPrincipals: ["https://idp-a.example/a.b"]}}]
    to: [{operation: {paths: ["/exact"]}}]
  - from: [{source: {requestPrincipals: [".*"]}}]
    to: [{operation: {paths: ["/dot-star"]}}]
  - from: [{source: {requestPrincipals: ["https://idp-a.example/team.*"]}}]
    to: [{operation: {paths: ["/prefix"]}}]
  - from: [{source: {requestPrincipals: ["*/a.b"]}}]
    to: [{operation: {paths: ["/suffix"]}}]`)
	g := startGW(t, cfg)
	tok := func(sub string) []string {
		return []string{"Authorization", "Bearer " + idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", sub))}
	}
	const denied = "RBAC: access denied"
	azRun(t, g, ch, []azCheck{
		{"exact with a dot", "/exact", tok("a.b"), 200, "ok"},
		{"the dot is no wildcard", "/exact", tok("aXb"), 403, denied},
		{".* is no regex", "/dot-star", tok("alice"), 403, denied},
		{"prefix with a dot", "/prefix", tok("team.blue"), 200, "ok"},
		{"prefix, the dot is no wildcard", "/prefix", tok("teamXblue"), 403, denied},
		{"suffix with a dot", "/suffix", tok("a.b"), 200, "ok"},
		{"suffix, the dot is no wildcard", "/suffix", tok("aXb"), 403, denied},
	})
}
