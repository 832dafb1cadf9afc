package router

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func delegateTable(t *testing.T, vss ...*VS) *Table {
	t.Helper()
	ids := map[string]UpstreamID{
		"a.team.svc.cluster.local": 1, "b.team.svc.cluster.local": 2, "c.team.svc.cluster.local": 3,
		"m.default.svc.cluster.local": 9,
	}
	return BuildTable([]Server{httpServer("default/gw", "*")}, vss, nsResolver(ids))
}

func TestDelegateMerge(t *testing.T) {
	root := mustVS(t, "root", "default", `{hosts: [h.com], gateways: [gw], http: [
		{name: api, match: [{uri: {prefix: /api}}], delegate: {name: d, namespace: team},
		 timeout: 5s, retries: {attempts: 4}, mirror: {host: m}, headers: {response: {set: {x-root: 'yes'}}}},
		{name: rest, route: [{destination: {host: c.team.svc.cluster.local}}]}]}`)
	del := mustVS(t, "d", "team", `{http: [
		{name: v1, match: [{name: m1, uri: {prefix: /api/v1}, headers: {x-v: {exact: '1'}}}], route: [{destination: {host: a}}]},
		{name: other, match: [{uri: {prefix: /other}}], route: [{destination: {host: b}}]},
		{name: fallback, timeout: 1s, headers: {response: {set: {x-del: 'yes'}}}, route: [{destination: {host: b}}]}]}`)
	tab := delegateTable(t, root, del)
	v := tab.VHost("h.com")
	if v == nil {
		t.Fatal("no virtual host")
	}
	var names []string
	for _, rt := range v.Routes {
		names = append(names, rt.Name)
	}
	if got := strings.Join(names, " "); got != "api-v1.m1 api-fallback rest" {
		t.Fatalf("routes %q, want the merged delegate routes in place, then rest", got)
	}
	tests := []struct {
		name    string
		req     Request
		want    UpstreamID
		timeout time.Duration
		respHdr string
	}{
		{"narrowed match, inherited fields", Request{Path: "/api/v1/x", Header: http.Header{"X-V": {"1"}}}, 1, 5 * time.Second, "X-Root"},
		{"delegate route without match takes the root's", Request{Path: "/api/v2"}, 2, time.Second, "X-Del"},
		{"dropped delegate route", Request{Path: "/other"}, 3, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Header = cmpHeader(tc.req.Header)
			rt := v.Match(&tc.req)
			if rt == nil || rt.Forward.Dests[0].Upstream != tc.want {
				t.Fatalf("matched %v, want upstream %d", rt, tc.want)
			}
			if rt.Action.Timeout != tc.timeout {
				t.Errorf("timeout %v, want %v", rt.Action.Timeout, tc.timeout)
			}
			h := http.Header{}
			rt.Forward.Dests[0].ResponseHeaders.Apply(h, nil)
			if _, ok := h[tc.respHdr]; tc.respHdr != "" && !ok {
				t.Errorf("response headers %v, want %s", h, tc.respHdr)
			}
		})
	}
	first := v.Routes[0]
	if first.Delegate != "team/d" || first.Action.Retry.Attempts != 4 || len(first.Mirrors) != 1 || first.Mirrors[0].Dest.Upstream != 9 {
		t.Errorf("merged route: delegate %q retry %v mirrors %+v", first.Delegate, first.Action.Retry, first.Mirrors)
	}
	if ws := tab.Warnings(); len(ws) != 1 || ws[0].VirtualService != "team/d" || !strings.Contains(ws[0].String(), "spec.http[1].match: route dropped") {
		t.Errorf("warnings %v, want one for the dropped delegate route", ws)
	}
}

func cmpHeader(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h
}

func TestDelegateMissing(t *testing.T) {
	root := mustVS(t, "root", "default", `{hosts: [h.com], gateways: [gw], http: [
		{match: [{uri: {prefix: /api}}], delegate: {name: nope}},
		{route: [{destination: {host: c.team.svc.cluster.local}}]}]}`)
	hostful := mustVS(t, "nope", "default", "{hosts: [x.com], http: [{route: [{destination: {host: a}}]}]}")
	tab := delegateTable(t, root, hostful)
	v := tab.VHost("h.com")
	if len(v.Routes) != 1 || v.Routes[0].Forward.Dests[0].Upstream != 3 {
		t.Errorf("routes %v, want only the catch-all", v.Routes)
	}
	if ws := tab.Warnings(); len(ws) != 1 || !strings.Contains(ws[0].String(), "default/root: spec.http[0].delegate: delegate VirtualService default/nope not found") {
		t.Errorf("warnings %v", ws)
	}
}

func TestMatchConflict(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name       string
		root, leaf HTTPMatchRequest
		conflict   bool
	}{
		{"prefix within prefix", HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a")}}, HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a/b")}}, false},
		{"prefix outside prefix", HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a/b")}}, HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a")}}, true},
		{"exact within prefix", HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a")}}, HTTPMatchRequest{URI: &StringMatch{Exact: s("/a/x")}}, false},
		{"same exact", HTTPMatchRequest{URI: &StringMatch{Exact: s("/a")}}, HTTPMatchRequest{URI: &StringMatch{Exact: s("/a")}}, false},
		{"prefix under exact", HTTPMatchRequest{URI: &StringMatch{Exact: s("/a")}}, HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a")}}, true},
		{"regex root", HTTPMatchRequest{URI: &StringMatch{Regex: s(".*")}}, HTTPMatchRequest{URI: &StringMatch{Prefix: s("/a")}}, true},
		{"regex leaf", HTTPMatchRequest{URI: &StringMatch{Prefix: s("/")}}, HTTPMatchRequest{URI: &StringMatch{Regex: s("/a.*")}}, true},
		{"unset root field", HTTPMatchRequest{}, HTTPMatchRequest{URI: &StringMatch{Regex: s("/a.*")}}, false},
		{"header narrowed", HTTPMatchRequest{Headers: map[string]*StringMatch{"x": {Prefix: s("a")}}}, HTTPMatchRequest{Headers: map[string]*StringMatch{"x": {Exact: s("ab")}}}, false},
		{"header conflict", HTTPMatchRequest{Headers: map[string]*StringMatch{"x": {Exact: s("a")}}}, HTTPMatchRequest{Headers: map[string]*StringMatch{"x": {Exact: s("b")}}}, true},
		{"ignoreUriCase differs", HTTPMatchRequest{IgnoreURICase: true}, HTTPMatchRequest{}, true},
		{"ports differ", HTTPMatchRequest{Port: 80}, HTTPMatchRequest{Port: 81}, true},
		{"gateways not subset", HTTPMatchRequest{Gateways: []string{"a/g"}}, HTTPMatchRequest{Gateways: []string{"a/h"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchConflict(&tc.root, &tc.leaf); got != tc.conflict {
				t.Errorf("matchConflict = %v, want %v", got, tc.conflict)
			}
		})
	}
}

func TestDelegateErrors(t *testing.T) {
	runCompileCases(t, []compileCase{
		{name: "delegate with gateways", spec: "{gateways: [gw], http: [{route: [{destination: {host: a}}]}]}", want: "must not specify gateways"},
		{name: "delegate with tcp", spec: "{tcp: [{route: [{destination: {host: a}}]}]}", want: "must not have tcp routes"},
		{name: "delegate delegating", spec: "{http: [{delegate: {name: x}}]}", want: "cannot delegate again"},
		{name: "root with route", spec: "{hosts: [a], gateways: [gw], http: [{delegate: {name: x}, route: [{destination: {host: a}}]}]}", want: "only one of route"},
		{name: "root with directResponse", spec: "{hosts: [a], gateways: [gw], http: [{delegate: {name: x}, directResponse: {status: 200}}]}", want: "only one of route"},
		{name: "root without gateways", spec: "{hosts: [a], http: [{delegate: {name: x}}]}", want: "only applies to gateways"},
		{name: "root without name", spec: "{hosts: [a], gateways: [gw], http: [{delegate: {namespace: x}}]}", want: "delegate.name: required"},
	})
}
