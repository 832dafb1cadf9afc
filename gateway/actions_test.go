package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// routes is a config whose VirtualService has the given http list.
func routes(http string) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n" + http,
	}
}

// noRedirects is a client that reports redirects instead of following.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestRedirects(t *testing.T) {
	t.Parallel()
	g := startGW(t, routes(`
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new}
  - match: [{uri: {prefix: /docs/}}]
    redirect: {prefixRewrite: /manual/, redirectCode: 308}
  - match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https, port: 8443}
  - match: [{uri: {prefix: /moved}}]
    redirect: {authority: new.example.com, redirectCode: 302}
  - match: [{uri: {prefix: /here}}]
    redirect: {authority: other.example.com, derivePort: FROM_REQUEST_PORT}
`))
	tests := []struct {
		path, host string
		code       int
		location   string
	}{
		{"/old?x=1", "a.example.com", 301, "http://a.example.com/new?x=1"},
		{"/docs/intro", "a.example.com:8080", 308, "http://a.example.com:8080/manual/intro"},
		{"/secure/x", "a.example.com", 301, "https://a.example.com:8443/secure/x"},
		{"/moved", "a.example.com", 302, "http://new.example.com/moved"},
		{"/here", "a.example.com", 301, "http://other.example.com/here"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", g.url(80)+tc.path, nil)
		req.Host = tc.host
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s%s = %d %q, want %d %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
	}
}

func TestDirectResponses(t *testing.T) {
	t.Parallel()
	g := startGW(t, routes(`
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: "ok\n"}}
    headers: {response: {set: {cache-control: no-store}}}
  - match: [{uri: {exact: /json}}]
    directResponse: {status: 418, body: {bytes: eyJ0ZWEiOnRydWV9}}
    headers: {response: {set: {content-type: application/json}}}
  - match: [{uri: {exact: /gone}}]
    directResponse: {status: 410}
`))
	tests := []struct {
		path, body, ctype, cache string
		code                     int
	}{
		{"/health", "ok\n", "text/plain", "no-store", 200},
		{"/json", `{"tea":true}`, "application/json", "", 418},
		{"/gone", "", "", "", 410},
	}
	for _, tc := range tests {
		code, body, h := g.get(80, "", tc.path)
		if code != tc.code || body != tc.body || h.Get("Content-Type") != tc.ctype || h.Get("Cache-Control") != tc.cache {
			t.Errorf("%s = %d %q (type %q, cache %q)", tc.path, code, body, h.Get("Content-Type"), h.Get("Cache-Control"))
		}
	}
}

// Rewrites and header operations, checked at the upstream and the client.
func TestRewriteAndHeaders(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	port := startUpstream(t, recorder(ch))
	g := startGW(t, routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /ratings}}]
    rewrite: {uri: /v1/bookRatings, authority: ratings.internal}
    headers:
      request:
        set: {x-route: ratings}
        add: {x-multi: second}
        remove: [x-drop]
      response:
        set: {x-served-by: gatehouse}
        remove: [x-app]
    route:
    - destination: {host: 127.0.0.1, port: {number: %[1]d}}
      headers:
        request: {set: {x-dest: one, x-peer: "%%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%%"}}
        response: {add: {x-dest-resp: yes}}
  - match: [{uri: {regex: "/users/[0-9]+/profile"}}]
    rewrite: {uriRegexRewrite: {match: "^/users/([0-9]+)/profile$", rewrite: "/profiles/\\1"}}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
`, port)))

	code, _, h := g.get(80, "shop.example.com", "/ratings/2?lang=en", "X-Drop", "1", "X-Multi", "first")
	up := <-ch
	if code != 200 || up.Path != "/v1/bookRatings/2?lang=en" || up.Host != "ratings.internal" {
		t.Errorf("upstream saw %s %s (status %d)", up.Host, up.Path, code)
	}
	for k, want := range map[string]string{"X-Route": "ratings", "X-Multi": "first|second", "X-Dest": "one",
		"X-Envoy-Original-Path": "/ratings/2?lang=en", "X-Peer": "127.0.0.1", "X-Drop": ""} {
		if got := strings.Join(up.Header[k], "|"); got != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
	if h.Get("X-Served-By") != "gatehouse" || h.Get("X-App") != "" || h.Get("X-Dest-Resp") != "yes" {
		t.Errorf("response headers: served-by %q app %q dest %q", h.Get("X-Served-By"), h.Get("X-App"), h.Get("X-Dest-Resp"))
	}

	g.get(80, "", "/users/42/profile")
	if up := <-ch; up.Path != "/profiles/42" {
		t.Errorf("regex rewrite: upstream saw %q", up.Path)
	}
}

func TestFaultInjection(t *testing.T) {
	t.Parallel()
	port := startUpstream(t, named("up"))
	g := startGW(t, routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - match: [{uri: {prefix: /delay}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - match: [{uri: {prefix: /never}}]
    fault: {abort: {httpStatus: 500}}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - match: [{uri: {prefix: /half}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
`, port)))
	if code, body, _ := g.get(80, "", "/abort"); code != 418 || body != proxy.BodyFault {
		t.Errorf("abort = %d %q", code, body)
	}
	start := time.Now()
	if code, body, _ := g.get(80, "", "/delay"); code != 200 || body != "up" || time.Since(start) < 300*time.Millisecond {
		t.Errorf("delay = %d %q after %v", code, body, time.Since(start))
	}
	if code, _, _ := g.get(80, "", "/never"); code != 200 {
		t.Errorf("a fault without percentage must never fire; got %d", code)
	}
	aborted := 0
	for range 400 {
		if code, _, _ := g.get(80, "", "/half"); code == 503 {
			aborted++
		}
	}
	if aborted < 150 || aborted > 250 {
		t.Errorf("50%% abort fired %d times in 400", aborted)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 4)
	port := startUpstream(t, recorder(ch))
	g := startGW(t, routes(fmt.Sprintf(`
  - corsPolicy:
      allowOrigins: [{exact: "https://app.example.com"}, {regex: "https://.*\\.trusted\\.org"}]
      allowMethods: [GET, POST]
      allowHeaders: [authorization, content-type]
      exposeHeaders: [x-total]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)))
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", g.url(80)+"/api", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := preflight("https://app.example.com")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || h.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		h.Get("Access-Control-Allow-Headers") != "authorization,content-type" || h.Get("Access-Control-Max-Age") != "86400" || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed preflight: %d %v", resp.StatusCode, h)
	}
	if len(ch) != 0 {
		t.Error("an allowed preflight reached the upstream")
	}
	if resp := preflight("https://evil.example.net"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin got Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if len(ch) != 1 {
		t.Error("a foreign-origin preflight was not forwarded (unmatchedPreflights FORWARD)")
	}
	<-ch
	_, _, h = g.get(80, "", "/api", "Origin", "https://x.trusted.org")
	<-ch
	if h.Get("Access-Control-Allow-Origin") != "https://x.trusted.org" || h.Get("Access-Control-Expose-Headers") != "x-total" {
		t.Errorf("actual request: %v", h)
	}
}

// A mirror gets a copy with Host-shadow; a slow mirror never delays the
// client.
func TestMirror(t *testing.T) {
	t.Parallel()
	got, hold := make(chan seen, 10), make(chan struct{})
	mirror := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{Host: r.Host, Path: r.URL.RequestURI() + " " + string(body)}
		<-hold // a mirror slower than the whole test
	}))
	t.Cleanup(func() { close(hold) })
	g := startGW(t, routes(fmt.Sprintf(`
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
    mirror: {host: 127.0.0.1, port: {number: %d}}
`, startUpstream(t, named("primary")), mirror)))
	req, _ := http.NewRequest("POST", g.url(80)+"/orders?id=7", strings.NewReader("payload"))
	req.Host = "shop.example.com:8080"
	start := time.Now()
	code, body, _ := do(t, req)
	if code != 200 || body != "primary" || time.Since(start) > time.Second {
		t.Fatalf("client got %d %q after %v", code, body, time.Since(start))
	}
	select {
	case m := <-got:
		if m.Host != "shop.example.com-shadow:8080" || m.Path != "/orders?id=7 payload" {
			t.Errorf("mirror saw %+v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the mirror got nothing")
	}
}

// mirrors with per-mirror percentages, end to end: a 100% mirror gets a
// copy of every request, a 0% one nothing, a 50% one about half; the
// client always gets the primary's answer.
func TestMirrorPercentages(t *testing.T) {
	t.Parallel()
	var all, none, half atomic.Int32
	allDone := make(chan struct{})
	const n = 200
	count := func(c *atomic.Int32, done chan struct{}) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.Add(1) == n && done != nil {
				close(done)
			}
		})
	}
	mAll, mNone, mHalf := startUpstream(t, count(&all, allDone)), startUpstream(t, count(&none, nil)), startUpstream(t, count(&half, nil))
	g := startGW(t, routes(fmt.Sprintf(`
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
    mirrors:
    - {destination: {host: 127.0.0.1, port: {number: %d}}}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, percentage: {value: 0}}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, percentage: {value: 50}}
`, startUpstream(t, named("primary")), mAll, mNone, mHalf)))
	for range n {
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "primary" {
			t.Fatalf("client got %d %q", code, body)
		}
	}
	select {
	case <-allDone:
	case <-time.After(5 * time.Second):
		t.Fatalf("the 100%% mirror got %d of %d copies", all.Load(), n)
	}
	if c := none.Load(); c != 0 {
		t.Errorf("the 0%% mirror got %d copies", c)
	}
	if c := half.Load(); c < n/2-40 || c > n/2+40 {
		t.Errorf("the 50%% mirror got %d of %d copies", c, n)
	}
}

// Regression (found in review): route request-header ops are applied to the inbound header map, so
// (a) a client's Connection header can delete a header the route sets, and
// (b) a route's set of X-Forwarded-Proto / X-Forwarded-For is dropped by
// skip() and replaced with the gateway's own value.
func TestRouteHeadersKept(t *testing.T) {
	ch := make(chan seen, 4)
	port := startUpstream(t, recorder(ch))
	g := startGW(t, routes(fmt.Sprintf(`
  - headers:
      request:
        set: {x-tenant: fixed, x-forwarded-proto: https}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)))
	g.get(80, "", "/", "Connection", "x-tenant", "X-Tenant", "evil")
	up := <-ch
	t.Logf("upstream X-Tenant=%q X-Forwarded-Proto=%q", up.Header.Values("X-Tenant"), up.Header.Values("X-Forwarded-Proto"))
	if up.Header.Get("X-Tenant") != "fixed" {
		t.Errorf("route-set X-Tenant lost: %q", up.Header.Values("X-Tenant"))
	}
	if up.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("route-set X-Forwarded-Proto replaced: %q", up.Header.Values("X-Forwarded-Proto"))
	}
}

// Regression (found in review): rewrite.uri (and uriRegexRewrite templates) are not checked for
// control characters; writeHead copies o.path into the request line raw,
// so a config value with CR/LF splits the upstream request. Envoy rejects
// such a prefix_rewrite (HTTP_HEADER_VALUE rule).
func TestRewriteURIControlCharsRejected(t *testing.T) {
	t.Parallel()
	_, problems, _, err := checkDir(t, routes(`
  - match: [{uri: {prefix: /pub}}]
    rewrite: {uri: "/pub HTTP/1.1\r\nHost: a\r\n\r\nGET /admin"}
    route: [{destination: {host: 127.0.0.1, port: {number: 80}}}]
`))
	if err == nil || !strings.Contains(fmt.Sprint(problems), "may not contain spaces, control characters") {
		t.Errorf("a rewrite with CR/LF loaded: %v %v", err, problems)
	}
}

// Header formatters read the request as the engine handed it to the
// pipeline: the address the connection arrived on, and the path with a
// bare trailing "?" kept, as Envoy's %REQ(:PATH)% keeps it.
func TestHeaderFormattersSeeTheRequestView(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	port := startUpstream(t, recorder(ch))
	g := startGW(t, routes(fmt.Sprintf(`
  - headers:
      request:
        set: {x-local: "%%DOWNSTREAM_LOCAL_ADDRESS%%", x-local-port: "%%DOWNSTREAM_LOCAL_PORT%%", x-path: "%%REQ(:PATH)%%"}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)))
	c := g.dial(80)
	io.WriteString(c, "GET /echo? HTTP/1.1\r\nHost: shop.example.com\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /echo?: %v %v", resp, err)
	}
	up := <-ch
	addr := g.srv.Addr(80).String()
	_, lport, _ := net.SplitHostPort(addr)
	for k, want := range map[string]string{"X-Local": addr, "X-Local-Port": lport, "X-Path": "/echo?"} {
		if got := up.Header.Get(k); got != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
}
