package tls

import (
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// buildServer compiles one server into its own *tls.Config. The returned
// errors may be only warnings, in which case the config is usable; the
// config is nil when any error is not a warning.
func buildServer(s *ServerSettings, ticketKey [32]byte, now time.Time) (*tls.Config, []error) {
	var errs []error
	if s.Mode < Simple || s.Mode > OptionalMutual {
		errs = append(errs, api.Errorf(s.Path+".mode", "unsupported mode %v for a terminating server", s.Mode))
	}
	lo, hi, verrs := versionRange(s)
	errs = append(errs, verrs...)
	suites, cerrs := cipherSuites(s.CipherSuites, s.Path)
	errs = append(errs, cerrs...)
	cert, kerrs := keyPair(s.CertFile, s.KeyFile, s.Path+".serverCertificate", s.Path+".privateKey", now)
	errs = append(errs, kerrs...)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   lo,
		MaxVersion:   hi,
		CipherSuites: suites,
		NextProtos:   s.NextProtos,
	}
	if s.Mode == Simple {
		errs = append(errs, simpleChecks(s)...)
		cfg.SetSessionTicketKeys([][32]byte{ticketKey})
	} else {
		errs = append(errs, clientAuth(s, cfg, now)...)
		// A resumed session would skip client certificate checks made
		// under another policy or an older CA (CVE-2025-68121).
		cfg.SessionTicketsDisabled = true
	}
	if hasError(errs) {
		return nil, errs
	}
	return cfg, errs
}

// simpleChecks rejects a CRL and warns about client-certificate settings
// that a SIMPLE server ignores.
func simpleChecks(s *ServerSettings) []error {
	var errs []error
	if s.CRLFile != "" {
		errs = append(errs, api.Errorf(s.Path+".caCrl", "a CRL is not allowed with SIMPLE mode"))
	}
	ignored := func(field string) {
		errs = append(errs, api.Warning(api.Errorf(s.Path+"."+field, "ignored in SIMPLE mode: no client certificate is requested")))
	}
	if s.CAFile != "" {
		ignored("caCertificates")
	}
	if len(s.SubjectAltNames) > 0 {
		ignored("subjectAltNames")
	}
	if len(s.VerifyCertificateSpki) > 0 {
		ignored("verifyCertificateSpki")
	}
	if len(s.VerifyCertificateHash) > 0 {
		ignored("verifyCertificateHash")
	}
	return errs
}

// clientAuth fills the client-certificate side of cfg for MUTUAL and
// OPTIONAL_MUTUAL.
func clientAuth(s *ServerSettings, cfg *tls.Config, now time.Time) []error {
	var errs []error
	cfg.ClientAuth = clientAuthType(s.Mode, s.InsecureSkipVerify)
	var cas []*x509.Certificate
	if s.CAFile == "" {
		errs = append(errs, api.Errorf(s.Path+".caCertificates", "%v requires a client CA bundle", s.Mode))
	} else {
		pool, certs, err := caPool(s.CAFile)
		if err != nil {
			errs = append(errs, api.Errorf(s.Path+".caCertificates", "%w", err))
		}
		// With insecureSkipVerify the pool is not used for verification, but
		// it still tells clients which CAs the server wants.
		cfg.ClientCAs, cas = pool, certs
	}
	policy := &peerPolicy{sans: newSANMatcher(s.SubjectAltNames)}
	errs = append(errs, parsePins(s, policy)...)
	if s.CRLFile != "" {
		revoked, cerrs := loadCRL(s.CRLFile, s.Path+".caCrl", cas, now)
		policy.revoked = revoked
		errs = append(errs, cerrs...)
	}
	if !policy.empty() {
		cfg.VerifyConnection = policy.verifyConnection
	}
	return errs
}

func clientAuthType(m Mode, insecure bool) tls.ClientAuthType {
	switch {
	case m == Mutual && insecure:
		return tls.RequireAnyClientCert
	case m == Mutual:
		return tls.RequireAndVerifyClientCert
	case insecure:
		return tls.RequestClientCert
	}
	return tls.VerifyClientCertIfGiven
}

func hasError(errs []error) bool {
	for _, err := range errs {
		if !api.IsWarning(err) {
			return true
		}
	}
	return false
}
