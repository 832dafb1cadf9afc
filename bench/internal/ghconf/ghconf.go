// Package ghconf writes the gatehouse configurations bench/peers.sh runs:
// the "realistic" config (which the Go benchmarks load too, through
// bench.RealisticConfig), the JWT authentication and three AuthorizationPolicies of
// BenchmarkSecurity, an IstioOperator turning the access log on, and the
// two versions of one VirtualService the reload scenario alternates.
//
// It is standard-library only (the token is signed with crypto/rsa), so
// that the helpers built on it (bench/ghconfig, bench/reloader) do not
// depend on the packages they measure.
package ghconf

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BackendHost is the ServiceEntry host every route forwards to.
const BackendHost = "backend.bench.internal"

// Issuer and Audience of the benchmark's JWTs.
const (
	Issuer   = "https://idp.bench.test"
	Audience = "api"
)

// HostName returns the name of host i: "h007.bench.test".
func HostName(i int) string { return fmt.Sprintf("h%03d.bench.test", i) }

// VSFile returns the file of host i's VirtualService, relative to the
// config directory.
func VSFile(i int) string { return fmt.Sprintf("vs/vs-%03d.yaml", i) }

// MeasuredPath is the path requests are sent to: the last route of a host.
func MeasuredPath(routes int) string { return fmt.Sprintf("/r%d/hello", routes-1) }

// routeMatchYAML returns the match block of route r of a host, as
// bench.routeMatchYAML does.
func routeMatchYAML(r, last int) string {
	switch {
	case r == last:
		return fmt.Sprintf("- uri: {prefix: /r%d}", r)
	case r%4 == 0:
		return fmt.Sprintf("- uri: {prefix: /r%d/}\n  method: {exact: POST}", r)
	case r%4 == 1:
		return fmt.Sprintf("- uri: {exact: /r%d/health}", r)
	case r%4 == 2:
		return fmt.Sprintf("- uri: {regex: '/r%d/[0-9]+/items'}", r)
	default:
		return fmt.Sprintf("- uri: {prefix: /r%d}\n  headers: {x-tenant: {exact: t%d}}", r, r)
	}
}

// Realistic returns the files of the realistic configuration: one Gateway
// on port with hosts HostName(0..hosts-1) in servers of ten hosts each, one
// VirtualService of routes routes per host, and a STATIC ServiceEntry
// sending BackendHost to upstream ("127.0.0.1:PORT").
func Realistic(port uint32, hosts, routes int, upstream string) (map[string]string, error) {
	upHost, upPort, ok := strings.Cut(upstream, ":")
	if !ok {
		return nil, fmt.Errorf("upstream %q: want host:port", upstream)
	}
	if hosts < 1 || routes < 1 {
		return nil, fmt.Errorf("want at least one host and one route (got %d, %d)", hosts, routes)
	}
	files := make(map[string]string, hosts+2)
	var gw strings.Builder
	fmt.Fprintf(&gw, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bench-gw, namespace: default}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n")
	for first := 0; first < hosts; first += 10 {
		fmt.Fprintf(&gw, "  - port: {number: %d, name: http-%d, protocol: HTTP}\n    bind: 127.0.0.1\n    hosts:\n", port, first)
		for i := first; i < min(first+10, hosts); i++ {
			fmt.Fprintf(&gw, "    - %s\n", HostName(i))
		}
	}
	files["gateway.yaml"] = gw.String()
	files["backend.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [%s]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: %s
    ports: {http: %s}
`, BackendHost, upHost, upPort)
	for i := range hosts {
		files[VSFile(i)] = VirtualService(i, routes, 0)
	}
	return files, nil
}

// VirtualService returns host i's VirtualService. Version 0 is the one
// Realistic writes. Version 1 has one more route in front
// (exact /reload-b) and a different timeout on the last route; both send
// MeasuredPath to BackendHost, so the reload scenario can alternate them
// under load without changing any answer.
func VirtualService(i, routes, version int) string {
	var vs strings.Builder
	fmt.Fprintf(&vs, "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-%03d, namespace: default}\nspec:\n  hosts: [%s]\n  gateways: [bench-gw]\n  http:\n", i, HostName(i))
	if version%2 == 1 {
		fmt.Fprintf(&vs, "  - name: reload-b\n    match:\n    - uri: {exact: /reload-b}\n    route:\n    - destination: {host: %s, port: {number: 8080}}\n    timeout: 5s\n", BackendHost)
	}
	for r := range routes {
		timeout := "10s"
		if version%2 == 1 && r == routes-1 {
			timeout = "11s"
		}
		fmt.Fprintf(&vs, "  - name: r%d\n    match:\n    %s\n    route:\n    - destination: {host: %s, port: {number: 8080}}\n    timeout: %s\n",
			r, strings.ReplaceAll(routeMatchYAML(r, routes-1), "\n", "\n    "), BackendHost, timeout)
	}
	return vs.String()
}

// NewKey returns a new RSA 2048 signing key.
func NewKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// Security returns a RequestAuthentication with key's public half as an
// inline RS256 key set and three AuthorizationPolicies (what
// BenchmarkSecurity measures), with a token signed by key,
// valid for 24 hours, that passes all of them for GET requests to /r* on
// *.bench.test. A nil key is a new one.
func Security(key *rsa.PrivateKey) (files map[string]string, token string, err error) {
	if key == nil {
		if key, err = NewKey(); err != nil {
			return nil, "", err
		}
	}
	jwk := map[string]any{"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}
	jwks, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		return nil, "", err
	}
	token, err = SignRS256(key, "bench", map[string]any{"iss": Issuer, "sub": "alice", "aud": Audience,
		"groups": []string{"staff", "admin"}, "exp": time.Now().Add(24 * time.Hour).Unix()})
	if err != nil {
		return nil, "", err
	}
	policy := func(name, body string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: istio-system}\nspec:\n" + body
	}
	return map[string]string{
		"security/jwt.yaml": `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: ` + Issuer + `
    audiences: [` + Audience + `]
    jwks: '` + string(jwks) + `'
`,
		"security/require-jwt.yaml": policy("require-jwt", `  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["`+Issuer+`/*"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/r*"]}}]
`),
		"security/deny-blocked.yaml": policy("deny-blocked", `  action: DENY
  rules:
  - from: [{source: {remoteIpBlocks: ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.7"]}}]
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`),
		"security/staff-only.yaml": policy("staff-only", `  action: DENY
  rules:
  - to: [{operation: {hosts: ["*.bench.test"]}}]
    when:
    - key: request.auth.claims[groups]
      notValues: [staff]
`),
	}, token, nil
}

// SignRS256 returns a compact JWS (RS256) of claims with key id kid.
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// Mesh returns an IstioOperator whose meshConfig turns the access log on:
// file (a path, or /dev/stdout) in encoding (TEXT or JSON).
func Mesh(file, encoding string) map[string]string {
	return map[string]string{"mesh.yaml": fmt.Sprintf(`apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: istio, namespace: istio-system}
spec:
  meshConfig:
    accessLogFile: %q
    accessLogEncoding: %s
`, file, encoding)}
}

// WriteFiles writes files (names relative to dir, "/"-separated) under dir.
func WriteFiles(dir string, files map[string]string) error {
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}
