package tls

import "fmt"

// Mode is how a terminating server treats client certificates. PASSTHROUGH
// servers do not terminate TLS and never reach this package.
type Mode int

const (
	// Simple terminates TLS and never asks for a client certificate.
	Simple Mode = iota
	// Mutual requires a client certificate that verifies against CAFile.
	Mutual
	// OptionalMutual asks for a client certificate and verifies it when the
	// client sends one; clients without a certificate are accepted.
	OptionalMutual
)

// String returns the Istio name of the mode.
func (m Mode) String() string {
	switch m {
	case Simple:
		return "SIMPLE"
	case Mutual:
		return "MUTUAL"
	case OptionalMutual:
		return "OPTIONAL_MUTUAL"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ServerSettings describes one terminating TLS server of a Gateway. The
// gateway fills it from `spec.servers[i]` and its `tls` block; file paths
// are already resolved (see ResolveCredential for credentialName).
type ServerSettings struct {
	// Names are the SNI patterns of the server, from its hosts with the
	// namespace stripped: an exact name ("a.example.com"), a wildcard
	// ("*.example.com") or "*", which accepts any name and clients that
	// send no SNI.
	Names []string
	// Mode says whether client certificates are requested or required.
	Mode Mode
	// CertFile and KeyFile are the PEM certificate chain and private key.
	CertFile, KeyFile string
	// CAFile is the PEM bundle that client certificates must chain to;
	// required for Mutual and OptionalMutual.
	CAFile string
	// CRLFile is an optional PEM or DER certificate revocation list checked
	// against client certificates. It is rejected in Simple mode, as Istio
	// does.
	CRLFile string
	// SubjectAltNames, when set, require the client certificate to carry
	// one of these names as a DNS, URI, email or IP SAN (exact match; a
	// wildcard DNS SAN in the certificate matches one label).
	SubjectAltNames []string
	// VerifyCertificateSpki are base64 SHA-256 digests of the client
	// certificate's SubjectPublicKeyInfo. A match here or in
	// VerifyCertificateHash accepts the certificate.
	VerifyCertificateSpki []string
	// VerifyCertificateHash are hex SHA-256 digests of the client
	// certificate, with or without colons, in either case.
	VerifyCertificateHash []string
	// MinVersion and MaxVersion are Istio protocol names: "TLS_AUTO" (or
	// empty), "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3". AUTO means a
	// minimum of TLS 1.2 and a maximum of TLS 1.3.
	MinVersion, MaxVersion string
	// CipherSuites are OpenSSL ("ECDHE-RSA-AES256-GCM-SHA384") or IANA
	// ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384") names for TLS 1.0–1.2.
	// Unknown and duplicate names are dropped with a warning; empty means
	// ECDHE with AES-GCM or ChaCha20-Poly1305 only (no CBC), as Istio's
	// gateway defaults. TLS 1.3 suites are not configurable.
	CipherSuites []string
	// InsecureSkipVerify accepts client certificates that do not chain to
	// CAFile. The certificate is still required (Mutual) or requested
	// (OptionalMutual), and SubjectAltNames, the pins and the CRL still apply.
	InsecureSkipVerify bool
	// NextProtos are the ALPN protocols the server offers, such as "h2" and
	// "http/1.1".
	NextProtos []string
	// Path is the YAML path of the server's tls block, such as
	// "spec.servers[1].tls"; every error about this server starts with it.
	Path string
}

// ClientSettings describes the upstream TLS of a DestinationRule
// (trafficPolicy.tls).
type ClientSettings struct {
	// Mode is "DISABLE" (or empty), "SIMPLE" or "MUTUAL".
	Mode string
	// CertFile and KeyFile are the client certificate and key; required for
	// MUTUAL and ignored otherwise.
	CertFile, KeyFile string
	// CAFile is the PEM bundle the upstream certificate must chain to; empty
	// means the system roots.
	CAFile string
	// SNI is the server name sent to the upstream. Empty leaves
	// tls.Config.ServerName empty so the caller sets it from the upstream
	// host, which is then also the name the certificate is checked against.
	SNI string
	// SubjectAltNames, when set, replace the host name check: the upstream
	// certificate must carry one of them (DNS, URI, email or IP SAN).
	SubjectAltNames []string
	// InsecureSkipVerify disables all verification of the upstream
	// certificate, CA and SANs alike.
	InsecureSkipVerify bool
	// NextProtos are the ALPN protocols offered to the upstream.
	NextProtos []string
	// Path is the YAML path of the tls block, used in errors.
	Path string
}
