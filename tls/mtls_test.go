package tls

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClientCertificates(t *testing.T) {
	p := newPKI(t)
	revoked := p.ca.issue(t, p.dir, "revoked", spec{cn: "revoked", client: true})
	expired := p.ca.issue(t, p.dir, "expired-client", spec{cn: "expired", client: true,
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})

	spki := sha256.Sum256(p.client.leaf.RawSubjectPublicKeyInfo)
	otherSPKI := sha256.Sum256(p.client2.leaf.RawSubjectPublicKeyInfo)
	hash := sha256.Sum256(p.client.leaf.Raw)
	colonHash := strings.ToUpper(strings.Join(splitPairs(hex.EncodeToString(hash[:])), ":"))

	servers := map[string]ServerSettings{
		"m": p.mutual(Mutual, p.a),
		"o": p.mutual(OptionalMutual, p.a),
		"san": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.SubjectAltNames = []string{"spiffe://example.com/nobody", "spiffe://example.com/client"}
		}),
		"san-dns":   with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.SubjectAltNames = []string{"client.example.com"} }),
		"san-email": with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.SubjectAltNames = []string{"client@example.com"} }),
		"san-ip":    with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.SubjectAltNames = []string{"192.0.2.7"} }),
		"san-none":  with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.SubjectAltNames = []string{"spiffe://example.com/nobody"} }),
		"osan":      with(p.mutual(OptionalMutual, p.a), func(s *ServerSettings) { s.SubjectAltNames = []string{"spiffe://example.com/client"} }),
		"spki": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.VerifyCertificateSpki = []string{base64.StdEncoding.EncodeToString(spki[:])}
		}),
		"spki-other": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.VerifyCertificateSpki = []string{base64.StdEncoding.EncodeToString(otherSPKI[:])}
		}),
		"hash": with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.VerifyCertificateHash = []string{colonHash} }),
		"either": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.VerifyCertificateSpki = []string{base64.StdEncoding.EncodeToString(otherSPKI[:])}
			s.VerifyCertificateHash = []string{hex.EncodeToString(hash[:])}
		}),
		"insecure": with(p.mutual(Mutual, p.a), func(s *ServerSettings) { s.InsecureSkipVerify = true }),
		"insecure-san": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.InsecureSkipVerify = true
			s.SubjectAltNames = []string{"spiffe://example.com/client2"}
		}),
		"insecure-opt": with(p.mutual(OptionalMutual, p.a), func(s *ServerSettings) { s.InsecureSkipVerify = true }),
		"crl": with(p.mutual(Mutual, p.a), func(s *ServerSettings) {
			s.CRLFile = p.ca.crl(t, p.dir, "ca.crl", time.Now().Add(time.Hour), revoked.leaf)
		}),
	}
	var list []ServerSettings
	for name, s := range servers {
		s.Names = []string{name + ".example.com"}
		list = append(list, s)
	}
	srv := startServer(t, mustStore(t, list...))

	tests := []struct {
		server string
		cert   *files
		ok     bool
	}{
		{"m", &p.client, true},
		{"m", nil, false},
		{"m", &p.other, false},
		{"m", &expired, false},
		{"o", nil, true},
		{"o", &p.client, true},
		{"o", &p.other, false},
		{"san", &p.client, true},
		{"san", &p.client2, false},
		{"san-dns", &p.client, true},
		{"san-email", &p.client, true},
		{"san-ip", &p.client, true},
		{"san-none", &p.client, false},
		{"osan", nil, true},
		{"osan", &p.client, true},
		{"osan", &p.client2, false},
		{"spki", &p.client, true},
		{"spki", &p.client2, false},
		{"spki-other", &p.client, false},
		{"hash", &p.client, true},
		{"hash", &p.client2, false},
		{"either", &p.client, true},
		{"either", &p.client2, true},
		{"either", &revoked, false},
		{"insecure", &p.other, true},
		{"insecure", &expired, true},
		{"insecure", nil, false},
		{"insecure-san", &p.client2, true},
		{"insecure-san", &p.other, false},
		{"insecure-opt", nil, true},
		{"insecure-opt", &p.other, true},
		{"crl", &p.client, true},
		{"crl", &revoked, false},
	}
	for _, tc := range tests {
		cn := "none"
		if tc.cert != nil {
			cn = tc.cert.leaf.Subject.CommonName
		}
		t.Run(tc.server+"/"+cn, func(t *testing.T) {
			sni := tc.server + ".example.com"
			cfg := p.clientCfg(sni, tc.cert)
			cfg.InsecureSkipVerify = true // the server certificate is for a.example.com
			line, _, err := dial(srv.addr, cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("client %s on %s: line %q, err %v; want ok=%v", cn, tc.server, line, err, tc.ok)
			}
			wantPeer := "peer=-"
			if tc.cert != nil {
				wantPeer = "peer=" + cn
			}
			if tc.ok && !strings.Contains(line, wantPeer) {
				t.Errorf("server saw %q, want %s", line, wantPeer)
			}
		})
	}
}

func with(s ServerSettings, f func(*ServerSettings)) ServerSettings {
	f(&s)
	return s
}

func splitPairs(s string) []string {
	var out []string
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i:i+2])
	}
	return out
}

func TestSANMatcher(t *testing.T) {
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	p := newPKI(t)
	wild := p.ca.issue(t, p.dir, "wild-san", spec{dns: []string{"*.svc.example.com"}, ips: []net.IP{net.ParseIP("2001:db8::1")}})
	tests := []struct {
		want []string
		ok   bool
	}{
		{[]string{"a.svc.example.com"}, true},
		{[]string{"A.SVC.example.com"}, true},
		{[]string{"a.b.svc.example.com"}, false},
		{[]string{"svc.example.com"}, false},
		{[]string{"2001:db8:0::1"}, true},
		{[]string{"2001:db8::2", "x.svc.example.com"}, true},
		{[]string{"*.svc.example.com"}, true},
		{nil, false},
	}
	for _, tc := range tests {
		if got := newSANMatcher(tc.want).match(wild.leaf); got != tc.ok {
			t.Errorf("match(%v) = %v, want %v", tc.want, got, tc.ok)
		}
	}
	u := p.client.leaf
	if !newSANMatcher([]string{mustURL("spiffe://example.com/client").String()}).match(u) {
		t.Error("URI SAN did not match")
	}
	if newSANMatcher([]string{"SPIFFE://example.com/client"}).match(u) {
		t.Error("URI SAN matched case-insensitively")
	}
}
