package authz

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// security.md JWT-04: unknown-kid refresh storm. Tokens with random kids
// are 401 at once, never waiting for a fetch, and cause at most one
// refetch of the jwksUri per MinRefetch (5m, keyfunc's default, with a
// burst of one), however long the storm lasts. A key rotation the
// limiter leaves no room for is still picked up by the periodic refresh.
// On the real clock, with the refetch the storm triggered hanging, the
// 99th percentile of the storm's requests stays under 50ms.
func TestJWT04UnknownKidStorm(t *testing.T) {
	t.Parallel()
	t.Run("one refetch per MinRefetch", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt04Limiter)
	})
	t.Run("rotation by the periodic refresh", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, jwt04Rotation)
	})
	t.Run("latency on the real clock", jwt04Latency)
}

// stormTokens returns n RS256 tokens with kids no key set holds.
func stormTokens(n int, tag string) []string {
	payload := mustJSON(claims("exp", time.Now().Add(time.Hour).Unix(), "iat", nil))
	toks := make([]string, n)
	for i := range toks {
		toks[i] = raw(fmt.Sprintf(`{"alg":"RS256","kid":"%s-%d"}`, tag, i), payload, []byte("sig"))
	}
	return toks
}

func storm(t *testing.T, e *Engine, toks []string) {
	t.Helper()
	for _, tok := range toks {
		if status, _, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
			t.Fatalf("random kid accepted: %d", status)
		}
	}
}

func jwt04Limiter(t *testing.T) {
	srv, _, e := bubbleEngine(t, "ok")
	authn(t, e, get("/")) // no token: nothing fetched on its behalf
	start := time.Now()
	storm(t, e, stormTokens(5000, "first"))
	synctest.Wait()
	if d, n := time.Since(start), srv.hits.Load(); d != 0 || n > 2 {
		t.Errorf("storm: %d fetches, %v waited; want at most 2 and no waiting", n, d)
	}
	// Ten more minutes of storm, a burst every minute: the limiter lets
	// one refetch through every 5 minutes.
	for minute := 1; minute <= 10; minute++ {
		time.Sleep(time.Minute)
		before := time.Now()
		storm(t, e, stormTokens(500, fmt.Sprint("minute-", minute)))
		synctest.Wait()
		if d := time.Since(before); d != 0 {
			t.Errorf("minute %d: the storm waited %v", minute, d)
		}
		if n, limit := srv.hits.Load(), int64(2+minute/5); n > limit {
			t.Errorf("minute %d: %d fetches, want at most %d", minute, n, limit)
		}
	}
}

func jwt04Rotation(t *testing.T) {
	srv := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
	ks := NewKeySets(t.Context(), KeySetOptions{Client: memClient(srv), MinRefetch: time.Hour})
	t.Cleanup(ks.Close)
	e := remoteEngine(t, ks, "https://idp-a/jwks")
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
		t.Fatalf("before the storm: got %d %q", status, body)
	}
	storm(t, e, stormTokens(1000, "storm")) // takes the only refetch of the hour
	synctest.Wait()
	srv.set("ok", jwksJSON(rsaJWK("kb", &testKeys().b.PublicKey)))
	if status, _, _ := authn(t, e, get("/", bearer(nowToken(t, "kb"))...)); status != 401 {
		t.Errorf("the new key before any refresh: got %d, want 401", status)
	}
	synctest.Wait()
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches before the periodic refresh, want 2 (the first and the storm's)", n)
	}
	time.Sleep(20*time.Minute + time.Second)
	synctest.Wait()
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "kb"))...)); status != 200 {
		t.Errorf("the new key after the periodic refresh: got %d %q", status, body)
	}
}

func jwt04Latency(t *testing.T) {
	t.Parallel()
	f := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close) // runs before srv.Close: ends the hanging refetch
	e := remoteEngine(t, ks, srv.URL)
	if status, body, _ := authn(t, e, get("/", bearer(nowToken(t, "k1"))...)); status != 200 {
		t.Fatalf("before the storm: got %d %q", status, body)
	}
	f.set("hang", "")
	toks := stormTokens(5000, "real")
	took := make([]time.Duration, len(toks))
	for i, tok := range toks {
		start := time.Now()
		_, resp := e.Authenticate(t.Context(), get("/", bearer(tok)...))
		took[i] = time.Since(start)
		if resp == nil || resp.Status != 401 {
			t.Fatalf("random kid: %+v, want 401", resp)
		}
	}
	slices.Sort(took)
	if p99 := took[len(took)*99/100]; p99 > 50*time.Millisecond {
		t.Errorf("p99 %v, want under 50ms (max %v)", p99, took[len(took)-1])
	}
	if n := f.hits.Load(); n > 2 {
		t.Errorf("%d fetches, want the first and at most one refetch", n)
	}
}
