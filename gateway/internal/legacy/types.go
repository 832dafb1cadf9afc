package legacy

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// The schemas of the two legacy shapes gatehouse loads and translates:
// the Kubernetes Ingress (here) and the Istio 0.x config.istio.io/v1alpha2
// RouteRule (legacy_routerule_types.go). Unknown fields are refused like
// everywhere else, so every real field of those APIs is listed. The
// envelope decodes status leniently for every kind, so Ingress status needs
// no type here.

// IngressSpec is the spec of an Ingress. One struct set decodes
// extensions/v1beta1, networking.k8s.io/v1beta1 and networking.k8s.io/v1;
// fields of the other version are refused after decoding (checkIngressFields).
type IngressSpec struct {
	IngressClassName *string         `yaml:"ingressClassName"`
	DefaultBackend   *IngressBackend `yaml:"defaultBackend"` // v1
	Backend          *IngressBackend `yaml:"backend"`        // v1beta1
	TLS              []IngressTLS    `yaml:"tls"`
	Rules            []IngressRule   `yaml:"rules"`
}

// IngressTLS is one spec.tls entry.
type IngressTLS struct {
	Hosts      []string `yaml:"hosts"`
	SecretName string   `yaml:"secretName"`
}

// IngressRule is one spec.rules entry: a host and its paths.
type IngressRule struct {
	Host string                `yaml:"host"`
	HTTP *HTTPIngressRuleValue `yaml:"http"`
}

// HTTPIngressRuleValue lists the paths of a rule.
type HTTPIngressRuleValue struct {
	Paths []HTTPIngressPath `yaml:"paths"`
}

// HTTPIngressPath maps a path to a backend.
type HTTPIngressPath struct {
	Path     string         `yaml:"path"`
	PathType *string        `yaml:"pathType"`
	Backend  IngressBackend `yaml:"backend"`
}

// IngressBackend is a path's (or the default) backend, in either form:
// v1 service{name, port{name|number}} or resource, v1beta1 serviceName and
// servicePort (a number or a port name) or resource.
type IngressBackend struct {
	Service     *IngressServiceBackend `yaml:"service"`     // v1
	ServiceName string                 `yaml:"serviceName"` // v1beta1
	ServicePort *IngressServicePort    `yaml:"servicePort"` // v1beta1
	Resource    *IngressResourceRef    `yaml:"resource"`
}

// IngressServiceBackend is a v1 backend service.
type IngressServiceBackend struct {
	Name string             `yaml:"name"`
	Port IngressBackendPort `yaml:"port"`
}

// IngressBackendPort is a v1 service port: a name or a number.
type IngressBackendPort struct {
	Name   string `yaml:"name"`
	Number int32  `yaml:"number"`
}

// IngressResourceRef is a backend that is not a Service (an object
// reference); Istio does not route to those.
type IngressResourceRef struct {
	APIGroup *string `yaml:"apiGroup"`
	Kind     string  `yaml:"kind"`
	Name     string  `yaml:"name"`
}

// IngressServicePort is Kubernetes' IntOrString: a port number when written
// as a YAML integer, a port name otherwise.
type IngressServicePort struct {
	Number int32
	Name   string
	IsName bool
}

// UnmarshalYAML reads an integer or a string, as IntOrString does in JSON
// (a quoted "8000" is a string, so Kubernetes takes it as a port name).
func (p *IngressServicePort) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return legacyTypeError(n, "servicePort must be a port number or a port name")
	}
	if n.ShortTag() == "!!int" {
		v, err := strconv.ParseInt(n.Value, 0, 32)
		if err != nil {
			return legacyTypeError(n, fmt.Sprintf("servicePort %s is out of range", n.Value))
		}
		*p = IngressServicePort{Number: int32(v)}
		return nil
	}
	*p = IngressServicePort{Name: n.Value, IsName: true}
	return nil
}

// legacyTypeError reports a bad value the way yaml.v3 reports its own
// type errors, so decoding goes on and every problem is reported.
func legacyTypeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}
