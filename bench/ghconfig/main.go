// Command ghconfig writes the gatehouse configuration of bench/peers.sh
// into a directory: the realistic config (bench/config.go's shape), and
// optionally BenchmarkSecurity's JWT authentication and three
// AuthorizationPolicies (-security; the token that passes them goes to
// -token) and an IstioOperator turning the access log on (-access-log).
//
//	ghconfig -dir DIR -port 8080 -upstream 127.0.0.1:9000 [-hosts 50] [-routes 10]
//	         [-security -key KEY.pem -token FILE] [-access-log FILE [-access-log-encoding JSON]]
//
// -key is the RS256 signing key (PKCS#1 PEM), made there if missing, so
// that several configurations accept the same token.
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/ghconf"
)

func main() {
	dir := flag.String("dir", "", "directory to write the configuration into (created)")
	port := flag.Uint("port", 8080, "the Gateway servers' port")
	upstream := flag.String("upstream", "", "the upstream, 127.0.0.1:PORT")
	hosts := flag.Int("hosts", 50, "hosts, one VirtualService each")
	routes := flag.Int("routes", 10, "routes per VirtualService")
	security := flag.Bool("security", false, "add a RequestAuthentication (inline RS256 JWKS) and three AuthorizationPolicies")
	keyFile := flag.String("key", "", "with -security: the signing key (PKCS#1 PEM), made if missing")
	tokenFile := flag.String("token", "", "with -security: write the token that passes the policies to this file")
	accessLog := flag.String("access-log", "", "add an IstioOperator with meshConfig.accessLogFile set to this")
	encoding := flag.String("access-log-encoding", "JSON", "meshConfig.accessLogEncoding: TEXT or JSON")
	flag.Parse()
	if *dir == "" || *upstream == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *security && (*tokenFile == "" || *keyFile == "") {
		fail(errors.New("-security needs -key FILE and -token FILE"))
	}
	files, err := ghconf.Realistic(uint32(*port), *hosts, *routes, *upstream)
	if err != nil {
		fail(err)
	}
	if *security {
		key, err := loadOrCreateKey(*keyFile)
		if err != nil {
			fail(err)
		}
		sec, token, err := ghconf.Security(key)
		if err != nil {
			fail(err)
		}
		for k, v := range sec {
			files[k] = v
		}
		if err := os.WriteFile(*tokenFile, []byte(token+"\n"), 0o600); err != nil {
			fail(err)
		}
	}
	if *accessLog != "" {
		for k, v := range ghconf.Mesh(*accessLog, *encoding) {
			files[k] = v
		}
	}
	if err := ghconf.WriteFiles(*dir, files); err != nil {
		fail(err)
	}
}

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := ghconf.NewKey()
		if err != nil {
			return nil, err
		}
		out := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		return key, os.WriteFile(path, out, 0o600)
	}
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return x509.ParsePKCS1PrivateKey(b.Bytes)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ghconfig:", err)
	os.Exit(1)
}
