package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/golang-jwt/jwt/v5"
)

// Keys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	a, b, small *rsa.PrivateKey
	ec          *ecdsa.PrivateKey
}) {
	gen := func(bits int) *rsa.PrivateKey {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return key
	}
	k.a, k.b, k.small = gen(2048), gen(2048), gen(1024)
	var err error
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// fixed is the clock of most tests.
var fixed = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return fixed }

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK renders a public RSA key as a JWK.
func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
}

// ecJWK renders a public P-256 key as a JWK.
func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(b[1:33]), "y": b64u(b[33:])}
}

func jwksJSON(keys ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// raw assembles a token from exact header and payload JSON and a signature.
func raw(header, payload string, sig []byte) string {
	return b64u([]byte(header)) + "." + b64u([]byte(payload)) + "." + b64u(sig)
}

// signed signs header.payload with method and key.
func signed(t testing.TB, m jwt.SigningMethod, key any, header, payload string) string {
	t.Helper()
	in := b64u([]byte(header)) + "." + b64u([]byte(payload))
	sig, err := m.Sign(in, key)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64u(sig)
}

// mint signs claims with RS256 and kid.
func mint(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return signed(t, jwt.SigningMethodRS256, key, mustJSON(h), mustJSON(claims))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// claims returns a valid claim set for issuer "https://idp-a".
func claims(extra ...any) map[string]any {
	c := map[string]any{"iss": "https://idp-a", "sub": "alice", "aud": "api",
		"exp": fixed.Add(time.Hour).Unix(), "iat": fixed.Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		k := extra[i].(string)
		if extra[i+1] == nil {
			delete(c, k)
			continue
		}
		c[k] = extra[i+1]
	}
	return c
}

func meta(ns, name string) api.Meta { return api.Meta{Namespace: ns, Name: name} }

// noErrors fails on every error that is not a warning.
func noErrors(t testing.TB, errs []error) {
	t.Helper()
	for _, err := range errs {
		if !api.IsWarning(err) {
			t.Fatalf("unexpected error: %v", err)
		}
	}
}

func mustAuthn(t testing.TB, spec *RequestAuthentication) *Authn {
	t.Helper()
	a, errs := CompileRequestAuthentication(meta("default", "ra"), spec)
	noErrors(t, errs)
	return a
}

func mustPolicy(t testing.TB, m api.Meta, spec *AuthorizationPolicy) *Policy {
	t.Helper()
	p, errs := CompileAuthorizationPolicy(m, spec)
	noErrors(t, errs)
	return p
}

// inlineRule is a JWT rule for "https://idp-a" with key A inlined.
func inlineRule(t testing.TB) *JWTRule {
	return &JWTRule{Issuer: "https://idp-a", Audiences: []string{"api"},
		JWKS: jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey))}
}

// get builds a GET request for path with the given headers.
func get(path string, kv ...string) *Request {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return &Request{Method: "GET", Scheme: "http", Host: "example.com", Port: 8080, Path: path, Header: h,
		SourceIP: netip.MustParseAddr("192.0.2.1"), RemoteIP: netip.MustParseAddr("198.51.100.7"),
		Local: netip.MustParseAddrPort("10.0.0.1:8080")}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// fakeJWKS is a switchable JWKS server with a hit counter.
type fakeJWKS struct {
	mu   sync.Mutex
	mode string // "ok", "500", "hang", "garbage", "huge"
	body string
	hits atomic.Int64
}

func newFakeJWKS(body string) *fakeJWKS { return &fakeJWKS{mode: "ok", body: body} }

func (f *fakeJWKS) set(mode, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
	if body != "" {
		f.body = body
	}
}

func (f *fakeJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	mode, body := f.mode, f.body
	f.mu.Unlock()
	switch mode {
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "hang":
		<-r.Context().Done()
	case "garbage":
		fmt.Fprint(w, `{"keys": [ this is not json`)
	case "huge":
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for i := 0; i < (1<<30)/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}

// handlerTransport serves requests from an http.Handler in memory, so
// that tests inside a synctest bubble need no network.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	ht.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: rec.code, Header: rec.header, Request: r,
		Body: ioNopCloser{strings.NewReader(rec.body.String())}}, nil
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

type ioNopCloser struct{ *strings.Reader }

func (ioNopCloser) Close() error { return nil }

// jwtEngine builds an engine from JWT rules with the fixed clock.
func jwtEngine(t testing.TB, rules ...*JWTRule) *Engine {
	t.Helper()
	a := mustAuthn(t, &RequestAuthentication{JWTRules: rules})
	return NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}})
}

// authn runs Authenticate and returns the status (200 when it passes),
// the body, and the identity.
func authn(t testing.TB, e *Engine, r *Request) (int, string, *Identity) {
	t.Helper()
	id, resp := e.Authenticate(t.Context(), r)
	if resp != nil {
		if id != nil {
			t.Fatalf("Authenticate returned both an identity and a rejection")
		}
		return resp.Status, resp.Body, nil
	}
	return http.StatusOK, "", id
}

// debugLogger logs everything to w as text.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
