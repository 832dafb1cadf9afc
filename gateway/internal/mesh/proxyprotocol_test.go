package mesh

import (
	"net/netip"
	"testing"
)

// Admit is what the listener does with a new connection, and what explain
// says it does.
func TestProxyAdmit(t *testing.T) {
	t.Parallel()
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	inside, outside := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		name string
		p    *ProxySettings
		peer netip.Addr
		want ProxyAdmission
	}{
		{"no PROXY protocol", nil, outside, ProxyDirect},
		{"required from any peer", &ProxySettings{}, outside, ProxyReadHeader},
		{"trusted peer", &ProxySettings{Trusted: lb}, inside, ProxyReadHeader},
		{"trusted peer, IPv4-mapped", &ProxySettings{Trusted: lb}, netip.AddrFrom16(inside.As16()), ProxyReadHeader},
		{"untrusted peer refused", &ProxySettings{Trusted: lb}, outside, ProxyRefuse},
		{"untrusted peer served plain", &ProxySettings{Trusted: lb, PlainUntrusted: true}, outside, ProxyDirect},
	} {
		if got := tc.p.Admit(tc.peer); got != tc.want {
			t.Errorf("%s: Admit(%v) = %d, want %d", tc.name, tc.peer, got, tc.want)
		}
	}
}
