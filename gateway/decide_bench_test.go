package gateway

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream/nethttp"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
)

// decideFiles is a configuration whose answers need no upstream, so that
// the handler's own work can be measured without a network: a direct
// response, a DENY policy, a JWT rule with an inline key set (ES256) and a
// policy that wants a verified token under /jwt.
func decideFiles(tb testing.TB) map[string]string {
	tb.Helper()
	pub := azKeys().ec.PublicKey
	pt, err := pub.Bytes()
	if err != nil || pub.Curve != elliptic.P256() {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "kid": "ec-1", "alg": "ES256", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])},
	}})
	return map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
  - name: moved
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - name: direct
    directResponse: {status: 200, body: {string: ok}}
`,
		"ra.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://idp.example
    jwks: '%s'
`, set),
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/private"]}}]
  - from: [{source: {notRequestPrincipals: ["*"]}}]
    to: [{operation: {paths: ["/jwt/*"]}}]
`,
	}
}

// decideCase is one request of the handler benchmark and its answer.
type decideCase struct {
	name, host, path string
	header           http.Header
	status           int
	// allocs bounds the handler's allocations for the request (0: not
	// pinned): serving's tracer (noTrace) must add none.
	allocs float64
}

func decideCases(tb testing.TB) []decideCase {
	bearer := http.Header{"Authorization": {"Bearer " + driftToken(tb, "")}}
	return []decideCase{
		{"direct", "app.example.com", "/x", nil, 200, 5},
		{"redirect", "app.example.com", "/old", nil, 301, 6},
		{"unrouted", "other.example.com", "/x", nil, 404, 4},
		{"denied", "app.example.com", "/private", nil, 403, 8},
		{"jwt-allowed", "app.example.com", "/jwt/x", bearer, 200, 6},
		{"jwt-missing", "app.example.com", "/jwt/x", nil, 403, 8},
		{"jwt-invalid", "app.example.com", "/x", http.Header{"Authorization": {"Bearer x.y.z"}}, 401, 0}, // its rejection log varies
	}
}

// sinkWriter is a ResponseWriter that keeps only the status and reuses
// its header map, so that measurements count the handler's allocations.
type sinkWriter struct {
	h    http.Header
	code int
}

func (w *sinkWriter) Header() http.Header         { return w.h }
func (w *sinkWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *sinkWriter) WriteHeader(code int)        { w.code = code }

// handlerBench serves one request through a listener's handler in-process.
type handlerBench struct {
	h   http.Handler
	r   *http.Request
	w   sinkWriter
	tc  decideCase
	ctx context.Context
}

func newHandlerBench(tb testing.TB, g *gw, tc decideCase) *handlerBench {
	snap := g.srv.Snapshot()
	var key listener.Key
	for k := range snap.Listeners {
		key = k
	}
	ci := &listener.ConnInfo{Peer: netip.MustParseAddrPort("10.0.0.5:40000"), Local: netip.MustParseAddrPort("127.0.0.1:80")}
	hb := &handlerBench{h: nethttp.NewHandler(g.srv.pipe.Handler(key)), tc: tc, w: sinkWriter{h: http.Header{}},
		ctx: listener.NewContext(context.Background(), ci)}
	hb.r = (&http.Request{Method: "GET", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		URL: &url.URL{}, Header: http.Header{}, RemoteAddr: "10.0.0.5:40000"}).WithContext(hb.ctx)
	return hb
}

// serve resets the request and the writer and serves it; it returns the
// status written.
func (hb *handlerBench) serve() int {
	r := hb.r
	clear(r.Header)
	for k, v := range hb.tc.header {
		r.Header[k] = v
	}
	r.Host, r.RequestURI, r.URL.Path, r.URL.RawQuery = hb.tc.host, hb.tc.path, hb.tc.path, ""
	clear(hb.w.h)
	hb.w.code = 0
	hb.h.ServeHTTP(&hb.w, r)
	return hb.w.code
}

// BenchmarkHandlerDecision is the handler's cost for requests it answers
// itself: normalization, client address, authentication, route match,
// authorization and the local answer, with no network in between.
func BenchmarkHandlerDecision(b *testing.B) {
	g := startGW(b, decideFiles(b))
	for _, tc := range decideCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			hb := newHandlerBench(b, g, tc)
			if got := hb.serve(); got != tc.status {
				b.Fatalf("status %d, want %d", got, tc.status)
			}
			b.ReportAllocs()
			for b.Loop() {
				hb.serve()
			}
		})
	}
}

// The handler benchmark's requests get the answers it claims to measure,
// allocating no more than they did before serving and explain shared
// their decision.
func TestHandlerDecisionCases(t *testing.T) {
	g := startGW(t, decideFiles(t))
	for _, tc := range decideCases(t) {
		hb := newHandlerBench(t, g, tc)
		if got := hb.serve(); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
		if tc.allocs == 0 {
			continue
		}
		if n := testing.AllocsPerRun(200, func() { hb.serve() }); n > tc.allocs {
			t.Errorf("%s: %v allocations a request, want at most %v", tc.name, n, tc.allocs)
		}
	}
}
