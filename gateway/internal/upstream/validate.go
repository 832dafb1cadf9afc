package upstream

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

var (
	seResolutions = []string{"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"}
	seLocations   = []string{"MESH_EXTERNAL", "MESH_INTERNAL"}
	seProtocols   = []string{"HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "REDIS", "MYSQL", "TCP", "TLS", "UDP"}
	dnsLabelRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// enumCheck reports whether v (possibly empty) is one of allowed.
func enumCheck(v string, allowed []string) bool {
	return v == "" || slices.Contains(allowed, v)
}

func validateServiceEntry(r *config.Resource, ps *config.Problems) *Service {
	spec := r.Spec.(*ServiceEntrySpec)
	before := ps.ErrorCount()
	if len(spec.Hosts) == 0 {
		ps.Errf(r, "spec.hosts", "a ServiceEntry needs at least one host")
	}
	for i, h := range spec.Hosts {
		if h == "*" || h == "" || strings.Contains(strings.TrimPrefix(h, "*"), "*") {
			ps.Errf(r, fmt.Sprintf("spec.hosts[%d]", i), "invalid host %q: a name or a \"*.\" wildcard", h)
		}
	}
	if !enumCheck(spec.Resolution, seResolutions) {
		ps.Errf(r, "spec.resolution", "unknown resolution %q: want one of %s", spec.Resolution, strings.Join(seResolutions, ", "))
	}
	if !enumCheck(spec.Location, seLocations) {
		ps.Errf(r, "spec.location", "unknown location %q: want one of %s", spec.Location, strings.Join(seLocations, ", "))
	}
	names := validateSEPorts(r, spec, ps)
	res := spec.Resolution
	if res == "" {
		res = "NONE"
	}
	for i, ep := range spec.Endpoints {
		validateEndpoint(r, fmt.Sprintf("spec.endpoints[%d]", i), &ep, res, names, ps)
	}
	if res == "NONE" && len(spec.Endpoints) > 0 {
		ps.Errf(r, "spec.endpoints", "endpoints need resolution STATIC or DNS (resolution NONE forwards to the original destination)")
	}
	if res == "NONE" {
		ps.Warnf(r, "spec.resolution", "resolution NONE means \"the address the client connected to\", which a gateway does not have; gatehouse resolves the hosts by DNS instead")
	}
	if spec.WorkloadSelector != nil {
		ps.Errf(r, "spec.workloadSelector", "gatehouse does not read WorkloadEntry resources; list the endpoints inline under spec.endpoints")
	}
	if ps.ErrorCount() > before {
		return nil
	}
	return &Service{Res: r, Spec: spec, Resolution: res}
}

func validateSEPorts(r *config.Resource, spec *ServiceEntrySpec, ps *config.Problems) map[string]bool {
	names := map[string]bool{}
	numbers := map[uint32]bool{}
	for i, p := range spec.Ports {
		path := fmt.Sprintf("spec.ports[%d]", i)
		switch {
		case p.Number == 0 || p.Number > 65535:
			ps.Errf(r, path+".number", "port %d is out of range 1-65535", p.Number)
		case numbers[p.Number]:
			ps.Errf(r, path+".number", "port %d is listed twice", p.Number)
		}
		numbers[p.Number] = true
		switch {
		case p.Name == "":
			ps.Errf(r, path+".name", "required")
		case names[p.Name]:
			ps.Errf(r, path+".name", "port name %q is used twice", p.Name)
		}
		names[p.Name] = true
		if !slices.Contains(seProtocols, strings.ToUpper(p.Protocol)) {
			ps.Errf(r, path+".protocol", "unknown protocol %q: want one of %s", p.Protocol, strings.Join(seProtocols, ", "))
		}
		if p.TargetPort > 65535 {
			ps.Errf(r, path+".targetPort", "port %d is out of range", p.TargetPort)
		}
	}
	return names
}

func validateEndpoint(r *config.Resource, path string, ep *WorkloadEntry, res string, ports map[string]bool, ps *config.Problems) {
	a := ep.Address
	switch {
	case a == "":
		ps.Errf(r, path+".address", "required")
	case strings.HasPrefix(a, "unix://"):
	case res == "STATIC":
		if _, err := netip.ParseAddr(a); err != nil {
			ps.Errf(r, path+".address", "resolution STATIC needs an IP address, not %q (use resolution DNS for names)", a)
		}
	default:
		if _, err := netip.ParseAddr(a); err != nil {
			if err := api.ValidDNSName(a); err != nil {
				ps.Errf(r, path+".address", "%v", err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ep.Ports)) {
		if !ports[name] {
			ps.Errf(r, path+".ports."+name, "no port of this ServiceEntry is named %q", name)
		}
		if n := ep.Ports[name]; n == 0 || n > 65535 {
			ps.Errf(r, path+".ports."+name, "port %d is out of range 1-65535", n)
		}
	}
}

func validateDestinationRule(r *config.Resource, ps *config.Problems) *DestRule {
	spec := r.Spec.(*DestinationRuleSpec)
	before := ps.ErrorCount()
	if spec.Host == "" {
		ps.Errf(r, "spec.host", "required")
	}
	names := map[string]bool{}
	for i, s := range spec.Subsets {
		path := fmt.Sprintf("spec.subsets[%d]", i)
		switch {
		case !dnsLabelRE.MatchString(s.Name):
			ps.Errf(r, path+".name", "subset name %q must be a DNS label (lower-case letters, digits and '-')", s.Name)
		case names[s.Name]:
			ps.Errf(r, path+".name", "subset %q is defined twice", s.Name)
		}
		names[s.Name] = true
		validateTrafficPolicy(r, path+".trafficPolicy", s.TrafficPolicy, ps)
	}
	validateTrafficPolicy(r, "spec.trafficPolicy", spec.TrafficPolicy, ps)
	if spec.WorkloadSelector != nil {
		ps.Warnf(r, "spec.workloadSelector", "ignored: it scopes the rule to sidecars")
	}
	if ps.ErrorCount() > before {
		return nil
	}
	return &DestRule{Res: r, Spec: spec, Host: router.QualifyHost(spec.Host, r.Meta.Namespace)}
}

// checkDuration records an error for a duration below Istio's 1 ms floor.
func checkDuration(r *config.Resource, path string, d *api.Duration, ps *config.Problems) {
	if d != nil && d.D() < api.MinDuration {
		ps.Errf(r, path, "duration %v is below the 1ms minimum; leave the field out for the default", *d)
	}
}
