package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
func TestAuditCredentialName(t *testing.T) {
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
func TestAuditKeyModeWarning(t *testing.T) {
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
func TestAuditMismatchedKeyKeepsLastGood(t *testing.T) {
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
