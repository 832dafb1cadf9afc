package gateway

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// service is a validated ServiceEntry: the registry entry for its hosts.
type service struct {
	res        *config.Resource
	spec       *upstream.ServiceEntrySpec
	resolution string
}

// port returns the service port with number n.
func (s *service) port(n uint32) *upstream.ServicePort {
	for i := range s.spec.Ports {
		if s.spec.Ports[i].Number == n {
			return &s.spec.Ports[i]
		}
	}
	return nil
}

// destRule is a validated DestinationRule.
type destRule struct {
	res  *config.Resource
	spec *upstream.DestinationRuleSpec
	host string // qualified
}

// subset returns the subset called name, or nil.
func (d *destRule) subset(name string) *upstream.Subset {
	for i := range d.spec.Subsets {
		if d.spec.Subsets[i].Name == name {
			return &d.spec.Subsets[i]
		}
	}
	return nil
}

// registry is what destinations resolve against: ServiceEntries by host and
// DestinationRules by host. It is built once per load.
type registry struct {
	services map[string]*service // qualified exact host -> first ServiceEntry listing it
	wildSvc  []hostEntry[*service]
	rules    map[string]*destRule
	wildDR   []hostEntry[*destRule]
	// clientTLS holds the compiled upstream TLS of every DestinationRule
	// tls block, by the block.
	clientTLS      map[*upstream.ClientTLSSettings]*upstreamTLS
	credentialsDir string
	env            compileEnv
}

type hostEntry[T any] struct {
	host string // "*.example.com"
	v    T
}

func newRegistry(ses, drs []*config.Resource, env compileEnv, ps *config.Problems) *registry {
	reg := &registry{services: map[string]*service{}, rules: map[string]*destRule{},
		clientTLS: map[*upstream.ClientTLSSettings]*upstreamTLS{}, credentialsDir: env.credentialsDir, env: env}
	config.SortResources(ses)
	for _, r := range ses {
		svc := validateServiceEntry(r, ps)
		if svc == nil {
			continue
		}
		for _, h := range svc.spec.Hosts {
			q := router.QualifyHost(h, r.Meta.Namespace)
			if strings.HasPrefix(q, "*") {
				reg.wildSvc = append(reg.wildSvc, hostEntry[*service]{q, svc})
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
func (reg *registry) addRule(dr *destRule, ps *config.Problems) {
	var prev *destRule
	if strings.HasPrefix(dr.host, "*") {
		for _, e := range reg.wildDR {
			if e.host == dr.host {
				prev = e.v
			}
		}
		if prev == nil {
			reg.wildDR = append(reg.wildDR, hostEntry[*destRule]{dr.host, dr})
			return
		}
	} else if prev = reg.rules[dr.host]; prev == nil {
		reg.rules[dr.host] = dr
		return
	}
	merged := *prev.spec
	merged.Subsets = slices.Clone(prev.spec.Subsets)
	for i, s := range dr.spec.Subsets {
		if prev.subset(s.Name) != nil {
			ps.Warnf(dr.res, fmt.Sprintf("spec.subsets[%d].name", i), "subset %q is already defined for host %s by DestinationRule %s; the first definition wins",
				s.Name, dr.host, prev.res.Meta.Key())
			continue
		}
		merged.Subsets = append(merged.Subsets, s)
	}
	if merged.TrafficPolicy == nil {
		merged.TrafficPolicy = dr.spec.TrafficPolicy
	}
	prev.spec = &merged
}

// sortByWildcardSpecificity puts longer (more specific) wildcards first.
func sortByWildcardSpecificity[T any](es []hostEntry[T]) {
	slices.SortStableFunc(es, func(a, b hostEntry[T]) int { return len(b.host) - len(a.host) })
}

// lookupHost finds the ServiceEntry for a destination host written in
// namespace ns. Short ("httpbin"), namespaced ("httpbin.foo") and full
// ("httpbin.foo.svc.cluster.local") names of one service are the same
// service, as in Istio.
func (reg *registry) lookupHost(host, ns string) (*service, string) {
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

// rule returns the DestinationRule for a destination host written in
// namespace ns: an exact match under any spelling of the name, else the
// most specific wildcard (no inheritance between them).
func (reg *registry) rule(host, ns string) *destRule {
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
