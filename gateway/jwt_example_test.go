package gateway

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// istioJWT reads one of Istio's sample tokens, the interop fixtures kept
// beside the project.
func istioJWT(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "shared", "reference", "istio-jwt", name))
	if err != nil {
		t.Skipf("Istio's sample tokens are not beside the project (../shared/reference/istio-jwt): %v", err)
	}
	return strings.TrimSpace(string(b))
}

// jwtExampleFiles reads an example directory, pointing its httpbin
// ServiceEntry at a real httpbin.
func jwtExampleFiles(t *testing.T, dir string, httpbin uint32) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(b), "  - address: 127.0.0.1\n", "  - address: 127.0.0.1\n    ports: {http: "+strconv.Itoa(int(httpbin))+"}\n", 1)
		files[e.Name()] = s
	}
	return files
}

// The jwt examples behave as their comments say, with Istio's own sample
// tokens against Istio's sample key set.
func TestJWTExamples(t *testing.T) {
	t.Parallel()
	demo, groups := istioJWT(t, "demo.jwt"), istioJWT(t, "groups-scope.jwt")
	bin := httpbinPort(t)
	cases := []struct {
		dir   string
		path  string
		token string
		code  int
		body  string
	}{
		{"request-authentication", "/headers", "", 403, "RBAC: access denied"},
		{"request-authentication", "/status/200", "", 200, ""},
		{"request-authentication", "/headers", "garbage", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"request-authentication", "/headers", demo, 200, `"X-Jwt-Payload"`},
		{"request-authentication", "/anything/admin", demo, 403, "RBAC: access denied"},
		{"request-authentication", "/anything/admin", groups, 200, `/anything/admin"`},
		{"legacy-policy", "/headers", "", 401, "Origin authentication failed."},
		{"legacy-policy", "/headers", demo, 200, `"Host"`},
	}
	gws := map[string]*gw{}
	for _, c := range cases {
		g := gws[c.dir]
		if g == nil {
			g = startGW(t, jwtExampleFiles(t, filepath.Join("..", "examples", "jwt", c.dir), bin))
			gws[c.dir] = g
		}
		var hdr []string
		if c.token != "" {
			hdr = []string{"Authorization", "Bearer " + c.token}
		}
		code, body, _ := g.get(80, "", c.path, hdr...)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: GET %s (token %v) = %d %q, want %d containing %q", c.dir, c.path, c.token != "", code, body, c.code, c.body)
		}
		// RequestAuthentication removes the token; Istio's legacy Policy
		// forwarded it.
		if c.dir == "request-authentication" && code == 200 && c.token != "" && strings.Contains(body, c.token) {
			t.Errorf("%s: the token reached httpbin", c.dir)
		}
	}
}
