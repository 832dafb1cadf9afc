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
// Matching stays case-sensitive.
func azTreasure(ch chan<- azHit) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- azHit{r.Method, r.RequestURI, r.Header.Clone()}
		p, _, _ := strings.Cut(r.RequestURI, "#")
		p, _, _ = strings.Cut(p, "?")
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		segs := strings.Split(p, "/")
		for i, s := range segs {
			segs[i], _, _ = strings.Cut(s, ";")
		}
		if p := path.Clean(strings.Join(segs, "/")); p == "/admin" || strings.HasPrefix(p, "/admin/") {
			io.WriteString(w, "treasure")
			return
		}
		io.WriteString(w, "normal")
	})
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
// treasure upstream; gateway and mesh are extra Gateway annotations and
// an IstioOperator's meshConfig, if any.
func azPathConfig(t *testing.T, ch chan azHit, annotations, meshConfig string) map[string]string {
	cfg := oneRoute(upstream(t, azTreasure(ch)), "")
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
		if tc.code == 403 && string(body) != "RBAC: access denied" {
			t.Errorf("%s: 403 body %q", tc.name, body)
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

// AZ-01..AZ-04, AZ-06, AZ-10 under Istio's default normalization (BASE).
func TestAuthzPathNormalization(t *testing.T) {
	t.Parallel()
	ch := make(chan azHit, 1)
	g := startGW(t, azPathConfig(t, ch, "", ""))
	azRunPaths(t, g, ch, []azPathCase{
		{"control", "GET /admin HTTP/1.1", 403, "", false},
		{"control below", "GET /admin/x HTTP/1.1", 403, "", false},
		{"control elsewhere", "GET /public HTTP/1.1", 200, "/public", false},
		// BASE keeps repeated slashes, as Istio's default does: policy and
		// upstream both see //admin, which a lenient upstream resolves to
		// /admin. MERGE_SLASHES closes this (TestAuthzPathMergeSlashes).
		{"double slash under BASE", "GET //admin HTTP/1.1", 200, "//admin", true},
		{"double slash then dot-dot", "GET /public//../admin HTTP/1.1", 200, "/public/admin", false},
		{"encoded slash", "GET /admin%2Fsecret HTTP/1.1", 400, "", false},
		{"encoded slash and dots", "GET /public%2F..%2Fadmin HTTP/1.1", 400, "", false},
		{"encoded backslash", "GET /admin%5csecret HTTP/1.1", 400, "", false},
		{"encoded NUL", "GET /a%00b HTTP/1.1", 400, "", false},
		{"double-encoded slash stays encoded", "GET /admin%252F HTTP/1.1", 200, "/admin%252F", false},
		{"dot-dot", "GET /public/../admin HTTP/1.1", 403, "", false},
		{"dot", "GET /./admin HTTP/1.1", 403, "", false},
		{"trailing dot", "GET /admin/. HTTP/1.1", 403, "", false},
		{"encoded dot-dot", "GET /public/%2e%2e/admin HTTP/1.1", 403, "", false},
		{"half-encoded dot-dot", "GET /public/.%2E/admin HTTP/1.1", 403, "", false},
		{"encoded unreserved letter", "GET /%61dmin HTTP/1.1", 403, "", false},
		{"backslashes", `GET /public\..\admin HTTP/1.1`, 403, "", false},
		{"trailing backslash", `GET /admin\ HTTP/1.1`, 403, "", false},
		{"query is not part of the path", "GET /admin?x=1 HTTP/1.1", 403, "", false},
		// A fragment never belongs in a request target; Envoy answers 400
		// (CVE-2021-32779): forwarded, "/admin#x" missed the DENY and an
		// upstream that strips fragments served /admin.
		{"fragment", "GET /admin#x HTTP/1.1", 400, "", false},
		{"fragment hiding dot-dot", "GET /public#/../admin HTTP/1.1", 400, "", false},
		{"encoded fragment stays encoded", "GET /admin%23x HTTP/1.1", 200, "/admin%23x", false},
		{"matrix parameter", "GET /admin;jsessionid=1 HTTP/1.1", 400, "", false},
		{"dot-dot with a parameter", "GET /public/..;/admin HTTP/1.1", 400, "", false},
		// Istio matches paths case-sensitively; a case-insensitive
		// upstream needs its own policy.
		{"upper case", "GET /ADMIN HTTP/1.1", 200, "/ADMIN", false},
		{"lower-case method", "get /admin HTTP/1.1", 400, "", false},
		{"mixed-case method", "GeT /public HTTP/1.1", 400, "", false},
	})

	// AZ-10: override headers never reach the upstream.
	addr := g.srv.Addr(80).String()
	out, _ := rawExchange(t, addr, "", []byte("POST /public HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nX-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nConnection: close\r\n\r\n"))
	if got := bodyOf(t, out); got != "200 normal" {
		t.Errorf("override headers: %q, want 200 normal", got)
	}
	h := <-ch
	if h.method != "POST" || h.uri != "/public" {
		t.Errorf("override headers: the upstream got %s %s, want POST /public", h.method, h.uri)
	}
	azHeaders(t, h.header, map[string]string{"X-Http-Method-Override": "", "X-Http-Method": "", "X-Method-Override": "", "X-Original-Url": "", "X-Rewrite-Url": ""})
}

// gatehouse.io/path-parameters: keep forwards ";" parameters as Istio
// does. Policy sees them too: "/admin;jsessionid=1" is not the exact
// path "/admin" nor under "/admin/", so the DENY does not fire, and a
// Java upstream that drops the parameter serves /admin. That is why
// reject is the default.
func TestAuthzPathParametersKept(t *testing.T) {
	t.Parallel()
	ch := make(chan azHit, 1)
	g := startGW(t, azPathConfig(t, ch, "gatehouse.io/path-parameters: keep", ""))
	azRunPaths(t, g, ch, []azPathCase{
		{"matrix parameter", "GET /admin;jsessionid=1 HTTP/1.1", 200, "/admin;jsessionid=1", true},
		{"dot-dot with a parameter", "GET /public/..;/admin HTTP/1.1", 200, "/public/..;/admin", true},
		{"parameter below a denied prefix", "GET /admin/x;a=b HTTP/1.1", 403, "", false},
		{"parameter elsewhere", "GET /public;v=1 HTTP/1.1", 200, "/public;v=1", false},
	})
}

// meshConfig pathNormalization MERGE_SLASHES merges slashes before policy
// and forwards the merged path.
func TestAuthzPathMergeSlashes(t *testing.T) {
	t.Parallel()
	ch := make(chan azHit, 1)
	g := startGW(t, azPathConfig(t, ch, "", "{pathNormalization: {normalization: MERGE_SLASHES}}"))
	azRunPaths(t, g, ch, []azPathCase{
		{"double slash", "GET //admin HTTP/1.1", 403, "", false},
		{"triple slash below", "GET ///admin/x HTTP/1.1", 403, "", false},
		{"double slash then dot-dot", "GET /public//../admin HTTP/1.1", 403, "", false},
		{"allowed path is forwarded merged", "GET /public//a///b HTTP/1.1", 200, "/public/a/b", false},
		{"encoded slash still refused", "GET /admin%2Fsecret HTTP/1.1", 400, "", false},
	})
}
