package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fuzzKey is the fixed ES256 key of FuzzRequest's inline JWKS, so that a
// token saved in the corpus stays valid.
var fuzzKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		panic(err)
	}
	return k
})

// fuzzJWKS is the inline key set that verifies fuzzToken.
func fuzzJWKS() string {
	pt, err := fuzzKey().PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "kid": "fz", "alg": "ES256", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])},
	}})
	return string(set)
}

// fuzzToken is a token for issuer https://fuzz.example valid until 2100.
func fuzzToken() string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://fuzz.example", "sub": "fuzzer", "aud": "api", "exp": 4102444800, "team": "blue",
	})
	tok.Header["kid"] = "fz"
	s, err := tok.SignedString(fuzzKey())
	if err != nil {
		panic(err)
	}
	return s
}

// fuzzConfig has what a request can run into on its way through: header
// matches, a prefix rewrite, a header operation, a JWT rule with an inline
// key set and output headers, a DENY and an ALLOW policy, and
// MERGE_SLASHES path normalization. live.example.com goes to another
// upstream, for the liveness check.
func fuzzConfig(rec, live uint32) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"mesh.yaml": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: istio, namespace: istio-system}
spec:
  meshConfig: {pathNormalization: {normalization: MERGE_SLASHES}}
`,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app.example.com, "*.wild.example.com"]
  gateways: [gw]
  http:
  - name: variant
    match:
    - headers: {x-variant: {exact: b}}
    - headers: {x-variant: {regex: "c+"}}
      uri: {prefix: /v}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}, headers: {request: {set: {x-route: variant}}}}]
  - name: rewrite
    match: [{uri: {prefix: /old/}}, {uri: {exact: /old}}]
    rewrite: {uri: /new/}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - name: absent
    match: [{uri: {prefix: /h}, headers: {x-gone: {}}, withoutHeaders: {x-present: {}}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - name: rest
    match: [{uri: {prefix: /}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: live}
spec:
  hosts: [live.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %[2]d}}}]
`, rec, live),
		"ra.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://fuzz.example
    jwks: '%s'
    audiences: [api]
    outputClaimToHeaders: [{header: x-jwt-team, claim: team}]
`, fuzzJWKS()),
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
    to: [{operation: {paths: ["/secure", "/secure/*"]}}]
  - to: [{operation: {notPaths: ["/secure", "/secure/*"]}}]
`,
	}
}

// fuzzHit is one request the recording upstream received.
type fuzzHit struct {
	id     int
	method string
	uri    string
	header http.Header
	body   []byte
	// whole says the body was read to its end; a request whose body
	// the gateway cut off was forwarded in part only.
	whole bool
}

// fuzzUpstream records every request and answers 200 with the request's
// number in X-Rec-Id, which tells its answers from the gateway's own.
type fuzzUpstream struct {
	mu       sync.Mutex
	next     int
	hits     []fuzzHit
	inflight atomic.Int32
}

func (u *fuzzUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.inflight.Add(1)
	defer u.inflight.Add(-1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	u.mu.Lock()
	id := u.next
	u.next++
	u.hits = append(u.hits, fuzzHit{id: id, method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: body, whole: err == nil})
	u.mu.Unlock()
	w.Header().Set("X-Rec-Id", strconv.Itoa(id))
	io.WriteString(w, "ok")
}

// take waits (briefly) for requests still being served and returns and
// forgets what was recorded.
func (u *fuzzUpstream) take() []fuzzHit {
	for deadline := time.Now().Add(time.Second); u.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	h := u.hits
	u.hits = nil
	return h
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// fuzzAnswerBound is how long the gateway may take to answer, or close,
// a connection whose client has sent everything and half-closed.
const fuzzAnswerBound = 5 * time.Second

// fuzzSeeds are raw HTTP/1.1 exchanges; tok is a valid token.
func fuzzSeeds(tok string) []string {
	const h = "Host: app.example.com\r\n"
	long := strings.Repeat("a", 300)
	return []string{
		"GET / HTTP/1.1\r\n" + h + "\r\n",
		"GET /a/b?q=1&r=%2F HTTP/1.1\r\n" + h + "User-Agent: fz\r\nAccept: */*\r\n\r\n",
		"HEAD /head HTTP/1.1\r\n" + h + "\r\n",
		"OPTIONS * HTTP/1.1\r\n" + h + "\r\n",
		"POST /upload HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhello",
		"POST /upload HTTP/1.1\r\n" + h + "Content-Length: 10\r\n\r\nshort",
		"POST /chunked HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST /chunked HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
		"POST /chunked HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
		"POST /chunked HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"POST /te HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"POST /te HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
		"POST /clte HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n" + h + "\r\n",
		"POST /tecl HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n",
		"POST /dupcl HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST /dupcl HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
		"POST /dupcl HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc",
		"POST /neg HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n",
		"POST /plus HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc",
		"GET /fold HTTP/1.1\r\n" + h + "X-Folded: a\r\n b\r\n\r\n",
		"GET /fold HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
		"GET /lf HTTP/1.1\n" + h[:len(h)-2] + "\nX-A: b\n\n",
		"GET /cr HTTP/1.1\r" + h + "\r\n",
		"GET /space HTTP/1.1\r\n" + h + "X-Bad : v\r\n\r\n",
		"GET /nul HTTP/1.1\r\n" + h + "X-Nul: a\x00b\r\n\r\n",
		"GET http://app.example.com/abs HTTP/1.1\r\nHost: other.example.com\r\n\r\n",
		"GET http://evil.example.com/abs HTTP/1.1\r\n" + h + "\r\n",
		"GET https://app.example.com:443//x/../admin HTTP/1.1\r\n" + h + "\r\n",
		"GET //admin HTTP/1.1\r\n" + h + "\r\n",
		"GET /a//b///c HTTP/1.1\r\n" + h + "\r\n",
		"GET /public/../admin HTTP/1.1\r\n" + h + "\r\n",
		"GET /./admin/. HTTP/1.1\r\n" + h + "\r\n",
		"GET /x/%2e%2E/admin HTTP/1.1\r\n" + h + "\r\n",
		"GET /admin%2Fsecret HTTP/1.1\r\n" + h + "\r\n",
		"GET /a%5cb HTTP/1.1\r\n" + h + "\r\n",
		"GET /a%252Fb HTTP/1.1\r\n" + h + "\r\n",
		`GET /x\..\admin HTTP/1.1` + "\r\n" + h + "\r\n",
		"GET /admin;x=1 HTTP/1.1\r\n" + h + "\r\n",
		"GET /x/..;/admin HTTP/1.1\r\n" + h + "\r\n",
		"GET /admin#frag HTTP/1.1\r\n" + h + "\r\n",
		"GET /%61dmin HTTP/1.1\r\n" + h + "\r\n",
		"GET /%zz HTTP/1.1\r\n" + h + "\r\n",
		"GET /a%00 HTTP/1.1\r\n" + h + "\r\n",
		"GET /old/x//y/../z?k=v HTTP/1.1\r\n" + h + "\r\n",
		"GET /old HTTP/1.1\r\n" + h + "X-Envoy-Original-Path: /forged\r\n\r\n",
		"GET /x HTTP/1.1\r\n" + h + "X-Variant: b\r\n\r\n",
		"GET /v1 HTTP/1.1\r\n" + h + "X-Variant: ccc\r\nX-Variant: b\r\n\r\n",
		"GET /h HTTP/1.1\r\n" + h + "X-Gone: \r\n\r\n",
		"GET /h HTTP/1.1\r\n" + h + "X-Gone: 1\r\nX-Present: 1\r\n\r\n",
		"GET /secure/x HTTP/1.1\r\n" + h + "Authorization: Bearer " + tok + "\r\n\r\n",
		"GET /secure/x HTTP/1.1\r\n" + h + "Authorization: Bearer " + tok + "\r\nX-Jwt-Team: red\r\n\r\n",
		"GET /secure/x HTTP/1.1\r\n" + h + "\r\n",
		"GET /open HTTP/1.1\r\n" + h + "Authorization: Bearer e30.e30.\r\n\r\n",
		"GET /open HTTP/1.1\r\n" + h + "Authorization: Bearer " + tok[:len(tok)-4] + "AAAA\r\n\r\n",
		"GET /admin HTTP/1.1\r\n" + h + "Authorization: Bearer " + tok + "\r\n\r\n",
		"GET /hop HTTP/1.1\r\n" + h + "Connection: keep-alive, X-Secret, close\r\nX-Secret: s\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eA==\r\n\r\n",
		"GET /hop HTTP/1.1\r\n" + h + "Connection: x-forwarded-for, host\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
		"GET /envoy HTTP/1.1\r\n" + h + "X-Envoy-Internal: true\r\nx-envoy-upstream-rq-timeout-ms: 1\r\nX-Envoy-External-Address: 9.9.9.9\r\nX-Envoy-Attempt-Count: 7\r\n\r\n",
		"GET /ws HTTP/1.1\r\n" + h + "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"POST /ws HTTP/1.1\r\n" + h + "Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nhi",
		"GET /up HTTP/1.1\r\n" + h + "Connection: Upgrade\r\nUpgrade: foo\r\n\r\n",
		"GET /h2c HTTP/1.1\r\n" + h + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"CONNECT app.example.com:443 HTTP/1.1\r\n" + h + "\r\n",
		"TRACE / HTTP/1.1\r\n" + h + "\r\n",
		"get / HTTP/1.1\r\n" + h + "\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\n" + h + "Connection: keep-alive\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"HEAD / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: APP.Example.COM:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x.wild.example.com.\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: live.example.com\r\n\r\n",
		"GET / HTTP/2\r\n" + h + "\r\n",
		"GET / HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
		"GET /" + long + " HTTP/1.1\r\n" + h + "X-Long: " + long + "\r\n\r\n",
		"GET /1 HTTP/1.1\r\n" + h + "\r\nGET /2 HTTP/1.1\r\n" + h + "\r\nHEAD /3 HTTP/1.1\r\n" + h + "\r\n",
		"POST /1 HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabcGET /admin HTTP/1.1\r\n" + h + "\r\n",
		"GET /1 HTTP/1.1\r\n" + h + "Connection: close\r\n\r\nGET /2 HTTP/1.1\r\n" + h + "\r\n",
		"GET /1 HTTP/1.1\r\n" + h + "\r\nGET /admin HTTP/1.1\r\n" + h + "\r\nGET /3 HTTP/1.1\r\n" + h + "\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n",
		"",
	}
}

// FuzzRequest sends raw bytes to a gateway in front of a recording
// upstream and checks what a user relies on, whatever the client sends:
// the gateway answers or closes within a bound, keeps serving, answers
// well-formed HTTP/1.1; a request it refuses (4xx) never reached the
// upstream; only the upstream's answers are successes; and what does
// reach the upstream has a normalized path, the gateway's forwarding
// headers and none of the hop-by-hop, x-envoy-* or other headers the
// gateway drops that the client sent.
func FuzzRequest(f *testing.F) {
	up := &fuzzUpstream{}
	rec := startUpstream(f, up)
	live := startUpstream(f, named("live"))
	g := startGW(f, fuzzConfig(rec, live))
	addr := g.srv.Addr(80).String()
	liveClient := &http.Client{Timeout: fuzzAnswerBound}
	f.Cleanup(liveClient.CloseIdleConnections)

	for i, s := range fuzzSeeds(fuzzToken()) {
		f.Add([]byte(s), i%4 != 3)
	}
	// Each input comes from its own loopback address, which the gateway
	// passes on as X-Envoy-External-Address: a request the upstream gets
	// late, from an input before, is told apart. Where only 127.0.0.1 is
	// there (macOS), requests cannot be told apart and the check that
	// needs it is skipped.
	distinct := canDialFrom(addr, netip.AddrFrom4([4]byte{127, 1, 0, 0}))
	var conns uint32
	f.Fuzz(func(t *testing.T, in []byte, wait bool) {
		conns++
		from := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if distinct {
			from = netip.AddrFrom4([4]byte{127, 1 + byte(conns>>16), byte(conns >> 8), byte(conns)})
		}
		reqs, whole := fuzzClientRequests(in)
		out, early, err := fuzzExchange(addr, from, in, wait && whole, reqs)
		if err != nil {
			t.Fatalf("%v\nsent %q\ngot %q", err, in, out)
		}
		var hits []fuzzHit // this input's
		for _, h := range up.take() {
			checkForwardedPath(t, h.uri)
			checkGatewayHeaders(t, h)
			if h.header.Get("X-Envoy-External-Address") == from.String() {
				hits = append(hits, h)
			}
		}
		h2 := bytes.HasPrefix(in, []byte(http2Preface))
		if h2 {
			// Prior-knowledge h2c: the answer is HTTP/2 frames, which
			// other tests check.
			out = nil
		}
		answers, err := fuzzAnswers(out, reqs)
		if err != nil {
			t.Fatalf("malformed answer: %v\nsent %q\ngot %q", err, in, out)
		}
		relayed := map[int]bool{}
		for i, a := range answers {
			id, err := strconv.Atoi(a.Header.Get("X-Rec-Id"))
			if err != nil {
				// Only the upstreams answer 2xx in this configuration,
				// and net/http itself "OPTIONS *".
				star := i < len(reqs) && reqs[i].Method == "OPTIONS" && reqs[i].RequestURI == "*"
				if a.StatusCode < 300 && a.Header.Get("X-Upstream") != "live" && !star {
					t.Errorf("answer %d: %d, yet the upstream did not answer it\nsent %q\ngot %q", i, a.StatusCode, in, out)
				}
				continue
			}
			relayed[id] = true
			if a.StatusCode != 200 {
				t.Errorf("answer %d: the upstream's 200 relayed as %d\nsent %q\ngot %q", i, a.StatusCode, in, out)
			}
			if i < len(reqs) {
				if h := hitByID(hits, id); h != nil {
					checkForwardedHeaders(t, reqs[i], h)
				}
			}
		}
		for i, h := range hits {
			// Requests on a connection are served in turn, so the one
			// request whose answer may be missing is the last forwarded,
			// when the client half-closed before every answer came and
			// the gateway gave up on it (the client went away) and
			// answered nothing. Any other answer (a 4xx of the gateway's
			// own, say) means the upstream saw a request the client was
			// told was refused.
			if !distinct || h2 || !h.whole || relayed[h.id] || (!early && i == len(hits)-1 && len(answers) < len(reqs)) {
				continue
			}
			t.Errorf("%s %s reached the upstream, yet its answer never reached the client; the client got %s\nsent %q\ngot %q",
				h.method, h.uri, statuses(answers), in, out)
		}
		if t.Failed() {
			return
		}
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = "live.example.com"
		resp, err := liveClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("the gateway stopped serving after %q: %v %v", in, err, resp)
		}
	})
}
