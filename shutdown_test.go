package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"
)

// TestMain runs the tests, or, started again by a test with
// GATEHOUSE_TEST_ARGS set, the command itself with those arguments (one
// per line): a gatehouse process to send signals to.
func TestMain(m *testing.M) {
	if args := os.Getenv("GATEHOUSE_TEST_ARGS"); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a gatehouse process started by a test.
type child struct {
	cmd  *exec.Cmd
	wait func() error // cmd.Wait, once
}

// gatehouseProcess starts gatehouse with args in a child process and
// returns it with its combined output.
func gatehouseProcess(t *testing.T, args ...string) (*child, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_TEST_ARGS="+strings.Join(args, "\n"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, wait: sync.OnceValue(cmd.Wait)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		c.wait()
		if t.Failed() {
			t.Logf("gatehouse output:\n%s", out.String())
		}
	})
	return c, out
}

// signal sends sig to the child.
func (c *child) signal(sig os.Signal) { c.cmd.Process.Signal(sig) }

// shutdownConfig writes a Gateway with an HTTP port (HTTP/1.1 and h2c)
// routing /slow to a slow upstream, /ws to a WebSocket echo and the rest
// to a plain one, and a TCP port forwarding to an echo server.
func shutdownConfig(t *testing.T, httpPort, tcpPort string) string {
	serve := func(h http.Handler) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().(*net.TCPAddr).Port
	}
	slow := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(w, "slow done")
	}))
	ws := serve(websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }))
	plain := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") }))
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echoLn.Close() })
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: %s, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["*"]
  - port: {number: %s, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /slow}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /ws}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  tcp:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, httpPort, tcpPort, slow, ws, plain, echoLn.Addr().(*net.TCPAddr).Port)
	os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(cfg), 0o644)
	return dir
}

// portOfAddr is the port of "host:port".
func portOfAddr(a string) string {
	_, p, _ := net.SplitHostPort(a)
	return p
}

// readyStatus is the status of the admin's /healthz/ready, 0 when it
// cannot be reached.
func readyStatus(admin string) int {
	c := http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + admin + "/healthz/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitUntil polls cond every 10 ms until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// rawWebSocket opens a WebSocket through addr by hand, so that the frames
// the gateway sends can be read byte for byte.
func rawWebSocket(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://app.example.com\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("WebSocket handshake: %v %v", resp, err)
	}
	return c, br
}

// security.md UP-09: SIGTERM with a request in flight, an idle HTTP/1.1
// keep-alive connection, an HTTP/2 connection, a WebSocket tunnel and a
// raw TCP tunnel open. Readiness fails at once; for the drain delay new
// clients are still served, told to close; the idle keep-alive closes and
// HTTP/2 gets GOAWAY; the request in flight completes; the tunnels are
// closed at the drain timeout, the WebSocket one with a close frame 1001
// (going away); the process exits 0 soon after.
func TestUP09GracefulShutdown(t *testing.T) {
	t.Parallel()
	httpAddr, tcpAddr, admin := closedAddr(t), closedAddr(t), closedAddr(t)
	dir := shutdownConfig(t, portOfAddr(httpAddr), portOfAddr(tcpAddr))
	const delay, timeout = 500 * time.Millisecond, 2 * time.Second
	cmd, _ := gatehouseProcess(t, "run", "--config", dir, "--admin", admin, "--drain-delay", delay.String(), "--drain-timeout", timeout.String())
	if !waitUntil(10*time.Second, func() bool { return readyStatus(admin) == 200 }) {
		t.Fatal("gatehouse never became ready")
	}
	idle, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	idleR := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	h2conn, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer h2conn.Close()
	io.WriteString(h2conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	fr := http2.NewFramer(h2conn, h2conn)
	fr.WriteSettings()
	goaway := make(chan http2.ErrCode, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if g, ok := f.(*http2.GoAwayFrame); ok {
				goaway <- g.ErrCode
				return
			}
		}
	}()
	ws, wsR := rawWebSocket(t, httpAddr)
	tunnel, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tunnel.Close()
	io.WriteString(tunnel, "ping")
	if b := make([]byte, 4); mustRead(t, tunnel, b) != "ping" {
		t.Fatal("the TCP tunnel does not echo")
	}
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + httpAddr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	time.Sleep(200 * time.Millisecond) // the slow request is in flight

	start := time.Now()
	cmd.signal(syscall.SIGTERM)
	if !waitUntil(300*time.Millisecond, func() bool { return readyStatus(admin) == http.StatusServiceUnavailable }) {
		t.Error("readiness did not fail at once")
	}
	if resp, err := http.Get("http://" + httpAddr + "/"); err != nil || resp.StatusCode != 200 || !resp.Close {
		t.Errorf("a new client during the drain delay: %v %v; want 200 with Connection: close", resp, err)
	} else {
		resp.Body.Close()
	}
	idle.SetReadDeadline(time.Now().Add(delay + time.Second))
	if _, err := idleR.ReadByte(); err != io.EOF {
		t.Errorf("the idle keep-alive connection: %v, want it closed", err)
	}
	select {
	case code := <-goaway:
		if code != http2.ErrCodeNo {
			t.Errorf("HTTP/2 GOAWAY code %v, want NO_ERROR", code)
		}
	case <-time.After(delay + time.Second):
		t.Error("the HTTP/2 connection got no GOAWAY")
	}
	if got := <-slow; got != "slow done" {
		t.Errorf("the request in flight: %q", got)
	}
	ws.SetReadDeadline(time.Now().Add(delay + timeout + 2*time.Second))
	frame := make([]byte, 4)
	if _, err := io.ReadFull(wsR, frame); err != nil || string(frame) != string([]byte{0x88, 0x02, 0x03, 0xe9}) {
		t.Errorf("the WebSocket got % x, %v; want a close frame with 1001", frame, err)
	}
	tunnel.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := tunnel.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the TCP tunnel is still open after the drain timeout")
	}
	if took := time.Since(start); took < delay+timeout-300*time.Millisecond {
		t.Errorf("the tunnels closed %v after SIGTERM, before the drain timeout", took)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("gatehouse exited with %v, want 0", err)
		}
	case <-time.After(delay + timeout + 3*time.Second - time.Since(start)):
		t.Error("gatehouse did not exit within the drain delay and timeout")
	}
}

// A second SIGTERM during the drain exits at once.
func TestUP09SecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	httpAddr, tcpAddr := closedAddr(t), closedAddr(t)
	dir := shutdownConfig(t, portOfAddr(httpAddr), portOfAddr(tcpAddr))
	cmd, out := gatehouseProcess(t, "run", "--config", dir, "--admin", "", "--drain-delay", "10s")
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(out.String(), "gatehouse serving") }) {
		t.Fatal("gatehouse never served")
	}
	cmd.signal(syscall.SIGTERM)
	if !waitUntil(5*time.Second, func() bool { return strings.Contains(out.String(), "drain delay") }) {
		t.Fatal("no drain after the first SIGTERM")
	}
	start := time.Now()
	cmd.signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.wait() }()
	select {
	case <-done:
		if took := time.Since(start); took > time.Second {
			t.Errorf("exited %v after the second signal", took)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a second SIGTERM did not end gatehouse")
	}
}

func mustRead(t *testing.T, c net.Conn, b []byte) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}
