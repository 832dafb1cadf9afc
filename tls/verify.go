package tls

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// Handshake rejections are preallocated: they happen on the hot path and
// may be provoked by anyone.
var (
	errSANMismatch = errors.New("peer certificate has none of the allowed subject alt names")
	errPinMismatch = errors.New("peer certificate matches no pinned SPKI or certificate hash")
	errRevoked     = errors.New("peer certificate is revoked")
)

// peerPolicy holds the checks applied to a client certificate after (or,
// with insecureSkipVerify, instead of) chain verification.
type peerPolicy struct {
	sans    sanMatcher
	spki    [][sha256.Size]byte
	hashes  [][sha256.Size]byte
	revoked map[string]struct{} // issuer DER + serial bytes
}

func (p *peerPolicy) empty() bool {
	return len(p.sans.names) == 0 && len(p.spki) == 0 && len(p.hashes) == 0 && len(p.revoked) == 0
}

// verifyConnection is the tls.Config.VerifyConnection hook. Whether a
// certificate must be present is enforced by ClientAuth, so a connection
// without one passes here.
func (p *peerPolicy) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	if p.isRevoked(cs.PeerCertificates) {
		return errRevoked
	}
	for _, chain := range cs.VerifiedChains {
		if p.isRevoked(chain) {
			return errRevoked
		}
	}
	leaf := cs.PeerCertificates[0]
	if !p.pinned(leaf) {
		return errPinMismatch
	}
	if len(p.sans.names) > 0 && !p.sans.match(leaf) {
		return errSANMismatch
	}
	return nil
}

// pinned reports whether leaf matches a pin; with no pins every
// certificate passes. A match in either list is enough, as in Envoy.
func (p *peerPolicy) pinned(leaf *x509.Certificate) bool {
	if len(p.spki) == 0 && len(p.hashes) == 0 {
		return true
	}
	if len(p.spki) > 0 {
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		for _, pin := range p.spki {
			if pin == sum {
				return true
			}
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	for _, pin := range p.hashes {
		if pin == sum {
			return true
		}
	}
	return false
}

func (p *peerPolicy) isRevoked(certs []*x509.Certificate) bool {
	if len(p.revoked) == 0 {
		return false
	}
	for _, c := range certs {
		if _, ok := p.revoked[revocationKey(c.RawIssuer, c.SerialNumber.Bytes())]; ok {
			return true
		}
	}
	return false
}

func revocationKey(issuer, serial []byte) string {
	return string(issuer) + string(serial)
}

// parsePins decodes the SPKI (base64) and certificate hash (hex, colons
// optional) pins.
func parsePins(s *ServerSettings, p *peerPolicy) []error {
	var errs []error
	for i, v := range s.VerifyCertificateSpki {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(b) != sha256.Size {
			errs = append(errs, api.Errorf(fmt.Sprintf("%s.verifyCertificateSpki[%d]", s.Path, i),
				"%q is not a base64 SHA-256 digest", v))
			continue
		}
		p.spki = append(p.spki, [sha256.Size]byte(b))
	}
	for i, v := range s.VerifyCertificateHash {
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(v), ":", ""))
		if err != nil || len(b) != sha256.Size {
			errs = append(errs, api.Errorf(fmt.Sprintf("%s.verifyCertificateHash[%d]", s.Path, i),
				"%q is not a hex SHA-256 digest", v))
			continue
		}
		p.hashes = append(p.hashes, [sha256.Size]byte(b))
	}
	return errs
}

// loadCRL reads a PEM or DER revocation list. A CRL whose issuer is in cas
// must carry a valid signature from it; one from an unknown issuer is used
// with a warning, since it can only reject more certificates.
func loadCRL(file, path string, cas []*x509.Certificate, now time.Time) (map[string]struct{}, []error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, []error{api.Errorf(path, "reading CRL: %w", err)}
	}
	ders := pemBlocks(data, "X509 CRL")
	if len(ders) == 0 {
		ders = [][]byte{data}
	}
	revoked := make(map[string]struct{})
	var errs []error
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			errs = append(errs, api.Errorf(path, "parsing CRL %d in %s: %w", i+1, file, err))
			continue
		}
		if err := checkCRL(crl, file, cas, now); err != nil {
			errs = append(errs, api.Errorf(path, "%w", err))
			if !api.IsWarning(err) {
				continue
			}
		}
		for _, e := range crl.RevokedCertificateEntries {
			revoked[revocationKey(crl.RawIssuer, e.SerialNumber.Bytes())] = struct{}{}
		}
	}
	return revoked, errs
}

func checkCRL(crl *x509.RevocationList, file string, cas []*x509.Certificate, now time.Time) error {
	for _, ca := range cas {
		if !bytes.Equal(ca.RawSubject, crl.RawIssuer) {
			continue
		}
		if err := crl.CheckSignatureFrom(ca); err != nil {
			return fmt.Errorf("CRL in %s is not signed by its issuer %s: %w", file, ca.Subject, err)
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			return api.Warning(fmt.Errorf("CRL in %s is stale: next update was due at %s",
				file, crl.NextUpdate.UTC().Format(time.RFC3339)))
		}
		return nil
	}
	return api.Warning(fmt.Errorf("CRL in %s is issued by %s, which is not in caCertificates; its signature is not checked",
		file, crl.Issuer))
}

func pemBlocks(data []byte, typ string) [][]byte {
	var out [][]byte
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == typ {
			out = append(out, block.Bytes)
		}
	}
	return out
}

// sanMatcher matches certificate SANs against an allow-list with Envoy's
// exact semantics: DNS names case-insensitively (a wildcard SAN in the
// certificate covers one label), URIs and emails byte for byte, IPs by value.
type sanMatcher struct {
	names []string
	ips   []netip.Addr
}

func newSANMatcher(names []string) sanMatcher {
	m := sanMatcher{names: names}
	for _, n := range names {
		if ip, err := netip.ParseAddr(n); err == nil {
			m.ips = append(m.ips, ip.Unmap())
		}
	}
	return m
}

func (m sanMatcher) match(c *x509.Certificate) bool {
	for _, want := range m.names {
		for _, d := range c.DNSNames {
			if dnsMatch(d, want) {
				return true
			}
		}
		for _, e := range c.EmailAddresses {
			if e == want {
				return true
			}
		}
		for _, u := range c.URIs {
			if u.String() == want {
				return true
			}
		}
	}
	for _, ip := range c.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		for _, want := range m.ips {
			if ok && a.Unmap() == want {
				return true
			}
		}
	}
	return false
}

// dnsMatch reports whether the certificate DNS SAN san covers name.
func dnsMatch(san, name string) bool {
	if strings.EqualFold(san, name) {
		return true
	}
	if !strings.HasPrefix(san, "*.") {
		return false
	}
	i := strings.IndexByte(name, '.')
	return i > 0 && strings.EqualFold(name[i:], san[1:])
}
