package upstream

import (
	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// ServiceEntrySpec is the spec of a networking.istio.io ServiceEntry: the
// registry gatehouse routes to.
type ServiceEntrySpec struct {
	Hosts            []string              `yaml:"hosts"`
	Addresses        []string              `yaml:"addresses"`
	Ports            []ServicePort         `yaml:"ports"`
	Location         string                `yaml:"location"`
	Resolution       string                `yaml:"resolution"`
	Endpoints        []WorkloadEntry       `yaml:"endpoints"`
	WorkloadSelector *api.WorkloadSelector `yaml:"workloadSelector"`
	ExportTo         []string              `yaml:"exportTo"`
	SubjectAltNames  []string              `yaml:"subjectAltNames"`
}

// ServicePort is a port of a ServiceEntry.
type ServicePort struct {
	Number     uint32 `yaml:"number"`
	Protocol   string `yaml:"protocol"`
	Name       string `yaml:"name"`
	TargetPort uint32 `yaml:"targetPort"`
}

// WorkloadEntry is an endpoint of a ServiceEntry.
type WorkloadEntry struct {
	Address        string            `yaml:"address"`
	Ports          map[string]uint32 `yaml:"ports"`
	Labels         map[string]string `yaml:"labels"`
	Network        string            `yaml:"network"`
	Locality       string            `yaml:"locality"`
	Weight         uint32            `yaml:"weight"`
	ServiceAccount string            `yaml:"serviceAccount"`
}

// DestinationRuleSpec is the spec of a networking.istio.io DestinationRule.
type DestinationRuleSpec struct {
	Host             string                `yaml:"host"`
	TrafficPolicy    *TrafficPolicy        `yaml:"trafficPolicy"`
	Subsets          []Subset              `yaml:"subsets"`
	ExportTo         []string              `yaml:"exportTo"`
	WorkloadSelector *api.WorkloadSelector `yaml:"workloadSelector"`
}

// Subset is a named group of a service's endpoints, selected by labels.
type Subset struct {
	Name          string            `yaml:"name"`
	Labels        map[string]string `yaml:"labels"`
	TrafficPolicy *TrafficPolicy    `yaml:"trafficPolicy"`
}

// TrafficPolicy is a DestinationRule's policy for a service, port or subset.
type TrafficPolicy struct {
	LoadBalancer      *LoadBalancerSettings  `yaml:"loadBalancer"`
	ConnectionPool    *ConnectionPool        `yaml:"connectionPool"`
	OutlierDetection  *OutlierDetection      `yaml:"outlierDetection"`
	TLS               *ClientTLSSettings     `yaml:"tls"`
	PortLevelSettings []PortTrafficPolicy    `yaml:"portLevelSettings"`
	Tunnel            map[string]any         `yaml:"tunnel"`
	ProxyProtocol     *UpstreamProxyProtocol `yaml:"proxyProtocol"`
	RetryBudget       map[string]any         `yaml:"retryBudget"`
}

// UpstreamProxyProtocol makes gatehouse send a PROXY protocol header on
// each connection it forwards, so the upstream sees the client's address.
type UpstreamProxyProtocol struct {
	// Version is V1 or V2 (default V1, as in Istio).
	Version string `yaml:"version"`
}

// PortTrafficPolicy overrides the policy for one port.
type PortTrafficPolicy struct {
	Port             *router.PortSelector  `yaml:"port"`
	LoadBalancer     *LoadBalancerSettings `yaml:"loadBalancer"`
	ConnectionPool   *ConnectionPool       `yaml:"connectionPool"`
	OutlierDetection *OutlierDetection     `yaml:"outlierDetection"`
	TLS              *ClientTLSSettings    `yaml:"tls"`
}

// LoadBalancerSettings picks how endpoints are chosen.
type LoadBalancerSettings struct {
	Simple             string          `yaml:"simple"`
	ConsistentHash     *ConsistentHash `yaml:"consistentHash"`
	LocalityLbSetting  map[string]any  `yaml:"localityLbSetting"`
	WarmupDurationSecs *api.Duration   `yaml:"warmupDurationSecs"`
	Warmup             map[string]any  `yaml:"warmup"`
}

// ConsistentHash routes requests with the same key to the same endpoint.
type ConsistentHash struct {
	HTTPHeaderName         string         `yaml:"httpHeaderName"`
	HTTPCookie             *HTTPCookie    `yaml:"httpCookie"`
	UseSourceIP            bool           `yaml:"useSourceIp"`
	HTTPQueryParameterName string         `yaml:"httpQueryParameterName"`
	RingHash               map[string]any `yaml:"ringHash"`
	Maglev                 map[string]any `yaml:"maglev"`
	MinimumRingSize        uint64         `yaml:"minimumRingSize"`
}

// HTTPCookie names the cookie a consistent hash uses.
type HTTPCookie struct {
	Name       string        `yaml:"name"`
	Path       string        `yaml:"path"`
	TTL        *api.Duration `yaml:"ttl"`
	Attributes []any         `yaml:"attributes"`
}

// ConnectionPool limits connections and requests to a service.
type ConnectionPool struct {
	TCP  *TCPSettings  `yaml:"tcp"`
	HTTP *HTTPSettings `yaml:"http"`
}

// TCPSettings are connection-level limits.
type TCPSettings struct {
	MaxConnections        int32         `yaml:"maxConnections"`
	ConnectTimeout        *api.Duration `yaml:"connectTimeout"`
	TCPKeepalive          *TCPKeepalive `yaml:"tcpKeepalive"`
	MaxConnectionDuration *api.Duration `yaml:"maxConnectionDuration"`
	IdleTimeout           *api.Duration `yaml:"idleTimeout"`
}

// TCPKeepalive sets TCP keepalive probes on upstream connections.
type TCPKeepalive struct {
	Probes   uint32        `yaml:"probes"`
	Time     *api.Duration `yaml:"time"`
	Interval *api.Duration `yaml:"interval"`
}

// HTTPSettings are request-level limits.
type HTTPSettings struct {
	HTTP1MaxPendingRequests  int32         `yaml:"http1MaxPendingRequests"`
	HTTP2MaxRequests         int32         `yaml:"http2MaxRequests"`
	MaxRequestsPerConnection int32         `yaml:"maxRequestsPerConnection"`
	MaxRetries               int32         `yaml:"maxRetries"`
	IdleTimeout              *api.Duration `yaml:"idleTimeout"`
	H2UpgradePolicy          string        `yaml:"h2UpgradePolicy"`
	UseClientProtocol        bool          `yaml:"useClientProtocol"`
	MaxConcurrentStreams     int32         `yaml:"maxConcurrentStreams"`
}

// OutlierDetection ejects endpoints that keep failing.
type OutlierDetection struct {
	ConsecutiveErrors              int32         `yaml:"consecutiveErrors"`
	Consecutive5xxErrors           *uint32       `yaml:"consecutive5xxErrors"`
	ConsecutiveGatewayErrors       *uint32       `yaml:"consecutiveGatewayErrors"`
	ConsecutiveLocalOriginFailures *uint32       `yaml:"consecutiveLocalOriginFailures"`
	SplitExternalLocalOriginErrors bool          `yaml:"splitExternalLocalOriginErrors"`
	Interval                       *api.Duration `yaml:"interval"`
	BaseEjectionTime               *api.Duration `yaml:"baseEjectionTime"`
	MaxEjectionPercent             *int32        `yaml:"maxEjectionPercent"`
	MinHealthPercent               int32         `yaml:"minHealthPercent"`
}

// ClientTLSSettings is upstream TLS.
type ClientTLSSettings struct {
	Mode               string   `yaml:"mode"`
	ClientCertificate  string   `yaml:"clientCertificate"`
	PrivateKey         string   `yaml:"privateKey"`
	CACertificates     string   `yaml:"caCertificates"`
	CACrl              string   `yaml:"caCrl"`
	CredentialName     string   `yaml:"credentialName"`
	SubjectAltNames    []string `yaml:"subjectAltNames"`
	SNI                string   `yaml:"sni"`
	InsecureSkipVerify *bool    `yaml:"insecureSkipVerify"`
}
