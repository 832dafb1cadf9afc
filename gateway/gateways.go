package gateway

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// protocols are the port protocols Istio knows (pkg/config/protocol),
// upper-cased, with the listener family each one belongs to.
var protocols = map[string]family{
	"HTTP": familyHTTP, "HTTP2": familyHTTP, "GRPC": familyHTTP, "GRPC-WEB": familyHTTP,
	"HTTPS": familyTLS, "TLS": familyTLS,
	"TCP": familyTCP, "MONGO": familyTCP, "REDIS": familyTCP, "MYSQL": familyTCP,
}

// family groups protocols that can share one listener.
type family uint8

const (
	familyHTTP family = iota + 1
	familyTLS
	familyTCP
)

func (f family) String() string {
	return [...]string{"", "HTTP", "TLS", "TCP"}[f]
}

// listenerKey identifies one socket: servers with the same bind and port
// share it. Bind is "" for the wildcard address.
type listenerKey struct {
	Bind string
	Port uint32
}

func (k listenerKey) String() string {
	if k.Bind == "" {
		return fmt.Sprintf(":%d", k.Port)
	}
	if strings.HasPrefix(k.Bind, "unix://") {
		return k.Bind
	}
	return fmt.Sprintf("%s:%d", k.Bind, k.Port)
}

// gwServer is one validated server of a Gateway.
type gwServer struct {
	res      *config.Resource
	index    int
	spec     *listener.ServerSpec
	gateway  string // "namespace/name"
	protocol string // upper case
	family   family
	key      listenerKey
	hosts    []string
}

// path is the YAML path of the server.
func (s *gwServer) path() string { return fmt.Sprintf("spec.servers[%d]", s.index) }

// gatewayServers validates every Gateway and returns its servers in
// Istio's merge order.
func gatewayServers(gws []*config.Resource, ps *config.Problems) []*gwServer {
	config.SortResources(gws)
	var out []*gwServer
	for _, r := range gws {
		spec := r.Spec.(*listener.GatewaySpec)
		if len(spec.Servers) == 0 {
			ps.Errf(r, "spec.servers", "a Gateway needs at least one server")
		}
		names := map[string]bool{}
		for i := range spec.Servers {
			s := validateServer(r, i, &spec.Servers[i], ps)
			if s == nil {
				continue
			}
			if names[s.spec.Port.Name] {
				ps.Errf(r, s.path()+".port.name", "port name %q is used by another server of this Gateway", s.spec.Port.Name)
			}
			names[s.spec.Port.Name] = true
			out = append(out, s)
		}
	}
	return out
}

func validateServer(r *config.Resource, i int, srv *listener.ServerSpec, ps *config.Problems) *gwServer {
	s := &gwServer{res: r, index: i, spec: srv, gateway: r.Meta.Key()}
	p := s.path()
	before := ps.ErrorCount()
	bind, err := parseBind(srv.Bind)
	if err != nil {
		ps.Errf(r, p+".bind", "%v", err)
	}
	s.key.Bind = bind
	validatePort(r, p, srv.Port, bind, s, ps)
	if len(srv.Hosts) == 0 {
		ps.Errf(r, p+".hosts", "a server needs at least one host (use \"*\" for any)")
	}
	if len(srv.Hosts) > router.MaxHosts {
		ps.Errf(r, p+".hosts", "%d hosts; the limit is %d", len(srv.Hosts), router.MaxHosts)
		return nil
	}
	for j, h := range srv.Hosts {
		if err := listener.ValidateServerHost(h); err != nil {
			ps.Errf(r, fmt.Sprintf("%s.hosts[%d]", p, j), "%v", err)
		}
	}
	s.hosts = collapseHosts(srv.Hosts)
	validateServerTLS(r, p, s, ps)
	if srv.DefaultEndpoint != "" {
		ps.Warnf(r, p+".defaultEndpoint", "ignored: Istio does not implement defaultEndpoint either")
	}
	if ps.ErrorCount() > before {
		return nil
	}
	return s
}

func validatePort(r *config.Resource, p string, port *listener.Port, bind string, s *gwServer, ps *config.Problems) {
	if port == nil {
		ps.Errf(r, p+".port", "required")
		return
	}
	unix := strings.HasPrefix(bind, "unix://")
	switch {
	case port.Number == 0 && !unix:
		ps.Errf(r, p+".port.number", "required (1-65535)")
	case port.Number > 65535:
		ps.Errf(r, p+".port.number", "port %d is out of range 1-65535", port.Number)
	}
	s.key.Port = port.Number
	if port.Name == "" {
		ps.Errf(r, p+".port.name", "required: every Gateway port needs a name")
	}
	if port.TargetPort != 0 {
		ps.Errf(r, p+".port.targetPort", "not supported on a Gateway: gatehouse listens on port.number")
	}
	s.protocol = strings.ToUpper(port.Protocol)
	f, ok := protocols[s.protocol]
	switch {
	case port.Protocol == "":
		ps.Errf(r, p+".port.protocol", "required: one of %s", protocolNames())
	case !ok:
		ps.Errf(r, p+".port.protocol", "unknown protocol %q: want one of %s", port.Protocol, protocolNames())
	}
	s.family = f
}

func protocolNames() string {
	return strings.Join(slices.Sorted(maps.Keys(protocols)), ", ")
}

// parseBind checks a server bind address: an IP address or a unix socket.
func parseBind(b string) (string, error) {
	if b == "" || strings.HasPrefix(b, "unix://") {
		return b, nil
	}
	a, err := netip.ParseAddr(b)
	if err != nil {
		return "", fmt.Errorf("bind %q must be an IP address or unix:///path", b)
	}
	return a.String(), nil
}

// collapseHosts applies Istio's rule that "*/*" stands for every host of
// every namespace.
func collapseHosts(hosts []string) []string {
	if slices.Contains(hosts, "*/*") {
		return []string{"*"}
	}
	return hosts
}

// validateServerTLS applies Istio's rules for the tls block per protocol.
// Terminating TLS itself is compiled by the TLS listener code.
func validateServerTLS(r *config.Resource, p string, s *gwServer, ps *config.Problems) {
	t := s.spec.TLS
	switch s.family {
	case familyTLS:
		if t == nil {
			ps.Errf(r, p+".tls", "a %s server needs a tls block", s.protocol)
		}
	case familyHTTP, familyTCP:
		if t != nil && (t.Mode != "" || t.ServerCertificate != "" || t.CredentialName != "") {
			ps.Errf(r, p+".tls", "a %s server may only set tls.httpsRedirect; use protocol HTTPS or TLS to terminate TLS", s.protocol)
		}
		if t != nil && t.HTTPSRedirect && s.family == familyTCP {
			ps.Warnf(r, p+".tls.httpsRedirect", "ignored on a %s server", s.protocol)
		}
	}
}

// sortStrings sorts s in place and returns it.
func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
