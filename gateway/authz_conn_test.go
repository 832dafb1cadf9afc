package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// azTCPEcho sends msg from the local address from, half-closes, and
// returns everything read until the gateway closes.
func azTCPEcho(addr, from, msg string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// azMTLS is a gateway with a MUTUAL server for m.example.com on port 443,
// routing to a recorder, under the ALLOW rules given as YAML.
type azMTLS struct {
	g  *gw
	ca *testCA
	ch chan seen
}

func newAzMTLS(t *testing.T, rules string) *azMTLS {
	t.Helper()
	m := &azMTLS{ca: newTestCA(t, "mesh"), ch: make(chan seen, 1)}
	server := m.ca.issue("server", "m.example.com")
	m.g = startGW(t, map[string]string{
		"gw.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [m.example.com]
    tls: {mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}
`, server.CertFile, server.KeyFile, m.ca.File),
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [m.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, startUpstream(t, recorder(m.ch))),
		"ap.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: mtls, namespace: istio-system}\nspec:\n  rules:\n" + rules,
	})
	return m
}

// get sends GET path with a client certificate whose only SAN is uri (none
// when ""), and a forged X-Forwarded-Client-Cert. It checks that the
// answer is 200 "ok" or 403 "RBAC: access denied" as code says, and that
// only an allowed request reached the upstream, and returns what it saw.
func (m *azMTLS) get(t *testing.T, uri, path string, code int) (seen, bool) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: m.ca.Pool, ServerName: "m.example.com", Certificates: []tls.Certificate{azIssueURI(t, m.ca, uri)},
	}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+m.g.srv.Addr(443).String()+path, nil)
	req.Host = "m.example.com"
	req.Header.Set("X-Forwarded-Client-Cert", "URI=spiffe://cluster.local/ns/default/sa/admin")
	got, body, _ := doWith(t, client, req)
	want := map[int]string{200: "ok", 403: "RBAC: access denied"}[code]
	if got != code || body != want {
		t.Errorf("%s on %s: %d %q, want %d %q", uri, path, got, body, code, want)
	}
	if got == 200 {
		return <-m.ch, true
	}
	azNothing(t, m.ch, uri+" on "+path)
	return seen{}, false
}

// A MUTUAL server's client certificate gives the peer principal (its
// SPIFFE URI SAN) that principals and namespaces match.
func TestAuthzMutualTLSPrincipals(t *testing.T) {
	t.Parallel()
	m := newAzMTLS(t, `  - from: [{source: {principals: ["cluster.local/ns/default/sa/client"]}}]
  - from: [{source: {namespaces: ["ops"]}}]
    to: [{operation: {paths: ["/ops/*"]}}]
`)
	tests := []struct {
		name, uri, path string
		code            int
	}{
		{"the allowed principal", "spiffe://cluster.local/ns/default/sa/client", "/", 200},
		{"another principal", "spiffe://cluster.local/ns/default/sa/other", "/", 403},
		{"another trust domain", "spiffe://evil.example/ns/default/sa/client", "/", 403},
		{"a certificate without a SPIFFE URI", "", "/", 403},
		{"namespace ops on its paths", "spiffe://cluster.local/ns/ops/sa/robot", "/ops/run", 200},
		{"namespace ops elsewhere", "spiffe://cluster.local/ns/ops/sa/robot", "/", 403},
	}
	for _, tc := range tests {
		s, ok := m.get(t, tc.uri, tc.path, tc.code)
		if !ok {
			continue
		}
		// SANITIZE_SET: the client's header is replaced by the gateway's.
		xfcc := s.Header.Values("X-Forwarded-Client-Cert")
		if len(xfcc) != 1 || !strings.HasPrefix(xfcc[0], "Hash=") || !strings.Contains(xfcc[0], ";URI="+tc.uri) ||
			!strings.Contains(xfcc[0], `;Cert="-----BEGIN%20CERTIFICATE-----%0A`) || strings.Contains(xfcc[0], "sa/admin") {
			t.Errorf("%s: upstream X-Forwarded-Client-Cert %q", tc.name, xfcc)
		}
	}
}

// azLiteralPeerPatterns is security.md AZ-12 (f) for peer identities:
// dots and ".*" in principals and namespaces are literal characters.
func azLiteralPeerPatterns(t *testing.T) {
	t.Parallel()
	m := newAzMTLS(t, `  - from: [{source: {principals: ["cluster.local/ns/a.b/sa/x"]}}]
    to: [{operation: {paths: ["/principal"]}}]
  - from: [{source: {namespaces: [".*"]}}]
    to: [{operation: {paths: ["/namespace"]}}]
  - from: [{source: {principals: ["cluster.local/ns/team.*"]}}]
    to: [{operation: {paths: ["/prefix"]}}]
`)
	tests := []struct {
		uri, path string
		code      int
	}{
		{"spiffe://cluster.local/ns/a.b/sa/x", "/principal", 200},
		{"spiffe://cluster.local/ns/aXb/sa/x", "/principal", 403},
		{"spiffe://cluster.local/ns/foo/sa/x", "/namespace", 403},
		{"spiffe://cluster.local/ns/team.a/sa/x", "/prefix", 200},
		{"spiffe://cluster.local/ns/teamXa/sa/x", "/prefix", 403},
	}
	for _, tc := range tests {
		m.get(t, tc.uri, tc.path, tc.code)
	}
}

// azIssueURI issues a client certificate from ca whose only SAN is the
// URI uri (none when uri is "").
func azIssueURI(t *testing.T, ca *testCA, uri string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "workload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
