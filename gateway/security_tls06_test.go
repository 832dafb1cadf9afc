package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// splitHello delivers the client's first write (its ClientHello) in
// pieces: "segments" writes it in 3 parts a moment apart, "records"
// re-frames the one handshake record as 2 TLS records.
type splitHello struct {
	net.Conn
	mode string
	done bool
}

func (c *splitHello) Write(p []byte) (int, error) {
	if c.done || len(p) < 5 || p[0] != 22 {
		return c.Conn.Write(p)
	}
	c.done = true
	var parts [][]byte
	switch c.mode {
	case "segments":
		third := len(p) / 3
		parts = [][]byte{p[:third], p[third : 2*third], p[2*third:]}
	case "records":
		n := int(p[3])<<8 | int(p[4])
		body, half := p[5:5+n], n/2
		parts = [][]byte{{22, p[1], p[2], byte(half >> 8), byte(half)}, body[:half],
			{22, p[1], p[2], byte((n - half) >> 8), byte(n - half)}, body[half:], p[5+n:]}
	default:
		parts = [][]byte{p}
	}
	for i, part := range parts {
		if i > 0 && c.mode == "segments" {
			time.Sleep(20 * time.Millisecond) // so that the pieces arrive apart
		}
		if _, err := c.Conn.Write(part); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// passthroughGet dials addr from the local address from, runs a TLS
// client over a splitHello in mode, sends a GET and returns the
// upstream certificate's name and the body.
func passthroughGet(t *testing.T, addr, from, mode string, cfg *tls.Config) (string, string, error) {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(&splitHello{Conn: raw, mode: mode}, cfg)
	if err := c.Handshake(); err != nil {
		return "", "", err
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", cfg.ServerName)
	out, err := io.ReadAll(c)
	if err != nil {
		return "", "", err
	}
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, string(out[strings.Index(string(out), "\r\n\r\n")+4:]), nil
}

// security.md TLS-06: SNI passthrough routing. The port passes through
// a.example.com and b.example.com only. Their ClientHellos reach their own
// upstreams whole and unterminated, also split over 3 TCP writes, re-framed
// as 2 TLS records, grown to 20 KiB (a long ALPN list, sent by Go as 2
// records), or with the name in upper case. An unknown SNI (db.internal),
// no SNI, and plaintext are closed, never forwarded to a default. ipBlocks
// and remoteIpBlocks DENY policies close connections from their peers.
func TestTLS06SNIPassthroughRouting(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "backends")
	backend := func(name string) uint32 {
		ts := httptest.NewUnstartedServer(named(name))
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(name, name).TLS}}
		ts.StartTLS()
		t.Cleanup(ts.Close)
		return portOf(t, ts.Listener.Addr())
	}
	a, b := backend("a.example.com"), backend("b.example.com")
	g := startGW(t, map[string]string{
		"gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [a.example.com, b.example.com]
    tls: {mode: PASSTHROUGH}
`,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni}
spec:
  hosts: [a.example.com, b.example.com]
  gateways: [gw]
  tls:
  - match: [{port: 443, sniHosts: [a.example.com]}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{port: 443, sniHosts: [b.example.com]}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, a, b),
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: blocked, namespace: istio-system}
spec:
  action: DENY
  rules:
  - from: [{source: {ipBlocks: [127.0.0.2]}}]
  - from: [{source: {remoteIpBlocks: [127.0.0.3]}}]
`,
	})
	addr := g.srv.Addr(443).String()
	longALPN := []string{}
	for i := range 80 {
		longALPN = append(longALPN, fmt.Sprintf("proto-%03d-%s", i, strings.Repeat("x", 240)))
	}
	longALPN = append(longALPN, "http/1.1")
	tests := []struct {
		name, from, sni, mode string
		alpn                  []string
		want                  string // the upstream reached, "" for closed
	}{
		{"a", "127.0.0.1", "a.example.com", "", nil, "a.example.com"},
		{"b", "127.0.0.1", "b.example.com", "", nil, "b.example.com"},
		{"3 segments", "127.0.0.1", "a.example.com", "segments", nil, "a.example.com"},
		{"2 records", "127.0.0.1", "b.example.com", "records", nil, "b.example.com"},
		{"20 KiB hello", "127.0.0.1", "a.example.com", "", longALPN, "a.example.com"},
		{"20 KiB hello in 3 segments", "127.0.0.1", "b.example.com", "segments", longALPN, "b.example.com"},
		{"upper case", "127.0.0.1", "A.EXAMPLE.COM", "", nil, "a.example.com"},
		{"unknown SNI", "127.0.0.1", "db.internal", "", nil, ""},
		{"no SNI", "127.0.0.1", "", "", nil, ""},
		{"ipBlocks DENY", "127.0.0.2", "a.example.com", "", nil, ""},
		{"remoteIpBlocks DENY", "127.0.0.3", "a.example.com", "", nil, ""},
	}
	for _, tc := range tests {
		cfg := &tls.Config{ServerName: tc.sni, RootCAs: ca.Pool, NextProtos: tc.alpn}
		if tc.want == "" {
			cfg.InsecureSkipVerify = true // whatever answers, it must not be an upstream
		}
		cn, body, err := passthroughGet(t, addr, tc.from, tc.mode, cfg)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: forwarded to %q (%q), want the connection closed", tc.name, cn, body)
		case tc.want != "" && (err != nil || cn != tc.want || body != tc.want):
			t.Errorf("%s: upstream certificate %q body %q err %v, want %s", tc.name, cn, body, err, tc.want)
		}
	}
	start := time.Now()
	if out, _ := rawExchange(t, addr, "", []byte(get("a"))); out != "" || time.Since(start) > time.Second {
		t.Errorf("plaintext on a passthrough port: %q", out)
	}
}
