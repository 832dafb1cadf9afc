package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mccutchen/go-httpbin/v2/httpbin"
)

// gw is a gateway running in-process for a test, listening on 127.0.0.1
// with every Gateway port mapped to a free port.
type gw struct {
	t       testing.TB
	dir     string
	srv     *Server
	logs    *syncBuffer
	reloads chan reloadEvent
	cancel  context.CancelFunc
	done    chan error
}

type reloadEvent struct {
	gen uint64
	err error
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startGW writes files into a fresh directory and runs a gateway on it.
func startGW(t testing.TB, files map[string]string, opts ...func(*Options)) *gw {
	t.Helper()
	g := &gw{t: t, dir: t.TempDir(), logs: &syncBuffer{}, reloads: make(chan reloadEvent, 64), done: make(chan error, 1)}
	for name, data := range files {
		g.write(name, data)
	}
	o := Options{
		ConfigPaths:  []string{g.dir},
		ListenAddr:   func(string, uint32) string { return "127.0.0.1:0" },
		Logger:       slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Settle:       30 * time.Millisecond,
		DrainTimeout: 5 * time.Second,
		DrainDelay:   new(time.Duration), // no delay unless a test asks for one
		OnReload:     func(gen uint64, err error) { g.reloads <- reloadEvent{gen, err} },
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.done <- srv.Run(ctx) }()
	select {
	case <-srv.Serving():
	case err := <-g.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", g.logs.String())
		}
	})
	return g
}

func (g *gw) stop() {
	g.cancel()
	if err := <-g.done; err != nil {
		g.t.Errorf("Run returned %v", err)
	}
	g.done <- nil
}

func (g *gw) write(name, data string) {
	g.t.Helper()
	p := filepath.Join(g.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// waitReload waits for the next reload attempt and returns it.
func (g *gw) waitReload() reloadEvent {
	g.t.Helper()
	select {
	case ev := <-g.reloads:
		return ev
	case <-time.After(5 * time.Second):
		g.t.Fatal("no reload within 5s")
		return reloadEvent{}
	}
}

// waitGen waits until a reload reaches generation gen.
func (g *gw) waitGen(gen uint64) {
	g.t.Helper()
	for {
		if ev := g.waitReload(); ev.gen >= gen {
			return
		}
	}
}

// url returns the base URL of a Gateway port.
func (g *gw) url(port uint32) string {
	g.t.Helper()
	a := g.srv.Addr(port)
	if a == nil {
		g.t.Fatalf("no listener for port %d", port)
	}
	return "http://" + a.String()
}

// get sends a request with an optional Host and returns status and body.
func (g *gw) get(port uint32, host, path string, hdr ...string) (int, string, http.Header) {
	g.t.Helper()
	req, err := http.NewRequest("GET", g.url(port)+path, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return do(g.t, req)
}

func do(t testing.TB, req *http.Request) (int, string, http.Header) {
	t.Helper()
	return doWith(t, http.DefaultClient, req)
}

// doWith sends req with client c and returns status, body and headers.
func doWith(t testing.TB, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// startUpstream starts an HTTP upstream and returns its port.
func startUpstream(t testing.TB, h http.Handler) uint32 {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return portOf(t, ts.Listener.Addr())
}

func portOf(t testing.TB, a net.Addr) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return uint32(n)
}

// httpbinPort starts go-httpbin as an upstream.
func httpbinPort(t *testing.T) uint32 {
	return startUpstream(t, httpbin.New().Handler())
}

// named answers every request with its name, for telling endpoints apart.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		fmt.Fprint(w, name)
	})
}

// serviceEntry declares host on port 8000 with endpoints on 127.0.0.1.
// Each endpoint is "port" or "port:label=value,label=value".
func serviceEntry(name, host string, endpoints ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: %s}\nspec:\n  hosts: [%s]\n  ports: [{number: 8000, name: http, protocol: HTTP}]\n  resolution: STATIC\n  endpoints:\n", name, host)
	for _, e := range endpoints {
		port, labels, _ := strings.Cut(e, ":")
		fmt.Fprintf(&b, "  - address: 127.0.0.1\n    ports: {http: %s}\n", port)
		if labels != "" {
			b.WriteString("    labels: {")
			for i, kv := range strings.Split(labels, ",") {
				k, v, _ := strings.Cut(kv, "=")
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s: %s", k, v)
			}
			b.WriteString("}\n")
		}
	}
	return b.String()
}

// catchAllVS is VirtualService vs on Gateway gw with one route sending
// every request to dest: a host, or "host, port: {number: N}".
func catchAllVS(dest string) string {
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: ` + dest + "}}]\n"
}

// vsTo is catchAllVS to 127.0.0.1:port.
func vsTo(port uint32) string {
	return catchAllVS(fmt.Sprintf("127.0.0.1, port: {number: %d}", port))
}

const httpGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`

// dial opens a TCP connection to a Gateway port, closed when the test ends.
func (g *gw) dial(port uint32) net.Conn {
	g.t.Helper()
	c, err := net.Dial("tcp", g.srv.Addr(port).String())
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}
