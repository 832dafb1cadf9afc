// Command tlsload measures full TLS handshakes per second for bench/peers.sh's
// TLS scenario. Standard library only.
//
//	tlsload [-c 50] [-d 6s] [-sni tls.bench.test] [-host tls.bench.test]
//	        [-path /hello] [-curve x25519] [-timeout 5s] ADDR
//	tlsload -check [flags] ADDR
//
// Each of -c clients, until -d has passed: dials ADDR, completes a full
// handshake (no session cache, so never a resumption), sends one
// "GET -path HTTP/1.1" with "Connection: close", reads the whole response,
// which must be a 200, and closes. The latency is the whole of that.
// ALPN offers only http/1.1. The certificate chain is not verified (the
// bench uses a self-signed one); the server's signature still is.
//
// -curve picks the key exchange the client offers: x25519 (the default:
// what an OpenSSL 3.0 server such as Debian 12's nginx negotiates anyway,
// so both sides do the same work), p256, mlkem (X25519MLKEM768 only) or
// default (Go's own list, which a Go server answers with X25519MLKEM768).
//
// -check does one request, prints what was negotiated and the status,
// and exits 1 unless it got a 200. A run ends with the line peers.sh
// parses:
//
//	result rate=... p50_ms=... p99_ms=... errors=... ops=...
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/load"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("tlsload: ")
	c := flag.Int("c", 50, "parallel clients")
	d := flag.Duration("d", 6*time.Second, "duration")
	sni := flag.String("sni", "tls.bench.test", "server name sent in the ClientHello")
	host := flag.String("host", "", "Host header (default: -sni)")
	path := flag.String("path", "/hello", "request path")
	curve := flag.String("curve", "x25519", "key exchange offered: x25519, p256, mlkem or default")
	timeout := flag.Duration("timeout", 5*time.Second, "per-connection timeout")
	chk := flag.Bool("check", false, "one request: print what was negotiated, exit 1 unless 200")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tlsload [flags] ADDR")
		os.Exit(2)
	}
	addr := flag.Arg(0)
	if *host == "" {
		*host = *sni
	}
	cfg := &tls.Config{
		ServerName:         *sni,
		InsecureSkipVerify: true,
		NextProtos:         []string{"http/1.1"},
		MinVersion:         tls.VersionTLS12,
	}
	switch *curve {
	case "x25519":
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	case "p256":
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
	case "mlkem":
		cfg.CurvePreferences = []tls.CurveID{tls.X25519MLKEM768}
	case "default":
	default:
		log.Fatalf("unknown -curve %q", *curve)
	}
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsload\r\nConnection: close\r\n\r\n", *path, *host))

	if *chk {
		st, err := once(addr, cfg, req, *timeout)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %s alpn=%q status=200\n", tls.VersionName(st.Version), st.CurveID, tls.CipherSuiteName(st.CipherSuite), st.NegotiatedProtocol)
		return
	}
	r := load.Run(*c, *d, func(int) error {
		_, err := once(addr, cfg, req, *timeout)
		return err
	})
	fmt.Printf("tlsload: %s, %d clients, full handshake + GET %s (Host %s, SNI %s, curve %s) per connection\n",
		addr, *c, *path, *host, *sni, *curve)
	r.Report(os.Stdout, "handshakes")
}

var dialer = &net.Dialer{KeepAlive: -1}

// once does one connection: handshake, request, response, close.
func once(addr string, cfg *tls.Config, req []byte, timeout time.Duration) (tls.ConnectionState, error) {
	nc, err := dialer.Dial("tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, load.Stage("dial", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	c := tls.Client(nc, cfg)
	if err := c.Handshake(); err != nil {
		return tls.ConnectionState{}, load.Stage("handshake", err)
	}
	if _, err := c.Write(req); err != nil {
		return tls.ConnectionState{}, load.Stage("write", err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 4<<10), nil)
	if err != nil {
		return tls.ConnectionState{}, load.Stage("read", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return tls.ConnectionState{}, load.Stage("body", err)
	}
	if resp.StatusCode != http.StatusOK {
		return tls.ConnectionState{}, load.Stage("status", fmt.Errorf("%s", resp.Status))
	}
	return c.ConnectionState(), nil
}
