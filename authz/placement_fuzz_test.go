package authz

import (
	"net/http"
	"strings"
	"testing"
)

// Where FuzzTokenPlacement puts a token.
const (
	plBearer      = iota // its own line "Authorization: Bearer <t>"
	plLowerBearer        // its own line "Authorization: bearer <t>"
	plSameLine           // ", Bearer <t>" after the last Authorization line
	plCustom             // "X-Jwt: Token <t>"
	plAccessToken        // "access_token=<t>"
	plEncodedName        // "access%5Ftoken=<t>"
	plParam              // "jwt=<t>", a fromParams parameter
	plCookie             // "session=<t>", in the last Cookie line
	numPlacements
)

// placed is one token of a fuzzed request.
type placed struct {
	tok, sub, tenant string // sub is "" for an invalid token
	where            int
}

// placementTokens are A and B, valid for different subjects, a malformed
// token and one signed with a key the rule does not have.
func placementTokens(t testing.TB) []placed {
	k := testKeys()
	return []placed{
		{tok: mint(t, k.a, "k1", claims("tenant", "a")), sub: "alice", tenant: "a"},
		{tok: mint(t, k.a, "k1", claims("sub", "bob", "tenant", "b")), sub: "bob", tenant: "b"},
		{tok: "abc.def"},
		{tok: mint(t, k.b, "k1", claims("sub", "mallory"))},
	}
}

// placementEngine reads tokens at every placement: the default locations
// with one rule, the custom header, parameter and cookie with another
// that forwards the original token. Both set the same output headers.
func placementEngine(t testing.TB) *Engine {
	def := inlineRule(t)
	def.OutputPayloadToHeader = "x-jwt-payload"
	def.OutputClaimToHeaders = []ClaimToHeader{{"x-sub", "sub"}, {"x-tenant", "tenant"}}
	custom := inlineRule(t)
	custom.OutputPayloadToHeader, custom.OutputClaimToHeaders = def.OutputPayloadToHeader, def.OutputClaimToHeaders
	custom.FromHeaders = []JWTHeader{{Name: "x-jwt", Prefix: "Token "}}
	custom.FromParams = []string{"jwt"}
	custom.FromCookies = []string{"session"}
	custom.ForwardOriginalToken = true
	return jwtEngine(t, def, custom)
}

// decodePlan turns each byte of plan into a token (high bits) and a
// placement (low bits).
func decodePlan(plan []byte, toks []placed) []placed {
	var out []placed
	for _, b := range plan {
		p := toks[int(b>>4)%len(toks)]
		p.where = int(b&0x0f) % numPlacements
		out = append(out, p)
	}
	return out
}

// placementRequest builds a request with spoofed output headers, a cookie
// and a query parameter of its own, and the tokens where the plan says.
func placementRequest(ps []placed) *Request {
	r := get("/p", "Cookie", "a=1", "X-Sub", "root", "X-Tenant", "root", "X-Jwt-Payload", "forged")
	r.RawQuery = "x=1"
	for _, p := range ps {
		switch p.where {
		case plBearer, plLowerBearer:
			r.Header.Add("Authorization", []string{"Bearer ", "bearer "}[p.where]+p.tok)
		case plSameLine:
			appendLast(r.Header, "Authorization", ", Bearer ", "Bearer ", p.tok)
		case plCustom:
			r.Header.Add("X-Jwt", "Token "+p.tok)
		case plAccessToken:
			r.RawQuery += "&access_token=" + p.tok
		case plEncodedName:
			r.RawQuery += "&access%5Ftoken=" + p.tok
		case plParam:
			r.RawQuery += "&jwt=" + p.tok
		case plCookie:
			appendLast(r.Header, "Cookie", "; session=", "session=", p.tok)
		}
	}
	return r
}

// appendLast appends sep+v to the header's last line, or adds a line
// first+v.
func appendLast(h http.Header, name, sep, first, v string) {
	if vs := h[name]; len(vs) > 0 {
		vs[len(vs)-1] += sep + v
		return
	}
	h.Add(name, first+v)
}

// FuzzTokenPlacement puts valid, malformed and forged tokens anywhere a
// rule reads them, any number of times. A request with more than one
// token, or with one invalid token, is a 401 with no output header; with
// one valid token the identity, every output header and what is removed
// from the request all come from that token.
func FuzzTokenPlacement(f *testing.F) {
	seeds := [][]byte{
		{}, {0x00}, {0x11}, {0x04}, {0x05}, {0x16}, {0x07}, {0x03}, {0x12}, {0x20}, {0x34},
		{0x00, 0x00}, {0x00, 0x12}, {0x00, 0x14}, {0x04, 0x14}, {0x05, 0x04}, {0x07, 0x07},
		{0x03, 0x26}, {0x00, 0x35}, {0x11, 0x01}, {0x22, 0x00}, {0x07, 0x17, 0x00},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	toks := placementTokens(f)
	e := placementEngine(f)
	f.Fuzz(func(t *testing.T, plan []byte) {
		if len(plan) > 6 {
			return
		}
		ps := decodePlan(plan, toks)
		r := placementRequest(ps)
		query, auth := r.RawQuery, strings.Join(r.Header["Authorization"], "\n")
		id, resp := e.Authenticate(t.Context(), r)
		switch {
		case len(ps) == 0:
			checkAnonymous(t, id, resp, r)
		case len(ps) > 1 || ps[0].sub == "":
			checkRejected(t, id, resp, r, len(ps) > 1)
			if r.RawQuery != query || strings.Join(r.Header["Authorization"], "\n") != auth {
				t.Fatalf("a rejected request was edited: query %q, Authorization %q", r.RawQuery, r.Header["Authorization"])
			}
		default:
			checkAccepted(t, id, resp, r, ps[0])
		}
	})
}

func checkAnonymous(t *testing.T, id *Identity, resp *Response, r *Request) {
	t.Helper()
	if id != nil || resp != nil {
		t.Fatalf("no token: got %+v %+v", id, resp)
	}
	checkNoOutputs(t, r)
}

func checkRejected(t *testing.T, id *Identity, resp *Response, r *Request, several bool) {
	t.Helper()
	if id != nil || resp == nil || resp.Status != http.StatusUnauthorized || several != (resp.Body == BodyJwtNotUnique) {
		t.Fatalf("got identity %+v, response %+v; want a 401 (not unique: %v)", id, resp, several)
	}
	checkNoOutputs(t, r)
}

func checkNoOutputs(t *testing.T, r *Request) {
	t.Helper()
	for _, h := range []string{"X-Sub", "X-Tenant", "X-Jwt-Payload"} {
		if v, ok := r.Header[h]; ok {
			t.Fatalf("output header %s = %q without a verified token", h, v)
		}
	}
}

func checkAccepted(t *testing.T, id *Identity, resp *Response, r *Request, p placed) {
	t.Helper()
	if resp != nil || !id.Authenticated() || id.Subject != p.sub {
		t.Fatalf("token of %s at placement %d: got identity %+v, response %+v", p.sub, p.where, id, resp)
	}
	h := r.Header
	if h.Get("X-Sub") != p.sub || h.Get("X-Tenant") != p.tenant || h.Get("X-Jwt-Payload") != strings.Split(p.tok, ".")[1] ||
		len(h["X-Sub"])+len(h["X-Tenant"])+len(h["X-Jwt-Payload"]) != 3 {
		t.Fatalf("output headers %v do not describe %s's token", h, p.sub)
	}
	// The default rule removes the token; the custom one forwards it.
	wantQuery := "x=1"
	if p.where == plParam {
		wantQuery += "&jwt=" + p.tok
	}
	_, auth := h["Authorization"]
	_, custom := h["X-Jwt"]
	cookie := strings.Contains(h.Get("Cookie"), "session="+p.tok)
	if r.RawQuery != wantQuery || auth || custom != (p.where == plCustom) || cookie != (p.where == plCookie) {
		t.Fatalf("placement %d: query %q, headers %v", p.where, r.RawQuery, h)
	}
}
