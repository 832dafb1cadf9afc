package gateway

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

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
	res      *resource
	index    int
	spec     *ServerSpec
	gateway  string // "namespace/name"
	protocol string // upper case
	family   family
	key      listenerKey
	hosts    []string
}

// path is the YAML path of the server.
func (s *gwServer) path() string { return fmt.Sprintf("spec.servers[%d]", s.index) }

// sortResources orders resources of one kind as Istio merges them: by
// creation time, then name, then namespace, then load order.
func sortResources(rs []*resource) {
	slices.SortStableFunc(rs, func(a, b *resource) int {
		if c := a.Meta.CreationTimestamp.Compare(b.Meta.CreationTimestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Meta.Name, b.Meta.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Meta.Namespace, b.Meta.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
}

// gatewayServers validates every Gateway and returns its servers in
// Istio's merge order.
func gatewayServers(gws []*resource, ps *problems) []*gwServer {
	sortResources(gws)
	var out []*gwServer
	for _, r := range gws {
		spec := r.Spec.(*GatewaySpec)
		if len(spec.Servers) == 0 {
			ps.errf(r, "spec.servers", "a Gateway needs at least one server")
		}
		names := map[string]bool{}
		for i := range spec.Servers {
			s := validateServer(r, i, &spec.Servers[i], ps)
			if s == nil {
				continue
			}
			if names[s.spec.Port.Name] {
				ps.errf(r, s.path()+".port.name", "port name %q is used by another server of this Gateway", s.spec.Port.Name)
			}
			names[s.spec.Port.Name] = true
			out = append(out, s)
		}
	}
	return out
}

func validateServer(r *resource, i int, srv *ServerSpec, ps *problems) *gwServer {
	s := &gwServer{res: r, index: i, spec: srv, gateway: r.Meta.Key()}
	p := s.path()
	before := ps.errorCount()
	bind, err := parseBind(srv.Bind)
	if err != nil {
		ps.errf(r, p+".bind", "%v", err)
	}
	s.key.Bind = bind
	validatePort(r, p, srv.Port, bind, s, ps)
	if len(srv.Hosts) == 0 {
		ps.errf(r, p+".hosts", "a server needs at least one host (use \"*\" for any)")
	}
	if len(srv.Hosts) > router.MaxHosts {
		ps.errf(r, p+".hosts", "%d hosts; the limit is %d", len(srv.Hosts), router.MaxHosts)
		return nil
	}
	for j, h := range srv.Hosts {
		if err := validateServerHost(h); err != nil {
			ps.errf(r, fmt.Sprintf("%s.hosts[%d]", p, j), "%v", err)
		}
	}
	s.hosts = collapseHosts(srv.Hosts)
	validateServerTLS(r, p, s, ps)
	if srv.DefaultEndpoint != "" {
		ps.warnf(r, p+".defaultEndpoint", "ignored: Istio does not implement defaultEndpoint either")
	}
	if ps.errorCount() > before {
		return nil
	}
	return s
}

func validatePort(r *resource, p string, port *Port, bind string, s *gwServer, ps *problems) {
	if port == nil {
		ps.errf(r, p+".port", "required")
		return
	}
	unix := strings.HasPrefix(bind, "unix://")
	switch {
	case port.Number == 0 && !unix:
		ps.errf(r, p+".port.number", "required (1-65535)")
	case port.Number > 65535:
		ps.errf(r, p+".port.number", "port %d is out of range 1-65535", port.Number)
	}
	s.key.Port = port.Number
	if port.Name == "" {
		ps.errf(r, p+".port.name", "required: every Gateway port needs a name")
	}
	if port.TargetPort != 0 {
		ps.errf(r, p+".port.targetPort", "not supported on a Gateway: gatehouse listens on port.number")
	}
	s.protocol = strings.ToUpper(port.Protocol)
	f, ok := protocols[s.protocol]
	switch {
	case port.Protocol == "":
		ps.errf(r, p+".port.protocol", "required: one of %s", protocolNames())
	case !ok:
		ps.errf(r, p+".port.protocol", "unknown protocol %q: want one of %s", port.Protocol, protocolNames())
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

// validateServerHost checks one "ns/dnsName" entry of a server's hosts.
func validateServerHost(h string) error {
	ns, name, ok := strings.Cut(h, "/")
	if !ok {
		name, ns = h, "*"
	}
	switch {
	case ns == "":
		return fmt.Errorf("host %q: empty namespace before '/'", h)
	case name == "":
		return fmt.Errorf("host %q: empty host name", h)
	case name == "*":
		return nil
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return nil
	}
	rest := name
	if strings.HasPrefix(name, "*") {
		if !strings.HasPrefix(name, "*.") {
			return fmt.Errorf("host %q: a wildcard must be a whole first label (\"*.example.com\")", h)
		}
		rest = name[2:]
	}
	if strings.Contains(rest, "*") {
		return fmt.Errorf("host %q: '*' is only allowed as the first label", h)
	}
	if !strings.Contains(rest, ".") && name == rest {
		return fmt.Errorf("host %q: short names are not allowed in Gateway hosts; use a fully qualified name or \"*\"", h)
	}
	return validDNSName(rest)
}

func validDNSName(n string) error {
	for _, label := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("host %q: invalid DNS label %q", n, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i] | 0x20
			if !('a' <= c && c <= 'z' || '0' <= label[i] && label[i] <= '9' || label[i] == '-' || label[i] == '_') {
				return fmt.Errorf("host %q: invalid character %q", n, label[i])
			}
		}
	}
	return nil
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
func validateServerTLS(r *resource, p string, s *gwServer, ps *problems) {
	t := s.spec.TLS
	switch s.family {
	case familyTLS:
		if t == nil {
			ps.errf(r, p+".tls", "a %s server needs a tls block", s.protocol)
		}
	case familyHTTP, familyTCP:
		if t != nil && (t.Mode != "" || t.ServerCertificate != "" || t.CredentialName != "") {
			ps.errf(r, p+".tls", "a %s server may only set tls.httpsRedirect; use protocol HTTPS or TLS to terminate TLS", s.protocol)
		}
		if t != nil && t.HTTPSRedirect && s.family == familyTCP {
			ps.warnf(r, p+".tls.httpsRedirect", "ignored on a %s server", s.protocol)
		}
	}
}
