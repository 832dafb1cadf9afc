package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// A real HAProxy in front, sending PROXY v2 as a cloud TCP load balancer
// does: the upstream sees the client's address, not HAProxy's. .ci/run
// installs haproxy; elsewhere the test skips.
func TestBehindHAProxy(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install haproxy; .ci/run installs it)")
	}
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1"`))
	front := closedPort(t)
	cfg := fmt.Sprintf(`global
  log stderr format raw local0 warning
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend lb
  bind 127.0.0.1:%d
  default_backend gatehouse
backend gatehouse
  server gh %s send-proxy-v2 source 127.0.0.1
`, front, g.srv.Addr(80))
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	os.WriteFile(file, []byte(cfg), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", file)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", front)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy did not start listening")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The client connects from 127.0.0.2; HAProxy (from 127.0.0.1) tells
	// gatehouse so in a PROXY v2 header.
	out, _ := rawExchange(t, addr, "127.0.0.2", []byte(get("app.example.com")))
	if got := bodyOf(t, out); got != "200 127.0.0.2" {
		t.Errorf("through HAProxy the upstream saw %q, want the client 127.0.0.2", got)
	}
}
