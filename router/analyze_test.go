package router

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
)

func TestUnreachableWarnings(t *testing.T) {
	dst := "route: [{destination: {host: a}}]"
	tests := []struct {
		name, http string
		want       []string // warnings, in order; none when empty
	}{
		{"after catch-all", "{match: [{uri: {prefix: /a}}], " + dst + "}, {name: all, " + dst + "}, {match: [{uri: {prefix: /b}}], " + dst + "}",
			[]string{`spec.http[2]: route is never used: http[1] ("all") before it matches every request`}},
		{"prefix / is catch-all", "{match: [{uri: {prefix: /}}], " + dst + "}, {" + dst + "}",
			[]string{"spec.http[1]: route is never used: http[0] before it matches every request"}},
		{"regex .* is catch-all", "{match: [{uri: {regex: '.*'}}], " + dst + "}, {" + dst + "}",
			[]string{"spec.http[1]: route is never used: http[0]"}},
		{"later match entries", "{match: [{uri: {prefix: /}}, {uri: {prefix: /x}}], " + dst + "}",
			[]string{"spec.http[0].match[1]: match is never used: match[0] before it matches every request"}},
		{"duplicate match", "{match: [{name: one, uri: {exact: /a}}], " + dst + "}, {match: [{name: two, uri: {exact: /a}}], " + dst + "}",
			[]string{"spec.http[1].match[0]: match is never used: it repeats http[0].match[0]", "spec.http[1]: route is never used: all its matches repeat earlier ones"}},
		{"header condition is not catch-all", "{match: [{headers: {x: {exact: y}}}], " + dst + "}, {" + dst + "}", nil},
		{"method condition is not catch-all", "{match: [{method: {exact: GET}}], " + dst + "}, {" + dst + "}", nil},
		{"port-filtered catch-all", "{match: [{port: 8080}], " + dst + "}, {" + dst + "}", nil},
		{"gateway-filtered catch-all", "{match: [{gateways: [gw]}], " + dst + "}, {" + dst + "}", nil},
		{"last catch-all is fine", "{match: [{uri: {prefix: /a}}], " + dst + "}, {" + dst + "}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := compileSpec(t, "u", "{hosts: ['*'], gateways: [gw], http: ["+tc.http+"]}")
			hard, warn := problems(errs)
			if len(hard) > 0 {
				t.Fatalf("errors: %q", hard)
			}
			if len(warn) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", warn, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(warn[i], w) {
					t.Errorf("warning %d = %q, want %q", i, warn[i], w)
				}
			}
		})
	}
}

func TestDurationErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "timeout zero", spec: "{timeout: 0s" + dst, want: "timeout: duration 0s is below the 1ms minimum"},
		{name: "timeout sub-millisecond", spec: "{timeout: 900us" + dst, want: "below the 1ms minimum"},
		{name: "timeout precision", spec: "{timeout: 1001us" + dst, want: "not a whole number of milliseconds"},
		{name: "cors maxAge", spec: "{corsPolicy: {maxAge: 0s}" + dst, want: "maxAge: duration 0s is below"},
	})
}

func TestDescribe(t *testing.T) {
	rt := oneRoute(t, 80, `{name: r1, match: [{name: m, uri: {prefix: /api}, headers: {x-a: {exact: b}}}],
		rewrite: {uri: /v1, authority: up.example}, timeout: 3s, retries: {attempts: 1, retryOn: 5xx},
		fault: {abort: {httpStatus: 503, percentage: {value: 1}}}, corsPolicy: {allowOrigins: [{exact: 'https://a.com'}]},
		headers: {request: {set: {x-r: '%REQ(x-a)%'}}}, mirror: {host: b},
		route: [{destination: {host: a}, weight: 3}, {destination: {host: c, subset: v1, port: {number: 81}}, weight: 1}]}`)
	d := rt.Describe()
	for _, c := range []struct{ field, got, want string }{
		{"Name", d.Name, "r1.m"},
		{"Match", d.Match, `uri prefix "/api" && header X-A exact "b"`},
		{"Action", d.Action, "route"},
		{"Rewrite", d.Rewrite, "uri /v1"},
		{"Authority", d.Authority, "up.example"},
		{"Timeout", d.Timeout, "3s"},
		{"Retry", d.Retry, "attempts=1 on=5xx backoff=25ms"},
		{"Fault", d.Fault, "abort http 503 at 1.0000%"},
		{"Destinations", strings.Join(d.Destinations, "; "), "a weight=3 authority=up.example request=[set X-R: %REQ(X-A)%]; c|v1:81 weight=1 authority=up.example request=[set X-R: %REQ(X-A)%]"},
		{"Mirrors", strings.Join(d.Mirrors, ";"), "b at 100.0000%"},
		{"String", rt.String(), `default/r http[0] "r1.m" uri prefix "/api" && header X-A exact "b" -> route`},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !strings.Contains(d.CORS, `exact "https://a.com"`) {
		t.Errorf("CORS = %q", d.CORS)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("RouteInfo does not marshal: %v", err)
	}
	red := oneRoute(t, 80, "{redirect: {uri: /n, scheme: https, derivePort: FROM_REQUEST_PORT}}").Describe()
	if red.Action != "redirect" || red.Redirect != "301 scheme=https uri=/n derivePort=FROM_REQUEST_PORT" || red.Match != "*" {
		t.Errorf("redirect described as %+v", red)
	}
}

func TestWarningsOncePerTable(t *testing.T) {
	root := mustVS(t, "root", "default", `{hosts: [a.com, b.com], gateways: [gw], http: [
		{delegate: {name: gone}}, {route: [{destination: {host: a}}]}]}`)
	servers := []Server{httpServer("default/gw", "a.com"), {Gateway: "default/gw", Hosts: []string{"b.com"}, Port: 80}}
	tab := BuildTable(servers, []*VS{root}, hostResolver(testIDs))
	ws := tab.Warnings()
	if len(ws) != 1 || ws[0].VirtualService != "default/root" || !api.IsWarning(ws[0].Err) {
		t.Fatalf("warnings %v, want one", ws)
	}
	var nilTable *Table
	if nilTable.Warnings() != nil {
		t.Error("nil table has warnings")
	}
	unbound := BuildTable([]Server{httpServer("default/other", "*")}, []*VS{root}, hostResolver(testIDs))
	if ws := unbound.Warnings(); len(ws) != 0 {
		t.Errorf("a VirtualService not bound to the table reported %v", ws)
	}
}
