package listener

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// protocols are the port protocols Istio knows (pkg/config/protocol),
// upper-cased, with the listener family each one belongs to.
var protocols = map[string]Family{
	"HTTP": FamilyHTTP, "HTTP2": FamilyHTTP, "GRPC": FamilyHTTP, "GRPC-WEB": FamilyHTTP,
	"HTTPS": FamilyTLS, "TLS": FamilyTLS,
	"TCP": FamilyTCP, "MONGO": FamilyTCP, "REDIS": FamilyTCP, "MYSQL": FamilyTCP,
}

// Family groups protocols that can share one listener.
type Family uint8

const (
	FamilyHTTP Family = iota + 1
	FamilyTLS
	FamilyTCP
)

func (f Family) String() string {
	return [...]string{"", "HTTP", "TLS", "TCP"}[f]
}

// Key identifies one socket: servers with the same bind and port
// share it. Bind is "" for the wildcard address.
type Key struct {
	Bind string
	Port uint32
}

func (k Key) String() string {
	if k.Bind == "" {
		return fmt.Sprintf(":%d", k.Port)
	}
	if strings.HasPrefix(k.Bind, "unix://") {
		return k.Bind
	}
	return fmt.Sprintf("%s:%d", k.Bind, k.Port)
}

// Server is one validated server of a Gateway.
type Server struct {
	Res      *config.Resource
	Index    int
	Spec     *ServerSpec
	Gateway  string // "namespace/name"
	Protocol string // upper case
	Family   Family
	Key      Key
	Hosts    []string
}

// Path is the YAML path of the server.
func (s *Server) Path() string { return fmt.Sprintf("spec.servers[%d]", s.Index) }

// GatewayServers validates every Gateway and returns its servers in
// Istio's merge order.
func GatewayServers(gws []*config.Resource, ps *config.Problems) []*Server {
	config.SortResources(gws)
	var out []*Server
	for _, r := range gws {
		spec := r.Spec.(*GatewaySpec)
		if len(spec.Servers) == 0 {
			ps.Errf(r, "spec.servers", "a Gateway needs at least one server")
		}
		names := map[string]bool{}
		for i := range spec.Servers {
			s := validateServer(r, i, &spec.Servers[i], ps)
			if s == nil {
				continue
			}
			if names[s.Spec.Port.Name] {
				ps.Errf(r, s.Path()+".port.name", "port name %q is used by another server of this Gateway", s.Spec.Port.Name)
			}
			names[s.Spec.Port.Name] = true
			out = append(out, s)
		}
	}
	return out
}

func validateServer(r *config.Resource, i int, srv *ServerSpec, ps *config.Problems) *Server {
	s := &Server{Res: r, Index: i, Spec: srv, Gateway: r.Meta.Key()}
	p := s.Path()
	before := ps.ErrorCount()
	bind, err := parseBind(srv.Bind)
	if err != nil {
		ps.Errf(r, p+".bind", "%v", err)
	}
	s.Key.Bind = bind
	validatePort(r, p, srv.Port, bind, s, ps)
	if len(srv.Hosts) == 0 {
		ps.Errf(r, p+".hosts", "a server needs at least one host (use \"*\" for any)")
	}
	if len(srv.Hosts) > router.MaxHosts {
		ps.Errf(r, p+".hosts", "%d hosts; the limit is %d", len(srv.Hosts), router.MaxHosts)
		return nil
	}
	for j, h := range srv.Hosts {
		if err := ValidateServerHost(h); err != nil {
			ps.Errf(r, fmt.Sprintf("%s.hosts[%d]", p, j), "%v", err)
		}
	}
	s.Hosts = collapseHosts(srv.Hosts)
	validateServerTLS(r, p, s, ps)
	if srv.DefaultEndpoint != "" {
		ps.Warnf(r, p+".defaultEndpoint", "ignored: Istio does not implement defaultEndpoint either")
	}
	if ps.ErrorCount() > before {
		return nil
	}
	return s
}

func validatePort(r *config.Resource, p string, port *Port, bind string, s *Server, ps *config.Problems) {
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
	s.Key.Port = port.Number
	if port.Name == "" {
		ps.Errf(r, p+".port.name", "required: every Gateway port needs a name")
	}
	if port.TargetPort != 0 {
		ps.Errf(r, p+".port.targetPort", "not supported on a Gateway: gatehouse listens on port.number")
	}
	s.Protocol = strings.ToUpper(port.Protocol)
	f, ok := protocols[s.Protocol]
	switch {
	case port.Protocol == "":
		ps.Errf(r, p+".port.protocol", "required: one of %s", protocolNames())
	case !ok:
		ps.Errf(r, p+".port.protocol", "unknown protocol %q: want one of %s", port.Protocol, protocolNames())
	}
	s.Family = f
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
func validateServerTLS(r *config.Resource, p string, s *Server, ps *config.Problems) {
	t := s.Spec.TLS
	switch s.Family {
	case FamilyTLS:
		if t == nil {
			ps.Errf(r, p+".tls", "a %s server needs a tls block", s.Protocol)
		}
	case FamilyHTTP, FamilyTCP:
		if t != nil && (t.Mode != "" || t.ServerCertificate != "" || t.CredentialName != "") {
			ps.Errf(r, p+".tls", "a %s server may only set tls.httpsRedirect; use protocol HTTPS or TLS to terminate TLS", s.Protocol)
		}
		if t != nil && t.HTTPSRedirect && s.Family == FamilyTCP {
			ps.Warnf(r, p+".tls.httpsRedirect", "ignored on a %s server", s.Protocol)
		}
	}
}
