package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a throw-away certificate hierarchy written to t.TempDir(): a CA
// with server certificates for a.example.com, b.example.com,
// *.wild.example.com and default.example.com, client certificates, and a
// second CA with its own client.
type pki struct {
	dir     string
	caFile  string
	ca      *authority
	otherCA *authority

	a, b, wild, def        files // server certificates
	client, client2, other files // client certificates; other is from otherCA
}

// files is a certificate and key on disk.
type files struct {
	cert, key string
	leaf      *x509.Certificate
	keyObj    *ecdsa.PrivateKey
}

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

// spec describes a leaf certificate.
type spec struct {
	cn                  string
	dns, uris, emails   []string
	ips                 []net.IP
	client              bool
	notBefore, notAfter time.Time
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir}
	p.ca = newAuthority(t, dir, "ca", "gatehouse test CA")
	p.otherCA = newAuthority(t, dir, "other-ca", "some other CA")
	p.caFile = p.ca.file
	p.a = p.ca.issue(t, dir, "a", spec{dns: []string{"a.example.com"}})
	p.b = p.ca.issue(t, dir, "b", spec{dns: []string{"b.example.com"}})
	p.wild = p.ca.issue(t, dir, "wild", spec{dns: []string{"*.wild.example.com"}})
	p.def = p.ca.issue(t, dir, "default", spec{dns: []string{"default.example.com"}})
	p.client = p.ca.issue(t, dir, "client", spec{cn: "client", client: true,
		dns: []string{"client.example.com"}, uris: []string{"spiffe://example.com/client"},
		emails: []string{"client@example.com"}, ips: []net.IP{net.ParseIP("192.0.2.7")}})
	p.client2 = p.ca.issue(t, dir, "client2", spec{cn: "client2", client: true, uris: []string{"spiffe://example.com/client2"}})
	p.other = p.otherCA.issue(t, dir, "other-client", spec{cn: "other", client: true, uris: []string{"spiffe://example.com/client"}})
	return p
}

func newAuthority(t *testing.T, dir, name, cn string) *authority {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	file := filepath.Join(dir, name+".crt")
	writePEM(t, file, "CERTIFICATE", der, 0o644)
	return &authority{cert: cert, key: key, file: file}
}

// issue signs a leaf certificate and writes NAME.crt and NAME.key (0600).
func (a *authority) issue(t *testing.T, dir, name string, s spec) files {
	t.Helper()
	key := newKey(t)
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(24 * time.Hour)
	}
	usage := x509.ExtKeyUsageServerAuth
	if s.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(t),
		Subject:        pkix.Name{CommonName: s.cn},
		NotBefore:      s.notBefore,
		NotAfter:       s.notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{usage},
		DNSNames:       s.dns,
		EmailAddresses: s.emails,
		IPAddresses:    s.ips,
	}
	for _, u := range s.uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	f := files{cert: filepath.Join(dir, name+".crt"), key: filepath.Join(dir, name+".key"), leaf: leaf, keyObj: key}
	writePEM(t, f.cert, "CERTIFICATE", der, 0o644)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.key, "PRIVATE KEY", kder, 0o600)
	return f
}

// crl writes a CRL revoking certs and returns its file name.
func (a *authority) crl(t *testing.T, dir, name string, next time.Time, certs ...*x509.Certificate) string {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: next}
	for _, c := range certs {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, a.cert, a.key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	writePEM(t, file, "X509 CRL", der, 0o644)
	return file
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, file, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(file, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, mode); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, file, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return file
}

// simple returns SIMPLE settings serving f for names.
func simple(f files, names ...string) ServerSettings {
	return ServerSettings{Names: names, Mode: Simple, CertFile: f.cert, KeyFile: f.key, Path: "spec.servers[0].tls"}
}

// mutual returns settings of mode m serving f for names, trusting the CA.
func (p *pki) mutual(m Mode, f files, names ...string) ServerSettings {
	s := simple(f, names...)
	s.Mode, s.CAFile = m, p.caFile
	return s
}
