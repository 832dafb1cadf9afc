package listener

import (
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// BuildOptions is what Build needs from the rest of the configuration.
type BuildOptions struct {
	// Resolve names the upstream of a route destination.
	Resolve router.Resolver
	// Mesh holds the mesh-wide settings and the Gateways' annotations.
	Mesh *mesh.Settings
	// CredentialsDir is where credentialName secrets are looked up; ""
	// refuses credentialName.
	CredentialsDir string
	// CertFiles, if set, is told the certificate, key, CA and CRL files
	// a terminating server reads, so that changes to them reload it.
	CertFiles func(paths ...string)
	// CheckTable, if set, is called with each HTTP route table built (nil
	// for a TLS server that is not HTTPS), in order, to report what the
	// router found.
	CheckTable func(*router.Table)
}

func (o *BuildOptions) checkTable(t *router.Table) {
	if o.CheckTable != nil {
		o.CheckTable(t)
	}
}

func (o *BuildOptions) certFiles(paths ...string) {
	if o.CertFiles != nil {
		o.CertFiles(paths...)
	}
}

// Build groups the Gateway servers by bind address and port and
// compiles what each listener serves. Servers whose protocol family
// conflicts with the first server on their port are skipped, as Istio
// keeps the first.
func Build(servers []*Server, vss []*router.VS, o BuildOptions, ps *config.Problems) map[Key]*Config {
	ms := o.Mesh
	out := map[Key]*Config{}
	var order []*Config
	for _, s := range servers {
		lc := out[s.Key]
		if lc == nil {
			lc = &Config{Key: s.Key, Family: s.Family}
			out[s.Key] = lc
			order = append(order, lc)
		}
		if lc.Family != s.Family {
			first := lc.Servers[0]
			ps.Warnf(s.Res, s.Path()+".port.protocol", "skipped: port %d is already %s (server %d of Gateway %s); one port serves one protocol family",
				s.Key.Port, first.Protocol, first.Index, first.Gateway)
			continue
		}
		lc.Servers = append(lc.Servers, s)
	}
	for _, lc := range order {
		warnSharedHosts(lc, ps)
		var gws []string
		for _, s := range lc.Servers {
			gws = append(gws, s.Gateway)
			lc.H2C = lc.H2C || s.Protocol == "HTTP2" || s.Protocol == "GRPC"
		}
		lc.Proxy = ms.ProxyFor(lc.Key.Port, gws)
		lc.TrustedHops = ms.HopsFor(gws)
		lc.XFCC = ms.XFCCFor(gws)
		lc.PathMode = ms.PathMode
		for i, g := range gws {
			if i == 0 {
				lc.Options = ms.GatewayOptions[g]
			}
			lc.Options = lc.Options.Merge(ms.GatewayOptions[g])
		}
		switch lc.Family {
		case FamilyHTTP:
			lc.Routes = router.BuildTable(RouterServers(lc.Servers), vss, o.Resolve)
			o.checkTable(lc.Routes)
		case FamilyTLS:
			buildTLSListener(lc, vss, o, ps)
			for _, t := range lc.Terminated {
				o.checkTable(t.Routes)
			}
		case FamilyTCP:
			if !buildTCPListener(lc, vss, o.Resolve, ps) {
				delete(out, lc.Key)
			}
		}
	}
	return out
}

// warnSharedHosts warns when two Gateways serve one host on one port, as
// istioctl analyze does (IST0145 ConflictingGateways): their servers are
// merged, so which VirtualServices and certificates apply depends on both.
func warnSharedHosts(lc *Config, ps *config.Problems) {
	first := map[string]*Server{}
	for _, s := range lc.Servers {
		for _, h := range s.Hosts {
			_, host, ok := strings.Cut(h, "/")
			if !ok {
				host = h
			}
			host = strings.ToLower(host)
			f, seen := first[host]
			switch {
			case !seen:
				first[host] = s
			case f.Gateway != s.Gateway:
				ps.Warnf(s.Res, s.Path()+".hosts", "host %q on port %d is also served by Gateway %s (server %d); the two Gateways' servers are merged, so each sees the other's routes and TLS settings",
					host, s.Key.Port, f.Gateway, f.Index)
			}
		}
	}
}

// buildTCPListener routes a TCP port by the tcp routes bound to its first
// server: without SNI, servers on one TCP port cannot be told apart. A TCP
// server without routes gets no listener, as in Istio.
func buildTCPListener(lc *Config, vss []*router.VS, resolve router.Resolver, ps *config.Problems) bool {
	first := lc.Servers[0]
	for _, s := range lc.Servers[1:] {
		ps.Warnf(s.Res, s.Path(), "ignored: port %d is a TCP port of server %d of Gateway %s, and TCP connections carry no host to choose between servers", s.Key.Port, first.Index, first.Gateway)
	}
	lc.TCP = router.BuildTCP(RouterServers([]*Server{first})[0], vss, resolve)
	if lc.TCP.Empty() {
		ps.Warnf(first.Res, first.Path(), "no VirtualService has tcp routes for this server: port %d is not opened", lc.Key.Port)
		return false
	}
	return true
}

// RouterServers describes Gateway servers to the router.
func RouterServers(ss []*Server) []router.Server {
	out := make([]router.Server, len(ss))
	for i, s := range ss {
		out[i] = router.Server{Gateway: s.Gateway, Hosts: s.Hosts, Port: s.Key.Port,
			HTTPSRedirect: s.Spec.TLS != nil && s.Spec.TLS.HTTPSRedirect}
	}
	return out
}
