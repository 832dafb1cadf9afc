package gateway

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Attacker opens an HTTP/2 connection (h2c prior knowledge, or TLS with
// ALPN h2) and returns its framer.
func h2Attacker(t *testing.T, addr string, tlsCA *testCA) (*http2.Framer, net.Conn) {
	t.Helper()
	var c net.Conn
	var err error
	if tlsCA != nil {
		c, err = tls.Dial("tcp", addr, &tls.Config{ServerName: "app.example.com", RootCAs: tlsCA.Pool, NextProtos: []string{"h2"}})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, http2Preface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	return fr, c
}

// getBlock is a HEADERS block for GET / on app.example.com.
func getBlock() []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "app.example.com"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return b.Bytes()
}

// waitGoAway reads frames until a GOAWAY or the end of the connection,
// and reports the GOAWAY's code ("" if none came) and whether the
// connection closed within 10 s.
func waitGoAway(c net.Conn, fr *http2.Framer) (string, bool) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	code := ""
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return code, !isTimeout(err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			code = ga.ErrCode.String()
		}
	}
}

// security.md HTTP-07: HTTP/2 floods end in GOAWAY and a close, with the
// handlers bounded and other connections unaffected. Rapid reset (HEADERS
// then RST_STREAM, over and over) is closed once 500 streams were opened
// and most were reset, over TLS and h2c alike, and counted; a CONTINUATION
// flood and a zero WINDOW_UPDATE are protocol errors.
//
// Not parallel: it counts the process's goroutines before and after, which
// only means something while no other test runs.
func TestHTTP07HTTP2Floods(t *testing.T) {
	var handled atomic.Int32
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		io.WriteString(w, "ok")
	}))
	ca := newTestCA(t, "edge")
	cert := ca.issue("app", "app.example.com")
	g := startGW(t, map[string]string{
		"gw.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n"+
			"  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: %s\n"+
			"  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n", simpleTLS(cert)),
		"vs.yaml": vsTo(up),
	})
	goroutines := runtime.NumGoroutine()
	for _, tc := range []struct {
		name string
		port uint32
		ca   *testCA
	}{{"rapid reset over TLS", 443, ca}, {"rapid reset over h2c", 80, nil}} {
		t.Run(tc.name, func(t *testing.T) {
			fr, c := h2Attacker(t, g.srv.Addr(tc.port).String(), tc.ca)
			go func() {
				for id := uint32(1); id < 20000; id += 2 {
					if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: getBlock(), EndStream: true, EndHeaders: true}) != nil ||
						fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
						return
					}
				}
			}()
			if code, closed := waitGoAway(c, fr); code != "ENHANCE_YOUR_CALM" || !closed {
				t.Errorf("GOAWAY %q, closed %v; want ENHANCE_YOUR_CALM and a close", code, closed)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for value(t, scrape(t, g, "/metrics"), "gatehouse_http2_connections_closed_total", "reason=premature_resets") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the two connections closed for premature resets were not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := handled.Load(); n > 1200 {
		t.Errorf("%d attack streams reached the upstream", n)
	}
	t.Run("CONTINUATION flood", func(t *testing.T) {
		fr, c := h2Attacker(t, g.srv.Addr(80).String(), nil)
		go func() {
			block := getBlock()
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:1], EndStream: true}) != nil {
				return
			}
			for range 100000 {
				if fr.WriteContinuation(1, false, bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 100)) != nil {
					return
				}
			}
		}()
		if _, closed := waitGoAway(c, fr); !closed {
			t.Error("a CONTINUATION flood did not close the connection")
		}
	})
	t.Run("WINDOW_UPDATE of zero", func(t *testing.T) {
		fr, c := h2Attacker(t, g.srv.Addr(80).String(), nil)
		fr.AllowIllegalWrites = true
		if err := fr.WriteWindowUpdate(0, 0); err != nil {
			t.Fatal(err)
		}
		if code, closed := waitGoAway(c, fr); code != "PROTOCOL_ERROR" || !closed {
			t.Errorf("GOAWAY %q, closed %v; want PROTOCOL_ERROR and a close", code, closed)
		}
	})
	// Other connections were served all along, and nothing was left behind.
	if code, body, _ := g.get(80, "app.example.com", "/"); code != 200 || body != "ok" {
		t.Errorf("a normal client: %d %q", code, body)
	}
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+20 {
		t.Errorf("%d goroutines after the floods, %d before", n, goroutines)
	}
}
