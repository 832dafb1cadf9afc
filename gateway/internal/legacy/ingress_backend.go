package legacy

import (
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// ingressPath translates one path, or returns nil (and says why) when
// Istio would skip it.
func (t *legacyTranslator) ingressPath(ing *config.Resource, p string, hp *HTTPIngressPath) *legacyRoute {
	v1 := ing.APIVersion == ingressV1
	if hp.PathType != nil {
		switch *hp.PathType {
		case pathTypeExact, pathTypePrefix:
			if !strings.HasPrefix(hp.Path, "/") {
				t.ps.Errf(ing, p+".path", "a %s path must be absolute (start with '/'), not %q", *hp.PathType, hp.Path)
				return nil
			}
		case pathTypeImplSpec:
		default:
			t.ps.Errf(ing, p+".pathType", "unknown pathType %q: want Exact, Prefix or ImplementationSpecific", *hp.PathType)
			return nil
		}
	} else if v1 {
		t.ps.Warnf(ing, p, "pathType is required in %s (the Kubernetes API server refuses this Ingress); taken as ImplementationSpecific", ingressV1)
	}
	svc, port := t.ingressBackend(ing, p+".backend", &hp.Backend, v1)
	if svc == "" {
		return nil
	}
	host := svc + "." + ing.Meta.Namespace + ".svc." + legacyClusterDomain
	return &legacyRoute{ing: ing, path: p, uri: ingressPathURI(hp.PathType, hp.Path), host: host, port: port}
}

// ingressBackend returns the service name and port of a path's backend,
// or "" when the path is skipped.
func (t *legacyTranslator) ingressBackend(ing *config.Resource, p string, b *IngressBackend, v1 bool) (string, uint32) {
	switch {
	case v1 && (b.ServiceName != "" || b.ServicePort != nil):
		t.ps.Errf(ing, p+".serviceName", "serviceName and servicePort are the v1beta1 form; %s uses service: {name, port: {number | name}}", ingressV1)
		return "", 0
	case !v1 && b.Service != nil:
		t.ps.Errf(ing, p+".service", "service is the %s form; %s uses serviceName and servicePort", ingressV1, ing.APIVersion)
		return "", 0
	case b.Resource != nil && (b.Service != nil || b.ServiceName != ""):
		t.ps.Errf(ing, p+".resource", "a backend is either a service or a resource, not both")
		return "", 0
	case b.Resource != nil:
		t.ps.Warnf(ing, p+".resource", "skipped: Istio only routes Ingress paths to services")
		return "", 0
	}
	var name, portName string
	var number int32
	switch {
	case b.Service != nil:
		name, portName, number = b.Service.Name, b.Service.Port.Name, b.Service.Port.Number
		if b.Service.Name == "" {
			t.ps.Errf(ing, p+".service.name", "required")
			return "", 0
		}
		switch {
		case portName != "" && number != 0:
			t.ps.Errf(ing, p+".service.port", "set name or number, not both")
			return "", 0
		case portName == "" && number == 0:
			t.ps.Errf(ing, p+".service.port", "required: a port number or name")
			return "", 0
		}
		p += ".service.port"
	case b.ServiceName != "":
		name = b.ServiceName
		if b.ServicePort == nil {
			t.ps.Errf(ing, p+".servicePort", "required: a port number or name")
			return "", 0
		}
		portName, number = b.ServicePort.Name, b.ServicePort.Number
		p += ".servicePort"
	default:
		t.ps.Errf(ing, p, "a backend needs %s", map[bool]string{true: "service: {name, port}", false: "serviceName and servicePort"}[v1])
		return "", 0
	}
	if portName == "" {
		if number < 1 || number > 65535 {
			t.ps.Errf(ing, p, "port %d is out of range 1-65535", number)
			return "", 0
		}
		return name, uint32(number)
	}
	host := name + "." + ing.Meta.Namespace + ".svc." + legacyClusterDomain
	if n := t.namedPort(host, portName); n != 0 {
		return name, n
	}
	hint := ""
	if strings.Trim(portName, "0123456789") == "" {
		hint = fmt.Sprintf(" (quoted, %q is a port name to Kubernetes; write the number unquoted)", portName)
	}
	t.ps.Warnf(ing, p, "path skipped: port name %q cannot be resolved%s; gatehouse has no Kubernetes Service, so it looks for a ServiceEntry for %s with a port of that name and found none",
		portName, hint, host)
	return "", 0
}

// namedPort resolves a port name of host through the ServiceEntries, as
// Istio resolves it through the Kubernetes Service (its port, not its
// targetPort); 0 when no ServiceEntry for host has a port of that name.
func (t *legacyTranslator) namedPort(host, name string) uint32 {
	for _, se := range t.ses {
		if !seServesHost(se, host) {
			continue
		}
		for _, p := range se.Spec.(*upstream.ServiceEntrySpec).Ports {
			if p.Name == name {
				return p.Number
			}
		}
	}
	return 0
}

// seServesHost reports whether ServiceEntry se lists host (an FQDN), under
// any spelling the registry accepts (lookupHost).
func seServesHost(se *config.Resource, host string) bool {
	for _, h := range se.Spec.(*upstream.ServiceEntrySpec).Hosts {
		q := router.QualifyHost(h, se.Meta.Namespace)
		if q == host || q+"."+router.DefaultDomain == host || (strings.HasPrefix(q, "*") && router.HostSubsetOf(host, q)) {
			return true
		}
	}
	return false
}

// seFor returns the first ServiceEntry serving host, or nil.
func (t *legacyTranslator) seFor(host string) *upstream.ServiceEntrySpec {
	for _, se := range t.ses {
		if seServesHost(se, host) {
			return se.Spec.(*upstream.ServiceEntrySpec)
		}
	}
	return nil
}
