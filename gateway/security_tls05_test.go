package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"testing"
	"time"
)

// clientHello returns the first flight of a Go TLS client for sni: one
// record holding its ClientHello.
func clientHello(t *testing.T, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	buf := make([]byte, 64<<10)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// stalled is a connection that began a handshake and stopped.
type stalled struct {
	c     net.Conn
	start time.Time
}

// stall dials addr n times and writes first to each connection.
func stall(t *testing.T, addr string, n int, first []byte) []stalled {
	t.Helper()
	out := make([]stalled, 0, n)
	for range n {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", len(out), err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write(first)
		out = append(out, stalled{c, start})
	}
	return out
}

// security.md TLS-05: handshake stalls and floods. The handshake timeout
// is not configurable: net/http derives it from the HTTPS servers'
// ReadHeaderTimeout (10 s), and TLS ports that peek at the ClientHello
// use the same 10 s, so this test takes about 11 s. 5 000 connections
// send one byte of a ClientHello to an HTTPS port and hold, 100 do so on
// a TLS passthrough port, and one writes a real ClientHello a byte every
// 100 ms: none is closed before the timeout, each is closed soon after it
// with no response, a client is served meanwhile, goroutines and file
// descriptors return to the baseline, and the handshake errors are
// logged at debug only, so a flood never floods the log.
func TestTLS05HandshakeStalls(t *testing.T) {
	const timeout, slack = 10 * time.Second, 5 * time.Second
	ca := newTestCA(t, "edge")
	cfg := httpsGateway(t, map[string]string{"h.example.com": simpleTLS(ca.issue("h", "h.example.com"))})
	cfg["pt.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: pt}
spec:
  servers:
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: [pt.example.com]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pt}
spec:
  hosts: [pt.example.com]
  gateways: [pt]
  tls:
  - match: [{port: 8443, sniHosts: [pt.example.com]}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, closedPort(t))
	g := startGW(t, cfg)
	https, pt := g.srv.Addr(443).String(), g.srv.Addr(8443).String()
	hello := clientHello(t, "h.example.com")
	served := func(when string) {
		t.Helper()
		start := time.Now()
		if _, body, err := tlsGet(t, https, "h.example.com", nil); err != nil || body != "h.example.com" || time.Since(start) > 2*time.Second {
			t.Errorf("a client %s: %q %v after %v", when, body, err, time.Since(start))
		}
	}
	served("before the flood")
	base := measure(t)

	conns := append(stall(t, https, 5000, hello[:1]), stall(t, pt, 100, hello[:1])...)
	trickled := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		c, err := net.Dial("tcp", https)
		if err != nil {
			trickled <- -1
			return
		}
		defer c.Close()
		tick := time.NewTicker(100 * time.Millisecond) // the slow client's pace
		defer tick.Stop()
		for i := 0; i < len(hello); i++ {
			if _, err := c.Write(hello[i : i+1]); err != nil {
				break
			}
			<-tick.C
		}
		c.SetReadDeadline(start.Add(timeout + slack))
		n, _ := c.Read(make([]byte, 1))
		trickled <- map[bool]time.Duration{true: time.Since(start), false: -1}[n == 0]
	}()
	served("during the flood")

	// None is closed before the timeout (checked while there is time to).
	if time.Since(conns[0].start) < timeout-time.Second {
		open := 0
		for _, s := range conns {
			s.c.SetReadDeadline(time.Now().Add(time.Millisecond))
			if _, err := s.c.Read(make([]byte, 1)); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					open++
				}
			}
		}
		if open != len(conns) {
			t.Errorf("%d of %d stalled handshakes closed before the timeout", len(conns)-open, len(conns))
		}
	}
	var early, late int
	for _, s := range conns {
		s.c.SetReadDeadline(s.start.Add(timeout + slack))
		n, err := s.c.Read(make([]byte, 1))
		took := time.Since(s.start)
		if ne, ok := err.(net.Error); n > 0 || (ok && ne.Timeout()) {
			late++
		} else if took < timeout-100*time.Millisecond {
			early++
		}
		s.c.Close()
	}
	if early+late > 0 {
		t.Errorf("of %d stalled handshakes %d closed before the %v timeout, %d were answered or still open %v after it", len(conns), early, timeout, late, slack)
	}
	if took := <-trickled; took < timeout || took > timeout+slack {
		t.Errorf("the trickled ClientHello was closed after %v, want at the %v timeout", took, timeout)
	}
	waitBaseline(t, base, 20, 10*time.Second)
	if n := len(regexp.MustCompile(`(?m)^.*level=(INFO|WARN|ERROR).*(handshake|ClientHello).*$`).FindAllString(g.logs.String(), -1)); n > 21 {
		t.Errorf("%d log lines above debug about failed handshakes, want them held back", n)
	}
}
