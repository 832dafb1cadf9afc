package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// FuzzXFF checks xffFromRight and resolveClient on arbitrary
// X-Forwarded-For headers (lines separated by "\n") and hop counts: they
// never panic; an address they trust is the Nth entry from the right of
// the list as received (so never the leftmost entry unless that entry is
// also the Nth from the right), literally present in the header;
// otherwise the client is the connection's downstream address; the peer
// never comes from the header; and the forwarded headers carry the list
// with the downstream address appended and the trusted address.
func FuzzXFF(f *testing.F) {
	for _, s := range []string{
		"", ",", " , ", "6.6.6.6, 203.0.113.10, 203.0.113.1", "6.6.6.6\n203.0.113.10, 203.0.113.1",
		"1.2.3.4,5.6.7.8", "\t1.2.3.4 ,\t5.6.7.8\t", "fe80::1%eth0, 1.2.3.4", "::ffff:10.0.0.1, 1.2.3.4",
		"1.2.3.4:80, 5.6.7.8", "[2001:db8::1], 5.6.7.8", "2001:DB8::7, 10.0.0.1", "unknown, 1.2.3.4", "\n\n",
		"1.2.3.4,,5.6.7.8", "01.2.3.4, 1.2.3.4", strings.Repeat("9.9.9.9, ", 50) + "1.1.1.1",
	} {
		for n := range uint8(4) {
			f.Add(s, n, n%2 == 1)
		}
	}
	f.Fuzz(func(t *testing.T, header string, hops uint8, proxied bool) {
		n := uint32(hops % 8)
		var lines []string
		if header != "" {
			lines = strings.Split(header, "\n")
		}
		got, ok := xffFromRight(lines, n)

		// The model: the lines read as one comma-separated list.
		var entries []string
		if lines != nil {
			entries = strings.Split(strings.Join(lines, ","), ",")
		}
		var want netip.Addr
		wantOK := false
		if n > 0 && int(n) <= len(entries) {
			a, err := netip.ParseAddr(strings.Trim(entries[len(entries)-int(n)], " \t"))
			if err == nil && a.Zone() == "" {
				want, wantOK = a.Unmap(), true
			}
		}
		if ok != wantOK || got != want {
			t.Fatalf("xffFromRight(%q, %d) = %v, %v; want %v, %v (the entry %d from the right)", lines, n, got, ok, want, wantOK, n)
		}
		if ok {
			nth := strings.Trim(entries[len(entries)-int(n)], " \t")
			if !strings.Contains(header, nth) {
				t.Fatalf("trusted %v from %q, which is not in the header %q", got, nth, header)
			}
			// Whatever the leftmost (client-written) entry says, the value
			// trusted is the Nth entry's from the right.
			if a, _ := netip.ParseAddr(nth); a.Unmap() != got {
				t.Fatalf("trusted %v, but the entry %d from the right is %q", got, n, nth)
			}
		}

		// resolveClient: the peer is the socket's, the downstream address is
		// RemoteAddr (a PROXY source when proxied), the client is the
		// trusted entry or else the downstream address.
		peer := netip.MustParseAddrPort("127.0.0.1:5555")
		remoteAddr := "127.0.0.1:5555"
		if proxied {
			remoteAddr = "[2001:db8::9]:4000"
		}
		r := &downstream.Request{RemoteAddr: remoteAddr, Header: http.Header{}}
		if lines != nil {
			r.Header["X-Forwarded-For"] = lines
		}
		c := Resolve(&listener.ConnInfo{Peer: peer, Proxied: proxied}, r, n)
		down := netip.MustParseAddr(transport.HostOf(remoteAddr))
		if c.Peer != peer.Addr() {
			t.Fatalf("peer %v, want the socket's %v", c.Peer, peer.Addr())
		}
		if wantRemote := map[bool]netip.Addr{true: got, false: down}[ok]; c.Remote != wantRemote {
			t.Fatalf("remote %v, want %v (xff ok %v)", c.Remote, wantRemote, ok)
		}
		SetHeaders(r, &c, &listener.ConnInfo{}, mesh.XFCCSanitizeSet)
		xff := r.Header["X-Forwarded-For"]
		// Header lines are joined trimmed; blank lines add nothing.
		var kept []string
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				kept = append(kept, l)
			}
		}
		wantXFF := strings.Join(append(kept, down.String()), ", ")
		if len(xff) != 1 || xff[0] != wantXFF {
			t.Fatalf("forwarded X-Forwarded-For %q, want %q", xff, wantXFF)
		}
		if e := r.Header["X-Envoy-External-Address"]; len(e) != 1 || e[0] != c.Remote.String() {
			t.Fatalf("X-Envoy-External-Address %q, want %q", e, c.Remote)
		}
	})
}
