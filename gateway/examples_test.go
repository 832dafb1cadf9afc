package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Every directory under examples/ that directly holds YAML files is a
// configuration a user may copy and run as `gatehouse run --config DIR`:
// it must load and compile cleanly, without warnings, and open a listener.
// A directory holding only subdirectories (examples/minikube) groups
// examples and is not one itself. Examples that name certificates by
// credentialName get a credentials directory made for them, as
// `--credentials-dir` would give.
func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	const root = "../examples"
	dirs := exampleDirs(t, root)
	if len(dirs) == 0 {
		t.Fatal("no examples found")
	}
	for _, dir := range dirs {
		name, _ := filepath.Rel(root, dir)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			t.Parallel()
			opts := Options{ConfigPaths: []string{dir}}
			if creds := exampleCredentialUses(t, dir); len(creds) > 0 {
				opts.CredentialsDir = exampleCredentials(t, creds)
			}
			sum, problems, _, err := Check(opts)
			if err != nil {
				t.Fatalf("example does not load: %v", err)
			}
			for _, p := range problems {
				t.Errorf("example has a warning: %s", p)
			}
			if len(sum.Listeners) == 0 {
				t.Error("example opens no listener")
			}
		})
	}
}

// exampleDirs returns the directories under root that directly contain
// *.yaml or *.yml files, as the loader would pick them.
func exampleDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && exampleYAML(p) {
			if dir := filepath.Dir(p); !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func exampleYAML(p string) bool {
	return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")
}

// exampleCredentialUses finds every credentialName (and credentialNames
// entry) in the YAML under dir, with the host names of the server that
// uses it and whether a CA must come with it. A ca.crt is written only
// where something reads it: a MUTUAL or OPTIONAL_MUTUAL Gateway server, or
// a DestinationRule's client TLS. A SIMPLE server warns about a ca.crt it
// would ignore, so none is written for it, as a user should not either.
func exampleCredentialUses(t *testing.T, dir string) map[string]*exampleCredential {
	t.Helper()
	uses := map[string]*exampleCredential{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !exampleYAML(p) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			kind, _ := doc["kind"].(string)
			findCredentials(doc["spec"], nil, kind, uses)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

type exampleCredential struct {
	hosts  []string
	needCA bool
}

// findCredentials walks a decoded YAML value; parent is the map holding
// v, whose hosts are the server's when v is its tls block.
func findCredentials(v any, parent map[string]any, kind string, uses map[string]*exampleCredential) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			findCredentials(e, parent, kind, uses)
		}
	case map[string]any:
		var names []string
		if n, ok := v["credentialName"].(string); ok && n != "" {
			names = append(names, n)
		}
		if ns, ok := v["credentialNames"].([]any); ok {
			for _, n := range ns {
				if s, ok := n.(string); ok && s != "" {
					names = append(names, s)
				}
			}
		}
		mode, _ := v["mode"].(string)
		for _, n := range names {
			u := uses[n]
			if u == nil {
				u = &exampleCredential{}
				uses[n] = u
			}
			if hs, ok := parent["hosts"].([]any); ok {
				for _, h := range hs {
					if s, ok := h.(string); ok {
						if _, name, found := strings.Cut(s, "/"); found {
							s = name
						}
						u.hosts = append(u.hosts, s)
					}
				}
			}
			m := strings.ToUpper(mode)
			if kind != "Gateway" || (m != "SIMPLE" && m != "") {
				u.needCA = true
			}
		}
		for _, e := range v {
			findCredentials(e, v, kind, uses)
		}
	}
}

// exampleCredentials makes a credentials directory in t.TempDir() laid
// out like mounted Kubernetes TLS secrets: for each name, NAME/tls.crt (an
// ECDSA leaf for the server's hosts, signed by a test CA), NAME/tls.key
// (mode 0600) and, when the credential needs one, NAME/ca.crt.
func exampleCredentials(t *testing.T, uses map[string]*exampleCredential) string {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse examples CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serial := int64(2)
	for name, u := range uses {
		hosts := u.hosts
		if len(hosts) == 0 {
			hosts = []string{name + ".example.com"}
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: hosts[0]},
			DNSNames: hosts, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		serial++
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, name)
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		writeExamplePEM(t, filepath.Join(sub, "tls.crt"), "CERTIFICATE", der, 0o644)
		writeExamplePEM(t, filepath.Join(sub, "tls.key"), "PRIVATE KEY", keyDER, 0o600)
		if u.needCA {
			writeExamplePEM(t, filepath.Join(sub, "ca.crt"), "CERTIFICATE", caDER, 0o644)
		}
	}
	return dir
}

func writeExamplePEM(t *testing.T, path, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; the key's must be exact.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
