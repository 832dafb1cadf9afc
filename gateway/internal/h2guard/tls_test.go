package h2guard

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// stateConn is a fakeConn with TLS state.
type stateConn struct {
	*fakeConn
	state tls.ConnectionState
}

func (s stateConn) ConnectionState() tls.ConnectionState { return s.state }

func TestForServer(t *testing.T) {
	state := tls.ConnectionState{Version: tls.VersionTLS13, ServerName: "a"}
	tests := []struct {
		name    string
		wrapped net.Conn
		tls     bool
	}{
		{"plaintext", newFake(), false},
		{"TLS", stateConn{newFake(), state}, true},
	}
	for _, tt := range tests {
		g := New(tt.wrapped, Limits{}, nil)
		c := g.ForServer()
		cs, ok := c.(connectionStater)
		if ok != tt.tls {
			t.Errorf("%s: ForServer's conn has ConnectionState: %v, want %v", tt.name, ok, tt.tls)
		}
		if !ok {
			if c != net.Conn(g) {
				t.Errorf("%s: ForServer returned %T, want the guard", tt.name, c)
			}
			continue
		}
		if got := cs.ConnectionState(); got.Version != state.Version || got.ServerName != "a" {
			t.Errorf("%s: ConnectionState() = %+v", tt.name, got)
		}
	}
	if got := (&TLSConn{New(newFake(), Limits{}, nil)}).ConnectionState(); got.Version != 0 {
		t.Errorf("a TLSConn over plaintext has TLS state %+v, want the zero value", got)
	}
}

// selfSigned returns a certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveXNetTLS serves h with x/net's ServeConn over TLS with ALPN h2,
// behind guards of the TLS connections. The handler sees no request
// without TLS state.
func serveXNetTLS(t *testing.T, h http.Handler) *guardListener {
	t.Helper()
	l := listen(t)
	l.tls = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"h2"}}
	return serveXNetOn(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.NegotiatedProtocol != "h2" {
			http.Error(w, "no TLS state", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	}))
}

// clientTLS is the clients' TLS configuration.
var clientTLS = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}

// TestXNetTLSRapidReset runs the attack over TLS: the client's first
// bytes after the handshake are the preface.
func TestXNetTLSRapidReset(t *testing.T) {
	var calls atomic.Int32
	l := serveXNetTLS(t, counted(&calls))
	c, err := tls.Dial("tcp", l.Addr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h := startH2(t, c, bufio.NewReader(c))
	checkAttacked(t, h, l, h.rapidResets(1, 1000), 999, &calls)
}

// TestXNetTLSWellBehaved sends sequential GETs over TLS: the handler sees
// the TLS state through the guard, and the guard closes nothing.
func TestXNetTLSWellBehaved(t *testing.T) {
	var calls atomic.Int32
	l := serveXNetTLS(t, counted(&calls))
	tr := &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	getN(t, c, "https://"+l.Addr().String()+"/", 600)
	resp, err := c.Get("https://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("the client spoke %s, want HTTP/2", resp.Proto)
	}
	if g := <-l.conns; !g.Active() {
		t.Error("the guard did not see HTTP/2")
	}
	l.noClose(t)
}
