package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
func TestAdminEndpoints(t *testing.T) {
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
