package gateway

import (
	"strings"
	"testing"
)

// A problem found on reload in a file that did not change (its decoding
// came from the cache, its text was let go) still names the field's line.
func TestReloadProblemInUnchangedFileKeepsItsLine(t *testing.T) {
	t.Parallel()
	g := startGW(t, map[string]string{"gw.yaml": httpGateway, "vs.yaml": vsTo(startUpstream(t, named("app")))})
	g.write("gw.yaml", strings.Replace(httpGateway, "{name: gw}", "{name: other}", 1))
	// The watcher's start-up reload may report first; wait for the
	// rejection (waitReload fails the test if none comes).
	ev := g.waitReload()
	for ev.err == nil {
		ev = g.waitReload()
	}
	want := "vs.yaml:6: VirtualService default/vs: spec.gateways[0]: Gateway default/gw not found"
	if !strings.Contains(ev.err.Error(), want) {
		t.Fatalf("reload error:\n%v\nwant a line containing %q", ev.err, want)
	}
	if code, body, _ := g.get(80, "a.example.com", "/"); code != 200 || body != "app" {
		t.Fatalf("after the rejected reload: %d %q, want the last good config serving", code, body)
	}
}
