package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// countDials counts the upstream connection attempts per address.
type countDials struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *countDials) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.n[addr]++
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *countDials) get(addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[addr]
}

// withJSONLog adds a mesh config logging every request as JSON to file.
func withJSONLog(cfg map[string]string, file string) map[string]string {
	cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + file + ", accessLogEncoding: JSON}\n"
	return cfg
}

// security.md UP-01: connection refused, unresolvable, no endpoints. A
// route to a closed port, to nx.invalid, and to a subset that selects no
// endpoint each answer 503 within a second (Envoy's body, not net/http's
// bare 502), with the cause in the response flags (UF for a failed
// connection, UH for no endpoint) and details, and Istio's default retries
// as the only other attempts: at most 3 dials, none without an endpoint.
// A STATIC ServiceEntry with an empty endpoint list is
// TestUP01EmptyStaticEndpoints.
func TestUP01UnreachableUpstreams(t *testing.T) {
	t.Parallel()
	closed := fmt.Sprint(closedPort(t))
	file := filepath.Join(t.TempDir(), "access.log")
	cfg := withJSONLog(routes(`
  - match: [{uri: {prefix: /refused}}]
    route: [{destination: {host: 127.0.0.1, port: {number: `+closed+`}}}]
  - match: [{uri: {prefix: /nx}}]
    route: [{destination: {host: nx.invalid, port: {number: 80}}}]
  - match: [{uri: {prefix: /none}}]
    route: [{destination: {host: pool.internal, subset: v2}}]
`), file)
	cfg["se.yaml"] = serviceEntry("pool", "pool.internal", fmt.Sprint(closedPort(t))+":version=v1")
	cfg["dr.yaml"] = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: pool}\nspec:\n  host: pool.internal\n  subsets:\n  - {name: v2, labels: {version: v2}}\n"
	dials := &countDials{n: map[string]int{}}
	g := startGW(t, cfg, func(o *Options) { o.Dial = dials.dial })
	tests := []struct {
		path, body, flags, details, addr string
		maxDials                         int
	}{
		{"/refused", proxy.BodyConnect, "UF,URX", "upstream_reset_before_response_started{connection_failure}", "127.0.0.1:" + closed, 3},
		{"/nx", proxy.BodyConnect, "UF,URX", "upstream_reset_before_response_started{connection_failure}", "nx.invalid:80", 3},
		{"/none", proxy.BodyNoHealthy, "UH", "no_healthy_upstream", "", 0},
	}
	for _, tc := range tests {
		start := time.Now()
		code, body, _ := g.get(80, "", tc.path)
		if took := time.Since(start); code != 503 || body != tc.body || took > time.Second {
			t.Errorf("%s: %d %q after %v, want 503 %q within 1s", tc.path, code, body, took, tc.body)
		}
		if tc.addr == "" {
			dials.mu.Lock()
			if len(dials.n) != 2 {
				t.Errorf("%s: connection attempts %v, want none beyond the two routes before", tc.path, dials.n)
			}
			dials.mu.Unlock()
		} else if n := dials.get(tc.addr); n > tc.maxDials || n == 0 {
			t.Errorf("%s: %d connection attempts to %s, want 1 to %d", tc.path, n, tc.addr, tc.maxDials)
		}
	}
	for i, line := range readLog(t, g, file) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || i >= len(tests) {
			t.Fatalf("log line %d: %v\n%s", i, err, line)
		}
		if tc := tests[i]; m["path"] != tc.path || m["response_flags"] != tc.flags || m["response_code_details"] != tc.details {
			t.Errorf("%s logged flags %v details %v, want %s %s", tc.path, m["response_flags"], m["response_code_details"], tc.flags, tc.details)
		}
	}
}

// security.md UP-02: reset before headers; truncated body. An upstream
// that resets after reading the request gives 503. One that promises
// 1 000 bytes and sends 10, and a chunked body without its last chunk,
// reach an HTTP/1.1 client as a connection the gateway closes without
// completing the response (io.ErrUnexpectedEOF once the head was sent;
// never a complete-looking keep-alive response), and an HTTP/2 client as
// a reset of that stream only: the next request on the same connection
// is served. No panic escapes: the gateway keeps serving.
func TestUP02UpstreamFailsMidResponse(t *testing.T) {
	t.Parallel()
	// Each scripted upstream answers, then waits for hold (if any) to be
	// closed before it closes, or resets, the connection.
	scripted := func(answer string, reset bool, hold <-chan struct{}) uint32 {
		return rawUpstream(t, func(c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				c.Close()
				return
			}
			io.WriteString(c, answer)
			if hold != nil {
				select {
				case <-hold:
				case <-time.After(5 * time.Second):
				}
			}
			if reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		})
	}
	short, chunked := "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
	hold := make(chan struct{}, 1)
	g := startGW(t, routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /reset}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /chunked/held}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /short}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /chunked}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, scripted("", true, nil), scripted(chunked, false, hold),
		scripted(short, false, nil), scripted(chunked, false, nil), startUpstream(t, named("healthy")))))
	addr := g.srv.Addr(80).String()

	if code, body, _ := g.get(80, "", "/reset"); code != 503 || body != proxy.BodyReset {
		t.Errorf("reset before headers: %d %q, want 503 %q", code, body, proxy.BodyReset)
	}
	// A chunked body is flushed as it comes: the client has the head and
	// the first chunk when the upstream closes, then the body breaks off.
	resp, err := http.Get("http://" + addr + "/chunked/held")
	if err != nil {
		t.Fatalf("/chunked/held: %v", err)
	}
	hold <- struct{}{}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("chunked body cut off: %d, read %q then %v; want hello then io.ErrUnexpectedEOF", resp.StatusCode, b, err)
	}
	// A Content-Length body still in the gateway's write buffer when the
	// upstream breaks off is never sent: the client sees the connection
	// end, before the head or within the body, never a whole response.
	for _, path := range []string{"/short", "/chunked"} {
		resp, err := http.Get("http://" + addr + path)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: %d %q then %v, want the body cut off", path, resp.StatusCode, b, err)
			}
		} else if !errors.Is(err, io.EOF) {
			t.Errorf("%s: %v, want the connection closed", path, err)
		}
	}
	// The upstream closes at once: whatever comes is never complete, and
	// the connection is closed although keep-alive was asked for.
	for _, path := range []string{"/short", "/chunked"} {
		out, _ := rawExchange(t, addr, "", []byte("GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n"))
		if strings.Contains(out, "0\r\n\r\n") || (strings.Contains(out, "Content-Length: 1000") && len(out)-strings.Index(out, "\r\n\r\n")-4 >= 1000) {
			t.Errorf("%s: a complete-looking response: %q", path, out)
		}
	}

	h2 := h2cClient(t, addr)
	for _, path := range []string{"/short", "/chunked"} {
		resp, err := h2.Get("http://" + addr + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "stream error") {
			t.Errorf("%s over HTTP/2: %v, want the stream reset", path, err)
		}
		reused := false
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}))
		if resp, err := h2.Do(req); err != nil || resp.ProtoMajor != 2 || !reused {
			t.Errorf("after %s, a request on the same HTTP/2 connection (reused %v): %v", path, reused, err)
		} else {
			resp.Body.Close()
		}
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "healthy" {
		t.Errorf("afterwards: %d %q", code, body)
	}
}

// security.md UP-01 (empty endpoint list): a STATIC ServiceEntry whose
// endpoint list is empty has no endpoint: 503 with UH at once, nothing
// dialled. (Without `endpoints`, a STATIC entry's own host names are not
// taken for endpoints either.)
func TestUP01EmptyStaticEndpoints(t *testing.T) {
	t.Parallel()
	cfg := routes("  - route: [{destination: {host: empty.internal, port: {number: 80}}}]\n")
	cfg["se.yaml"] = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: empty}\nspec:\n  hosts: [empty.internal]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  endpoints: []\n"
	dials := &countDials{n: map[string]int{}}
	g := startGW(t, cfg, func(o *Options) { o.Dial = dials.dial })
	if code, body, _ := g.get(80, "", "/"); code != 503 || body != proxy.BodyNoHealthy {
		t.Errorf("got %d %q, want 503 %q", code, body, proxy.BodyNoHealthy)
	}
	if n := dials.get("empty.internal:80"); n != 0 {
		t.Errorf("dialled empty.internal:80 %d times, want never", n)
	}
}
