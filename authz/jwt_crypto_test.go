package authz

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// security.md JWT-13: crypto edge cases and error classification. Every
// failure is 401, whatever else is wrong with the token: one that is
// expired and signed with an unknown key, or expired and badly signed
// with a known one, is refused as expired and never half-accepted. ES256
// signatures of zeros (r=s=0, "psychic signatures"), with r or s zero,
// DER-encoded instead of R||S, or truncated fail verification. RSA keys
// under 2048 or over 8192 bits are dropped when a key set loads, with a
// log line naming them, so tokens they sign are refused and a huge
// modulus never costs a verification.
func TestJWT13CryptoEdgeCases(t *testing.T) {
	t.Parallel()
	t.Run("tokens", jwt13Tokens)
	t.Run("RSA key sizes", jwt13KeySizes)
}

func jwt13Tokens(t *testing.T) {
	t.Parallel()
	k := testKeys()
	rule := inlineRule(t)
	rule.JWKS = jwksJSON(rsaJWK("k1", &k.a.PublicKey), ecJWK("e1", &k.ec.PublicKey))
	e := jwtEngine(t, rule)
	header := `{"alg":"ES256","kid":"e1"}`
	esGood := signed(t, jwt.SigningMethodES256, k.ec, header, mustJSON(claims()))
	in := esGood[:strings.LastIndexByte(esGood, '.')]
	r, s := decodeSig(t, esGood)
	zero := make([]byte, 32)
	bob := signed(t, jwt.SigningMethodES256, k.ec, header, mustJSON(claims("sub", "bob")))
	expired := claims("exp", fixed.Add(-time.Hour).Unix())
	tests := []struct{ name, tok, body string }{
		{"expired and unknown key", mint(t, k.b, "nope", expired), "Jwt is expired"},
		{"expired and a wrong signature under a known kid", mint(t, k.b, "k1", expired), "Jwt is expired"},
		{"not yet valid and a wrong signature", mint(t, k.b, "k1", claims("nbf", fixed.Add(time.Hour).Unix())), "Jwt not yet valid"},
		{"ES256 zero signature", in + "." + b64u(make([]byte, 64)), "Jwt verification fails"},
		{"ES256 r zero", in + "." + b64u(slices.Concat(zero, s)), "Jwt verification fails"},
		{"ES256 s zero", in + "." + b64u(slices.Concat(r, zero)), "Jwt verification fails"},
		{"ES256 DER signature", in + "." + b64u(derSig(r, s)), "Jwt verification fails"},
		{"ES256 truncated", in + "." + b64u(slices.Concat(r, s[:31])), "Jwt verification fails"},
		{"ES256 signature of another token", in + bob[strings.LastIndexByte(bob, '.'):], "Jwt verification fails"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if status, body, _ := authn(t, e, get("/", bearer(tc.tok)...)); status != 401 || body != tc.body {
				t.Errorf("got %d %q, want 401 %q", status, body, tc.body)
			}
		})
	}
	if status, body, _ := authn(t, e, get("/", bearer(esGood)...)); status != 200 {
		t.Errorf("valid ES256: got %d %q", status, body)
	}
}

func decodeSig(t *testing.T, tok string) (r, s []byte) {
	t.Helper()
	sig, err := b64.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v (%d bytes)", err, len(sig))
	}
	return sig[:32], sig[32:]
}

// derSig encodes r and s as an ASN.1 SEQUENCE of two INTEGERs.
func derSig(r, s []byte) []byte {
	integer := func(b []byte) []byte {
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(integer(r), integer(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func jwt13KeySizes(t *testing.T) {
	t.Parallel()
	k := testKeys()
	big := rsaJWK("big", &k.a.PublicKey)
	big["n"] = b64u(append([]byte{0xc5}, make([]byte, 16384/8-1)...))
	set := jwksJSON(rsaJWK("small", &k.small.PublicKey), big, rsaJWK("k1", &k.a.PublicKey))
	ks, dropped, _, err := parseKeySet([]byte(set), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 1 || ks.keys[0].kid != "k1" || len(dropped) != 2 {
		t.Fatalf("kept %d keys, dropped %v; want only k1", len(ks.keys), dropped)
	}
	if _, _, _, err := parseKeySet([]byte(jwksJSON(rsaJWK("small", &k.small.PublicKey))), false); err == nil {
		t.Error("a set of only small keys parsed without error")
	}
	rule := inlineRule(t)
	rule.JWKS = jwksJSON(rsaJWK("small", &k.small.PublicKey), rsaJWK("k1", &k.a.PublicKey))
	if status, body, _ := authn(t, jwtEngine(t, rule), get("/", bearer(mint(t, k.small, "small", claims()))...)); status != 401 {
		t.Errorf("inline: a token signed by a 1024-bit key: got %d %q, want 401", status, body)
	}

	// Fetched from a jwksUri, the drop is logged.
	srv := httptest.NewServer(newFakeJWKS(set))
	t.Cleanup(srv.Close)
	var logs syncWriter
	keySets := NewKeySets(t.Context(), KeySetOptions{Logger: debugLogger(&logs)})
	t.Cleanup(keySets.Close)
	e := remoteEngine(t, keySets, srv.URL)
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
		t.Fatalf("the 2048-bit key next to the dropped ones: got %d %q", status, body)
	}
	small := mint(t, k.small, "small", claims("exp", time.Now().Add(time.Hour).Unix(), "iat", time.Now().Unix()))
	if status, body, _ := authn(t, e, get("/", bearer(small)...)); status != 401 {
		t.Errorf("remote: a token signed by a 1024-bit key: got %d %q, want 401", status, body)
	}
	out := logs.String()
	if !strings.Contains(out, "jwks keys dropped") || !strings.Contains(out, `kid \"small\"`) || !strings.Contains(out, `kid \"big\"`) {
		t.Errorf("no log line naming the dropped keys:\n%s", out)
	}
	if st := keySets.Status(); len(st) != 1 || st[0].Keys != 1 {
		t.Errorf("status = %+v, want one usable key", st)
	}
}
