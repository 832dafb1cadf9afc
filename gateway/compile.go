package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/legacy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// compile turns configuration files into a Snapshot. The snapshot is
// usable only when the returned problems hold no error. Upstream pools come
// from pools, so a reload reuses warm connections.
func compile(files []config.File, env compileEnv) (*Snapshot, *config.Decoded) {
	start := time.Now()
	env.certFiles = map[string]bool{}
	d := config.Decode(files, env.cache.decoded(), lookupKind)
	defer env.cache.sweep()
	defer config.DropSource(d)
	ps := &d.Problems
	checkDuplicates(d.Resources, ps)
	translateLegacyKinds(d)
	byKind := map[string][]*config.Resource{}
	for _, r := range d.Resources {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	gws := byKind["Gateway"]
	if len(gws) == 0 && len(files) > 0 {
		ps.Add(Problem{Err: errors.New("no Gateway in the configuration: gatehouse would listen on nothing")})
	}
	servers := listener.GatewayServers(gws, ps)
	reg := upstream.NewRegistry(byKind["ServiceEntry"], byKind["DestinationRule"], upstream.RegistryOptions{CredentialsDir: env.credentialsDir, CertFiles: env.addCertFiles}, ps)
	vss := compileVirtualServices(byKind["VirtualService"], gatewayNames(gws), env.cache, ps)
	b := upstream.NewBuilder(reg, env.pools)
	warned := map[*config.Resource]bool{} // DestinationRules warned about proxyProtocol
	snap := &Snapshot{Loaded: time.Now()}
	for _, f := range files {
		snap.Files = append(snap.Files, f.Path)
	}
	ms := mesh.Compile(byKind, compileAccessLogFormatErr, ps)
	rsByVS := map[string]*config.Resource{}
	for _, r := range byKind["VirtualService"] {
		rsByVS[r.Meta.Key()] = r
	}
	snap.Listeners = listener.Build(servers, vss, listener.BuildOptions{
		Resolve: b.Resolve, Mesh: ms, CredentialsDir: env.credentialsDir, CertFiles: env.addCertFiles,
		CheckTable: func(t *router.Table) {
			collectTableWarnings(t, vss, rsByVS, ps)
			warnHTTPProxyProtocol(t, b, warned, ps)
		},
	}, ps)
	ms.CheckFilterPorts(listenerPorts(snap.Listeners), ps)
	snap.Mesh = ms
	snap.Authz = compileSecurity(byKind, ms, servesTCP(snap.Listeners), env, ps)
	snap.security = securityResources(byKind)
	for _, r := range byKind["VirtualService"] {
		checkDestinations(r, b, ps)
	}
	snap.Clusters = b.Clusters()
	snap.pools = map[*transport.Pool]bool{}
	for _, c := range b.Clusters() {
		for _, ep := range c.Endpoints {
			snap.pools[ep.Pool] = true
		}
	}
	for _, p := range ps.List {
		if p.Warning {
			snap.Warnings = append(snap.Warnings, p)
		}
	}
	snap.certFiles = slices.Sorted(maps.Keys(env.certFiles))
	snap.Digest = config.Digest(files, snap.certFiles)
	snap.Loaded = time.Now()
	snap.compileTime = snap.Loaded.Sub(start)
	return snap, d
}

// checkDuplicates refuses two resources of one kind with the same
// namespace and name: in Kubernetes the second would replace the first,
// and which one a user meant cannot be known.
func checkDuplicates(rs []*config.Resource, ps *config.Problems) {
	type key struct{ kind, ns, name string }
	seen := make(map[key]*config.Resource, len(rs))
	for _, r := range rs {
		k := key{r.Kind, r.Meta.Namespace, r.Meta.Name}
		if first, ok := seen[k]; ok {
			ps.Errf(r, "metadata.name", "%s %s is already defined at %s:%d; names must be unique per kind and namespace", r.Kind, r.Meta.Key(), first.File, first.Line)
			continue
		}
		seen[k] = r
	}
}

// translateLegacyKinds turns Kubernetes Ingresses and Istio 0.x RouteRules
// into the Gateways, VirtualServices and DestinationRules they stand for.
func translateLegacyKinds(d *config.Decoded) {
	old := map[string][]*config.Resource{}
	for _, r := range d.Resources {
		old[r.Kind] = append(old[r.Kind], r)
	}
	if len(old["Ingress"])+len(old["RouteRule"]) == 0 {
		return
	}
	generated, notes := legacy.Translate(old["Ingress"], old["RouteRule"], old["ServiceEntry"], &d.Problems)
	d.Resources = append(d.Resources, generated...)
	d.Notes = append(d.Notes, notes...)
}

// compileEnv is what a compile needs beyond the files.
type compileEnv struct {
	// pools supplies upstream connection pools, so a reload reuses warm
	// connections.
	pools *transport.PoolSet
	// credentialsDir is where credentialName secrets are looked up.
	credentialsDir string
	// cache carries decoded files and compiled VirtualServices from one
	// load to the next; nil disables it.
	cache *loadCache
	// certFiles collects the certificate, key, CA and CRL files the
	// configuration reads, so that changes to them reload it.
	certFiles map[string]bool
	// keySets fetches the remote JWT key sets the configuration names;
	// nil rejects every token that needs one.
	keySets *authz.KeySets
	// log receives the security engine's debug lines.
	log *slog.Logger
}

// addCertFiles records files a TLS setting reads.
func (e compileEnv) addCertFiles(paths ...string) {
	for _, p := range paths {
		if p != "" && e.certFiles != nil {
			e.certFiles[p] = true
		}
	}
}

// gatewayNames returns the "namespace/name" of every Gateway.
func gatewayNames(gws []*config.Resource) map[string]bool {
	out := map[string]bool{}
	for _, r := range gws {
		out[r.Meta.Key()] = true
	}
	return out
}

// compileVirtualServices compiles each VirtualService and checks that the
// Gateways it names exist.
func compileVirtualServices(rs []*config.Resource, gateways map[string]bool, cache *loadCache, ps *config.Problems) []*router.VS {
	var out []*router.VS
	for _, r := range rs {
		spec := r.Spec.(*router.VirtualService)
		vs, errs := cache.virtualService(r, spec)
		ps.ResourceErrs(r, errs)
		if len(spec.Gateways) == 0 && len(spec.Hosts) > 0 {
			ps.Warnf(r, "spec.gateways", "no gateways: this VirtualService applies only to the ms, so gatehouse never uses it; add the Gateway's name under gateways")
		}
		checkGatewayRefs(r, "spec.gateways", spec.Gateways, gateways, ps)
		for i, h := range spec.HTTP {
			for j, m := range h.Match {
				checkGatewayRefs(r, fmt.Sprintf("spec.http[%d].match[%d].gateways", i, j), m.Gateways, gateways, ps)
			}
		}
		out = append(out, vs)
	}
	return out
}

func checkGatewayRefs(r *config.Resource, path string, refs []string, gateways map[string]bool, ps *config.Problems) {
	for i, g := range refs {
		ref := router.ResolveGateway(g, r.Meta.Namespace)
		if ref != "mesh" && !gateways[ref] {
			ps.Errf(r, fmt.Sprintf("%s[%d]", path, i), "Gateway %s not found (is its file loaded, and its namespace right?)", ref)
		}
	}
}

// warnHTTPProxyProtocol warns, once per DestinationRule, when HTTP routes
// reach a cluster whose DestinationRule asks for PROXY protocol headers:
// gatehouse sends them on forwarded TCP connections only, since pooled
// HTTP connections carry many clients.
func warnHTTPProxyProtocol(t *router.Table, b *upstream.Builder, warned map[*config.Resource]bool, ps *config.Problems) {
	if t == nil {
		return
	}
	for _, vh := range t.VHosts() {
		for _, rt := range vh.Routes {
			if rt.Forward == nil {
				continue
			}
			for _, d := range rt.Forward.Dests {
				c := b.Cluster(d.Upstream)
				if c == nil || c.ProxyFrom == nil || warned[c.ProxyFrom] {
					continue
				}
				warned[c.ProxyFrom] = true
				ps.Warnf(c.ProxyFrom, "spec.trafficPolicy.proxyProtocol", "ignored for HTTP routes (%s): gatehouse sends PROXY headers only on connections it forwards as TCP", rt.VirtualService)
			}
		}
	}
}

// collectTableWarnings reports what BuildTable found (a missing delegate,
// a dropped delegate route) against the VirtualService concerned.
func collectTableWarnings(t *router.Table, vss []*router.VS, rsByVS map[string]*config.Resource, ps *config.Problems) {
	for _, w := range t.Warnings() {
		if r := rsByVS[w.VirtualService]; r != nil {
			ps.Add(r.Problem(w.Err, true))
		}
	}
}

// checkDestinations warns about route destinations that can only ever
// answer 503: an undefined subset, a port the ServiceEntry lacks, or a
// subset that selects no endpoint.
func checkDestinations(r *config.Resource, b *upstream.Builder, ps *config.Problems) {
	spec := r.Spec.(*router.VirtualService)
	for i, h := range spec.HTTP {
		for j, d := range h.Route {
			checkDestination(r, fmt.Sprintf("spec.http[%d].route[%d].destination", i, j), d.Destination, b, ps)
		}
	}
}

func checkDestination(r *config.Resource, path string, d router.Destination, b *upstream.Builder, ps *config.Problems) {
	if d.Host == "" {
		return
	}
	ns := r.Meta.Namespace
	svc, q := b.Registry().LookupHost(d.Host, ns)
	if d.Subset != "" {
		dr := b.Registry().Rule(d.Host, ns)
		if dr == nil || dr.Subset(d.Subset) == nil {
			ps.Warnf(r, path+".subset", "no DestinationRule defines subset %q for host %s: requests routed here get 503", d.Subset, q)
			return
		}
	}
	if svc != nil && d.Port != nil && svc.Port(d.Port.Number) == nil {
		ps.Warnf(r, path+".port.number", "ServiceEntry %s has no port %d: requests routed here get 503", svc.Res.Meta.Key(), d.Port.Number)
		return
	}
	if svc == nil && d.Port == nil {
		ps.Warnf(r, path+".port", "host %s is in no ServiceEntry, so it is dialled directly; without port.number the Gateway port is used", d.Host)
	}
	if d.Subset != "" {
		if c := b.Plan(d, ns, 0); c != nil && len(c.Endpoints) == 0 {
			ps.Warnf(r, path+".subset", "subset %q of host %s selects no endpoint (subsets select ServiceEntry endpoints by labels): requests get 503", d.Subset, q)
		}
	}
}

// listenerPorts is the set of ports the listeners listen on.
func listenerPorts(ls map[listener.Key]*listener.Config) map[uint32]bool {
	ports := make(map[uint32]bool, len(ls))
	for k := range ls {
		ports[k.Port] = true
	}
	return ports
}

// compileAccessLogFormatErr checks an access log format for mesh.Compile.
func compileAccessLogFormatErr(encoding, format string) error {
	_, err := accesslog.NewFormat(encoding, format)
	return err
}
