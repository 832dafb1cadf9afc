package router

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// refVHost is the domain Envoy picks for a normalized host among domains:
// the exact name, else the longest "*suffix" with at least one character
// before the suffix, else "*"; "" when none matches.
func refVHost(domains []string, host string) (string, bool) {
	if slices.Contains(domains, host) {
		return host, true
	}
	best := ""
	for _, d := range domains {
		if d == "*" || !isWild(d) {
			continue
		}
		if suf := d[1:]; len(host) > len(suf) && strings.HasSuffix(host, suf) && (best == "" || len(suf) > len(best)-1) {
			best = d
		}
	}
	if best != "" {
		return best, true
	}
	if slices.Contains(domains, "*") {
		return "*", true
	}
	return "", false
}

func domainOf(v *VHost) (string, bool) {
	if v == nil {
		return "", false
	}
	return v.Domain, true
}

// FuzzHost checks the Host handling a gateway routes by: NormalizeHost
// drops the port and lower-cases ASCII letters only, so a host matches the
// same virtual host with or without a port and in any case; the route
// table picks the virtual host Envoy would (exact, then the longest
// wildcard, then "*"); and Istio's host relations are consistent
// (HostsMatch symmetric, HostSubsetOf reflexive and implying HostsMatch,
// IntersectHosts picking from both sides).
func FuzzHost(f *testing.F) {
	for _, s := range [][3]string{
		{"app.example.com", "", ""},
		{"APP.Example.COM:8080", "*.EXAMPLE.com", ""},
		{"x.wild.example.com", "*.wild.example.com", "*.example.com"},
		{".example.com", "*.example.com", ""},
		{"[::1]:80", "[::1]", ""},
		{"[::1]", "*", ""},
		{"::1", "", ""},
		{"a:b:c", "a", ""},
		{"host:", "host", ""},
		{"", "", "*"},
		{"\u212Aa.example.COM", "ka.example.com", ""},
		{"\u0130.example.com", "*.example.com", ""},
		{"a.com.", "*.com", "a.com"},
		{"*.example.com", "*", "*.com"},
	} {
		f.Add(s[0], s[1], s[2], uint16(8080), true)
	}
	f.Fuzz(func(t *testing.T, host, d1, d2 string, port uint16, star bool) {
		nh := NormalizeHost(host)
		if NormalizeHost(nh) != nh {
			t.Errorf("NormalizeHost(%q) = %q is not normalized: %q", host, nh, NormalizeHost(nh))
		}
		if want := asciiCase(strings.TrimRight(stripPort(host), "."), false); nh != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q (port and trailing dots dropped, ASCII letters lower-cased)", host, nh, want)
		}
		up := NormalizeHost(asciiCase(host, true))
		if lo := NormalizeHost(asciiCase(host, false)); up != lo {
			t.Errorf("case matters: %q normalizes to %q upper-cased, %q lower-cased", host, up, lo)
		}
		// The names a port can be added to: a DNS name or IPv4 address
		// (no colon) or a bracketed IPv6 address.
		portable := !strings.ContainsAny(host, ":[]") || (strings.HasPrefix(host, "[") && strings.Count(host, "]") == 1 && strings.HasSuffix(host, "]"))
		withPort := host + ":" + strconv.Itoa(int(port))
		if portable && NormalizeHost(withPort) != nh {
			t.Errorf("the port matters: %q normalizes to %q, %q to %q", host, nh, withPort, NormalizeHost(withPort))
		}

		domains := []string{"app.example.com", "*.example.com", "*.wild.example.com", "api.example.com", "*.com"}
		if star {
			domains = append(domains, "*")
		}
		for _, d := range []string{d1, d2} {
			if d != "" {
				domains = append(domains, lower(d))
			}
		}
		b := &tableBuilder{byDomain: map[string]*VHost{}}
		for _, d := range domains {
			b.vhost(d)
		}
		tab := b.table()
		got, gok := domainOf(tab.VHost(nh))
		if want, wok := refVHost(domains, nh); got != want || gok != wok {
			t.Errorf("host %q (%q) among %q: virtual host %q (%v), want %q (%v)", host, nh, domains, got, gok, want, wok)
		}
		if v, ok := domainOf(tab.VHost(up)); v != got || ok != gok {
			t.Errorf("host %q picks %q, upper-cased %q", host, got, v)
		}
		if portable {
			if v, ok := domainOf(tab.VHost(NormalizeHost(withPort))); v != got || ok != gok {
				t.Errorf("host %q picks %q, with port %q", host, got, v)
			}
		}

		for _, p := range [][2]string{{d1, d2}, {d1, nh}, {d2, nh}} {
			a, c := p[0], p[1]
			if HostsMatch(a, c) != HostsMatch(c, a) {
				t.Errorf("HostsMatch(%q, %q) = %v but HostsMatch(%q, %q) = %v", a, c, HostsMatch(a, c), c, a, HostsMatch(c, a))
			}
			if HostSubsetOf(a, c) && !HostsMatch(a, c) {
				t.Errorf("HostSubsetOf(%q, %q) but not HostsMatch", a, c)
			}
		}
		for _, a := range []string{d1, d2, nh} {
			if !HostSubsetOf(a, a) {
				t.Errorf("HostSubsetOf(%q, %q) = false", a, a)
			}
		}
		left, right := []string{d1, nh}, []string{d2, "*.example.com"}
		for _, h := range IntersectHosts(left, right) {
			inL := slices.ContainsFunc(left, func(x string) bool { return HostSubsetOf(h, x) })
			inR := slices.ContainsFunc(right, func(x string) bool { return HostSubsetOf(h, x) })
			if !inL || !inR || (!slices.Contains(left, h) && !slices.Contains(right, h)) {
				t.Errorf("IntersectHosts(%q, %q) has %q", left, right, h)
			}
		}
	})
}
