package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
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

// security.md JWT-05: an outage at start fails closed, then recovers; a
// later outage keeps the last good keys.
func TestKeySetOutageAndRecovery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, ks, e := bubbleEngine(t, "500")
		tok := nowToken(t, "k1")
		if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 || body != "Jwks remote fetch is failed" {
			t.Errorf("during the outage: got %d %q", status, body)
		}
		if status, _, _ := authn(t, e, get("/")); status != 200 {
			t.Errorf("tokenless request during the outage: %d", status)
		}
		if st := ks.Status(); len(st) != 1 || st[0].Ready || !strings.Contains(st[0].LastError, "500") {
			t.Errorf("status = %+v", st)
		}
		srv.set("ok", "")
		time.Sleep(time.Second) // the first retry
		synctest.Wait()
		if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 200 {
			t.Errorf("after recovery: got %d %q", status, body)
		}
		srv.set("garbage", "")
		time.Sleep(21 * time.Minute)
		synctest.Wait()
		if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
			t.Errorf("last good keys not kept: got %d %q", status, body)
		}
		if st := ks.Status()[0]; !st.Ready || st.LastError == "" || st.Keys != 1 {
			t.Errorf("status after a failed refresh = %+v", st)
		}
	})
}

// A hanging key server costs one fetch timeout, once.
func TestKeySetHang(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		short := api.Duration(100 * time.Millisecond)
		_, ks, e := bubbleEngine(t, "hang", func(r *JWTRule) { r.Timeout = &short })
		start := time.Now()
		if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
			t.Errorf("got %d, want 401", status)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("first request waited %v, want the 100ms fetch timeout", d)
		}
		start = time.Now()
		if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 || time.Since(start) != 0 {
			t.Errorf("second request: %d after %v, want an immediate 401", status, time.Since(start))
		}
		// A client that goes away stops waiting for a first fetch.
		e2 := remoteEngine(t, ks, "https://other/jwks")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, resp := e2.Authenticate(ctx, get("/", bearer(nowToken(t, "k1"))...)); resp == nil || time.Since(start) != 0 {
			t.Errorf("cancelled request: %v after %v, want an immediate 401", resp, time.Since(start))
		}
	})
}

// security.md JWT-04: a storm of unknown kids causes at most one refetch
// per MinRefetch, and nobody waits for it.
func TestUnknownKidStorm(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv, _, e := bubbleEngine(t, "ok")
		authn(t, e, get("/")) // no token: nothing fetched on its behalf
		payload := mustJSON(claims("exp", time.Now().Add(time.Hour).Unix(), "iat", nil))
		start := time.Now()
		for i := range 5000 {
			tok := raw(fmt.Sprintf(`{"alg":"RS256","kid":"random-%d"}`, i), payload, []byte("sig"))
			if status, _, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
				t.Fatalf("random kid accepted: %d", status)
			}
		}
		synctest.Wait()
		if d, n := time.Since(start), srv.hits.Load(); d != 0 || n > 2 {
			t.Errorf("storm: %d fetches, %v waited; want at most 2 and no waiting", n, d)
		}
		time.Sleep(5 * time.Minute)
		authn(t, e, get("/", bearer(raw(`{"alg":"RS256","kid":"again"}`, payload, []byte("sig")))...))
		synctest.Wait()
		if n := srv.hits.Load(); n > 3 {
			t.Errorf("%d fetches after MinRefetch, want at most 3", n)
		}
	})
}

// Bad key set contents over a real HTTP server.
func TestKeySetContents(t *testing.T) {
	t.Parallel()
	good := rsaJWK("k1", &testKeys().a.PublicKey)
	tests := []struct {
		name, mode, body string
		status           int
		errSub           string
	}{
		{"garbage", "garbage", "", 401, "not a JSON Web Key Set"},
		{"empty set", "ok", `{"keys":[]}`, 401, "no usable"},
		{"HTTP 500", "500", "", 401, "HTTP status 500"},
		{"unsupported key next to a valid one", "ok", jwksJSON(map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44"},
			map[string]any{"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AAAA", "y": "AAAA"}, good), 200, ""},
		{"encryption key is not used", "ok", jwksJSON(map[string]any{"kty": "RSA", "kid": "k1", "use": "enc", "n": good["n"], "e": good["e"]}), 401, "no usable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeJWKS(tc.body)
			f.set(tc.mode, "")
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			ks := NewKeySets(t.Context(), KeySetOptions{})
			t.Cleanup(ks.Close)
			e := remoteEngine(t, ks, srv.URL)
			if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != tc.status {
				t.Errorf("got %d %q, want %d", status, body, tc.status)
			}
			if st := ks.Status(); len(st) != 1 || !strings.Contains(st[0].LastError, tc.errSub) {
				t.Errorf("status = %+v, want an error containing %q", st, tc.errSub)
			}
		})
	}
}

// security.md JWT-05 (4): a 1 GiB key set is cut at MaxBody.
func TestKeySetHugeBody(t *testing.T) {
	f := newFakeJWKS("")
	f.set("huge", "")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	e := remoteEngine(t, ks, srv.URL)
	if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
		t.Errorf("got %d, want 401", status)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
		t.Errorf("allocated %d MiB reading a 1 GiB key set", d>>20)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if st := ks.Status(); !strings.Contains(st[0].LastError, "larger than") {
		t.Errorf("status = %+v", st)
	}
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
