package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"golang.org/x/net/websocket"
)

// oneRoute is a config with one catch-all route to 127.0.0.1:port.
func oneRoute(port uint32, extra string) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": vsTo(port) + extra,
	}
}

// seen records what reached an upstream.
type seen struct {
	Host   string
	Path   string
	Header http.Header
}

func recorder(ch chan<- seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- seen{Host: r.Host, Path: r.URL.RequestURI(), Header: r.Header.Clone()}
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not reach the client")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-App", "kept")
		io.WriteString(w, "ok")
	})
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// The headers an Istio gateway adds, strips and keeps, seen from both ends.
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	g := startGW(t, oneRoute(startUpstream(t, recorder(ch)), ""))

	code, _, h := g.get(80, "app.example.com:8080", "/a/b?q=1",
		"X-Forwarded-For", "203.0.113.9",
		"X-Forwarded-Proto", "https",
		"Connection", "X-Secret",
		"X-Secret", "drop me",
		"X-Envoy-Original-Path", "/forged",
		"Proxy-Authorization", "Basic eA==",
		"X-Custom", "kept")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	up := <-ch
	if up.Host != "app.example.com:8080" || up.Path != "/a/b?q=1" {
		t.Errorf("upstream saw Host %q path %q", up.Host, up.Path)
	}
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Custom":          "kept",
	}
	for k, v := range want {
		if got := strings.Join(up.Header[k], "|"); got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"X-Secret", "X-Envoy-Original-Path", "Proxy-Authorization"} {
		if v, ok := up.Header[k]; ok {
			t.Errorf("upstream got %s: %q, want it stripped", k, v)
		}
	}
	if id := up.Header.Get("X-Request-Id"); !uuidRE.MatchString(id) {
		t.Errorf("X-Request-Id = %q, want a generated UUID", id)
	}
	if h.Get("X-App") != "kept" || h.Get("X-Hop") != "" || h.Get("Keep-Alive") != "" {
		t.Errorf("client got X-App %q X-Hop %q Keep-Alive %q", h.Get("X-App"), h.Get("X-Hop"), h.Get("Keep-Alive"))
	}
	if h.Get("X-Envoy-Upstream-Service-Time") == "" {
		t.Error("no x-envoy-upstream-service-time on the response")
	}

	g.get(80, "", "/", "X-Request-Id", "client-chosen")
	if got := (<-ch).Header.Get("X-Request-Id"); got != "client-chosen" {
		t.Errorf("X-Request-Id = %q, want the client's", got)
	}
}

// Failures of the upstream become Envoy's local replies, fast (refused
// and reset connections: TestUP01UnreachableUpstreams and
// TestUP02UpstreamFailsMidResponse).
func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	garbage := rawUpstream(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "NOT HTTP\r\n\r\n")
		c.Close()
	})
	huge := rawUpstream(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
		c.Close()
	})
	tests := []struct {
		name string
		port uint32
		code int
		body string
	}{
		{"garbage", garbage, 502, proxy.BodyProtocol},
		{"huge headers", huge, 502, proxy.BodyProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGW(t, oneRoute(tc.port, ""))
			start := time.Now()
			code, body, _ := g.get(80, "", "/")
			if code != tc.code || body != tc.body {
				t.Errorf("got %d %q, want %d %q", code, body, tc.code, tc.body)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// closedPort returns a port nothing listens on.
func closedPort(t *testing.T) uint32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := portOf(t, ln.Addr())
	ln.Close()
	return p
}

// rawUpstream serves each connection with handle.
func rawUpstream(t *testing.T, handle func(net.Conn)) uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return portOf(t, ln.Addr())
}

// A slow upstream behind one route does not hold up another route.
func TestSlowUpstreamBlocksNoOne(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	fast := startUpstream(t, named("fast"))
	cfg := oneRoute(fast, "")
	cfg["slow.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, slow)
	g := startGW(t, cfg)
	defer close(release)
	for range 20 {
		req, _ := http.NewRequest("GET", g.url(80), nil)
		req.Host = "slow.example.com"
		go func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	for range 50 {
		start := time.Now()
		if code, body, _ := g.get(80, "fast.example.com", "/"); code != 200 || body != "fast" {
			t.Fatalf("fast route = %d %q", code, body)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Fatalf("fast route took %v while the slow one hangs", took)
		}
	}
}

// Bodies stream both ways: the upstream reads the request while the client
// is still sending it, and the client reads each event as it is flushed.
func TestStreamingBothWays(t *testing.T) {
	t.Parallel()
	got := make(chan string)
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			br := bufio.NewReader(r.Body)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					close(got)
					return
				}
				got <- line
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			<-got
		}
	}))
	g := startGW(t, oneRoute(port, ""))

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", g.url(80)+"/upload", pr)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for i := range 3 {
		fmt.Fprintf(pw, "line %d\n", i)
		select {
		case line := <-got:
			if line != fmt.Sprintf("line %d\n", i) {
				t.Fatalf("upstream read %q", line)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("line %d did not reach the upstream while the body was still open", i)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	got = make(chan string)
	resp, err := http.Get(g.url(80) + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d = %q, %v", i, line, err)
		}
		br.ReadString('\n')
		got <- "next"
	}
}

// A WebSocket echo works through a route whose timeout is shorter than the
// conversation: the route timeout does not cut an upgraded stream.
func TestWebSocketThroughShortTimeout(t *testing.T) {
	t.Parallel()
	port := startUpstream(t, websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) }))
	g := startGW(t, oneRoute(port, "    timeout: 200ms\n"))
	ws, err := websocket.Dial("ws://"+g.srv.Addr(80).String()+"/echo", "", "http://chat.example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i := range 3 {
		time.Sleep(150 * time.Millisecond) // 450 ms in all, well past the route timeout
		msg := fmt.Sprintf("ping %d", i)
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Fatalf("echo %d = %q, %v", i, got, err)
		}
	}
}

// A 101 the client did not ask for is a protocol error, never a tunnel.
func TestUnrequestedSwitchingProtocols(t *testing.T) {
	t.Parallel()
	port := rawUpstream(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		c.Close()
	})
	g := startGW(t, oneRoute(port, ""))
	if code, body, _ := g.get(80, "", "/"); code != 502 || body != proxy.BodyProtocol {
		t.Errorf("got %d %q, want 502", code, body)
	}
}

// The upstream sees the request through the httpbin echo too: Host and
// method preserved, body intact.
func TestHTTPBinEcho(t *testing.T) {
	t.Parallel()
	g := startGW(t, oneRoute(httpbinPort(t), ""))
	req, _ := http.NewRequest("PUT", g.url(80)+"/anything/x?y=1", strings.NewReader(`{"k":"v"}`))
	req.Host = "echo.example.com"
	req.Header.Set("Content-Type", "application/json")
	code, body, _ := do(t, req)
	var echo struct {
		Method string              `json:"method"`
		URL    string              `json:"url"`
		Data   string              `json:"data"`
		Header map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &echo); err != nil || code != 200 {
		t.Fatalf("%d %q: %v", code, body, err)
	}
	if echo.Method != "PUT" || echo.Data != `{"k":"v"}` || !strings.Contains(echo.URL, "echo.example.com/anything/x?y=1") {
		t.Errorf("upstream saw %+v", echo)
	}
}

// An upstream that closes idle keep-alive connections sooner than
// gatehouse would (Node's 5 s default, nginx's keepalive_timeout) never
// turns into a 503: stale pooled connections are noticed before reuse, and
// a request that still hits one is sent again on a new connection.
func TestUpstreamClosesIdleConnections(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(named("up"))
	ts.Config.IdleTimeout = 150 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	g := startGW(t, oneRoute(portOf(t, ts.Listener.Addr()), ""))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 50}}
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan string, 50)
		for range 50 {
			wg.Go(func() {
				resp, err := client.Get(g.url(80) + "/")
				if err != nil {
					errs <- err.Error()
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- resp.Status
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("round %d: %s", round, e)
		}
		time.Sleep(300 * time.Millisecond) // the upstream closes every pooled connection
	}
}
