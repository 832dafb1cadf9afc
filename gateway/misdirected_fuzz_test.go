package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream/nethttp"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// fuzzServers are the TLS servers of FuzzTLSHostPolicy's port 443, each
// on a Gateway of its own so that each server's route table answers with
// its name. a and b share one certificate and settings; admin requires
// client certificates.
var fuzzServers = []struct{ name, host, tls string }{
	{"admin", "admin.example.com", "mutual"},
	{"a", "a.example.com", "ab"},
	{"b", "b.example.com", "ab"},
	{"wild", "*.example.com", "wild"},
	{"star", "*", "star"},
}

// fuzzDenyHosts are the hosts values of the DENY policy, one gateway each.
var fuzzDenyHosts = []string{"admin.example.com", "ADMIN.Example.com.", "*.example.com", "admin.example.com:443",
	"admin.example.com:8443", "b*", "a.example.com:*", "nothing.invalid"}

// fuzzGateway is one Server and the handler of its port 443.
type fuzzGateway struct {
	srv *Server
	http.Handler
}

// fuzzTLSGateways builds one Server per DENY hosts value.
func fuzzTLSGateways(f *testing.F) []*fuzzGateway {
	ca := newTestCA(f, "fuzz")
	certs := map[string]issued{"ab": ca.issue("ab", "a.example.com", "b.example.com"), "wild": ca.issue("wild", "*.example.com"),
		"star": ca.issue("star", "star.test"), "mutual": ca.issue("admin", "admin.example.com")}
	var files strings.Builder
	for _, s := range fuzzServers {
		c := certs[s.tls]
		tlsBlock := simpleTLS(c)
		if s.tls == "mutual" {
			tlsBlock = fmt.Sprintf("{mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}", c.CertFile, c.KeyFile, ca.File)
		}
		fmt.Fprintf(&files, `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw-%[1]s}
spec:
  servers:
  - port: {number: 443, name: https-%[1]s, protocol: HTTPS}
    hosts: [%[2]q]
    tls: %[3]s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-%[1]s}
spec:
  hosts: ["*"]
  gateways: [gw-%[1]s]
  http:
  - directResponse: {status: 200, body: {string: %[1]s}}
`, s.name, s.host, tlsBlock)
	}
	var out []*fuzzGateway
	for _, deny := range fuzzDenyHosts {
		dir := f.TempDir()
		policy := fmt.Sprintf("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: istio-system}\nspec:\n  action: DENY\n  rules:\n  - to: [{operation: {hosts: [%q]}}]\n", deny)
		if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte(files.String()+policy), 0o644); err != nil {
			f.Fatal(err)
		}
		s, err := New(Options{ConfigPaths: []string{dir}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(s.keySets.Close)
		out = append(out, &fuzzGateway{srv: s, Handler: nethttp.NewHandler(s.pipe.Handler(listener.Key{Port: 443}))})
	}
	return out
}

// refDenies is the DENY policy's hosts matching, written out here from
// its documented rules rather than taken from authz: the host part
// compares with the host's normal form (lower case, no trailing dot, no
// port), one leading or trailing "*" is a suffix or prefix, and a port
// in the value must be the Gateway port (443).
func refDenies(value, host string) bool {
	pattern, port := value, ""
	if i := strings.LastIndexByte(value, ':'); i >= 0 {
		pattern, port = value[:i], value[i+1:]
	}
	if port != "" && port != "*" && port != "443" {
		return false
	}
	pattern = strings.TrimRight(strings.ToLower(pattern), ".")
	switch {
	case pattern == "*":
		return host != ""
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(host, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(host, pattern[:len(pattern)-1])
	}
	return host == pattern
}

// FuzzTLSHostPolicy: for any SNI, Host and DENY hosts value, a request on
// a TLS port is refused (400, 403 or 421) or answered by the route table
// of the server that owns its Host (the negotiated one when no server
// owns it), and only when that server applies the TLS settings the
// connection negotiated. A 403 comes exactly when the DENY value matches
// the Host's normal form.
func FuzzTLSHostPolicy(f *testing.F) {
	handlers := fuzzTLSGateways(f)
	for _, s := range [][2]string{
		{"public.example.com", "admin.example.com"}, {"a.example.com", "b.example.com"}, {"", "admin.example.com"},
		{"a.example.com", "Admin.Example.COM.:8443"}, {"star.test", "www.example.com"}, {"admin.example.com", "x.example.com"},
		{"a.example.com", "a.example.com:443"}, {"b.example.com", "[::1]:443"}, {"b.example.com", ""}, {"A.EXAMPLE.COM.", "b.example.com."},
	} {
		for i := range fuzzDenyHosts {
			f.Add(s[0], s[1], uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, sni, host string, deny uint8) {
		h := handlers[int(deny)%len(handlers)]
		lc := h.srv.Snapshot().Listeners[listener.Key{Port: 443}]
		negotiated, ok := lc.TLS.Server(sni)
		if !ok {
			return // the handshake fails: nothing is ever asked
		}
		r := httptest.NewRequest("GET", "https://gatehouse.test/", nil)
		r.Host, r.TLS = host, &tls.ConnectionState{ServerName: sni, HandshakeComplete: true}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		nh := router.NormalizeHost(host)
		owner, owned := lc.TLS.Server(nh)
		switch code := rec.Code; {
		case code == http.StatusBadRequest:
		case code == http.StatusMisdirectedRequest:
			if !owned || nh == "" || lc.TLS.SamePolicy(negotiated, owner) {
				t.Fatalf("SNI %q Host %q: 421, but the Host's server %d (owned %v) has the settings of the negotiated %d", sni, host, owner, owned, negotiated)
			}
		case code == http.StatusForbidden:
			if !refDenies(fuzzDenyHosts[int(deny)%len(fuzzDenyHosts)], nh) {
				t.Fatalf("SNI %q Host %q: 403 from DENY hosts %q, which does not match %q", sni, host, fuzzDenyHosts[int(deny)%len(fuzzDenyHosts)], nh)
			}
		case code == http.StatusNotFound:
			if owned && nh != "" {
				t.Fatalf("SNI %q Host %q: 404, but server %d owns the host and routes everything", sni, host, owner)
			}
		case code == http.StatusOK:
			served := -1 // the store index of the server whose routes answered
			for i, ts := range lc.Terminated {
				if ts.Server.Gateway == "default/gw-"+rec.Body.String() {
					served = i
				}
			}
			want := negotiated
			if owned && nh != "" {
				want = owner
			}
			if served != want || !lc.TLS.SamePolicy(negotiated, served) {
				t.Fatalf("SNI %q Host %q: served by %q (server %d), want server %d, with the settings of the negotiated %d", sni, host, rec.Body.String(), served, want, negotiated)
			}
			if refDenies(fuzzDenyHosts[int(deny)%len(fuzzDenyHosts)], nh) {
				t.Fatalf("SNI %q Host %q: served, but DENY hosts %q matches %q", sni, host, fuzzDenyHosts[int(deny)%len(fuzzDenyHosts)], nh)
			}
		default:
			t.Fatalf("SNI %q Host %q: unexpected %d %q", sni, host, code, rec.Body.String())
		}
	})
}
