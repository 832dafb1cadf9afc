package router

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestRetryOnNames(t *testing.T) {
	for i, name := range retryOnNames {
		t.Run(name, func(t *testing.T) {
			rt := oneRoute(t, 80, "{retries: {attempts: 1, retryOn: "+name+"}, route: [{destination: {host: a}}]}")
			p := rt.Action.Retry
			if p == nil || p.On != RetryOn(1)<<i {
				t.Fatalf("retryOn %q compiled to %v", name, p)
			}
			if p.On.String() != name {
				t.Errorf("String() = %q, want %q", p.On.String(), name)
			}
		})
	}
}

func TestRetryPolicyCompile(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	tests := []struct {
		name, route string
		want        *RetryPolicy
	}{
		{"absent is Istio's default", "{route: [{destination: {host: a}}]}", DefaultRetryPolicy()},
		{"attempts 0 disables", "{retries: {attempts: 0}" + dst, nil},
		{"attempts only keeps default conditions", "{retries: {attempts: 5}" + dst, &RetryPolicy{
			Attempts: 5, On: RetryConnectFailure | RetryRefusedStream | RetryGRPCUnavailable | RetryGRPCCancelled | RetryRetriableStatusCodes,
			BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond, IgnorePreviousHosts: true}},
		{"codes move to status codes", "{retries: {attempts: 3, retryOn: 'gateway-error,503,429,503', perTryTimeout: 2s}" + dst, &RetryPolicy{
			Attempts: 3, On: RetryGatewayError | RetryRetriableStatusCodes, StatusCodes: []int{429, 503}, PerTryTimeout: 2 * time.Second,
			BackoffBase: 25 * time.Millisecond, BackoffMax: 250 * time.Millisecond, IgnorePreviousHosts: true}},
		{"backoff and hosts", "{retries: {attempts: 1, retryOn: reset, backoff: 100ms, retryRemoteLocalities: true, retryIgnorePreviousHosts: false}" + dst, &RetryPolicy{
			Attempts: 1, On: RetryReset, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second, RetryRemoteLocalities: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := oneRoute(t, 80, tc.route).Action.Retry
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("policy = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultRetryPolicy(t *testing.T) {
	p := DefaultRetryPolicy()
	if p.Attempts != 2 || p.On.String() != "connect-failure,refused-stream,retriable-status-codes,cancelled,unavailable" || len(p.StatusCodes) != 0 {
		t.Errorf("default policy = %+v (%s)", p, p.On)
	}
	if redirect := oneRoute(t, 80, "{redirect: {uri: /x}}"); redirect.Action.Retry != nil {
		t.Errorf("a redirect has a retry policy %v", redirect.Action.Retry)
	}
}

func TestRetryPredicates(t *testing.T) {
	def := DefaultRetryPolicy()
	p := func(on RetryOn, codes ...int) *RetryPolicy {
		return &RetryPolicy{Attempts: 1, On: on, StatusCodes: codes, BackoffBase: DefaultRetryBackoff, BackoffMax: 10 * DefaultRetryBackoff}
	}
	tests := []struct {
		name   string
		policy *RetryPolicy
		check  func(*RetryPolicy) bool
		want   bool
	}{
		{"default 503 not retried", def, func(p *RetryPolicy) bool { return p.RetryStatus(503, "") }, false},
		{"default grpc unavailable", def, func(p *RetryPolicy) bool { return p.RetryStatus(200, "14") }, true},
		{"default grpc cancelled", def, func(p *RetryPolicy) bool { return p.RetryStatus(200, "1") }, true},
		{"default grpc deadline", def, func(p *RetryPolicy) bool { return p.RetryStatus(200, "4") }, false},
		{"default connect failure", def, (*RetryPolicy).RetryConnectFailure, true},
		{"default refused stream", def, (*RetryPolicy).RetryRefusedStream, true},
		{"default reset", def, func(p *RetryPolicy) bool { return p.RetryReset(true) }, false},
		{"default per-try timeout", def, (*RetryPolicy).RetryPerTryTimeout, false},
		{"5xx 500", p(Retry5xx), func(p *RetryPolicy) bool { return p.RetryStatus(500, "") }, true},
		{"5xx 499", p(Retry5xx), func(p *RetryPolicy) bool { return p.RetryStatus(499, "") }, false},
		{"5xx reset", p(Retry5xx), func(p *RetryPolicy) bool { return p.RetryReset(true) }, true},
		{"5xx connect", p(Retry5xx), (*RetryPolicy).RetryConnectFailure, true},
		{"gateway-error 504", p(RetryGatewayError), func(p *RetryPolicy) bool { return p.RetryStatus(504, "") }, true},
		{"gateway-error 500", p(RetryGatewayError), func(p *RetryPolicy) bool { return p.RetryStatus(500, "") }, false},
		{"retriable-4xx 409", p(RetryRetriable4xx), func(p *RetryPolicy) bool { return p.RetryStatus(409, "") }, true},
		{"retriable-4xx 404", p(RetryRetriable4xx), func(p *RetryPolicy) bool { return p.RetryStatus(404, "") }, false},
		{"status codes", p(RetryRetriableStatusCodes, 429), func(p *RetryPolicy) bool { return p.RetryStatus(429, "") }, true},
		{"reset-before-request unsent", p(RetryResetBeforeRequest), func(p *RetryPolicy) bool { return p.RetryReset(false) }, true},
		{"reset-before-request sent", p(RetryResetBeforeRequest), func(p *RetryPolicy) bool { return p.RetryReset(true) }, false},
		{"reset per-try timeout", p(RetryReset), (*RetryPolicy).RetryPerTryTimeout, true},
		{"internal", p(RetryGRPCInternal), func(p *RetryPolicy) bool { return p.RetryStatus(200, "13") }, true},
		{"resource-exhausted", p(RetryGRPCResourceExhausted), func(p *RetryPolicy) bool { return p.RetryStatus(200, "8") }, true},
		{"bad grpc status", p(RetryGRPCInternal), func(p *RetryPolicy) bool { return p.RetryStatus(200, "1x") }, false},
		{"ratelimited header only with envoy-ratelimited", p(Retry5xx), func(p *RetryPolicy) bool {
			return p.RetryResponse(503, http.Header{"X-Envoy-Ratelimited": {"true"}})
		}, false},
		{"envoy-ratelimited", p(RetryEnvoyRateLimited), func(p *RetryPolicy) bool {
			return p.RetryResponse(429, http.Header{"X-Envoy-Ratelimited": {"true"}})
		}, true},
		{"overloaded never", p(Retry5xx), func(p *RetryPolicy) bool {
			return p.RetryResponse(503, http.Header{"X-Envoy-Overloaded": {"true"}})
		}, false},
		{"response grpc-status header", def, func(p *RetryPolicy) bool {
			return p.RetryResponse(200, http.Header{"Grpc-Status": {"14"}})
		}, true},
		{"nil policy", nil, (*RetryPolicy).RetryConnectFailure, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.check(tc.policy); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryBackoff(t *testing.T) {
	def := DefaultRetryPolicy()
	slow := &RetryPolicy{Attempts: 1, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}
	tests := []struct {
		name    string
		p       *RetryPolicy
		attempt int
		rnd     uint64
		want    time.Duration
	}{
		{"first retry below 25ms", def, 1, 24, 24 * time.Millisecond},
		{"first retry wraps", def, 1, 25, 0},
		{"second retry below 50ms", def, 2, 49, 49 * time.Millisecond},
		{"third retry below 100ms", def, 3, 199, 99 * time.Millisecond},
		{"fourth retry below 200ms", def, 4, 199, 199 * time.Millisecond},
		{"fifth retry capped at 250ms", def, 5, 249, 249 * time.Millisecond},
		{"tenth retry capped", def, 10, 1_000_249, 249 * time.Millisecond},
		{"custom base", slow, 1, 150, 50 * time.Millisecond},
		{"custom cap", slow, 9, 999, 999 * time.Millisecond},
		{"nil policy", nil, 1, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Backoff(tc.attempt, tc.rnd); got != tc.want {
				t.Errorf("Backoff(%d, %d) = %v, want %v", tc.attempt, tc.rnd, got, tc.want)
			}
		})
	}
}

func TestRetryErrors(t *testing.T) {
	dst := ", route: [{destination: {host: a}}]}"
	runCompileCases(t, []compileCase{
		{name: "negative", spec: "{retries: {attempts: -1}" + dst, want: "attempts cannot be negative"},
		{name: "zero with perTryTimeout", spec: "{retries: {perTryTimeout: 2s}" + dst, want: "attempts are set to 0"},
		{name: "zero with retryOn", spec: "{retries: {attempts: 0, retryOn: 5xx}" + dst, want: "attempts are set to 0"},
		{name: "unknown name", spec: "{retries: {attempts: 1, retryOn: 'bogus'}" + dst, want: `"bogus" is not a valid retryOn policy`},
		{name: "space", spec: "{retries: {attempts: 1, retryOn: '5xx, reset'}" + dst, want: `" reset" is not a valid retryOn policy`},
		{name: "unknown code", spec: "{retries: {attempts: 1, retryOn: '599'}" + dst, want: `"599" is not a valid`},
		{name: "perTryTimeout below 1ms", spec: "{retries: {attempts: 1, perTryTimeout: 0.5ms}" + dst, want: "below the 1ms minimum"},
		{name: "backoff precision", spec: "{retries: {attempts: 1, backoff: 1500us}" + dst, want: "whole number of milliseconds"},
	})
}
