package router

import "github.com/gatehouse-proxy/gatehouse/api"

// VirtualService is the spec of a networking.istio.io VirtualService.
type VirtualService struct {
	// Hosts the rules apply to: FQDNs, "*"-prefixed wildcards, "*" or IPs.
	// Short names are qualified with the VirtualService's namespace.
	Hosts []string `yaml:"hosts"`
	// Gateways the rules apply to, as "name", "ns/name" or
	// "name.ns.svc.cluster.local". Without gateways the VirtualService only
	// applies to the mesh, which gatehouse is not, so it attaches nowhere.
	Gateways []string `yaml:"gateways"`
	// HTTP routes, tried in order; the first match wins.
	HTTP []HTTPRoute `yaml:"http"`
	// TLS routes for TLS passthrough servers, chosen by SNI.
	TLS []TLSRoute `yaml:"tls"`
	// TCP routes for TCP servers.
	TCP []TCPRoute `yaml:"tcp"`
	// ExportTo only means something inside Kubernetes; it is ignored.
	ExportTo []string `yaml:"exportTo"`
}

// HTTPRoute is one rule of a VirtualService's http list.
type HTTPRoute struct {
	Name             string                 `yaml:"name"`
	Match            []HTTPMatchRequest     `yaml:"match"`
	Route            []HTTPRouteDestination `yaml:"route"`
	Redirect         *HTTPRedirect          `yaml:"redirect"`
	DirectResponse   *HTTPDirectResponse    `yaml:"directResponse"`
	Delegate         *Delegate              `yaml:"delegate"`
	Rewrite          *HTTPRewrite           `yaml:"rewrite"`
	Timeout          *api.Duration          `yaml:"timeout"`
	Retries          *HTTPRetry             `yaml:"retries"`
	Fault            *HTTPFaultInjection    `yaml:"fault"`
	Mirror           *Destination           `yaml:"mirror"`
	MirrorPercent    *uint32                `yaml:"mirrorPercent"`
	MirrorPercentage *Percent               `yaml:"mirrorPercentage"`
	Mirrors          []HTTPMirrorPolicy     `yaml:"mirrors"`
	CorsPolicy       *CorsPolicy            `yaml:"corsPolicy"`
	Headers          *Headers               `yaml:"headers"`
}

// HTTPMatchRequest is one entry of an HTTPRoute's match list. Entries are
// ORed; the fields inside one entry are ANDed.
type HTTPMatchRequest struct {
	Name            string                  `yaml:"name"`
	URI             *StringMatch            `yaml:"uri"`
	Scheme          *StringMatch            `yaml:"scheme"`
	Method          *StringMatch            `yaml:"method"`
	Authority       *StringMatch            `yaml:"authority"`
	Headers         map[string]*StringMatch `yaml:"headers"`
	WithoutHeaders  map[string]*StringMatch `yaml:"withoutHeaders"`
	QueryParams     map[string]*StringMatch `yaml:"queryParams"`
	Port            uint32                  `yaml:"port"`
	IgnoreURICase   bool                    `yaml:"ignoreUriCase"`
	Gateways        []string                `yaml:"gateways"`
	SourceLabels    map[string]string       `yaml:"sourceLabels"`
	SourceNamespace string                  `yaml:"sourceNamespace"`
	StatPrefix      string                  `yaml:"statPrefix"`
}

// StringMatch is Istio's oneof exact | prefix | regex. An empty StringMatch
// ({}) in headers or queryParams means "present".
type StringMatch struct {
	Exact  *string `yaml:"exact"`
	Prefix *string `yaml:"prefix"`
	Regex  *string `yaml:"regex"`
}

// Destination names a service, an optional DestinationRule subset and a port.
type Destination struct {
	Host   string        `yaml:"host"`
	Subset string        `yaml:"subset"`
	Port   *PortSelector `yaml:"port"`
}

// PortSelector selects a port of the destination service.
type PortSelector struct {
	Number uint32 `yaml:"number"`
}

// HTTPRouteDestination is a weighted destination of an HTTP route.
type HTTPRouteDestination struct {
	Destination Destination `yaml:"destination"`
	Weight      int32       `yaml:"weight"`
	Headers     *Headers    `yaml:"headers"`
}

// Headers holds header operations for requests and responses.
type Headers struct {
	Request  *HeaderOperations `yaml:"request"`
	Response *HeaderOperations `yaml:"response"`
}

// HeaderOperations sets, appends and removes headers.
type HeaderOperations struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// Percent is a percentage from 0 to 100 with fractions.
type Percent struct {
	Value float64 `yaml:"value"`
}

// HTTPRedirect answers with a redirect instead of forwarding.
type HTTPRedirect struct {
	URI           string `yaml:"uri"`
	PrefixRewrite string `yaml:"prefixRewrite"`
	Authority     string `yaml:"authority"`
	Port          uint32 `yaml:"port"`
	DerivePort    string `yaml:"derivePort"`
	Scheme        string `yaml:"scheme"`
	RedirectCode  uint32 `yaml:"redirectCode"`
}

// HTTPDirectResponse answers with a fixed status and body.
type HTTPDirectResponse struct {
	Status uint32    `yaml:"status"`
	Body   *HTTPBody `yaml:"body"`
}

// HTTPBody is the body of a direct response: a string or base64 bytes.
type HTTPBody struct {
	String *string `yaml:"string"`
	Bytes  *string `yaml:"bytes"`
}

// Delegate names a delegate VirtualService that supplies the routes.
type Delegate struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// HTTPRewrite rewrites the path and authority before forwarding.
type HTTPRewrite struct {
	URI             string        `yaml:"uri"`
	Authority       string        `yaml:"authority"`
	URIRegexRewrite *RegexRewrite `yaml:"uriRegexRewrite"`
}

// RegexRewrite replaces every match of Match in the path with Rewrite.
type RegexRewrite struct {
	Match   string `yaml:"match"`
	Rewrite string `yaml:"rewrite"`
}

// HTTPRetry is a route's retry policy.
type HTTPRetry struct {
	Attempts                 *int32        `yaml:"attempts"`
	PerTryTimeout            *api.Duration `yaml:"perTryTimeout"`
	RetryOn                  *string       `yaml:"retryOn"`
	RetryRemoteLocalities    *bool         `yaml:"retryRemoteLocalities"`
	RetryIgnorePreviousHosts *bool         `yaml:"retryIgnorePreviousHosts"`
	Backoff                  *api.Duration `yaml:"backoff"`
}

// HTTPFaultInjection delays or aborts a share of requests.
type HTTPFaultInjection struct {
	Delay *FaultDelay `yaml:"delay"`
	Abort *FaultAbort `yaml:"abort"`
}

// FaultDelay delays requests before forwarding them.
type FaultDelay struct {
	FixedDelay       *api.Duration `yaml:"fixedDelay"`
	ExponentialDelay *api.Duration `yaml:"exponentialDelay"`
	Percentage       *Percent      `yaml:"percentage"`
	Percent          *int32        `yaml:"percent"`
}

// FaultAbort answers requests with an error instead of forwarding them.
type FaultAbort struct {
	HTTPStatus *int32   `yaml:"httpStatus"`
	GRPCStatus *string  `yaml:"grpcStatus"`
	HTTP2Error *string  `yaml:"http2Error"`
	Percentage *Percent `yaml:"percentage"`
}

// HTTPMirrorPolicy is one entry of an HTTPRoute's mirrors list.
type HTTPMirrorPolicy struct {
	Destination Destination `yaml:"destination"`
	Percentage  *Percent    `yaml:"percentage"`
}

// CorsPolicy answers CORS preflights and decorates responses.
type CorsPolicy struct {
	AllowOrigins        []*StringMatch `yaml:"allowOrigins"`
	AllowOrigin         []string       `yaml:"allowOrigin"`
	AllowMethods        []string       `yaml:"allowMethods"`
	AllowHeaders        []string       `yaml:"allowHeaders"`
	ExposeHeaders       []string       `yaml:"exposeHeaders"`
	MaxAge              *api.Duration  `yaml:"maxAge"`
	AllowCredentials    *bool          `yaml:"allowCredentials"`
	UnmatchedPreflights string         `yaml:"unmatchedPreflights"`
}

// TLSRoute routes TLS passthrough connections by SNI.
type TLSRoute struct {
	Match []TLSMatchAttributes `yaml:"match"`
	Route []RouteDestination   `yaml:"route"`
}

// TLSMatchAttributes matches a TLS connection.
type TLSMatchAttributes struct {
	SNIHosts           []string          `yaml:"sniHosts"`
	DestinationSubnets []string          `yaml:"destinationSubnets"`
	Port               uint32            `yaml:"port"`
	SourceLabels       map[string]string `yaml:"sourceLabels"`
	Gateways           []string          `yaml:"gateways"`
	SourceNamespace    string            `yaml:"sourceNamespace"`
}

// TCPRoute routes TCP connections.
type TCPRoute struct {
	Match []L4MatchAttributes `yaml:"match"`
	Route []RouteDestination  `yaml:"route"`
}

// L4MatchAttributes matches a TCP connection.
type L4MatchAttributes struct {
	DestinationSubnets []string          `yaml:"destinationSubnets"`
	Port               uint32            `yaml:"port"`
	SourceLabels       map[string]string `yaml:"sourceLabels"`
	Gateways           []string          `yaml:"gateways"`
	SourceNamespace    string            `yaml:"sourceNamespace"`
}

// RouteDestination is a weighted destination of a TCP or TLS route.
type RouteDestination struct {
	Destination Destination `yaml:"destination"`
	Weight      int32       `yaml:"weight"`
}
