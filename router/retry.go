package router

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RetryOn is a set of Envoy retry conditions (x-envoy-retry-on and
// x-envoy-retry-grpc-on names).
type RetryOn uint32

// The retry conditions Istio accepts in retryOn.
const (
	Retry5xx                     RetryOn = 1 << iota // any 5xx, or no response (reset, timeout)
	RetryGatewayError                                // 502, 503, 504, or no response
	RetryReset                                       // no response: disconnect, reset, per-try timeout
	RetryResetBeforeRequest                          // reset before the request was sent
	RetryConnectFailure                              // connection failure or connect timeout
	RetryRetriable4xx                                // 409
	RetryRefusedStream                               // HTTP/2 REFUSED_STREAM
	RetryRetriableStatusCodes                        // a code in RetryPolicy.StatusCodes
	RetryRetriableHeaders                            // response headers (not configurable in Istio)
	RetryEnvoyRateLimited                            // response carries x-envoy-ratelimited
	RetryHTTP3PostConnectFailure                     // HTTP/3 only: never at gatehouse
	RetryGRPCCancelled                               // grpc-status 1
	RetryGRPCDeadlineExceeded                        // grpc-status 4
	RetryGRPCResourceExhausted                       // grpc-status 8
	RetryGRPCInternal                                // grpc-status 13
	RetryGRPCUnavailable                             // grpc-status 14
)

var retryOnNames = []string{
	"5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx",
	"refused-stream", "retriable-status-codes", "retriable-headers", "envoy-ratelimited",
	"http3-post-connect-failure", "cancelled", "deadline-exceeded", "resource-exhausted",
	"internal", "unavailable",
}

// ParseRetryOn parses one condition name.
func ParseRetryOn(name string) (RetryOn, bool) {
	i := slices.Index(retryOnNames, name)
	if i < 0 {
		return 0, false
	}
	return 1 << i, true
}

// String lists the conditions comma-separated, in a fixed order.
func (o RetryOn) String() string {
	var names []string
	for i, n := range retryOnNames {
		if o&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// Retry defaults of Istio and Envoy.
const (
	DefaultRetryAttempts     = 2
	DefaultRetryOn           = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
	DefaultRetryBackoff      = 25 * time.Millisecond
	HostSelectionMaxAttempts = 5
)

// RetryPolicy is a compiled HTTPRetry. It is immutable. Predicates on a nil
// policy report false: nothing is retried.
type RetryPolicy struct {
	// Attempts is the number of retries after the first try (Envoy
	// num_retries): 2 means up to 3 tries.
	Attempts int
	// PerTryTimeout bounds each try; 0 means only the route timeout.
	PerTryTimeout time.Duration
	// On is the set of conditions that trigger a retry.
	On RetryOn
	// StatusCodes are the codes retried under retriable-status-codes.
	StatusCodes []int
	// BackoffBase and BackoffMax bound the jittered exponential backoff.
	BackoffBase, BackoffMax time.Duration
	// RetryRemoteLocalities prefers other localities on retries.
	RetryRemoteLocalities bool
	// IgnorePreviousHosts avoids hosts already tried, picking up to
	// HostSelectionMaxAttempts times. Istio drops this predicate when the
	// DestinationRule uses consistent hashing; the gateway decides that.
	IgnorePreviousHosts bool
}

var defaultRetry = &RetryPolicy{
	Attempts: DefaultRetryAttempts, On: mustRetryOn(DefaultRetryOn),
	BackoffBase: DefaultRetryBackoff, BackoffMax: 10 * DefaultRetryBackoff, IgnorePreviousHosts: true,
}

// DefaultRetryPolicy returns Istio's policy for a route without retries:
// 2 retries on connect-failure, refused-stream, gRPC unavailable and
// cancelled, and retriable-status-codes with no codes (503 is excluded, as
// EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY does by default). The result is
// shared and must not be modified.
func DefaultRetryPolicy() *RetryPolicy { return defaultRetry }

func mustRetryOn(s string) RetryOn {
	var o RetryOn
	for _, n := range strings.Split(s, ",") {
		v, _ := ParseRetryOn(n)
		o |= v
	}
	return o
}

func (c *compiler) retry(path string, r *HTTPRetry) *RetryPolicy {
	if r == nil {
		return defaultRetry
	}
	attempts := 0
	if r.Attempts != nil {
		attempts = int(*r.Attempts)
	}
	if attempts < 0 {
		c.errf(path+".attempts", "attempts cannot be negative")
	}
	if attempts == 0 && (r.PerTryTimeout != nil || (r.RetryOn != nil && *r.RetryOn != "") || r.RetryRemoteLocalities != nil) {
		c.errf(path, "http retry policy configured when attempts are set to 0 (disabled)")
	}
	p := *defaultRetry
	p.Attempts = attempts
	if r.PerTryTimeout != nil {
		p.PerTryTimeout = c.duration(path+".perTryTimeout", *r.PerTryTimeout)
	}
	if r.Backoff != nil {
		p.BackoffBase = c.duration(path+".backoff", *r.Backoff).Truncate(time.Millisecond)
		p.BackoffMax = 10 * p.BackoffBase
	}
	if r.RetryOn != nil && *r.RetryOn != "" {
		p.On, p.StatusCodes = c.retryOn(path+".retryOn", *r.RetryOn)
	}
	p.RetryRemoteLocalities = r.RetryRemoteLocalities != nil && *r.RetryRemoteLocalities
	if r.RetryIgnorePreviousHosts != nil {
		p.IgnorePreviousHosts = *r.RetryIgnorePreviousHosts
	}
	if attempts <= 0 {
		return nil
	}
	return &p
}

// retryOn parses a retryOn list as Istio validates and translates it: each
// comma-separated item is a condition name or an HTTP status code; codes
// imply retriable-status-codes.
func (c *compiler) retryOn(path, s string) (RetryOn, []int) {
	var on RetryOn
	var codes []int
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(part); err == nil && http.StatusText(n) != "" {
			if !slices.Contains(codes, n) {
				codes = append(codes, n)
			}
			continue
		}
		v, ok := ParseRetryOn(part)
		if !ok {
			c.errf(path, "%q is not a valid retryOn policy (want one of %s, or an HTTP status code; no spaces)", part, strings.Join(retryOnNames, ", "))
		}
		on |= v
	}
	if len(codes) > 0 {
		on |= RetryRetriableStatusCodes
	}
	slices.Sort(codes)
	return on, codes
}

// String describes the policy for config dumps.
func (p *RetryPolicy) String() string {
	if p == nil {
		return "off"
	}
	s := fmt.Sprintf("attempts=%d on=%s", p.Attempts, p.On)
	if len(p.StatusCodes) > 0 {
		s += fmt.Sprintf(" codes=%v", p.StatusCodes)
	}
	if p.PerTryTimeout > 0 {
		s += " perTryTimeout=" + p.PerTryTimeout.String()
	}
	return s + " backoff=" + p.BackoffBase.String()
}
