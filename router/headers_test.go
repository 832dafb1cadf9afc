package router

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestHeaderOrdering(t *testing.T) {
	single := `{headers: {request: {set: {x-a: route, x-r: route}, remove: [x-b]}, response: {set: {x-resp: route}}},
		route: [{destination: {host: a}, headers: {request: {set: {x-a: dest, x-b: dest}, remove: [x-r]}, response: {set: {x-resp: dest}}}}]}`
	weighted := `{headers: {request: {set: {x-a: route, x-r: route}, remove: [x-b]}, response: {set: {x-resp: route}}},
		route: [{destination: {host: a}, weight: 60, headers: {request: {set: {x-a: dest, x-b: dest}, remove: [x-r]}, response: {set: {x-resp: dest}}}},
		        {destination: {host: b}, weight: 40}]}`
	oneKept := `{headers: {request: {set: {x-a: route}}},
		route: [{destination: {host: a}, weight: 100, headers: {request: {set: {x-a: dest}}}}, {destination: {host: b}, weight: 0}]}`
	tests := []struct {
		name, route    string
		req, resp      http.Header
		wantOps        []string
		routeLevelOnly bool
	}{
		// Single destination: one level; removals first, destination set wins.
		{name: "single destination", route: single,
			req:     http.Header{"X-A": {"dest"}, "X-B": {"dest"}, "X-R": {"route"}},
			resp:    http.Header{"X-Resp": {"dest"}},
			wantOps: []string{"remove X-B", "remove X-R", "set X-A: route", "set X-R: route", "set X-A: dest", "set X-B: dest"}},
		// Weighted: destination level then route level; route set wins,
		// route removal deletes what the destination set.
		{name: "weighted destinations", route: weighted,
			req:     http.Header{"X-A": {"route"}, "X-R": {"route"}},
			resp:    http.Header{"X-Resp": {"route"}},
			wantOps: []string{"remove X-R", "set X-A: dest", "set X-B: dest", "remove X-B", "set X-A: route", "set X-R: route"}},
		{name: "zero weight dropped makes it single", route: oneKept,
			req: http.Header{"X-A": {"dest"}}, resp: http.Header{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := oneRoute(t, 80, tc.route)
			d := &rt.Forward.Dests[0]
			req, resp := http.Header{}, http.Header{}
			d.RequestHeaders.Apply(req, nil)
			d.ResponseHeaders.Apply(resp, nil)
			if !reflect.DeepEqual(req, tc.req) {
				t.Errorf("request headers = %v, want %v", req, tc.req)
			}
			if !reflect.DeepEqual(resp, tc.resp) {
				t.Errorf("response headers = %v, want %v", resp, tc.resp)
			}
			if tc.wantOps != nil && !reflect.DeepEqual(d.RequestHeaders.Strings(), tc.wantOps) {
				t.Errorf("ops = %q, want %q", d.RequestHeaders.Strings(), tc.wantOps)
			}
		})
	}
}

func TestHeaderApply(t *testing.T) {
	vars := fakeVars{
		hdr:   map[string]string{"X-User": "alice", ":authority": "a.com:8080", "X-Alt": "alt"},
		vars:  map[FormatVar]string{VarDownstreamRemoteAddress: "10.0.0.1:555", VarDownstreamRemoteAddressWithoutPort: "10.0.0.1", VarProtocol: "HTTP/1.1", VarUpstreamHost: "10.1.1.1:80"},
		start: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC),
	}
	tests := []struct {
		name, ops string
		in, want  http.Header
	}{
		{"set overwrites", "{set: {x-a: v}}", http.Header{"X-A": {"1", "2"}}, http.Header{"X-A": {"v"}}},
		{"add appends", "{add: {x-a: v}}", http.Header{"X-A": {"1"}}, http.Header{"X-A": {"1", "v"}}},
		{"add creates", "{add: {x-a: v}}", http.Header{}, http.Header{"X-A": {"v"}}},
		{"remove", "{remove: [X-Gone, x-also]}", http.Header{"X-Gone": {"1"}, "X-Also": {"2"}, "X-Keep": {"3"}}, http.Header{"X-Keep": {"3"}}},
		{"set and add same header", "{set: {x-a: s}, add: {x-a: a}}", http.Header{}, http.Header{"X-A": {"s", "a"}}},
		{"REQ", "{set: {x-who: '%REQ(x-user)%'}}", http.Header{}, http.Header{"X-Who": {"alice"}}},
		{"REQ host is authority", "{set: {x-h: 'h=%REQ(Host)%'}}", http.Header{}, http.Header{"X-H": {"h=a.com:8080"}}},
		{"REQ alternative and length", "{set: {x-r: '%REQ(x-missing?x-alt):2%'}}", http.Header{}, http.Header{"X-R": {"al"}}},
		{"missing REQ skips the op", "{set: {x-r: '%REQ(x-missing)%'}}", http.Header{"X-R": {"old"}}, http.Header{"X-R": {"old"}}},
		{"remote address", "{set: {x-ip: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', x-addr: '%DOWNSTREAM_REMOTE_ADDRESS%'}}", http.Header{},
			http.Header{"X-Ip": {"10.0.0.1"}, "X-Addr": {"10.0.0.1:555"}}},
		{"mixed literal", "{set: {x-m: 'start=%START_TIME% proto=%PROTOCOL% up=%UPSTREAM_HOST%'}}", http.Header{},
			http.Header{"X-M": {"start=2026-01-02T03:04:05.678Z proto=HTTP/1.1 up=10.1.1.1:80"}}},
		{"escaped percent", "{set: {x-p: '100%%'}}", http.Header{}, http.Header{"X-P": {"100%"}}},
		{"start time formats", "{set: {x-t: '%START_TIME(%s)%|%START_TIME(%Y-%m):4%|%START_TIME()%'}}", http.Header{},
			http.Header{"X-T": {"1767323045|2026|2026-01-02T03:04:05.678Z"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := oneRoute(t, 80, "{headers: {request: "+tc.ops+"}, route: [{destination: {host: a}}]}")
			rt.Forward.Dests[0].RequestHeaders.Apply(tc.in, vars)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("headers = %v, want %v", tc.in, tc.want)
			}
		})
	}
}

func TestHeaderLiteralSharing(t *testing.T) {
	rt := oneRoute(t, 80, "{headers: {response: {set: {x-a: v}}}, directResponse: {status: 200}}")
	h1, h2 := http.Header{}, http.Header{}
	rt.Action.ResponseHeaders.Apply(h1, nil)
	rt.Action.ResponseHeaders.Apply(h2, nil)
	h1.Add("X-A", "more")
	if got := h2["X-A"]; len(got) != 1 || got[0] != "v" {
		t.Errorf("appending to one header changed another: %q", got)
	}
	var nilOps *HeaderOps
	nilOps.Apply(h1, nil) // must not panic
	if nilOps.Len() != 0 || nilOps.Strings() != nil {
		t.Errorf("nil HeaderOps: Len %d Strings %q", nilOps.Len(), nilOps.Strings())
	}
}

func TestHeaderApplyAllocs(t *testing.T) {
	rt := oneRoute(t, 80, "{headers: {request: {set: {x-a: v, x-b: w}, remove: [x-c]}}, route: [{destination: {host: a}}]}")
	ops := rt.Forward.Dests[0].RequestHeaders
	h := http.Header{"X-A": {"old"}, "X-B": {"old"}, "X-C": {"gone"}, "Accept": {"*/*"}}
	if n := testing.AllocsPerRun(1000, func() { ops.Apply(h, nil) }); n != 0 {
		t.Errorf("Apply of literal operations allocates %v times, want 0", n)
	}
}

func TestHeaderErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "unknown formatter", spec: "{headers: {request: {set: {x-a: '%NOPE%'}}}" + dst, want: "unknown or unsupported formatter %NOPE%"},
		{name: "single percent", spec: "{headers: {request: {set: {x-a: '50%'}}}" + dst, want: "single % not allowed"},
		{name: "START_TIME format", spec: "{headers: {request: {set: {x-a: '%START_TIME(%Q)%'}}}" + dst, want: "unsupported specifier %Q"},
		{name: "argument to a variable", spec: "{headers: {request: {set: {x-a: '%HOSTNAME(x)%'}}}" + dst, want: "takes no argument"},
		{name: "header of a response", spec: "{headers: {request: {set: {x-a: '%RESP(x-b)%'}}}" + dst, want: "unknown or unsupported formatter %RESP%"},
		{name: "malformed REQ", spec: "{headers: {request: {set: {x-a: '%REQ()%'}}}" + dst, want: "malformed formatter"},
		{name: "CRLF value", spec: "{headers: {request: {set: {x-a: \"a\\r\\nx-b: c\"}}}" + dst, want: "control character"},
		{name: "NUL value", spec: "{headers: {response: {add: {x-a: \"a\\0b\"}}}" + dst, want: "control character"},
		{name: "remove host", spec: "{headers: {request: {remove: [Host]}}" + dst, want: `header "Host" cannot be modified`},
		{name: "remove pseudo", spec: "{headers: {request: {remove: [':path']}}" + dst, want: "cannot be modified"},
		{name: "set pseudo", spec: "{headers: {request: {set: {':method': POST}}}" + dst, want: "cannot be modified"},
		{name: "response host", spec: "{headers: {response: {set: {host: x}}}" + dst, want: "cannot be modified"},
		{name: "framing", spec: "{headers: {request: {set: {transfer-encoding: chunked}}}" + dst, want: "framing"},
		{name: "bad name", spec: "{headers: {request: {set: {'x a': b}}}" + dst, want: "invalid header name"},
		{name: "case duplicate", spec: "{headers: {request: {set: {x-a: b, X-A: c}}}" + dst, want: "also written as"},
		{name: "authority set and add", spec: "{headers: {request: {set: {host: a}, add: {':authority': b}}}" + dst, want: "authority header cannot be set multiple times"},
		{name: "destination headers", spec: "{route: [{destination: {host: a}, headers: {request: {remove: [host]}}}]}", want: "route[0].headers.request.remove[0]"},
		{name: "empty value warns", spec: "{headers: {request: {set: {x-a: ''}}}" + dst, want: "empty value", warning: true},
	})
}
