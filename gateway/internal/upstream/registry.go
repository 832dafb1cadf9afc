package upstream

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Service is a validated ServiceEntry: the registry entry for its hosts.
type Service struct {
	Res        *config.Resource
	Spec       *ServiceEntrySpec
	Resolution string
}

// Port returns the service Port with number n.
func (s *Service) Port(n uint32) *ServicePort {
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Number == n {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

// DestRule is a validated DestinationRule.
type DestRule struct {
	Res  *config.Resource
	Spec *DestinationRuleSpec
	Host string // qualified
}

// Subset returns the Subset called name, or nil.
func (d *DestRule) Subset(name string) *Subset {
	for i := range d.Spec.Subsets {
		if d.Spec.Subsets[i].Name == name {
			return &d.Spec.Subsets[i]
		}
	}
	return nil
}

// Registry is what destinations resolve against: ServiceEntries by host and
// DestinationRules by host. It is built once per load.
type Registry struct {
	services map[string]*Service // qualified exact host -> first ServiceEntry listing it
	wildSvc  []hostEntry[*Service]
	rules    map[string]*DestRule
	wildDR   []hostEntry[*DestRule]
	// clientTLS holds the compiled upstream TLS of every DestinationRule
	// tls block, by the block.
	clientTLS map[*ClientTLSSettings]*ClientTLS
	opts      RegistryOptions
}

// RegistryOptions are what building a Registry needs beyond the resources.
type RegistryOptions struct {
	// CredentialsDir is where credentialName secrets are looked up.
	CredentialsDir string
	// CertFiles, when set, is told every certificate, key and CA file an
	// upstream TLS setting reads, so that changes to them reload the
	// configuration.
	CertFiles func(paths ...string)
}

type hostEntry[T any] struct {
	host string // "*.example.com"
	v    T
}

// NewRegistry validates ServiceEntries and DestinationRules, recording
// problems in ps, and indexes the valid ones by host.
func NewRegistry(ses, drs []*config.Resource, opts RegistryOptions, ps *config.Problems) *Registry {
	reg := &Registry{services: map[string]*Service{}, rules: map[string]*DestRule{},
		clientTLS: map[*ClientTLSSettings]*ClientTLS{}, opts: opts}
	config.SortResources(ses)
	for _, r := range ses {
		svc := validateServiceEntry(r, ps)
		if svc == nil {
			continue
		}
		for _, h := range svc.Spec.Hosts {
			q := router.QualifyHost(h, r.Meta.Namespace)
			if strings.HasPrefix(q, "*") {
				reg.wildSvc = append(reg.wildSvc, hostEntry[*Service]{q, svc})
			} else if _, dup := reg.services[q]; !dup {
				reg.services[q] = svc
			}
		}
	}
	config.SortResources(drs)
	for _, r := range drs {
		dr := validateDestinationRule(r, ps)
		if dr == nil {
			continue
		}
		reg.compileClientTLS(dr, ps)
		reg.addRule(dr, ps)
	}
	sortByWildcardSpecificity(reg.wildSvc)
	sortByWildcardSpecificity(reg.wildDR)
	return reg
}

// addRule indexes a DestinationRule; several rules for one host merge as
// Istio merges them: subsets concatenated (first name wins), the first
// traffic policy wins.
func (reg *Registry) addRule(dr *DestRule, ps *config.Problems) {
	var prev *DestRule
	if strings.HasPrefix(dr.Host, "*") {
		for _, e := range reg.wildDR {
			if e.host == dr.Host {
				prev = e.v
			}
		}
		if prev == nil {
			reg.wildDR = append(reg.wildDR, hostEntry[*DestRule]{dr.Host, dr})
			return
		}
	} else if prev = reg.rules[dr.Host]; prev == nil {
		reg.rules[dr.Host] = dr
		return
	}
	merged := *prev.Spec
	merged.Subsets = slices.Clone(prev.Spec.Subsets)
	for i, s := range dr.Spec.Subsets {
		if prev.Subset(s.Name) != nil {
			ps.Warnf(dr.Res, fmt.Sprintf("spec.subsets[%d].name", i), "subset %q is already defined for host %s by DestinationRule %s; the first definition wins",
				s.Name, dr.Host, prev.Res.Meta.Key())
			continue
		}
		merged.Subsets = append(merged.Subsets, s)
	}
	if merged.TrafficPolicy == nil {
		merged.TrafficPolicy = dr.Spec.TrafficPolicy
	}
	prev.Spec = &merged
}

// sortByWildcardSpecificity puts longer (more specific) wildcards first.
func sortByWildcardSpecificity[T any](es []hostEntry[T]) {
	slices.SortStableFunc(es, func(a, b hostEntry[T]) int { return len(b.host) - len(a.host) })
}

// LookupHost finds the ServiceEntry for a destination host written in
// namespace ns. Short ("httpbin"), namespaced ("httpbin.foo") and full
// ("httpbin.foo.svc.cluster.local") names of one service are the same
// service, as in Istio.
func (reg *Registry) LookupHost(host, ns string) (*Service, string) {
	for _, q := range candidateNames(host, ns) {
		if s := reg.services[q]; s != nil {
			return s, q
		}
	}
	q := router.QualifyHost(host, ns)
	for _, e := range reg.wildSvc {
		if router.HostSubsetOf(q, e.host) {
			return e.v, q
		}
	}
	return nil, q
}

// candidateNames lists the registry names a destination host may mean:
// its qualified form first, then the "name.namespace" and full
// "name.namespace.svc.cluster.local" spellings of the same service.
func candidateNames(host, ns string) []string {
	q := router.QualifyHost(host, ns)
	if short, ok := strings.CutSuffix(q, "."+router.DefaultDomain); ok && strings.Count(short, ".") == 1 {
		return []string{q, short}
	}
	if strings.Count(host, ".") == 1 {
		if _, err := netip.ParseAddr(host); err != nil {
			return []string{q, host + "." + router.DefaultDomain}
		}
	}
	return []string{q}
}

// Rule returns the DestinationRule for a destination host written in
// namespace ns: an exact match under any spelling of the name, else the
// most specific wildcard (no inheritance between them).
func (reg *Registry) Rule(host, ns string) *DestRule {
	for _, q := range candidateNames(host, ns) {
		if dr := reg.rules[q]; dr != nil {
			return dr
		}
	}
	q := router.QualifyHost(host, ns)
	for _, e := range reg.wildDR {
		if router.HostSubsetOf(q, e.host) {
			return e.v
		}
	}
	return nil
}

// TLSFor returns the compiled upstream TLS of a DestinationRule tls block,
// nil for plaintext.
func (reg *Registry) TLSFor(t *ClientTLSSettings) *ClientTLS {
	return reg.clientTLS[t]
}

// ProxyVersion returns the PROXY protocol version the
// DestinationRule asks gatehouse to send upstream, 0 for none.
func (dr *DestRule) ProxyVersion() byte {
	if dr == nil || dr.Spec.TrafficPolicy == nil || dr.Spec.TrafficPolicy.ProxyProtocol == nil {
		return 0
	}
	if dr.Spec.TrafficPolicy.ProxyProtocol.Version == "V2" {
		return 2
	}
	return 1
}
