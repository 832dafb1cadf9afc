package router

import (
	"slices"
	"testing"
)

// Vectors from Istio's pkg/config/host tests (istio-api.md section 1).
func TestHostsMatch(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"a.foo.com", "a.foo.com", true},
		{"a.foo.com", "A.foo.com", false},
		{"*.foo.com", "a.foo.com", true},
		{"*.foo.com", "a.b.foo.com", true},
		{"*.foo.com", "foo.com", false},
		{"*", "anything.at.all", true},
		{"*", "", true},
		{"*.com", "*.foo.com", true},
		{"*.foo.com", "*.com", true},
		{"*.bar.com", "*.foo.com", false},
		{"foo.com", "bar.com", false},
	}
	for _, tc := range tests {
		if got := HostsMatch(tc.a, tc.b); got != tc.want {
			t.Errorf("HostsMatch(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestHostSubsetOf(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"a.foo.com", "*.foo.com", true},
		{"*.foo.com", "a.foo.com", false},
		{"*.foo.com", "*.com", true},
		{"*.com", "*.foo.com", false},
		{"a.foo.com", "*", true},
		{"*", "*", true},
		{"a.foo.com", "a.foo.com", true},
		{"foo.com", "*.foo.com", false},
	}
	for _, tc := range tests {
		if got := HostSubsetOf(tc.a, tc.b); got != tc.want {
			t.Errorf("HostSubsetOf(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestIntersectHosts(t *testing.T) {
	tests := []struct {
		server, vs, want []string
	}{
		{[]string{"*.foo.com"}, []string{"a.foo.com"}, []string{"a.foo.com"}},
		{[]string{"a.foo.com"}, []string{"*.foo.com"}, []string{"a.foo.com"}},
		{[]string{"*"}, []string{"a.com", "*.b.com"}, []string{"a.com", "*.b.com"}},
		{[]string{"a.com"}, []string{"b.com"}, nil},
		{[]string{"*.com", "a.b.com"}, []string{"a.b.com"}, []string{"a.b.com"}},
	}
	for _, tc := range tests {
		if got := IntersectHosts(tc.server, tc.vs); !slices.Equal(got, tc.want) {
			t.Errorf("IntersectHosts(%q, %q) = %q, want %q", tc.server, tc.vs, got, tc.want)
		}
	}
}

func TestServerHostsFor(t *testing.T) {
	hosts := []string{"sa/a.com", "*/b.com", "./c.com", "d.com", "other/e.com"}
	got := ServerHostsFor(hosts, "sa", "gw")
	want := []string{"a.com", "b.com", "d.com"}
	if !slices.Equal(got, want) {
		t.Errorf("ServerHostsFor(ns sa) = %q, want %q", got, want)
	}
	got = ServerHostsFor(hosts, "gw", "gw")
	want = []string{"b.com", "c.com", "d.com"}
	if !slices.Equal(got, want) {
		t.Errorf("ServerHostsFor(ns gw) = %q, want %q", got, want)
	}
}

func TestResolveGateway(t *testing.T) {
	tests := []struct{ ref, ns, want string }{
		{"mesh", "a", "mesh"},
		{"gw", "a", "a/gw"},
		{"b/gw", "a", "b/gw"},
		{"./gw", "a", "a/gw"},
		{"sa-client-gateway.sacl.svc.cluster.local", "sa", "sacl/sa-client-gateway"},
		{"gw.other", "a", "other/gw"},
	}
	for _, tc := range tests {
		if got := ResolveGateway(tc.ref, tc.ns); got != tc.want {
			t.Errorf("ResolveGateway(%q, %q) = %q, want %q", tc.ref, tc.ns, got, tc.want)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.b.com", "a.b.com"},
		{"a.b.com:8090", "a.b.com"},
		{"A.B.Com:80", "a.b.com"},
		{"[::1]:8080", "[::1]"},
		{"[::1]", "[::1]"},
		{"10.0.0.1:80", "10.0.0.1"},
		{"Admin.Example.com.", "admin.example.com"},
		{"admin.example.com.:8443", "admin.example.com"},
		{"a..", "a"},
		{"", ""},
		// Regression (found by FuzzHost): Unicode case mapping applied
		// whenever an ASCII letter was upper case, so an HTTP/2
		// :authority with a Kelvin sign (U+212A) was routed to the
		// virtual host ka.example.com, but only when written with an
		// upper-case ASCII letter too. Only ASCII is lower-cased.
		{"\u212Aa.example.COM", "\u212Aa.example.com"},
		{"\u0130.EXAMPLE.com", "\u0130.example.com"},
	}
	for _, tc := range tests {
		if got := NormalizeHost(tc.in); got != tc.want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQualifyHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"httpbin", "httpbin.foo.svc.cluster.local"},
		{"httpbin.foo", "httpbin.foo"},
		{"*", "*"},
		{"*.a.com", "*.a.com"},
		{"10.1.2.3", "10.1.2.3"},
	}
	for _, tc := range tests {
		if got := QualifyHost(tc.in, "foo"); got != tc.want {
			t.Errorf("QualifyHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitAuthority(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"a.example.com", "a.example.com", ""},
		{"a.example.com:8080", "a.example.com", "8080"},
		{"A.Example.com.:80", "A.Example.com.", "80"},
		{"[::1]:443", "[::1]", "443"},
		{"[::1]", "[::1]", ""},
		{"::1", "::1", ""},
		{"host:", "host", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		if h, p := SplitAuthority(tc.in); h != tc.host || p != tc.port {
			t.Errorf("SplitAuthority(%q) = %q, %q, want %q, %q", tc.in, h, p, tc.host, tc.port)
		}
	}
}
