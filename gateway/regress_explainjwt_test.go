package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Regression (review): explain matched routes on the headers before JWT
// authentication edited them (output headers set, client copies
// removed); serving matches on the headers after.
func TestRegressionExplainRoutesAfterAuthentication(t *testing.T) {
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
		x, err := g.srv.Snapshot().Explain(ctx, ExplainRequest{URL: "http://api.example.com/x", Header: hdr})
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
