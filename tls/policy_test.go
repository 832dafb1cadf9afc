package tls

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// TestSamePolicy: two servers share a TLS policy only when everything a
// client must present, and is shown, is the same (issue: a request on a
// connection negotiated with one server may be served for a host of
// another only then; else 421).
func TestSamePolicy(t *testing.T) {
	p := newPKI(t)
	with := func(s ServerSettings, edit func(*ServerSettings)) ServerSettings {
		edit(&s)
		return s
	}
	base := simple(p.a, "a.example.com")
	servers := []ServerSettings{
		base,                              // 0
		simple(p.a, "www.a.example.com"),  // 1: same certificate and settings
		simple(p.b, "b.example.com"),      // 2: another certificate
		p.mutual(Mutual, p.a, "admin.a"),  // 3: client certificates required
		p.mutual(Mutual, p.a, "admin2.a"), // 4: the same MUTUAL settings as 3
		with(base, func(s *ServerSettings) { s.Names = []string{"v12.a"}; s.MaxVersion = "TLSV1_2" }), // 5
		with(base, func(s *ServerSettings) {
			s.Names = []string{"suites.a"}
			s.CipherSuites = []string{"ECDHE-ECDSA-AES128-GCM-SHA256"}
		}), // 6
		with(p.mutual(Mutual, p.a, "pinned.a"), func(s *ServerSettings) { s.SubjectAltNames = []string{"client.example.com"} }), // 7
		with(p.mutual(OptionalMutual, p.a, "opt.a"), func(*ServerSettings) {}),                                                  // 8
		with(base, func(s *ServerSettings) { s.Names = []string{"alpn.a"}; s.NextProtos = []string{"h2"} }),                     // 9: ALPN does not protect
	}
	st := mustStore(t, servers...)
	tests := []struct {
		i, j int
		want bool
	}{
		{0, 0, true}, {0, 1, true}, {1, 0, true}, {0, 2, false}, {0, 3, false}, {3, 4, true},
		{0, 5, false}, {0, 6, false}, {3, 7, false}, {3, 8, false}, {0, 8, false}, {0, 9, true},
		{0, -1, false}, {0, 99, false},
	}
	for _, tc := range tests {
		if got := st.SamePolicy(tc.i, tc.j); got != tc.want {
			t.Errorf("SamePolicy(%d, %d) = %v, want %v", tc.i, tc.j, got, tc.want)
		}
	}
	if (*Store)(nil).SamePolicy(0, 0) {
		t.Error("nil Store: SamePolicy(0, 0) = true")
	}
}

// TestDefaultSuitesAEAD: without cipherSuites, TLS 1.2 offers only ECDHE
// with AES-GCM or ChaCha20-Poly1305; CBC only when cipherSuites asks.
func TestDefaultSuitesAEAD(t *testing.T) {
	p := newPKI(t)
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
	withCBC := simple(p.b, "b.example.com")
	withCBC.CipherSuites = []string{"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-GCM-SHA256"}
	srv := startServer(t, mustStoreWarn(t, simple(p.a, "a.example.com"), withCBC))
	tests := []struct {
		name   string
		sni    string
		suites []uint16
		ok     bool
	}{
		{"default refuses CBC", "a.example.com", cbc, false},
		{"default takes GCM", "a.example.com", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, true},
		{"default takes ChaCha20", "a.example.com", []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, true},
		{"CBC when asked for", "b.example.com", cbc, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.clientCfg(tc.sni, nil)
			cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS12, tc.suites
			_, cs, err := dial(srv.addr, cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("TLS 1.2 handshake offering %v: err = %v, want success %v", tc.suites, err, tc.ok)
			}
			if err == nil && !strings.Contains(tls.CipherSuiteName(cs.CipherSuite), "GCM") && !strings.Contains(tls.CipherSuiteName(cs.CipherSuite), "CHACHA") && tc.sni == "a.example.com" {
				t.Errorf("negotiated %s by default", tls.CipherSuiteName(cs.CipherSuite))
			}
		})
	}
}

// TestOldVersionsNeedSuites: a minimum below TLS 1.2 cannot use the AEAD
// defaults, so it must name its suites.
func TestOldVersionsNeedSuites(t *testing.T) {
	p := newPKI(t)
	s := simple(p.a, "a.example.com")
	s.MinVersion = "TLSV1_0"
	if st, errs := NewStore([]ServerSettings{s}); st != nil || len(errs) != 1 || api.IsWarning(errs[0]) ||
		!strings.Contains(errs[0].Error(), "minProtocolVersion") {
		t.Fatalf("TLSV1_0 without cipherSuites: store %v, errors %v; want one error on minProtocolVersion", st, errs)
	}
	s.CipherSuites = []string{"ECDHE-ECDSA-AES128-SHA"}
	if _, errs := NewStore([]ServerSettings{s}); hasError(errs) {
		t.Fatalf("TLSV1_0 with cipherSuites: %v", errs)
	}
}

// mustStoreWarn builds a Store that may warn but must not fail.
func mustStoreWarn(t *testing.T, servers ...ServerSettings) *Store {
	t.Helper()
	st, errs := NewStore(servers)
	if st == nil || hasError(errs) {
		t.Fatalf("NewStore: %v", errs)
	}
	return st
}
