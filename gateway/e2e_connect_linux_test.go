//go:build linux

package gateway

import (
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// unansweredPort returns a port on 127.0.0.1 whose listener never accepts
// and whose accept queue is full, so that a new connection's SYN is
// dropped and its handshake never completes (Linux drops SYNs to a full
// queue; 10.255.255.1 style black holes are not reliable everywhere).
func unansweredPort(t *testing.T) uint32 {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // room for one queued connection
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue, then check that the next connection hangs.
	filled := false
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			filled = true
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	if !filled {
		t.Skip("this kernel completes TCP handshakes to a listener with a full accept queue; cannot make an upstream that never answers")
	}
	return uint32(sa.(*syscall.SockaddrInet4).Port)
}

// connectionPool.tcp.connectTimeout bounds the upstream TCP handshake: a
// destination that never answers is 503 (connection failure) after about
// the connect timeout, not 504 at the route timeout nor after the 10s
// default connect timeout.
func TestE2EConnectTimeout(t *testing.T) {
	t.Parallel()
	const connect = 300 * time.Millisecond
	port := unansweredPort(t)
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("svc", "svc.internal", fmt.Sprint(port)),
		"dr.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc}\nspec:\n  host: svc.internal\n  trafficPolicy:\n    connectionPool: {tcp: {connectTimeout: %s}}\n", connect),
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - timeout: 8s\n    retries: {attempts: 0}\n    route: [{destination: {host: svc.internal}}]\n",
	})
	start := time.Now()
	code, body, _ := g.get(80, "", "/")
	took := time.Since(start)
	if code != 503 || body != proxy.BodyConnect {
		t.Errorf("got %d %q, want 503 %q", code, body, proxy.BodyConnect)
	}
	if took < connect || took > connect+2*time.Second {
		t.Errorf("answered after %v, want about the connect timeout %v (route timeout 8s)", took, connect)
	}
}
