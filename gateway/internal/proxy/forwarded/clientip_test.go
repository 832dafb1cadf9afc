package forwarded

import "testing"

// security.md CIP-02, the resolver alone: with numTrustedProxies N the
// client is the Nth address from the right of X-Forwarded-For as
// received; with fewer entries, or a non-address there, it is the peer
// ("" here), never the leftmost entry.
func TestXFFFromRight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		xff  []string
		n    uint32
		want string // "" when the peer stands
	}{
		{[]string{"6.6.6.6, 203.0.113.10, 203.0.113.1"}, 2, "203.0.113.10"},
		{[]string{"6.6.6.6"}, 2, ""},
		{[]string{""}, 1, ""},
		{nil, 1, ""},
		{[]string{"6.6.6.6, 203.0.113.10, 203.0.113.1"}, 0, ""},
		{[]string{"6.6.6.6, 203.0.113.10", "203.0.113.1"}, 2, "203.0.113.10"},
		{[]string{"6.6.6.6, 203.0.113.10, 203.0.113.1"}, 3, "6.6.6.6"},
		{[]string{"6.6.6.6, 203.0.113.10, 203.0.113.1"}, 4, ""},
	} {
		a, ok := xffFromRight(tc.xff, tc.n)
		if got := map[bool]string{true: a.String(), false: ""}[ok]; got != tc.want {
			t.Errorf("xffFromRight(%q, %d) = %q, want %q", tc.xff, tc.n, got, tc.want)
		}
	}
}
