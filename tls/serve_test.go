package tls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testServer is a TLS listener on 127.0.0.1:0 that takes its configuration
// from the current Store, as the gateway does. Each connection completes
// the handshake and gets one line naming the selected server (via
// Store.Server on the negotiated SNI) and the client certificate's CN.
type testServer struct {
	addr  string
	store atomic.Pointer[Store]
}

func startServer(t *testing.T, st *Store) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.store.Store(st)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	tl := tls.NewListener(l, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			return ts.store.Load().GetConfigForClient(h)
		},
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { ts.handle(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return ts
}

func (ts *testServer) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tc := c.(*tls.Conn)
	if err := tc.Handshake(); err != nil {
		return
	}
	cs := tc.ConnectionState()
	i, _ := ts.store.Load().Server(cs.ServerName)
	peer := "-"
	if len(cs.PeerCertificates) > 0 {
		peer = cs.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(c, "server=%d peer=%s\n", i, peer)
}

// dial handshakes with addr and reads the server's line. With TLS 1.3 a
// rejected client certificate only shows up on that read.
func dial(addr string, cfg *tls.Config) (string, tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	cs := conn.ConnectionState()
	if err == nil && len(b) == 0 {
		err = io.ErrUnexpectedEOF
	}
	return string(b), cs, err
}

// clientCfg trusts the test CA, sends sni and presents cert if not nil.
func (p *pki) clientCfg(sni string, cert *files) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	cfg := &tls.Config{RootCAs: pool, ServerName: sni}
	if cert != nil {
		// GetClientCertificate sends the certificate even when its CA is not
		// among the server's acceptable CAs, as a hostile client would.
		c := &tls.Certificate{Certificate: [][]byte{cert.leaf.Raw}, PrivateKey: cert.keyObj, Leaf: cert.leaf}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c, nil }
	}
	return cfg
}

// mustStore builds a Store and fails the test on any error, warnings included.
func mustStore(t *testing.T, servers ...ServerSettings) *Store {
	t.Helper()
	st, errs := NewStore(servers)
	if len(errs) > 0 || st == nil {
		t.Fatalf("NewStore: %v", errs)
	}
	return st
}
