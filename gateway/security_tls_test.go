package gateway

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// security.md TLS-01: version floor. Below TLS 1.2 the handshake fails
// with a protocol_version alert, both under minProtocolVersion TLSV1_2
// and with no version set (TLS_AUTO), and even with GODEBUG=tls10server=1,
// which brings back Go's old 1.0 server default: the floor is set
// explicitly. TLS 1.2 and 1.3 are served. A renegotiation attempt (a
// ClientHello sent inside an established TLS 1.2 session, as openssl
// s_client's "R" does) gets an alert and the connection is closed.
func TestTLS01VersionFloor(t *testing.T) {
	ca := newTestCA(t, "edge")
	c, d := ca.issue("v", "v.example.com"), ca.issue("d", "d.example.com")
	g := startGW(t, httpsGateway(t, map[string]string{
		"v.example.com": fmt.Sprintf("{mode: SIMPLE, serverCertificate: %s, privateKey: %s, minProtocolVersion: TLSV1_2}", c.CertFile, c.KeyFile),
		"d.example.com": simpleTLS(d),
	}))
	addr := g.srv.Addr(443).String()
	check := func(godebug string) {
		t.Helper()
		for _, sni := range []string{"v.example.com", "d.example.com"} {
			for _, tc := range []struct {
				version uint16
				ok      bool
			}{
				{tls.VersionTLS10, false}, {tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true},
			} {
				cfg := &tls.Config{MinVersion: tc.version, MaxVersion: tc.version}
				_, body, err := tlsGet(t, addr, sni, cfg)
				switch {
				case tc.ok && (err != nil || body != sni):
					t.Errorf("%s%s with %s: %q %v, want served", godebug, sni, tls.VersionName(tc.version), body, err)
				case !tc.ok && err == nil:
					t.Errorf("%s%s: a %s client completed a handshake", godebug, sni, tls.VersionName(tc.version))
				case !tc.ok && !strings.Contains(err.Error(), "protocol version"):
					t.Errorf("%s%s with %s: %v, want a protocol_version alert", godebug, sni, tls.VersionName(tc.version), err)
				}
			}
		}
	}
	check("")
	t.Setenv("GODEBUG", "tls10server=1")
	check("GODEBUG=tls10server=1: ")

	// unexpected_message (10) or no_renegotiation (100); bad_record_mac
	// (20) would mean the server never read the ClientHello.
	alert, closed, err := tls01Renegotiate(addr, "v.example.com")
	if err != nil || (alert != 10 && alert != 100) || !closed {
		t.Errorf("renegotiation: alert %d, closed %v, err %v; want unexpected_message or no_renegotiation, then the close", alert, closed, err)
	}
}

// tls01Wire records the bytes a TLS client reads, to find the server
// random in the ServerHello (crypto/tls does not expose it).
type tls01Wire struct {
	net.Conn
	read []byte
}

func (w *tls01Wire) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if len(w.read) < 64 {
		w.read = append(w.read, p[:n]...)
	}
	return n, err
}

// tls01PRF is the TLS 1.2 PRF with SHA-256 (RFC 5246 section 5).
func tls01PRF(secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	mac := func(parts ...[]byte) []byte {
		h := hmac.New(sha256.New, secret)
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	var out []byte
	for a := mac(ls); len(out) < n; a = mac(a) {
		out = append(out, mac(a, ls)...)
	}
	return out[:n]
}

// tls01Renegotiate completes a TLS 1.2 handshake with AES-128-GCM, then
// sends a ClientHello as the next encrypted handshake record, as a client
// starting a renegotiation does (the keys come from the session's key log
// and the randoms). It returns the description of the alert the server
// answers with and whether the server then closed the connection,
// sending nothing but alerts.
func tls01Renegotiate(addr, sni string) (byte, bool, error) {
	raw, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, false, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	wire := &tls01Wire{Conn: raw}
	var keylog strings.Builder
	c := tls.Client(wire, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, KeyLogWriter: &keylog})
	if err := c.Handshake(); err != nil {
		return 0, false, err
	}
	f := strings.Fields(keylog.String()) // CLIENT_RANDOM <client random> <master secret>
	if len(f) != 3 || len(wire.read) < 43 {
		return 0, false, fmt.Errorf("no key log (%q) or ServerHello (%d bytes)", keylog.String(), len(wire.read))
	}
	clientRandom, _ := hex.DecodeString(f[1])
	master, _ := hex.DecodeString(f[2])
	serverRandom := wire.read[11:43] // record header, handshake header, version
	kb := tls01PRF(master, "key expansion", append(append([]byte{}, serverRandom...), clientRandom...), 40)
	block, _ := aes.NewCipher(kb[:16])
	aead, _ := cipher.NewGCM(block)
	hello := append([]byte{1, 0, 0, 41, 3, 3}, make([]byte, 32)...) // ClientHello, TLS 1.2, a zero random
	hello = append(hello, 0, 0, 2, 0xC0, 0x2B, 1, 0)                // no session id, one suite, null compression
	seq := []byte{0, 0, 0, 0, 0, 0, 0, 1}                           // the Finished was record 0
	aad := append(append(append([]byte{}, seq...), 22, 3, 3), 0, byte(len(hello)))
	sealed := aead.Seal(append([]byte{}, seq...), append(append([]byte{}, kb[32:36]...), seq...), hello, aad)
	raw.Write(append([]byte{22, 3, 3, byte(len(sealed) >> 8), byte(len(sealed))}, sealed...))
	head := make([]byte, 5)
	if _, err := io.ReadFull(raw, head); err != nil {
		return 0, false, err
	}
	if head[0] != 21 {
		return 0, false, fmt.Errorf("answered with a record of type %d, not an alert", head[0])
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(raw, body); err != nil || len(body) < 8 {
		return 0, false, fmt.Errorf("reading the alert: %v", err)
	}
	// The server's alert, sealed with its key: its record 1 after the Finished.
	block, _ = aes.NewCipher(kb[16:32])
	aead, _ = cipher.NewGCM(block)
	aad = append(append(append([]byte{}, seq...), 21, 3, 3), 0, 2)
	alert, err := aead.Open(nil, append(append([]byte{}, kb[36:40]...), body[:8]...), body[8:], aad)
	if err != nil || len(alert) != 2 {
		return 0, false, fmt.Errorf("opening the alert: %v", err)
	}
	// After the alert, at most more alerts (close_notify), then EOF.
	rest, err := io.ReadAll(raw)
	for len(rest) >= 5 && rest[0] == 21 {
		rest = rest[min(len(rest), 5+(int(rest[3])<<8|int(rest[4]))):]
	}
	return alert[1], err == nil && len(rest) == 0, nil
}

// tls03Request sends a GET for host over TLS with the given SNI ("" sends
// none) and client certificate (nil for none). It returns the status line,
// or the error of the handshake or of the first read.
func tls03Request(addr, sni, host string, cert *issued) (string, error) {
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	resp, _ := io.ReadAll(br)
	return strings.TrimSpace(line) + " " + string(resp[strings.LastIndex(string(resp), "\n")+1:]), nil
}

// security.md TLS-03: SNI normalization, and no SNI. admin.example.com
// requires a client certificate (MUTUAL). Its name in any case, and with a
// trailing dot, selects that policy; no SNI, or an IP literal as SNI,
// selects the default server ("*", SIMPLE) or, without one, fails the
// handshake, and a request there for the admin host is 421, never the
// admin routes without a certificate. Real handshakes cover what a Go
// client sends (it drops a trailing dot and never sends an IP as SNI);
// the served configuration's GetConfigForClient covers raw names.
func TestTLS03SNINormalization(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	adm, pub, www := ca.issue("admin", "admin.example.com"), ca.issue("public", "public.example.com"), ca.issue("www", "www.example.com")
	client := ca.issue("client", "client.example.com")
	mutual := fmt.Sprintf("{mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}", adm.CertFile, adm.KeyFile, ca.File)
	withStar := startGW(t, httpsGateway(t, map[string]string{"admin.example.com": mutual, `"*"`: simpleTLS(pub)}))
	noStar := startGW(t, httpsGateway(t, map[string]string{"admin.example.com": mutual, "www.example.com": simpleTLS(www)}))
	for _, g := range []*gw{withStar, noStar} {
		addr := g.srv.Addr(443).String()
		for _, sni := range []string{"admin.example.com", "ADMIN.example.com", "Admin.Example.COM", "admin.example.com."} {
			if line, err := tls03Request(addr, sni, "admin.example.com", nil); err == nil {
				t.Errorf("SNI %q without a client certificate: %q, want the handshake refused", sni, line)
			}
			if line, err := tls03Request(addr, sni, "admin.example.com", &client); err != nil || line != "HTTP/1.1 200 OK admin.example.com" {
				t.Errorf("SNI %q with a client certificate: %q %v, want 200 from admin", sni, line, err)
			}
		}
		for _, sni := range []string{"", "127.0.0.1"} {
			line, err := tls03Request(addr, sni, "admin.example.com", nil)
			switch {
			case g == noStar && err == nil:
				t.Errorf("no default server, SNI %q: %q, want the handshake refused", sni, line)
			case g == withStar && (err != nil || !strings.HasPrefix(line, "HTTP/1.1 421")):
				t.Errorf("default server, SNI %q, Host admin.example.com: %q %v, want 421", sni, line, err)
			}
		}
	}

	// The served configuration, by raw SNI.
	for _, tc := range []struct {
		g       *gw
		sni     string
		cert    string // "" when the handshake is refused
		require bool   // a client certificate is required
	}{
		{withStar, "admin.example.com", "admin", true},
		{withStar, "ADMIN.EXAMPLE.COM.", "admin", true},
		{withStar, "admin.example.com.", "admin", true},
		{withStar, "", "public", false},
		{withStar, "127.0.0.1", "public", false},
		{withStar, "::1", "public", false},
		{noStar, "Admin.Example.Com.", "admin", true},
		{noStar, "", "", false},
		{noStar, "127.0.0.1", "", false},
	} {
		var got *tls.Config
		var err error
		for _, lc := range tc.g.srv.snap.Load().Listeners {
			if lc.TLS != nil {
				got, err = lc.TLS.GetConfigForClient(&tls.ClientHelloInfo{ServerName: tc.sni})
			}
		}
		switch {
		case tc.cert == "" && got != nil:
			t.Errorf("SNI %q: a configuration for %s, want none", tc.sni, got.Certificates[0].Leaf.Subject.CommonName)
		case tc.cert == "":
		case err != nil || got == nil:
			t.Errorf("SNI %q: %v, want the %s server", tc.sni, err, tc.cert)
		case got.Certificates[0].Leaf.Subject.CommonName != tc.cert || (got.ClientAuth == tls.RequireAndVerifyClientCert) != tc.require:
			t.Errorf("SNI %q: server %s, client auth %v; want %s, required=%v", tc.sni, got.Certificates[0].Leaf.Subject.CommonName, got.ClientAuth, tc.cert, tc.require)
		}
	}
}
