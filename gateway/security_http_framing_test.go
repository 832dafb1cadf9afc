package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// hxChunked is the head of a chunked upload; each HTTP-02 case appends a
// body to it.
const hxChunked = "POST /case HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

// hxChunkCases are the chunked bodies of security.md HTTP-02, each with
// the reason the HTTP/1.1 validator gives for refusing it.
var hxChunkCases = []struct{ name, body, reason string }{
	{"bare LF after a chunk size", "5\nhello\r\n0\r\n\r\n", "bare_lf"},
	{"bare LF after the last chunk", "0\n\r\n", "bare_lf"},
	{"bare LF after an extension", "1;a=b\nX\r\n0\r\n\r\n", "bare_lf"},
	{"size 0x5", "0x5\r\nhello\r\n0\r\n\r\n", "invalid_chunk"},
	{"size +5", "+5\r\nhello\r\n0\r\n\r\n", "invalid_chunk"},
	{"size after a space", " 5\r\nhello\r\n0\r\n\r\n", "invalid_chunk"},
	{"size beyond 64 bits", "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "invalid_chunk"},
	{"1 MiB of extensions", "1" + strings.Repeat(";a=b", 1<<18) + "\r\nX\r\n0\r\n\r\n", "chunk_line_too_long"},
	{"Content-Length in the trailers", "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", "trailer_framing_field"},
	{"Transfer-Encoding in the trailers", "5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", "trailer_framing_field"},
}

// security.md HTTP-02: malformed chunked bodies (bare LF, sizes that are
// not plain hex, 1 MiB of chunk extensions, framing fields in the
// trailers), each sent with its head in one write on a keep-alive
// connection with a legitimate request behind it. Each gets one 400 and a
// close; the request behind is never served, and the upstream never sees
// the malformed request at all (the head is held until the first chunk
// line is whole, and a violation found before the head went on refuses
// the request whole). Each violation is counted under its reason and
// access-logged "400 DPE http1.<reason>"; 1 MiB of extensions costs the
// gateway no memory in proportion; and trailers are never merged into the
// forwarded headers: a valid request's trailer fields are dropped. The
// same bodies sent after the head was forwarded (the client paused) get
// a 400 and a close too, the upstream's request breaking off, never
// complete: TestHTTP02BodyAfterTheHead.
//
// Not parallel: it measures the process's allocations.
func TestHTTP02ChunkedEdgeCases(t *testing.T) {
	rec := hxRecord(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	cfg := idleGateway(vsTo(rec.port), logFile)
	cfg["gw.yaml"] = httpGateway // the default stream idle timeout: nothing waits for it
	g := startGW(t, cfg)
	addr := g.srv.Addr(80).String()
	counted := map[string]float64{}
	for _, tc := range hxChunkCases {
		t.Run(tc.name, func(t *testing.T) {
			payload := []byte(hxChunked + tc.body + hxNext("/next"))
			var out string
			var closed bool
			alloc := hxAllocated(func() { out, closed = hxSend(t, addr, payload) })
			hxRefused(t, out, closed, "400")
			if alloc > 256<<10 {
				t.Errorf("the exchange of %d bytes allocated %d bytes", len(payload), alloc)
			}
			counted[tc.reason]++
			if n := value(t, scrape(t, g, "/metrics"), "gatehouse_downstream_requests_refused_total", "code=400", "reason="+tc.reason); n != counted[tc.reason] {
				t.Errorf("%s counted %v times, want %v", tc.reason, n, counted[tc.reason])
			}
		})
	}
	log := strings.Join(readLog(t, g, logFile), "\n")
	for reason := range counted {
		if !strings.Contains(log, `"POST /case HTTP/1.1" 400 DPE http1.`+reason+" ") {
			t.Errorf("no access-log line for %s:\n%s", reason, log)
		}
	}
	hxControl(t, g, "/control")
	reqs := rec.only(t, "/control")

	// The control: a valid chunked body with trailer fields is forwarded
	// whole, its trailers dropped, and the request behind it served.
	out, _ := hxSend(t, addr, []byte(hxChunked+"5\r\nhello\r\n0\r\nX-Admin: 1\r\nContent-Type: evil\r\n\r\n"+
		"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	if strings.Count(out, "HTTP/1.1 200 OK\r\n") != 2 {
		t.Fatalf("a valid pair: %q", out)
	}
	all, _ := rec.requests()
	var uris []string
	for _, r := range all[len(reqs):] {
		uris = append(uris, r.URI)
		if r.URI == "/case" && (r.Body != "hello" || r.BodyErr != nil || strings.Contains(r.Raw, "X-Admin") || strings.Contains(r.Raw, "evil")) {
			t.Errorf("the upstream read %q (body error %v): trailers merged or body changed", r.Raw, r.BodyErr)
		}
	}
	if strings.Join(uris, " ") != "/case /after" {
		t.Errorf("the upstream saw %q, want /case and /after", uris)
	}
}

// security.md HTTP-02, the bodies sent after their head went upstream (the
// client paused after the head), to an HTTP/1.1 upstream and to an h2c
// one: the gateway answers 400 and closes the connection, the request
// behind is never served, and the upstream's request breaks off: it never
// reads a complete one.
func TestHTTP02BodyAfterTheHead(t *testing.T) {
	t.Parallel()
	heads, bodies := make(chan struct{}, 1), make(chan error, 1)
	h1 := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		heads <- struct{}{}
		_, err = io.Copy(io.Discard, req.Body)
		bodies <- err
		if err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	h2 := startUpstream(t, h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heads <- struct{}{}
		_, err := io.Copy(io.Discard, r.Body)
		bodies <- err
	}), &http2.Server{}))
	for _, up := range []struct {
		name string
		cfg  map[string]string
	}{{"HTTP/1.1", oneRoute(h1, "")}, {"h2c", h2UpgradeRoute(h2, "")}} {
		g := startGW(t, up.cfg)
		for _, tc := range hxChunkCases {
			t.Run(up.name+" "+tc.name, func(t *testing.T) {
				c := g.dial(80)
				io.WriteString(c, hxChunked)
				select {
				case <-heads:
				case <-time.After(5 * time.Second):
					t.Fatal("the head did not reach the upstream")
				}
				c.Write([]byte(tc.body + hxNext("/next")))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				out, err := io.ReadAll(c)
				hxRefused(t, string(out), err == nil || errors.Is(err, syscall.ECONNRESET), "400")
				select {
				case err := <-bodies:
					if err == nil {
						t.Error("the upstream read the malformed body whole")
					}
				case <-time.After(5 * time.Second):
					t.Error("the upstream's request did not end")
				}
			})
		}
	}
}

// security.md HTTP-02, a hang found while testing it: a chunked body whose
// violation comes in the same read as its last data bytes, after the
// head went upstream, is answered and closed at once, with the default
// stream idle timeout (5 min), 300 times over. It used to wait now and
// then until that timeout: the request's cancellation put the upstream
// connection's deadlines in the past, and the upload's last bytes moved
// the read deadline forward again while the response head was awaited.
func TestHTTP02BodyErrorNeverHangs(t *testing.T) {
	t.Parallel()
	heads := make(chan struct{}, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		heads <- struct{}{}
		io.Copy(io.Discard, req.Body)
	})
	g := startGW(t, oneRoute(port, ""))
	for i := range 300 {
		c := g.dial(80)
		io.WriteString(c, hxChunked)
		<-heads
		io.WriteString(c, "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		out, err := io.ReadAll(c)
		c.Close()
		if isTimeout(err) {
			t.Fatalf("try %d: not closed within 2s (got %q)", i, out)
		}
		if hxStatus(string(out)) != "400" {
			t.Fatalf("try %d: got %q, want a 400", i, out)
		}
	}
}

// security.md HTTP-03: Content-Length variants. Differing values, a comma
// list, a sign, a leading zero, a 20-digit value and a value hidden by
// obs-fold are answered 400 and the connection closed: neither the
// request, nor the request behind it on the connection, nor the request
// smuggled in its body reaches the upstream (gatehouse refuses "5, 5" too,
// as net/http does). Identical duplicates, in any letter case, are one
// Content-Length, and a body on a GET is forwarded: the upstream reads
// each such request whole, with exactly one Content-Length, and then the
// request behind it.
func TestHTTP03ContentLengthVariants(t *testing.T) {
	t.Parallel()
	rec := hxRecord(t)
	g := startGW(t, oneRoute(rec.port, ""))
	addr := g.srv.Addr(80).String()
	smuggled := "hello" + "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
	cases := []struct {
		name, method, fields, body string
		status                     string // "200": forwarded
	}{
		{"5 and 6", "POST", "Content-Length: 5\r\nContent-Length: 6\r\n", smuggled, "400"},
		{"6 and 5", "POST", "Content-Length: 6\r\nContent-Length: 5\r\n", smuggled, "400"},
		{"two identical 5s", "POST", "Content-Length: 5\r\nContent-Length: 5\r\n", "hello", "200"},
		{"identical 5s, names in two cases", "POST", "content-length: 5\r\nCONTENT-LENGTH: 5\r\n", "hello", "200"},
		{"a list 5, 5", "POST", "Content-Length: 5, 5\r\n", smuggled, "400"},
		{"+5", "POST", "Content-Length: +5\r\n", smuggled, "400"},
		{"-1", "POST", "Content-Length: -1\r\n", smuggled, "400"},
		{"05", "POST", "Content-Length: 05\r\n", smuggled, "400"},
		{"20 digits", "POST", "Content-Length: 18446744073709551621\r\n", smuggled, "400"},
		{"hidden by obs-fold", "POST", "Content-Length:\r\n 5\r\n", smuggled, "400"},
		{"hex 0x5", "POST", "Content-Length: 0x5\r\n", smuggled, "400"},
		{"a body on a GET", "GET", "Content-Length: 5\r\n", "hello", "200"},
	}
	var want []string
	t.Run("cases", func(t *testing.T) {
		for i, tc := range cases {
			path, next := fmt.Sprintf("/c%d", i), fmt.Sprintf("/n%d", i)
			if tc.status == "200" {
				want = append(want, path, next)
			}
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				req := tc.method + " " + path + " HTTP/1.1\r\nHost: a\r\n" + tc.fields + "\r\n" + tc.body
				out, closed := hxSend(t, addr, []byte(req+"GET "+next+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
				if tc.status != "200" {
					hxRefused(t, out, closed, tc.status)
					return
				}
				if strings.Count(out, "HTTP/1.1 200 OK\r\n") != 2 || strings.Contains(out, "treasure") {
					t.Errorf("got %q, want two 200s", out)
				}
			})
		}
	})
	hxControl(t, g, "/control")
	for _, r := range rec.only(t, append(want, "/control")...) {
		if r.URI == "/control" || strings.HasPrefix(r.URI, "/n") {
			continue
		}
		head, _, _ := strings.Cut(r.Raw, "\r\n\r\n")
		if n := strings.Count(strings.ToLower(head), "\r\ncontent-length:"); n != 1 || r.Header.Get("Content-Length") != "5" || r.Body != "hello" {
			t.Errorf("the upstream read %q: %d Content-Length fields, body %q", r.Raw, n, r.Body)
		}
	}
}
