package authz

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ipSet is a set of addresses compiled from IPs and CIDRs into sorted,
// merged, non-overlapping ranges. Contains is a binary search that
// allocates nothing. IPv4-mapped IPv6 addresses are treated as IPv4.
type ipSet struct {
	ranges []ipRange
}

type ipRange struct{ lo, hi netip.Addr }

// parseIPOrCIDR parses "10.0.0.1" or "10.0.0.0/8" the way Istio's
// ValidateIPs accepts them; host bits of a CIDR are masked off.
func parseIPOrCIDR(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: %w", v, err)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: zones are not allowed", v)
		}
		a := p.Addr().Unmap()
		bits := p.Bits()
		if p.Addr().Is4In6() {
			bits -= 96
		}
		return netip.PrefixFrom(a, max(bits, 0)).Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q", v)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// newIPSet compiles prefixes into a set.
func newIPSet(prefixes []netip.Prefix) *ipSet {
	rs := make([]ipRange, 0, len(prefixes))
	for _, p := range prefixes {
		rs = append(rs, ipRange{lo: p.Addr(), hi: lastAddr(p)})
	}
	slices.SortFunc(rs, func(a, b ipRange) int { return a.lo.Compare(b.lo) })
	var out []ipRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].lo.BitLen() == r.lo.BitLen() && !adjacentAfter(out[n-1].hi, r.lo) {
			if r.hi.Compare(out[n-1].hi) > 0 {
				out[n-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return &ipSet{ranges: out}
}

// adjacentAfter reports whether lo lies beyond hi+1, i.e. the ranges
// ending at hi and starting at lo neither overlap nor touch.
func adjacentAfter(hi, lo netip.Addr) bool {
	next := hi.Next()
	return next.IsValid() && next.Less(lo)
}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// Contains reports whether a is in the set. An invalid address is in no
// set.
func (s *ipSet) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	lo, hi := 0, len(s.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		r := &s.ranges[m]
		switch {
		case a.Less(r.lo):
			hi = m
		case r.hi.Less(a):
			lo = m + 1
		default:
			return true
		}
	}
	return false
}
