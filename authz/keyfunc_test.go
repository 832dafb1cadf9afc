package authz

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// without returns a copy of the JWK without the named members.
func without(k map[string]any, names ...string) map[string]any {
	k = maps.Clone(k)
	for _, n := range names {
		delete(k, n)
	}
	return k
}

func mustKeySet(t testing.TB, symmetric bool, keys ...map[string]any) *keySet {
	t.Helper()
	ks, dropped, _, err := parseKeySet([]byte(jwksJSON(keys...)), symmetric)
	if err != nil || len(dropped) > 0 {
		t.Fatalf("parseKeySet: %v, dropped %v", err, dropped)
	}
	return ks
}

// Which tokens go through keyfunc and which try every candidate.
func TestKeyRoutes(t *testing.T) {
	t.Parallel()
	k := testKeys()
	a, b := rsaJWK("k1", &k.a.PublicKey), rsaJWK("k1", &k.b.PublicKey)
	ecDup := ecJWK("dup", &k.ec.PublicKey)
	ecDup["alg"] = "ES256"
	sets := map[string]*keySet{
		"k1 and e1":          mustKeySet(t, false, a, ecJWK("e1", &k.ec.PublicKey)),
		"k1 twice":           mustKeySet(t, false, a, b),
		"k1 and no kid":      mustKeySet(t, false, a, without(b, "kid")),
		"dup EC then RSA":    mustKeySet(t, false, ecDup, rsaJWK("dup", &k.a.PublicKey)),
		"no kid, EC kid e1":  mustKeySet(t, false, without(a, "kid"), ecJWK("e1", &k.ec.PublicKey)),
		"HMAC h1 and RSA k1": mustKeySet(t, true, map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64u([]byte("0123456789abcdef0123456789abcdef"))}, a),
	}
	tests := []struct {
		set, alg, kid string
		route         route
		known         bool
	}{
		{"k1 and e1", "RS256", "k1", routeKID, true},
		{"k1 and e1", "ES256", "e1", routeKID, true},
		{"k1 and e1", "RS256", "", routeScan, false},
		{"k1 and e1", "ES256", "k1", routeNone, true}, // known kid, other family
		{"k1 and e1", "RS384", "k1", routeNone, true}, // the key says RS256
		{"k1 and e1", "RS256", "zz", routeNone, false},
		{"k1 twice", "RS256", "k1", routeScan, true},
		{"k1 and no kid", "RS256", "k1", routeScan, true},    // the kid-less key fits any kid
		{"k1 and no kid", "RS256", "zz", routeScan, false},   // ... an unknown one too
		{"dup EC then RSA", "RS256", "dup", routeScan, true}, // the storage would return the EC key first
		{"dup EC then RSA", "ES256", "dup", routeKID, true},
		{"no kid, EC kid e1", "ES256", "e1", routeKID, true},
		{"no kid, EC kid e1", "RS256", "e1", routeScan, true},
		{"HMAC h1 and RSA k1", "HS256", "h1", routeKID, true},
		{"HMAC h1 and RSA k1", "HS256", "k1", routeNone, true}, // never HMAC with a public key
		{"HMAC h1 and RSA k1", "RS256", "h1", routeNone, true},
	}
	for _, tc := range tests {
		r, known := sets[tc.set].match(tc.alg, tc.kid)
		if r != tc.route || known != tc.known {
			t.Errorf("%s: %s kid %q: route %d known %v, want %d %v", tc.set, tc.alg, tc.kid, r, known, tc.route, tc.known)
		}
	}
	// The storage behind the keyfunc holds every accepted key.
	all, err := sets["k1 twice"].kf.Storage().KeyReadAll(t.Context())
	if err != nil || len(all) != 2 {
		t.Errorf("storage holds %d keys (%v), want 2", len(all), err)
	}
}

// Envoy semantics that a kid lookup alone would lose: a kid shared by
// several keys, and keys without kid that match every kid.
func TestKeyRoutesEndToEnd(t *testing.T) {
	t.Parallel()
	k := testKeys()
	secret := []byte("0123456789abcdef0123456789abcdef")
	ecDup := ecJWK("dup", &k.ec.PublicKey)
	ecDup["alg"] = "ES256"
	rule := func(keys ...map[string]any) *JWTRule {
		r := inlineRule(t)
		r.JWKS = jwksJSON(keys...)
		return r
	}
	hmac := func(kid string) string {
		h := `{"alg":"HS256"}`
		if kid != "" {
			h = `{"alg":"HS256","kid":"` + kid + `"}`
		}
		return signed(t, jwt.SigningMethodHS256, secret, h, mustJSON(claims()))
	}
	const kidAlg, sigFail = "Jwks doesn't have key to match kid or alg from Jwt", "Jwt verification fails"
	tests := []struct {
		name string
		rule *JWTRule
		tok  string
		body string // "" for 200
	}{
		{"shared kid, first key", rule(rsaJWK("dup", &k.a.PublicKey), rsaJWK("dup", &k.b.PublicKey)), mint(t, k.a, "dup", claims()), ""},
		{"shared kid, second key", rule(rsaJWK("dup", &k.a.PublicKey), rsaJWK("dup", &k.b.PublicKey)), mint(t, k.b, "dup", claims()), ""},
		{"shared kid, EC first", rule(ecDup, rsaJWK("dup", &k.a.PublicKey)), mint(t, k.a, "dup", claims()), ""},
		{"kid-less key, unknown kid", rule(rsaJWK("k1", &k.a.PublicKey), without(rsaJWK("", &k.b.PublicKey), "kid")), mint(t, k.b, "zz", claims()), ""},
		{"kid-less key, other key's kid", rule(rsaJWK("k1", &k.a.PublicKey), without(rsaJWK("", &k.b.PublicKey), "kid")), mint(t, k.b, "k1", claims()), ""},
		{"kid-less key, no kid", rule(rsaJWK("k1", &k.a.PublicKey), without(rsaJWK("", &k.b.PublicKey), "kid")), mint(t, k.b, "", claims()), ""},
		{"known kid, wrong key", rule(rsaJWK("k1", &k.a.PublicKey), rsaJWK("kb", &k.b.PublicKey)), mint(t, k.b, "k1", claims()), sigFail},
		{"known kid, expired", rule(rsaJWK("k1", &k.a.PublicKey)), mint(t, k.a, "k1", claims("exp", fixed.Add(-time.Hour).Unix())), "Jwt is expired"},
		{"HMAC by kid", rule(map[string]any{"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64u(secret)}), hmac("h1"), ""},
		{"HMAC without kid", rule(map[string]any{"kty": "oct", "kid": "h1", "k": b64u(secret)}), hmac(""), ""},
		{"HMAC, wrong secret", rule(map[string]any{"kty": "oct", "kid": "h1", "k": b64u([]byte("another secret, just as long....."))}), hmac("h1"), sigFail},
		{"RS256 naming an HMAC kid", rule(map[string]any{"kty": "oct", "kid": "h1", "k": b64u(secret)}, rsaJWK("k1", &k.a.PublicKey)), mint(t, k.a, "h1", claims()), kidAlg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := jwtEngine(t, tc.rule)
			status, body, _ := authn(t, e, get("/", bearer(tc.tok)...))
			want := 200
			if tc.body != "" {
				want = 401
			}
			if status != want || body != tc.body {
				t.Errorf("got %d %q, want %d %q", status, body, want, tc.body)
			}
		})
	}
}

// keyfunc's own checks run on the kid route on top of match: a storage
// that disagrees with the routing (which newKeySet never builds) fails
// closed.
func TestKeyfuncChecks(t *testing.T) {
	t.Parallel()
	k := testKeys()
	tok, perr := parseToken(mint(t, k.a, "k1", claims()))
	if perr != nil {
		t.Fatal(perr)
	}
	good := rsaJWK("k1", &k.a.PublicKey)
	with := func(kv ...any) map[string]any {
		m := maps.Clone(good)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		stored map[string]any // what the keyfunc's storage holds for kid k1
		want   *authnError
	}{
		{"consistent", good, nil},
		{"no use", without(good, "use"), nil},
		{"alg differs", with("alg", "RS384"), errVerification},
		{"use enc", with("use", "enc"), errVerification},
		{"kid missing", with("kid", "other"), errVerification},
		{"EC key", ecJWK("k1", &k.ec.PublicKey), errVerification},
		{"other RSA key", with("n", rsaJWK("", &k.b.PublicKey)["n"]), errVerification},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, _ := json.Marshal(tc.stored)
			parsed, err := jwkset.NewJWKFromRawJSON(b, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ks, err := newKeySet([]jwk{{kid: "k1", alg: "RS256", fam: famRSA, key: &k.a.PublicKey, parsed: parsed}})
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := ks.match(tok.alg, tok.kid); r != routeKID {
				t.Fatalf("route %d, want routeKID", r)
			}
			if got := tok.verifyKID(t.Context(), ks, "https://idp-a", fixedNow); got != tc.want {
				t.Errorf("verifyKID = %v, want %v", got, tc.want)
			}
		})
	}
}
