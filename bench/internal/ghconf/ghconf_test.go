package ghconf

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityToken checks the token is an RS256 JWS that the key set in
// the RequestAuthentication verifies, with the claims the policies need.
func TestSecurityToken(t *testing.T) {
	files, token, err := Security(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`jwks: '(.*)'`).FindStringSubmatch(files["security/jwt.yaml"])
	if m == nil {
		t.Fatalf("no inline jwks in:\n%s", files["security/jwt.yaml"])
	}
	var set struct {
		Keys []struct{ Kty, Kid, Alg, N, E string }
	}
	if err := json.Unmarshal([]byte(m[1]), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", m[1], err)
	}
	k := set.Keys[0]
	n, _ := base64.RawURLEncoding.DecodeString(k.N)
	e, _ := base64.RawURLEncoding.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: want 3 parts", token)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var header map[string]string
	var claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(h, &header) != nil || json.Unmarshal(c, &claims) != nil {
		t.Fatalf("header %s claims %s", h, c)
	}
	if header["alg"] != "RS256" || header["kid"] != k.Kid {
		t.Errorf("header %v, want RS256 and kid %q", header, k.Kid)
	}
	if claims["iss"] != Issuer || claims["aud"] != Audience {
		t.Errorf("claims %v", claims)
	}
}

// TestVirtualServiceVersions checks the two versions differ and both keep
// the measured route.
func TestVirtualServiceVersions(t *testing.T) {
	a, b := VirtualService(49, 10, 0), VirtualService(49, 10, 1)
	if a == b {
		t.Fatal("versions 0 and 1 are equal")
	}
	for _, vs := range []string{a, b} {
		if !strings.Contains(vs, "- uri: {prefix: /r9}") || !strings.Contains(vs, "hosts: [h049.bench.test]") {
			t.Errorf("measured route missing:\n%s", vs)
		}
	}
	files, err := Realistic(8080, 50, 10, "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if files[VSFile(49)] != a {
		t.Error("Realistic does not write version 0")
	}
}
