package gateway

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
)

// azHit is what reached the treasure upstream.
type azHit struct {
	method, uri string
	header      http.Header
}

// azTreasure is security.md's oracle upstream: it answers "treasure" for
// any path it resolves to /admin and "normal" otherwise. It resolves as
// lenient servers do: a "#" fragment dropped (URL parsers of Python and
// Node), ";" parameters dropped from each segment (Java servlet
// containers), then Go's path.Clean (dot segments, repeated slashes).
// Matching is case-sensitive unless fold is set, which models an upstream
// that ignores case (IIS, a case-insensitive file system).
func azTreasure(ch chan<- azHit, fold bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- azHit{r.Method, r.RequestURI, r.Header.Clone()}
		p := r.RequestURI
		if fold {
			p = strings.ToLower(p)
		}
		if azResolvesToAdmin(p) {
			io.WriteString(w, "treasure")
			return
		}
		io.WriteString(w, "normal")
	})
}

// azResolvesToAdmin reports whether the oracle upstream resolves the
// request target uri to /admin or below.
func azResolvesToAdmin(uri string) bool {
	p, _, _ := strings.Cut(uri, "#")
	p, _, _ = strings.Cut(p, "?")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	p = path.Clean(strings.Join(segs, "/"))
	return p == "/admin" || strings.HasPrefix(p, "/admin/")
}

// azPathCase is a raw request line and what must come of it. upstream is
// the path the upstream must receive when code is 200, and treasure says
// whether the oracle may answer "treasure" to it.
type azPathCase struct {
	name, line string
	code       int
	upstream   string
	treasure   bool
}

// azPathConfig denies /admin and /admin/* on a catch-all route to the
// upstream h; annotations and meshConfig are extra Gateway annotations
// and an IstioOperator's meshConfig, if any.
func azPathConfig(t *testing.T, h http.Handler, annotations, meshConfig string) map[string]string {
	cfg := oneRoute(startUpstream(t, h), "")
	if annotations != "" {
		cfg["gw.yaml"] = strings.Replace(httpGateway, "metadata: {name: gw}", "metadata:\n  name: gw\n  annotations: {"+annotations+"}", 1)
	}
	if meshConfig != "" {
		cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: istio, namespace: istio-system}\nspec:\n  meshConfig: " + meshConfig + "\n"
	}
	cfg["ap.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
`
	return cfg
}

// azModeConfig is the meshConfig that selects a pathNormalization mode;
// "" is the default (BASE) with no meshConfig at all.
func azModeConfig(mode string) string {
	if mode == "" {
		return ""
	}
	return "{pathNormalization: {normalization: " + mode + "}}"
}

// azPathModes runs cases against the treasure upstream behind a gateway
// per pathNormalization mode ("" is the default), each in a parallel
// subtest; annotations go on the Gateway.
func azPathModes(t *testing.T, annotations string, modes []string, cases []azPathCase) {
	t.Helper()
	for _, mode := range modes {
		name := mode
		if name == "" {
			name = "default BASE"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ch := make(chan azHit, 1)
			g := startGW(t, azPathConfig(t, azTreasure(ch, false), annotations, azModeConfig(mode)))
			azRunPaths(t, g, ch, cases)
		})
	}
}

func azRunPaths(t *testing.T, g *gw, ch chan azHit, cases []azPathCase) {
	t.Helper()
	addr := g.srv.Addr(80).String()
	for _, tc := range cases {
		out, _ := rawExchange(t, addr, "", []byte(tc.line+"\r\nHost: a\r\nConnection: close\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
		if err != nil {
			t.Errorf("%s: no response in %q", tc.name, out)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %q got %d %q, want %d", tc.name, tc.line, resp.StatusCode, body, tc.code)
		}
		if strings.Contains(string(body), "treasure") != tc.treasure {
			t.Errorf("%s: %q got body %q (treasure expected: %v)", tc.name, tc.line, body, tc.treasure)
		}
		if want := map[int]string{400: "Bad Request", 403: "RBAC: access denied"}[tc.code]; resp.StatusCode == tc.code && want != "" && string(body) != want {
			t.Errorf("%s: %d body %q, want %q", tc.name, tc.code, body, want)
		}
		if resp.StatusCode != 200 {
			select {
			case h := <-ch:
				t.Errorf("%s: refused, yet the upstream got %q", tc.name, h.uri)
			default:
			}
			continue
		}
		if h := <-ch; h.uri != tc.upstream {
			t.Errorf("%s: the upstream got %q, want the normalized %q", tc.name, h.uri, tc.upstream)
		}
	}
}

// security.md AZ-01: multiple slashes, and "//" read as an authority.
// Under MERGE_SLASHES and DECODE_AND_MERGE_SLASHES slashes are merged
// before policy and the merged path is forwarded. The path is never
// re-parsed as a URL: "//public/x" keeps "public" as its first segment
// rather than losing it as a host.
func TestAZ01MultipleSlashes(t *testing.T) {
	t.Parallel()
	azPathModes(t, "", []string{"MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"}, []azPathCase{
		{"control", "GET /admin HTTP/1.1", 403, "", false},
		{"double slash", "GET //admin HTTP/1.1", 403, "", false},
		{"double slash then dot-dot", "GET /public//../admin HTTP/1.1", 403, "", false},
		{"triple slash below", "GET ///admin/x HTTP/1.1", 403, "", false},
		{"authority-like path", "GET //admin/secret HTTP/1.1", 403, "", false},
		{"authority-like allowed path keeps its first segment", "GET //public/x HTTP/1.1", 200, "/public/x", false},
		{"allowed path is forwarded merged", "GET /public//a///b HTTP/1.1", 200, "/public/a/b", false},
	})
	// BASE, Istio's default, and NONE keep repeated slashes in what is
	// forwarded (README, "Paths, as policies see them"), but policies are
	// also checked on the slash-merged form, which a lenient upstream
	// would resolve "//admin" to: the DENY holds. "//" is never taken for
	// an authority, and ".." removes the empty segment as RFC 3986 says,
	// so "/public//../admin" stays below /public.
	azPathModes(t, "", []string{"", "NONE"}, []azPathCase{
		{"double slash", "GET //admin HTTP/1.1", 403, "", false},
		{"triple slash below", "GET ///admin/x HTTP/1.1", 403, "", false},
		{"authority-like path", "GET //admin/secret HTTP/1.1", 403, "", false},
		{"authority-like allowed path keeps its first segment", "GET //public/x HTTP/1.1", 200, "//public/x", false},
	})
	azPathModes(t, "", []string{""}, []azPathCase{
		{"double slash then dot-dot under BASE", "GET /public//../admin HTTP/1.1", 200, "/public/admin", false},
	})
}

// security.md AZ-02: percent-encoded slash, backslash and NUL. %2F and
// %5C in either case are 400 and never forwarded (none is decoded for an
// upstream to find), under NONE too, unless DECODE_AND_MERGE_SLASHES
// decodes them into the path policy sees and the upstream receives. %00
// is 400 in every mode. Nothing is decoded twice.
func TestAZ02EncodedSlashes(t *testing.T) {
	t.Parallel()
	azPathModes(t, "", []string{"", "MERGE_SLASHES", "NONE"}, []azPathCase{
		{"control", "GET /admin HTTP/1.1", 403, "", false},
		{"control below", "GET /admin/x HTTP/1.1", 403, "", false},
		{"control elsewhere", "GET /public HTTP/1.1", 200, "/public", false},
		{"encoded slash", "GET /admin%2Fsecret HTTP/1.1", 400, "", false},
		{"lower-case encoded slash", "GET /admin%2fsecret HTTP/1.1", 400, "", false},
		{"encoded slash and dots", "GET /public%2F..%2Fadmin HTTP/1.1", 400, "", false},
		{"encoded slash on an allowed path", "GET /public%2Fx HTTP/1.1", 400, "", false},
		{"encoded backslash", "GET /admin%5csecret HTTP/1.1", 400, "", false},
		{"upper-case encoded backslash", "GET /admin%5Csecret HTTP/1.1", 400, "", false},
		{"encoded NUL", "GET /a%00b HTTP/1.1", 400, "", false},
		{"encoded NUL after admin", "GET /admin%00 HTTP/1.1", 400, "", false},
		{"double-encoded slash stays encoded", "GET /admin%252F HTTP/1.1", 200, "/admin%252F", false},
	})
	azPathModes(t, "", []string{"DECODE_AND_MERGE_SLASHES"}, []azPathCase{
		{"encoded slash", "GET /admin%2Fsecret HTTP/1.1", 403, "", false},
		{"lower-case encoded slash", "GET /admin%2fsecret HTTP/1.1", 403, "", false},
		{"encoded slash and dots", "GET /public%2F..%2Fadmin HTTP/1.1", 403, "", false},
		{"encoded slash on an allowed path is forwarded decoded", "GET /public%2Fx HTTP/1.1", 200, "/public/x", false},
		{"encoded backslash", "GET /admin%5csecret HTTP/1.1", 403, "", false},
		{"upper-case encoded backslash", "GET /admin%5Csecret HTTP/1.1", 403, "", false},
		{"encoded NUL", "GET /a%00b HTTP/1.1", 400, "", false},
		{"double-encoded slash stays encoded", "GET /admin%252F HTTP/1.1", 200, "/admin%252F", false},
	})
}
