package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// tlsServers is a Gateway whose port 443 has one HTTPS server per entry
// (host and tls block, in order), each routed by a VirtualService to up.
func tlsServers(t *testing.T, up http.Handler, servers ...[2]string) map[string]string {
	t.Helper()
	port := startUpstream(t, up)
	var gw, vs strings.Builder
	gw.WriteString("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n")
	for i, s := range servers {
		fmt.Fprintf(&gw, "  - port: {number: 443, name: https-%d, protocol: HTTPS}\n    hosts: [%s]\n    tls: %s\n", i, s[0], s[1])
		fmt.Fprintf(&vs, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%d}\nspec:\n  hosts: [%s]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", i, s[0], port)
	}
	return map[string]string{"gw.yaml": gw.String(), "vs.yaml": vs.String()}
}

// countingHosts answers with the request's Host and counts requests.
type countingHosts struct{ n atomic.Int32 }

func (c *countingHosts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	fmt.Fprint(w, r.Host)
}

// httpsResult is what a client saw of one HTTPS request.
type httpsResult struct {
	code int
	body string
	tls  tls.ConnectionState
	err  error
}

// httpsDo sends GET https://sni/ to addr over HTTP/1.1, verifying the
// gateway's certificate against roots, with the client's other TLS
// settings from cfg.
func httpsDo(t *testing.T, addr, sni string, roots *tls.Config, cfg *tls.Config) httpsResult {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName, cfg.RootCAs = sni, roots.RootCAs
	tr := &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + sni + "/")
	if err != nil {
		return httpsResult{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return httpsResult{code: resp.StatusCode, body: string(body), tls: *resp.TLS, err: err}
}

// withCert makes a client that presents c whatever CAs the server names,
// as a hostile client would.
func withCert(c issued) *tls.Config {
	return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.TLS, nil }}
}

// Gateway tls.cipherSuites: a TLS 1.2 client offering only suites outside
// the list cannot connect; one offering a listed suite among others
// connects with that suite. Another server on the same port, without the
// setting, accepts the first client, so the refusal is the setting's.
func TestE2EGatewayCipherSuites(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	cert := ca.issue("edge", "suites.example.com", "open.example.com")
	up := &countingHosts{}
	g := startGW(t, tlsServers(t, up,
		[2]string{"suites.example.com", fmt.Sprintf("{mode: SIMPLE, serverCertificate: %s, privateKey: %s, cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384]}", cert.CertFile, cert.KeyFile)},
		[2]string{"open.example.com", simpleTLS(cert)},
	))
	addr := g.srv.Addr(443).String()
	roots := &tls.Config{RootCAs: ca.Pool}
	unlisted := func() *tls.Config {
		return &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	}

	if r := httpsDo(t, addr, "suites.example.com", roots, unlisted()); r.err == nil {
		t.Errorf("client offering only an unlisted suite: %d %q with %s, want the handshake refused",
			r.code, r.body, tls.CipherSuiteName(r.tls.CipherSuite))
	} else if !strings.Contains(r.err.Error(), "handshake failure") {
		t.Errorf("client offering only an unlisted suite: %v, want a handshake failure alert", r.err)
	}
	r := httpsDo(t, addr, "suites.example.com", roots, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	}})
	if r.err != nil || r.code != 200 || r.body != "suites.example.com" {
		t.Fatalf("client offering the listed suite: %d %q %v, want 200", r.code, r.body, r.err)
	}
	if r.tls.Version != tls.VersionTLS12 || r.tls.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Errorf("negotiated %s with %s, want TLS 1.2 with TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
			tls.VersionName(r.tls.Version), tls.CipherSuiteName(r.tls.CipherSuite))
	}
	if r := httpsDo(t, addr, "open.example.com", roots, unlisted()); r.err != nil || r.code != 200 {
		t.Errorf("server without cipherSuites: %d %v, want 200", r.code, r.err)
	}
	if n := up.n.Load(); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
}

// Gateway tls.maxProtocolVersion TLSV1_2: a client able to speak TLS 1.3
// negotiates TLS 1.2; a server without it negotiates TLS 1.3.
func TestE2EGatewayMaxProtocolVersion(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	cert := ca.issue("edge", "v12.example.com", "auto.example.com")
	g := startGW(t, tlsServers(t, &countingHosts{},
		[2]string{"v12.example.com", fmt.Sprintf("{mode: SIMPLE, serverCertificate: %s, privateKey: %s, maxProtocolVersion: TLSV1_2}", cert.CertFile, cert.KeyFile)},
		[2]string{"auto.example.com", simpleTLS(cert)},
	))
	addr := g.srv.Addr(443).String()
	roots := &tls.Config{RootCAs: ca.Pool}
	for _, tc := range []struct {
		sni  string
		want uint16
	}{{"v12.example.com", tls.VersionTLS12}, {"auto.example.com", tls.VersionTLS13}} {
		r := httpsDo(t, addr, tc.sni, roots, &tls.Config{MaxVersion: tls.VersionTLS13})
		if r.err != nil || r.code != 200 || r.body != tc.sni {
			t.Errorf("%s: %d %q %v, want 200", tc.sni, r.code, r.body, r.err)
			continue
		}
		if r.tls.Version != tc.want {
			t.Errorf("%s: negotiated %s, want %s", tc.sni, tls.VersionName(r.tls.Version), tls.VersionName(tc.want))
		}
	}
}

// Client certificate checks of MUTUAL and OPTIONAL_MUTUAL servers:
// subjectAltNames, SPKI and certificate hash pins, and an unknown CA. A
// refused client fails at the TLS handshake, never reaching the upstream.
func TestE2EGatewayClientCertificateChecks(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	server := ca.issue("edge", "san.example.com", "spki.example.com", "hash.example.com", "opt.example.com", "optsan.example.com")
	good := ca.issue("good-client", "client.example.com")
	other := ca.issue("other-client", "other.example.com")
	stranger := newTestCA(t, "stranger").issue("stranger", "client.example.com")

	spki := sha256.Sum256(good.Leaf.RawSubjectPublicKeyInfo)
	hash := sha256.Sum256(good.Leaf.Raw)
	var colons []string
	for _, b := range hash {
		colons = append(colons, fmt.Sprintf("%02X", b))
	}
	block := func(mode, extra string) string {
		return fmt.Sprintf("{mode: %s, serverCertificate: %s, privateKey: %s, caCertificates: %s%s}", mode, server.CertFile, server.KeyFile, ca.File, extra)
	}
	up := &countingHosts{}
	g := startGW(t, tlsServers(t, up,
		[2]string{"san.example.com", block("MUTUAL", ", subjectAltNames: [client.example.com]")},
		[2]string{"spki.example.com", block("MUTUAL", fmt.Sprintf(", verifyCertificateSpki: [%q]", base64.StdEncoding.EncodeToString(spki[:])))},
		[2]string{"hash.example.com", block("MUTUAL", fmt.Sprintf(", verifyCertificateHash: [%q]", strings.Join(colons, ":")))},
		[2]string{"opt.example.com", block("OPTIONAL_MUTUAL", "")},
		[2]string{"optsan.example.com", block("OPTIONAL_MUTUAL", ", subjectAltNames: [client.example.com]")},
	))
	addr := g.srv.Addr(443).String()
	roots := &tls.Config{RootCAs: ca.Pool}

	tests := []struct {
		name, sni string
		client    *issued
		ok        bool
	}{
		{"SAN matches", "san.example.com", &good, true},
		{"SAN does not match", "san.example.com", &other, false},
		{"SAN matches but unknown CA", "san.example.com", &stranger, false},
		{"SAN server without a certificate", "san.example.com", nil, false},
		{"SPKI pin matches", "spki.example.com", &good, true},
		{"SPKI pin does not match", "spki.example.com", &other, false},
		{"hash pin matches", "hash.example.com", &good, true},
		{"hash pin does not match", "hash.example.com", &other, false},
		{"optional without a certificate", "opt.example.com", nil, true},
		{"optional with a trusted certificate", "opt.example.com", &other, true},
		{"optional with an unknown CA", "opt.example.com", &stranger, false},
		{"optional SAN without a certificate", "optsan.example.com", nil, true},
		{"optional SAN matches", "optsan.example.com", &good, true},
		{"optional SAN does not match", "optsan.example.com", &other, false},
	}
	want := int32(0)
	for _, tc := range tests {
		var cfg *tls.Config
		if tc.client != nil {
			cfg = withCert(*tc.client)
		}
		before := up.n.Load()
		r := httpsDo(t, addr, tc.sni, roots, cfg)
		switch {
		case tc.ok && (r.err != nil || r.code != 200 || r.body != tc.sni):
			t.Errorf("%s: %d %q %v, want 200 %q", tc.name, r.code, r.body, r.err, tc.sni)
		case !tc.ok && r.err == nil:
			t.Errorf("%s: %d %q, want the handshake refused", tc.name, r.code, r.body)
		case !tc.ok && !strings.Contains(r.err.Error(), "tls: "):
			t.Errorf("%s: %v, want a TLS alert", tc.name, r.err)
		}
		if tc.ok {
			want++
		} else if up.n.Load() != before {
			t.Errorf("%s: a refused client reached the upstream", tc.name)
		}
	}
	if n := up.n.Load(); n != want {
		t.Errorf("upstream saw %d requests, want %d", n, want)
	}
}

// upstreamRoute is a Gateway on port 80 routing everything to svc.internal,
// a ServiceEntry for it on port, and a DestinationRule with trafficPolicy.
func upstreamRoute(port uint32, trafficPolicy string) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("svc", "svc.internal", fmt.Sprint(port)),
		"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc}\nspec:\n  host: svc.internal\n  trafficPolicy:\n" + trafficPolicy,
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: svc.internal}}]\n",
	}
}

// DestinationRule tls.subjectAltNames replace the host name check of the
// upstream certificate: a certificate that does not name svc.internal is
// accepted when it carries a listed SAN, and refused (503, the upstream
// never reached) when it carries none or does not chain to the CA.
func TestE2EUpstreamSubjectAltNames(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "upstream")
	server := ca.issue("backend", "backend.mesh.internal")
	client := ca.issue("gatehouse", "gatehouse.mesh.internal")
	strangerCA := newTestCA(t, "stranger")
	var hits atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		who := "anonymous"
		if len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprint(w, who)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	ts.StartTLS()
	t.Cleanup(ts.Close)
	port := portOf(t, ts.Listener.Addr())
	mutual := fmt.Sprintf("clientCertificate: %s, privateKey: %s, ", client.CertFile, client.KeyFile)
	for _, tc := range []struct{ name, tls, want string }{
		{"host name check without subjectAltNames", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", ca.File), ""},
		{"simple with the SAN", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, subjectAltNames: [other.mesh.internal, backend.mesh.internal]}", ca.File), "anonymous"},
		{"simple without the SAN", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, subjectAltNames: [other.mesh.internal]}", ca.File), ""},
		{"simple with the SAN from an unknown CA", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, subjectAltNames: [backend.mesh.internal]}", strangerCA.File), ""},
		{"mutual with the SAN", fmt.Sprintf("{mode: MUTUAL, %scaCertificates: %s, subjectAltNames: [backend.mesh.internal]}", mutual, ca.File), "gatehouse"},
		{"mutual without the SAN", fmt.Sprintf("{mode: MUTUAL, %scaCertificates: %s, subjectAltNames: [other.mesh.internal]}", mutual, ca.File), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGW(t, upstreamRoute(port, "    tls: "+tc.tls+"\n"))
			before := hits.Load()
			code, body, _ := g.get(80, "", "/")
			if tc.want != "" {
				if code != 200 || body != tc.want {
					t.Errorf("got %d %q, want 200 %q", code, body, tc.want)
				}
				return
			}
			if code != 503 || body != proxy.BodyConnect {
				t.Errorf("got %d %q, want 503 %q", code, body, proxy.BodyConnect)
			}
			if hits.Load() != before {
				t.Error("the upstream was reached through a refused handshake")
			}
		})
	}
}

// connectionPool.http.h2UpgradePolicy UPGRADE speaks HTTP/2 to the
// upstream (prior knowledge over plaintext, ALPN over TLS) for HTTP/1.1
// clients; DO_NOT_UPGRADE, DEFAULT, no policy and useClientProtocol keep
// HTTP/1.1.
func TestE2EH2UpgradePolicy(t *testing.T) {
	t.Parallel()
	proto := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) })
	h2cPort := startUpstream(t, h2c.NewHandler(proto, &http2.Server{}))

	ca := newTestCA(t, "upstream")
	ts := httptest.NewUnstartedServer(proto)
	ts.EnableHTTP2 = true
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue("svc", "svc.internal").TLS}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	tlsPort := portOf(t, ts.Listener.Addr())
	upstreamTLS := fmt.Sprintf("    tls: {mode: SIMPLE, caCertificates: %s}\n", ca.File)

	for _, tc := range []struct {
		name   string
		port   uint32
		policy string
		want   string
	}{
		{"h2c UPGRADE", h2cPort, "    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}\n", "HTTP/2.0"},
		{"h2c DO_NOT_UPGRADE", h2cPort, "    connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}\n", "HTTP/1.1"},
		{"h2c DEFAULT", h2cPort, "    connectionPool: {http: {h2UpgradePolicy: DEFAULT}}\n", "HTTP/1.1"},
		{"h2c no policy", h2cPort, "    connectionPool: {http: {maxRetries: 3}}\n", "HTTP/1.1"},
		{"h2c UPGRADE with useClientProtocol", h2cPort, "    connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}}\n", "HTTP/1.1"},
		{"TLS UPGRADE", tlsPort, upstreamTLS + "    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}\n", "HTTP/2.0"},
		{"TLS DO_NOT_UPGRADE", tlsPort, upstreamTLS + "    connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}\n", "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGW(t, upstreamRoute(tc.port, tc.policy))
			for i := range 2 {
				if code, body, _ := g.get(80, "", "/"); code != 200 || body != tc.want {
					t.Errorf("request %d: got %d %q, want 200 %q", i, code, body, tc.want)
				}
			}
		})
	}
}

// connectionPool.http.idleTimeout: gatehouse closes an upstream connection
// once it has been idle that long (the upstream itself never times out),
// keeps reusing it while it is busier than that, and dials a new one for
// the next request.
func TestE2EUpstreamIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	var conns atomic.Int32
	closed := make(chan time.Time, 8)
	ts := httptest.NewUnstartedServer(named("up"))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed <- time.Now()
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	g := startGW(t, upstreamRoute(portOf(t, ts.Listener.Addr()), fmt.Sprintf("    connectionPool: {http: {idleTimeout: %s}}\n", idle)))

	for i := range 3 {
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "up" {
			t.Fatalf("request %d = %d %q", i, code, body)
		}
	}
	last := time.Now()
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 requests in quick succession used %d upstream connections, want 1 reused", n)
	}
	select {
	case at := <-closed:
		if d := at.Sub(last); d < idle-100*time.Millisecond || d > idle+time.Second {
			t.Errorf("upstream connection closed %v after its last request, want about %v", d, idle)
		}
	case <-time.After(idle + 10*time.Second):
		t.Fatalf("upstream connection still open %v after its last request (idleTimeout %v)", idle+10*time.Second, idle)
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "up" {
		t.Fatalf("request after the idle close = %d %q", code, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("upstream connections = %d, want 2 (a new one after the idle close)", n)
	}
}
