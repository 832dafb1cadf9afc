package gateway

import (
	"bufio"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// security.md AZ-03: dot segments, raw and encoded. Unreserved %xx are
// decoded once, RFC 3986 remove_dot_segments runs before policy, and the
// upstream receives that normalized path. Every mode but NONE
// normalizes; the property subtest compares, for generated paths, the
// gateway's decision with what the oracle upstream resolves them to.
func TestAZ03DotSegments(t *testing.T) {
	t.Parallel()
	modes := []string{"", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"}
	azPathModes(t, "", modes, []azPathCase{
		{"dot-dot", "GET /public/../admin HTTP/1.1", 403, "", false},
		{"dot", "GET /./admin HTTP/1.1", 403, "", false},
		{"encoded dot-dot", "GET /public/%2e%2e/admin HTTP/1.1", 403, "", false},
		{"half-encoded dot-dot", "GET /public/.%2E/admin HTTP/1.1", 403, "", false},
		{"trailing dot", "GET /admin/. HTTP/1.1", 403, "", false},
		{"dot-dot below admin back to admin", "GET /admin/x/.. HTTP/1.1", 403, "", false},
		{"dot-dot above the root", "GET /../admin HTTP/1.1", 403, "", false},
		{"encoded unreserved letter", "GET /%61dmin HTTP/1.1", 403, "", false},
		{"trailing dot-dot is forwarded resolved", "GET /public/.. HTTP/1.1", 200, "/", false},
		{"allowed path is forwarded resolved", "GET /public/./a/../b HTTP/1.1", 200, "/public/b", false},
		{"encoded dots are forwarded resolved", "GET /public/%2E/x/%2e%2E/y HTTP/1.1", 200, "/public/y", false},
		{"unreserved letters are forwarded decoded", "GET /%70ublic HTTP/1.1", 200, "/public", false},
	})
	// NONE forwards the path as received, dot segments included, but
	// policies are also checked on the path with them resolved (the form
	// an upstream reads): the DENY holds, and what is allowed either way
	// is forwarded untouched.
	azPathModes(t, "", []string{"NONE"}, []azPathCase{
		{"dot-dot under NONE", "GET /public/../admin HTTP/1.1", 403, "", false},
		{"dot under NONE", "GET /./admin HTTP/1.1", 403, "", false},
		{"dot-dot above the root under NONE", "GET /../admin HTTP/1.1", 403, "", false},
		{"allowed path is forwarded as received under NONE", "GET /public/./a/../b HTTP/1.1", 200, "/public/./a/../b", false},
	})
	for _, mode := range modes {
		name := "property " + mode
		if mode == "" {
			name = "property default BASE"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			azDotProperty(t, mode)
		})
	}
}

// azDotProperty sends every path of one to three segments drawn from
// names and dot segments, raw and encoded, and checks the differential
// property: a path is denied exactly when the oracle upstream resolves it
// to /admin, and what an allowed path forwards never resolves there.
func azDotProperty(t *testing.T, mode string) {
	segs := []string{"admin", "x", ".", "..", "%2e%2E", ".%2e", "%61dmin"}
	paths := []string{}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		for _, s := range segs {
			paths = append(paths, prefix+"/"+s)
			if n > 1 {
				gen(prefix+"/"+s, n-1)
			}
		}
	}
	gen("", 3)
	ch := make(chan azHit, 1)
	g := startGW(t, azPathConfig(t, azTreasure(ch, false), "", azModeConfig(mode)))
	addr := g.srv.Addr(80).String()
	codes := map[int]int{}
	for _, p := range paths {
		out, _ := rawExchange(t, addr, "", []byte("GET "+p+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("%s: no response in %q", p, out)
		}
		body, _ := io.ReadAll(resp.Body)
		admin := azResolvesToAdmin(p)
		codes[resp.StatusCode]++
		switch resp.StatusCode {
		case 403:
			if !admin {
				t.Errorf("%s: denied, but the upstream would resolve it outside /admin", p)
			}
		case 200:
			h := <-ch
			if admin || azResolvesToAdmin(h.uri) || string(body) != "normal" {
				t.Errorf("%s: allowed and forwarded as %q, answered %q", p, h.uri, body)
			}
		default:
			t.Errorf("%s: %d %q, want 200 or 403", p, resp.StatusCode, body)
		}
	}
	if len(paths) != 7+7*7+7*7*7 || codes[200] == 0 || codes[403] == 0 {
		t.Errorf("%d paths gave %v: want 399 paths, some allowed and some denied", len(paths), codes)
	}
}

// security.md AZ-04: backslash. Outside NONE a raw "\" is a "/" before
// dots are resolved, so policy and upstream see the same path; an
// encoded one is 400 unless DECODE_AND_MERGE_SLASHES decodes it. Under
// NONE, which forwards paths as received, a backslash in any form is 400.
func TestAZ04Backslash(t *testing.T) {
	t.Parallel()
	common := []azPathCase{
		{"backslashes", `GET /public\..\admin HTTP/1.1`, 403, "", false},
		{"trailing backslash", `GET /admin\ HTTP/1.1`, 403, "", false},
		{"backslash below admin", `GET /admin\x HTTP/1.1`, 403, "", false},
		{"backslash after a dot-dot", `GET /public/..\admin HTTP/1.1`, 403, "", false},
		{"allowed path is forwarded with slashes", `GET /public\x HTTP/1.1`, 200, "/public/x", false},
	}
	azPathModes(t, "", []string{"", "MERGE_SLASHES"}, slices.Concat(common, []azPathCase{
		{"encoded backslash", "GET /admin%5C HTTP/1.1", 400, "", false},
		{"lower-case encoded backslash", "GET /admin%5c HTTP/1.1", 400, "", false},
		{"encoded backslash on an allowed path", "GET /public%5Cx HTTP/1.1", 400, "", false},
	}))
	azPathModes(t, "", []string{"DECODE_AND_MERGE_SLASHES"}, slices.Concat(common, []azPathCase{
		{"encoded backslash", "GET /admin%5C HTTP/1.1", 403, "", false},
		{"lower-case encoded backslash", "GET /admin%5c HTTP/1.1", 403, "", false},
		{"encoded backslash on an allowed path is forwarded decoded", "GET /public%5Cx HTTP/1.1", 200, "/public/x", false},
	}))
	azPathModes(t, "", []string{"NONE"}, []azPathCase{
		{"control", "GET /public/x HTTP/1.1", 200, "/public/x", false},
		{"backslashes", `GET /public\..\admin HTTP/1.1`, 400, "", false},
		{"trailing backslash", `GET /admin\ HTTP/1.1`, 400, "", false},
		{"backslash on an allowed path", `GET /public\x HTTP/1.1`, 400, "", false},
		{"encoded backslash", "GET /admin%5C HTTP/1.1", 400, "", false},
		{"lower-case encoded backslash", "GET /admin%5c HTTP/1.1", 400, "", false},
	})
}
