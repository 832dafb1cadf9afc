package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// JWT-12: parser DoS and malformed tokens fail fast and cheaply.
func TestMalformedTokens(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	good := mint(t, testKeys().a, "k1", claims())
	parts := strings.Split(good, ".")
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	tests := []struct{ name, tok, body string }{
		{"1 MiB of dots", strings.Repeat(".", 1<<20), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"64 KiB header", raw(`{"alg":"RS256","x":"`+strings.Repeat("a", 64<<10)+`"}`, "{}", nil), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"standard base64 is not a token", strings.ReplaceAll(parts[0], "J", "+") + "=." + parts[1] + "." + parts[2], "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"10000 levels (over the size cap)", raw(`{"alg":"RS256"}`, deep, nil), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"nested 40 levels", raw(`{"alg":"RS256"}`, strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40), nil), "Jwt payload is an invalid JSON"},
		{"duplicate sub", raw(`{"alg":"RS256","kid":"k1"}`, `{"iss":"https://idp-a","sub":"user","sub":"admin"}`, []byte("x")), "Jwt payload is an invalid JSON"},
		{"duplicate alg", raw(`{"alg":"none","alg":"RS256"}`, `{}`, nil), "Jwt header is an invalid JSON"},
		{"two segments", parts[0] + "." + parts[1], "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"four segments", good + ".x", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"payload not an object", raw(`{"alg":"RS256"}`, `[1]`, nil), "Jwt payload is an invalid JSON"},
		{"trailing JSON", raw(`{"alg":"RS256"}`, `{}{}`, nil), "Jwt payload is an invalid JSON"},
		{"kid not a string", raw(`{"alg":"RS256","kid":7}`, `{}`, nil), "Jwt header [kid] field is not a string"},
		{"alg missing", raw(`{"typ":"JWT"}`, `{}`, nil), "Jwt header [alg] field is required and must be a string"},
		{"iss not a string", raw(`{"alg":"RS256"}`, `{"iss":1}`, nil), "Jwt payload [iss] field is not a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			status, body, _ := authn(t, e, get("/", bearer(tc.tok)...))
			if status != 401 || body != tc.body {
				t.Errorf("got %d %q, want 401 %q", status, body, tc.body)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Behind a header without prefix the whole value is parsed, so the
	// base64 checks themselves are reached.
	for _, tc := range []struct{ tok, body string }{
		{strings.ReplaceAll(parts[0], "J", "+") + "." + parts[1] + "." + parts[2], "Jwt header is an invalid Base64url encoded"},
		{parts[0] + "." + parts[1] + "=." + parts[2], "Jwt payload is an invalid Base64url encoded"},
		{parts[0] + "." + parts[1] + ".a+b", "Jwt signature is an invalid Base64url encoded"},
	} {
		if _, err := parseToken(tc.tok); err == nil || err.body != tc.body {
			t.Errorf("parseToken(%.30q) = %v, want %q", tc.tok, err, tc.body)
		}
	}
}

// JWT-12: a 1 MiB token is refused before any decoding.
func TestHugeTokenAllocs(t *testing.T) {
	e := jwtEngine(t, inlineRule(t))
	huge := get("/", bearer(strings.Repeat(".", 1<<20))...)
	if n := testing.AllocsPerRun(20, func() { e.Authenticate(t.Context(), huge) }); n > 10 {
		t.Errorf("a 1 MiB token costs %v allocations, want a handful", n)
	}
}

// JWT-13: crypto edge cases.
func TestCryptoEdgeCases(t *testing.T) {
	t.Parallel()
	k := testKeys()
	rule := inlineRule(t)
	rule.JWKS = jwksJSON(rsaJWK("k1", &k.a.PublicKey), ecJWK("e1", &k.ec.PublicKey))
	e := jwtEngine(t, rule)
	header := `{"alg":"ES256","kid":"e1"}`
	esGood := signed(t, jwt.SigningMethodES256, k.ec, header, mustJSON(claims()))
	in := esGood[:strings.LastIndexByte(esGood, '.')]
	r, s := decodeSig(t, esGood)
	der := derSig(r, s)
	tests := []struct{ name, tok, body string }{
		{"expired and unknown key", mint(t, k.b, "nope", claims("exp", fixed.Add(-time.Hour).Unix())), "Jwt is expired"},
		{"ES256 zero signature", in + "." + b64u(make([]byte, 64)), "Jwt verification fails"},
		{"ES256 DER signature", in + "." + b64u(der), "Jwt verification fails"},
		{"ES256 truncated", in + "." + b64u(slices.Concat(r, s[:31])), "Jwt verification fails"},
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

// JWT-13: RSA keys below 2048 or above 8192 bits are dropped at load.
func TestRSAKeySizes(t *testing.T) {
	t.Parallel()
	k := testKeys()
	big := rsaJWK("big", &k.a.PublicKey)
	big["n"] = b64u(append([]byte{0xc5}, make([]byte, 16384/8-1)...))
	ks, dropped, _, err := parseKeySet([]byte(jwksJSON(rsaJWK("small", &k.small.PublicKey), big, rsaJWK("k1", &k.a.PublicKey))), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.keys) != 1 || ks.keys[0].kid != "k1" || len(dropped) != 2 {
		t.Fatalf("kept %d keys, dropped %v; want only k1", len(ks.keys), dropped)
	}
	rule := inlineRule(t)
	rule.JWKS = jwksJSON(rsaJWK("small", &k.small.PublicKey), rsaJWK("k1", &k.a.PublicKey))
	e := jwtEngine(t, rule)
	if status, body, _ := authn(t, e, get("/", bearer(mint(t, k.small, "small", claims()))...)); status != 401 {
		t.Errorf("token signed by a 1024-bit key: got %d %q, want 401", status, body)
	}
	if _, _, _, err := parseKeySet([]byte(jwksJSON(rsaJWK("small", &k.small.PublicKey))), false); err == nil {
		t.Error("a set of only small keys parsed without error")
	}
}

// Tokens never appear in logs.
func TestRejectLogHasNoToken(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	e := NewEngine(Options{Now: fixedNow, Logger: debugLogger(&buf)}, Config{RequestAuthentications: []*Authn{a}})
	tok := mint(t, testKeys().b, "k1", claims())
	if status, _, _ := authn(t, e, get("/", bearer(tok)...)); status != http.StatusUnauthorized {
		t.Fatalf("got %d, want 401", status)
	}
	if !strings.Contains(buf.String(), "jwt rejected") || strings.Contains(buf.String(), tok[:20]) {
		t.Errorf("log = %q: want a rejection line without the token", buf.String())
	}
}

// FuzzJWTHeader feeds arbitrary header and payload JSON through the token
// parser and the whole verification path. Nothing may panic, and a token
// whose signature is not a real one must never authenticate.
func FuzzJWTHeader(f *testing.F) {
	for _, s := range [][2]string{
		{`{"alg":"none"}`, `{"iss":"https://idp-a"}`},
		{`{"alg":"RS256","kid":"k1"}`, `{"iss":"https://idp-a","sub":"a","aud":"api","exp":9999999999}`},
		{`{"alg":"HS256","kid":"k1"}`, `{"iss":"https://idp-a","exp":1e300}`},
		{`{"alg":"RS256","jku":"http://127.0.0.1/x","jwk":{"kty":"RSA"}}`, `{"iss":"https://idp-a","sub":"user","sub":"admin"}`},
		{`{"alg":"ES256","kid":"../../dev/null"}`, `{"iss":"https://idp-a","aud":[1,2],"nbf":"x"}`},
		{`{"alg":["RS256"]}`, `[]`},
		{`{"alg":"RS256","kid":7}`, strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)},
	} {
		f.Add(s[0], s[1], "sig")
	}
	e := jwtEngine(f, inlineRule(f))
	f.Fuzz(func(t *testing.T, header, payload, sig string) {
		tok := raw(header, payload, []byte(sig))
		if pt, err := parseToken(tok); err == nil && algFamily(pt.alg) == famNone {
			t.Fatalf("parsed a token with unsupported alg %q", pt.alg)
		}
		id, resp := e.Authenticate(t.Context(), get("/", bearer(tok)...))
		if id.Authenticated() || (resp == nil && id != nil) {
			t.Fatalf("forged token authenticated: %q", tok)
		}
		if resp != nil && resp.Status != 401 && resp.Status != 403 {
			t.Fatalf("status %d", resp.Status)
		}
	})
}

// FuzzTokenExtraction feeds arbitrary Authorization values. Extraction
// yields either nothing, an empty (invalid) token, or a run of token
// characters; only the seeded valid token may authenticate.
func FuzzTokenExtraction(f *testing.F) {
	good := mint(f, testKeys().a, "k1", claims())
	for _, s := range []string{"Bearer " + good, "bearer " + good, "Bearer " + good + " extra", "Bearer",
		"Basic dXNlcjpwYXNz", "Bearer " + strings.Repeat(".", 100), "x Bearer  " + good + "\t", "Bearer a.b.c"} {
		f.Add(s)
	}
	e := jwtEngine(f, inlineRule(f))
	l := headerLocation("Authorization", "Bearer ")
	f.Fuzz(func(t *testing.T, v string) {
		r := get("/", "Authorization", v)
		if _, tok := l.scan(r); strings.IndexFunc(tok, func(c rune) bool { return c > 0x7f || !isTokenChar(byte(c)) }) >= 0 {
			t.Fatalf("extracted %q from %q", tok, v)
		}
		id, _ := e.Authenticate(t.Context(), r)
		if id.Authenticated() && !strings.Contains(v, good) {
			t.Fatalf("authenticated %q", v)
		}
	})
}

// decodeObjectSlow is the straightforward token-by-token decoder that
// decodeObject replaced; FuzzDecodeObject checks that both agree.
func decodeObjectSlow(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	m, err := slowObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return m, nil
}

func slowObject(dec *json.Decoder, depth int) (map[string]any, error) {
	m := map[string]any{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		if _, dup := m[k]; dup {
			return nil, errDuplicateKey
		}
		if m[k], err = slowValue(dec, depth); err != nil {
			return nil, err
		}
	}
	_, err := dec.Token()
	return m, err
}

func slowValue(dec *json.Decoder, depth int) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	if depth >= maxJSONDepth {
		return nil, errTooDeep
	}
	if d == '{' {
		return slowObject(dec, depth+1)
	}
	list := []any{}
	for dec.More() {
		v, err := slowValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	_, err = dec.Token()
	return list, err
}

// FuzzDecodeObject checks the fast strict decoder against the slow one.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"sub":"a","sub":"b"}`, `{"sub":"a","\u0073ub":"b"}`, `{"a":{"b":1},"b":[{"a":1,"a":2}]}`,
		`{"a":"}{\"",  "b": [1, 2.5e3, true, null]}`, `{"\ud800":1,"\udc00":2}`, `{} x`, `[1]`, `null`,
		strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32), strings.Repeat(`[`, 33) + strings.Repeat(`]`, 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		fast, err1 := decodeObject([]byte(s))
		slow, err2 := decodeObjectSlow([]byte(s))
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: fast error %v, slow error %v", s, err1, err2)
		}
		if err1 == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %v, slow %v", s, fast, slow)
		}
	})
}
