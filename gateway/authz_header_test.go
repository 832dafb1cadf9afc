package gateway

import (
	"strings"
	"testing"
)

// security.md AZ-11: headers with several values. A DENY on
// request.headers[x-role] checks every field line, and every
// comma-separated element of each, trimmed of optional whitespace,
// whatever the header name's case; values compare exactly. Requests are
// written raw so the bytes on the wire are exactly these.
func TestAZ11HeaderValues(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["ap.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admins, namespace: istio-system}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[x-role]", values: [admin]}]
`
	g := startGW(t, cfg)
	addr := g.srv.Addr(80).String()
	tests := []struct {
		name, headers, want string
	}{
		{"single value", "X-Role: admin\r\n", "403 RBAC: access denied"},
		{"two header lines", "X-Role: user\r\nX-Role: admin\r\n", "403 RBAC: access denied"},
		{"admin last in a list", "X-Role: user,admin\r\n", "403 RBAC: access denied"},
		{"admin first in a list", "X-Role: admin, user\r\n", "403 RBAC: access denied"},
		{"surrounding spaces", "X-Role:   admin  \r\n", "403 RBAC: access denied"},
		{"tab inside a list", "X-Role: user,\tadmin\r\n", "403 RBAC: access denied"},
		{"lower-case name", "x-role: admin\r\n", "403 RBAC: access denied"},
		{"mixed-case name", "x-ROLE: admin\r\n", "403 RBAC: access denied"},
		{"upper-case name", "X-ROLE: admin\r\n", "403 RBAC: access denied"},
		{"two lines, names in different case", "X-Role: user\r\nx-role: admin\r\n", "403 RBAC: access denied"},
		{"admin in a list on the second line", "X-Role: user\r\nX-Role: guest, admin\r\n", "403 RBAC: access denied"},
		{"empty elements around admin", "X-Role: ,admin,\r\n", "403 RBAC: access denied"},
		{"tab before the value", "X-Role:\tadmin\r\n", "403 RBAC: access denied"},
		{"an empty line before admin", "X-Role:\r\nX-Role: admin\r\n", "403 RBAC: access denied"},
		{"another role", "X-Role: user\r\n", "200 ok"},
		{"a longer value is not admin", "X-Role: administrator\r\n", "200 ok"},
		{"values match case-sensitively", "X-Role: Admin\r\n", "200 ok"},
		{"admin inside an element", "X-Role: user admin\r\n", "200 ok"},
		{"several other values", "X-Role: user\r\nX-Role: guest,auditor\r\n", "200 ok"},
		{"no header", "", "200 ok"},
	}
	for _, tc := range tests {
		out, _ := rawExchange(t, addr, "", []byte("GET /x HTTP/1.1\r\nHost: a\r\n"+tc.headers+"Connection: close\r\n\r\n"))
		if got := bodyOf(t, out); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if strings.HasPrefix(tc.want, "200") {
			<-ch
		} else {
			azNothing(t, ch, tc.name)
		}
	}
}

// istio.io/dry-run policies and AUDIT policies never change the outcome;
// the log says what they would have done.
func TestAuthzDryRunAndAudit(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["ap.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: default
  annotations: {istio.io/dry-run: "true"}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-reports, namespace: default}
spec:
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/reports/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-secret, namespace: default}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/secret"]}}]}]
`
	g := startGW(t, cfg)
	azRun(t, g, ch, []azCheck{
		{"dry-run DENY lets the request through", "/admin", nil, 200, "ok"},
		{"AUDIT lets the request through", "/reports/q1", nil, 200, "ok"},
		{"an enforced DENY next to them", "/secret", nil, 403, "RBAC: access denied"},
	})
	logs := g.logs.String()
	if !azLogged(logs, `msg="authorization dry-run"`, "would=deny", "policy=default/deny-admin", "path=/admin") {
		t.Errorf("no dry-run record with would=deny for default/deny-admin in:\n%s", logs)
	}
	if !azLogged(logs, `msg="authorization audit"`, "policy=default/audit-reports", "path=/reports/q1") {
		t.Errorf("no audit record for default/audit-reports in:\n%s", logs)
	}
	if azLogged(logs, `msg="authorization audit"`, "path=/admin") {
		t.Errorf("an audit record for /admin, which no AUDIT policy matches:\n%s", logs)
	}
}

// azLogged reports whether one log line holds every part.
func azLogged(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
