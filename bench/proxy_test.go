package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway"
)

// gatewayPort is the Gateway server port of the generated config; the
// in-process gateway maps it to a free loopback port.
const gatewayPort = 8080

// helloUpstream starts the benchmark upstream: "hello" to every request,
// as the nginx upstream of peers.sh does.
func helloUpstream(tb testing.TB) *httptest.Server {
	tb.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	}))
	tb.Cleanup(ts.Close)
	return ts
}

// startGateway runs a gateway in-process on the realistic config in front
// of upstream and returns its base URL.
// Logs go to h (slog.DiscardHandler in benchmarks).
// extra files (name to YAML) are added to the configuration.
func startGateway(tb testing.TB, upstream string, stdUpstream bool, h slog.Handler, extra ...map[string]string) string {
	tb.Helper()
	files, err := RealisticConfig(gatewayPort, RealisticHosts, RoutesPerHost, upstream)
	if err != nil {
		tb.Fatal(err)
	}
	for _, m := range extra {
		for name, data := range m {
			files[name] = data
		}
	}
	dir := tb.TempDir()
	if err := WriteFiles(dir, files); err != nil {
		tb.Fatal(err)
	}
	srv, err := gateway.New(gateway.Options{
		ConfigPaths: []string{dir},
		ListenAddr:  func(string, uint32) string { return "127.0.0.1:0" },
		Logger:      slog.New(h),
		StdUpstream: stdUpstream,
	})
	if err != nil {
		tb.Fatalf("gateway.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Serving():
	case err := <-done:
		cancel()
		tb.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("gateway not serving after 10s")
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
	a := srv.Addr(gatewayPort)
	if a == nil {
		tb.Fatalf("no listener for port %d", gatewayPort)
	}
	return "http://" + a.String()
}

// startNaive runs the naive httputil.ReverseProxy baseline in-process.
func startNaive(tb testing.TB, upstream string) string {
	tb.Helper()
	u, err := url.Parse("http://" + upstream)
	if err != nil {
		tb.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	ts := httptest.NewServer(rp)
	tb.Cleanup(ts.Close)
	return ts.URL
}

// client is a keep-alive client with room for every benchmark goroutine's
// connection.
func client(tb testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get sends one request, with headers as name-value pairs, and checks the
// answer is 200 "hello".
func get(c *http.Client, base string, header ...string) error {
	req, err := http.NewRequest("GET", base+MeasuredPath, nil)
	if err != nil {
		return err
	}
	req.Host = MeasuredHost
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		return fmt.Errorf("got %d %q, want 200 \"hello\"", resp.StatusCode, body)
	}
	return nil
}

// TestRealisticConfig checks that the generated config loads without a
// warning, and that the measured request goes through both upstream
// engines to the upstream while an unrouted path answers 404.
func TestRealisticConfig(t *testing.T) {
	up := helloUpstream(t)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	for _, std := range []bool{false, true} {
		t.Run("std="+strconv.FormatBool(std), func(t *testing.T) {
			var logs bytes.Buffer
			base := startGateway(t, upAddr, std, slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
			c := client(t)
			for range 3 {
				if err := get(c, base); err != nil {
					t.Fatal(err)
				}
			}
			req, _ := http.NewRequest("GET", base+"/nothing", nil)
			req.Host = HostName(3)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("unrouted path: %d, want 404", resp.StatusCode)
			}
			if logs.Len() > 0 {
				t.Errorf("the gateway logged warnings:\n%s", logs.String())
			}
		})
	}
}

// BenchmarkProxy sends keep-alive GETs through an in-process gateway (the
// realistic config, last route of the last host) to an httptest upstream,
// with each upstream engine, next to the request sent direct and through a
// naive httputil.ReverseProxy. Client, proxy and upstream share the
// process and its cores, so compare the sub-benchmarks with each other,
// not with peers.sh.
func BenchmarkProxy(b *testing.B) {
	up := helloUpstream(b)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	targets := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{"direct", func(*testing.B) string { return up.URL }},
		{"engine=gatehouse", func(b *testing.B) string { return startGateway(b, upAddr, false, slog.DiscardHandler) }},
		{"engine=net-http", func(b *testing.B) string { return startGateway(b, upAddr, true, slog.DiscardHandler) }},
		{"naive-httputil", func(b *testing.B) string { return startNaive(b, upAddr) }},
	}
	for _, tc := range targets {
		b.Run(tc.name, func(b *testing.B) {
			base := tc.start(b)
			c := client(b)
			if err := get(c, base); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8) // 8 × GOMAXPROCS concurrent keep-alive connections
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(c, base); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
