package router

import (
	"reflect"
	"testing"
	"time"
)

func TestFaultAbort(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	tests := []struct {
		name, fault        string
		rnd                uint64
		wantHTTP, wantGRPC int
		wantOK             bool
	}{
		{"100 percent", "{abort: {httpStatus: 503, percentage: {value: 100}}}", 999_999, 503, -1, true},
		{"0 percent", "{abort: {httpStatus: 503, percentage: {value: 0}}}", 0, 0, -1, false},
		{"absent percentage never", "{abort: {httpStatus: 503}}", 0, 0, -1, false},
		{"0.0001 percent hits rnd 0", "{abort: {httpStatus: 500, percentage: {value: 0.0001}}}", 0, 500, -1, true},
		{"0.0001 percent misses rnd 1", "{abort: {httpStatus: 500, percentage: {value: 0.0001}}}", 1, 0, -1, false},
		{"0.0001 percent wraps per million", "{abort: {httpStatus: 500, percentage: {value: 0.0001}}}", 3_000_000, 500, -1, true},
		{"50 percent lower half", "{abort: {httpStatus: 418, percentage: {value: 50}}}", 499_999, 418, -1, true},
		{"50 percent upper half", "{abort: {httpStatus: 418, percentage: {value: 50}}}", 500_000, 0, -1, false},
		{"grpc status", "{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}", 7, 200, 14, true},
		{"delay only", "{delay: {fixedDelay: 1s, percentage: {value: 100}}}", 0, 0, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := oneRoute(t, 80, "{fault: "+tc.fault+dst).Action.Fault
			h, g, ok := f.Abort(tc.rnd)
			if h != tc.wantHTTP || g != tc.wantGRPC || ok != tc.wantOK {
				t.Errorf("Abort(%d) = %d, %d, %v; want %d, %d, %v", tc.rnd, h, g, ok, tc.wantHTTP, tc.wantGRPC, tc.wantOK)
			}
		})
	}
}

func TestFaultDelay(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	tests := []struct {
		name, fault string
		rnd         uint64
		want        time.Duration
	}{
		{"100 percent", "{delay: {fixedDelay: 5s, percentage: {value: 100}}}", 123, 5 * time.Second},
		{"absent percentage never", "{delay: {fixedDelay: 5s}}", 0, 0},
		{"0 percent", "{delay: {fixedDelay: 5s, percentage: {value: 0}}}", 0, 0},
		{"0.0001 percent", "{delay: {fixedDelay: 7ms, percentage: {value: 0.0001}}}", 0, 7 * time.Millisecond},
		{"0.0001 percent miss", "{delay: {fixedDelay: 7ms, percentage: {value: 0.0001}}}", 1, 0},
		{"deprecated percent", "{delay: {fixedDelay: 1s, percent: 30}}", 299_999, time.Second},
		{"deprecated percent miss", "{delay: {fixedDelay: 1s, percent: 30}}", 300_000, 0},
		{"percentage wins over percent", "{delay: {fixedDelay: 1s, percentage: {value: 0}, percent: 100}}", 0, 0},
		{"abort only", "{abort: {httpStatus: 500, percentage: {value: 100}}}", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := oneRoute(t, 80, "{fault: "+tc.fault+dst).Action.Fault
			if got := f.Delay(tc.rnd); got != tc.want {
				t.Errorf("Delay(%d) = %v, want %v", tc.rnd, got, tc.want)
			}
		})
	}
	var none *Fault
	if d := none.Delay(0); d != 0 {
		t.Errorf("nil fault delays %v", d)
	}
	if _, _, ok := none.Abort(0); ok {
		t.Error("nil fault aborts")
	}
}

func TestFaultErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "empty", spec: "{fault: {}" + dst, want: "must have an abort and/or a delay"},
		{name: "exponential", spec: "{fault: {delay: {exponentialDelay: 1s}}" + dst, want: "exponentialDelay not supported"},
		{name: "http2Error", spec: "{fault: {abort: {http2Error: CANCEL}}" + dst, want: "HTTP/2 abort fault injection not supported"},
		{name: "status low", spec: "{fault: {abort: {httpStatus: 199}}" + dst, want: "not in range 200-600"},
		{name: "status high", spec: "{fault: {abort: {httpStatus: 601}}" + dst, want: "not in range 200-600"},
		{name: "percentage over 100", spec: "{fault: {abort: {httpStatus: 500, percentage: {value: 101}}}" + dst, want: "neither 0 nor in range"},
		{name: "percentage too small", spec: "{fault: {abort: {httpStatus: 500, percentage: {value: 0.00001}}}" + dst, want: "neither 0 nor in range"},
		{name: "percent over 100", spec: "{fault: {delay: {fixedDelay: 1s, percent: 101}}" + dst, want: "not in range 0..100"},
		{name: "unknown grpc", spec: "{fault: {abort: {grpcStatus: NOPE}}" + dst, want: "unknown gRPC status"},
		{name: "two statuses", spec: "{fault: {abort: {httpStatus: 500, grpcStatus: INTERNAL}}" + dst, want: "only one of httpStatus"},
		{name: "sub-millisecond delay", spec: "{fault: {delay: {fixedDelay: 0.5ms}}" + dst, want: "below the 1ms minimum"},
		{name: "abort without type", spec: "{fault: {abort: {percentage: {value: 1}}}" + dst, want: "error type not set", warning: true},
		{name: "deprecated percent", spec: "{fault: {delay: {fixedDelay: 1s, percent: 1}}" + dst, want: "deprecated", warning: true},
	})
}

func TestMirrors(t *testing.T) {
	dst := "route: [{destination: {host: a}}]"
	tests := []struct {
		name, route string
		want        []Mirror
	}{
		{"absent percentage is 100%", "{mirror: {host: b}, " + dst + "}",
			[]Mirror{{Dest: Dest{Upstream: 2, Host: "b"}, PPM: 1_000_000}}},
		{"explicit zero mirrors nothing", "{mirror: {host: b}, mirrorPercentage: {value: 0}, " + dst + "}", nil},
		{"fractional", "{mirror: {host: b, subset: v2, port: {number: 8080}}, mirrorPercentage: {value: 12.5}, " + dst + "}",
			[]Mirror{{Dest: Dest{Upstream: 5, Host: "b", Subset: "v2", Port: 8080}, PPM: 125_000}}},
		{"deprecated mirrorPercent", "{mirror: {host: c}, mirrorPercent: 30, " + dst + "}",
			[]Mirror{{Dest: Dest{Upstream: 3, Host: "c"}, PPM: 300_000}}},
		{"deprecated mirrorPercent zero", "{mirror: {host: c}, mirrorPercent: 0, " + dst + "}", nil},
		{"mirrors list", "{mirrors: [{destination: {host: b}}, {destination: {host: c}, percentage: {value: 1}}, {destination: {host: d}, percentage: {value: 0}}], " + dst + "}",
			[]Mirror{{Dest: Dest{Upstream: 2, Host: "b"}, PPM: 1_000_000}, {Dest: Dest{Upstream: 3, Host: "c"}, PPM: 10_000}}},
		{"not on a redirect", "{mirror: {host: b}, redirect: {uri: /x}}", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := oneRoute(t, 80, tc.route).Mirrors
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Mirrors = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMirrorSample(t *testing.T) {
	tests := []struct {
		name string
		ppm  uint32
		rnd  uint64
		want bool
	}{
		{"always", 1_000_000, 999_999, true},
		{"never", 0, 0, false},
		{"one in a million hit", 1, 0, true},
		{"one in a million miss", 1, 999_999, false},
		{"half hit", 500_000, 1_499_999, true},
		{"half miss", 500_000, 1_500_000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Mirror{PPM: tc.ppm}
			if got := m.Sample(tc.rnd); got != tc.want {
				t.Errorf("Sample(%d) with %d ppm = %v, want %v", tc.rnd, tc.ppm, got, tc.want)
			}
		})
	}
}

func TestMirrorErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "mirror and mirrors", spec: "{mirror: {host: b}, mirrors: [{destination: {host: c}}]" + dst, want: "both mirror and mirrors"},
		{name: "mirrors with mirrorPercentage", spec: "{mirrorPercentage: {value: 5}, mirrors: [{destination: {host: c}}]" + dst, want: "set mirrors[].percentage instead"},
		{name: "wildcard host", spec: "{mirror: {host: '*'}" + dst, want: "mirror.host: a destination host cannot be a wildcard"},
		{name: "missing host", spec: "{mirrors: [{destination: {}}]" + dst, want: "mirrors[0].destination.host: required"},
		{name: "percentage range", spec: "{mirror: {host: b}, mirrorPercentage: {value: 150}" + dst, want: "neither 0 nor in range"},
		{name: "mirrorPercent range", spec: "{mirror: {host: b}, mirrorPercent: 101" + dst, want: "max value of 100"},
		{name: "deprecated", spec: "{mirror: {host: b}, mirrorPercent: 10" + dst, want: "deprecated", warning: true},
		{name: "percentage without mirror", spec: "{mirrorPercentage: {value: 10}" + dst, want: "without mirror has no effect", warning: true},
	})
}
