package tls

import (
	"crypto/tls"
	"errors"
	"testing"
)

func TestServerSelection(t *testing.T) {
	p := newPKI(t)
	withDefault := mustStore(t,
		simple(p.a, "a.example.com"),
		simple(p.wild, "*.wild.example.com"),
		simple(p.b, "*.example.com"),
		simple(p.def, "*"),
		simple(p.b, "B.Other.Org."),
	)
	noDefault := mustStore(t,
		simple(p.a, "a.example.com"),
		simple(p.wild, "*.wild.example.com"),
	)
	tests := []struct {
		name  string
		store *Store
		sni   string
		want  int
		ok    bool
	}{
		{"exact", withDefault, "a.example.com", 0, true},
		{"upper case", withDefault, "A.EXAMPLE.COM", 0, true},
		{"trailing dot", withDefault, "a.example.com.", 0, true},
		{"configured name normalised", withDefault, "b.other.org", 4, true},
		{"wildcard", withDefault, "x.wild.example.com", 1, true},
		{"wildcard deeper label", withDefault, "y.x.wild.example.com", 1, true},
		{"less specific wildcard", withDefault, "wild.example.com", 2, true},
		{"other under example.com", withDefault, "c.example.com", 2, true},
		{"wildcard needs a label", withDefault, "example.com", 3, true},
		{"empty first label", withDefault, ".example.com", 3, true},
		{"unknown goes to *", withDefault, "other.org", 3, true},
		{"no SNI goes to *", withDefault, "", 3, true},
		{"IPv4 literal is no SNI", withDefault, "127.0.0.1", 3, true},
		{"IPv6 literal is no SNI", withDefault, "::1", 3, true},
		{"no SNI without *", noDefault, "", -1, false},
		{"IP without *", noDefault, "10.0.0.1", -1, false},
		{"unknown without *", noDefault, "b.example.com", -1, false},
		{"bare wildcard suffix without *", noDefault, "wild.example.com", -1, false},
		{"nil store", nil, "a.example.com", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.store.Server(tc.sni)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Server(%q) = %d, %v, want %d, %v", tc.sni, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestGetConfigForClientErrors(t *testing.T) {
	p := newPKI(t)
	st := mustStore(t, simple(p.a, "a.example.com"))
	tests := []struct {
		sni  string
		want error
	}{
		{"", ErrNoSNI},
		{"192.0.2.1", ErrNoSNI},
		{"b.example.com", ErrUnknownSNI},
		{"a.example.com\r\nX-Injected: yes", ErrInvalidSNI},
		{"a.example.com\x00", ErrInvalidSNI},
		{"a b.example.com", ErrInvalidSNI},
	}
	for _, tc := range tests {
		cfg, err := st.GetConfigForClient(&tls.ClientHelloInfo{ServerName: tc.sni})
		if cfg != nil || !errors.Is(err, tc.want) {
			t.Errorf("GetConfigForClient(%q) = %v, %v, want nil, %v", tc.sni, cfg, err, tc.want)
		}
	}
	cfg, err := st.GetConfigForClient(&tls.ClientHelloInfo{ServerName: "A.Example.Com"})
	if err != nil || cfg == nil || !cfg.Certificates[0].Leaf.Equal(p.a.leaf) {
		t.Errorf("GetConfigForClient(A.Example.Com) = %v, %v, want the a.example.com config", cfg, err)
	}
	if _, err := (*Store)(nil).GetConfigForClient(&tls.ClientHelloInfo{ServerName: "a.example.com"}); err == nil {
		t.Error("nil Store accepted a handshake")
	}
}

// TestSNIHandshake drives real handshakes and checks, from the client side,
// which certificate the SNI selected.
func TestSNIHandshake(t *testing.T) {
	p := newPKI(t)
	withDefault := startServer(t, mustStore(t,
		simple(p.a, "a.example.com"),
		simple(p.b, "b.example.com"),
		simple(p.wild, "*.wild.example.com"),
		simple(p.def, "*"),
	))
	noDefault := startServer(t, mustStore(t,
		simple(p.a, "a.example.com"),
		simple(p.wild, "*.wild.example.com"),
	))
	tests := []struct {
		name     string
		srv      *testServer
		sni      string
		insecure bool // the client skips verification (no SNI, unknown name)
		want     *files
	}{
		{"exact a", withDefault, "a.example.com", false, &p.a},
		{"exact b", withDefault, "b.example.com", false, &p.b},
		{"upper case", withDefault, "B.Example.COM", false, &p.b},
		{"trailing dot", withDefault, "a.example.com.", false, &p.a},
		{"wildcard", withDefault, "x.wild.example.com", false, &p.wild},
		{"wildcard upper case", withDefault, "X.WILD.example.com", false, &p.wild},
		{"unknown name gets default", withDefault, "unknown.org", true, &p.def},
		{"no SNI gets default", withDefault, "", true, &p.def},
		{"no SNI without default", noDefault, "", true, nil},
		{"unknown name without default", noDefault, "b.example.com", true, nil},
		{"wildcard still works without default", noDefault, "y.wild.example.com", false, &p.wild},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.clientCfg(tc.sni, nil)
			cfg.InsecureSkipVerify = tc.insecure
			_, cs, err := dial(tc.srv.addr, cfg)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("handshake with SNI %q succeeded, want failure", tc.sni)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake with SNI %q: %v", tc.sni, err)
			}
			if got := cs.PeerCertificates[0]; !got.Equal(tc.want.leaf) {
				t.Errorf("SNI %q got certificate for %v, want %v", tc.sni, got.DNSNames, tc.want.leaf.DNSNames)
			}
		})
	}
}

func TestNextProtos(t *testing.T) {
	p := newPKI(t)
	s := simple(p.a, "a.example.com")
	s.NextProtos = []string{"h2", "http/1.1"}
	srv := startServer(t, mustStore(t, s))
	for _, proto := range []string{"h2", "http/1.1"} {
		cfg := p.clientCfg("a.example.com", nil)
		cfg.NextProtos = []string{proto}
		_, cs, err := dial(srv.addr, cfg)
		if err != nil || cs.NegotiatedProtocol != proto {
			t.Errorf("ALPN %s: negotiated %q, err %v", proto, cs.NegotiatedProtocol, err)
		}
	}
}
