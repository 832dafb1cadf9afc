package legacy

import (
	"fmt"

	"github.com/gatehouse-proxy/gatehouse/api"
	"gopkg.in/yaml.v3"
)

// RouteRuleSpec is the spec of a config.istio.io/v1alpha2 RouteRule, the
// Istio 0.2-0.7 routing API (istio.routing.v1alpha1.RouteRule).
type RouteRuleSpec struct {
	Destination      *RouteRuleService            `yaml:"destination"`
	Precedence       int32                        `yaml:"precedence"`
	Match            *RouteRuleMatch              `yaml:"match"`
	Route            []RouteRuleDestinationWeight `yaml:"route"`
	Redirect         *RouteRuleRedirect           `yaml:"redirect"`
	Rewrite          *RouteRuleRewrite            `yaml:"rewrite"`
	WebsocketUpgrade bool                         `yaml:"websocketUpgrade"`
	HTTPReqTimeout   *RouteRuleTimeout            `yaml:"httpReqTimeout"`
	HTTPReqRetries   *RouteRuleRetry              `yaml:"httpReqRetries"`
	HTTPFault        *RouteRuleFault              `yaml:"httpFault"`
	L4Fault          *RouteRuleL4Fault            `yaml:"l4Fault"`
	Mirror           *RouteRuleService            `yaml:"mirror"`
	CorsPolicy       *RouteRuleCorsPolicy         `yaml:"corsPolicy"`
	AppendHeaders    map[string]string            `yaml:"appendHeaders"`
}

// RouteRuleService is an IstioService: a service by short name, namespace
// and domain, or by FQDN (service), optionally narrowed by labels.
type RouteRuleService struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Domain    string            `yaml:"domain"`
	Service   string            `yaml:"service"`
	Labels    map[string]string `yaml:"labels"`
}

// RouteRuleMatch is a MatchCondition.
type RouteRuleMatch struct {
	Source  *RouteRuleService      `yaml:"source"`
	TCP     *RouteRuleL4Match      `yaml:"tcp"`
	UDP     *RouteRuleL4Match      `yaml:"udp"`
	Request *RouteRuleMatchRequest `yaml:"request"`
}

// RouteRuleL4Match is L4MatchAttributes.
type RouteRuleL4Match struct {
	SourceSubnet      []string `yaml:"sourceSubnet"`
	DestinationSubnet []string `yaml:"destinationSubnet"`
}

// RouteRuleMatchRequest matches HTTP request headers; the keys uri,
// scheme, method and authority mean the path and the pseudo-headers.
type RouteRuleMatchRequest struct {
	Headers map[string]*RouteRuleStringMatch `yaml:"headers"`
}

// RouteRuleStringMatch is exact | prefix | regex; a bare string is exact.
type RouteRuleStringMatch struct {
	Exact  *string `yaml:"exact"`
	Prefix *string `yaml:"prefix"`
	Regex  *string `yaml:"regex"`
}

// UnmarshalYAML accepts "value" (exact, as the old API allowed) or a
// mapping with exact, prefix or regex, refusing other keys.
func (m *RouteRuleStringMatch) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v := n.Value
		*m = RouteRuleStringMatch{Exact: &v}
		return nil
	case yaml.MappingNode:
	default:
		return legacyTypeError(n, "a string match must be a string or a mapping with exact, prefix or regex")
	}
	out := RouteRuleStringMatch{}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var dst **string
		switch k.Value {
		case "exact":
			dst = &out.Exact
		case "prefix":
			dst = &out.Prefix
		case "regex":
			dst = &out.Regex
		default:
			errs = append(errs, fmt.Sprintf("line %d: field %s not found in type gateway.RouteRuleStringMatch", k.Line, k.Value))
			continue
		}
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Sprintf("line %d: %s must be a string", v.Line, k.Value))
			continue
		}
		s := v.Value
		*dst = &s
	}
	*m = out
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// RouteRuleDestinationWeight is one weighted destination of route[].
type RouteRuleDestinationWeight struct {
	Destination *RouteRuleService `yaml:"destination"`
	Labels      map[string]string `yaml:"labels"`
	Weight      int32             `yaml:"weight"`
}

// RouteRuleRedirect redirects to another path and/or authority.
type RouteRuleRedirect struct {
	URI       string `yaml:"uri"`
	Authority string `yaml:"authority"`
}

// RouteRuleRewrite rewrites the path (prefix) and/or authority.
type RouteRuleRewrite struct {
	URI       string `yaml:"uri"`
	Authority string `yaml:"authority"`
}

// RouteRuleTimeout is HTTPTimeout: simpleTimeout or a custom policy.
type RouteRuleTimeout struct {
	SimpleTimeout *RouteRuleSimpleTimeout `yaml:"simpleTimeout"`
	Custom        map[string]any          `yaml:"custom"`
}

// RouteRuleSimpleTimeout is HTTPTimeout.SimpleTimeoutPolicy.
type RouteRuleSimpleTimeout struct {
	Timeout            *api.Duration `yaml:"timeout"`
	OverrideHeaderName string        `yaml:"overrideHeaderName"`
}

// RouteRuleRetry is HTTPRetry: simpleRetry or a custom policy.
type RouteRuleRetry struct {
	SimpleRetry *RouteRuleSimpleRetry `yaml:"simpleRetry"`
	Custom      map[string]any        `yaml:"custom"`
}

// RouteRuleSimpleRetry is HTTPRetry.SimpleRetryPolicy.
type RouteRuleSimpleRetry struct {
	Attempts           int32         `yaml:"attempts"`
	PerTryTimeout      *api.Duration `yaml:"perTryTimeout"`
	OverrideHeaderName string        `yaml:"overrideHeaderName"`
}

// RouteRuleFault is HTTPFaultInjection.
type RouteRuleFault struct {
	Delay *RouteRuleDelay `yaml:"delay"`
	Abort *RouteRuleAbort `yaml:"abort"`
}

// RouteRuleDelay is HTTPFaultInjection.Delay.
type RouteRuleDelay struct {
	Percent            float64       `yaml:"percent"`
	FixedDelay         *api.Duration `yaml:"fixedDelay"`
	ExponentialDelay   *api.Duration `yaml:"exponentialDelay"`
	OverrideHeaderName string        `yaml:"overrideHeaderName"`
}

// RouteRuleAbort is HTTPFaultInjection.Abort.
type RouteRuleAbort struct {
	Percent            float64 `yaml:"percent"`
	GRPCStatus         *string `yaml:"grpcStatus"`
	HTTP2Error         *string `yaml:"http2Error"`
	HTTPStatus         *int32  `yaml:"httpStatus"`
	OverrideHeaderName string  `yaml:"overrideHeaderName"`
}

// RouteRuleL4Fault is L4FaultInjection (TCP only; never applied here).
type RouteRuleL4Fault struct {
	Throttle *struct {
		Percent             float64       `yaml:"percent"`
		DownstreamLimitBps  int64         `yaml:"downstreamLimitBps"`
		UpstreamLimitBps    int64         `yaml:"upstreamLimitBps"`
		ThrottleAfterPeriod *api.Duration `yaml:"throttleAfterPeriod"`
		ThrottleAfterBytes  float64       `yaml:"throttleAfterBytes"`
		ThrottleForPeriod   *api.Duration `yaml:"throttleForPeriod"`
	} `yaml:"throttle"`
	Terminate *struct {
		Percent              float64       `yaml:"percent"`
		TerminateAfterPeriod *api.Duration `yaml:"terminateAfterPeriod"`
	} `yaml:"terminate"`
}

// RouteRuleCorsPolicy is the old CorsPolicy (exact origins only).
type RouteRuleCorsPolicy struct {
	AllowOrigin      []string      `yaml:"allowOrigin"`
	AllowMethods     []string      `yaml:"allowMethods"`
	AllowHeaders     []string      `yaml:"allowHeaders"`
	ExposeHeaders    []string      `yaml:"exposeHeaders"`
	MaxAge           *api.Duration `yaml:"maxAge"`
	AllowCredentials *bool         `yaml:"allowCredentials"`
}
