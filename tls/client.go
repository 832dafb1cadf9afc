package tls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// ClientConfig builds the upstream TLS configuration of a DestinationRule.
// It returns nil and no error for DISABLE (or an empty mode): the upstream
// is plaintext.
//
// Without a CA file the upstream is verified against the system roots.
// Without SNI, ServerName stays empty for the caller to set from the
// upstream host (net/http's Transport does so itself); the certificate is
// then checked against that name. SubjectAltNames replace the host name
// check; InsecureSkipVerify turns off every check. MUTUAL requires a client
// certificate and key; other modes ignore them. The minimum version is TLS 1.2.
func ClientConfig(c ClientSettings) (*tls.Config, error) {
	switch c.Mode {
	case "", "DISABLE":
		return nil, nil
	case "SIMPLE", "MUTUAL":
	default:
		return nil, api.Errorf(c.Path+".mode", "unsupported upstream TLS mode %q: want DISABLE, SIMPLE or MUTUAL", c.Mode)
	}
	cfg := &tls.Config{
		ServerName: c.SNI,
		NextProtos: c.NextProtos,
		MinVersion: tls.VersionTLS12,
	}
	var errs []error
	if c.Mode == "MUTUAL" {
		cert, kerrs := keyPair(c.CertFile, c.KeyFile, c.Path+".clientCertificate", c.Path+".privateKey", time.Now())
		if hasError(kerrs) {
			errs = append(errs, kerrs...)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.CAFile != "" {
		pool, _, err := caPool(c.CAFile)
		if err != nil {
			errs = append(errs, api.Errorf(c.Path+".caCertificates", "%w", err))
		}
		cfg.RootCAs = pool
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch {
	case c.InsecureSkipVerify:
		cfg.InsecureSkipVerify = true
	case len(c.SubjectAltNames) > 0:
		// crypto/tls can only verify the chain together with the host name,
		// so it is told to skip both and the chain is verified here.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = upstreamVerifier(cfg.RootCAs, newSANMatcher(c.SubjectAltNames))
	}
	return cfg, nil
}

// upstreamVerifier verifies the upstream chain against roots (nil means the
// system roots) and requires one of the SANs instead of the host name.
func upstreamVerifier(roots *x509.CertPool, sans sanMatcher) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("upstream sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return err
		}
		if !sans.match(cs.PeerCertificates[0]) {
			return errSANMismatch
		}
		return nil
	}
}
