package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// security.md JWT-12: parser DoS and malformed tokens. Each is 401: a
// token over MaxTokenBytes (8 KiB) is refused before any decoding (one of
// exactly 8 KiB is verified as usual), duplicate JSON keys and nesting
// deeper than 32 are parse errors, standard base64 ("+", "/", "=") is not
// base64url, and 2 or 4 segments are refused. Each answer takes under
// 5ms (the best of 20 runs, so that a loaded machine's preemption does
// not count) and at most 64 allocations, whatever the token's size.
//
// Not parallel: times and allocations are measured for the whole process.
func TestJWT12MalformedTokens(t *testing.T) {
	rule := inlineRule(t)
	rule.FromHeaders = []JWTHeader{{Name: "Authorization", Prefix: "Bearer "}, {Name: "x-raw"}}
	e := jwtEngine(t, rule)
	good := mint(t, testKeys().a, "k1", claims())
	parts := strings.Split(good, ".")
	deep := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	const form = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
	atLimit, overLimit := tokenOfLength(t, MaxTokenBytes), tokenOfLength(t, MaxTokenBytes+1)
	tests := []struct {
		name, header, tok string
		status            int
		body              string
	}{
		{"1 MiB of dots", "Authorization", "Bearer " + strings.Repeat(".", 1<<20), 401, form},
		{"64 KiB header", "Authorization", "Bearer " + raw(`{"alg":"RS256","x":"`+strings.Repeat("a", 64<<10)+`"}`, "{}", nil), 401, form},
		{"one byte over MaxTokenBytes", "Authorization", "Bearer " + overLimit, 401, form},
		{"exactly MaxTokenBytes", "Authorization", "Bearer " + atLimit, 200, ""},
		{"standard base64 is not a token", "Authorization", "Bearer " + strings.ReplaceAll(parts[0], "J", "+") + "=." + parts[1] + "." + parts[2], 401, form},
		{"10000 levels (over the size cap)", "Authorization", "Bearer " + raw(`{"alg":"RS256"}`, deep, nil), 401, form},
		{"nested 40 levels", "Authorization", "Bearer " + raw(`{"alg":"RS256"}`, strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40), nil), 401, "Jwt payload is an invalid JSON"},
		{"duplicate sub", "Authorization", "Bearer " + raw(`{"alg":"RS256","kid":"k1"}`, `{"iss":"https://idp-a","sub":"user","sub":"admin"}`, []byte("x")), 401, "Jwt payload is an invalid JSON"},
		{"duplicate sub, validly signed", "Authorization", "Bearer " + signed(t, jwt.SigningMethodRS256, testKeys().a, `{"alg":"RS256","kid":"k1"}`,
			strings.Replace(mustJSON(claims()), `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1)), 401, "Jwt payload is an invalid JSON"},
		{"duplicate alg", "Authorization", "Bearer " + raw(`{"alg":"none","alg":"RS256"}`, `{}`, nil), 401, "Jwt header is an invalid JSON"},
		{"two segments", "Authorization", "Bearer " + parts[0] + "." + parts[1], 401, form},
		{"four segments", "Authorization", "Bearer " + good + ".x", 401, form},
		{"payload not an object", "Authorization", "Bearer " + raw(`{"alg":"RS256"}`, `[1]`, nil), 401, "Jwt payload is an invalid JSON"},
		{"trailing JSON", "Authorization", "Bearer " + raw(`{"alg":"RS256"}`, `{}{}`, nil), 401, "Jwt payload is an invalid JSON"},
		{"kid not a string", "Authorization", "Bearer " + raw(`{"alg":"RS256","kid":7}`, `{}`, nil), 401, "Jwt header [kid] field is not a string"},
		{"alg missing", "Authorization", "Bearer " + raw(`{"typ":"JWT"}`, `{}`, nil), 401, "Jwt header [alg] field is required and must be a string"},
		{"iss not a string", "Authorization", "Bearer " + raw(`{"alg":"RS256"}`, `{"iss":1}`, nil), 401, "Jwt payload [iss] field is not a string"},
		// Behind a header without a prefix the whole value is parsed, so
		// the base64url checks themselves are reached.
		{"standard base64 header", "x-raw", strings.ReplaceAll(parts[0], "J", "+") + "." + parts[1] + "." + parts[2], 401, "Jwt header is an invalid Base64url encoded"},
		{"padded payload", "x-raw", parts[0] + "." + parts[1] + "=." + parts[2], 401, "Jwt payload is an invalid Base64url encoded"},
		{"standard base64 signature", "x-raw", parts[0] + "." + parts[1] + ".a+b/", 401, "Jwt signature is an invalid Base64url encoded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get("/", tc.header, tc.tok)
			if status, body, _ := authn(t, e, r); status != tc.status || body != tc.body {
				t.Errorf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
			best := time.Hour
			for range 20 {
				start := time.Now()
				e.Authenticate(t.Context(), get("/", tc.header, tc.tok))
				best = min(best, time.Since(start))
			}
			if best > 5*time.Millisecond {
				t.Errorf("took %v at best, want under 5ms", best)
			}
			if n := testing.AllocsPerRun(20, func() { e.Authenticate(t.Context(), r) }); n > 64 {
				t.Errorf("%v allocations, want at most 64", n)
			}
		})
	}
}

// tokenOfLength signs a valid token for key A exactly n bytes long,
// padding its header and payload.
func tokenOfLength(t *testing.T, n int) string {
	t.Helper()
	sig := len(b64u(make([]byte, 256))) // RS256 with a 2048-bit key
	for ppad := range 3 {
		payload := mustJSON(claims("pad", strings.Repeat("p", ppad)))
		for pad := range n {
			header := `{"alg":"RS256","kid":"k1","pad":"` + strings.Repeat("p", pad) + `"}`
			l := len(b64u([]byte(header))) + 1 + len(b64u([]byte(payload))) + 1 + sig
			if l == n {
				return signed(t, jwt.SigningMethodRS256, testKeys().a, header, payload)
			}
			if l > n {
				break
			}
		}
	}
	t.Fatalf("no padding gives a token of %d bytes", n)
	return ""
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
