package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/forwarded"
)

// FuzzRequest's client side: sending the raw bytes, reading the
// answers back, and checking what reached the upstream.

// canDialFrom reports whether this machine can open a connection to addr
// from the local address from (a second loopback address, for the
// ipBlocks rules).
func canDialFrom(addr string, from netip.Addr) bool {
	d := net.Dialer{Timeout: time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// fuzzExchange writes in on a fresh connection from the address from and
// reads until the gateway closes it. With wait set, it first reads until
// an answer to each of reqs arrived (or a second passed), as a client
// that keeps its side open would; then it half-closes. early says every
// request was answered before the half-close. It fails when the gateway
// neither answers nor closes within fuzzAnswerBound of the half-close.
func fuzzExchange(addr string, from netip.Addr, in []byte, wait bool, reqs []*http.Request) (out []byte, early bool, err error) {
	d := net.Dialer{Timeout: fuzzAnswerBound, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fuzzAnswerBound))
	// A write may fail once the gateway refused the request and closed;
	// what it answered is still there to read.
	c.Write(in)
	var buf bytes.Buffer
	if wait && len(reqs) > 0 {
		c.SetReadDeadline(time.Now().Add(time.Second))
		b := make([]byte, 4096)
		for !early {
			n, err := c.Read(b)
			buf.Write(b[:n])
			early = countAnswers(buf.Bytes(), reqs) >= len(reqs)
			if err != nil {
				break
			}
		}
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(fuzzAnswerBound))
	_, err = io.Copy(&buf, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return buf.Bytes(), early, fmt.Errorf("no answer or close within %v of the half-close", fuzzAnswerBound)
	}
	return buf.Bytes(), early, nil
}

// countAnswers counts the complete final answers in out.
func countAnswers(out []byte, reqs []*http.Request) int {
	br := bufio.NewReader(bytes.NewReader(out))
	n := 0
	for {
		var req *http.Request
		if n < len(reqs) {
			req = reqs[n]
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return n
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return n
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			n++
		}
	}
}

// fuzzClientRequests parses in as the gateway's HTTP/1.1 server does,
// request after request, for the methods and headers each answer pairs
// with. whole says in ends where a request ends.
func fuzzClientRequests(in []byte) (reqs []*http.Request, whole bool) {
	br := bufio.NewReader(bytes.NewReader(in))
	for {
		// Empty lines before a request line are skipped, as the gateway's
		// request validator skips up to four (RFC 9112 2.2).
		for i := 0; i < 4; i++ {
			if b, err := br.Peek(2); err != nil || string(b) != "\r\n" {
				break
			}
			br.Discard(2)
		}
		if _, err := br.Peek(1); err == io.EOF {
			return reqs, len(reqs) > 0
		}
		r, err := http.ReadRequest(br)
		if err != nil {
			return reqs, false
		}
		reqs = append(reqs, r)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return reqs, false
		}
	}
}

// fuzzAnswers parses everything the gateway sent as HTTP/1.1 responses,
// skipping interim (1xx) ones; a 101 ends the HTTP part.
func fuzzAnswers(out []byte, reqs []*http.Request) ([]*http.Response, error) {
	var answers []*http.Response
	for len(out) > 0 {
		var req *http.Request
		if i := len(answers); i < len(reqs) {
			req = reqs[i]
		}
		resp, n, err := readAnswer(out, req)
		if err == nil && req != nil && req.Method == "HEAD" && resp.Close && n < len(out) {
			// net/http refuses some requests it parsed (a version it
			// does not serve, a missing Host) with an answer that has a
			// body and closes, whatever the method: the rest is its
			// body, not a next answer.
			resp, n, err = readAnswer(out, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("answer %d: %v", len(answers), err)
		}
		out = out[n:]
		if resp.ProtoMajor != 1 || resp.ProtoMinor > 1 {
			return nil, fmt.Errorf("answer %d: protocol %s", len(answers), resp.Proto)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return append(answers, resp), nil
		}
		if resp.StatusCode < 200 {
			continue
		}
		answers = append(answers, resp)
	}
	return answers, nil
}

// readAnswer reads one response, body included, from the start of out and
// says how many bytes it took.
func readAnswer(out []byte, req *http.Request) (*http.Response, int, error) {
	r := bytes.NewReader(out)
	br := bufio.NewReader(r)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, 0, err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, 0, fmt.Errorf("body: %v", err)
	}
	return resp, len(out) - r.Len() - br.Buffered(), nil
}

func hitByID(hits []fuzzHit, id int) *fuzzHit {
	for i := range hits {
		if hits[i].id == id {
			return &hits[i]
		}
	}
	return nil
}

func statuses(answers []*http.Response) string {
	var s []string
	for _, a := range answers {
		v := strconv.Itoa(a.StatusCode)
		if a.Header.Get("X-Rec-Id") != "" {
			v += " (upstream)"
		}
		s = append(s, v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// checkForwardedPath: the path the upstream got is normalized under
// MERGE_SLASHES: no empty, "." or ".." segment and no encoded slash,
// backslash or fragment.
func checkForwardedPath(t *testing.T, uri string) {
	t.Helper()
	p, _, _ := strings.Cut(uri, "?")
	switch {
	case !strings.HasPrefix(p, "/"):
		t.Errorf("the upstream got a path not starting with '/': %q", uri)
	case strings.Contains(p, "//"):
		t.Errorf("the upstream got repeated slashes under MERGE_SLASHES: %q", uri)
	case strings.ContainsAny(p, "\\#; \t"):
		t.Errorf("the upstream got a path with a backslash, fragment, parameter or blank: %q", uri)
	}
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "." || seg == ".." {
			t.Errorf("the upstream got a dot segment: %q", uri)
		}
	}
	up := strings.ToUpper(p)
	for _, esc := range []string{"%2F", "%5C", "%2E", "%00"} {
		if strings.Contains(up, esc) {
			t.Errorf("the upstream got %s in the path: %q", esc, uri)
		}
	}
}

// gatewayHeaders are the headers the gateway itself sets on an upstream
// request; a client's copy may be replaced, so their values are not
// compared with the client's.
var gatewayHeaders = []string{
	"Host", "Content-Length", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
	"X-Envoy-External-Address", "X-Envoy-Attempt-Count", "X-Envoy-Original-Path",
	"X-Forwarded-Client-Cert", "X-Route", "X-Jwt-Team",
}

// checkForwardedHeaders: no hop-by-hop header of the client's, nor one its
// Connection header names, reached the upstream.
func checkForwardedHeaders(t *testing.T, in *http.Request, h *fuzzHit) {
	t.Helper()
	hop := slices.Clone(forwarded.HopHeaders)
	for _, v := range in.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				hop = append(hop, http.CanonicalHeaderKey(tok))
			}
		}
	}
	upgrade := h.header.Get("Upgrade")
	for _, k := range hop {
		if slices.Contains(gatewayHeaders, k) {
			continue
		}
		vs, ok := h.header[k]
		if !ok {
			continue
		}
		// The gateway asks a WebSocket upgrade of the upstream itself.
		if upgrade == "websocket" && ((k == "Connection" && slices.Equal(vs, []string{"Upgrade"})) || (k == "Upgrade" && len(vs) == 1)) {
			continue
		}
		for _, v := range vs {
			if slices.Contains(in.Header[k], v) {
				t.Errorf("hop-by-hop %s: %q sent by the client reached the upstream (%s %s)", k, v, h.method, h.uri)
			}
		}
	}
}

// checkGatewayHeaders: the upstream sees the gateway's forwarding headers
// for the client's address, and no x-envoy-* header, claim about the
// client or method or URL override but the gateway's own.
func checkGatewayHeaders(t *testing.T, h fuzzHit) {
	t.Helper()
	ext := h.header.Get("X-Envoy-External-Address")
	if a, err := netip.ParseAddr(ext); err != nil || !a.IsLoopback() || len(h.header["X-Envoy-External-Address"]) != 1 {
		t.Errorf("the upstream got X-Envoy-External-Address %q (%s %s)", h.header["X-Envoy-External-Address"], h.method, h.uri)
	}
	if xff := h.header["X-Forwarded-For"]; len(xff) != 1 || !strings.HasSuffix(xff[0], ext) {
		t.Errorf("the upstream got X-Forwarded-For %q, not ending in the client's %s (%s %s)", xff, ext, h.method, h.uri)
	}
	if p := h.header["X-Forwarded-Proto"]; len(p) != 1 || p[0] != "http" {
		t.Errorf("the upstream got X-Forwarded-Proto %q (%s %s)", p, h.method, h.uri)
	}
	for _, k := range append(slices.Clone(forwarded.UntrustedHeaders), forwarded.OverrideHeaders...) {
		if vs, ok := h.header[k]; ok {
			t.Errorf("the upstream got %s: %q (%s %s)", k, vs, h.method, h.uri)
		}
	}
	for k, vs := range h.header {
		if !strings.HasPrefix(strings.ToLower(k), "x-envoy-") {
			continue
		}
		ok := len(vs) == 1
		switch k {
		case "X-Envoy-External-Address":
		case "X-Envoy-Attempt-Count":
			ok = ok && vs[0] == "1"
		case "X-Envoy-Original-Path":
			ok = ok && strings.HasPrefix(h.uri, "/new/") && strings.HasPrefix(vs[0], "/old")
		default:
			ok = false
		}
		if !ok {
			t.Errorf("the upstream got %s: %q (%s %s)", k, vs, h.method, h.uri)
		}
	}
}
