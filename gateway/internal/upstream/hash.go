package upstream

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
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
func (h *HashPolicy) Key(r *downstream.Request) (key, setCookie string) {
	switch {
	case h == nil:
		return "", ""
	case h.header != "":
		return r.Header.Get(h.header), ""
	case h.sourceIP:
		return transport.HostOf(r.RemoteAddr), ""
	case h.query != "":
		q, _ := url.ParseQuery(r.RawQuery)
		return q.Get(h.query), ""
	}
	if v := cookie(r.Header, h.cookie); v != "" {
		return v, ""
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

// asciiSpace is what net/http trims around cookie pairs and names.
const asciiSpace = " \t\r\n"

// cookie returns the value of the request cookie name, "" when absent,
// read as net/http reads a request's cookies: the Cookie lines split at
// ";", each pair trimmed and split at its first "=", the name trimmed,
// invalid pairs skipped, the first pair with the name winning (even with
// an empty value).
func cookie(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, _ := strings.Cut(strings.Trim(part, asciiSpace), "=")
			if strings.Trim(k, asciiSpace) != name {
				continue
			}
			cs, err := http.ParseCookie(name + "=" + v)
			if err == nil && len(cs) == 1 {
				return cs[0].Value
			}
		}
	}
	return ""
}
