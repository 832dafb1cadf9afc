package h2guard

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// serveNetHTTP serves h with net/http's own server behind guards, HTTP/1.1
// and h2c with prior knowledge, until the test ends.
func serveNetHTTP(t *testing.T, h http.Handler) *guardListener {
	t.Helper()
	l := listen(t)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p, ErrorLog: log.New(io.Discard, "", 0)}
	serveOnce(t, func() { srv.Serve(l) })
	t.Cleanup(func() { srv.Close() })
	return l
}

// TestNetHTTPRapidReset runs the rapid reset attack against net/http's
// own HTTP/2 server.
func TestNetHTTPRapidReset(t *testing.T) {
	var calls atomic.Int32
	l := serveNetHTTP(t, counted(&calls))
	h := dialH2(t, l.Addr().String())
	checkAttacked(t, h, l, h.rapidResets(1, 1000), 999, &calls)
}

// TestNetHTTPWellBehaved sends sequential GETs over h2c with prior
// knowledge and over HTTP/1.1: the guard watches the first and passes
// the second through, and closes neither.
func TestNetHTTPWellBehaved(t *testing.T) {
	tests := []struct {
		name   string
		rt     http.RoundTripper
		active bool
	}{
		{"h2c prior knowledge", h2cTransport(), true},
		{"HTTP/1.1", &http.Transport{MaxConnsPerHost: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			l := serveNetHTTP(t, counted(&calls))
			defer tt.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			getN(t, &http.Client{Transport: tt.rt}, "http://"+l.Addr().String()+"/", 600)
			if len(l.conns) != 1 {
				t.Fatalf("%d connections for 600 GETs, want 1", len(l.conns))
			}
			if g := <-l.conns; g.Active() != tt.active {
				t.Errorf("Active() = %v, want %v", g.Active(), tt.active)
			}
			l.noClose(t)
		})
	}
}

// TestH2CUpgradeRapidReset runs the attack on a connection upgraded from
// HTTP/1.1 with "Upgrade: h2c", served by x/net's h2c handler behind
// net/http's server: the guard follows the 101.
func TestH2CUpgradeRapidReset(t *testing.T) {
	var calls atomic.Int32
	l := serveNetHTTP(t, h2c.NewHandler(counted(&calls), &http2.Server{MaxConcurrentStreams: 100}))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, h2cReq); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the upgrade got %v, %v; want 101", resp, err)
	}
	h := startH2(t, c, br)
	checkAttacked(t, h, l, h.rapidResets(3, 1000), 999, &calls)
}

// TestH2CUpgradeWellBehaved upgrades a connection to h2c and sends 600
// sequential GETs on it: the connection stays open.
func TestH2CUpgradeWellBehaved(t *testing.T) {
	var calls atomic.Int32
	l := serveNetHTTP(t, h2c.NewHandler(counted(&calls), &http2.Server{MaxConcurrentStreams: 100}))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, h2cReq)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the upgrade got %v, %v; want 101", resp, err)
	}
	h := startH2(t, c, br)
	h.awaitStream(t, 1)
	for i := range 600 {
		id := 2*uint32(i) + 3
		if err := h.get(id); err != nil || h.bw.Flush() != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		h.awaitStream(t, id)
	}
	h.ping(t)
	if g := <-l.conns; !g.Active() {
		t.Error("the guard did not follow the upgrade")
	}
	l.noClose(t)
}
