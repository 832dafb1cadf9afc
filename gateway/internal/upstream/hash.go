package upstream

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// HashPolicy is where a consistent-hash key comes from (DestinationRule
// loadBalancer.consistentHash): a header, a cookie, the client address or
// a query parameter.
type HashPolicy struct {
	header   string
	cookie   string
	path     string
	ttl      time.Duration
	sourceIP bool
	query    string
}

func HashPolicyOf(lb *LoadBalancerSettings) *HashPolicy {
	if lb == nil || lb.ConsistentHash == nil {
		return nil
	}
	ch := lb.ConsistentHash
	h := &HashPolicy{header: http.CanonicalHeaderKey(ch.HTTPHeaderName), sourceIP: ch.UseSourceIP, query: ch.HTTPQueryParameterName}
	if c := ch.HTTPCookie; c != nil {
		h.header, h.cookie, h.path = "", c.Name, c.Path
		if c.TTL != nil {
			h.ttl = c.TTL.D()
		}
	}
	return h
}

// Key returns the hash Key of r, and a Set-Cookie value when the Key is a
// cookie the client does not have yet: Envoy then makes one up (when a ttl
// is set), so the client's next requests stick to the same endpoint.
func (h *HashPolicy) Key(r *http.Request) (key, setCookie string) {
	switch {
	case h == nil:
		return "", ""
	case h.header != "":
		return r.Header.Get(h.header), ""
	case h.sourceIP:
		return transport.HostOf(r.RemoteAddr), ""
	case h.query != "":
		return r.URL.Query().Get(h.query), ""
	}
	if c, err := r.Cookie(h.cookie); err == nil && c.Value != "" {
		return c.Value, ""
	}
	if h.ttl == 0 {
		return "", ""
	}
	v := fmt.Sprintf("%016x", rand.Uint64())
	sc := h.cookie + "=" + v
	if h.path != "" {
		sc += "; Path=" + h.path
	}
	sc += fmt.Sprintf("; Max-Age=%d; HttpOnly", int(h.ttl.Seconds()))
	return v, sc
}
