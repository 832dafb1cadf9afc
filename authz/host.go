package authz

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// hostPattern is a compiled hosts or notHosts value (also a value of
// request.headers[host] or [:authority]): a pattern on the normalized host
// name, which Request.Host holds, and the Gateway port the request must
// have arrived on, 0 for any port.
type hostPattern struct {
	pat  pattern
	port uint16
}

// match reports whether a request for host on port matches.
func (h *hostPattern) match(host string, port uint16) bool {
	return (h.port == 0 || h.port == port) && h.pat.match(host)
}

// hostMatch reports whether one of hs matches.
func hostMatch(hs []hostPattern, host string, port uint16) bool {
	for i := range hs {
		if hs[i].match(host, port) {
			return true
		}
	}
	return false
}

// parseHostPattern compiles v: "admin.example.com" (any port),
// "admin.example.com:8443", "admin.example.com:*" (any port),
// "*.example.com:8443", "*", "admin*", "[::1]:8080". The host part is put
// in the form Request.Host has: ASCII letters lower-cased, as the router
// lower-cases them, and a trailing dot removed.
func parseHostPattern(v string) (hostPattern, error) {
	host, port, err := splitHostValue(v)
	if err != nil {
		return hostPattern{}, fmt.Errorf("host %q: %w", v, err)
	}
	p := newPattern(lowerASCII(host))
	if p.kind == patExact || p.kind == patSuffix {
		p.s = strings.TrimSuffix(p.s, ".")
		if p.s == "" {
			return hostPattern{}, fmt.Errorf("host %q: no host name", v)
		}
	}
	return hostPattern{pat: p, port: port}, nil
}

// splitHostValue splits a hosts value into its host and port parts. A
// value without a port, or with the port "*", has port 0.
func splitHostValue(v string) (string, uint16, error) {
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", 0, errNoBracket
		}
		host, rest := v[:end+1], v[end+1:]
		if rest == "" {
			return host, 0, nil
		}
		if rest[0] != ':' {
			return "", 0, fmt.Errorf("want a port after %q, not %q", host, rest)
		}
		port, err := parseHostPort(rest[1:])
		return host, port, err
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return v, 0, nil
	}
	if strings.IndexByte(v[:i], ':') >= 0 {
		return "", 0, errBareIPv6
	}
	port, err := parseHostPort(v[i+1:])
	return v[:i], port, err
}

var (
	errNoBracket = errors.New("an IPv6 address needs its closing ]")
	errBareIPv6  = errors.New("an IPv6 address must be in brackets, as in [::1]:8080")
)

// parseHostPort parses the port part of a hosts value: "*" or 1-65535.
func parseHostPort(s string) (uint16, error) {
	if s == "*" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("invalid port %q: want a number 1-65535, or *", s)
	}
	return uint16(n), nil
}

// lowerASCII lower-cases ASCII letters only, as router.NormalizeHost does.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
