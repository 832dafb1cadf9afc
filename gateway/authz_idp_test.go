package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// azSigningKeys are the fake identity provider's keys, made once for the
// package: RSA key generation is slow under -race.
type azSigningKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

var azKeys = sync.OnceValue(func() azSigningKeys {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return azSigningKeys{rsa: r, ec: e}
})

// azIdP is a fake identity provider: a JWKS endpoint (kid rsa-1, RS256;
// kid ec-1, ES256) that the test can take down (503) and bring back.
type azIdP struct {
	// URL is the jwksUri.
	URL string
	// down makes the endpoint answer 503.
	down atomic.Bool
	// served receives (without blocking) each time the keys were served.
	served chan struct{}
}

func newAzIdP(t *testing.T) *azIdP {
	t.Helper()
	k := azKeys()
	pt, err := k.ec.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(k.rsa.N.Bytes()), "e": b64(big.NewInt(int64(k.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "ec-1", "alg": "ES256", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])},
	}})
	p := &azIdP{served: make(chan struct{}, 1)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
		select {
		case p.served <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(ts.Close)
	p.URL = ts.URL + "/jwks"
	return p
}

// sign signs claims with the provider's key for method; kid goes into the
// header as given, so an unknown kid can be minted too.
func (p *azIdP) sign(t *testing.T, m jwt.SigningMethod, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	var key any = azKeys().rsa
	if m.Alg() == "ES256" {
		key = azKeys().ec
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// azClaims is a token valid for an hour for audience api, with extra
// claims as name, value pairs (which may replace the defaults).
func azClaims(iss, sub string, kv ...any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": iss, "sub": sub, "aud": "api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// azFixture reads one of Istio's sample files, skipping the test when
// the shared reference folder is not there.
func azFixture(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Istio's JWT samples are not available at %s (expected next to the repository, in ../shared/reference/istio-jwt)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// azServe serves body as JSON and returns its URL.
func azServe(t *testing.T, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// Istio's own sample token and key set (security/tools/jwt/samples) work
// as in Istio's documentation.
func TestAuthzJWTIstioSample(t *testing.T) {
	t.Parallel()
	const dir = "../../shared/reference/istio-jwt/"
	demo, groups, jwks := azFixture(t, dir+"demo.jwt"), azFixture(t, dir+"groups-scope.jwt"), azFixture(t, dir+"jwks.json")
	ks := azServe(t, jwks)
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["security.yaml"] = fmt.Sprintf(`apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {name: jwt-example, namespace: istio-system}
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: %s
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]}}]
    to: [{operation: {paths: ["/headers"]}}]
  - to: [{operation: {paths: ["/group"]}}]
    when: [{key: "request.auth.claims[groups]", values: [group1]}]
`, ks)
	g := startGW(t, cfg)
	tests := []struct {
		path, token string
		code        int
	}{
		{"/headers", demo, 200},
		{"/headers", "", 403},
		{"/group", groups, 200},
		{"/group", demo, 403},
		{"/headers", demo[:len(demo)-4] + "AAAA", 401},
	}
	for _, tc := range tests {
		var hdr []string
		if tc.token != "" {
			hdr = []string{"Authorization", "Bearer " + tc.token}
		}
		code, body, _ := g.get(80, "", tc.path, hdr...)
		if code != tc.code {
			t.Errorf("%s with token %.12q: %d %q, want %d", tc.path, tc.token, code, body, tc.code)
		}
		if code == 200 {
			<-ch
		} else {
			azNothing(t, ch, tc.path)
		}
	}
}
