package router

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// ActionKind says what a matched route does with the request.
type ActionKind uint8

const (
	// ActionForward proxies the request to one of Route.Forward's
	// destinations.
	ActionForward ActionKind = iota
	// ActionRedirect answers with Action.Redirect.
	ActionRedirect
	// ActionDirectResponse answers with Action.DirectResponse.
	ActionDirectResponse
)

// String returns the Envoy-style name of the action.
func (k ActionKind) String() string {
	switch k {
	case ActionRedirect:
		return "redirect"
	case ActionDirectResponse:
		return "direct_response"
	}
	return "route"
}

// Action is what a matched route does. It is shared by every Route compiled
// from one HTTPRoute (and by every Table built from it) and is immutable.
//
// Which fields matter depends on Kind. Fault, CORS and the response
// header operations apply to every kind; Rewrite, Retry, Timeout and the
// destinations' request header operations only to ActionForward.
type Action struct {
	// Kind says whether the route forwards, redirects or answers directly.
	Kind ActionKind
	// Timeout bounds the whole upstream exchange, retries included; 0
	// means none.
	Timeout time.Duration
	// Redirect is set when Kind is ActionRedirect.
	Redirect *Redirect
	// DirectResponse is set when Kind is ActionDirectResponse.
	DirectResponse *DirectResponse
	// Rewrite rewrites the path of forwarded requests; nil when the route
	// does not. The host rewrite is Dest.Authority.
	Rewrite *Rewrite
	// Retry is the retry policy of forwarded requests: Istio's default
	// (DefaultRetryPolicy) when the route has no retries field, nil when
	// retries are disabled (attempts 0).
	Retry *RetryPolicy
	// Fault injects delays and aborts before anything else; nil for none.
	Fault *Fault
	// CORS is the route's CORS policy; nil for none.
	CORS *CORS
	// Authority is the route-level host rewrite (rewrite.authority or
	// headers.request.set/add host); Dest.Authority already includes it.
	Authority string
	// RequestHeaders and ResponseHeaders are the route-level header
	// operations alone, for redirects and direct responses. Forwarded
	// requests use their Dest's merged operations instead.
	RequestHeaders  *HeaderOps
	ResponseHeaders *HeaderOps

	mirrors []mirrorSpec
	dests   []destOps // by index of HTTPRoute.route
}

// destOps are the effective header operations and host rewrite of one
// destination of the route.
type destOps struct {
	req, resp *HeaderOps
	authority string
}

// action compiles everything an HTTPRoute does besides matching.
func (c *compiler) action(path string, r *HTTPRoute, matches []*matchEntry) *Action {
	a := &Action{}
	if r.Timeout != nil {
		a.Timeout = c.duration(path+".timeout", *r.Timeout)
	}
	c.conflicts(path, r)
	switch {
	case r.Redirect != nil:
		a.Kind = ActionRedirect
		a.Redirect = c.redirect(path+".redirect", r.Redirect, matches)
	case r.DirectResponse != nil:
		a.Kind = ActionDirectResponse
		a.DirectResponse = c.directResponse(path+".directResponse", r.DirectResponse)
	}
	if r.Rewrite != nil {
		a.Rewrite = c.rewrite(path+".rewrite", r.Rewrite, matches)
	}
	if a.Kind == ActionForward {
		a.Retry = c.retry(path+".retries", r.Retries)
	} else if r.Retries != nil {
		c.retry(path+".retries", r.Retries) // validated, then unused as in Istio
	}
	if r.Fault != nil {
		a.Fault = c.fault(path+".fault", r.Fault)
	}
	if r.CorsPolicy != nil {
		a.CORS = c.cors(path+".corsPolicy", r.CorsPolicy)
	}
	c.routeHeaders(path, r, a)
	a.mirrors = c.mirrors(path, r)
	return c.intern(a)
}

// actionKey identifies an Action that does nothing but forward, with a
// timeout and a retry policy: most routes of a large configuration, which
// then share one Action.
type actionKey struct {
	timeout time.Duration
	retry   *RetryPolicy
}

// intern returns a shared Action equal to a when a only forwards.
func (c *compiler) intern(a *Action) *Action {
	if c.shared == nil || a.Kind != ActionForward || a.Redirect != nil || a.DirectResponse != nil || a.Rewrite != nil ||
		a.Fault != nil || a.CORS != nil || a.Authority != "" || a.RequestHeaders != nil || a.ResponseHeaders != nil || len(a.mirrors) > 0 {
		return a
	}
	for _, d := range a.dests {
		if d != (destOps{}) {
			return a
		}
	}
	k := actionKey{a.Timeout, a.Retry}
	if shared, ok := c.shared.actions[k]; ok {
		return shared
	}
	a.dests = nil
	c.shared.actions[k] = a
	return a
}

// conflicts applies Istio's exclusivity rules (validateHTTPRouteConflict)
// beyond the choice of route, redirect, directResponse or delegate.
func (c *compiler) conflicts(path string, r *HTTPRoute) {
	if c.lenient {
		return
	}
	for _, x := range []struct {
		set  bool
		what string
	}{
		{r.Redirect != nil && r.Rewrite != nil, "redirect and rewrite"},
		{r.Redirect != nil && r.Fault != nil, "redirect and fault"},
		{r.DirectResponse != nil && r.Rewrite != nil, "directResponse and rewrite"},
		{r.DirectResponse != nil && r.Fault != nil, "directResponse and fault"},
		{r.Mirror != nil && len(r.Mirrors) > 0, "mirror and mirrors"},
	} {
		if x.set {
			c.errf(path, "an HTTP route cannot contain both %s", x.what)
		}
	}
}

// duration checks Istio's rules for timeouts and intervals
// (agent.ValidateDuration): at least 1ms, in whole milliseconds.
func (c *compiler) duration(path string, d api.Duration) time.Duration {
	switch {
	case d.D() < api.MinDuration:
		c.errf(path, "duration %v is below the 1ms minimum; leave the field out for no limit", d)
	case d.D()%time.Millisecond != 0:
		c.errf(path, "duration %v is not a whole number of milliseconds", d)
	}
	return d.D()
}

// percent converts an Istio Percent to parts per million as Istio does
// (value*10000, truncated), checking it is 0 or within [0.0001, 100].
func (c *compiler) percent(path string, p *Percent) uint32 {
	if !(p.Value >= 0 && p.Value <= 100) || (p.Value > 0 && p.Value < 0.0001) { // NaN too
		c.errf(path, "percentage %v is neither 0 nor in range [0.0001, 100]", p.Value)
		return 0
	}
	return uint32(p.Value * 10000)
}

// million is the denominator of the parts-per-million fractions.
const million = 1_000_000

// sample reports whether a uniformly random rnd falls within ppm parts per
// million, as Envoy's runtime fractions do (rnd % 1e6 < ppm).
func sample(ppm uint32, rnd uint64) bool { return rnd%million < uint64(ppm) }

// Body size limits of a direct response (Istio validateHTTPDirectResponse;
// Istio also sets Envoy's max_direct_response_body_size_bytes to 1 MiB).
const (
	MaxDirectResponseBody  = 1 << 20
	WarnDirectResponseBody = 100 << 10
)

// DirectResponse is a compiled HTTPDirectResponse: a fixed local reply. It
// is immutable; Body is shared and must not be modified.
type DirectResponse struct {
	// Status is the response status, 200 to 600.
	Status int
	// Body is the decoded body, nil when the route has none. Envoy sends
	// a local reply with a body as "text/plain" unless the route's response
	// header operations set a Content-Type; the gateway should too.
	Body []byte
}

func (c *compiler) directResponse(path string, d *HTTPDirectResponse) *DirectResponse {
	out := &DirectResponse{Status: int(d.Status)}
	if d.Status < 200 || d.Status > 600 {
		c.errf(path+".status", "HTTP status %d is not in range 200-600", d.Status)
	}
	if d.Body == nil {
		return out
	}
	switch b := d.Body; {
	case b.String != nil && b.Bytes != nil:
		c.errf(path+".body", "only one of string or bytes may be set")
	case b.String != nil:
		out.Body = []byte(*b.String)
	case b.Bytes != nil:
		body, err := decodeBase64(*b.Bytes)
		if err != nil {
			c.errf(path+".body.bytes", "%v", err)
		}
		out.Body = body
	}
	switch n := len(out.Body); {
	case n > MaxDirectResponseBody:
		c.errf(path+".body", "body is %d bytes; a direct response must be at most 1 MiB", n)
	case n > WarnDirectResponseBody:
		c.warnf(path+".body", "body is %d bytes; large direct responses are kept in memory and slow reloads", n)
	}
	return out
}

// decodeBase64 decodes protobuf JSON bytes: standard or URL-safe base64,
// with or without padding.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("body bytes are not valid base64")
}

// String describes the direct response for config dumps.
func (d *DirectResponse) String() string {
	return fmt.Sprintf("%d (%d-byte body)", d.Status, len(d.Body))
}
