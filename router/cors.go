package router

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CORS is a compiled CorsPolicy, evaluated as Envoy's CORS filter does
// (source/extensions/filters/http/cors/cors_filter.cc). It is immutable.
//
// Envoy never adds "Vary: Origin", and neither does CORS: the allowed
// origin is echoed (never "*"), so a shared cache in front of the gateway
// must key on Origin itself, or the upstream must send Vary.
type CORS struct {
	// AllowMethods, AllowHeaders and ExposeHeaders are the configured lists
	// joined with ","; MaxAge is in seconds; all "" when unset.
	AllowMethods, AllowHeaders, ExposeHeaders, MaxAge string
	// AllowCredentials adds "Access-Control-Allow-Credentials: true".
	AllowCredentials bool
	// ForwardUnmatchedPreflights is unmatchedPreflights FORWARD (the
	// default): a preflight from an origin that is not allowed goes
	// upstream. With IGNORE it is answered at the edge without an
	// Access-Control-Allow-Origin.
	ForwardUnmatchedPreflights bool
	origins                    []strMatcher
}

// CORS response header names, in canonical form.
const (
	HeaderAllowOrigin      = "Access-Control-Allow-Origin"
	HeaderAllowCredentials = "Access-Control-Allow-Credentials"
	HeaderAllowMethods     = "Access-Control-Allow-Methods"
	HeaderAllowHeaders     = "Access-Control-Allow-Headers"
	HeaderMaxAge           = "Access-Control-Max-Age"
	HeaderExposeHeaders    = "Access-Control-Expose-Headers"
)

var corsMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "CONNECT": true, "OPTIONS": true, "TRACE": true,
}

func (c *compiler) cors(path string, p *CorsPolicy) *CORS {
	out := &CORS{
		AllowMethods: strings.Join(p.AllowMethods, ","), AllowHeaders: strings.Join(p.AllowHeaders, ","),
		ExposeHeaders: strings.Join(p.ExposeHeaders, ","), ForwardUnmatchedPreflights: true,
		AllowCredentials: p.AllowCredentials != nil && *p.AllowCredentials,
	}
	c.corsOrigins(path, p, out)
	for i, m := range p.AllowMethods {
		if !corsMethods[m] {
			c.errf(fmt.Sprintf("%s.allowMethods[%d]", path, i), "%q is not a supported HTTP method", m)
		}
	}
	for _, l := range []struct {
		name  string
		names []string
	}{{"allowHeaders", p.AllowHeaders}, {"exposeHeaders", p.ExposeHeaders}} {
		for i, h := range l.names {
			if !validHeaderName(h) {
				c.errf(fmt.Sprintf("%s.%s[%d]", path, l.name, i), "invalid header name %q", h)
			}
		}
	}
	if p.MaxAge != nil {
		d := c.duration(path+".maxAge", *p.MaxAge)
		if d%time.Second != 0 {
			c.errf(path+".maxAge", "maxAge is accurate only to seconds precision")
		}
		out.MaxAge = strconv.FormatInt(int64(d/time.Second), 10)
	}
	switch p.UnmatchedPreflights {
	case "", "UNSPECIFIED", "FORWARD":
	case "IGNORE":
		out.ForwardUnmatchedPreflights = false
	default:
		c.errf(path+".unmatchedPreflights", "unknown value %q: want FORWARD or IGNORE", p.UnmatchedPreflights)
	}
	return out
}

func (c *compiler) corsOrigins(path string, p *CorsPolicy, out *CORS) {
	for i, m := range p.AllowOrigins {
		mp := fmt.Sprintf("%s.allowOrigins[%d]", path, i)
		if m == nil || (m.Exact != nil && *m.Exact == "") || (m.Prefix != nil && *m.Prefix == "") || (m.Regex != nil && *m.Regex == "") {
			c.errf(mp, "an origin match needs a non-empty exact, prefix or regex")
			continue
		}
		out.origins = append(out.origins, c.strMatch(mp, m, false))
	}
	if len(p.AllowOrigin) == 0 {
		return
	}
	if len(p.AllowOrigins) > 0 {
		c.warnf(path+".allowOrigin", "ignored: allowOrigins is set")
		return
	}
	c.warnf(path+".allowOrigin", `using deprecated setting "allowOrigin", use "allowOrigins" instead`)
	for _, o := range p.AllowOrigin {
		out.origins = append(out.origins, strMatcher{kind: matchExact, s: o})
	}
}

// OriginAllowed reports whether origin is allowed. As in Envoy, a matcher
// that matches the string "*" (exact "*", prefix "*", regex ".*") allows
// every origin; the origin is still echoed, never "*".
func (c *CORS) OriginAllowed(origin string) bool {
	if c == nil || origin == "" {
		return false
	}
	for i := range c.origins {
		if c.origins[i].match("*") || c.origins[i].match(origin) {
			return true
		}
	}
	return false
}

// Preflight handles an OPTIONS request; the gateway calls it only for
// method OPTIONS, with the Origin, Access-Control-Request-Method and
// Access-Control-Request-Headers values. handled false means "not
// answered here": the request continues (to redirect, direct response or
// upstream) and its response still gets ResponseHeaders. handled true
// means answer 200 with hdr and no body, skipping the route's response
// header operations.
//
// A request without Origin or Access-Control-Request-Method is not a
// preflight. For an allowed origin the answer echoes it in
// Access-Control-Allow-Origin and adds allow-credentials, allow-methods,
// allow-headers and max-age as configured ("*" methods or headers echo
// the request's). For another origin, FORWARD passes the preflight on;
// IGNORE answers the same headers minus Access-Control-Allow-Origin, which
// the browser treats as a refusal.
func (c *CORS) Preflight(origin, reqMethod, reqHeaders string) (hdr [][2]string, handled bool) {
	if c == nil || origin == "" || reqMethod == "" {
		return nil, false
	}
	allowed := c.OriginAllowed(origin)
	if !allowed && c.ForwardUnmatchedPreflights {
		return nil, false
	}
	hdr = make([][2]string, 0, 5)
	if allowed {
		hdr = append(hdr, [2]string{HeaderAllowOrigin, origin})
	}
	if c.AllowCredentials {
		hdr = append(hdr, [2]string{HeaderAllowCredentials, "true"})
	}
	if m := c.AllowMethods; m != "" {
		hdr = append(hdr, [2]string{HeaderAllowMethods, echoStar(m, reqMethod)})
	}
	if h := c.AllowHeaders; h != "" {
		hdr = append(hdr, [2]string{HeaderAllowHeaders, echoStar(h, reqHeaders)})
	}
	if c.MaxAge != "" {
		hdr = append(hdr, [2]string{HeaderMaxAge, c.MaxAge})
	}
	return hdr, true
}

func echoStar(conf, req string) string {
	if conf == "*" {
		return req
	}
	return conf
}

// ResponseHeaders returns the headers to set (overwriting the upstream's)
// on the response to a request from origin that was not answered by
// Preflight: Access-Control-Allow-Origin echoing origin, then
// allow-credentials and expose-headers as configured. It returns nil when
// the origin is absent or not allowed, leaving the response untouched.
func (c *CORS) ResponseHeaders(origin string) [][2]string {
	if !c.OriginAllowed(origin) {
		return nil
	}
	hdr := make([][2]string, 1, 3)
	hdr[0] = [2]string{HeaderAllowOrigin, origin}
	if c.AllowCredentials {
		hdr = append(hdr, [2]string{HeaderAllowCredentials, "true"})
	}
	if c.ExposeHeaders != "" {
		hdr = append(hdr, [2]string{HeaderExposeHeaders, c.ExposeHeaders})
	}
	return hdr
}

// String describes the policy for config dumps.
func (c *CORS) String() string {
	var origins []string
	for i := range c.origins {
		origins = append(origins, c.origins[i].String())
	}
	s := fmt.Sprintf("origins=[%s] methods=%q headers=%q expose=%q maxAge=%q credentials=%v",
		strings.Join(origins, " "), c.AllowMethods, c.AllowHeaders, c.ExposeHeaders, c.MaxAge, c.AllowCredentials)
	if !c.ForwardUnmatchedPreflights {
		s += " unmatchedPreflights=IGNORE"
	}
	return s
}
