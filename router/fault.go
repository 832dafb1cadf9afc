package router

import (
	"fmt"
	"time"
)

// FaultAbortBody is the body of an injected abort (Envoy's local reply).
const FaultAbortBody = "fault filter abort"

// grpcCodes are the gRPC status names Istio accepts in abort.grpcStatus.
var grpcCodes = map[string]int{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// Fault is a compiled HTTPFaultInjection. It is immutable. Delay and abort
// are drawn independently; Envoy delays first and then decides the abort.
type Fault struct {
	// DelayDuration is the fixed delay, 0 when the fault has none.
	DelayDuration time.Duration
	// DelayPPM and AbortPPM are the shares of requests affected, in parts
	// per million; 0 (also when the percentage is absent) means never.
	DelayPPM uint32
	AbortPPM uint32
	// AbortHTTP is the abort status, 0 when the abort is a gRPC status or
	// the fault has no abort.
	AbortHTTP int
	// AbortGRPC is the gRPC abort status, -1 when none.
	AbortGRPC int
}

func (c *compiler) fault(path string, f *HTTPFaultInjection) *Fault {
	out := &Fault{AbortGRPC: -1}
	if f.Delay == nil && f.Abort == nil {
		c.errf(path, "HTTP fault injection must have an abort and/or a delay")
	}
	if d := f.Delay; d != nil {
		c.faultDelay(path+".delay", d, out)
	}
	if a := f.Abort; a != nil {
		c.faultAbort(path+".abort", a, out)
	}
	return out
}

func (c *compiler) faultDelay(path string, d *FaultDelay, out *Fault) {
	switch {
	case d.Percentage != nil:
		out.DelayPPM = c.percent(path+".percentage", d.Percentage)
	case d.Percent != nil:
		c.warnf(path+".percent", `using deprecated setting "percent", use "percentage" instead`)
		if *d.Percent < 0 || *d.Percent > 100 {
			c.errf(path+".percent", "percentage %d is not in range 0..100", *d.Percent)
		} else {
			out.DelayPPM = uint32(*d.Percent) * 10000
		}
	}
	switch {
	case d.ExponentialDelay != nil:
		c.errf(path+".exponentialDelay", "exponentialDelay not supported yet")
	case d.FixedDelay == nil:
		c.warnf(path, "delay without fixedDelay does nothing")
	default:
		out.DelayDuration = c.duration(path+".fixedDelay", *d.FixedDelay)
	}
}

func (c *compiler) faultAbort(path string, a *FaultAbort, out *Fault) {
	if a.Percentage != nil {
		out.AbortPPM = c.percent(path+".percentage", a.Percentage)
	}
	n := 0
	for _, set := range []bool{a.HTTPStatus != nil, a.GRPCStatus != nil, a.HTTP2Error != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		c.errf(path, "only one of httpStatus, grpcStatus or http2Error may be set")
	case a.HTTP2Error != nil:
		c.errf(path+".http2Error", "HTTP/2 abort fault injection not supported yet")
	case a.HTTPStatus != nil:
		if s := *a.HTTPStatus; s < 200 || s > 600 {
			c.errf(path+".httpStatus", "HTTP status %d is not in range 200-600", s)
		}
		out.AbortHTTP = int(*a.HTTPStatus)
	case a.GRPCStatus != nil:
		code, ok := grpcCodes[*a.GRPCStatus]
		if !ok {
			c.errf(path+".grpcStatus", "unknown gRPC status %q (want a name such as UNAVAILABLE)", *a.GRPCStatus)
		}
		out.AbortGRPC = code
	default:
		c.warnf(path, "abort configured, but error type not set; it does nothing")
		out.AbortPPM = 0
	}
}

// Delay returns how long to hold the request before anything else, 0 for
// no delay; rnd must be uniformly random (injected when rnd % 1e6 <
// DelayPPM). A nil Fault never delays.
func (f *Fault) Delay(rnd uint64) time.Duration {
	if f == nil || f.DelayDuration == 0 || !sample(f.DelayPPM, rnd) {
		return 0
	}
	return f.DelayDuration
}

// Abort decides the abort, drawn with its own random rnd after any delay.
// ok reports an abort: answer httpStatus with body FaultAbortBody. For a
// grpcStatus abort, httpStatus is 200 and grpcStatus the code to send as a
// trailers-only gRPC reply (Envoy's sendLocalReply); otherwise grpcStatus
// is -1 and a gRPC request gets the status mapped from httpStatus. A nil
// Fault never aborts.
func (f *Fault) Abort(rnd uint64) (httpStatus int, grpcStatus int, ok bool) {
	if f == nil || (f.AbortHTTP == 0 && f.AbortGRPC < 0) || !sample(f.AbortPPM, rnd) {
		return 0, -1, false
	}
	if f.AbortHTTP != 0 {
		return f.AbortHTTP, -1, true
	}
	return 200, f.AbortGRPC, true
}

// String describes the fault for config dumps.
func (f *Fault) String() string {
	s := ""
	if f.DelayDuration > 0 {
		s = fmt.Sprintf("delay %v at %.4f%%", f.DelayDuration, float64(f.DelayPPM)/10000)
	}
	if f.AbortHTTP != 0 || f.AbortGRPC >= 0 {
		if s != "" {
			s += ", "
		}
		code := fmt.Sprintf("http %d", f.AbortHTTP)
		if f.AbortHTTP == 0 {
			code = fmt.Sprintf("grpc %d", f.AbortGRPC)
		}
		s += fmt.Sprintf("abort %s at %.4f%%", code, float64(f.AbortPPM)/10000)
	}
	return s
}
