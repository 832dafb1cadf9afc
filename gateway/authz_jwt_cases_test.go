package gateway

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// azJWTCase is one request to a gateway and what the client must see.
type azJWTCase struct {
	name, host, path string
	hdr              []string
	code             int
	body             string
	up               func(t *testing.T, s seen) // nil: the upstream must not see it
}

// azJWTRun sends each request in order. A 401 must carry Envoy's
// WWW-Authenticate for the request; only a 200 may reach the upstream.
func azJWTRun(t *testing.T, g *gw, ch chan seen, cases []azJWTCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := g.get(80, tc.host, tc.path, tc.hdr...)
			if code != tc.code || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.code, tc.body)
			}
			if code == 401 {
				realm := fmt.Sprintf(`Bearer realm="http://%s%s", error="invalid_token"`, tc.host, strings.Split(tc.path, "?")[0])
				if got := h.Get("Www-Authenticate"); got != realm || h.Get("Content-Type") != "text/plain" {
					t.Errorf("www-authenticate %q content-type %q, want %q text/plain", got, h.Get("Content-Type"), realm)
				}
			}
			if code != 200 {
				azNothing(t, ch, tc.name)
				return
			}
			s := <-ch
			if tc.up != nil {
				tc.up(t, s)
			}
		})
	}
}

// azRawToken assembles a token from exact header JSON, claims and
// signature bytes.
func azRawToken(header string, claims jwt.MapClaims, sig []byte) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return b64([]byte(header)) + "." + b64(payload) + "." + b64(sig)
}

// security.md JWT-01: alg "none" in every spelling, with an empty or a
// garbage signature, is 401 and never reaches the upstream, on a path
// that requires a principal and on one that does not.
func TestJWT01AlgNone(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	claims := azClaims("https://idp-a.example", "admin")
	var cases []azJWTCase
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, sig := range []string{"", "garbage"} {
			tok := azRawToken(`{"alg":"`+alg+`","typ":"JWT"}`, claims, []byte(sig))
			for _, path := range []string{"/secure/x", "/open"} {
				cases = append(cases, azJWTCase{fmt.Sprintf("%s signature %q on %s", alg, sig, path), "api.example.com", path,
					[]string{"Authorization", "Bearer " + tok}, 401, "Jwt header [alg] is not supported", nil})
			}
		}
	}
	withKid := azRawToken(`{"alg":"none","kid":"rsa-1"}`, claims, nil)
	cases = append(cases, azJWTCase{"none with the provider's kid", "api.example.com", "/secure/x",
		[]string{"Authorization", "Bearer " + withKid}, 401, "Jwt header [alg] is not supported", nil})
	azJWTRun(t, g, ch, cases)
}

// security.md JWT-02: RS/HS key confusion. An HS256 token keyed with the
// provider's RSA public key, as PEM and as DER, with or without its kid,
// is 401: an HMAC token never meets a public key. A symmetric (kty oct)
// key served by a remote jwksUri is refused, so a token signed with it is
// 401 too, while the RSA key next to it still verifies.
func TestJWT02KeyConfusion(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	pub, err := x509.MarshalPKIXPublicKey(&azKeys().rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	alice := azClaims("https://idp-a.example", "alice")
	hmac := func(kid string, secret []byte) []string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, alice)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + s}
	}
	const noKey = "Jwks doesn't have key to match kid or alg from Jwt"
	azJWTRun(t, g, ch, []azJWTCase{
		{"HS256 keyed with the RSA public key's PEM", "api.example.com", "/secure/x", hmac("rsa-1", pubPEM), 401, noKey, nil},
		{"HS256 keyed with the RSA public key's DER", "api.example.com", "/secure/x", hmac("rsa-1", pub), 401, noKey, nil},
		{"HS256 keyed with the PEM, no kid", "api.example.com", "/secure/x", hmac("", pubPEM), 401, noKey, nil},
		{"HS256 keyed with the DER, no kid", "api.example.com", "/open", hmac("", pub), 401, noKey, nil},
	})

	secret := []byte("0123456789abcdef0123456789abcdef")
	b64 := base64.RawURLEncoding.EncodeToString
	k := azKeys().rsa
	set := fmt.Sprintf(`{"keys":[{"kty":"oct","kid":"h1","alg":"HS256","k":%q},{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":%q,"e":%q}]}`,
		b64(secret), b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
	ch2 := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch2)), "")
	cfg["ra.yaml"] = fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules: [{issuer: https://idp-a.example, jwksUri: %s}]
`, azServe(t, set))
	g2 := startGW(t, cfg)
	azJWTRun(t, g2, ch2, []azJWTCase{
		{"HS256 signed with a remote oct key", "a.example.com", "/", hmac("h1", secret), 401, noKey, nil},
		{"RS256 next to the refused oct key", "a.example.com", "/", []string{"Authorization", "Bearer " + idp.sign(t, jwt.SigningMethodRS256, "rsa-1", alice)}, 200, "ok", nil},
	})
}
