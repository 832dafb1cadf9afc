package legacy

import (
	"errors"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// rrRetryOn is the retry policy Pilot 0.x always gave RouteRule retries.
const rrRetryOn = "5xx,connect-failure,refused-stream"

// rrPolicies translates timeout, retries, fault, CORS and appendHeaders,
// and warns about what has no gateway equivalent.
func (t *legacyTranslator) rrPolicies(rr *routeRule) {
	spec, r, ps := rr.spec, rr.res, t.ps
	if to := spec.HTTPReqTimeout; to != nil {
		switch st := to.SimpleTimeout; {
		case to.Custom != nil:
			ps.Warnf(r, "spec.httpReqTimeout.custom", "ignored: custom timeout policies were never implemented")
		case st == nil || st.Timeout == nil:
			ps.Warnf(r, "spec.httpReqTimeout", "ignored: no simpleTimeout.timeout")
		case st.Timeout.D() == 0:
			ps.Warnf(r, "spec.httpReqTimeout.simpleTimeout.timeout", "ignored: a zero timeout meant no timeout")
		default:
			rr.route.Timeout = st.Timeout
		}
		if st := to.SimpleTimeout; st != nil && st.OverrideHeaderName != "" {
			ps.Warnf(r, "spec.httpReqTimeout.simpleTimeout.overrideHeaderName", "ignored: it was never implemented")
		}
	}
	if rt := spec.HTTPReqRetries; rt != nil {
		t.rrRetries(rr, rt)
	}
	if f := spec.HTTPFault; f != nil {
		rr.route.Fault = t.rrFault(r, f)
	}
	if spec.L4Fault != nil {
		ps.Warnf(r, "spec.l4Fault", "ignored: L4 faults apply to TCP traffic (and were never implemented)")
	}
	if c := spec.CorsPolicy; c != nil {
		cp := &router.CorsPolicy{AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders, ExposeHeaders: c.ExposeHeaders,
			MaxAge: c.MaxAge, AllowCredentials: c.AllowCredentials}
		for _, o := range c.AllowOrigin {
			cp.AllowOrigins = append(cp.AllowOrigins, &router.StringMatch{Exact: legacyStr(o)})
		}
		rr.route.CorsPolicy = cp
	}
	if len(spec.AppendHeaders) > 0 {
		rr.route.Headers = &router.Headers{Request: &router.HeaderOperations{Add: spec.AppendHeaders}}
	}
}

// rrRetries translates simpleRetry as Pilot 0.x did: attempts > 0 retry
// on "5xx,connect-failure,refused-stream"; attempts 0 means no retries.
func (t *legacyTranslator) rrRetries(rr *routeRule, rt *RouteRuleRetry) {
	r, ps := rr.res, t.ps
	sr := rt.SimpleRetry
	if rt.Custom != nil {
		ps.Warnf(r, "spec.httpReqRetries.custom", "ignored: custom retry policies were never implemented")
	}
	if sr == nil {
		return
	}
	p := "spec.httpReqRetries.simpleRetry"
	if sr.OverrideHeaderName != "" {
		ps.Warnf(r, p+".overrideHeaderName", "ignored: it was never implemented")
	}
	switch {
	case sr.Attempts < 0:
		ps.Errf(r, p+".attempts", "attempts cannot be negative")
	case sr.Attempts == 0:
		if sr.PerTryTimeout != nil {
			ps.Warnf(r, p+".perTryTimeout", "ignored: attempts is 0, so requests are not retried")
		}
		rr.route.Retries = &router.HTTPRetry{Attempts: new(int32)}
	default:
		rr.route.Retries = &router.HTTPRetry{Attempts: &sr.Attempts, PerTryTimeout: sr.PerTryTimeout, RetryOn: legacyStr(rrRetryOn)}
	}
}

// rrFault translates httpFault as Pilot 0.x applied it (fault.go): a delay
// or abort with percent 0 (or unset) injected nothing, despite the proto
// comment saying "all requests"; only fixed delays and HTTP status aborts
// were implemented. percent becomes percentage.value.
func (t *legacyTranslator) rrFault(r *config.Resource, f *RouteRuleFault) *router.HTTPFaultInjection {
	ps := t.ps
	out := &router.HTTPFaultInjection{}
	if d := f.Delay; d != nil {
		p := "spec.httpFault.delay"
		if d.OverrideHeaderName != "" {
			ps.Warnf(r, p+".overrideHeaderName", "ignored: it was never implemented")
		}
		switch {
		case d.Percent < 0 || d.Percent > 100:
			ps.Errf(r, p+".percent", "percent %v is not in range 0-100", d.Percent)
		case d.FixedDelay == nil && d.ExponentialDelay != nil:
			ps.Warnf(r, p+".exponentialDelay", "delay skipped: exponential delays were never implemented")
		case d.FixedDelay == nil:
			ps.Errf(r, p+".fixedDelay", "required")
		case d.Percent == 0:
			ps.Warnf(r, p+".percent", "delay skipped: with percent 0 or unset Istio 0.x delayed no request; set percent: 100 to delay all")
		default:
			out.Delay = &router.FaultDelay{FixedDelay: d.FixedDelay, Percentage: &router.Percent{Value: d.Percent}}
		}
	}
	if a := f.Abort; a != nil {
		p := "spec.httpFault.abort"
		if a.OverrideHeaderName != "" {
			ps.Warnf(r, p+".overrideHeaderName", "ignored: it was never implemented")
		}
		switch {
		case a.Percent < 0 || a.Percent > 100:
			ps.Errf(r, p+".percent", "percent %v is not in range 0-100", a.Percent)
		case a.HTTPStatus == nil && (a.GRPCStatus != nil || a.HTTP2Error != nil):
			ps.Warnf(r, p, "abort skipped: only httpStatus aborts were implemented")
		case a.HTTPStatus == nil:
			ps.Errf(r, p+".httpStatus", "required")
		case a.Percent == 0:
			ps.Warnf(r, p+".percent", "abort skipped: with percent 0 or unset Istio 0.x aborted no request; set percent: 100 to abort all")
		default:
			out.Abort = &router.FaultAbort{HTTPStatus: a.HTTPStatus, Percentage: &router.Percent{Value: a.Percent}}
		}
	}
	if out.Delay == nil && out.Abort == nil {
		return nil
	}
	return out
}

// rrCompiles compiles the rule's route alone, with the rule's own match,
// so that what the router refuses is reported at the RouteRule's fields
// rather than at the Ingress the generated VirtualService points to.
func (t *legacyTranslator) rrCompiles(rr *routeRule) bool {
	route := rr.route
	if m := rr.cond; rr.uri != nil || !legacyCondEmpty(&m) {
		m.URI = rr.uri
		route.Match = []router.HTTPMatchRequest{m}
	}
	vs := &router.VirtualService{Hosts: []string{"routerule.invalid"}, Gateways: []string{"routerule"}, HTTP: []router.HTTPRoute{route}}
	_, errs := router.CompileVirtualService(rr.res.Meta, rr.res.Order, vs)
	ok := true
	for _, err := range errs {
		if fe, isField := errors.AsType[*api.FieldError](err); isField {
			mapped := error(&api.FieldError{Path: rrSourcePath(fe.Path, len(rr.spec.Route) == 0), Err: fe.Err})
			if api.IsWarning(err) {
				mapped = api.Warning(mapped)
			}
			err = mapped
		}
		t.ps.Add(rr.res.Problem(err, api.IsWarning(err)))
		ok = ok && api.IsWarning(err)
	}
	return ok
}

// rrPaths maps the fields of the generated route back to the RouteRule's.
var rrPaths = []struct{ from, to string }{
	{"spec.http[0].match[0].uri", "spec.match.request.headers.uri"},
	{"spec.http[0].match[0].scheme", "spec.match.request.headers.scheme"},
	{"spec.http[0].match[0].method", "spec.match.request.headers.method"},
	{"spec.http[0].match[0].authority", "spec.match.request.headers.authority"},
	{"spec.http[0].match[0].headers", "spec.match.request.headers"},
	{"spec.http[0].match", "spec.match"},
	{"spec.http[0].timeout", "spec.httpReqTimeout.simpleTimeout.timeout"},
	{"spec.http[0].retries", "spec.httpReqRetries.simpleRetry"},
	{"spec.http[0].fault.delay.percentage", "spec.httpFault.delay.percent"},
	{"spec.http[0].fault.abort.percentage", "spec.httpFault.abort.percent"},
	{"spec.http[0].fault", "spec.httpFault"},
	{"spec.http[0].corsPolicy.allowOrigins", "spec.corsPolicy.allowOrigin"},
	{"spec.http[0].corsPolicy", "spec.corsPolicy"},
	{"spec.http[0].headers.request.add", "spec.appendHeaders"},
	{"spec.http[0].redirect", "spec.redirect"},
	{"spec.http[0].rewrite", "spec.rewrite"},
	{"spec.http[0].mirror", "spec.mirror"},
	{"spec.http[0].route", "spec.route"},
	{"spec.http[0]", "spec"},
}

func rrSourcePath(p string, defaultRoute bool) string {
	if defaultRoute && strings.HasPrefix(p, "spec.http[0].route") {
		return "spec.destination"
	}
	for _, m := range rrPaths {
		if rest, ok := strings.CutPrefix(p, m.from); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return m.to + rest
		}
	}
	return p
}
