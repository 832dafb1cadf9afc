package tls

import (
	"slices"
	"strconv"
	"strings"
)

// policyKey returns a string that is equal for two servers exactly when
// every setting that decides what a client must present, and what it is
// shown, is the same: mode, certificate and key, client CA, CRL, the SAN
// and hash pins, protocol versions, cipher suites and insecureSkipVerify.
// Names and ALPN protocols are left out: they select a server, they do not
// protect one. Files are compared by path, so two copies of one
// certificate count as different settings (the strict answer).
func policyKey(s *ServerSettings) string {
	var b strings.Builder
	field := func(vs ...string) {
		for _, v := range vs {
			b.WriteString(strconv.Quote(v))
			b.WriteByte(' ')
		}
		b.WriteByte('|')
	}
	sorted := func(vs []string) []string { return slices.Sorted(slices.Values(vs)) }
	field(s.Mode.String(), s.CertFile, s.KeyFile, s.CAFile, s.CRLFile, s.MinVersion, s.MaxVersion, strconv.FormatBool(s.InsecureSkipVerify))
	field(sorted(s.SubjectAltNames)...)
	field(sorted(s.VerifyCertificateSpki)...)
	field(sorted(s.VerifyCertificateHash)...)
	field(s.CipherSuites...)
	return b.String()
}

// SamePolicy reports whether the servers at indexes i and j (as returned
// by Server) apply the same TLS settings, so that a request for a host of
// one may be served on a connection negotiated with the other. This is
// what HTTP/2 connection coalescing needs: a client that reuses a
// connection for another host covered by the same certificate. Any other
// pairing must be refused (421 Misdirected Request), or a client that
// handshook with a server asking no client certificate could reach the
// hosts of one that requires it.
func (s *Store) SamePolicy(i, j int) bool {
	if s == nil || i < 0 || j < 0 || i >= len(s.policies) || j >= len(s.policies) {
		return false
	}
	return i == j || (s.configs[i] != nil && s.configs[j] != nil && s.policies[i] == s.policies[j])
}
