package bench

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/bench/internal/ghconf"
)

// securityFiles returns a RequestAuthentication (inline RS256 key set)
// and three AuthorizationPolicies every measured request is checked
// against, as a typical protected API has them, with a token that passes
// all of them: the ones peers.sh runs (ghconf.Security).
func securityFiles(tb testing.TB) (map[string]string, string) {
	tb.Helper()
	files, tok, err := ghconf.Security(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return files, tok
}

// BenchmarkSecurity is the cost of JWT authentication plus three
// authorization policies on the measured route, next to the same route
// without them. The token is the same on every request, as a client's
// is; the first request pays the signature check, the rest hit the
// verified-token cache.
func BenchmarkSecurity(b *testing.B) {
	up := helloUpstream(b)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	files, tok := securityFiles(b)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		header []string
	}{
		{"none", nil, nil},
		{"jwt+3-policies", files, []string{"Authorization", "Bearer " + tok}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			base := startGateway(b, upAddr, false, slog.DiscardHandler, tc.files)
			c := client(b)
			if err := get(c, base, tc.header...); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(c, base, tc.header...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestSecurityConfig checks the benchmark's policies do what they say:
// the token passes, no token is refused.
func TestSecurityConfig(t *testing.T) {
	up := helloUpstream(t)
	files, tok := securityFiles(t)
	base := startGateway(t, strings.TrimPrefix(up.URL, "http://"), false, slog.DiscardHandler, files)
	c := client(t)
	if err := get(c, base, "Authorization", "Bearer "+tok); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if err := get(c, base); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("without a token: %v, want 403", err)
	}
}
