package authz

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

// remoteEngine builds an engine with one rule for "https://idp-a" that
// fetches its keys from uri, on the real (or bubble) clock.
func remoteEngine(t testing.TB, ks *KeySets, uri string, mod ...func(*JWTRule)) *Engine {
	t.Helper()
	r := &JWTRule{Issuer: "https://idp-a", JWKSURI: uri}
	for _, m := range mod {
		m(r)
	}
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{r}})
	return NewEngine(Options{KeySets: ks}, Config{RequestAuthentications: []*Authn{a}})
}

// nowToken mints a token valid at the current (possibly fake) time.
func nowToken(t testing.TB, kid string, extra ...any) string {
	now := time.Now()
	c := claims(append([]any{"exp", now.Add(time.Hour).Unix(), "iat", now.Unix()}, extra...)...)
	key := testKeys().a
	if kid == "kb" {
		key = testKeys().b
	}
	return mint(t, key, kid, c)
}

func memClient(h http.Handler) *http.Client { return &http.Client{Transport: handlerTransport{h}} }

// bubbleEngine starts, inside a synctest bubble, a fake key server in the
// given mode serving key A, a KeySets that reaches it in memory (closed
// when the test ends) and an engine using it.
func bubbleEngine(t *testing.T, mode string, mod ...func(*JWTRule)) (*fakeJWKS, *KeySets, *Engine) {
	srv := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
	srv.set(mode, "")
	ks := NewKeySets(t.Context(), KeySetOptions{Client: memClient(srv)})
	t.Cleanup(ks.Close)
	return srv, ks, remoteEngine(t, ks, "https://idp-a/jwks", mod...)
}

func TestKeySetRefreshAndRotation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _, e := bubbleEngine(t, "ok")
		if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
			t.Fatalf("got %d %q", status, body)
		}
		time.Sleep(20*time.Minute + time.Second)
		synctest.Wait()
		if n := srv.hits.Load(); n != 2 {
			t.Errorf("%d fetches after one refresh interval, want 2", n)
		}
		srv.set("ok", jwksJSON(rsaJWK("kb", &testKeys().b.PublicKey)))
		rotated := nowToken(t, "kb")
		if status, _, _ := authn(t, e, get("/", bearer(rotated)...)); status != 401 {
			t.Errorf("new kid before the refetch: got %d, want 401", status)
		}
		synctest.Wait() // the unknown kid triggered one background refetch
		if status, body, _ := authn(t, e, get("/", bearer(rotated)...)); status != 200 {
			t.Errorf("new kid after the refetch: got %d %q", status, body)
		}
		if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
			t.Errorf("retired key still accepted: %d", status)
		}
	})
}

// Without jwksUri or jwks the key set is found by OpenID discovery; an
// empty issuer accepts every issuer at its locations.
func TestDiscoveryAndEmptyIssuer(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jwks := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
	mux.Handle("/jwks", jwks)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/jwks")
	})
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: srv.URL}, {JWKSURI: srv.URL + "/jwks", FromParams: []string{"t"}}}})
	e := NewEngine(Options{KeySets: ks}, Config{RequestAuthentications: []*Authn{a}})
	if status, body, id := authn(t, e, get("/", bearer(nowToken(t, "k1", "iss", srv.URL))...)); status != 200 || id.Issuer != srv.URL {
		t.Errorf("discovery: got %d %q", status, body)
	}
	if status, body, _ := authn(t, e, withQuery(get("/"), "t="+nowToken(t, "k1", "iss", "anyone"))); status != 200 {
		t.Errorf("empty issuer: got %d %q", status, body)
	}
	if uris := e.KeySetURIs(); len(uris) != 2 {
		t.Errorf("KeySetURIs = %v", uris)
	}
}

func TestKeySetsRetainAndClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
		ks := NewKeySets(t.Context(), KeySetOptions{Client: memClient(srv)})
		e1 := remoteEngine(t, ks, "https://a/jwks")
		remoteEngine(t, ks, "https://b/jwks")
		synctest.Wait()
		if n := len(ks.Status()); n != 2 {
			t.Fatalf("%d key sets, want 2", n)
		}
		ks.Retain(e1.KeySetURIs())
		synctest.Wait()
		if st := ks.Status(); len(st) != 1 || st[0].URI != "https://a/jwks" {
			t.Errorf("after Retain: %+v", st)
		}
		ks.Close()
		if len(ks.Status()) != 0 {
			t.Error("key sets left after Close")
		}
		e3 := remoteEngine(t, ks, "https://c/jwks")
		if status, body, _ := authn(t, e3, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
			t.Errorf("after Close: got %d %q, want 401", status, body)
		}
	})
}
