package router

import (
	"net/http"
	"time"
)

// The gRPC status codes the retry conditions name.
const (
	grpcCancelled         = 1
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcInternal          = 13
	grpcUnavailable       = 14
)

func (p *RetryPolicy) has(o RetryOn) bool { return p != nil && p.Attempts > 0 && p.On&o != 0 }

// RetryStatus reports whether a response with this status code, and this
// grpc-status response header value ("" when absent; only a grpc-status in
// the headers counts, as in Envoy), is retried (Envoy
// RetryStateImpl::wouldRetryFromHeaders). Codes a client supplies with
// x-envoy-retriable-status-codes are not honoured: the gateway strips that
// header from untrusted clients.
func (p *RetryPolicy) RetryStatus(code int, grpcStatus string) bool {
	switch {
	case p == nil || p.Attempts <= 0:
		return false
	case p.has(Retry5xx) && code >= 500 && code <= 599,
		p.has(RetryGatewayError) && code >= 502 && code <= 504,
		p.has(RetryRetriable4xx) && code == http.StatusConflict,
		p.has(RetryRetriableStatusCodes) && containsInt(p.StatusCodes, code):
		return true
	}
	return p.retryGRPC(grpcStatus)
}

func (p *RetryPolicy) retryGRPC(s string) bool {
	if s == "" || len(s) > 2 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	switch n {
	case grpcCancelled:
		return p.has(RetryGRPCCancelled)
	case grpcDeadlineExceeded:
		return p.has(RetryGRPCDeadlineExceeded)
	case grpcResourceExhausted:
		return p.has(RetryGRPCResourceExhausted)
	case grpcInternal:
		return p.has(RetryGRPCInternal)
	case grpcUnavailable:
		return p.has(RetryGRPCUnavailable)
	}
	return false
}

// RetryResponse is RetryStatus for a response header set: a response
// marked x-envoy-overloaded is never retried, one marked
// x-envoy-ratelimited only under envoy-ratelimited, others by status and
// grpc-status. It allocates nothing.
func (p *RetryPolicy) RetryResponse(code int, h http.Header) bool {
	if v := h["X-Envoy-Overloaded"]; len(v) > 0 && v[0] == "true" {
		return false
	}
	if _, ok := h["X-Envoy-Ratelimited"]; ok {
		return p.has(RetryEnvoyRateLimited)
	}
	var grpc string
	if v := h["Grpc-Status"]; len(v) > 0 {
		grpc = v[0]
	}
	return p.RetryStatus(code, grpc)
}

// RetryConnectFailure reports whether a failure to connect (refused,
// connect timeout, TLS handshake failure) is retried.
func (p *RetryPolicy) RetryConnectFailure() bool {
	return p.has(RetryConnectFailure | Retry5xx | RetryGatewayError | RetryReset | RetryResetBeforeRequest)
}

// RetryReset reports whether a reset or disconnect before a complete
// response header is retried; sent says whether any of the request had
// been written upstream.
func (p *RetryPolicy) RetryReset(sent bool) bool {
	return p.has(Retry5xx|RetryGatewayError|RetryReset) || !sent && p.has(RetryResetBeforeRequest)
}

// RetryRefusedStream reports whether an HTTP/2 REFUSED_STREAM reset is
// retried.
func (p *RetryPolicy) RetryRefusedStream() bool {
	return p.has(RetryRefusedStream) || p.RetryReset(false)
}

// RetryPerTryTimeout reports whether a try that hit PerTryTimeout is
// retried (Envoy treats it as a reset with a 504).
func (p *RetryPolicy) RetryPerTryTimeout() bool {
	return p.has(Retry5xx | RetryGatewayError | RetryReset)
}

// Backoff returns the wait before retry number attempt (1 for the first
// retry) given a uniformly random rnd, as Envoy's
// JitteredExponentialBackOffStrategy: uniform in [0, interval) whole
// milliseconds, where the interval starts at BackoffBase and doubles each
// retry up to BackoffMax (10 × base by default): 25, 50, 100, 200, 250 ms.
func (p *RetryPolicy) Backoff(attempt int, rnd uint64) time.Duration {
	if p == nil || attempt < 1 {
		return 0
	}
	base, limit := uint64(p.BackoffBase/time.Millisecond), uint64(p.BackoffMax/time.Millisecond)
	if base == 0 {
		base = 1
	}
	limit = max(limit, base)
	interval := base
	for i := 1; i < attempt && interval < limit; i++ {
		if interval < limit/2 {
			interval *= 2
		} else {
			interval = limit
		}
	}
	return time.Duration(rnd%interval) * time.Millisecond
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
