package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// compile turns configuration files into a Snapshot. The snapshot is
// usable only when the returned problems hold no error. Upstream pools come
// from pools, so a reload reuses warm connections.
func compile(files []file, env compileEnv) (*Snapshot, *decoded) {
	start := time.Now()
	env.certFiles = map[string]bool{}
	d := decodeFiles(files, env.cache)
	defer env.cache.sweep()
	defer dropSources(d)
	ps := &d.problems
	checkDuplicates(d.resources, ps)
	translateLegacyKinds(d)
	byKind := map[string][]*resource{}
	for _, r := range d.resources {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	gws := byKind["Gateway"]
	if len(gws) == 0 && len(files) > 0 {
		ps.add(Problem{Err: errors.New("no Gateway in the configuration: gatehouse would listen on nothing")})
	}
	servers := gatewayServers(gws, ps)
	reg := newRegistry(byKind["ServiceEntry"], byKind["DestinationRule"], env, ps)
	vss := compileVirtualServices(byKind["VirtualService"], gatewayNames(gws), env.cache, ps)
	b := &clusterBuilder{reg: reg, pools: env.pools, byKey: map[clusterKey]router.UpstreamID{}, warnedProxy: map[*resource]bool{}}
	snap := &Snapshot{Loaded: time.Now()}
	for _, f := range files {
		snap.Files = append(snap.Files, f.Path)
	}
	mesh := compileMesh(byKind, ps)
	rsByVS := map[string]*resource{}
	for _, r := range byKind["VirtualService"] {
		rsByVS[r.Meta.Key()] = r
	}
	snap.listeners = buildListeners(servers, vss, b, mesh, rsByVS, env, ps)
	mesh.checkFilterPorts(snap.listeners, ps)
	snap.mesh = mesh
	snap.authz = compileSecurity(byKind, mesh, servesTCP(snap.listeners), env, ps)
	snap.security = securityResources(byKind)
	for _, r := range byKind["VirtualService"] {
		checkDestinations(r, b, ps)
	}
	snap.clusters = b.clusters
	snap.pools = map[*connPool]bool{}
	for _, c := range b.clusters {
		for _, ep := range c.endpoints {
			snap.pools[ep.pool] = true
		}
	}
	for _, p := range ps.list {
		if p.Warning {
			snap.Warnings = append(snap.Warnings, p)
		}
	}
	snap.certFiles = slices.Sorted(maps.Keys(env.certFiles))
	snap.Digest = configDigest(files, snap.certFiles)
	snap.Loaded = time.Now()
	snap.compileTime = snap.Loaded.Sub(start)
	return snap, d
}

// dropSources lets the files' text go once the load has found every
// problem: a large configuration's text is tens of megabytes, and a cached
// resource gets the text of the next read back when a load uses it.
func dropSources(d *decoded) {
	for _, r := range d.resources {
		r.src = nil
	}
}

// checkDuplicates refuses two resources of one kind with the same
// namespace and name: in Kubernetes the second would replace the first,
// and which one a user meant cannot be known.
func checkDuplicates(rs []*resource, ps *problems) {
	type key struct{ kind, ns, name string }
	seen := make(map[key]*resource, len(rs))
	for _, r := range rs {
		k := key{r.Kind, r.Meta.Namespace, r.Meta.Name}
		if first, ok := seen[k]; ok {
			ps.errf(r, "metadata.name", "%s %s is already defined at %s:%d; names must be unique per kind and namespace", r.Kind, r.Meta.Key(), first.File, first.Line)
			continue
		}
		seen[k] = r
	}
}

// translateLegacyKinds turns Kubernetes Ingresses and Istio 0.x RouteRules
// into the Gateways, VirtualServices and DestinationRules they stand for.
func translateLegacyKinds(d *decoded) {
	legacy := map[string][]*resource{}
	for _, r := range d.resources {
		legacy[r.Kind] = append(legacy[r.Kind], r)
	}
	if len(legacy["Ingress"])+len(legacy["RouteRule"]) == 0 {
		return
	}
	generated, notes := translateLegacy(legacy["Ingress"], legacy["RouteRule"], legacy["ServiceEntry"], &d.problems)
	d.resources = append(d.resources, generated...)
	d.notes = append(d.notes, notes...)
}

// compileEnv is what a compile needs beyond the files.
type compileEnv struct {
	// pools supplies upstream connection pools, so a reload reuses warm
	// connections.
	pools *poolSet
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
func gatewayNames(gws []*resource) map[string]bool {
	out := map[string]bool{}
	for _, r := range gws {
		out[r.Meta.Key()] = true
	}
	return out
}

// compileVirtualServices compiles each VirtualService and checks that the
// Gateways it names exist.
func compileVirtualServices(rs []*resource, gateways map[string]bool, cache *loadCache, ps *problems) []*router.VS {
	var out []*router.VS
	for _, r := range rs {
		spec := r.Spec.(*router.VirtualService)
		vs, errs := cache.virtualService(r, spec)
		ps.resourceErrs(r, errs)
		if len(spec.Gateways) == 0 && len(spec.Hosts) > 0 {
			ps.warnf(r, "spec.gateways", "no gateways: this VirtualService applies only to the mesh, so gatehouse never uses it; add the Gateway's name under gateways")
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

func checkGatewayRefs(r *resource, path string, refs []string, gateways map[string]bool, ps *problems) {
	for i, g := range refs {
		ref := router.ResolveGateway(g, r.Meta.Namespace)
		if ref != "mesh" && !gateways[ref] {
			ps.errf(r, fmt.Sprintf("%s[%d]", path, i), "Gateway %s not found (is its file loaded, and its namespace right?)", ref)
		}
	}
}

// buildListeners groups the Gateway servers by bind address and port and
// compiles what each listener serves. Servers whose protocol family
// conflicts with the first server on their port are skipped, as Istio
// keeps the first.
func buildListeners(servers []*gwServer, vss []*router.VS, b *clusterBuilder, mesh *meshSettings, rsByVS map[string]*resource, env compileEnv, ps *problems) map[listenerKey]*listenerConfig {
	out := map[listenerKey]*listenerConfig{}
	var order []*listenerConfig
	for _, s := range servers {
		lc := out[s.key]
		if lc == nil {
			lc = &listenerConfig{key: s.key, family: s.family}
			out[s.key] = lc
			order = append(order, lc)
		}
		if lc.family != s.family {
			first := lc.servers[0]
			ps.warnf(s.res, s.path()+".port.protocol", "skipped: port %d is already %s (server %d of Gateway %s); one port serves one protocol family",
				s.key.Port, first.protocol, first.index, first.gateway)
			continue
		}
		lc.servers = append(lc.servers, s)
	}
	for _, lc := range order {
		warnSharedHosts(lc, ps)
		var gws []string
		for _, s := range lc.servers {
			gws = append(gws, s.gateway)
			lc.h2c = lc.h2c || s.protocol == "HTTP2" || s.protocol == "GRPC"
		}
		lc.proxy = mesh.proxyFor(lc.key.Port, gws)
		lc.trustedHops = mesh.hopsFor(gws)
		lc.xfcc = mesh.xfccFor(gws)
		lc.pathMode = mesh.pathMode
		for i, g := range gws {
			if i == 0 {
				lc.options = mesh.gwOptions[g]
			}
			lc.options = lc.options.merge(mesh.gwOptions[g])
		}
		switch lc.family {
		case familyHTTP:
			lc.routes = router.BuildTable(routerServers(lc.servers), vss, b.resolve)
			collectTableWarnings(lc.routes, vss, rsByVS, ps)
			warnHTTPProxyProtocol(lc.routes, b, ps)
		case familyTLS:
			buildTLSListener(lc, vss, b, env, ps)
			for _, t := range lc.terminated {
				collectTableWarnings(t.routes, vss, rsByVS, ps)
				warnHTTPProxyProtocol(t.routes, b, ps)
			}
		case familyTCP:
			if !buildTCPListener(lc, vss, b, ps) {
				delete(out, lc.key)
			}
		}
	}
	return out
}

// warnSharedHosts warns when two Gateways serve one host on one port, as
// istioctl analyze does (IST0145 ConflictingGateways): their servers are
// merged, so which VirtualServices and certificates apply depends on both.
func warnSharedHosts(lc *listenerConfig, ps *problems) {
	first := map[string]*gwServer{}
	for _, s := range lc.servers {
		for _, h := range s.hosts {
			_, host, ok := strings.Cut(h, "/")
			if !ok {
				host = h
			}
			host = strings.ToLower(host)
			f, seen := first[host]
			switch {
			case !seen:
				first[host] = s
			case f.gateway != s.gateway:
				ps.warnf(s.res, s.path()+".hosts", "host %q on port %d is also served by Gateway %s (server %d); the two Gateways' servers are merged, so each sees the other's routes and TLS settings",
					host, s.key.Port, f.gateway, f.index)
			}
		}
	}
}

// warnHTTPProxyProtocol warns, once per DestinationRule, when HTTP routes
// reach a cluster whose DestinationRule asks for PROXY protocol headers:
// gatehouse sends them on forwarded TCP connections only, since pooled
// HTTP connections carry many clients.
func warnHTTPProxyProtocol(t *router.Table, b *clusterBuilder, ps *problems) {
	if t == nil {
		return
	}
	for _, vh := range t.VHosts() {
		for _, rt := range vh.Routes {
			if rt.Forward == nil {
				continue
			}
			for _, d := range rt.Forward.Dests {
				c := b.cluster(d.Upstream)
				if c == nil || c.proxyFrom == nil || b.warnedProxy[c.proxyFrom] {
					continue
				}
				b.warnedProxy[c.proxyFrom] = true
				ps.warnf(c.proxyFrom, "spec.trafficPolicy.proxyProtocol", "ignored for HTTP routes (%s): gatehouse sends PROXY headers only on connections it forwards as TCP", rt.VirtualService)
			}
		}
	}
}

// buildTCPListener routes a TCP port by the tcp routes bound to its first
// server: without SNI, servers on one TCP port cannot be told apart. A TCP
// server without routes gets no listener, as in Istio.
func buildTCPListener(lc *listenerConfig, vss []*router.VS, b *clusterBuilder, ps *problems) bool {
	first := lc.servers[0]
	for _, s := range lc.servers[1:] {
		ps.warnf(s.res, s.path(), "ignored: port %d is a TCP port of server %d of Gateway %s, and TCP connections carry no host to choose between servers", s.key.Port, first.index, first.gateway)
	}
	lc.tcp = router.BuildTCP(routerServers([]*gwServer{first})[0], vss, b.resolve)
	if lc.tcp.Empty() {
		ps.warnf(first.res, first.path(), "no VirtualService has tcp routes for this server: port %d is not opened", lc.key.Port)
		return false
	}
	return true
}

// collectTableWarnings reports what BuildTable found (a missing delegate,
// a dropped delegate route) against the VirtualService concerned.
func collectTableWarnings(t *router.Table, vss []*router.VS, rsByVS map[string]*resource, ps *problems) {
	for _, w := range t.Warnings() {
		if r := rsByVS[w.VirtualService]; r != nil {
			ps.add(r.problem(w.Err, true))
		}
	}
}

// routerServers describes Gateway servers to the router.
func routerServers(ss []*gwServer) []router.Server {
	out := make([]router.Server, len(ss))
	for i, s := range ss {
		out[i] = router.Server{Gateway: s.gateway, Hosts: s.hosts, Port: s.key.Port,
			HTTPSRedirect: s.spec.TLS != nil && s.spec.TLS.HTTPSRedirect}
	}
	return out
}

// checkDestinations warns about route destinations that can only ever
// answer 503: an undefined subset, a port the ServiceEntry lacks, or a
// subset that selects no endpoint.
func checkDestinations(r *resource, b *clusterBuilder, ps *problems) {
	spec := r.Spec.(*router.VirtualService)
	for i, h := range spec.HTTP {
		for j, d := range h.Route {
			checkDestination(r, fmt.Sprintf("spec.http[%d].route[%d].destination", i, j), d.Destination, b, ps)
		}
	}
}

func checkDestination(r *resource, path string, d router.Destination, b *clusterBuilder, ps *problems) {
	if d.Host == "" {
		return
	}
	ns := r.Meta.Namespace
	svc, q := b.reg.lookupHost(d.Host, ns)
	if d.Subset != "" {
		dr := b.reg.rule(d.Host, ns)
		if dr == nil || dr.subset(d.Subset) == nil {
			ps.warnf(r, path+".subset", "no DestinationRule defines subset %q for host %s: requests routed here get 503", d.Subset, q)
			return
		}
	}
	if svc != nil && d.Port != nil && svc.port(d.Port.Number) == nil {
		ps.warnf(r, path+".port.number", "ServiceEntry %s has no port %d: requests routed here get 503", svc.res.Meta.Key(), d.Port.Number)
		return
	}
	if svc == nil && d.Port == nil {
		ps.warnf(r, path+".port", "host %s is in no ServiceEntry, so it is dialled directly; without port.number the Gateway port is used", d.Host)
	}
	if d.Subset != "" {
		if _, c := b.plan(d, ns, 0); c != nil && len(c.endpoints) == 0 {
			ps.warnf(r, path+".subset", "subset %q of host %s selects no endpoint (subsets select ServiceEntry endpoints by labels): requests get 503", d.Subset, q)
		}
	}
}
