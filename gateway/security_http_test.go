package gateway

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The shared harness of security.md section 5 (HTTP): the recorder
// upstream of section 0, which keeps the exact bytes of every request it
// receives, so that a smuggled request shows up as an extra request and a
// cut one as a request whose body never ended, and answers "treasure" to
// what it decodes as /admin (Envoy's Google VRP oracle).

// hxRequest is one request as the recorder upstream read it.
type hxRequest struct {
	Method, URI string
	Header      http.Header
	// Body is the decoded body, its first hxKeep bytes; BodyLen all of it.
	Body    string
	BodyLen int64
	// Raw is the exact bytes of the request, head and body, as received
	// (its first hxKeep bytes).
	Raw string
	// BodyErr is the error that ended the body early: a request whose
	// body never ended is a partial request.
	BodyErr error
}

// hxKeep bounds what the recorder keeps of each request, so that a body
// of any size can stream through it.
const hxKeep = 1 << 20

// hxRecorder is a raw HTTP/1.1 upstream that records every request.
type hxRecorder struct {
	port uint32
	// upgrade is how a WebSocket upgrade request is answered: "" as any
	// other request; "101" switches, echoes what comes through the tunnel,
	// and once the gateway half-closes it answers "bye" and closes; "101
	// PROTO" switches to another protocol than asked; "200" or "426"
	// answers with that status, keeping the connection for more requests.
	upgrade string
	mu      sync.Mutex
	reqs    []hxRequest
	junk    []string // bytes left that no request could be read from
}

// hxRecord starts a recorder upstream, closed when the test ends, which
// answers WebSocket upgrades as upgrade says (see hxRecorder.upgrade).
func hxRecord(t *testing.T, upgrade ...string) *hxRecorder {
	t.Helper()
	rec := &hxRecorder{}
	if len(upgrade) > 0 {
		rec.upgrade = upgrade[0]
	}
	rec.port = rawUpstream(t, rec.serve)
	return rec
}

// hxCapped keeps the first hxKeep bytes written to it and counts them all.
type hxCapped struct {
	b bytes.Buffer
	n int64
}

func (c *hxCapped) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if room := hxKeep - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// hxTee keeps what is read through it in raw.
type hxTee struct {
	r   io.Reader
	raw hxCapped
}

func (t *hxTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.raw.Write(p[:n])
	return n, err
}

// serve reads requests from one gateway connection until it ends.
func (rec *hxRecorder) serve(c net.Conn) {
	defer c.Close()
	tr := &hxTee{r: c}
	br := bufio.NewReader(tr)
	for {
		// What the reader holds beyond the last request starts this one.
		ahead, _ := br.Peek(br.Buffered())
		tr.raw = hxCapped{}
		tr.raw.Write(ahead)
		req, err := http.ReadRequest(br)
		if err != nil {
			if tr.raw.n > 0 {
				rec.mu.Lock()
				rec.junk = append(rec.junk, tr.raw.b.String())
				rec.mu.Unlock()
			}
			return
		}
		var body hxCapped
		_, berr := io.Copy(&body, req.Body)
		raw := tr.raw.b.Bytes()
		if int64(len(raw)) == tr.raw.n { // all kept: what is read ahead is the next request's
			raw = raw[:len(raw)-br.Buffered()]
		}
		r := hxRequest{Method: req.Method, URI: req.RequestURI, Header: req.Header, Body: body.b.String(), BodyLen: body.n,
			Raw: string(raw), BodyErr: berr}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r)
		rec.mu.Unlock()
		if berr != nil {
			return
		}
		answer := "normal"
		if strings.HasPrefix(req.URL.Path, "/admin") {
			answer = "treasure"
		}
		status := "200 OK"
		if rec.upgrade != "" && strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			if proto, ok := strings.CutPrefix(rec.upgrade, "101"); ok {
				rec.tunnel(c, br, cmp.Or(strings.TrimSpace(proto), "websocket"))
				return
			}
			code, _ := strconv.Atoi(rec.upgrade)
			status = rec.upgrade + " " + http.StatusText(code)
		}
		fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s", status, len(answer), answer)
	}
}

// tunnel switches to proto and echoes until the gateway half-closes, then
// says "bye" and closes.
func (rec *hxRecorder) tunnel(c net.Conn, br *bufio.Reader, proto string) {
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
	if _, err := io.Copy(c, br); err == nil {
		io.WriteString(c, "bye")
	}
}

// requests returns what the recorder has seen so far.
func (rec *hxRecorder) requests() ([]hxRequest, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]hxRequest(nil), rec.reqs...), append([]string(nil), rec.junk...)
}

// only checks that the recorder saw exactly the requests for uris, each
// complete, in any order, and no other bytes.
func (rec *hxRecorder) only(t *testing.T, uris ...string) []hxRequest {
	t.Helper()
	reqs, junk := rec.requests()
	var got []string
	for _, r := range reqs {
		got = append(got, r.URI)
		if r.BodyErr != nil {
			t.Errorf("the upstream read a partial request (%v): %q", r.BodyErr, r.Raw)
		}
	}
	for _, j := range junk {
		t.Errorf("the upstream read bytes that are no request: %q", j)
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(uris))) {
		t.Errorf("the upstream saw %q, want only %q", got, uris)
	}
	return reqs
}

// hxControl sends a legitimate request on a new connection to port 80
// and waits for the recorder's answer: once it is back, what the gateway
// forwarded before has reached the recorder too.
func hxControl(t *testing.T, g *gw, uri string) {
	t.Helper()
	out, _ := hxSend(t, g.srv.Addr(80).String(), []byte("GET "+uri+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nnormal") {
		t.Fatalf("the control request %s got %q", uri, out)
	}
}

// hxNext is the legitimate request queued behind a raw case on the same
// connection (security.md section 5: every raw case is replayed on a
// keep-alive connection followed by a legitimate request).
func hxNext(uri string) string { return "GET " + uri + " HTTP/1.1\r\nHost: a\r\n\r\n" }

// hxSend writes data on a new connection to addr and returns everything
// the gateway sent back until it closed the connection (or 5 s passed),
// and whether it closed it (an orderly close or a reset).
func hxSend(t *testing.T, addr string, data []byte) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(data) // a refusal may close the connection before it is all written
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out bytes.Buffer
	_, err = out.ReadFrom(c)
	return out.String(), err == nil || errors.Is(err, syscall.ECONNRESET)
}

// hxStatus is the status code of the first response in out, "" if none.
func hxStatus(out string) string {
	line, _, _ := strings.Cut(out, "\r\n")
	if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
		return f[1]
	}
	return ""
}

// hxAnswers lists the status codes of the responses in out, in order.
func hxAnswers(out string) string {
	var codes []string
	for _, part := range strings.Split(out, "HTTP/1.1 ")[1:] {
		codes = append(codes, part[:min(3, len(part))])
	}
	return strings.Join(codes, " ")
}

// hxRefused checks out is exactly one response with status, then a close.
func hxRefused(t *testing.T, out string, closed bool, status string) {
	t.Helper()
	if hxStatus(out) != status || strings.Count(out, "HTTP/1.1 ") != 1 || !closed {
		t.Errorf("got %.200q (closed %v), want one %s and a close", out, closed, status)
	}
}

// hxAllocated returns the bytes the process allocated while f ran. Only
// meaningful in a test that does not run in parallel with others.
func hxAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
