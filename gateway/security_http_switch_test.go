package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hxWebSocket is the fields of a WebSocket upgrade request.
const hxWebSocket = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// hxDenyAdmin is an AuthorizationPolicy denying /admin and below.
const hxDenyAdmin = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`

// security.md HTTP-10: WebSocket and Upgrade abuse. The catalogue's first
// input, an upgrade on a route with WebSockets off, has no equivalent:
// Istio's VirtualService has no such switch and gatehouse, like an Istio
// gateway, lets WebSocket upgrades through on every route. What holds:
//   - any other Upgrade is refused with 403 (gatehouse refuses rather than
//     strips), but "Upgrade: h2c" on a plain HTTP port, which would switch
//     to HTTP/2, is stripped and the request served as HTTP/1.1;
//   - an upgrade request with a body is 400 and closed;
//   - authorization and JWT checks apply to the upgrade request;
//   - headers the client nominates in Connection are stripped from it;
//   - a tunnel opens only on a 101 naming the protocol asked for: after a
//     200, a 426 or a 101 to another protocol (502), what the client sends
//     next is read as a request and checked like any;
//   - a client's half-close goes through the tunnel, and the upstream's
//     answer to it comes back.
//
// The recorder answers "treasure" to /admin: a bypass shows as that word.
func TestHTTP10UpgradeAbuse(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T, upgrade string) (*hxRecorder, *gw) {
		rec := hxRecord(t, upgrade)
		cfg := oneRoute(rec.port, "")
		cfg["deny.yaml"] = hxDenyAdmin
		return rec, startGW(t, cfg)
	}
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		rec, g := start(t, "101")
		addr := g.srv.Addr(80).String()
		next := "GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
		for _, tc := range []struct{ name, req, answers string }{
			{"another protocol", "GET /a HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw-tcp\r\n\r\n", "403"},
			{"a body", "POST /a HTTP/1.1\r\nHost: a\r\n" + hxWebSocket + "Content-Length: 20\r\n\r\nGET /admin HTTP/1.1\r\n", "400"},
			// An RBAC denial keeps the connection: the request behind is served.
			{"a denied path", "GET /admin/ws HTTP/1.1\r\nHost: a\r\n" + hxWebSocket + "\r\n", "403 200"},
		} {
			out, closed := hxSend(t, addr, []byte(tc.req+next))
			if hxAnswers(out) != tc.answers || !closed || strings.Contains(out, "treasure") {
				t.Errorf("%s: got %q (closed %v), want %s and a close", tc.name, out, closed, tc.answers)
			}
		}
		h2c := "GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: close\r\n\r\n"
		if out, _ := hxSend(t, addr, []byte(h2c)); hxStatus(out) != "200" {
			t.Errorf("Upgrade: h2c on an HTTP port: %q, want it served as HTTP/1.1", out)
		}
		for _, r := range rec.only(t, "/next", "/h2c") { // /next behind the denied upgrade
			if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
				t.Errorf("the upstream read %q", r.Raw)
			}
		}
	})
	t.Run("no tunnel without a 101 for websocket", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ upstream, status string }{{"200", "200"}, {"426", "426"}, {"101 h2c", "502"}} {
			rec, g := start(t, tc.upstream)
			c, br, resp := hxHandshake(t, g, "GET /ws HTTP/1.1\r\nHost: a\r\n"+hxWebSocket+"\r\n")
			io.Copy(io.Discard, resp.Body)
			io.WriteString(c, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
			next, err := http.ReadResponse(br, nil)
			if fmt.Sprint(resp.StatusCode) != tc.status || err != nil || next.StatusCode != http.StatusForbidden {
				t.Fatalf("upstream %s: got %s, then %v %v; want %s, then 403", tc.upstream, resp.Status, next, err, tc.status)
			}
			rec.only(t, "/ws")
		}
	})
	t.Run("a tunnel, nominated headers stripped, half-closed", func(t *testing.T) {
		t.Parallel()
		rec, g := start(t, "101")
		c, br, resp := hxHandshake(t, g, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Internal-Auth\r\nX-Internal-Auth: 1\r\n"+
			"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
		}
		io.WriteString(c, "ping")
		c.(*net.TCPConn).CloseWrite()
		if b, err := io.ReadAll(br); string(b) != "pingbye" || err != nil {
			t.Errorf("through the half-closed tunnel: %q, %v; want the echo, then the upstream's last word", b, err)
		}
		for _, r := range rec.only(t, "/ws") {
			if r.Header.Get("X-Internal-Auth") != "" || r.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
				t.Errorf("the upstream read %q", r.Raw)
			}
		}
	})
	t.Run("JWT checks", func(t *testing.T) {
		t.Parallel()
		rec := hxRecord(t, "101")
		idp := newAzIdP(t)
		g := startGW(t, azJWTConfig(rec.port, idp.URL))
		valid := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice"))
		for _, tc := range []struct{ token, status string }{{"", "403"}, {"not.a.token", "401"}, {valid, "101"}} {
			req := "GET /secure/ws HTTP/1.1\r\nHost: api.example.com\r\n" + hxWebSocket
			if tc.token != "" {
				req += "Authorization: Bearer " + tc.token + "\r\n"
			}
			c, _, resp := hxHandshake(t, g, req+"\r\n")
			if fmt.Sprint(resp.StatusCode) != tc.status {
				t.Errorf("token %.20q: %s, want %s", tc.token, resp.Status, tc.status)
			}
			c.Close()
		}
		for _, r := range rec.only(t, "/secure/ws") {
			if r.Header.Get("X-Jwt-Sub") != "alice" || r.Header.Get("Authorization") != "" {
				t.Errorf("the upstream read %q, want the claims and no token", r.Raw)
			}
		}
	})
}

// hxHandshake sends req on a new connection to port 80 and reads the
// response head.
func hxHandshake(t *testing.T, g *gw, req string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c := g.dial(80)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%.40q: %v", req, err)
	}
	return c, br, resp
}

// security.md HTTP-11: CONNECT, asterisk-form, TRACE and PRI, on a Gateway
// whose catch-all route would forward anything to the recorder:
//   - CONNECT gets 403 (Envoy's default; no route enables it) and a close,
//     over HTTP/1.1 and HTTP/2;
//   - "OPTIONS *" is answered 200 by net/http itself and never forwarded;
//     the connection stays usable;
//   - TRACE gets 405 (and a close), its Cookie never echoed;
//   - the HTTP/2 preface on a TLS port whose ALPN chose HTTP/1.1 gets 400
//     and a close. (gatehouse's plaintext ports take h2c with prior
//     knowledge, as Envoy's codec detects it: there the preface starts
//     HTTP/2.)
func TestHTTP11ConnectAsteriskTracePri(t *testing.T) {
	t.Parallel()
	rec := hxRecord(t)
	ca := newTestCA(t, "edge")
	gwYAML := httpGateway + "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: " +
		simpleTLS(ca.issue("edge", "a.example.com")) + "\n"
	g := startGW(t, map[string]string{"gw.yaml": gwYAML, "vs.yaml": vsTo(rec.port)})
	addr := g.srv.Addr(80).String()
	t.Run("HTTP/1.1", func(t *testing.T) {
		for _, tc := range []struct{ name, req, answers string }{
			{"CONNECT", "CONNECT internal-db:5432 HTTP/1.1\r\nHost: internal-db:5432\r\n\r\n", "403"},
			{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "200 200"},
			{"TRACE", "TRACE / HTTP/1.1\r\nHost: a\r\nCookie: session=secret\r\n\r\n", "405"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, closed := hxSend(t, addr, []byte(tc.req+"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
				if hxAnswers(out) != tc.answers || !closed || strings.Contains(out, "secret") {
					t.Errorf("got %q (closed %v), want %s and a close", out, closed, tc.answers)
				}
			})
		}
	})
	t.Run("HTTP/2", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			fields [][2]string
			answer string
		}{
			{"CONNECT", [][2]string{{":method", "CONNECT"}, {":authority", "internal-db:5432"}}, "403"},
			{"OPTIONS *", [][2]string{{":method", "OPTIONS"}, {":scheme", "http"}, {":authority", "a"}, {":path", "*"}}, "200"},
			{"TRACE", [][2]string{{":method", "TRACE"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}, {"cookie", "session=secret"}}, "405"},
		} {
			if got, body := hxH2(t, addr, tc.fields, ""); got != tc.answer || strings.Contains(body, "secret") {
				t.Errorf("%s: answered %s %q, want %s", tc.name, got, body, tc.answer)
			}
		}
	})
	t.Run("PRI on HTTP/1.1 over TLS", func(t *testing.T) {
		for _, data := range []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"} {
			c, err := tls.Dial("tcp", g.srv.Addr(443).String(), &tls.Config{ServerName: "a.example.com", RootCAs: ca.Pool, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
				t.Fatalf("ALPN chose %q", p)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(data + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"))
			var out bytes.Buffer
			_, err = out.ReadFrom(c)
			c.Close()
			if hxStatus(out.String()) != "400" || strings.Count(out.String(), "HTTP/1.1 ") != 1 || err != nil {
				t.Errorf("%q: got %q, %v; want one 400 and a close", data, out.String(), err)
			}
		}
	})
	hxControl(t, g, "/control")
	// Of the requests behind the refused ones, only those behind OPTIONS *
	// were served.
	rec.only(t, "/next", "/control")
}
