package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// idleGateway serves the VirtualService (and other resources) vs, with a
// 300 ms stream idle timeout and no route timeout, logging to logFile.
func idleGateway(vs, logFile string) map[string]string {
	gw := strings.Replace(httpGateway, "metadata: {name: gw}", "metadata: {name: gw, annotations: {gatehouse.io/stream-idle-timeout: 300ms}}", 1)
	cfg := map[string]string{"gw.yaml": gw, "vs.yaml": vs}
	cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + logFile + "}\n"
	return cfg
}

// silentH1 accepts, reads the request head, and never answers.
func silentH1(t *testing.T) uint32 {
	return rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.Copy(io.Discard, c)
	})
}

// With no route timeout, an upstream that accepts and never answers no
// longer holds the request forever: the stream idle timeout (Envoy's
// stream_idle_timeout; 300 ms here by the Gateway annotation) answers 504
// with UT, on gatehouse's HTTP/1.1 client, net/http's, and to an HTTP/2
// upstream.
func TestStreamIdleTimeoutBeforeResponse(t *testing.T) {
	t.Parallel()
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	h2.Config.Protocols = new(http.Protocols)
	h2.Config.Protocols.SetUnencryptedHTTP2(true)
	h2.Start()
	t.Cleanup(h2.Close)
	se := fmt.Sprintf("---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: h2}\nspec:\n  hosts: [h2.internal]\n  ports: [{number: 8000, name: h2, protocol: HTTP2}]\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    ports: {h2: %d}\n", portOf(t, h2.Listener.Addr()))
	for _, tc := range []struct {
		name, vs string
		std      bool
	}{
		{"gatehouse client", vsTo(silentH1(t)), false},
		{"net/http client", vsTo(silentH1(t)), true},
		{"HTTP/2 upstream", catchAllVS("h2.internal") + se, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logFile := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, idleGateway(tc.vs, logFile), func(o *Options) { o.StdUpstream = tc.std })
			start := time.Now()
			code, body, _ := g.get(80, "", "/")
			took := time.Since(start)
			if code != http.StatusGatewayTimeout || body != proxy.BodyTimeout {
				t.Fatalf("%d %q after %v, want 504 %q", code, body, took, proxy.BodyTimeout)
			}
			if took < 250*time.Millisecond || took > 3*time.Second {
				t.Errorf("answered after %v, want about 300ms", took)
			}
			if log := strings.Join(readLog(t, g, logFile), "\n"); !strings.Contains(log, " 504 UT stream_idle_timeout ") {
				t.Errorf("access log: %s", log)
			}
		})
	}
}

// An upstream that sends its head and then stops sending its body has the
// client's response aborted at the stream idle timeout (never a clean
// end), logged UT; an upload that keeps moving keeps the stream alive
// past the timeout.
func TestStreamIdleTimeoutMidStream(t *testing.T) {
	t.Parallel()
	stall := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst ten.")
		io.Copy(io.Discard, c)
	})
	logFile := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, idleGateway(vsTo(stall), logFile))
	start := time.Now()
	if b, err := getBroken(g.url(80) + "/"); err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("read %q, %v after %v; want a broken response", b, err, time.Since(start))
	}
	if log := strings.Join(readLog(t, g, logFile), "\n"); !strings.Contains(log, " 200 UT stream_idle_timeout ") {
		t.Errorf("access log: %s", log)
	}
}

// An upload that keeps moving keeps the stream alive: a body sent in
// pieces over a second, each within the 300 ms idle timeout, is answered.
func TestStreamIdleTimeoutUploadKeepsAlive(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	g := startGW(t, idleGateway(vsTo(up), filepath.Join(t.TempDir(), "access.log")))
	pr, pw := io.Pipe()
	go func() {
		for range 10 {
			pw.Write([]byte("0123456789"))
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	resp, err := http.Post(g.url(80)+"/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "100" {
		t.Fatalf("%d %q, want 200 100", resp.StatusCode, b)
	}
}

// Failures after the response started abort the client's response and
// are logged and counted with Envoy's flags, never as a clean 200
// via_upstream: a reset mid-body (UR), a body shorter than its
// Content-Length (UR), an invalid chunk (UPE).
func TestMidStreamUpstreamFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, response string
		flags          string
	}{
		{"closed mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b", "UR upstream_reset_after_response_started{connection_termination}"},
		{"invalid chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbad\r\n0\r\n\r\n", "UPE upstream_reset_after_response_started{protocol_error}"},
		{"chunked body cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "UR upstream_reset_after_response_started{connection_termination}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := rawUpstream(t, func(c net.Conn) {
				bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, tc.response)
				c.Close()
			})
			logFile := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, idleGateway(vsTo(up), logFile))
			if b, err := getBroken(g.url(80) + "/"); err == nil {
				t.Fatalf("the client read a complete response %q from a broken one", b)
			}
			if log := strings.Join(readLog(t, g, logFile), "\n"); !strings.Contains(log, " 200 "+tc.flags+" ") {
				t.Errorf("access log: %s", log)
			}
			flags, _, _ := strings.Cut(tc.flags, " ")
			if n := value(t, scrape(t, g, "/metrics"), "istio_requests_total", "response_code=200", "response_flags="+flags); n != 1 {
				t.Errorf("istio_requests_total{response_flags=%s} = %v, want 1", flags, n)
			}
		})
	}
}

// getBroken GETs url and returns the body and the error that ended it: a
// response aborted before its head was flushed fails in Get, one aborted
// after it fails reading the body.
func getBroken(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
