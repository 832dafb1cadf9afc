package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accessLogConfig is a route to port plus a mesh config that logs to file
// with the given encoding, and a DENY policy on /private.
func accessLogConfig(port uint32, file, encoding string) map[string]string {
	cfg := oneRoute(port, "")
	cfg["mesh.yaml"] = `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: mesh, namespace: istio-system}
spec:
  meshConfig:
    accessLogFile: ` + file + `
    accessLogEncoding: ` + encoding + `
`
	cfg["deny.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-private, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/private"]}}]
`
	return cfg
}

// readLog flushes the gateway's access log and returns its lines.
func readLog(t *testing.T, g *gw, file string) []string {
	t.Helper()
	if err := g.srv.snap.Load().AccessLog.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestAccessLogJSON(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, accessLogConfig(startUpstream(t, named("app")), file, "JSON"))
	cases := []struct {
		path    string
		code    int
		flags   any
		details string
		policy  any
	}{
		{"/ok?x=1", 200, "-", "via_upstream", nil},
		{"/private", 403, "-", "rbac_access_denied_matched_policy[ns[istio-system]-policy[no-private]-rule[0]]", "istio-system/no-private"},
		{"/bad%2Fpath", 400, "DPE", "request_rejected", nil},
	}
	for _, c := range cases {
		code, _, _ := g.get(80, "app.example.com", c.path, "User-Agent", "logtest/1", "X-Request-Id", "rid-"+c.path)
		if code != c.code {
			t.Fatalf("GET %s = %d, want %d", c.path, code, c.code)
		}
	}
	lines := readLog(t, g, file)
	if len(lines) != len(cases) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(cases), strings.Join(lines, "\n"))
	}
	for i, c := range cases {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, lines[i])
		}
		want := map[string]any{
			"method": "GET", "path": c.path, "protocol": "HTTP/1.1", "response_code": float64(c.code),
			"response_flags": c.flags, "response_code_details": c.details, "authority": "app.example.com",
			"user_agent": "logtest/1", "request_id": "rid-" + c.path, "authorization_policy": c.policy,
		}
		if c.code != 400 { // refused before the forwarding headers are added
			want["x_forwarded_for"] = "127.0.0.1"
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("line %d: %s = %#v, want %#v\n%s", i, k, m[k], v, lines[i])
			}
		}
		for _, k := range []string{"start_time", "duration", "bytes_sent", "downstream_remote_address", "downstream_local_address"} {
			if m[k] == nil {
				t.Errorf("line %d: %s missing\n%s", i, k, lines[i])
			}
		}
	}
	first := map[string]any{}
	json.Unmarshal([]byte(lines[0]), &first)
	if first["upstream_cluster"] == nil || first["upstream_host"] == nil || first["bytes_sent"] != float64(3) {
		t.Errorf("forwarded request misses its upstream: %s", lines[0])
	}
}

// TEXT is Istio's default line, and SIGUSR1 (ReopenLogs) moves writing to
// a new file after logrotate renamed the old one.
func TestAccessLogTextAndReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "access.log")
	g := startGW(t, accessLogConfig(startUpstream(t, named("app")), file, "TEXT"))
	if code, _, _ := g.get(80, "app.example.com", "/nowhere/../a"); code != 200 {
		t.Fatalf("status %d", code)
	}
	lines := readLog(t, g, file)
	if len(lines) != 1 || !strings.Contains(lines[0], `"GET /nowhere/../a HTTP/1.1" 200 - via_upstream - "-" 0 3 `) ||
		!strings.Contains(lines[0], `"app.example.com"`) || !strings.Contains(lines[0], "outbound|") {
		t.Fatalf("unexpected line:\n%s", strings.Join(lines, "\n"))
	}
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	if err := g.srv.ReopenLogs(); err != nil {
		t.Fatalf("ReopenLogs: %v", err)
	}
	req, _ := http.NewRequest("GET", g.url(80)+"/private", nil)
	if code, _, _ := do(t, req); code != 403 {
		t.Fatalf("status %d", code)
	}
	lines = readLog(t, g, file)
	if len(lines) != 1 || !strings.Contains(lines[0], `"GET /private HTTP/1.1" 403 - rbac_access_denied_matched_policy`) {
		t.Fatalf("reopened log:\n%s", strings.Join(lines, "\n"))
	}
	old, _ := os.ReadFile(file + ".1")
	if strings.Count(string(old), "\n") != 1 {
		t.Fatalf("rotated file changed:\n%s", old)
	}
}

// An access log that cannot be opened rejects the configuration with the
// line of the mesh config that names it.
func TestAccessLogUnopenable(t *testing.T) {
	t.Parallel()
	cfg := accessLogConfig(1, filepath.Join(t.TempDir(), "missing-dir", "access.log"), "TEXT")
	dir := t.TempDir()
	for name, data := range cfg {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644)
	}
	_, err := New(Options{ConfigPaths: []string{dir}})
	if err == nil || !strings.Contains(err.Error(), "mesh.yaml:") || !strings.Contains(err.Error(), "access log") {
		t.Fatalf("New = %v, want an access log error at mesh.yaml", err)
	}
}

// The access log's path is never taken from a client's
// X-Envoy-Original-Path.
//
// Regression (security review): guards against a client choosing the logged path.
func TestAccessLogPathNotFromClient(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, accessLogConfig(startUpstream(t, named("app")), file, "TEXT"))
	got := rawRequests(t, g.srv.Addr(80).String(),
		"GET /real%2Fpath HTTP/1.1\r\nHost: a\r\nX-Envoy-Original-Path: /innocent\r\nConnection: close\r\n\r\n")
	if got[0] != "HTTP/1.1 400 Bad Request" {
		t.Fatalf("response %q", got)
	}
	if lines := readLog(t, g, file); len(lines) != 1 || !strings.Contains(lines[0], `"GET /real%2Fpath HTTP/1.1" 400`) {
		t.Fatalf("access log: %q", lines)
	}
}
