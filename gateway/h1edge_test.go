package gateway

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawSend writes data on a new connection to addr and returns everything
// the gateway sent back until it closed the connection (or 3 s passed),
// and whether it closed.
func rawSend(t *testing.T, addr, data string) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, data)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err == nil
}

// countingUpstream answers 200 "ok" and counts requests.
func countingUpstream(t *testing.T) (uint32, *atomic.Int32) {
	var n atomic.Int32
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	return port, &n
}

// security.md HTTP-01: a request with both Content-Length and
// Transfer-Encoding is answered 400 and the connection closed, and the
// legitimate request queued behind it on the same connection is never
// glued to its leftover bytes: the upstream sees nothing. Transfer-Encoding
// on HTTP/1.0, any coding but a lone "chunked", "Transfer-Encoding :" and
// two Transfer-Encoding lines are refused too.
func TestHTTP01ContentLengthAndTransferEncoding(t *testing.T) {
	t.Parallel()
	port, hits := countingUpstream(t)
	g := startGW(t, oneRoute(port, ""))
	addr := g.srv.Addr(80).String()
	next := "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, tc := range []struct{ name, req, status string }{
		{"CL.TE smuggling", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", "400"},
		{"TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n", "400"},
		{"chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "501"},
		{"xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", "501"},
		{"space before the colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two TE lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, closed := rawSend(t, addr, tc.req+next)
			if !strings.HasPrefix(out, "HTTP/1.1 "+tc.status+" ") || strings.Count(out, "HTTP/1.1 ") != 1 || !closed {
				t.Errorf("got %q (closed %v), want one %s and a close", out, closed, tc.status)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests", n)
	}
	// The control: both requests of a valid keep-alive pair are served.
	out, _ := rawSend(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"+
		"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if strings.Count(out, "HTTP/1.1 200 OK") != 2 || hits.Load() != 2 {
		t.Errorf("a valid pair: %q, upstream saw %d", out, hits.Load())
	}
}

// Requests the HTTP/1.1 parser refuses before any handler runs are no
// longer invisible: each gets an access-log line with its status and
// Envoy's DPE flag, the peer and the PROXY-derived client address, a
// counter by status and reason, and a log line.
func TestParserRefusalsLoggedAndCounted(t *testing.T) {
	t.Parallel()
	port, hits := countingUpstream(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1"`)
	cfg["vs.yaml"] = vsTo(port)
	cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + logFile + "}\n"
	g := startGW(t, cfg)
	addr := g.srv.Addr(80).String()
	proxied := "PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"
	for _, tc := range []struct{ req, status, reason string }{
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400", "content_length_and_transfer_encoding"},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", "431", "headers_too_large"},
		{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "400", "version_invalid"},
		{"GET / HTTP/1.1\nHost: a\r\n\r\n", "400", "bare_lf"},
	} {
		out, _ := rawSend(t, addr, proxied+tc.req)
		if !strings.HasPrefix(out, "HTTP/1.1 "+tc.status) {
			t.Errorf("%s: got %.60q, want %s", tc.reason, out, tc.status)
		}
		n := value(t, scrape(t, g, "/metrics"), "gatehouse_downstream_requests_refused_total", "code="+tc.status, "reason="+tc.reason)
		if n != 1 {
			t.Errorf("%s counted %v times", tc.reason, n)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the upstream saw %d refused requests", hits.Load())
	}
	log := strings.Join(readLog(t, g, logFile), "\n")
	for _, reason := range []string{"content_length_and_transfer_encoding", "headers_too_large", "version_invalid", "bare_lf"} {
		if !strings.Contains(log, " DPE http1."+reason+" ") || !strings.Contains(log, "203.0.113.7:5555") {
			t.Errorf("no DPE line with the PROXY client for %s:\n%s", reason, log)
		}
	}
	if !strings.Contains(g.logs.String(), `msg="request refused by the HTTP/1.1 parser"`) || !strings.Contains(g.logs.String(), "peer=127.0.0.1:") {
		t.Errorf("no log line with the peer:\n%s", g.logs.String())
	}
}

// Regression (found by FuzzRequest): a client that sends its request and
// half-closes is a client that went away to net/http, and the gateway gave
// up on the exchange (DC) but returned without answering, so net/http
// answered "200 OK" with an empty body: a success the upstream never gave.
// The gateway must answer with the upstream's response or not at all.
func TestHalfClosedClientGetsNoFakeSuccess(t *testing.T) {
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		time.Sleep(20 * time.Millisecond) // the gateway sees the half-close first
		io.WriteString(w, "ok")
	}))
	g := startGW(t, oneRoute(port, ""))
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	} {
		c := g.dial(80)
		io.WriteString(c, req)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		out, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		if len(out) > 0 && !strings.HasSuffix(string(out), "\r\n\r\nok") {
			t.Errorf("%q: half-closed client got %q; want the upstream's answer or nothing", req, out)
		}
	}
}

// Regression (found while adding metrics): when the upstream answered a
// POST before gatehouse had finished writing the body upstream, the
// gateway set a past read deadline on the client's connection although
// the body had already been read to its end. net/http was by then reading
// the connection in the background; that read failed and cancelled the
// connection's context, so the next request on the connection started
// out cancelled and its client got an empty 200.
func TestKeepAliveAfterEarlyAnsweredPOST(t *testing.T) {
	t.Parallel()
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok "+r.Method) // answers without reading the body
	}))
	g := startGW(t, oneRoute(port, ""))
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	body := []byte("payload")
	for i := range 2000 {
		resp, err := c.Post(g.url(80)+"/p", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		gr, err := c.Get(g.url(80) + "/g")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		b, _ := io.ReadAll(gr.Body)
		gr.Body.Close()
		code, got := gr.StatusCode, string(b)
		if resp.StatusCode != 200 || code != 200 || !strings.HasPrefix(got, "ok GET") {
			t.Fatalf("round %d: POST %d, then GET on the same connection %d %q", i, resp.StatusCode, code, got)
		}
	}
}
