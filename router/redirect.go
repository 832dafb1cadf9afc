package router

import (
	"fmt"
	"strconv"
	"strings"
)

// DerivePort is how a redirect chooses the port of its Location when no
// explicit port is given.
type DerivePort uint8

const (
	// PortUnset keeps Envoy's default: the request Host's port is kept
	// unless the scheme changes away from that port's default.
	PortUnset DerivePort = iota
	// PortFromRequest is derivePort FROM_REQUEST_PORT: the Gateway server
	// port the request arrived on.
	PortFromRequest
	// PortFromProtocolDefault is derivePort FROM_PROTOCOL_DEFAULT: no port,
	// so 80 for http and 443 for https.
	PortFromProtocolDefault
)

// Redirect is a compiled HTTPRedirect. It is immutable.
type Redirect struct {
	// Code is the response status: 301 (default), 302, 303, 307 or 308.
	Code int
	// Scheme replaces the request scheme when not empty.
	Scheme string
	// Authority replaces the request host (and its port) when not empty.
	Authority string
	// Port is an explicit port, 0 when none.
	Port uint32
	// Derive is the derivePort mode, used when Port is 0.
	Derive DerivePort
	// URI replaces the whole path when not empty; the request query is
	// kept unless URI has its own.
	URI string
	// PrefixRewrite replaces the matched prefix when not empty.
	PrefixRewrite string
	uriHasQuery   bool
}

var redirectCodes = map[uint32]int{0: 301, 301: 301, 302: 302, 303: 303, 307: 307, 308: 308}

func (c *compiler) redirect(path string, r *HTTPRedirect, matches []*matchEntry) *Redirect {
	rd := &Redirect{Scheme: r.Scheme, Authority: r.Authority, Port: r.Port, URI: r.URI, PrefixRewrite: r.PrefixRewrite}
	rd.uriHasQuery = strings.Contains(r.URI, "?")
	if r.URI == "" && r.PrefixRewrite == "" && r.Authority == "" && r.Port == 0 && r.DerivePort == "" && r.Scheme == "" {
		c.errf(path, "redirect must specify uri, prefixRewrite, authority, scheme, port or derivePort")
	}
	if r.URI != "" && r.PrefixRewrite != "" {
		c.errf(path, "only one of uri or prefixRewrite may be set")
	}
	if r.PrefixRewrite != "" {
		c.prefixOnly(path+".prefixRewrite", matches)
	}
	code, ok := redirectCodes[r.RedirectCode]
	switch {
	case r.RedirectCode != 0 && (r.RedirectCode < 300 || r.RedirectCode > 399):
		c.errf(path+".redirectCode", "%d is not a valid redirect code, must be 3xx", r.RedirectCode)
	case !ok:
		c.errf(path+".redirectCode", "redirect code %d is not supported (Istio drops the redirect); use 301, 302, 303, 307 or 308", r.RedirectCode)
	}
	rd.Code = code
	if r.Scheme != "" && r.Scheme != "http" && r.Scheme != "https" {
		c.errf(path+".scheme", `invalid redirect scheme %q, must be "http" or "https"`, r.Scheme)
	}
	if r.Port > 65535 {
		c.errf(path+".port", "redirect port %d is out of range 1-65535", r.Port)
	}
	rd.Derive = c.derivePort(path, r)
	for _, f := range []struct{ name, v string }{{"uri", r.URI}, {"prefixRewrite", r.PrefixRewrite}, {"authority", r.Authority}} {
		if i := strings.IndexFunc(f.v, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
			c.errf(path+"."+f.name, "%q contains a space or control character", f.v)
		}
	}
	return rd
}

func (c *compiler) derivePort(path string, r *HTTPRedirect) DerivePort {
	var d DerivePort
	switch r.DerivePort {
	case "":
		return PortUnset
	case "FROM_PROTOCOL_DEFAULT":
		d = PortFromProtocolDefault
	case "FROM_REQUEST_PORT":
		d = PortFromRequest
	default:
		c.errf(path+".derivePort", "unknown derivePort %q: want FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT", r.DerivePort)
	}
	if r.Port != 0 {
		c.errf(path, "only one of port or derivePort may be set")
	}
	return d
}

// prefixOnly checks that every match entry matches the uri by prefix, so
// that "the matched prefix" is defined.
func (c *compiler) prefixOnly(path string, matches []*matchEntry) {
	for i, m := range matches {
		if !m.prefix {
			c.errf(path, "replacing the matched prefix needs prefix uri matches, but match[%d] is %s", i, m.cond.uri.kind)
		}
	}
}

// Location builds the Location header of the redirect as Envoy does
// (Http::Utility::newUri). scheme is the request's scheme (what Envoy sees
// as :scheme and x-forwarded-proto), host the Host header as received,
// port included; path the normalized path without query, rawQuery the
// query without '?'. rt is the matched route (for the prefix length);
// listenerPort is the Gateway server port for FROM_REQUEST_PORT, or 0 to
// use rt.ServerPort.
//
// The request host keeps its port unless a port is configured, or the
// scheme changes and the port is the old scheme's default (":80" for http,
// ":443" for https). A configured port equal to the new scheme's default
// is omitted. FROM_PROTOCOL_DEFAULT always drops the request's port (the
// documented meaning; Envoy would keep a non-default port).
func (rd *Redirect) Location(scheme, host, path, rawQuery string, rt *Route, listenerPort uint32) string {
	newScheme := scheme
	if rd.Scheme != "" {
		newScheme = rd.Scheme
	}
	port := rd.Port
	if rd.Derive == PortFromRequest {
		port = listenerPort
		if port == 0 && rt != nil {
			port = rt.ServerPort
		}
	}
	newHost := rd.Authority
	if newHost == "" {
		newHost = redirectHost(host, scheme, newScheme, port != 0 || rd.Derive == PortFromProtocolDefault)
	}
	newPath, query := rd.path(path, rawQuery, rt)
	var b strings.Builder
	b.Grow(len(newScheme) + len(newHost) + len(newPath) + len(query) + 10)
	b.WriteString(newScheme)
	b.WriteString("://")
	b.WriteString(newHost)
	if port != 0 && !isDefaultPort(newScheme, port) {
		var buf [8]byte
		b.WriteByte(':')
		b.Write(strconv.AppendUint(buf[:0], uint64(port), 10))
	}
	if !strings.HasPrefix(newPath, "/") {
		b.WriteByte('/')
	}
	b.WriteString(newPath)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

// path returns the redirect's path and the query to append.
func (rd *Redirect) path(path, rawQuery string, rt *Route) (string, string) {
	switch {
	case rd.uriHasQuery:
		return rd.URI, ""
	case rd.URI != "":
		return rd.URI, rawQuery
	case rd.PrefixRewrite != "":
		return replacePrefix(path, rd.PrefixRewrite, rt), rawQuery
	}
	return path, rawQuery
}

// redirectHost is Envoy's processRequestHost: the request host, without
// its port when a new port applies, or when the scheme changes and the
// port is the old scheme's default.
func redirectHost(host, oldScheme, newScheme string, portApplies bool) string {
	end := -1
	if strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, "]:"); i >= 0 {
			end = i + 1
		}
	} else {
		end = strings.LastIndexByte(host, ':')
	}
	if end < 0 {
		return host
	}
	reqPort := host[end:]
	strip := portApplies
	if newScheme != oldScheme {
		strip = strip || strings.EqualFold(oldScheme, "https") && reqPort == ":443" ||
			strings.EqualFold(oldScheme, "http") && reqPort == ":80"
	}
	if strip {
		return host[:end]
	}
	return host
}

func isDefaultPort(scheme string, port uint32) bool {
	return port == 80 && strings.EqualFold(scheme, "http") || port == 443 && strings.EqualFold(scheme, "https")
}

// String describes the redirect for config dumps.
func (rd *Redirect) String() string {
	s := fmt.Sprintf("%d", rd.Code)
	for _, kv := range [][2]string{{"scheme", rd.Scheme}, {"authority", rd.Authority}, {"uri", rd.URI}, {"prefixRewrite", rd.PrefixRewrite}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	switch {
	case rd.Port != 0:
		s += fmt.Sprintf(" port=%d", rd.Port)
	case rd.Derive == PortFromRequest:
		s += " derivePort=FROM_REQUEST_PORT"
	case rd.Derive == PortFromProtocolDefault:
		s += " derivePort=FROM_PROTOCOL_DEFAULT"
	}
	return s
}
