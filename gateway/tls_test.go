package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// httpsGateway is a Gateway with one HTTPS server per entry of servers
// (hosts -> tls block), and a VirtualService per host answering its name.
func httpsGateway(t *testing.T, servers map[string]string) map[string]string {
	var gw, vs strings.Builder
	gw.WriteString("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n")
	for i, hosts := range slices.Sorted(maps.Keys(servers)) {
		fmt.Fprintf(&gw, "  - port: {number: 443, name: https-%d, protocol: HTTPS}\n    hosts: [%s]\n    tls: %s\n", i, hosts, servers[hosts])
		for _, h := range strings.Split(hosts, ",") {
			h = strings.Trim(strings.TrimSpace(h), `"`)
			// A wildcard host's VirtualService also serves the specific
			// hosts of the other servers, and Istio merges the routes of
			// VirtualServices for one host in creation order: create it
			// last, so that a specific host is served by its own.
			created := "2026-01-01T00:00:00Z"
			if strings.Contains(h, "*") {
				created = "2026-01-02T00:00:00Z"
			}
			fmt.Fprintf(&vs, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%d-%s, creationTimestamp: %q}\nspec:\n  hosts: [%q]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n",
				i, strings.NewReplacer("*", "star", ".", "-").Replace(h), created, h, startUpstream(t, named(h)))
		}
	}
	return map[string]string{"gw.yaml": gw.String(), "vs.yaml": vs.String()}
}

func simpleTLS(c issued) string {
	return fmt.Sprintf("{mode: SIMPLE, serverCertificate: %s, privateKey: %s}", c.CertFile, c.KeyFile)
}

// tlsGet does one HTTPS request with the given SNI and client settings and
// returns the certificate the server presented and the body.
func tlsGet(t *testing.T, addr, sni string, cfg *tls.Config) (string, string, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName = sni
	cfg.InsecureSkipVerify = true
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	host := sni
	if host == "" {
		host = "nosni.example.com"
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
	out, err := io.ReadAll(c)
	if err != nil {
		return "", "", err
	}
	cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName
	return cn, string(out[strings.Index(string(out), "\r\n\r\n")+4:]), nil
}

// One port, many certificates: the certificate and the route table follow
// the SNI, exact names before wildcards.
func TestSNICertificates(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	a, b, w := ca.issue("cert-a", "a.example.com"), ca.issue("cert-b", "b.example.com"), ca.issue("cert-wild", "*.wild.example.com")
	g := startGW(t, httpsGateway(t, map[string]string{
		`a.example.com`: simpleTLS(a), `b.example.com`: simpleTLS(b), `"*.wild.example.com"`: simpleTLS(w),
	}))
	addr := g.srv.Addr(443).String()
	for _, tc := range []struct{ sni, cert, body string }{
		{"a.example.com", "cert-a", "a.example.com"},
		{"B.Example.COM", "cert-b", "b.example.com"},
		{"x.wild.example.com", "cert-wild", "*.wild.example.com"},
	} {
		cn, body, err := tlsGet(t, addr, tc.sni, nil)
		if err != nil || cn != tc.cert || body != tc.body {
			t.Errorf("SNI %s: certificate %q body %q err %v; want %q %q", tc.sni, cn, body, err, tc.cert, tc.body)
		}
	}
	for _, sni := range []string{"", "c.example.com"} {
		if _, _, err := tlsGet(t, addr, sni, nil); err == nil {
			t.Errorf("SNI %q: handshake succeeded, want it refused (no server for it, none for \"*\")", sni)
		}
	}
}

// A server for "*" takes clients without SNI.
func TestNoSNIGoesToStarServer(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	star := ca.issue("cert-default", "default.example.com")
	g := startGW(t, httpsGateway(t, map[string]string{`"*"`: simpleTLS(star)}))
	if cn, _, err := tlsGet(t, g.srv.Addr(443).String(), "", nil); err != nil || cn != "cert-default" {
		t.Errorf("no SNI: %q, %v", cn, err)
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	server := ca.issue("server", "m.example.com", "o.example.com")
	client := ca.issue("client", "client.example.com")
	stranger := newTestCA(t, "stranger").issue("stranger", "x")
	mtls := func(mode string) string {
		return fmt.Sprintf("{mode: %s, serverCertificate: %s, privateKey: %s, caCertificates: %s}", mode, server.CertFile, server.KeyFile, ca.File)
	}
	g := startGW(t, httpsGateway(t, map[string]string{"m.example.com": mtls("MUTUAL"), "o.example.com": mtls("OPTIONAL_MUTUAL")}))
	addr := g.srv.Addr(443).String()
	// GetClientCertificate sends the certificate even when its CA is not
	// one the server lists, as a hostile client would.
	with := func(c issued) *tls.Config {
		return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.TLS, nil }}
	}
	tests := []struct {
		name, sni string
		cfg       *tls.Config
		ok        bool
	}{
		{"mutual with a client certificate", "m.example.com", with(client), true},
		{"mutual without one", "m.example.com", nil, false},
		{"mutual with one from another CA", "m.example.com", with(stranger), false},
		{"optional without one", "o.example.com", nil, true},
		{"optional with one from another CA", "o.example.com", with(stranger), false},
	}
	for _, tc := range tests {
		_, body, err := tlsGet(t, addr, tc.sni, tc.cfg)
		if ok := err == nil && body == tc.sni; ok != tc.ok {
			t.Errorf("%s: body %q err %v, want ok=%v", tc.name, body, err, tc.ok)
		}
	}
}

// Rotating a certificate's files serves the new one to new connections
// without a restart, and an open connection keeps working.
func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	old := ca.issue("old", "r.example.com")
	g := startGW(t, httpsGateway(t, map[string]string{"r.example.com": simpleTLS(old)}))
	addr := g.srv.Addr(443).String()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "r.example.com", RootCAs: ca.Pool}}
	client := &http.Client{Transport: tr}
	get := func() (string, string) {
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req.Host = "r.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("status %d %q", resp.StatusCode, b)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName, string(b)
	}
	if cn, _ := get(); cn != "old" {
		t.Fatalf("first certificate %q", cn)
	}
	fresh := ca.issue("new", "r.example.com")
	certPEM, _ := os.ReadFile(fresh.CertFile)
	keyPEM, _ := os.ReadFile(fresh.KeyFile)
	os.WriteFile(old.KeyFile, keyPEM, 0o600)
	os.WriteFile(old.CertFile, certPEM, 0o600)
	g.waitGen(2)
	if cn, body := get(); cn != "old" || body != "r.example.com" {
		t.Errorf("the open connection: certificate %q body %q", cn, body)
	}
	tr.CloseIdleConnections()
	if cn, _ := get(); cn != "new" {
		t.Errorf("a new connection got certificate %q, want the rotated one", cn)
	}
}

// A certificate that does not match its key keeps the last good config.
func TestMismatchedKeyRejected(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	good, other := ca.issue("good", "k.example.com"), ca.issue("other", "k.example.com")
	_, problems, _, err := checkDir(t, httpsGateway(t, map[string]string{"k.example.com": fmt.Sprintf(
		"{mode: SIMPLE, serverCertificate: %s, privateKey: %s}", good.CertFile, other.KeyFile)}))
	if err == nil || !strings.Contains(fmt.Sprint(problems), "does not match the certificate") {
		t.Errorf("mismatched key: %v %v", err, problems)
	}
}

// mountSecret lays a TLS secret out in dir/name the way kubelet mounts
// one: files in a timestamped directory, reached through "..data".
// Calling it again for the same name swaps "..data" atomically.
func mountSecret(t *testing.T, dir, name, version string, files map[string]string) {
	t.Helper()
	base := filepath.Join(dir, name)
	ts := filepath.Join(base, "..2026_11_25_"+version)
	if err := os.MkdirAll(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, n), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(base, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(base, "..data")); err != nil {
		t.Fatal(err)
	}
	for n := range files {
		link := filepath.Join(base, n)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", n), link); err != nil {
			t.Fatal(err)
		}
	}
}

// credentialName resolved in --credentials-dir, in both layouts (a
// mounted kubernetes.io/tls secret, and NAME.crt/NAME.key), the CA of a
// MUTUAL server from the secret's ca.crt, and a secret rotated by a
// "..data" swap served to new connections without a restart.
func TestCredentialName(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	shop, api, m := ca.issue("shop-cert", "shop.example.com"), ca.issue("api-cert", "api.example.com"), ca.issue("m-cert", "m.example.com")
	client := ca.issue("client", "client.example.com")
	creds := t.TempDir()
	mountSecret(t, creds, "shop-secret", "01", map[string]string{"tls.crt": shop.CertFile, "tls.key": shop.KeyFile})
	mountSecret(t, creds, "m-secret", "01", map[string]string{"tls.crt": m.CertFile, "tls.key": m.KeyFile, "ca.crt": ca.File})
	for src, dst := range map[string]string{api.CertFile: "api-secret.crt", api.KeyFile: "api-secret.key"} {
		data, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(creds, dst), data, 0o600)
	}
	cfg := httpsGateway(t, map[string]string{
		"shop.example.com": "{mode: SIMPLE, credentialName: shop-secret}",
		"api.example.com":  "{mode: SIMPLE, credentialName: api-secret}",
		"m.example.com":    "{mode: MUTUAL, credentialName: m-secret}",
	})
	g := startGW(t, cfg, func(o *Options) { o.CredentialsDir = creds })
	addr := g.srv.Addr(443).String()
	for _, tc := range []struct{ sni, cert string }{
		{"shop.example.com", "shop-cert"},
		{"api.example.com", "api-cert"},
	} {
		cn, body, err := tlsGet(t, addr, tc.sni, nil)
		if err != nil || cn != tc.cert || body != tc.sni {
			t.Errorf("SNI %s: certificate %q body %q err %v, want %q", tc.sni, cn, body, err, tc.cert)
		}
	}
	withClient := &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &client.TLS, nil }}
	if cn, body, err := tlsGet(t, addr, "m.example.com", withClient); err != nil || cn != "m-cert" || body != "m.example.com" {
		t.Errorf("MUTUAL with a client certificate: %q %q %v", cn, body, err)
	}
	if _, _, err := tlsGet(t, addr, "m.example.com", nil); err == nil {
		t.Error("MUTUAL from the secret's ca.crt accepted a client without a certificate")
	}

	// kubelet updates the secret: a new timestamped directory, "..data" swapped.
	fresh := ca.issue("shop-cert-2", "shop.example.com")
	mountSecret(t, creds, "shop-secret", "02", map[string]string{"tls.crt": fresh.CertFile, "tls.key": fresh.KeyFile})
	g.waitGen(2)
	if cn, _, err := tlsGet(t, addr, "shop.example.com", nil); err != nil || cn != "shop-cert-2" {
		t.Errorf("after the secret rotated: certificate %q err %v, want shop-cert-2", cn, err)
	}
}

// A private key readable by group or others is served, with a warning
// naming the file.
func TestKeyModeWarning(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	c := ca.issue("loose", "loose.example.com")
	if err := os.Chmod(c.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGW(t, httpsGateway(t, map[string]string{"loose.example.com": simpleTLS(c)}))
	if cn, _, err := tlsGet(t, g.srv.Addr(443).String(), "loose.example.com", nil); err != nil || cn != "loose" {
		t.Errorf("the certificate with a loose key: %q %v", cn, err)
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, c.KeyFile+" is readable by group/others (mode 0644)") {
		t.Errorf("no warning about %s in the logs:\n%s", c.KeyFile, logs)
	}
	_, problems, _, err := Check(Options{ConfigPaths: []string{g.dir}})
	if err != nil || !strings.Contains(fmt.Sprint(problems), "readable by group/others") {
		t.Errorf("validate: err %v problems %v, want the warning and no error", err, problems)
	}
}

// Key files rotated into a key that does not match the certificate: the
// reload is rejected with the reason, and the last good certificate keeps
// serving new and open connections.
func TestMismatchedKeyKeepsLastGood(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	good, other := ca.issue("good", "k.example.com"), ca.issue("other", "k.example.com")
	g := startGW(t, httpsGateway(t, map[string]string{"k.example.com": simpleTLS(good)}))
	addr := g.srv.Addr(443).String()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "k.example.com", RootCAs: ca.Pool}}
	client := &http.Client{Transport: tr}
	get := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		req.Host = "k.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if cn := get(); cn != "good" {
		t.Fatalf("first certificate %q", cn)
	}
	keyPEM, _ := os.ReadFile(other.KeyFile)
	if err := os.WriteFile(good.KeyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ev := g.waitReload()
	for ev.err == nil {
		ev = g.waitReload()
	}
	if !strings.Contains(ev.err.Error(), "does not match the certificate") {
		t.Errorf("reload error %q, want the key/certificate mismatch", ev.err)
	}
	if cn := get(); cn != "good" {
		t.Errorf("the open connection after the bad rotation: certificate %q", cn)
	}
	tr.CloseIdleConnections()
	if cn := get(); cn != "good" {
		t.Errorf("a new connection after the bad rotation: certificate %q, want the last good one", cn)
	}
}
