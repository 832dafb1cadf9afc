package authz

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// security.md JWT-05: JWKS outage, bad content, no fallback keys. (1)
// Until a set has loaded, every token is 401 "Jwks remote fetch is
// failed" and KeySets.Status says the set is not ready, whether the
// jwksUri answers 500, garbage or an empty set, hangs or fails TLS;
// tokenless requests still pass, and the retry picks the keys up. (2) A
// later failed refresh keeps the last good keys. (3) An unsupported or
// broken key next to valid ones does not stall a refresh. (4) A fetch
// waits at most the rule's timeout (5s by default, Istio's) and reads at
// most MaxBody. (5) There is no built-in or default key: Istio's public
// sample token is refused until its key set is actually served.
//
// Not parallel: the 1 GiB subtest bounds the whole process's allocations
// and runs alone; the other subtests run in parallel after it.
func TestJWT05KeySetOutage(t *testing.T) {
	t.Run("outage at start, recovery, later outages", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt05OutageAndRecovery)
	})
	t.Run("hang at start", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt05Hang)
	})
	t.Run("TLS failure at start", jwt05TLSFailure)
	t.Run("bad contents at start", jwt05Contents)
	t.Run("an unsupported key does not stall refresh", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt05UnsupportedKey)
	})
	t.Run("no default keys", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt05NoDefaultKeys)
	})
	t.Run("1 GiB body", jwt05HugeBody)
}

func jwt05OutageAndRecovery(t *testing.T) {
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
	for _, later := range []struct{ mode, body string }{{"garbage", ""}, {"500", ""}, {"ok", `{"keys":[]}`}} {
		srv.set(later.mode, later.body)
		time.Sleep(21 * time.Minute)
		synctest.Wait()
		if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
			t.Errorf("%s %s: last good keys not kept: got %d %q", later.mode, later.body, status, body)
		}
		if st := ks.Status()[0]; !st.Ready || st.LastError == "" || st.Keys != 1 {
			t.Errorf("%s %s: status after a failed refresh = %+v", later.mode, later.body, st)
		}
	}
}

// A hanging key server costs one fetch timeout, once; a client that goes
// away stops waiting for a first fetch.
func jwt05Hang(t *testing.T) {
	short := api.Duration(100 * time.Millisecond)
	for _, tc := range []struct {
		name    string
		timeout *api.Duration
		want    time.Duration
	}{{"rule timeout", &short, 100 * time.Millisecond}, {"default timeout", nil, DefaultJWKSTimeout}} {
		_, ks, e := bubbleEngine(t, "hang", func(r *JWTRule) { r.Timeout = tc.timeout })
		start := time.Now()
		if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
			t.Errorf("%s: got %d, want 401", tc.name, status)
		}
		if d := time.Since(start); d != tc.want || d > 5*time.Second {
			t.Errorf("%s: first request waited %v, want the %v fetch timeout", tc.name, d, tc.want)
		}
		start = time.Now()
		if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 || time.Since(start) != 0 {
			t.Errorf("%s: second request: %d after %v, want an immediate 401", tc.name, status, time.Since(start))
		}
		e2 := remoteEngine(t, ks, "https://other/jwks")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, resp := e2.Authenticate(ctx, get("/", bearer(nowToken(t, "k1"))...)); resp == nil || time.Since(start) != 0 {
			t.Errorf("%s: cancelled request: %v after %v, want an immediate 401", tc.name, resp, time.Since(start))
		}
	}
}

// A jwksUri whose certificate is not trusted never loads.
func jwt05TLSFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	e := remoteEngine(t, ks, srv.URL)
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 || body != "Jwks remote fetch is failed" {
		t.Errorf("got %d %q, want 401", status, body)
	}
	if status, _, _ := authn(t, e, get("/")); status != 200 {
		t.Errorf("tokenless request: %d", status)
	}
	if st := ks.Status(); len(st) != 1 || st[0].Ready || !strings.Contains(st[0].LastError, "certificate") {
		t.Errorf("status = %+v", st)
	}
}

// Bad key set contents at start, over a real HTTP server.
func jwt05Contents(t *testing.T) {
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
			if st := ks.Status(); len(st) != 1 || !strings.Contains(st[0].LastError, tc.errSub) || st[0].Ready != (tc.status == 200) {
				t.Errorf("status = %+v, want an error containing %q", st, tc.errSub)
			}
		})
	}
}

// A refresh that brings a new key next to keys gatehouse cannot use
// replaces the set: the new key verifies at once, the retired one no
// longer does.
func jwt05UnsupportedKey(t *testing.T) {
	srv, ks, e := bubbleEngine(t, "ok")
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
		t.Fatalf("before the rotation: got %d %q", status, body)
	}
	srv.set("ok", jwksJSON(map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"},
		map[string]any{"kty": "EC", "crv": "P-256", "kid": "broken", "x": "AAAA", "y": "AAAA"},
		rsaJWK("kb", &testKeys().b.PublicKey)))
	time.Sleep(20*time.Minute + time.Second) // the periodic refresh
	synctest.Wait()
	if st := ks.Status()[0]; !st.Ready || st.Keys != 1 || st.LastError != "" {
		t.Errorf("status after the refresh = %+v, want the one usable key and no error", st)
	}
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "kb"))...)); status != 200 {
		t.Errorf("the new key: got %d %q", status, body)
	}
	if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 401 {
		t.Errorf("the retired key: got %d, want 401", status)
	}
}

// Istio's sample key set and token are public (security/tools/jwt/samples,
// testdata/istio-jwt): a gateway that fell back to them while its
// jwksUri is down would accept forged tokens (CVE-2026-31837).
func jwt05NoDefaultKeys(t *testing.T) {
	const iss = "testing@secure.istio.io"
	srv := newFakeJWKS(readFixture(t, "jwks.json"))
	srv.set("500", "")
	ks := NewKeySets(t.Context(), KeySetOptions{Client: memClient(srv)})
	t.Cleanup(ks.Close)
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: iss, JWKSURI: "https://idp/jwks"}}})
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	e := NewEngine(Options{KeySets: ks, Now: now}, Config{RequestAuthentications: []*Authn{a}})
	demo := readFixture(t, "demo.jwt")
	for i := range 3 {
		if status, body, _ := authn(t, e, get("/", bearer(demo)...)); status != 401 || body != "Jwks remote fetch is failed" {
			t.Errorf("attempt %d while the key set is down: got %d %q, want 401", i+1, status, body)
		}
		time.Sleep(time.Duration(1<<i) * time.Second) // through the retries
		synctest.Wait()
	}
	srv.set("ok", "")
	time.Sleep(time.Minute)
	synctest.Wait()
	if status, body, _ := authn(t, e, get("/", bearer(demo)...)); status != 200 {
		t.Errorf("once the key set is served: got %d %q", status, body)
	}
}

// A 1 GiB key set is cut at MaxBody, quickly and in bounded memory.
func jwt05HugeBody(t *testing.T) {
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
