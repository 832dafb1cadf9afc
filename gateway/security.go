package gateway

import (
	"errors"
	"log/slog"
	"slices"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// compileSecurity compiles the authentication and authorization resources
// of a load (RequestAuthentication, AuthorizationPolicy, the legacy
// authentication.istio.io Policy and MeshPolicy, and rbac.istio.io) into
// one engine. Remote key sets are registered with env.keySets, which
// fetches them in the background. It returns nil when the configuration
// has no security resources, so that requests skip the engine entirely.
func compileSecurity(byKind map[string][]*config.Resource, ms *mesh.Settings, hasTCP bool, env compileEnv, ps *config.Problems) *authz.Engine {
	var cfg authz.Config
	n := 0
	for _, r := range byKind["RequestAuthentication"] {
		a, errs := authz.CompileRequestAuthentication(r.Meta, r.Spec.(*authz.RequestAuthentication))
		ps.ResourceErrs(r, errs)
		cfg.RequestAuthentications = append(cfg.RequestAuthentications, a)
		n++
	}
	for _, r := range byKind["AuthorizationPolicy"] {
		p, errs := authz.CompileAuthorizationPolicy(r.Meta, r.Spec.(*authz.AuthorizationPolicy))
		if !hasTCP {
			errs = slices.DeleteFunc(errs, func(err error) bool { return errors.Is(err, authz.ErrDenyHTTPOnly) })
		}
		ps.ResourceErrs(r, errs)
		cfg.AuthorizationPolicies = append(cfg.AuthorizationPolicies, p)
		n++
	}
	for _, kind := range []string{"MeshPolicy", "Policy"} {
		for _, r := range byKind[kind] {
			l, errs := authz.CompileLegacyPolicy(r.Meta, r.Spec.(*authz.LegacyPolicy), kind == "MeshPolicy")
			ps.ResourceErrs(r, errs)
			cfg.LegacyPolicies = append(cfg.LegacyPolicies, l)
			n++
		}
	}
	if rb, ok := compileRBAC(byKind, ps); ok {
		cfg.RBAC = rb
		n++
	}
	if n == 0 {
		return nil
	}
	log := env.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return authz.NewEngine(authz.Options{KeySets: env.keySets, RootNamespace: ms.RootNamespace, Logger: log}, cfg)
}

// servesTCP reports whether any listener forwards raw TCP connections,
// where authorization sees no HTTP fields.
func servesTCP(listeners map[listener.Key]*listener.Config) bool {
	for _, lc := range listeners {
		if lc.Family == listener.FamilyTCP || lc.Passthrough != nil {
			return true
		}
		for _, t := range lc.Terminated {
			if t.Routes == nil {
				return true
			}
		}
	}
	return false
}

// compileRBAC compiles the rbac.istio.io resources together, as a binding
// needs its role. Of several RbacConfigs the oldest counts, as only one
// (ClusterRbacConfig, or RbacConfig "default") ever did in Istio.
func compileRBAC(byKind map[string][]*config.Resource, ps *config.Problems) (*authz.RBAC, bool) {
	configs := append(append([]*config.Resource(nil), byKind["ClusterRbacConfig"]...), byKind["RbacConfig"]...)
	roles, bindings := byKind["ServiceRole"], byKind["ServiceRoleBinding"]
	if len(configs)+len(roles)+len(bindings) == 0 {
		return nil, false
	}
	byKey := map[string]*config.Resource{}
	var cfg *authz.RbacConfig
	config.SortResources(configs)
	for i, r := range configs {
		if i > 0 {
			ps.Warnf(r, "metadata", "ignored: legacy RBAC is configured by %s %s; only one RbacConfig or ClusterRbacConfig applies", configs[0].Kind, configs[0].Meta.Key())
			continue
		}
		cfg = r.Spec.(*authz.RbacConfig)
		byKey["RbacConfig/"] = r
	}
	roleSpecs := map[string]*authz.ServiceRole{}
	for _, r := range roles {
		roleSpecs[r.Meta.Key()] = r.Spec.(*authz.ServiceRole)
		byKey["ServiceRole/"+r.Meta.Key()] = r
	}
	bindingSpecs := map[string]*authz.ServiceRoleBinding{}
	for _, r := range bindings {
		bindingSpecs[r.Meta.Key()] = r.Spec.(*authz.ServiceRoleBinding)
		byKey["ServiceRoleBinding/"+r.Meta.Key()] = r
	}
	if cfg == nil && len(roles)+len(bindings) > 0 {
		r := append(roles, bindings...)[0]
		ps.Warnf(r, "metadata", "legacy RBAC is OFF: without an RbacConfig or ClusterRbacConfig (mode ON), ServiceRoles and ServiceRoleBindings change nothing")
	}
	rb, errs := authz.CompileRBAC(cfg, roleSpecs, bindingSpecs)
	for _, err := range errs {
		var re *authz.ResourceError
		if errors.As(err, &re) {
			if r := byKey[re.Kind+"/"+re.Key]; r != nil {
				ps.Add(r.Problem(re.Err, api.IsWarning(err)))
				continue
			}
		}
		ps.Add(Problem{Err: err, Warning: api.IsWarning(err)})
	}
	return rb, true
}
