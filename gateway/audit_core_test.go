package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// adminGet fetches an admin endpoint over the real admin listener.
func adminGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	code, body, _ := do(t, req)
	return code, body
}

// The admin listener: /healthz/ready answers once serving, /config_dump
// shows the generation, the files, the compiled listeners, hosts and
// routes, and the outcome of the last reload, including a rejected one
// (with its file:line) while the last good configuration keeps serving.
func TestAuditAdminEndpoints(t *testing.T) {
	t.Parallel()
	admin := fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	up := startUpstream(t, named("up"))
	g := startGW(t, oneRoute(up, "    timeout: 3s\n"), func(o *Options) { o.AdminAddr = admin })

	if code, body := adminGet(t, admin, "/healthz/ready"); code != 200 || body != "ready\n" {
		t.Errorf("/healthz/ready = %d %q, want 200 ready", code, body)
	}
	dump := func() configDump {
		t.Helper()
		code, body := adminGet(t, admin, "/config_dump")
		var d configDump
		if err := json.Unmarshal([]byte(body), &d); code != 200 || err != nil {
			t.Fatalf("/config_dump = %d %v:\n%s", code, err, body)
		}
		return d
	}
	d := dump()
	if d.Generation != 1 || !d.Reload.OK || len(d.Reload.Errors) != 0 || d.Reload.LastSuccess.IsZero() {
		t.Errorf("first dump: generation %d reload %+v", d.Generation, d.Reload)
	}
	if len(d.Files) != 2 || !strings.HasSuffix(d.Files[0], "gw.yaml") || !strings.HasSuffix(d.Files[1], "vs.yaml") {
		t.Errorf("files = %v, want gw.yaml and vs.yaml", d.Files)
	}
	if len(d.Listeners) != 1 || !strings.HasSuffix(d.Listeners[0].Address, ":80") || d.Listeners[0].Bound != g.srv.Addr(80).String() {
		t.Fatalf("listeners = %+v, want one on :80 bound to %s", d.Listeners, g.srv.Addr(80))
	}
	l := d.Listeners[0]
	if len(l.Servers) != 1 || l.Servers[0].Gateway != "default/gw" || len(l.VirtualHosts) != 1 {
		t.Fatalf("listener = %+v", l)
	}
	vh := l.VirtualHosts[0]
	if vh.Domain != "*" || len(vh.Routes) != 1 || vh.Routes[0].VirtualService != "default/vs" || vh.Routes[0].Timeout != "3s" ||
		len(vh.Routes[0].Destinations) != 1 || vh.Routes[0].Destinations[0].Port != up {
		t.Errorf("virtual host = %+v", vh)
	}

	g.write("broken.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [a]\n  gateways: [gw]\n  htp: []\n")
	for ev := g.waitReload(); ev.err == nil; ev = g.waitReload() {
	}
	d = dump()
	if d.Generation != 1 || d.Reload.OK || d.Reload.Failures != 1 || len(d.Reload.Errors) != 1 ||
		!strings.Contains(d.Reload.Errors[0], "broken.yaml:7: VirtualService default/x: spec.htp") {
		t.Errorf("after a broken file: generation %d reload %+v, want generation 1 and the error with its position", d.Generation, d.Reload)
	}
	if !d.Reload.LastAttempt.After(d.Reload.LastSuccess) {
		t.Errorf("last attempt %v is not after the last success %v", d.Reload.LastAttempt, d.Reload.LastSuccess)
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "up" {
		t.Errorf("with a broken file present the gateway answered %d %q, want the last good config's 200 up", code, body)
	}
	if code, _ := adminGet(t, admin, "/healthz/ready"); code != 200 {
		t.Errorf("a rejected reload made /healthz/ready %d", code)
	}

	if err := os.Remove(filepath.Join(g.dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	// The files are the served ones again: nothing to recompile, but the
	// dump must stop reporting the error of a file that is gone.
	for ev := g.waitReload(); ev.err != nil; ev = g.waitReload() {
	}
	if d = dump(); d.Generation != 1 || !d.Reload.OK || len(d.Reload.Errors) != 0 {
		t.Errorf("after the broken file was removed: generation %d reload %+v, want generation 1 and no errors", d.Generation, d.Reload)
	}
	g.write("vs.yaml", vsTo(startUpstream(t, named("new"))))
	g.waitGen(2)
	if d = dump(); d.Generation != 2 || !d.Reload.OK || len(d.Reload.Errors) != 0 || !d.Reload.LastSuccess.After(d.Loaded.Add(-time.Second)) {
		t.Errorf("after a valid change: generation %d reload %+v", d.Generation, d.Reload)
	}
	if _, body, _ := g.get(80, "", "/"); body != "new" {
		t.Errorf("after a valid change: %q, want new", body)
	}
}

// A valid change is live well under a second after the write, with the
// default debounce.
func TestAuditReloadLatency(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)}, func(o *Options) { o.Settle = 0 })
	if _, body, _ := g.get(80, "", "/"); body != "a" {
		t.Fatalf("before the change: %q", body)
	}
	start := time.Now()
	g.write("vs.yaml", vsTo(b))
	g.waitGen(2)
	took := time.Since(start)
	if _, body, _ := g.get(80, "", "/"); body != "b" {
		t.Errorf("after the reload: %q, want b", body)
	}
	if took > 750*time.Millisecond {
		t.Errorf("the change was live %v after the write, want well under a second", took)
	}
}

// Reloads forced the way SIGHUP does (Server.Reload), interleaved with
// file changes, under concurrent requests: no request fails and every
// change is served.
func TestAuditForcedReloadUnderLoad(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(a)})
	p := startProbe(t, g.url(80)+"/", 4)
	p.waitBody(t, "a")
	for i := range 6 {
		want, port := "b", b
		if i%2 == 1 {
			want, port = "a", a
		}
		g.write("vs.yaml", vsTo(port))
		if err := g.srv.Reload(); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		if _, body, _ := g.get(80, "", "/"); body != want {
			t.Errorf("right after Reload returned: %q, want %q", body, want)
		}
		for range 3 {
			g.srv.Reload() // nothing changed: a no-op that must not disturb anything
		}
		p.waitBody(t, want)
	}
	p.finish(t)
}

// Every HTTPMatchRequest field, end to end: the route a request takes is
// the first whose match holds.
func TestAuditMatchConditions(t *testing.T) {
	t.Parallel()
	cfg := routes(`
  - match: [{uri: {exact: /exact}}]
    directResponse: {status: 200, body: {string: exact}}
  - match: [{uri: {regex: "/re/[0-9]+"}}]
    directResponse: {status: 200, body: {string: regex}}
  - match: [{uri: {prefix: /m}, method: {exact: POST}}]
    directResponse: {status: 200, body: {string: post}}
  - match: [{authority: {prefix: admin.}}]
    directResponse: {status: 200, body: {string: authority}}
  - match: [{headers: {x-ver: {regex: "v[12]"}}}]
    directResponse: {status: 200, body: {string: header}}
  - match: [{queryParams: {debug: {exact: "1"}}}]
    directResponse: {status: 200, body: {string: query}}
  - match: [{uri: {prefix: /case}, ignoreUriCase: true}]
    directResponse: {status: 200, body: {string: case}}
  - match: [{uri: {prefix: /w}, withoutHeaders: {x-skip: {}}}]
    directResponse: {status: 200, body: {string: without}}
  - match: [{port: 81}]
    directResponse: {status: 200, body: {string: port81}}
  - match: [{scheme: {exact: https}}]
    directResponse: {status: 200, body: {string: https}}
  - directResponse: {status: 200, body: {string: default}}
`)
	cfg["gw.yaml"] = httpGateway + "  - port: {number: 81, name: http-81, protocol: HTTP}\n    hosts: [\"*\"]\n"
	g := startGW(t, cfg)
	tests := []struct {
		method, host, path string
		port               uint32
		hdr                []string
		want               string
	}{
		{"GET", "a.example.com", "/exact", 80, nil, "exact"},
		{"GET", "a.example.com", "/exact/more", 80, nil, "default"},
		{"GET", "a.example.com", "/re/42", 80, nil, "regex"},
		{"GET", "a.example.com", "/re/42x", 80, nil, "default"}, // regex is whole-string
		{"GET", "a.example.com", "/x/re/42", 80, nil, "default"},
		{"POST", "a.example.com", "/m", 80, nil, "post"},
		{"GET", "a.example.com", "/m", 80, nil, "default"},
		{"GET", "admin.example.com", "/", 80, nil, "authority"},
		{"GET", "admin.example.com:8080", "/", 80, nil, "authority"},
		{"GET", "a.example.com", "/", 80, []string{"X-Ver", "v2"}, "header"},
		{"GET", "a.example.com", "/", 80, []string{"X-Ver", "v22"}, "default"},
		{"GET", "a.example.com", "/?debug=1", 80, nil, "query"},
		{"GET", "a.example.com", "/?debug=10", 80, nil, "default"},
		{"GET", "a.example.com", "/CASE/x", 80, nil, "case"},
		{"GET", "a.example.com", "/w", 80, nil, "without"},
		{"GET", "a.example.com", "/w", 80, []string{"X-Skip", "anything"}, "default"},
		{"GET", "a.example.com", "/", 81, nil, "port81"},
		{"GET", "a.example.com", "/exact", 81, nil, "exact"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, g.url(tc.port)+tc.path, nil)
		req.Host = tc.host
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		if code, body, _ := do(t, req); code != 200 || body != tc.want {
			t.Errorf("%s %s%s on :%d %v = %d %q, want %q", tc.method, tc.host, tc.path, tc.port, tc.hdr, code, body, tc.want)
		}
	}
}

// A destination host in no ServiceEntry is dialled by DNS name, and a
// ServiceEntry with DNS resolution resolves its endpoints' names.
func TestAuditDNSDestinations(t *testing.T) {
	t.Parallel()
	direct, viaSE := startUpstream(t, named("direct")), startUpstream(t, named("dns-entry"))
	cfg := routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /direct}}]
    route: [{destination: {host: localhost, port: {number: %d}}}]
  - route: [{destination: {host: api.dns.example}}]
`, direct))
	cfg["se.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.dns.example]
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: localhost, ports: {http: %d}}]
`, viaSE)
	g := startGW(t, cfg)
	if code, body, _ := g.get(80, "", "/direct"); code != 200 || body != "direct" {
		t.Errorf("host localhost = %d %q, want 200 direct", code, body)
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "dns-entry" {
		t.Errorf("ServiceEntry with DNS resolution = %d %q, want 200 dns-entry", code, body)
	}
}

// Upstream connections are pooled and reused: many requests, even from
// clients that close their own connection each time, reach the upstream
// over one connection.
func TestAuditUpstreamConnectionsReused(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(named("up"))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	g := startGW(t, oneRoute(portOf(t, ts.Listener.Addr()), ""))
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 30 {
		resp, err := fresh.Get(g.url(80) + fmt.Sprintf("/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "up" {
			t.Fatalf("request %d = %d %q", i, resp.StatusCode, b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("30 sequential requests opened %d upstream connections, want 1 reused", n)
	}
}
