package gateway

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"github.com/golang-jwt/jwt/v5"
)

// driftUpstream is an upstream that remembers the last request it received.
type driftUpstream struct {
	name string
	mu   sync.Mutex
	got  string // "host/path?query" of the last request, "" if none
}

func (u *driftUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.got = r.Host + r.URL.RequestURI()
	u.mu.Unlock()
	w.Write([]byte(u.name))
}

// take returns and forgets the last request.
func (u *driftUpstream) take() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.got
	u.got = ""
	return got
}

// driftConfig routes app.example.com to one recording upstream per route
// (ports in order: fault, cors, blue, query, rw, rest); each route tags
// its responses with x-route. JWTs come from decideFiles' key set, in the
// Authorization header or the access_token parameter, and put their team
// claim in x-jwt-team. One trusted proxy; DENY on /private, /admin and a
// client range.
func driftConfig(tb testing.TB, ports []uint32) map[string]string {
	route := func(name, match, extra string, port uint32) string {
		s := "  - name: " + name + "\n"
		if match != "" {
			s += "    match: [" + match + "]\n"
		}
		s += "    headers: {response: {set: {x-route: " + name + "}}}\n" + extra
		if port != 0 {
			s += fmt.Sprintf("    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", port)
		}
		return s
	}
	vs := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: app}\nspec:\n  hosts: [app.example.com]\n  gateways: [gw]\n  http:\n" +
		route("fault", "{uri: {prefix: /fault}}", "    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n", ports[0]) +
		route("moved", "{uri: {prefix: /old}}", "    redirect: {uri: /new}\n", 0) +
		route("direct", "{uri: {exact: /direct}}", "    directResponse: {status: 204}\n", 0) +
		route("cors", "{uri: {prefix: /cors}}", "    corsPolicy: {allowOrigins: [{exact: \"https://a.example\"}], allowMethods: [GET, POST]}\n", ports[1]) +
		route("blue", "{headers: {x-jwt-team: {exact: blue}}}", "", ports[2]) +
		route("query", "{queryParams: {v: {exact: \"1\"}}}", "", ports[3]) +
		route("rw", "{uri: {prefix: /rw}}", "    rewrite: {uri: /new}\n", ports[4]) +
		route("rest", "", "", ports[5])
	ra := strings.Replace(decideFiles(tb)["ra.yaml"], "    jwks:",
		"    outputClaimToHeaders: [{header: x-jwt-team, claim: team}]\n    fromHeaders: [{name: Authorization, prefix: \"Bearer \"}]\n    fromParams: [access_token]\n    jwks:", 1)
	return map[string]string{
		"gw.yaml": strings.Replace(httpGateway, "metadata: {name: gw}",
			"metadata:\n  name: gw\n  annotations:\n    proxy.istio.io/config: '{\"gatewayTopology\": {\"numTrustedProxies\": 1}}'", 1),
		"vs.yaml": vs,
		"ra.yaml": ra,
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/private", "/admin"]}}]
  - from: [{source: {remoteIpBlocks: ["198.51.100.0/24"]}}]
`,
	}
}

// driftToken signs a token for decideFiles' key set, with a team claim
// unless team is "".
func driftToken(tb testing.TB, team string) string {
	tb.Helper()
	claims := azClaims("https://idp.example", "alice")
	if team != "" {
		claims["team"] = team
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "ec-1"
	s, err := tok.SignedString(azKeys().ec)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// decision is what happened to a request, as serving did it or as
// explain says: the status the client got, the route that took it (when
// the answer shows it), the upstream that received it and what it
// received.
type decision struct {
	status   int
	route    string
	upstream string
	target   string
}

var (
	matchLine   = regexp.MustCompile(`(?m)^route: .* (\S+): MATCH `)
	forwardLine = regexp.MustCompile(`^forward \S+ (\S+) to outbound\|(\d+)\|`)
)

// explained reads a decision out of an explanation: a forward counts as
// the upstream's 200.
func explained(x *proxy.Explanation, byPort map[string]string) decision {
	d := decision{status: x.Status}
	if m := matchLine.FindStringSubmatch(x.String()); m != nil {
		d.route = m[1]
	}
	if m := forwardLine.FindStringSubmatch(x.Outcome); m != nil {
		d.status, d.target, d.upstream = http.StatusOK, m[1], byPort[m[2]]
	}
	return d
}

// Explain reports what serving does, for a table of requests through a
// real gateway to recording upstreams: the same status, route, upstream
// and upstream request. A difference means explain and serving drifted.
func TestExplainAgreesWithServing(t *testing.T) {
	t.Parallel()
	names := []string{"fault", "cors", "blue", "query", "rw", "rest"}
	ups, ports, byPort := map[string]*driftUpstream{}, []uint32{}, map[string]string{}
	for _, n := range names {
		u := &driftUpstream{name: n}
		p := startUpstream(t, u)
		ups[n], ports, byPort[strconv.Itoa(int(p))] = u, append(ports, p), n
	}
	g := startGW(t, driftConfig(t, ports))
	blue, plain := driftToken(t, "blue"), driftToken(t, "")
	preflight := []string{"Origin", "https://a.example", "Access-Control-Request-Method", "POST"}
	for _, tc := range []struct {
		name, method, host, target string
		header                     []string
	}{
		{"catch-all", "GET", "app.example.com", "/x?k=v", nil},
		{"normalized host and path", "GET", "APP.Example.com:80", "/x/./y", nil},
		{"denied path", "GET", "app.example.com", "/private", nil},
		{"denied before the 404", "GET", "other.example.com", "/private", nil},
		{"no virtual host", "GET", "other.example.com", "/x", nil},
		{"denied as the upstream reads the path", "GET", "app.example.com", "//admin", nil},
		{"trusted client denied", "GET", "app.example.com", "/x", []string{"X-Forwarded-For", "198.51.100.7"}},
		{"spoofed client ignored", "GET", "app.example.com", "/x", []string{"X-Forwarded-For", "198.51.100.7, 203.0.113.1"}},
		{"claim routes", "GET", "app.example.com", "/x", []string{"Authorization", "Bearer " + blue}},
		{"spoofed claim header", "GET", "app.example.com", "/x", []string{"X-Jwt-Team", "blue"}},
		{"invalid token", "GET", "app.example.com", "/x", []string{"Authorization", "Bearer x.y.z"}},
		{"token parameter not forwarded", "GET", "app.example.com", "/x?access_token=" + plain + "&v=1", nil},
		{"redirect", "GET", "app.example.com", "/old?a=1", nil},
		{"direct response", "GET", "app.example.com", "/direct", nil},
		{"fault abort", "GET", "app.example.com", "/fault", nil},
		{"CORS preflight", "OPTIONS", "app.example.com", "/cors", preflight},
		{"CORS request", "GET", "app.example.com", "/cors", []string{"Origin", "https://a.example"}},
		{"rewrite", "GET", "app.example.com", "/rw/z?k=v", nil},
		{"path parameters", "GET", "app.example.com", "/a;b", nil},
		{"lower-case method", "get", "app.example.com", "/x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := serveForDrift(t, g, ups, tc.method, tc.host, tc.target, tc.header)
			hdr := http.Header{}
			for i := 0; i+1 < len(tc.header); i += 2 {
				hdr.Add(tc.header[i], tc.header[i+1])
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			x, err := g.srv.Snapshot().Explain(ctx, proxy.ExplainRequest{Method: tc.method, URL: "http://" + tc.host + tc.target,
				Header: hdr, Port: 80})
			if err != nil {
				t.Fatal(err)
			}
			said := explained(x, byPort)
			if served.route == "" {
				said.route = "" // a local reply does not show its route
			}
			if said != served {
				t.Errorf("explain says %+v, serving did %+v\n%s", said, served, x)
			}
		})
	}
}

// serveForDrift sends a request through the gateway and reads what
// serving did from the answer and the recording upstreams.
func serveForDrift(t *testing.T, g *gw, ups map[string]*driftUpstream, method, host, target string, header []string) decision {
	t.Helper()
	req, err := http.NewRequest(method, g.url(80)+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, _, h := doWith(t, c, req)
	d := decision{status: status, route: h.Get("X-Route")}
	for name, u := range ups {
		if got := u.take(); got != "" {
			d.upstream, d.target = name, got
		}
	}
	return d
}

// Regression (review): explain matched routes on the headers before JWT
// authentication edited them (output headers set, client copies
// removed); serving matches on the headers after.
func TestExplainRoutesAfterAuthentication(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	blue, other := startUpstream(t, named("blue")), startUpstream(t, named("other"))
	files := map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  gateways: [gw]
  http:
  - name: blue
    match: [{headers: {x-jwt-team: {exact: blue}}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - name: other
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, blue, other),
		"ra.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://idp-a.example
    jwksUri: %s
    outputClaimToHeaders: [{header: x-jwt-team, claim: team}]
`, idp.URL),
	}
	g := startGW(t, files)
	red := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice", "team", "red"))
	bl := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice", "team", "blue"))
	for _, tc := range []struct{ name, tok, spoof string }{{"verified blue", bl, ""}, {"verified red, spoofed blue", red, "blue"}, {"no token, spoofed blue", "", "blue"}} {
		h := []string{}
		if tc.tok != "" {
			h = append(h, "Authorization", "Bearer "+tc.tok)
		}
		if tc.spoof != "" {
			h = append(h, "X-Jwt-Team", tc.spoof)
		}
		_, served, _ := g.get(80, "api.example.com", "/x", h...)
		hdr := http.Header{}
		for i := 0; i+1 < len(h); i += 2 {
			hdr.Add(h[i], h[i+1])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		x, err := g.srv.Snapshot().Explain(ctx, proxy.ExplainRequest{URL: "http://api.example.com/x", Header: hdr})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		explained := "other"
		if strings.Contains(x.String(), "MATCH") && strings.Contains(x.String(), " blue: MATCH") {
			explained = "blue"
		}
		if served != explained {
			t.Errorf("%s: explain disagrees with serving\n%s", tc.name, x)
		}
	}
}
