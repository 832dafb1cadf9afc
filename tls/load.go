package tls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// keyPair loads a PEM certificate chain and its private key and checks
// that they belong together. certPath and keyPath are the YAML paths used
// in errors. Problems that do not stop the load (a key readable by others,
// a certificate outside its validity period) come back as warnings next to
// a usable certificate; any other error means the pair is unusable.
func keyPair(certFile, keyFile, certPath, keyPath string, now time.Time) (tls.Certificate, []error) {
	var errs []error
	chain, err := readCerts(certFile)
	if err != nil {
		errs = append(errs, api.Errorf(certPath, "%w", err))
	}
	if w := keyModeWarning(keyFile, keyPath); w != nil {
		errs = append(errs, w)
	}
	key, err := readKey(keyFile)
	if err != nil {
		errs = append(errs, api.Errorf(keyPath, "%w", err))
	}
	if chain == nil || key == nil {
		return tls.Certificate{}, errs
	}
	if !publicKeyMatches(chain[0].PublicKey, key) {
		return tls.Certificate{}, append(errs, api.Errorf(keyPath,
			"private key %s does not match the certificate in %s", keyFile, certFile))
	}
	if w := validityWarning(chain[0], certFile, now); w != nil {
		errs = append(errs, api.Warning(api.Errorf(certPath, "%w", w)))
	}
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, errs
}

// readCerts reads every CERTIFICATE block of a PEM file, leaf first.
func readCerts(file string) ([]*x509.Certificate, error) {
	if file == "" {
		return nil, errors.New("no certificate file given")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d in %s: %w", len(certs)+1, file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("file %s contains no PEM certificate", file)
	}
	return certs, nil
}

// readKey reads the first private key of a PEM file (PKCS #8, PKCS #1 or
// SEC 1).
func readKey(file string) (crypto.Signer, error) {
	if file == "" {
		return nil, errors.New("no private key file given")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("private key in %s is encrypted; gatehouse needs an unencrypted key", file)
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue
		}
		key, err := parseKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing private key in %s: %w", file, err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("file %s contains no PEM private key", file)
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS #8, PKCS #1 or EC private key")
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	eq, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}

// keyModeWarning warns when a private key file can be read by group or
// others. It follows symlinks, as a mounted secret is read through them.
func keyModeWarning(file, path string) error {
	if file == "" || runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return nil
	}
	return api.Warning(api.Errorf(path,
		"private key file %s is readable by group/others (mode %#o); make it 0600", file, uint32(fi.Mode().Perm())))
}

// validityWarning reports a certificate that is expired or not yet valid.
// Such a certificate is still served: refusing it would take down every
// host of the listener, while clients reject it anyway.
func validityWarning(c *x509.Certificate, file string, now time.Time) error {
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("CERTIFICATE EXPIRED: %s expired at %s; it is served anyway and clients will reject it",
			file, c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("CERTIFICATE NOT YET VALID: %s is valid from %s; it is served anyway and clients will reject it",
			file, c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// caPool reads a PEM CA bundle.
func caPool(file string) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := readCerts(file)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}
