package listener

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// ValidateServerHost checks one "ns/dnsName" entry of a server's hosts.
func ValidateServerHost(h string) error {
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
	return api.ValidDNSName(rest)
}
