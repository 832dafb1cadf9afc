package authz

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Size of the verified-token cache: shards × entries per shard. Envoy's
// jwt_authn caches 100 tokens by default; a gateway with many clients
// keeps more.
const (
	tokenCacheShards   = 16
	tokenCacheShardMax = 64
)

// tokenCache remembers parsed tokens whose signature verified, so that a
// client sending the same token again costs a map lookup rather than a
// JSON parse and an RSA or ECDSA verification (Envoy's jwt_cache_config).
// Only tokens that verified are kept, so invalid tokens cannot push valid
// ones out. A hit still has its times and audiences checked on every
// request, and its signature is trusted only for the provider and the
// exact key set that verified it: after a key set refresh it is verified
// again.
type tokenCache struct {
	seed   maphash.Seed
	shards [tokenCacheShards]cacheShard
}

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*token
}

func newTokenCache() *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed()}
}

func (c *tokenCache) shard(raw string) *cacheShard {
	return &c.shards[maphash.String(c.seed, raw)%tokenCacheShards]
}

// get returns the cached token for raw, or nil. Nil-safe.
func (c *tokenCache) get(raw string) *token {
	if c == nil {
		return nil
	}
	s := c.shard(raw)
	s.mu.Lock()
	t := s.m[raw]
	s.mu.Unlock()
	return t
}

// put caches t, evicting an arbitrary entry of a full shard. Nil-safe.
func (c *tokenCache) put(t *token) {
	if c == nil {
		return
	}
	s := c.shard(t.raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*token, tokenCacheShardMax)
	}
	if len(s.m) >= tokenCacheShardMax {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[t.raw] = t
}

// proof records that a provider verified a token's signature with a key
// set.
type proof struct {
	p  *provider
	ks *keySet
}

// proofs is a token's verified signatures; it is shared by the requests
// that carry the token, so it is replaced, never edited.
type proofs struct{ list atomic.Pointer[[]proof] }

// provedBy reports whether p verified the token with exactly ks.
func (pr *proofs) provedBy(p *provider, ks *keySet) bool {
	if l := pr.list.Load(); l != nil {
		for _, x := range *l {
			if x.p == p && x.ks == ks {
				return true
			}
		}
	}
	return false
}

// prove records that p verified the token with ks, replacing what p
// proved with an earlier key set: the list stays one entry per provider.
func (pr *proofs) prove(p *provider, ks *keySet) {
	for {
		old := pr.list.Load()
		var next []proof
		if old != nil {
			for _, x := range *old {
				if x.p != p {
					next = append(next, x)
				}
			}
		}
		next = append(next, proof{p, ks})
		if pr.list.CompareAndSwap(old, &next) {
			return
		}
	}
}
