package gateway

import (
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
)

// securityKinds are the kinds whose resources decide who gets in: their
// additions and removals are audited at every reload (security.md
// CFG-06: an intentional deletion is applied, and said).
var securityKinds = []string{"AuthorizationPolicy", "RequestAuthentication", "Policy", "MeshPolicy",
	"RbacConfig", "ClusterRbacConfig", "ServiceRole", "ServiceRoleBinding"}

// securityResources lists the security resources of a load as
// "Kind namespace/name", sorted.
func securityResources(byKind map[string][]*config.Resource) []string {
	var out []string
	for _, k := range securityKinds {
		for _, r := range byKind[k] {
			out = append(out, k+" "+r.Meta.Key())
		}
	}
	slices.Sort(out)
	return out
}

// auditSecurity logs the security resources a reload removed and added,
// by name, and updates the count in force.
func (s *Server) auditSecurity(prev, next *Snapshot) {
	s.metrics.SecurityResources(len(next.security))
	if prev == nil {
		return
	}
	removed, added := diffSorted(prev.security, next.security)
	if len(removed) > 0 {
		s.log.Warn("security resources removed by this reload; requests they governed are no longer checked by them",
			"generation", next.Gen, "removed", strings.Join(removed, ", "))
		s.metrics.SecurityChanged("removed", len(removed))
	}
	if len(added) > 0 {
		s.log.Info("security resources added by this reload", "generation", next.Gen, "added", strings.Join(added, ", "))
		s.metrics.SecurityChanged("added", len(added))
	}
}

// diffSorted returns what is only in a and what is only in b, both sorted.
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if _, found := slices.BinarySearch(a, x); !found {
			onlyB = append(onlyB, x)
		}
	}
	return onlyA, onlyB
}
