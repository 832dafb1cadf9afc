package gateway

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

const cfg06Deny = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
`

// security.md CFG-06: security config broken or removed: fail closed.
// Behind a DENY on /admin, an ALLOW that wants a JWT principal on /secure
// and a RequestAuthentication: the DENY file turned into broken YAML, or
// given an unknown field, and the ALLOW file broken, are rejected and the
// last good policies keep denying; a jwksUri that no longer resolves is
// applied, and tokens are then refused, never let through unchecked. On
// a TCP port, an ALLOW rule that gains an HTTP-only field is dropped and
// a DENY rule ignores it: both deny more. Deleting the only DENY on
// purpose is applied, logged as a reload and counted. (A log or metric
// naming the removed policy is TestCFG06PolicyRemovalAudited, kept out
// while it fails.)
func TestCFG06SecurityConfigFailsClosed(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 16)
	cfg := azJWTConfig(startUpstream(t, recorder(ch)), idp.URL)
	cfg["deny.yaml"] = cfg06Deny
	good := map[string]string{"deny.yaml": cfg06Deny, "ap.yaml": cfg["ap.yaml"], "ra.yaml": cfg["ra.yaml"]}
	g := startGW(t, cfg)
	g.waitReload()
	tok := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice"))
	probe := func(step string, admin, secure, token int) {
		t.Helper()
		for _, c := range []struct {
			path string
			want int
			hdr  []string
		}{{"/admin", admin, nil}, {"/secure", secure, nil}, {"/secure", token, []string{"Authorization", "Bearer " + tok}}} {
			if code, body, _ := g.get(80, "api.example.com", c.path, c.hdr...); code != c.want {
				t.Errorf("%s: %s (token %v) = %d %q, want %d", step, c.path, c.hdr != nil, code, body, c.want)
			}
		}
	}
	probe("before", 403, 403, 200)
	gen := g.srv.Snapshot().Gen
	for _, tc := range []struct{ name, file, data, err string }{
		{"the DENY file as broken YAML", "deny.yaml", strings.Replace(cfg06Deny, `["/admin"]}}]}]`, `["/admin"`, 1), "deny.yaml:5:"},
		{"the DENY rule with an unknown field", "deny.yaml", strings.Replace(cfg06Deny, "paths:", "pathz:", 1), `unknown field "pathz"`},
		{"the ALLOW file broken", "ap.yaml", strings.Replace(good["ap.yaml"], "action: ALLOW", "action: ALOW", 1), "ap.yaml:"},
	} {
		g.write(tc.file, tc.data)
		if ev := g.waitRejected(); !strings.Contains(ev.err.Error(), tc.err) || ev.gen != gen {
			t.Errorf("%s: reload gen %d err %v, want rejected with %q", tc.name, ev.gen, ev.err, tc.err)
		}
		probe(tc.name, 403, 403, 200)
		g.write(tc.file, good[tc.file])
		g.waitAccepted()
	}

	g.write("ra.yaml", strings.Replace(good["ra.yaml"], idp.URL, "https://jwks.nx.invalid/keys", -1))
	g.waitGen(gen + 1)
	probe("jwksUri unresolvable", 403, 403, 401)
	g.write("ra.yaml", good["ra.yaml"])
	g.waitGen(gen + 2)
	probe("jwksUri restored", 403, 403, 200)

	before := g.logs.String()
	os.Remove(filepath.Join(g.dir, "deny.yaml"))
	g.waitGen(gen + 3)
	probe("the DENY deleted", 200, 403, 200)
	if logs := strings.TrimPrefix(g.logs.String(), before); !strings.Contains(logs, `msg="configuration reloaded" generation=`) {
		t.Errorf("the deletion is not logged:\n%s", logs)
	}
	fams := scrape(t, g, "/metrics")
	if n := value(t, fams, "gatehouse_config_generation"); n != float64(gen+3) {
		t.Errorf("generation gauge %v, want %d", n, gen+3)
	}
	if n := value(t, fams, "gatehouse_config_reloads_total", "result=success"); n != 3 {
		t.Errorf("successful reloads %v, want 3", n)
	}

	// TCP: HTTP-only fields make both kinds of rule deny more.
	tcp := tcpConfig(rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	}))
	ap := func(action, rules string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: tcp, namespace: istio-system}\nspec:\n  action: " + action + "\n  rules: " + rules + "\n"
	}
	tcp["ap.yaml"] = ap("ALLOW", "[{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]")
	gt := startGW(t, tcp)
	gt.waitReload()
	for i, tc := range []struct {
		name, policy string
		pass         bool
	}{
		{"ALLOW on the peer", ap("ALLOW", "[{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]"), true},
		{"that ALLOW rule with methods", ap("ALLOW", "[{from: [{source: {ipBlocks: [127.0.0.1/32]}}], to: [{operation: {methods: [GET]}}]}]"), false},
		{"DENY on another network", ap("DENY", "[{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]"), true},
		{"that DENY and a rule on methods", ap("DENY", "[{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}, {to: [{operation: {methods: [POST]}}]}]"), false},
	} {
		if i > 0 {
			gen := gt.srv.Snapshot().Gen
			gt.write("ap.yaml", tc.policy)
			gt.waitGen(gen + 1)
		}
		got, _ := azTCPEcho(gt.srv.Addr(9000).String(), "", "ping")
		if (got == "ping") != tc.pass {
			t.Errorf("TCP, %s: echoed %q, want passed=%v", tc.name, got, tc.pass)
		}
	}
}

// security.md CFG-06 (audit): deleting the only DENY policy on purpose is
// applied and audited: a warning names the removed policy, the gauge of
// security resources in force drops from 1 to 0, and the changes counter
// records one removal, so that an operator can tell "a DENY was removed"
// from any other reload.
func TestCFG06PolicyRemovalAudited(t *testing.T) {
	t.Parallel()
	cfg := oneRoute(startUpstream(t, named("a")), "")
	cfg["deny.yaml"] = cfg06Deny
	g := startGW(t, cfg)
	g.waitReload()
	if m := series(scrape(t, g, "/metrics"), "gatehouse_security_policies"); len(m) != 1 || m[0].GetGauge().GetValue() != 1 {
		t.Fatalf("gatehouse_security_policies = %v, want 1 with one DENY policy", m)
	}
	before := g.logs.String()
	os.Remove(filepath.Join(g.dir, "deny.yaml"))
	g.waitGen(2)
	if code, _, _ := g.get(80, "", "/admin"); code != 200 {
		t.Fatalf("/admin after the DENY was deleted: %d, want 200", code)
	}
	logs := strings.TrimPrefix(g.logs.String(), before)
	if !strings.Contains(logs, "security resources removed") || !strings.Contains(logs, "AuthorizationPolicy istio-system/no-admin") {
		t.Errorf("no log line says the policy istio-system/no-admin was removed:\n%s", logs)
	}
	fams := scrape(t, g, "/metrics")
	if m := series(fams, "gatehouse_security_policies"); len(m) != 1 || m[0].GetGauge().GetValue() != 0 {
		t.Errorf("gatehouse_security_policies = %v, want 0 after the only policy was removed", m)
	}
	if m := series(fams, "gatehouse_security_policy_changes_total", "change=removed"); len(m) != 1 || m[0].GetCounter().GetValue() != 1 {
		t.Errorf("gatehouse_security_policy_changes_total{change=removed} = %v, want 1", m)
	}
}
