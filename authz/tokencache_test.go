package authz

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A token that verified is served from the cache, but its times are
// checked on every request and an invalid token is never cached.
func TestTokenCache(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(fixed.Unix())
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	e := NewEngine(Options{Now: func() time.Time { return time.Unix(now.Load(), 0) }}, Config{RequestAuthentications: []*Authn{a}})
	tok := mint(t, testKeys().a, "k1", claims("exp", fixed.Add(2*time.Minute).Unix()))

	for i := range 3 {
		if status, body, id := authn(t, e, get("/", bearer(tok)...)); status != 200 || id.Subject != "alice" {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}
	cached := e.tokens.get(tok)
	if cached == nil || !cached.verified.provedBy(e.locs[0].ra[0], mustKeys(t, e)) {
		t.Fatal("a verified token is not cached with its proof")
	}

	tampered := tok[:len(tok)-4] + "AAAA"
	if status, _, _ := authn(t, e, get("/", bearer(tampered)...)); status != 401 {
		t.Errorf("tampered token: %d", status)
	}
	if e.tokens.get(tampered) != nil {
		t.Error("a token that failed verification was cached")
	}

	now.Store(fixed.Add(2*time.Minute + ClockSkew + time.Second).Unix())
	if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 || body != "Jwt is expired" {
		t.Errorf("expired cached token: %d %q", status, body)
	}
}

func mustKeys(t *testing.T, e *Engine) *keySet {
	t.Helper()
	ks, err := e.locs[0].ra[0].src.keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// A provider trusts a cached token only with the key set that verified
// it: another provider (or a refreshed set) verifies it again.
func TestTokenCacheProofIsPerKeySet(t *testing.T) {
	t.Parallel()
	var pr proofs
	p1, p2 := &provider{}, &provider{}
	ks1, ks2 := &keySet{}, &keySet{}
	pr.prove(p1, ks1)
	for _, c := range []struct {
		p    *provider
		ks   *keySet
		want bool
	}{{p1, ks1, true}, {p1, ks2, false}, {p2, ks1, false}} {
		if got := pr.provedBy(c.p, c.ks); got != c.want {
			t.Errorf("provedBy = %v, want %v", got, c.want)
		}
	}
}

// The cache never grows beyond its bound.
func TestTokenCacheBounded(t *testing.T) {
	t.Parallel()
	c := newTokenCache()
	for i := range 5000 {
		c.put(&token{raw: fmt.Sprintf("t%d.%s", i, strings.Repeat("x", i%7))})
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > tokenCacheShards*tokenCacheShardMax {
		t.Fatalf("%d entries, bound %d", n, tokenCacheShards*tokenCacheShardMax)
	}
}
