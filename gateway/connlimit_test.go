package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// gatehouse.io/max-connections caps the connections one listener holds:
// beyond it a new connection is closed at once (and counted), while
// another listener is unaffected; a slot freed is usable again.
func TestMaxConnectionsPerListener(t *testing.T) {
	t.Parallel()
	gw := strings.Replace(httpGateway, "metadata: {name: gw}", "metadata: {name: gw, annotations: {gatehouse.io/max-connections: \"3\"}}", 1) +
		"---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: other}\nspec:\n  servers:\n  - port: {number: 81, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n"
	vs := strings.Replace(vsTo(startUpstream(t, named("up"))), "gateways: [gw]", "gateways: [gw, other]", 1)
	g := startGW(t, map[string]string{"gw.yaml": gw, "vs.yaml": vs})
	held := make([]net.Conn, 3)
	for i := range held {
		held[i] = g.dial(80)
		if out := rawRoundTrip(t, held[i], "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.1 200") { // kept alive
			t.Fatalf("connection %d: %q", i, out)
		}
	}
	extra := g.dial(80)
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("the fourth connection: read %d, %v; want it closed at once", n, err)
	}
	if out := rawRoundTrip(t, g.dial(81), get("a")); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Errorf("the other listener: %q", out)
	}
	held[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c := g.dial(80)
		if out := rawRoundTrip(t, c, get("a")); strings.HasPrefix(out, "HTTP/1.1 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a freed slot was never usable again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := value(t, scrape(t, g, "/metrics"), "gatehouse_downstream_connections_refused_total", "reason=max_connections"); n < 1 {
		t.Errorf("refused connections counted %v", n)
	}
}

// rawRoundTrip writes a request on c and reads one response head with a
// deadline.
func rawRoundTrip(t *testing.T, c net.Conn, req string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		return err.Error()
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if n == 0 {
		return err.Error()
	}
	return string(buf[:n])
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
