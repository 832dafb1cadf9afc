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

// AZ-12 (d)/(e): TCP connections are authorized with TCP semantics; a
// denied one is closed before anything is dialled.
func TestAuthzTCP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		from         string
		pass         bool
	}{
		{"DENY everything", "action: DENY\n  rules: [{}]", "", false},
		{"ALLOW ipBlocks not matching", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]", "", false},
		{"ALLOW ipBlocks matching", "rules: [{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]", "", true},
		// An HTTP-only field on TCP: an ALLOW rule using it is dropped, a
		// DENY rule ignores it and denies every connection.
		{"ALLOW methods", `rules: [{to: [{operation: {methods: [GET]}}]}]`, "", false},
		{"DENY methods", "action: DENY\n  rules: [{to: [{operation: {methods: [GET]}}]}]", "", false},
		{"DENY remoteIpBlocks, that client", "action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [127.0.0.2]}}]}]", "127.0.0.2", false},
		{"DENY remoteIpBlocks, another client", "action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [127.0.0.2]}}]}]", "127.0.0.3", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			accepted := make(chan struct{}, 1)
			cfg := tcpConfig(rawUpstream(t, func(c net.Conn) {
				defer c.Close()
				accepted <- struct{}{}
				io.Copy(c, c)
			}))
			cfg["ap.yaml"] = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: tcp, namespace: istio-system}\nspec:\n  " + tc.policy + "\n"
			g := startGW(t, cfg)
			got, err := azTCPEcho(g.srv.Addr(9000).String(), tc.from, "ping")
			if tc.pass {
				if got != "ping" {
					t.Fatalf("allowed connection echoed %q, %v; want ping", got, err)
				}
				<-accepted
				return
			}
			if got != "" {
				t.Errorf("denied connection got %q, want it closed without data", got)
			}
			select {
			case <-accepted:
				t.Error("a denied connection reached the upstream")
			default: // the gateway decides before dialling, and closes after
			}
		})
	}
}

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

// A MUTUAL server's client certificate gives the peer principal (its
// SPIFFE URI SAN) that principals and namespaces match.
func TestAuthzMutualTLSPrincipals(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "mesh")
	server := ca.issue("server", "m.example.com")
	ch := make(chan seen, 1)
	g := startGW(t, map[string]string{
		"gw.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [m.example.com]
    tls: {mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}
`, server.CertFile, server.KeyFile, ca.File),
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [m.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, upstream(t, recorder(ch))),
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mtls, namespace: istio-system}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/client"]}}]
  - from: [{source: {namespaces: ["ops"]}}]
    to: [{operation: {paths: ["/ops/*"]}}]
`,
	})
	addr := g.srv.Addr(443).String()
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
		cert := azIssueURI(t, ca, tc.uri)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.Pool, ServerName: "m.example.com", Certificates: []tls.Certificate{cert},
		}}}
		req, _ := http.NewRequest("GET", "https://"+addr+tc.path, nil)
		req.Host = "m.example.com"
		req.Header.Set("X-Forwarded-Client-Cert", "URI=spiffe://cluster.local/ns/default/sa/admin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		client.CloseIdleConnections()
		want := map[int]string{200: "ok", 403: "RBAC: access denied"}[tc.code]
		if resp.StatusCode != tc.code || string(body) != want {
			t.Errorf("%s: %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.code, want)
		}
		if resp.StatusCode == 200 {
			// SANITIZE_SET: the client's header is replaced by the gateway's.
			xfcc := (<-ch).Header.Values("X-Forwarded-Client-Cert")
			if len(xfcc) != 1 || !strings.HasPrefix(xfcc[0], "Hash=") || !strings.Contains(xfcc[0], ";URI="+tc.uri) ||
				!strings.Contains(xfcc[0], `;Cert="-----BEGIN%20CERTIFICATE-----%0A`) || strings.Contains(xfcc[0], "sa/admin") {
				t.Errorf("%s: upstream X-Forwarded-Client-Cert %q", tc.name, xfcc)
			}
		} else {
			azNothing(t, ch, tc.name)
		}
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
